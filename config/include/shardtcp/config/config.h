// The shardtcp config file (TOML) parsed into plain structs and validated in
// full before anything starts. Every key is documented in README.md.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "shardtcp/tcp/config.h"

namespace shardtcp::config {

struct EalConfig {
  std::vector<std::string> args;  // extra EAL args, e.g. "--no-huge", "-m", "512"
  std::vector<std::string> vdevs; // e.g. "net_af_packet0,iface=veth0", "net_tap0"
  std::string lcores;             // EAL -l list, e.g. "0" or "0-1"
  bool no_huge = false;           // force --no-huge
  std::string file_prefix = "shardtcp";  // --file-prefix (several processes on one host)
};

struct PortConfig {
  std::uint16_t port_id = 0;   // DPDK port index
  std::uint16_t rx_desc = 1024;
  std::uint16_t tx_desc = 1024;
  std::uint16_t mtu = 1500;
  bool promiscuous = false;
};

struct NetConfig {
  std::uint32_t address = 0;  // host byte order
  std::uint8_t prefix_len = 24;
  std::uint32_t gateway = 0;  // 0 = none
  std::uint32_t arp_max_entries = 1024;
  std::uint32_t arp_timeout_s = 300;
};

struct MempoolConfig {
  std::uint32_t mbufs = 16383;       // per core
  std::uint32_t cache_size = 256;
  std::uint16_t data_room = 2176;    // RTE_MBUF_DEFAULT_BUF_SIZE
};

struct MetricsConfig {
  bool enabled = true;
  std::string listen = "127.0.0.1:9100";
};

struct AppConfig {
  std::vector<std::uint16_t> listen_ports = {80};
  // Test mode: never close a connection after the peer's FIN (holds CLOSE-WAIT).
  bool hold_close_wait = false;
};

struct Config {
  EalConfig eal;
  std::vector<PortConfig> ports = {PortConfig{}};
  NetConfig net;
  MempoolConfig mempool;
  tcp::TcpConfig tcp;
  MetricsConfig metrics;
  AppConfig app;
  std::uint32_t lcores_count = 1;  // derived from eal.lcores
};

// Thrown by load(): what() is one line naming the key and the reason,
// e.g. "tcp.msl_ms: must be between 1 and 600000 (got 0)".
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parse + validate. Throws ConfigError.
Config load_file(const std::string& path);
Config load_string(const std::string& toml_text, const std::string& source_name = "<string>");

}  // namespace shardtcp::config
