// Port bring-up that works for any PMD: capabilities come from dev_info and
// every feature (RSS, checksum offloads, descriptor counts, MTU) is chosen
// once here, never per packet.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "shardtcp/config/config.h"

struct rte_mempool;

namespace shardtcp::dataplane {

// What the receive and transmit paths do per packet, chosen once by
// configure_port() and copied whole into the cores' read-only Shared state.
struct PortFeatures {
  bool sw_steering = false;  // cores > 1: owner checked per TCP packet, steered if needed
  bool rx_rss_hash = false;  // mbuf->hash.rss carries the symmetric Toeplitz hash
  bool rx_ip_cksum = false, rx_tcp_cksum = false;
  bool tx_ip_cksum = false, tx_tcp_cksum = false;
};

struct PortPlan {
  std::uint16_t port = 0;
  std::string driver;
  std::uint16_t nb_rxq = 0, nb_txq = 0;
  std::uint16_t rx_desc = 0, tx_desc = 0;
  bool hw_rss = false;
  PortFeatures features;
  std::uint8_t mac[6] = {};
};

// Result of a start-up step: ok, or an exit code with a one-line message.
struct Status {
  int code = 0;  // 0 ok, else process exit code (1 runtime, 2 config)
  std::string message;
  bool ok() const { return code == 0; }
};

// Queries the device and configures it with `cores` queue pairs (fewer RX
// queues when the PMD has fewer; software steering then covers the rest).
Status configure_port(const config::Config& cfg, unsigned cores, PortPlan& plan);
// Minimum mbufs per core pool for this plan (checked against the config).
std::uint32_t required_mbufs(const config::Config& cfg, unsigned cores, const PortPlan& plan,
                             std::string* breakdown);
// Sets up queue q with pools[q], starts the port, waits briefly for link.
Status start_port(const config::Config& cfg, PortPlan& plan,
                  const std::vector<rte_mempool*>& pools);
void stop_port(const PortPlan& plan);

}  // namespace shardtcp::dataplane
