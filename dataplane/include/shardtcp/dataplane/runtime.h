// The dataplane runtime: EAL + ports + mempools + one run-to-completion loop
// per lcore, each owning one tcp::Stack. Applications call run() from main().
//
// Start-up order (DPDK l3fwd): EAL init, port configure (one RX/TX queue pair
// per lcore), mempools, queue setup, port start, link status, launch the loops
// on every lcore, wait, stop + close ports, EAL cleanup. SIGINT / SIGTERM set
// a flag that every loop checks once per iteration; run() then returns 0.
//
// Per-core ownership: every Stack, its connections, ARP cache and counters are
// touched only by their lcore. Other threads (the metrics exporter) read only
// the counters, through relaxed loads (see tcp/counters.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "shardtcp/config/config.h"
#include "shardtcp/dataplane/counters.h"
#include "shardtcp/tcp/counters.h"
#include "shardtcp/tcp/stack.h"

struct rte_mempool;

namespace shardtcp::dataplane {

// Exit codes of run(): 0 clean shutdown, 1 runtime failure (EAL / port), 2 a
// start-up check on the configuration failed (message printed, one line).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitConfig = 2;

// Core indexes passed to AppSetup callbacks are < kMaxCores (RTE_MAX_LCORE of
// Debian's DPDK build; run() refuses more lcores).
inline constexpr unsigned kMaxCores = 128;

// Read-only view of one core, for observers on other threads (metrics).
struct CoreView {
  unsigned index = 0;  // 0..n-1 (the Stack's core_id)
  unsigned lcore = 0;  // EAL lcore id
  const DataplaneCounters* dp = nullptr;
  const tcp::TcpCounters* tcp = nullptr;
  const rte_mempool* pool = nullptr;  // this core's mbuf pool
  std::uint16_t rx_queue = 0xffff;    // 0xffff = no RX queue (steering only)
  std::uint16_t tx_queue = 0;
};

struct RuntimeInfo {
  std::uint16_t port_id = 0;
  std::uint8_t mac[6] = {};
  std::string driver;  // PMD name, e.g. "net_af_packet"
  std::uint16_t rx_queues = 0;
  std::uint16_t tx_queues = 0;
  bool hw_rss = false;            // NIC spreads flows (symmetric Toeplitz)
  bool sw_steering = false;       // cores hand packets to their owner
  bool rx_cksum_offload = false;  // IPv4 + TCP checksum verified by the NIC
  bool tx_cksum_offload = false;  // IPv4 + TCP checksum computed by the NIC
  bool hugepages = false;
  std::vector<CoreView> cores;
  // The Stacks' clock (TimeUs, the origin of every `now` they get); callable
  // from any thread (the metrics exporter reads the CLOSE-WAIT age with it).
  std::function<tcp::TimeUs()> now_us;
  // AppSetup::counters, for the metrics exporter.
  std::vector<AppCounter> app_counters;
};

struct AppSetup {
  // Called on each lcore before its loop starts (install listeners here).
  std::function<void(tcp::Stack&, unsigned core)> setup;
  // Called on each lcore about every 10 ms (not per packet). Optional.
  std::function<void(tcp::Stack&, unsigned core)> housekeeping;
  // Called on each lcore after its loop stopped, before the Stack is
  // destroyed. Optional.
  std::function<void(tcp::Stack&, unsigned core)> teardown;
  // Called once on the main thread after ports started, before the loops
  // launch (start exporters here); the RuntimeInfo outlives the loops.
  std::function<void(const RuntimeInfo&)> on_started;
  // Called once on the main thread after the loops stopped, before the ports
  // are closed (stop exporters here).
  std::function<void()> on_stopping;
  // The application's own per-core counters, exported on /metrics.
  std::vector<AppCounter> counters;
};

// Runs until SIGINT/SIGTERM (or request_stop()). Returns the process exit code.
int run(const config::Config& cfg, const AppSetup& app);

// Asks every loop to stop (async-signal-safe).
void request_stop();
bool stop_requested();

// The core that owns a flow (software steering and RSS use the same symmetric
// Toeplitz hash, so an active open can pick a source port landing on its own
// core). Valid after run() configured the port; 0 with one core.
unsigned owner_core(const tcp::FourTuple& t, unsigned num_cores);

// Metrics exporter (issue 5) integration point. When
// dataplane/include/shardtcp/dataplane/metrics.h exists it must declare, in
// this namespace:
//   // Starts the exporter thread (cfg.metrics.listen); returns the URL that
//   // run() prints at start-up, e.g. "http://127.0.0.1:9100/metrics".
//   std::string start_metrics(const config::Config&, const RuntimeInfo&);
//   void stop_metrics();
// run() calls start_metrics() after the ports started (when
// cfg.metrics.enabled) and stop_metrics() after the loops stopped, before the
// ports close; `info` and every CoreView pointer stay valid in between.

// Version string of the DPDK library in use.
const char* dpdk_version();

}  // namespace shardtcp::dataplane
