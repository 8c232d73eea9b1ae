// Internal: the config schema as data. One Field per key knows how to parse
// and check its TOML value and how to print the current value back as TOML.
// load_*(), apply_override(), to_toml() and known_keys() all walk these
// tables, so a key cannot be accepted by one and unknown to another.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "shardtcp/config/config.h"

namespace shardtcp::config::detail {

// Throws ConfigError("PATH: REASON"), with the node's source location in
// ConfigError::where when known.
[[noreturn]] void fail(const std::string& path, const std::string& reason,
                       const toml::node* at = nullptr);

// "integer", "string", "boolean", "array", "table", ... for messages.
std::string_view type_name(const toml::node& n);

// TOML basic-string literal with escapes (also used to echo bad values in
// one-line messages: never contains a raw newline).
std::string quote(std::string_view s);

enum class Kind : std::uint8_t {
  kInteger,
  kBoolean,
  kString,
  kStringList,
  kIntegerList,
  kNumber,  // integer or float
};

template <class T>
struct Field {
  std::string_view key;
  Kind kind;
  std::string_view unit;  // "ms", "s", "bytes", "" (docs only)
  std::string_view doc;   // one line for README / example-full.toml
  std::string range;      // "1..600000" for integers (docs only), else ""
  std::function<void(const toml::node&, T&, const std::string& path)> parse;
  std::function<std::string(const T&)> emit;  // current value as a TOML literal
};

struct Section {
  std::string_view name;
  std::vector<Field<Config>> fields;
};

// [eal], [net], [mempool], [tcp], [metrics], [app], [impair] in file order.
const std::vector<Section>& sections();
// [port] / [[port]] keys.
const std::vector<Field<PortConfig>>& port_fields();

}  // namespace shardtcp::config::detail
