// shardtcp-httpd: HTTP/1.1 server on the shardtcp userspace TCP stack.
//   shardtcp-httpd --config config/httpd.toml [--set key=value ...]
// Signals: SIGINT/SIGTERM stop cleanly (exit 0); SIGUSR1 closes connections
// held in CLOSE-WAIT when app.hold_close_wait = true (see http_server.h).
#include <atomic>
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
    std::vector<std::unique_ptr<app::HttpServer>> servers;
    for (unsigned i = 0; i < dataplane::kMaxCores; ++i) {
      servers.push_back(std::make_unique<app::HttpServer>(cfg.app.hold_close_wait));
    }
    dataplane::AppSetup setup;
    setup.setup = [&](tcp::Stack& stack, unsigned core) {
      app::listen_all(stack, core, cfg, app::HttpServer::handlers(), servers[core].get(),
                      "shardtcp-httpd");
    };
    setup.housekeeping = [&](tcp::Stack&, unsigned core) { servers[core]->housekeeping(); };
    setup.teardown = [&](tcp::Stack&, unsigned core) { servers[core]->teardown(); };
    // shardtcp_http_requests_total{core} on /metrics (read at scrape time on
    // the exporter thread; the counters are relaxed, written by their core).
    std::atomic<unsigned> num_cores{0};  // 0 until the loops are about to start
    setup.on_started = [&](const dataplane::RuntimeInfo& info) {
      num_cores.store(static_cast<unsigned>(info.cores.size()), std::memory_order_release);
    };
    setup.metrics = [&] {
      dataplane::AppFamily f{"shardtcp_http_requests_total",
                             "HTTP requests parsed and answered (any status), by core.",
                             true,
                             {}};
      const unsigned n = num_cores.load(std::memory_order_acquire);
      for (unsigned c = 0; c < n; ++c) {
        f.samples.push_back(
            {{{"core", std::to_string(c)}}, static_cast<double>(servers[c]->requests())});
      }
      return std::vector<dataplane::AppFamily>{std::move(f)};
    };
    if (cfg.app.hold_close_wait) {
      std::printf(
          "shardtcp-httpd: app.hold_close_wait = true: peer-closed connections stay in "
          "CLOSE-WAIT until SIGUSR1\n");
    }
    return dataplane::run(cfg, setup);
  });
}
