// Common main() for shardtcp apps: parses the command line, loads and
// validates the config (errors: one line, exit 2), prints the start-up
// banner, then calls `body` which normally returns dataplane::run(...).
#pragma once

#include <functional>
#include <string>

#include "shardtcp/config/config.h"
#include "shardtcp/tcp/stack.h"

namespace shardtcp::app {

struct AppSpec {
  const char* name;            // "shardtcp-httpd"
  const char* description;     // one line for --help
  const char* default_config;  // relative path, e.g. "config/httpd.toml"
  bool listens = true;         // false for clients: no "listen port(s)" banner line
};

int app_main(int argc, char** argv, const AppSpec& spec,
             const std::function<int(const config::Config&)>& body);

// "80, 8080"
std::string join_ports(const config::Config& cfg);

// A server's AppSetup::setup body: listens on every app.listen_ports port
// with `h` and `user` (the core's server). A port that cannot be bound is
// reported on stderr as `prog: core N: cannot listen on port P`; the others
// still listen.
void listen_all(tcp::Stack& stack, unsigned core, const config::Config& cfg, const tcp::Handlers& h,
                void* user, const char* prog);

}  // namespace shardtcp::app
