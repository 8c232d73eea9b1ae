#include "port.h"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mempool.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "core.h"
#include "net_util.h"

namespace shardtcp::dataplane {

namespace {

std::string err(int rc) { return rte_strerror(rc < 0 ? -rc : rc); }

// RSS over IPv4 + TCP ports; the key must outlive the configure call.
std::uint8_t g_rss_key[kSymmetricRssKeyLen];

}  // namespace

Status configure_port(const config::Config& cfg, unsigned cores, PortPlan& plan) {
  const config::PortConfig& pc = cfg.ports.at(0);
  plan.port = pc.port_id;
  if (!rte_eth_dev_is_valid_port(pc.port_id)) {
    std::string vdevs;
    for (const std::string& v : cfg.eal.vdevs) vdevs += (vdevs.empty() ? "" : ", ") + v;
    return {2, "ports[0].port_id: no DPDK port " + std::to_string(pc.port_id) + " (" +
                   std::to_string(rte_eth_dev_count_avail()) + " available; eal.vdevs [" + vdevs +
                   "]: did the device probe fail, e.g. no such interface in this network "
                   "namespace?)"};
  }
  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(plan.port, &info); rc != 0) {
    return {1, "port " + std::to_string(plan.port) + ": dev_info_get failed: " + err(rc)};
  }
  plan.driver = info.driver_name != nullptr ? info.driver_name : "?";

  plan.nb_rxq = static_cast<std::uint16_t>(std::min<unsigned>(cores, info.max_rx_queues));
  plan.nb_txq = static_cast<std::uint16_t>(std::min<unsigned>(cores, info.max_tx_queues));
  if (plan.nb_txq < cores) {
    return {2, "eal.lcores: " + std::to_string(cores) + " cores need " + std::to_string(cores) +
                   " TX queues but port " + std::to_string(plan.port) + " (" + plan.driver +
                   ") has " + std::to_string(info.max_tx_queues) +
                   " (net_af_packet: add qpairs=N to the vdev)"};
  }

  rte_eth_conf conf{};
  // RSS needs one RX queue per core and a PMD that hashes IPv4/TCP.
  const std::uint64_t rss_hf =
      (RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP) & info.flow_type_rss_offloads;
  plan.hw_rss = cores > 1 && plan.nb_rxq == cores &&
                (info.flow_type_rss_offloads & RTE_ETH_RSS_NONFRAG_IPV4_TCP) != 0;
  // Every multi-core setup checks each TCP packet's owner: a PMD may accept
  // the RSS config yet spread flows its own way (net_tap: kernel flow hash;
  // net_af_packet: PACKET_FANOUT_HASH). With working RSS the check costs one
  // read of the NIC's hash (RSS_HASH offload) and never steers.
  plan.features.sw_steering = cores > 1;
  if (plan.hw_rss && (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_RSS_HASH) != 0) {
    plan.features.rx_rss_hash = true;
    conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_RSS_HASH;
  }
  if (plan.hw_rss) {
    std::memcpy(g_rss_key, kSymmetricRssKey, kSymmetricRssKeyLen);
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_key = g_rss_key;
    conf.rx_adv_conf.rss_conf.rss_key_len =
        info.hash_key_size != 0 ? std::min<std::uint8_t>(info.hash_key_size, kSymmetricRssKeyLen)
                                : 40;
    conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
  }
  // Checksum offloads only when the PMD says so; software otherwise.
  plan.features.rx_ip_cksum = (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) != 0;
  plan.features.rx_tcp_cksum = (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TCP_CKSUM) != 0;
  plan.features.tx_ip_cksum = (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0;
  plan.features.tx_tcp_cksum = (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) != 0;
  if (plan.features.rx_ip_cksum) conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
  if (plan.features.rx_tcp_cksum) conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
  if (plan.features.tx_ip_cksum) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
  if (plan.features.tx_tcp_cksum) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
  if (info.max_mtu >= pc.mtu && info.min_mtu <= pc.mtu) conf.rxmode.mtu = pc.mtu;

  if (int rc = rte_eth_dev_configure(plan.port, plan.nb_rxq, plan.nb_txq, &conf); rc != 0) {
    return {1, "port " + std::to_string(plan.port) + ": configure failed: " + err(rc)};
  }
  plan.rx_desc = pc.rx_desc;
  plan.tx_desc = pc.tx_desc;
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(plan.port, &plan.rx_desc, &plan.tx_desc); rc != 0) {
    return {1, "port " + std::to_string(plan.port) + ": descriptor adjust failed: " + err(rc)};
  }
  if (plan.hw_rss && info.reta_size != 0) {
    // Queue of a flow = reta[hash % reta_size] = (hash % reta_size) % cores:
    // owner_core() computes the same, so active opens can target a core.
    constexpr std::size_t kGroup = RTE_ETH_RETA_GROUP_SIZE;  // 64 entries per group
    std::vector<rte_eth_rss_reta_entry64> reta((std::size_t{info.reta_size} + kGroup - 1) / kGroup);
    for (unsigned i = 0; i < info.reta_size; ++i) {
      auto& g = reta[i / RTE_ETH_RETA_GROUP_SIZE];
      g.mask |= 1ull << (i % RTE_ETH_RETA_GROUP_SIZE);
      g.reta[i % RTE_ETH_RETA_GROUP_SIZE] = static_cast<std::uint16_t>(i % plan.nb_rxq);
    }
    if (rte_eth_dev_rss_reta_update(plan.port, reta.data(), info.reta_size) == 0) {
      set_reta_size(info.reta_size);
    }
  }
  rte_ether_addr mac{};
  rte_eth_macaddr_get(plan.port, &mac);
  std::memcpy(plan.mac, mac.addr_bytes, 6);
  return {};
}

