// Config parsing: every key reaches its struct field, defaults hold, the
// shipped files parse, overrides and helpers behave.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "shardtcp/config/config.h"

namespace shardtcp::config {
namespace {

using tcp::kUsPerMs;
using tcp::kUsPerSec;

constexpr std::uint32_t ip(unsigned a, unsigned b, unsigned c, unsigned d) {
  return (a << 24) | (b << 16) | (c << 8) | d;
}

std::string read(const std::string& rel) {
  std::ifstream in(std::string(SHARDTCP_SOURCE_DIR) + "/" + rel);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const char* const kMinimal = "[net]\naddress = \"198.18.0.1/24\"\n";

Config defaults_with_address() {
  Config c;
  c.net.address = ip(198, 18, 0, 1);
  return c;
}

TEST(ConfigLoad, MinimalFileGivesStructDefaults) {
  const Config c = load_string(kMinimal);
  EXPECT_EQ(to_toml(c), to_toml(defaults_with_address()));
  EXPECT_EQ(c.net.address, ip(198, 18, 0, 1));
  EXPECT_EQ(c.net.prefix_len, 24);
  EXPECT_EQ(c.eal.lcores, "0");
  EXPECT_EQ(c.lcores_count, 1u);
  ASSERT_EQ(c.ports.size(), 1u);
  EXPECT_EQ(c.ports[0].mtu, 1500);
  EXPECT_EQ(c.tcp.msl, 30 * kUsPerSec);
  EXPECT_EQ(c.tcp.congestion_control, tcp::CongestionControl::kCubic);
  EXPECT_EQ(c.metrics.listen, "127.0.0.1:9100");
  EXPECT_EQ(c.metrics.request_timeout_ms, 5000u);
  EXPECT_EQ(c.metrics.max_connections, 64u);
  EXPECT_EQ(c.metrics.max_request_bytes, 8192u);
  EXPECT_EQ(c.app.listen_ports, std::vector<std::uint16_t>{80});
}

// Every key set to a value different from its default.
const char* const kEveryKey = R"(
[eal]
vdevs = ["net_af_packet0,iface=veth9", "net_tap0"]
lcores = "0-1,3"
args = ["--no-pci", "-m", "512"]
no_huge = true
file_prefix = "p1"

[[port]]
port_id = 1
rx_desc = 512
tx_desc = 256
mtu = 9000
promiscuous = true

[[port]]
port_id = 2
mtu = 9000

[net]
address = "198.19.4.10/16"
gateway = "198.19.0.1"
arp_max_entries = 77
arp_timeout_s = 60

[mempool]
mbufs = 65535
cache_size = 128
data_room = 10240

[tcp]
msl_ms = 1000
fin_wait2_timeout_ms = 2000
rto_initial_ms = 300
rto_min_ms = 100
rto_max_ms = 5000
delayed_ack_ms = 10
syn_rcvd_timeout_ms = 7000
syn_retries = 3
max_retries = 4
mss = 8960
min_mss = 536
rcv_buf = 65536
snd_buf = 131072
mem_budget_mb = 64
max_connections = 1000
time_wait_capacity = 500
syn_backlog = 64
accept_backlog = 32
syn_cookies = false
window_scaling = false
timestamps = false
sack = false
ecn = "on"
mtu_probing = true
rack = false
tlp = false
nagle = true
keepalive = true
keepalive_idle_s = 60
keepalive_interval_s = 5
keepalive_probes = 3
challenge_ack_limit = 10
invalid_ratelimit_ms = 250
evict_idle_on_full = false
time_wait_reuse = false
congestion_control = "newreno"
initial_window_segments = 4
isn_secret = "00112233445566778899aabbccddeeff"

[metrics]
enabled = false
listen = "[::1]:9200"
request_timeout_ms = 2500
max_connections = 16
max_request_bytes = 4096

[app]
listen_ports = [8080, 443]
hold_close_wait = true
header_timeout_ms = 1500
keepalive_timeout_ms = 2500
send_timeout_ms = 0
idle_timeout_ms = 3500

[impair]
seed = 42
queue_frames = 512
rx_loss_pct = 5
rx_burst_enter_pct = 0.5
rx_burst_exit_pct = 25.0
rx_burst_loss_pct = 80
rx_duplicate_pct = 1.25
rx_reorder_pct = 25
rx_reorder_us = 2000
rx_corrupt_pct = 0.0001
rx_delay_us = 50000
rx_jitter_us = 10000
tx_loss_pct = 10
tx_burst_enter_pct = 0
tx_burst_exit_pct = 0
tx_burst_loss_pct = 100
tx_duplicate_pct = 2
tx_reorder_pct = 0
tx_reorder_us = 1
tx_corrupt_pct = 3
tx_delay_us = 7
tx_jitter_us = 7
)";

TEST(ConfigLoad, EveryKeyReachesItsField) {
  const Config c = load_string(kEveryKey);
  EXPECT_EQ(c.eal.vdevs, (std::vector<std::string>{"net_af_packet0,iface=veth9", "net_tap0"}));
  EXPECT_EQ(c.eal.lcores, "0-1,3");
  EXPECT_EQ(c.lcores_count, 3u);
  EXPECT_EQ(c.eal.args, (std::vector<std::string>{"--no-pci", "-m", "512"}));
  EXPECT_TRUE(c.eal.no_huge);
  EXPECT_EQ(c.eal.file_prefix, "p1");

  ASSERT_EQ(c.ports.size(), 2u);
  EXPECT_EQ(c.ports[0].port_id, 1);
  EXPECT_EQ(c.ports[0].rx_desc, 512);
  EXPECT_EQ(c.ports[0].tx_desc, 256);
  EXPECT_EQ(c.ports[0].mtu, 9000);
  EXPECT_TRUE(c.ports[0].promiscuous);
  EXPECT_EQ(c.ports[1].port_id, 2);
  EXPECT_EQ(c.ports[1].rx_desc, 1024);  // defaults per [[port]]

  EXPECT_EQ(c.net.address, ip(198, 19, 4, 10));
  EXPECT_EQ(c.net.prefix_len, 16);
  EXPECT_EQ(c.net.gateway, ip(198, 19, 0, 1));
  EXPECT_EQ(c.net.arp_max_entries, 77u);
  EXPECT_EQ(c.net.arp_timeout_s, 60u);

  EXPECT_EQ(c.mempool.mbufs, 65535u);
  EXPECT_EQ(c.mempool.cache_size, 128u);
  EXPECT_EQ(c.mempool.data_room, 10240);

  const auto& t = c.tcp;
  EXPECT_EQ(t.msl, 1000 * kUsPerMs);
  EXPECT_EQ(t.fin_wait2_timeout, 2000 * kUsPerMs);
  EXPECT_EQ(t.rto_initial, 300 * kUsPerMs);
  EXPECT_EQ(t.rto_min, 100 * kUsPerMs);
  EXPECT_EQ(t.rto_max, 5000 * kUsPerMs);
  EXPECT_EQ(t.delayed_ack, 10 * kUsPerMs);
  EXPECT_EQ(t.syn_rcvd_timeout, 7000 * kUsPerMs);
  EXPECT_EQ(t.syn_retries, 3u);
  EXPECT_EQ(t.max_retries, 4u);
  EXPECT_EQ(t.mss, 8960);
  EXPECT_EQ(t.min_mss, 536);
  EXPECT_EQ(t.rcv_buf, 65536u);
  EXPECT_EQ(t.snd_buf, 131072u);
  EXPECT_EQ(t.mem_budget_mb, 64u);
  EXPECT_EQ(t.mem_budget, 64u << 20);  // what the engine enforces, in bytes
  EXPECT_EQ(t.max_connections, 1000u);
  EXPECT_EQ(t.time_wait_capacity, 500u);
  EXPECT_EQ(t.syn_backlog, 64u);
  EXPECT_EQ(t.accept_backlog, 32u);
  EXPECT_FALSE(t.syn_cookies);
  EXPECT_FALSE(t.window_scaling);
  EXPECT_FALSE(t.timestamps);
  EXPECT_FALSE(t.rack);
  EXPECT_FALSE(t.tlp);
  EXPECT_FALSE(t.sack);
  EXPECT_TRUE(t.nagle);
  EXPECT_TRUE(t.keepalive);
  EXPECT_EQ(t.keepalive_idle, 60 * kUsPerSec);
  EXPECT_EQ(t.keepalive_interval, 5 * kUsPerSec);
  EXPECT_EQ(t.keepalive_probes, 3u);
  EXPECT_EQ(t.challenge_ack_limit, 10u);
  EXPECT_EQ(t.invalid_ratelimit, 250 * kUsPerMs);
  EXPECT_FALSE(t.evict_idle_on_full);
  EXPECT_FALSE(t.time_wait_reuse);
  EXPECT_EQ(t.congestion_control, tcp::CongestionControl::kNewReno);
  EXPECT_EQ(t.ecn, tcp::EcnMode::kOn);
  EXPECT_TRUE(t.mtu_probing);
  EXPECT_EQ(t.initial_window_segments, 4u);
  EXPECT_EQ(t.isn_secret[0], 0x0011223344556677ull);
  EXPECT_EQ(t.isn_secret[1], 0x8899aabbccddeeffull);

  EXPECT_FALSE(c.metrics.enabled);
  EXPECT_EQ(c.metrics.listen, "[::1]:9200");
  EXPECT_EQ(c.metrics.request_timeout_ms, 2500u);
  EXPECT_EQ(c.metrics.max_connections, 16u);
  EXPECT_EQ(c.metrics.max_request_bytes, 4096u);
  EXPECT_EQ(c.app.listen_ports, (std::vector<std::uint16_t>{8080, 443}));
  EXPECT_TRUE(c.app.hold_close_wait);
  EXPECT_EQ(c.app.header_timeout, 1500 * tcp::kUsPerMs);
  EXPECT_EQ(c.app.keepalive_timeout, 2500 * tcp::kUsPerMs);
  EXPECT_EQ(c.app.send_timeout, 0u);
  EXPECT_EQ(c.app.idle_timeout, 3500 * tcp::kUsPerMs);
  // [impair]: percent kept as parts per million.
  EXPECT_EQ(c.impair.seed, 42u);
  EXPECT_EQ(c.impair.queue_frames, 512u);
  EXPECT_EQ(c.impair.rx.loss_ppm, 50000u);
  EXPECT_EQ(c.impair.rx.burst_enter_ppm, 5000u);
  EXPECT_EQ(c.impair.rx.burst_exit_ppm, 250000u);
  EXPECT_EQ(c.impair.rx.burst_loss_ppm, 800000u);
  EXPECT_EQ(c.impair.rx.duplicate_ppm, 12500u);
  EXPECT_EQ(c.impair.rx.reorder_ppm, 250000u);
  EXPECT_EQ(c.impair.rx.reorder_us, 2000u);
  EXPECT_EQ(c.impair.rx.corrupt_ppm, 1u);
  EXPECT_EQ(c.impair.rx.delay_us, 50000u);
  EXPECT_EQ(c.impair.rx.jitter_us, 10000u);
  EXPECT_EQ(c.impair.tx.loss_ppm, 100000u);
  EXPECT_EQ(c.impair.tx.duplicate_ppm, 20000u);
  EXPECT_EQ(c.impair.tx.corrupt_ppm, 30000u);
  EXPECT_EQ(c.impair.tx.reorder_us, 1u);
  EXPECT_EQ(c.impair.tx.delay_us, 7u);
  EXPECT_EQ(c.impair.tx.jitter_us, 7u);
  EXPECT_TRUE(c.impair.rx.active());
  EXPECT_TRUE(c.impair.tx.active());
}

TEST(ConfigImpair, OffByDefaultAndSetByOverride) {
  Config c = load_string(kMinimal);
  EXPECT_FALSE(c.impair.rx.active());
  EXPECT_FALSE(c.impair.tx.active());
  apply_override(c, "impair.rx_loss_pct=5");
  apply_override(c, "impair.tx_corrupt_pct", "0.5");
  EXPECT_EQ(c.impair.rx.loss_ppm, 50000u);
  EXPECT_EQ(c.impair.tx.corrupt_ppm, 5000u);
  EXPECT_TRUE(c.impair.rx.active());
  EXPECT_NE(to_toml(c).find("rx_loss_pct = 5.0\n"), std::string::npos);
  EXPECT_NE(to_toml(c).find("tx_corrupt_pct = 0.5\n"), std::string::npos);
}

TEST(ConfigLoad, EveryKnownKeyIsInTheEveryKeyTest) {
  // Guards the test above: a new schema key must be added to kEveryKey.
  for (const auto& key : known_keys()) {
    const std::string name = key.substr(key.find('.') + 1);
    EXPECT_NE(std::string(kEveryKey).find("\n" + name + " = "), std::string::npos) << key;
  }
}

TEST(ConfigLoad, ToTomlRoundTrips) {
  const Config c = load_string(kEveryKey);
  const std::string once = to_toml(c);
  EXPECT_EQ(to_toml(load_string(once)), once);
}

TEST(ConfigLoad, SinglePortTable) {
  const Config c =
      load_string(std::string(kMinimal) + "[port]\nport_id = 3\nmtu = 1400\n[tcp]\nmss = 1360\n");
  ASSERT_EQ(c.ports.size(), 1u);
  EXPECT_EQ(c.ports[0].port_id, 3);
  EXPECT_EQ(c.ports[0].mtu, 1400);
}

TEST(ConfigLoad, LcoresCountIsDerived) {
  for (const auto& [lcores, n] : std::vector<std::pair<std::string, unsigned>>{
           {"0", 1}, {"0-1", 2}, {"0,1", 2}, {"1,0", 2}, {"0-3,2", 4}, {"2-2", 1}}) {
    const Config c = load_string(std::string(kMinimal) + "[eal]\nlcores = \"" + lcores + "\"\n");
    EXPECT_EQ(c.lcores_count, n) << lcores;
  }
}

TEST(ConfigLoad, GatewayAndPrefixEdges) {
  EXPECT_EQ(load_string("[net]\naddress = \"198.18.0.0/31\"\n").net.prefix_len, 31);
  EXPECT_EQ(load_string("[net]\naddress = \"198.18.0.7/32\"\n").net.prefix_len, 32);
  EXPECT_EQ(load_string("[net]\naddress = \"198.18.0.1/24\"\ngateway = \"\"\n").net.gateway, 0u);
}

TEST(ConfigFiles, ShippedConfigsParse) {
  const Config httpd = load_file(std::string(SHARDTCP_SOURCE_DIR) + "/config/httpd.toml");
  EXPECT_EQ(httpd.eal.vdevs, std::vector<std::string>{"net_af_packet0,iface=stcp-dp0"});
  EXPECT_EQ(httpd.net.address, ip(198, 18, 0, 1));
  EXPECT_EQ(httpd.net.prefix_len, 24);
  EXPECT_EQ(httpd.app.listen_ports, std::vector<std::uint16_t>{80});
  EXPECT_EQ(httpd.metrics.listen, "127.0.0.1:9100");
  EXPECT_TRUE(httpd.metrics.enabled);

  const Config echo = load_file(std::string(SHARDTCP_SOURCE_DIR) + "/config/echo.toml");
  EXPECT_EQ(echo.app.listen_ports, std::vector<std::uint16_t>{7});
}

TEST(ConfigFiles, ExampleFullHasEveryKeyAtItsDefault) {
  const std::string text = read("config/example-full.toml");
  const Config c = load_string(text, "example-full.toml");
  EXPECT_EQ(to_toml(c), to_toml(defaults_with_address()));
  for (const auto& key : known_keys()) {
    const std::string name = key.substr(key.find('.') + 1);
    EXPECT_NE(text.find("\n" + name + " = "), std::string::npos) << key;
  }
}

TEST(ConfigFiles, ReferenceTableHasEveryKey) {
  // The lead merges config/README.config.md into README.md; check wherever the
  // table lives.
  std::string md = read("README.md");
  if (md.find("| `tcp.msl_ms` |") == std::string::npos) md = read("config/README.config.md");
  for (const auto& key : known_keys()) {
    EXPECT_NE(md.find("| `" + key + "` |"), std::string::npos) << key;
  }
}

TEST(ConfigFiles, MissingFileIsOneLine) {
  try {
    load_file("/nonexistent/shardtcp.toml");
    FAIL() << "no throw";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/shardtcp.toml: cannot open: No such file or directory");
  }
}

TEST(ConfigOverride, AppliesTypedValues) {
  Config c = load_string(kMinimal);
  apply_override(c, "tcp.msl_ms", "1000");
  EXPECT_EQ(c.tcp.msl, 1000 * kUsPerMs);
  apply_override(c, "tcp.sack=false");
  EXPECT_FALSE(c.tcp.sack);
  apply_override(c, "net.address", "198.18.1.1/24");  // bare word = string
  EXPECT_EQ(c.net.address, ip(198, 18, 1, 1));
  apply_override(c, "tcp.congestion_control", "newreno");
  EXPECT_EQ(c.tcp.congestion_control, tcp::CongestionControl::kNewReno);
  EXPECT_EQ(c.tcp.ecn, tcp::EcnMode::kPassive);  // Linux's default for incoming connections
  apply_override(c, "tcp.ecn", "on");
  EXPECT_EQ(c.tcp.ecn, tcp::EcnMode::kOn);
  apply_override(c, "tcp.mtu_probing", "true");
  EXPECT_TRUE(c.tcp.mtu_probing);
  apply_override(c, "eal.vdevs", "net_tap0");  // one value where a list is expected
  EXPECT_EQ(c.eal.vdevs, std::vector<std::string>{"net_tap0"});
  apply_override(c, "eal.vdevs", R"(["net_tap0", "net_tap1"])");
  EXPECT_EQ(c.eal.vdevs.size(), 2u);
  apply_override(c, "app.listen_ports", "8080");
  EXPECT_EQ(c.app.listen_ports, std::vector<std::uint16_t>{8080});
  apply_override(c, "app.listen_ports", "[1, 2]");
  EXPECT_EQ(c.app.listen_ports, (std::vector<std::uint16_t>{1, 2}));
  apply_override(c, "eal.file_prefix", "123");  // digits, still a string key
  EXPECT_EQ(c.eal.file_prefix, "123");
  apply_override(c, "eal.lcores", "0-1");
  EXPECT_EQ(c.lcores_count, 2u);
  apply_override(c, "tcp.mss", "1360");
  apply_override(c, "port.mtu", "1400");
  EXPECT_EQ(c.ports[0].mtu, 1400);
  apply_override(c, "port[0].rx_desc", "128");
  EXPECT_EQ(c.ports[0].rx_desc, 128);
  apply_override(c, "metrics.listen", "127.0.0.1:0");
  EXPECT_EQ(c.metrics.listen, "127.0.0.1:0");
}

void expect_override_error(const std::string& key, const std::string& value,
                           const std::string& message) {
  Config c = load_string(kMinimal);
  const std::string before = to_toml(c);
  try {
    apply_override(c, key, value);
    ADD_FAILURE() << key << "=" << value << ": no throw";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), message) << key << "=" << value;
  }
  EXPECT_EQ(to_toml(c), before) << "config changed by a failed override";
}

