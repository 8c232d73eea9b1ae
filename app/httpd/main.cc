// shardtcp-httpd: HTTP/1.1 server on the shardtcp userspace TCP stack.
//   shardtcp-httpd --config config/httpd.toml [--set key=value ...]
// Signals: SIGINT/SIGTERM stop cleanly (exit 0); SIGUSR1 closes connections
// held in CLOSE-WAIT when app.hold_close_wait = true (see http_server.h).
#include <csignal>
#include <cstdio>
#include <memory>
#include <vector>

#include "app_main.h"
#include "http_server.h"
#include "shardtcp/dataplane/runtime.h"

namespace {

void on_sigusr1(int) { shardtcp::app::HttpServer::request_release(); }

}  // namespace

int main(int argc, char** argv) {
  using namespace shardtcp;
  const app::AppSpec spec{"shardtcp-httpd", "HTTP/1.1 server on the shardtcp DPDK TCP stack",
                          "config/httpd.toml"};
  return app::app_main(argc, argv, spec, [](const config::Config& cfg) {
    struct sigaction sa {};
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, nullptr);

    // One server per core (index < kMaxCores), created before launch, used
    // only by its core.
    app::HttpTimeouts timeouts;
    timeouts.header = cfg.app.header_timeout;
    timeouts.keepalive = cfg.app.keepalive_timeout;
    timeouts.send = cfg.app.send_timeout;
    std::vector<std::unique_ptr<app::HttpServer>> servers;
    for (unsigned i = 0; i < dataplane::kMaxCores; ++i) {
      servers.push_back(std::make_unique<app::HttpServer>(cfg.app.hold_close_wait, timeouts));
    }
    dataplane::AppSetup setup;
    for (int k = 0; k < app::kNumHttpTimeouts; ++k) {
      const auto kind = static_cast<app::HttpTimeout>(k);
      setup.counters.push_back(dataplane::AppCounter{
          "shardtcp_http_timeouts_total",
          "HTTP connections ended by a timeout: header and keepalive close with FIN, send "
          "aborts with RST (app.*_timeout_ms).",
          "kind", app::to_string(kind), [&servers, kind](unsigned core) -> const tcp::Counter* {
            return core < servers.size() ? &servers[core]->timeout_count(kind) : nullptr;
          }});
    }
    setup.setup = [&](tcp::Stack& stack, unsigned core) {
      app::listen_all(stack, core, cfg, app::HttpServer::handlers(), servers[core].get(),
                      "shardtcp-httpd");
    };
    setup.housekeeping = [&](tcp::Stack&, unsigned core) { servers[core]->housekeeping(); };
    setup.teardown = [&](tcp::Stack&, unsigned core) { servers[core]->teardown(); };
    if (cfg.app.hold_close_wait) {
      std::printf(
          "shardtcp-httpd: app.hold_close_wait = true: peer-closed connections stay in "
          "CLOSE-WAIT until SIGUSR1\n");
    }
    return dataplane::run(cfg, setup);
  });
}