std::uint32_t required_mbufs(const config::Config& cfg, unsigned cores, const PortPlan& plan,
                             std::string* breakdown) {
  // Everything that can hold one of this core's mbufs at the same time:
  // its RX ring (filled at start) and TX ring, a burst in hand and the tx
  // batch, packets it steered that sit in other cores' rings, packets waiting
  // for ARP, and every lcore's mempool cache (up to 1.5 x cache_size each).
  // Received payload is handed to the engine zero-copy and freed when
  // input() returns, and transmit payload lives in the engine's send buffer,
  // so connections hold no mbufs: the per-connection term is zero.
  const std::uint32_t rings = plan.rx_desc + plan.tx_desc;
  const std::uint32_t bursts = kRxBurst + kTxBurst;
  const std::uint32_t steer = (cores - 1) * kSteerRingSize;
  const std::uint32_t caches = cores * (cfg.mempool.cache_size * 3 / 2);
  const std::uint32_t arp = kMaxPendingTotal;
  if (breakdown != nullptr) {
    *breakdown = "rx_desc " + std::to_string(plan.rx_desc) + " + tx_desc " +
                 std::to_string(plan.tx_desc) + " + bursts " + std::to_string(bursts) +
                 " + steering rings " + std::to_string(steer) + " + mempool caches " +
                 std::to_string(caches) + " + arp queue " + std::to_string(arp) +
                 " + per-connection 0";
  }
  return rings + bursts + steer + caches + arp;
}

Status start_port(const config::Config& cfg, PortPlan& plan,
                  const std::vector<rte_mempool*>& pools) {
  rte_eth_dev_info info{};
  rte_eth_dev_info_get(plan.port, &info);
  const int socket = rte_eth_dev_socket_id(plan.port);
  const unsigned sock = socket < 0 ? 0u : static_cast<unsigned>(socket);
  for (std::uint16_t q = 0; q < plan.nb_rxq; ++q) {
    rte_eth_rxconf rxc = info.default_rxconf;
    rxc.offloads = (plan.features.rx_ip_cksum ? RTE_ETH_RX_OFFLOAD_IPV4_CKSUM : 0) |
                   (plan.features.rx_tcp_cksum ? RTE_ETH_RX_OFFLOAD_TCP_CKSUM : 0) |
                   (plan.features.rx_rss_hash ? RTE_ETH_RX_OFFLOAD_RSS_HASH : 0);
    if (int rc = rte_eth_rx_queue_setup(plan.port, q, plan.rx_desc, sock, &rxc, pools[q]);
        rc != 0) {
      return {1, "port " + std::to_string(plan.port) + ": rx queue " + std::to_string(q) +
                     " setup failed: " + err(rc)};
    }
  }
  for (std::uint16_t q = 0; q < plan.nb_txq; ++q) {
    rte_eth_txconf txc = info.default_txconf;
    txc.offloads = (plan.features.tx_ip_cksum ? RTE_ETH_TX_OFFLOAD_IPV4_CKSUM : 0) |
                   (plan.features.tx_tcp_cksum ? RTE_ETH_TX_OFFLOAD_TCP_CKSUM : 0);
    if (int rc = rte_eth_tx_queue_setup(plan.port, q, plan.tx_desc, sock, &txc); rc != 0) {
      return {1, "port " + std::to_string(plan.port) + ": tx queue " + std::to_string(q) +
                     " setup failed: " + err(rc)};
    }
  }
  if (int rc = rte_eth_dev_start(plan.port); rc != 0) {
    return {1, "port " + std::to_string(plan.port) + ": start failed: " + err(rc)};
  }
  if (cfg.ports[0].promiscuous) rte_eth_promiscuous_enable(plan.port);
  // Link: wait up to 3 s for it to come up (veth / tap report at once).
  rte_eth_link link{};
  for (int i = 0; i < 30; ++i) {
    rte_eth_link_get_nowait(plan.port, &link);
    if (link.link_status == RTE_ETH_LINK_UP) break;
    rte_delay_ms(100);
  }
  if (link.link_status == RTE_ETH_LINK_UP) {
    std::printf("shardtcp: port %u: link up, %u Mbps, %s-duplex\n", plan.port, link.link_speed,
                link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX ? "full" : "half");
  } else {
    std::printf("shardtcp: port %u: link down (continuing; packets flow once it is up)\n",
                plan.port);
  }
  return {};
}

void stop_port(const PortPlan& plan) {
  rte_eth_dev_stop(plan.port);
  rte_eth_dev_close(plan.port);
}

}  // namespace shardtcp::dataplane