TEST(ConfigOverride, ErrorsAreOneLineAndLeaveConfigUnchanged) {
  expect_override_error("tcp.msl_ms", "0", "tcp.msl_ms: must be between 1 and 600000 (got 0)");
  expect_override_error("tcp.foo", "1", "tcp.foo: unknown key");
  expect_override_error("bogus.x", "1", "bogus: unknown section");
  expect_override_error("msl_ms", "1",
                        "msl_ms: unknown key (expected SECTION.KEY, e.g. tcp.msl_ms)");
  expect_override_error("tcp.sack", "yes", "tcp.sack: expected true or false (got string)");
  expect_override_error("tcp.mss", "1500", "tcp.mss: must be <= port.mtu - 40 = 1460 (got 1500)");
  expect_override_error("tcp.rto_min_ms", "5000",
                        "tcp.rto_min_ms: must be <= tcp.rto_initial_ms (5000 > 1000)");
  expect_override_error("port[1].mtu", "1400", "port[1]: no such port (the config has 1)");
  expect_override_error("port.bogus", "1", "port.bogus: unknown key");
  expect_override_error("app.listen_ports", "[80, 80]", "app.listen_ports[1]: duplicate port 80");
  Config c;
  try {
    apply_override(c, "tcp.msl_ms");
    ADD_FAILURE() << "no throw";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "--set tcp.msl_ms: expected KEY=VALUE, e.g. tcp.msl_ms=1000");
  }
}

