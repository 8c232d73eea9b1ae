// run(): the canonical DPDK start-up and shutdown order (l3fwd) around one
// run-to-completion loop per lcore.
#include "shardtcp/dataplane/runtime.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_thash.h>
#include <rte_version.h>

#include <arpa/inet.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core.h"
#include "eal_args.h"
#include "net_util.h"
#include "port.h"

#if __has_include("shardtcp/dataplane/metrics.h")
#include "shardtcp/dataplane/metrics.h"
#define SHARDTCP_HAVE_METRICS 1
#endif

namespace shardtcp::dataplane {

namespace {

// RTE_LCORE_FOREACH without its implicit int -> unsigned conversion of -1:
// rte_get_next_lcore(i) starts at i + 1, so UINT_MAX (i + 1 wraps to 0)
// yields the first enabled lcore, as DPDK's own macro intends.
unsigned first_lcore() { return rte_get_next_lcore(~0u, 0, 0); }

// Lock-free, so safe to store from a signal handler.
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);
std::uint32_t g_reta_size = 128;

void on_signal(int) { g_stop.store(true, std::memory_order_relaxed); }

// A net_af_xdp rx pool: its fill ring (2048), tx ring and completion ring
// (2048) of copies, a core's bursts and cache, and an rx impairment queue.
constexpr unsigned kPmdRxPoolMbufs = 8191;

std::string ip_str(tcp::Ipv4 a) {
  const in_addr n{htonl(a)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &n, buf, sizeof(buf));
  return buf;
}

struct LaunchCtx {
  std::vector<Core*> by_lcore;  // indexed by lcore id
};

int lcore_main(void* arg) {
  auto* ctx = static_cast<LaunchCtx*>(arg);
  const unsigned id = rte_lcore_id();
  if (id < ctx->by_lcore.size() && ctx->by_lcore[id] != nullptr) ctx->by_lcore[id]->run();
  return 0;
}

}  // namespace

void request_stop() { g_stop.store(true, std::memory_order_relaxed); }
bool stop_requested() { return g_stop.load(std::memory_order_relaxed); }
void set_reta_size(std::uint32_t n) { g_reta_size = n == 0 ? 128 : n; }
const char* dpdk_version() { return rte_version(); }

std::uint32_t flow_hash(const tcp::FourTuple& t) {
  // Toeplitz over (src ip, dst ip, src port, dst port) as the NIC sees an
  // incoming packet; the symmetric key makes the direction irrelevant.
  std::uint32_t in[3] = {t.remote_ip, t.local_ip,
                         (std::uint32_t{t.remote_port} << 16) | t.local_port};
  return rte_softrss(in, 3, kSymmetricRssKey);
}

unsigned owner_from_hash(std::uint32_t hash, unsigned num_cores) {
  // The RETA maps hash % reta_size to queue (i % cores) (see port.cc).
  return (hash % g_reta_size) % num_cores;
}

unsigned owner_core(const tcp::FourTuple& t, unsigned num_cores) {
  if (num_cores <= 1) return 0;
  return owner_from_hash(flow_hash(t), num_cores);
}

