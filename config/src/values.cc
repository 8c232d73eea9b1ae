// Small value parsers shared by the config loader, the dataplane and the apps.
// Strict on purpose: a config value either means exactly one thing or is an
// error at start-up.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shardtcp/config/config.h"

namespace shardtcp::config {
namespace {

// Parses a whole decimal number (no sign, no leading '+', no spaces).
template <class T>
std::optional<T> parse_decimal(std::string_view s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  T v{};
  const auto* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc{} || ptr != end) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::uint32_t> parse_ipv4(std::string_view text) {
  std::uint32_t addr = 0;
  int parts = 0;
  while (parts < 4) {
    const auto dot = text.find('.');
    const auto part = text.substr(0, dot);
    // Leading zeros are rejected: "010" is octal to inet_aton, decimal to others.
    if (part.size() > 1 && part[0] == '0') return std::nullopt;
    const auto octet = parse_decimal<std::uint32_t>(part);
    if (!octet || *octet > 255) return std::nullopt;
    addr = (addr << 8) | *octet;
    ++parts;
    if (dot == std::string_view::npos) break;
    if (parts == 4) return std::nullopt;  // "1.2.3.4.5"
    text.remove_prefix(dot + 1);
  }
  if (parts != 4) return std::nullopt;
  return addr;
}

std::string ipv4_to_string(std::uint32_t addr) {
  return std::to_string(addr >> 24) + "." + std::to_string((addr >> 16) & 0xff) + "." +
         std::to_string((addr >> 8) & 0xff) + "." + std::to_string(addr & 0xff);
}

std::optional<std::vector<unsigned>> parse_lcores(std::string_view text) {
  // The EAL -l syntax: comma-separated cores or inclusive ranges "a-b".
  constexpr unsigned kMaxLcore = 1023;
  std::vector<unsigned> cores;
  if (text.empty()) return std::nullopt;
  while (true) {
    const auto comma = text.find(',');
    const auto item = text.substr(0, comma);
    const auto dash = item.find('-');
    const auto lo = parse_decimal<unsigned>(item.substr(0, dash));
    auto hi = lo;
    if (dash != std::string_view::npos) hi = parse_decimal<unsigned>(item.substr(dash + 1));
    if (!lo || !hi || *lo > *hi || *hi > kMaxLcore) return std::nullopt;
    for (unsigned c = *lo; c <= *hi; ++c) cores.push_back(c);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  std::sort(cores.begin(), cores.end());
  cores.erase(std::unique(cores.begin(), cores.end()), cores.end());
  return cores;
}

std::optional<HostPort> parse_host_port(std::string_view text) {
  HostPort hp;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    // "[v6]:port"
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    hp.host = std::string(text.substr(1, close - 1));
    if (hp.host.empty() ||
        hp.host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos)
      return std::nullopt;
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) return std::nullopt;
    hp.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
    if (hp.host.empty()) return std::nullopt;
    const bool is_name = hp.host.find_first_not_of(
                             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") ==
                         std::string::npos;
    const bool all_digits_and_dots = hp.host.find_first_not_of("0123456789.") == std::string::npos;
    if (!is_name || (all_digits_and_dots && !parse_ipv4(hp.host))) return std::nullopt;
  }
  const auto p = parse_decimal<std::uint32_t>(port);
  if (!p || *p > 65535) return std::nullopt;
  hp.port = static_cast<std::uint16_t>(*p);
  return hp;
}

}  // namespace shardtcp::config