TEST(ConfigValidate, CodeBuiltConfigGetsTheSameMessages) {
  Config c = defaults_with_address();
  c.eal.lcores = "0-2";
  validate(c);
  EXPECT_EQ(c.lcores_count, 3u);
  c.tcp.msl = 0;
  try {
    validate(c);
    FAIL() << "no throw";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "tcp.msl_ms: must be between 1 and 600000 (got 0)");
  }
  Config no_address;
  EXPECT_THROW(validate(no_address), ConfigError);
}

TEST(ConfigHelpers, ParseIpv4) {
  EXPECT_EQ(parse_ipv4("198.18.0.1"), ip(198, 18, 0, 1));
  EXPECT_EQ(parse_ipv4("0.0.0.0"), 0u);
  EXPECT_EQ(parse_ipv4("255.255.255.255"), 0xffffffffu);
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", "a.b.c.d",
                          "1..2.3", "-1.2.3.4", "+1.2.3.4"}) {
    EXPECT_FALSE(parse_ipv4(bad)) << bad;
  }
  EXPECT_EQ(ipv4_to_string(ip(198, 18, 0, 254)), "198.18.0.254");
}

TEST(ConfigHelpers, ParseLcores) {
  EXPECT_EQ(parse_lcores("3,1-2"), (std::vector<unsigned>{1, 2, 3}));
  for (const char* bad : {"", "a", "1-", "-1", "2-1", "0,,1", "0,", "1024", "0-1024", " 0"}) {
    EXPECT_FALSE(parse_lcores(bad)) << bad;
  }
}

