#include "app_main.h"

#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace shardtcp::app {

namespace {

// The default config is looked up relative to the working directory first,
// then in the source tree the binary was built from (handy for the demo).
std::string resolve_default(const char* rel) {
  if (std::filesystem::exists(rel)) return rel;
  std::string in_tree = std::string(SHARDTCP_SOURCE_DIR) + "/" + rel;
  if (std::filesystem::exists(in_tree)) return in_tree;
  return rel;
}

}  // namespace

std::string join_ports(const config::Config& cfg) {
  std::string s;
  for (std::uint16_t p : cfg.app.listen_ports) {
    if (!s.empty()) s += ", ";
    s += std::to_string(p);
  }
  return s;
}

int app_main(int argc, char** argv, const AppSpec& spec,
             const std::function<int(const config::Config&)>& body) {
  CLI::App cli{spec.description, spec.name};
  std::string config_path;
  std::vector<std::string> overrides;
  cli.add_option("-c,--config", config_path, "config file (TOML)")
      ->default_str(spec.default_config);
  cli.add_option("--set", overrides, "override one key: --set tcp.msl_ms=1000 (repeatable)")
      ->type_name("KEY=VALUE");
  cli.set_version_flag("--version", std::string(spec.name) + " " SHARDTCP_VERSION);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }
  if (config_path.empty()) config_path = resolve_default(spec.default_config);

  config::Config cfg;
  try {
    cfg = config::load_file(config_path);
    for (const std::string& kv : overrides) config::apply_override(cfg, kv);
  } catch (const config::ConfigError& e) {
    std::fprintf(stderr, "%s: %s\n", spec.name, e.what());
    return 2;
  }
  std::printf("%s %s, config %s\n%s", spec.name, SHARDTCP_VERSION, config_path.c_str(),
              config::describe(cfg).c_str());
  if (spec.listens) {
    std::printf("%s: TCP listen port(s) %s on %s\n", spec.name, join_ports(cfg).c_str(),
                config::ipv4_to_string(cfg.net.address).c_str());
  } else {
    std::printf("%s: client on %s\n", spec.name, config::ipv4_to_string(cfg.net.address).c_str());
  }
  std::fflush(stdout);
  return body(cfg);
}

void listen_all(tcp::Stack& stack, unsigned core, const config::Config& cfg, const tcp::Handlers& h,
                void* user, const char* prog) {
  for (std::uint16_t port : cfg.app.listen_ports) {
    if (!stack.listen(port, h, user)) {
      std::fprintf(stderr, "%s: core %u: cannot listen on port %u\n", prog, core, port);
    }
  }
}

}  // namespace shardtcp::app
