// start_metrics()/stop_metrics(): binds MetricsExporter to a running DPDK
// dataplane. Everything here runs on exporter threads at scrape time and
// only reads: PMD statistics, mempool counts, the per-core counters.
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mempool.h>

#include <memory>
#include <string>

#include "shardtcp/dataplane/metrics.h"
#include "shardtcp/dataplane/runtime.h"

// Set from project(VERSION) by dataplane/CMakeLists.txt.
#ifndef SHARDTCP_VERSION
#define SHARDTCP_VERSION "0.0.0"
#endif

namespace shardtcp::dataplane {
namespace {

std::unique_ptr<MetricsExporter> g_exporter;

PortStats read_port(const RuntimeInfo& info) {
  PortStats p;
  p.port_id = info.port_id;
  p.driver = info.driver;
  rte_eth_stats st{};
  if (rte_eth_stats_get(info.port_id, &st) == 0) {
    p.rx_packets = st.ipackets;
    p.tx_packets = st.opackets;
    p.rx_bytes = st.ibytes;
    p.tx_bytes = st.obytes;
    p.rx_errors = st.ierrors;
    p.tx_errors = st.oerrors;
    p.rx_missed = st.imissed;
    p.rx_nombuf = st.rx_nombuf;
    // Per-queue counters exist for the first RTE_ETHDEV_QUEUE_STAT_CNTRS queues.
    for (std::uint16_t q = 0; q < info.rx_queues && q < RTE_ETHDEV_QUEUE_STAT_CNTRS; ++q) {
      p.rx_queues.push_back({q, st.q_ipackets[q], st.q_ibytes[q], st.q_errors[q]});
    }
    for (std::uint16_t q = 0; q < info.tx_queues && q < RTE_ETHDEV_QUEUE_STAT_CNTRS; ++q) {
      p.tx_queues.push_back({q, st.q_opackets[q], st.q_obytes[q], 0});
    }
  }
  rte_eth_link link{};
  if (rte_eth_link_get_nowait(info.port_id, &link) == 0) {
    p.link_up = link.link_status == RTE_ETH_LINK_UP;
    p.link_speed_mbps = link.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN ? 0 : link.link_speed;
  }
  return p;
}

}  // namespace

std::string start_metrics(const config::Config& cfg, const RuntimeInfo& info) {
  std::vector<CoreSource> cores;
  MetricsHooks hooks;
  for (const CoreView& c : info.cores) {
    cores.push_back(CoreSource{c.index, c.tcp, c.dp});
    const int cpu = static_cast<int>(rte_lcore_to_cpu_id(static_cast<int>(c.lcore)));
    if (cpu >= 0) hooks.avoid_cpus.push_back(static_cast<unsigned>(cpu));
  }
  // `info` outlives the exporter (runtime.h: valid until stop_metrics()).
  hooks.port_stats = [&info] { return std::vector<PortStats>{read_port(info)}; };
  hooks.mempool_stats = [&info] {
    std::vector<MempoolStats> pools;
    for (const CoreView& c : info.cores) {
      if (c.pool == nullptr) continue;
      pools.push_back(MempoolStats{c.pool->name, rte_mempool_in_use_count(c.pool),
                                   rte_mempool_avail_count(c.pool)});
    }
    return pools;
  };
  // The Stacks' clock (RuntimeInfo::now_us); empty -> the CLOSE-WAIT age
  // family is left out rather than exported wrong.
  hooks.now_us = info.now_us;
  hooks.app_counters = info.app_counters;
  hooks.version = SHARDTCP_VERSION;
  hooks.dpdk_version = dpdk_version();

  g_exporter = std::make_unique<MetricsExporter>(cfg.metrics, std::move(cores), std::move(hooks));
  g_exporter->start();  // throws std::runtime_error (one line) if it cannot bind
  return g_exporter->url();
}

void stop_metrics() { g_exporter.reset(); }

}  // namespace shardtcp::dataplane