TEST(ConfigHelpers, ParseHostPort) {
  auto hp = parse_host_port("127.0.0.1:9100");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "127.0.0.1");
  EXPECT_EQ(hp->port, 9100);
  hp = parse_host_port("[::1]:80");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "::1");
  EXPECT_TRUE(parse_host_port("localhost:0"));
  for (const char* bad : {"", "9100", ":9100", "127.0.0.1:", "127.0.0.1:65536", "1.2.3:80",
                          "::1:80", "[::1]80", "host name:80", "127.0.0.1:9x"}) {
    EXPECT_FALSE(parse_host_port(bad)) << bad;
  }
}

TEST(ConfigHelpers, EalArguments) {
  const Config c = load_string(kEveryKey);
  EXPECT_EQ(eal_arguments(c, "prog"),
            (std::vector<std::string>{"prog", "-l", "0-1,3", "--file-prefix", "p1", "--vdev",
                                      "net_af_packet0,iface=veth9", "--vdev", "net_tap0",
                                      "--no-huge", "--no-pci", "-m", "512"}));
  Config d = load_string(kMinimal);
  d.eal.file_prefix = "";
  EXPECT_EQ(eal_arguments(d, "p"), (std::vector<std::string>{"p", "-l", "0"}));
}

TEST(ConfigHelpers, DescribeNamesTheEssentials) {
  const std::string d = describe(load_string(kEveryKey));
  EXPECT_NE(d.find("198.19.4.10/16"), std::string::npos) << d;
  EXPECT_NE(d.find("8080 443"), std::string::npos) << d;
  EXPECT_NE(d.find("3 dataplane cores"), std::string::npos) << d;
  EXPECT_NE(d.find("payload memory 64 MB/core"), std::string::npos) << d;
  EXPECT_NE(d.find("metrics: off"), std::string::npos) << d;
  EXPECT_NE(d.find("hold_close_wait"), std::string::npos) << d;
  EXPECT_NE(d.find("IMPAIRMENT ON (seed 42); rx: loss 5%, bursts 0.5%/25%, dup 1.25%"),
            std::string::npos)
      << d;
  EXPECT_EQ(describe(load_string(kMinimal)).find("IMPAIRMENT"), std::string::npos);
}

