// Prometheus text format 0.0.4:
//   metric_name [ "{" label_name "=" `"` label_value `"` { "," ... } [ "," ] "}" ] value [
//   timestamp ]
// Label values escape \\, \" and \n. Values may be NaN, +Inf, -Inf.
#include "prom_text.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

namespace shardtcp::stat {
namespace {

bool name_char(char c, bool first) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
  return alpha || (!first && c >= '0' && c <= '9');
}

class LineParser {
 public:
  LineParser(std::string_view line, std::size_t line_no) : s_(line), line_no_(line_no) {}

  Sample parse() {
    Sample out;
    out.name = name();
    skip_space();
    if (peek() == '{') {
      ++pos_;
      while (true) {
        skip_space();
        if (peek() == '}') {
          ++pos_;
          break;
        }
        std::string key = name();
        skip_space();
        expect('=');
        skip_space();
        std::string value = quoted();
        out.labels.emplace_back(std::move(key), std::move(value));
        skip_space();
        if (peek() == ',') {
          ++pos_;
        } else if (peek() != '}') {
          fail("expected ',' or '}'");
        }
      }
    }
    skip_space();
    const std::string value_text(token());
    if (value_text.empty()) fail("missing value");
    out.value = number(value_text);
    skip_space();
    token();  // optional timestamp (ignored)
    skip_space();
    if (pos_ != s_.size()) fail("trailing characters");
    return out;
  }

 private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }
  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error("line " + std::to_string(line_no_) + ": " + why);
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string name() {
    const std::size_t start = pos_;
    while (pos_ < s_.size() && name_char(s_[pos_], pos_ == start)) ++pos_;
    if (pos_ == start) fail("expected a name");
    return std::string(s_.substr(start, pos_ - start));
  }
  std::string quoted() {
    expect('"');
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) fail("unterminated label value");
      const char c = s_[pos_++];
      if (c == '"') break;
      if (c == '\\') {
        if (pos_ >= s_.size()) fail("unterminated escape");
        const char e = s_[pos_++];
        out += e == 'n' ? '\n' : e;  // \\ and \" stand for themselves
      } else {
        out += c;
      }
    }
    return out;
  }
  std::string_view token() {
    const std::size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != ' ' && s_[pos_] != '\t') ++pos_;
    return s_.substr(start, pos_ - start);
  }
  double number(const std::string& text) const {
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);  // also NaN, +Inf, -Inf
    if (end != text.c_str() + text.size()) fail("bad value \"" + text + "\"");
    return v;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::size_t line_no_;
};

bool matches(const Sample& s, const std::vector<std::pair<std::string, std::string>>& match) {
  return std::all_of(match.begin(), match.end(),
                     [&](const auto& kv) { return s.label(kv.first) == kv.second; });
}

}  // namespace

const std::string& Sample::label(std::string_view key) const {
  static const std::string kEmpty;
  for (const auto& [k, v] : labels)
    if (k == key) return v;
  return kEmpty;
}

double Scrape::sum(std::string_view name,
                   const std::vector<std::pair<std::string, std::string>>& match) const {
  double total = 0;
  for (const auto& s : samples)
    if (s.name == name && matches(s, match)) total += s.value;
  return total;
}

std::optional<double> Scrape::get(
    std::string_view name, const std::vector<std::pair<std::string, std::string>>& match) const {
  for (const auto& s : samples)
    if (s.name == name && matches(s, match)) return s.value;
  return std::nullopt;
}

bool Scrape::has(std::string_view name) const {
  return std::any_of(samples.begin(), samples.end(),
                     [&](const Sample& s) { return s.name == name; });
}

std::vector<std::string> Scrape::label_values(std::string_view name, std::string_view key) const {
  std::vector<std::string> out;
  for (const auto& s : samples) {
    if (s.name != name) continue;
    const std::string& v = s.label(key);
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
  return out;
}

Scrape parse_text(std::string_view text) {
  Scrape out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    out.samples.push_back(LineParser(line.substr(first), line_no).parse());
  }
  return out;
}

}  // namespace shardtcp::stat
