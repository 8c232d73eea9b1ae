// Prints the config reference generated from the schema, so the shipped
// example and the README table cannot drift from the parser:
//   config_docgen toml      > config/example-full.toml
//   config_docgen markdown  > config/README.config.md
// (test_config.cc checks both files against the schema.)
#include <cstdio>
#include <string>
#include <string_view>

#include "schema.h"

namespace {

using shardtcp::config::Config;
using shardtcp::config::PortConfig;
using namespace shardtcp::config::detail;

std::string_view kind_name(Kind k) {
  switch (k) {
    case Kind::kInteger:
      return "integer";
    case Kind::kBoolean:
      return "boolean";
    case Kind::kString:
      return "string";
    case Kind::kStringList:
      return "array of strings";
    case Kind::kIntegerList:
      return "array of integers";
    case Kind::kNumber:
      return "number";
  }
  return "?";
}

template <class T>
std::string type_col(const Field<T>& f) {
  std::string t(kind_name(f.kind));
  if (!f.unit.empty()) t += " (" + std::string(f.unit) + ")";
  if (!f.range.empty()) t += ", " + f.range;
  return t;
}

// The example needs a valid address; everything else is the struct default.
Config example_defaults() {
  Config c;
  c.net.address = (198u << 24) | (18u << 16) | 1u;
  return c;
}

template <class T>
void toml_field(const Field<T>& f, const T& t) {
  std::string type = type_col(f);
  std::printf("# %.*s [%s]\n%.*s = %s\n", static_cast<int>(f.doc.size()), f.doc.data(),
              type.c_str(), static_cast<int>(f.key.size()), f.key.data(), f.emit(t).c_str());
}

void print_toml() {
  const Config c = example_defaults();
  std::printf(
      "# Every shardtcp config key with its default value (generated from the schema by\n"
      "# tests/unit/config/docgen.cc; a unit test loads this file and checks that it\n"
      "# lists every key with its default). Only net.address has no default.\n"
      "# Units are in the key names: _ms milliseconds, _s seconds; sizes in bytes.\n\n");
  for (const auto& s : sections()) {
    std::printf("[%.*s]\n", static_cast<int>(s.name.size()), s.name.data());
    for (const auto& f : s.fields) toml_field(f, c);
    std::printf("\n");
    if (s.name == "eal") {
      std::printf("# One [port] table, or several [[port]] tables (one per DPDK port).\n[port]\n");
      for (const auto& f : port_fields()) toml_field(f, c.ports.front());
      std::printf("\n");
    }
  }
}

template <class T>
void md_row(std::string_view section, const Field<T>& f, const T& t) {
  std::string def = f.emit(t);
  if (section == "net" && f.key == "address") def = "(required)";
  std::printf("| `%.*s.%.*s` | %s | `%s` | %.*s |\n", static_cast<int>(section.size()),
              section.data(), static_cast<int>(f.key.size()), f.key.data(), type_col(f).c_str(),
              def.c_str(), static_cast<int>(f.doc.size()), f.doc.data());
}

void print_markdown() {
  const Config c;
  std::printf("| Key | Type | Default | Meaning |\n|---|---|---|---|\n");
  for (const auto& s : sections()) {
    for (const auto& f : s.fields) md_row(s.name, f, c);
    if (s.name == "eal") {
      for (const auto& f : port_fields()) md_row("port", f, c.ports.front());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "";
  if (what == "toml") {
    print_toml();
  } else if (what == "markdown") {
    print_markdown();
  } else {
    std::fprintf(stderr, "usage: config_docgen toml|markdown\n");
    return 2;
  }
  return 0;
}
