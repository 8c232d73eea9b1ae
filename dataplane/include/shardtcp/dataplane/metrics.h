// Prometheus exporter (issue 5): serves /metrics from a control thread that
// is not a dataplane lcore, reading the per-core counters at scrape time.
//
// HTTP (issue 9, "monitoring blackout"): one poll() event loop thread, not a
// worker pool, so slow or idle clients cannot occupy what a scrape needs.
// Each connection has a deadline (metrics.request_timeout_ms for a whole
// request head, and again for taking the response), request heads are
// bounded (metrics.max_request_bytes, else 431), and at
// metrics.max_connections a new connection closes the oldest one still
// waiting for its request. Every such close is counted
// (shardtcp_metrics_http_closed_total{reason}).
//
// Hot path contract: dataplane cores only bump their plain per-core counters
// (tcp::TcpCounters, DataplaneCounters: relaxed load + store, no locked RMW).
// No prometheus-cpp object is ever touched by a dataplane core; the exporter's
// custom Collectable walks the counters when Prometheus scrapes. Scrapes are
// serialized by a mutex that only exporter threads take.
//
// This header and MetricsExporter are DPDK-free (unit-tested without DPDK);
// start_metrics()/stop_metrics() (metrics_dpdk.cc) bind it to a running
// dataplane: PMD port stats, mempool counts, the engine clock, DPDK version.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "shardtcp/config/config.h"
#include "shardtcp/dataplane/counters.h"
#include "shardtcp/tcp/counters.h"
#include "shardtcp/tcp/types.h"

namespace shardtcp::dataplane {

struct RuntimeInfo;

// One dataplane core's counters. The pointers must stay valid from start()
// until stop() returns.
struct CoreSource {
  unsigned core = 0;  // label value of {core="N"}
  const tcp::TcpCounters* tcp = nullptr;
  const DataplaneCounters* dp = nullptr;
};

// A port's PMD statistics (rte_eth_stats), read at scrape time.
struct PortStats {
  struct Queue {
    std::uint16_t id = 0;
    std::uint64_t packets = 0, bytes = 0, errors = 0;
  };
  std::uint16_t port_id = 0;
  std::string driver;  // label value, e.g. "net_af_packet"
  std::uint64_t rx_packets = 0, tx_packets = 0, rx_bytes = 0, tx_bytes = 0;
  std::uint64_t rx_errors = 0, tx_errors = 0;
  std::uint64_t rx_missed = 0;  // imissed: dropped by the NIC, rx ring full
  std::uint64_t rx_nombuf = 0;  // rx_nombuf: no mbuf to refill the ring
  bool link_up = false;
  std::uint32_t link_speed_mbps = 0;
  std::vector<Queue> rx_queues, tx_queues;  // may be empty (PMD has no queue stats)
};

// One mbuf pool (per core in shardtcp).
struct MempoolStats {
  std::string name;  // label value of {pool="..."}
  std::uint64_t in_use = 0;
  std::uint64_t free = 0;
};

// Everything the exporter reads besides the per-core counters. Every function
// is called on an exporter thread at scrape time (never concurrently with
// itself), so it must be safe to call from a non-lcore thread. Any may be empty.
struct MetricsHooks {
  std::function<std::vector<PortStats>()> port_stats;
  std::function<std::vector<MempoolStats>()> mempool_stats;
  // The engine's clock (TimeUs, same origin as the `now` the Stacks get): used
  // for the age of the oldest CLOSE-WAIT connection.
  std::function<tcp::TimeUs()> now_us;
  // The application's per-core counters (AppSetup::counters).
  std::vector<AppCounter> app_counters;
  std::string version = "0.0.0";  // shardtcp version (build_info label)
  std::string dpdk_version;       // rte_version() (build_info label)
  // CPUs the exporter's thread must not run on (the dataplane lcores' CPUs).
  // The HTTP thread ("stcp-metrics") pins itself to every other online CPU;
  // when no other CPU exists it keeps the caller's affinity.
  std::vector<unsigned> avoid_cpus;
};

class MetricsExporter {
 public:
  MetricsExporter(const config::MetricsConfig& cfg, std::vector<CoreSource> cores,
                  MetricsHooks hooks);
  ~MetricsExporter();  // stop()s
  MetricsExporter(const MetricsExporter&) = delete;
  MetricsExporter& operator=(const MetricsExporter&) = delete;

  // Binds cfg.listen and starts serving /metrics. Throws std::runtime_error
  // with one line ("metrics.listen: cannot listen on 127.0.0.1:9100 (...)")
  // when the address cannot be bound. Not thread-safe with stop().
  void start();
  // Stops serving and closes every connection; idempotent. Returns within one
  // scrape's rendering time.
  void stop();

  bool running() const { return server_ != nullptr; }
  // The bound TCP port (the real one when cfg.listen asked for port 0); 0
  // when not running.
  std::uint16_t port() const;
  // "http://HOST:PORT/metrics" with the bound port; "" when not running.
  std::string url() const;

  // The exposition text /metrics would serve now (Prometheus text format
  // 0.0.4). For tests and for tools that want a snapshot without HTTP.
  std::string render() const;

 private:
  class Collector;
  class HttpServer;
  struct HttpStats;
  config::MetricsConfig cfg_;
  std::string url_host_;
  std::shared_ptr<Collector> collector_;
  std::unique_ptr<HttpStats> http_stats_;  // outlives server_; read by render()
  std::unique_ptr<HttpServer> server_;
};

// --- Binding to the DPDK runtime (metrics_dpdk.cc; called by run()) --------
// Starts the exporter for a started dataplane (cfg.metrics.listen); returns
// the URL run() prints, e.g. "http://127.0.0.1:9100/metrics". Throws
// std::runtime_error (one line) when the address cannot be bound.
std::string start_metrics(const config::Config& cfg, const RuntimeInfo& info);
void stop_metrics();

}  // namespace shardtcp::dataplane