int run(const config::Config& cfg, const AppSetup& app) {
  g_stop.store(false);
  // From here on SIGINT/SIGTERM only set the flag: a signal during start-up
  // lets run() finish initialising, then the loops exit at once and the
  // ports are closed cleanly.
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  const unsigned cores_cfg = cfg.lcores_count == 0 ? 1 : cfg.lcores_count;
  EalPlan eal = plan_eal(cfg, "shardtcp", cores_cfg);
  for (const std::string& n : eal.notes) std::printf("shardtcp: %s\n", n.c_str());
  std::string line;
  for (const std::string& a : eal.args) line += " " + a;
  std::printf("shardtcp: EAL args:%s\n", line.c_str());
  std::fflush(stdout);

  std::vector<char*> argv;
  for (std::string& a : eal.args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(argv.size() - 1), argv.data()) < 0) {
    std::fprintf(stderr, "shardtcp: EAL init failed: %s\n", rte_strerror(rte_errno));
    return kExitFailure;
  }
  int exit_code = kExitOk;
  const unsigned cores = rte_lcore_count();

  PortPlan plan;
  std::vector<rte_mempool*> pools;
  std::vector<rte_mempool*> pmd_pools;  // rx pools a PMD keeps mbufs of (net_af_xdp)
  std::vector<std::unique_ptr<Core>> owned;
  Shared sh;
  RuntimeInfo info;
  bool port_started = false;
  do {
    if (cores > kMaxCores) {
      std::fprintf(stderr, "shardtcp: eal.lcores: %u lcores, at most %u supported\n", cores,
                   kMaxCores);
      exit_code = kExitConfig;
      break;
    }
    if (Status s = configure_port(cfg, cores, plan); !s.ok()) {
      std::fprintf(stderr, "shardtcp: %s\n", s.message.c_str());
      exit_code = s.code;
      break;
    }
    std::string breakdown;
    const std::uint32_t need = required_mbufs(cfg, cores, plan, &breakdown);
    if (cfg.mempool.mbufs < need) {
      std::fprintf(stderr,
                   "shardtcp: mempool.mbufs: %u per core is too small, need at least %u (%s)\n",
                   cfg.mempool.mbufs, need, breakdown.c_str());
      exit_code = kExitConfig;
      break;
    }
    // One pool per core, on the core's socket: RX queue q fills from pool q.
    unsigned idx = 0;
    for (unsigned lc = first_lcore(); lc < RTE_MAX_LCORE; lc = rte_get_next_lcore(lc, 0, 0)) {
      const std::string name = "stcp_mb" + std::to_string(idx);
      rte_mempool* mp = rte_pktmbuf_pool_create(
          name.c_str(), cfg.mempool.mbufs, std::min<unsigned>(cfg.mempool.cache_size, 512), 0,
          cfg.mempool.data_room, static_cast<int>(rte_lcore_to_socket_id(lc)));
      if (mp == nullptr) {
        std::fprintf(stderr,
                     "shardtcp: mempool: cannot allocate %u mbufs of %u bytes for core %u: %s "
                     "(lower mempool.mbufs or give the EAL more memory)\n",
                     cfg.mempool.mbufs, cfg.mempool.data_room, idx, rte_strerror(rte_errno));
        exit_code = kExitConfig;
        break;
      }
      pools.push_back(mp);
      ++idx;
    }
    if (exit_code != kExitOk) break;
    // net_af_xdp (DPDK 22.11) lays its UMEM over the rx queue's pool, keeps
    // ETH_AF_XDP_DFLT_NUM_DESCS (2048) of its mbufs in the kernel's fill
    // ring, and does not return them on close (issue 15: "2,052 mbufs in use
    // at shutdown"). Its rx queues get pools of their own, so the cores'
    // pools (the PMD copies what they transmit into its own) stay exact for
    // the leak check, and what the PMD keeps is reported apart.
    if (plan.driver == "net_af_xdp") {
      for (std::uint16_t q = 0; q < plan.nb_rxq && exit_code == kExitOk; ++q) {
        const std::string name = "stcp_xdp" + std::to_string(q);
        rte_mempool* mp = rte_pktmbuf_pool_create(
            name.c_str(), kPmdRxPoolMbufs, std::min<unsigned>(cfg.mempool.cache_size, 512), 0,
            cfg.mempool.data_room, static_cast<int>(rte_socket_id()));
        if (mp == nullptr) {
          std::fprintf(stderr, "shardtcp: mempool: cannot allocate %u mbufs for %s: %s\n",
                       kPmdRxPoolMbufs, name.c_str(), rte_strerror(rte_errno));
          exit_code = kExitConfig;
          break;
        }
        pmd_pools.push_back(mp);
      }
      if (exit_code != kExitOk) break;
    }
    if (Status s = start_port(cfg, plan, pmd_pools.empty() ? pools : pmd_pools); !s.ok()) {
      std::fprintf(stderr, "shardtcp: %s\n", s.message.c_str());
      exit_code = s.code;
      break;
    }
    port_started = true;
  } while (false);

  if (exit_code == kExitOk) {
    sh.cfg = &cfg;
    sh.app = &app;
    sh.port = plan.port;
    std::memcpy(sh.mac.b, plan.mac, 6);
    sh.ip = cfg.net.address;
    sh.netmask = cfg.net.prefix_len == 0 ? 0 : ~std::uint32_t{0} << (32 - cfg.net.prefix_len);
    sh.gateway = cfg.net.gateway;
    sh.features = plan.features;
    sh.num_cores = cores;
    sh.us_per_tsc = 1e6 / static_cast<double>(rte_get_tsc_hz());
    sh.tsc0 = rte_rdtsc();
    sh.rings.resize(std::size_t{cores} * cores);
    if (cores > 1) {
      for (unsigned f = 0; f < cores; ++f) {
        for (unsigned t = 0; t < cores; ++t) {
          if (f != t) sh.rings[f * cores + t] = std::make_unique<SteerRing>();
        }
      }
    }
    LaunchCtx ctx;
    ctx.by_lcore.assign(RTE_MAX_LCORE, nullptr);
    unsigned idx = 0;
    for (unsigned lc = first_lcore(); lc < RTE_MAX_LCORE; lc = rte_get_next_lcore(lc, 0, 0)) {
      const std::uint16_t rxq = idx < plan.nb_rxq ? static_cast<std::uint16_t>(idx) : kNoQueue;
      owned.push_back(
          std::make_unique<Core>(sh, idx, lc, pools[idx], rxq, static_cast<std::uint16_t>(idx)));
      ctx.by_lcore[lc] = owned.back().get();
      ++idx;
    }

    info.port_id = plan.port;
    std::memcpy(info.mac, plan.mac, 6);
    info.driver = plan.driver;
    info.rx_queues = plan.nb_rxq;
    info.tx_queues = plan.nb_txq;
    info.hw_rss = plan.hw_rss;
    info.sw_steering = plan.features.sw_steering;
    info.rx_cksum_offload = plan.features.rx_ip_cksum && plan.features.rx_tcp_cksum;
    info.tx_cksum_offload = plan.features.tx_ip_cksum && plan.features.tx_tcp_cksum;
    info.hugepages = eal.hugepages;
    info.app_counters = app.counters;
    // The Stacks' clock (Core::now_us(): same TSC origin), for observers on
    // other threads, e.g. the exporter's age of the oldest CLOSE-WAIT.
    info.now_us = [us_per_tsc = sh.us_per_tsc, tsc0 = sh.tsc0] {
      return static_cast<tcp::TimeUs>(static_cast<double>(rte_rdtsc() - tsc0) * us_per_tsc);
    };
    for (auto& c : owned) {
      info.cores.push_back(CoreView{c->index(), c->lcore(), &c->dp(), &c->tcp_counters(), c->pool(),
                                    c->rx_queue(), c->tx_queue()});
    }

    char mac[RTE_ETHER_ADDR_FMT_SIZE];
    rte_ether_addr ea{};
    std::memcpy(ea.addr_bytes, plan.mac, 6);
    rte_ether_format_addr(mac, sizeof(mac), &ea);
    std::printf(
        "shardtcp: port %u (%s) MAC %s, IPv4 %s/%u gateway %s, %u core(s), %u rx / %u tx "
        "queue(s), %s, checksum offload rx %s tx %s, %s, %u mbufs/core, %s\n",
        plan.port, plan.driver.c_str(), mac, ip_str(sh.ip).c_str(), cfg.net.prefix_len,
        sh.gateway != 0 ? ip_str(sh.gateway).c_str() : "none", cores, plan.nb_rxq, plan.nb_txq,
        plan.hw_rss
            ? (plan.features.rx_rss_hash ? "RSS (symmetric Toeplitz, NIC hash checked)"
                                         : "RSS (symmetric Toeplitz) + software steering check")
            : (plan.features.sw_steering ? "software steering" : "single core"),
        info.rx_cksum_offload ? "yes" : "no", info.tx_cksum_offload ? "yes" : "no",
        eal.hugepages ? "hugepages" : "no hugepages", cfg.mempool.mbufs, rte_version());

#ifdef SHARDTCP_HAVE_METRICS
    if (cfg.metrics.enabled) {
      // A metrics.listen address we cannot bind is a start-up error: one line
      // naming the key, exit 2, before any loop runs.
      try {
        const std::string url = start_metrics(cfg, info);
        if (!url.empty()) std::printf("shardtcp: metrics at %s\n", url.c_str());
      } catch (const std::runtime_error& e) {
        std::fprintf(stderr, "shardtcp: %s\n", e.what());
        exit_code = kExitConfig;
      }
    }
#endif
    if (exit_code == kExitOk) {
      if (app.on_started) app.on_started(info);
      std::fflush(stdout);

      rte_eal_mp_remote_launch(lcore_main, &ctx, CALL_MAIN);
      rte_eal_mp_wait_lcore();
      std::printf("shardtcp: loops stopped, shutting down\n");
      for (auto& c : owned) {
        const DataplaneCounters& d = c->dp();
        const tcp::TcpCounters& t = c->tcp_counters();
        std::uint64_t l3 = 0, l4 = 0;
        for (const auto& x : d.drops) l3 += x.get();
        for (const auto& x : t.drops) l4 += x.get();
        std::printf(
            "shardtcp: core %u (lcore %u): rx %lu tx %lu pkts, steered in %lu out %lu, passive "
            "opens "
            "%lu, active opens %lu, drops l3 %lu tcp %lu, connections %ld, time-wait %ld, busy "
            "%.1f%%\n",
            c->index(), c->lcore(), d.rx_packets.get(), d.tx_packets.get(), d.steered_in.get(),
            d.steered_out.get(), t.passive_opens.get(), t.active_opens.get(), l3, l4,
            d.connections.get(), d.time_wait_entries.get(),
            d.total_cycles.get() == 0 ? 0.0
                                      : 100.0 * static_cast<double>(d.busy_cycles.get()) /
                                            static_cast<double>(d.total_cycles.get()));
      }

      if (app.on_stopping) app.on_stopping();
    }
#ifdef SHARDTCP_HAVE_METRICS
    if (cfg.metrics.enabled) stop_metrics();
#endif
    // Whatever is left in the steering rings goes back to its pool.
    for (auto& r : sh.rings) {
      if (!r) continue;
      rte_mbuf* m;
      while (r->pop(m)) rte_pktmbuf_free(m);
    }
  }

  if (port_started) {
    stop_port(plan);
  } else if (rte_eth_dev_is_valid_port(plan.port)) {
    rte_eth_dev_close(plan.port);
  }
  owned.clear();
  // Leak check: with the ports closed (RX rings returned), the rings drained
  // and every Stack gone, no mbuf may be outstanding.
  for (rte_mempool* mp : pools) {
    if (exit_code == kExitOk) {
      std::printf("shardtcp: mempool %s: mbufs in use %u of %u after shutdown\n", mp->name,
                  rte_mempool_in_use_count(mp), mp->size);
    }
    rte_mempool_free(mp);
  }
  for (rte_mempool* mp : pmd_pools) {
    if (exit_code == kExitOk) {
      std::printf(
          "shardtcp: mempool %s (%s rx): %u of %u mbufs still held by the PMD after close "
          "(its fill and completion rings; %s does not return them)\n",
          mp->name, plan.driver.c_str(), rte_mempool_in_use_count(mp), mp->size, rte_version());
    }
    rte_mempool_free(mp);
  }
  rte_eal_cleanup();
  std::fflush(stdout);
  return exit_code;
}

}  // namespace shardtcp::dataplane
