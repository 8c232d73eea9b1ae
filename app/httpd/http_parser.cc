#include "http_parser.h"

#include <cctype>

namespace shardtcp::app {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_token_char(char c) {
  // RFC 9110 §5.6.2 tchar.
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Applies the comma-separated Connection tokens (RFC 9112 §9.3).
void apply_connection(std::string_view v, HttpRequest& r) {
  while (!v.empty()) {
    const std::size_t comma = v.find(',');
    const std::string_view tok = trim(v.substr(0, comma));
    if (iequals(tok, "close")) r.keep_alive = false;
    if (iequals(tok, "keep-alive") && r.version_minor == 0) r.keep_alive = true;
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
}

// One line of the head at `pos`: the bytes before the next LF, without a
// CR just before it (RFC 9112 §2.2: CRLF, or a bare LF a recipient may
// accept). False when no LF follows yet.
bool next_line(std::string_view buf, std::size_t& pos, std::string_view& line) {
  const std::size_t lf = buf.find('\n', pos);
  if (lf == std::string_view::npos) return false;
  line = buf.substr(pos, lf - pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  pos = lf + 1;
  return true;
}

}  // namespace

ParseResult parse_request(std::string_view buf, HttpRequest& out) {
  out = HttpRequest{};
  // The head is bounded however it is framed: leading empty lines count too.
  const std::string_view scan = buf.substr(0, kMaxRequestHead + 1);
  const ParseResult short_of_end =
      buf.size() > kMaxRequestHead ? ParseResult::kTooLarge : ParseResult::kIncomplete;
  // RFC 9112 §2.2: ignore at least one empty line before the request line.
  std::size_t pos = 0;
  std::string_view line;
  do {
    if (!next_line(scan, pos, line)) return short_of_end;
  } while (line.empty());
  const std::string_view request_line = line;
  // Header fields up to the empty line that ends the head.
  const std::size_t fields_begin = pos;
  std::size_t fields_end = pos;
  for (;;) {
    if (!next_line(scan, pos, line)) return short_of_end;
    if (line.empty()) break;
    fields_end = pos;
  }
  out.head_len = pos;
  // RFC 9112 §2.2: a bare CR (not ending a line) is invalid.
  if (request_line.find('\r') != std::string_view::npos) return ParseResult::kBad;
  std::string_view fields = buf.substr(fields_begin, fields_end - fields_begin);

  // request-line = method SP request-target SP HTTP-version
  const std::string_view rl = request_line;
  const std::size_t sp1 = rl.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return ParseResult::kBad;
  const std::size_t sp2 = rl.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return ParseResult::kBad;
  out.method = rl.substr(0, sp1);
  for (char c : out.method) {
    if (!is_token_char(c)) return ParseResult::kBad;
  }
  std::string_view target = rl.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = rl.substr(sp2 + 1);
  if (version == "HTTP/1.1") {
    out.version_minor = 1;
    out.keep_alive = true;
  } else if (version == "HTTP/1.0") {
    out.version_minor = 0;
    out.keep_alive = false;
  } else {
    return ParseResult::kBad;
  }
  if (target.empty() || target.front() != '/') return ParseResult::kBad;
  if (const std::size_t q = target.find('?'); q != std::string_view::npos) {
    target = target.substr(0, q);
  }
  out.target = target;

  std::size_t fpos = 0;
  std::string_view field;
  while (next_line(fields, fpos, field)) {
    if (field.find('\r') != std::string_view::npos) return ParseResult::kBad;
    const std::size_t colon = field.find(':');
    // RFC 9112 §5.1: no whitespace between the field name and the colon.
    if (colon == std::string_view::npos || colon == 0) return ParseResult::kBad;
    const std::string_view name = field.substr(0, colon);
    for (char c : name) {
      if (!is_token_char(c)) return ParseResult::kBad;
    }
    const std::string_view value = trim(field.substr(colon + 1));
    if (iequals(name, "Connection")) {
      apply_connection(value, out);
    } else if (iequals(name, "Content-Length")) {
      if (value.empty()) return ParseResult::kBad;
      for (char c : value) {
        if (c < '0' || c > '9') return ParseResult::kBad;
      }
      if (value != "0" && value.find_first_not_of('0') != std::string_view::npos) {
        out.has_body = true;
      }
    } else if (iequals(name, "Transfer-Encoding")) {
      out.has_body = true;
    }
  }
  return ParseResult::kOk;
}

std::int64_t parse_bytes_path(std::string_view rest) {
  if (rest.empty() || rest.size() > 9) return -1;  // kMaxBytes has 8 digits
  std::int64_t n = 0;
  for (char c : rest) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n <= static_cast<std::int64_t>(kMaxBytes) ? n : -1;
}

}  // namespace shardtcp::app