TEST(ConfigLoad, MemBudgetZeroIsDerivedFromPhysicalMemory) {
  // tcp.mem_budget_mb = 0: 1/8 of physical memory shared by the cores, at
  // least 16 MB; two cores get half of what one core gets (above the floor).
  const std::uint64_t phys = static_cast<std::uint64_t>(sysconf(_SC_PHYS_PAGES)) *
                             static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  const Config one = load_string("[eal]\nlcores = \"0\"\n[net]\naddress = \"198.18.0.1/24\"\n");
  const Config two = load_string("[eal]\nlcores = \"0-1\"\n[net]\naddress = \"198.18.0.1/24\"\n");
  EXPECT_EQ(one.tcp.mem_budget_mb, 0u);
  EXPECT_EQ(one.tcp.mem_budget, std::max<std::uint64_t>(phys / 8, 16u << 20));
  EXPECT_EQ(two.tcp.mem_budget, std::max<std::uint64_t>(phys / 16, 16u << 20));
}

TEST(ConfigKeys, KnownKeysAreUniqueAndComplete) {
  const auto keys = known_keys();
  const std::set<std::string> unique(keys.begin(), keys.end());
  EXPECT_EQ(unique.size(), keys.size());
  EXPECT_TRUE(unique.count("tcp.msl_ms"));
  EXPECT_TRUE(unique.count("port.mtu"));
  EXPECT_TRUE(unique.count("app.hold_close_wait"));
  EXPECT_EQ(keys.size(), 5u + 5u + 4u + 3u + 33u + 2u + 2u + 4u /* app timeouts */ +
                             3u /* metrics */ + 2u + 2u * 10u /* impair */ +
                             2u /* tcp.ecn, tcp.mtu_probing */ + 1u /* tcp.time_wait_reuse */ +
                             2u /* tcp.rack, tcp.tlp */);
}

}  // namespace
}  // namespace shardtcp::config
