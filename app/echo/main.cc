// shardtcp-echo: echo server (RFC 862) on the shardtcp userspace TCP stack.
//   shardtcp-echo --config config/echo.toml [--set app.listen_ports=[7]]
#include <memory>
#include <vector>

#include "app_main.h"
#include "echo_server.h"
#include "shardtcp/dataplane/runtime.h"

int main(int argc, char** argv) {
  using namespace shardtcp;
  const app::AppSpec spec{"shardtcp-echo", "Echo server on the shardtcp DPDK TCP stack",
                          "config/echo.toml"};
  return app::app_main(argc, argv, spec, [](const config::Config& cfg) {
    // One server per core (index < kMaxCores), used only by its core.
    std::vector<std::unique_ptr<app::EchoServer>> servers;
    for (unsigned i = 0; i < dataplane::kMaxCores; ++i) {
      servers.push_back(std::make_unique<app::EchoServer>(cfg.app.idle_timeout));
    }
    dataplane::AppSetup setup;
    setup.counters.push_back(dataplane::AppCounter{
        "shardtcp_echo_idle_timeouts_total", "Echo connections closed by app.idle_timeout_ms.", "",
        "", [&servers](unsigned core) -> const tcp::Counter* {
          return core < servers.size() ? &servers[core]->idle_timeouts() : nullptr;
        }});
    setup.setup = [&](tcp::Stack& stack, unsigned core) {
      app::listen_all(stack, core, cfg, app::EchoServer::handlers(), servers[core].get(),
                      "shardtcp-echo");
    };
    setup.teardown = [&](tcp::Stack&, unsigned core) { servers[core]->teardown(); };
    return dataplane::run(cfg, setup);
  });
}
