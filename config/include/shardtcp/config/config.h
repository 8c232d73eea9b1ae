// The shardtcp config file (TOML) parsed into plain structs and validated in
// full before anything starts. Every key is documented in README.md.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shardtcp/tcp/config.h"

namespace shardtcp::config {

struct EalConfig {
  std::vector<std::string> args;         // extra EAL args, e.g. "--no-huge", "-m", "512"
  std::vector<std::string> vdevs;        // e.g. "net_af_packet0,iface=veth0", "net_tap0"
  std::string lcores = "0";              // EAL -l list, e.g. "0", "0-1", "0,2"
  bool no_huge = false;                  // force --no-huge
  std::string file_prefix = "shardtcp";  // --file-prefix ("" = not passed)
};

struct PortConfig {
  std::uint16_t port_id = 0;  // DPDK port index
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
  std::uint32_t mbufs = 16383;  // per core
  std::uint32_t cache_size = 256;
  std::uint16_t data_room = 2176;  // RTE_MBUF_DEFAULT_BUF_SIZE
};

struct MetricsConfig {
  bool enabled = true;
  std::string listen = "127.0.0.1:9100";
  // The exporter's HTTP server (issue 9): a client gets this long for a whole
  // request head (from connect or the previous response) and again for taking
  // a response; connections beyond max_connections close the oldest one
  // still waiting for its request; a longer head is answered 431.
  std::uint32_t request_timeout_ms = 5000;
  std::uint32_t max_connections = 64;
  std::uint32_t max_request_bytes = 8192;
};

struct AppConfig {
  std::vector<std::uint16_t> listen_ports = {80};
  // Test mode: never close a connection after the peer's FIN (holds CLOSE-WAIT).
  bool hold_close_wait = false;
  // shardtcp-httpd timeouts (0 = never), nginx's defaults: a complete request
  // head, an idle keep-alive connection, send progress of a response.
  tcp::TimeUs header_timeout = 60 * tcp::kUsPerSec;
  tcp::TimeUs keepalive_timeout = 75 * tcp::kUsPerSec;
  tcp::TimeUs send_timeout = 60 * tcp::kUsPerSec;
  // shardtcp-echo: close a connection with no bytes either way this long (0 = never).
  tcp::TimeUs idle_timeout = 300 * tcp::kUsPerSec;
};

// The impairment stage (issue 15): faults applied to frames between the PMD
// and the core, per direction, for testing on a bad link. Off when every rate
// and delay is 0 (the default). Rates are parts per million (the file says
// percent); times are microseconds.
struct ImpairDirection {
  std::uint32_t loss_ppm = 0;                // independent (Bernoulli) loss
  std::uint32_t burst_enter_ppm = 0;         // Gilbert-Elliott p: good -> bad, per frame
  std::uint32_t burst_exit_ppm = 0;          // Gilbert-Elliott r: bad -> good, per frame
  std::uint32_t burst_loss_ppm = 1'000'000;  // loss while in the bad state
  std::uint32_t duplicate_ppm = 0;
  std::uint32_t reorder_ppm = 0;  // frames held back reorder_us behind later ones
  std::uint32_t reorder_us = 1000;
  std::uint32_t corrupt_ppm = 0;  // one byte of the IP packet changed
  std::uint32_t delay_us = 0;
  std::uint32_t jitter_us = 0;  // delay is uniform in [delay - jitter, delay + jitter]

  bool active() const {
    return loss_ppm != 0 || burst_enter_ppm != 0 || duplicate_ppm != 0 || reorder_ppm != 0 ||
           corrupt_ppm != 0 || delay_us != 0;
  }
};

struct ImpairConfig {
  std::uint64_t seed = 1;             // same seed + same frames = same decisions
  std::uint32_t queue_frames = 1024;  // held (delayed) frames per core and direction
  ImpairDirection rx, tx;
};

struct Config {
  EalConfig eal;
  std::vector<PortConfig> ports = {PortConfig{}};
  NetConfig net;
  MempoolConfig mempool;
  tcp::TcpConfig tcp;
  MetricsConfig metrics;
  AppConfig app;
  ImpairConfig impair;
  std::uint32_t lcores_count = 1;  // derived from eal.lcores
};

// Thrown by load(): what() is one line naming the key and the reason,
// e.g. "tcp.msl_ms: must be between 1 and 600000 (got 0)". A TOML syntax error
// reads "FILE:LINE:COL: description". `where` is "FILE:LINE:COL" of the
// offending value when known (empty otherwise) for callers that want it; it is
// never part of what().
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
  ConfigError(const std::string& msg, std::string location)
      : std::runtime_error(msg), where(std::move(location)) {}
  std::string where;
};

// Parse + validate. Throws ConfigError.
Config load_file(const std::string& path);
Config load_string(const std::string& toml_text, const std::string& source_name = "<string>");

// Applies one `--set KEY=VALUE` override ("tcp.msl_ms", "port.mtu" = first
// port, "port[1].mtu") and revalidates the whole config. VALUE is TOML
// (`1000`, `true`, `["net_tap0"]`); a bare word is taken as a string, and a
// single value is accepted where a list is expected. Throws ConfigError with
// the same one-line messages as load_*(); `cfg` is unchanged on error.
void apply_override(Config& cfg, const std::string& key, const std::string& value);
// Splits "KEY=VALUE" and calls apply_override(). Throws ConfigError.
void apply_override(Config& cfg, const std::string& key_equals_value);

// Cross-field and structural checks (run by load_*() and apply_override();
// call it after changing a Config in code). Also recomputes lcores_count.
void validate(Config& cfg);

// Short human summary (a few lines) printed at start-up.
std::string describe(const Config& cfg);

// The whole config as TOML, every key (round-trips through load_string()).
std::string to_toml(const Config& cfg);

// Every key as "section.key" ("port.mtu" for port keys), in file order.
std::vector<std::string> known_keys();

// EAL argv built from [eal] (argv[0] first): -l, --file-prefix, --vdev...,
// --no-huge, then eal.args verbatim. The dataplane may append more.
std::vector<std::string> eal_arguments(const Config& cfg, const std::string& argv0);

// Helpers shared with the dataplane and apps (host byte order).
std::optional<std::uint32_t> parse_ipv4(std::string_view text);
std::string ipv4_to_string(std::uint32_t addr);
// "0-1,4" -> {0,1,4}; nullopt on bad syntax. Sorted, unique.
std::optional<std::vector<unsigned>> parse_lcores(std::string_view text);
struct HostPort {
  std::string host;  // "127.0.0.1", "localhost", "::1" (brackets removed)
  std::uint16_t port = 0;
};
// "127.0.0.1:9100", "[::1]:9100"; nullopt on bad syntax.
std::optional<HostPort> parse_host_port(std::string_view text);

}  // namespace shardtcp::config
