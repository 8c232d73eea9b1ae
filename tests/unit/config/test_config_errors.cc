// Every class of config error produces exactly one expected line naming the
// key and the reason (issue 2: "a bad key, type or value prints one line").
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "shardtcp/config/config.h"

namespace shardtcp::config {
namespace {

struct Case {
  const char* name;
  std::string toml;  // kAddr is appended unless the case is about [net]
  std::string message;
  bool with_address = true;
};

const std::string kAddr = "[net]\naddress = \"198.18.0.1/24\"\n";

std::string error_of(const std::string& text, const std::string& source = "<string>") {
  try {
    load_string(text, source);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

const std::vector<Case>& cases() {
  static const std::vector<Case> kCases = {
      // Unknown keys and sections, anywhere.
      {"unknown_key", "[tcp]\nfoo = 1\n", "tcp.foo: unknown key"},
      {"unknown_key_reported_before_bad_value", "[tcp]\nmsl_ms = 0\nmls_ms = 5\n",
       "tcp.mls_ms: unknown key"},
      {"unknown_section", "[bogus]\nx = 1\n", "bogus: unknown section"},
      {"unknown_top_level_key", "verbose = true\n", "verbose: unknown key"},
      {"unknown_subtable", "[tcp.extra]\nx = 1\n", "tcp.extra: unknown key"},
      {"unknown_port_key", "[[port]]\nport_id = 0\n[[port]]\nport_id = 1\nmtux = 1\n",
       "port[1].mtux: unknown key"},
      {"unknown_single_port_key", "[port]\nspeed = 1\n", "port.speed: unknown key"},
      {"section_not_a_table", "tcp = 1\n", "tcp: expected a table [tcp] (got integer)"},
      {"port_not_a_table", "port = 1\n",
       "port: expected a table [port] or tables [[port]] (got integer)"},
      {"port_empty_array", "port = []\n", "port: at least one port is required"},
      // Wrong types.
      {"integer_got_string", "[tcp]\nmsl_ms = \"30s\"\n",
       "tcp.msl_ms: expected an integer (got string)"},
      {"integer_got_float", "[tcp]\nmsl_ms = 1.5\n", "tcp.msl_ms: expected an integer (got float)"},
      {"bool_got_integer", "[tcp]\nsack = 1\n", "tcp.sack: expected true or false (got integer)"},
      {"bool_got_string", "[app]\nhold_close_wait = \"yes\"\n",
       "app.hold_close_wait: expected true or false (got string)"},
      {"string_got_integer", "[eal]\nfile_prefix = 1\n",
       "eal.file_prefix: expected a string (got integer)"},
      {"address_got_integer", "[net]\naddress = 3323068417\n",
       "net.address: expected a string like \"198.18.0.1/24\" (got integer)", false},
      {"list_got_string", "[eal]\nvdevs = \"net_tap0\"\n",
       "eal.vdevs: expected an array of strings (got string)"},
      {"list_element_type", "[eal]\nvdevs = [\"net_tap0\", 5]\n",
       "eal.vdevs[1]: expected a string (got integer)"},
      {"ports_got_table", "[app]\nlisten_ports = 80\n",
       "app.listen_ports: expected an array of port numbers like [80] (got integer)"},
      // Out of range.
      {"range_low", "[tcp]\nmsl_ms = 0\n", "tcp.msl_ms: must be between 1 and 600000 (got 0)"},
      {"invalid_ratelimit_range", "[tcp]\ninvalid_ratelimit_ms = 600001\n",
       "tcp.invalid_ratelimit_ms: must be between 0 and 600000 (got 600001)"},
      {"evict_idle_on_full_type", "[tcp]\nevict_idle_on_full = 1\n",
       "tcp.evict_idle_on_full: expected true or false (got integer)"},
      {"range_high", "[tcp]\nmsl_ms = 600001\n",
       "tcp.msl_ms: must be between 1 and 600000 (got 600001)"},
      {"range_negative", "[tcp]\nrcv_buf = -1\n",
       "tcp.rcv_buf: must be between 1024 and 1073741824 (got -1)"},
      {"delayed_ack_rfc_limit", "[tcp]\ndelayed_ack_ms = 500\n",
       "tcp.delayed_ack_ms: must be between 0 and 499 (got 500)"},
      {"mss_low", "[tcp]\nmss = 100\n", "tcp.mss: must be between 536 and 9000 (got 100)"},
      {"header_timeout_high", "[app]\nheader_timeout_ms = 86400001\n",
       "app.header_timeout_ms: must be between 0 and 86400000 (got 86400001)"},
      {"send_timeout_negative", "[app]\nsend_timeout_ms = -1\n",
       "app.send_timeout_ms: must be between 0 and 86400000 (got -1)"},
      {"port_mtu_range", "[port]\nmtu = 100\n", "port.mtu: must be between 576 and 9600 (got 100)"},
      {"cache_size_max", "[mempool]\ncache_size = 513\n",
       "mempool.cache_size: must be between 0 and 512 (got 513)"},
      {"huge_integer", "[tcp]\nmax_connections = 9223372036854775807\n",
       "tcp.max_connections: must be between 1 and 67108864 (got 9223372036854775807)"},
      // Enumerations and structured strings.
      {"congestion_control", "[tcp]\ncongestion_control = \"reno\"\n",
       "tcp.congestion_control: must be one of \"cubic\", \"newreno\" (got \"reno\")"},
      {"ecn", "[tcp]\necn = \"maybe\"\n",
       "tcp.ecn: must be one of \"off\", \"passive\", \"on\" (got \"maybe\")"},
      {"mtu_probing", "[tcp]\nmtu_probing = 1\n",
       "tcp.mtu_probing: expected true or false (got integer)"},
      {"isn_secret", "[tcp]\nisn_secret = \"abc\"\n",
       "tcp.isn_secret: expected 32 hex digits or \"\" (got a string of length 3)"},
      {"lcores_syntax", "[eal]\nlcores = \"0-\"\n",
       "eal.lcores: expected a core list like \"0\", \"0-1\" or \"0,2\" (cores 0..1023) (got "
       "\"0-\")"},
      {"lcores_reversed", "[eal]\nlcores = \"3-1\"\n",
       "eal.lcores: expected a core list like \"0\", \"0-1\" or \"0,2\" (cores 0..1023) (got "
       "\"3-1\")"},
      {"vdev_with_space", "[eal]\nvdevs = [\"net_tap0, iface=x\"]\n",
       "eal.vdevs[0]: expected a vdev like \"net_af_packet0,iface=stcp-dp0\" (got \"net_tap0, "
       "iface=x\")"},
      {"eal_arg_with_own_key", "[eal]\nargs = [\"--no-pci\", \"--vdev=net_tap0\"]\n",
       "eal.args[1]: \"--vdev\" is set by its own key (eal.lcores, eal.vdevs, eal.file_prefix, "
       "eal.no_huge)"},
      {"file_prefix_chars", "[eal]\nfile_prefix = \"a/b\"\n",
       "eal.file_prefix: expected letters, digits, '_' or '-' (at most 64) (got \"a/b\")"},
      {"metrics_listen", "[metrics]\nlisten = \"9100\"\n",
       "metrics.listen: expected \"host:port\" like \"127.0.0.1:9100\" (got \"9100\")"},
      {"metrics_listen_port_range", "[metrics]\nlisten = \"127.0.0.1:70000\"\n",
       "metrics.listen: expected \"host:port\" like \"127.0.0.1:9100\" (got \"127.0.0.1:70000\")"},
      {"metrics_request_timeout_zero", "[metrics]\nrequest_timeout_ms = 0\n",
       "metrics.request_timeout_ms: must be between 100 and 600000 (got 0)"},
      {"metrics_max_connections_zero", "[metrics]\nmax_connections = 0\n",
       "metrics.max_connections: must be between 1 and 4096 (got 0)"},
      {"metrics_max_request_bytes_small", "[metrics]\nmax_request_bytes = 100\n",
       "metrics.max_request_bytes: must be between 512 and 1048576 (got 100)"},
      {"bad_value_is_escaped", "[metrics]\nlisten = \"a\\nb\"\n",
       "metrics.listen: expected \"host:port\" like \"127.0.0.1:9100\" (got \"a\\u000ab\")"},
      // [net]
      {"address_missing", "", "net.address: required, e.g. address = \"198.18.0.1/24\"", false},
      {"address_no_prefix", "[net]\naddress = \"198.18.0.1\"\n",
       "net.address: expected a string like \"198.18.0.1/24\" (got \"198.18.0.1\")", false},
      {"address_bad_ip", "[net]\naddress = \"198.18.0.256/24\"\n",
       "net.address: expected a string like \"198.18.0.1/24\" (got \"198.18.0.256/24\")", false},
      {"prefix_zero", "[net]\naddress = \"198.18.0.1/0\"\n",
       "net.address: prefix must be between 1 and 32 (got 0)", false},
      {"prefix_33", "[net]\naddress = \"198.18.0.1/33\"\n",
       "net.address: prefix must be between 1 and 32 (got 33)", false},
      {"address_zero", "[net]\naddress = \"0.0.0.0/24\"\n", "net.address: must not be 0.0.0.0",
       false},
      {"address_is_network", "[net]\naddress = \"198.18.0.0/24\"\n",
       "net.address: 198.18.0.0 is the network or broadcast address of 198.18.0.0/24", false},
      {"address_is_broadcast", "[net]\naddress = \"198.18.0.255/24\"\n",
       "net.address: 198.18.0.255 is the network or broadcast address of 198.18.0.0/24", false},
      {"gateway_outside_subnet", "[net]\naddress = \"198.18.0.1/24\"\ngateway = \"198.18.1.1\"\n",
       "net.gateway: 198.18.1.1 is not inside 198.18.0.0/24", false},
      {"gateway_is_us", "[net]\naddress = \"198.18.0.1/24\"\ngateway = \"198.18.0.1\"\n",
       "net.gateway: 198.18.0.1 is our own address", false},
      {"gateway_syntax", "[net]\naddress = \"198.18.0.1/24\"\ngateway = \"gw\"\n",
       "net.gateway: expected an IPv4 address like \"198.18.0.254\" or \"\" (got \"gw\")", false},
      // [app]
      {"listen_ports_empty", "[app]\nlisten_ports = []\n",
       "app.listen_ports: must list at least one port"},
      {"listen_port_zero", "[app]\nlisten_ports = [80, 0]\n",
       "app.listen_ports[1]: must be between 1 and 65535 (got 0)"},
      {"listen_port_too_big", "[app]\nlisten_ports = [65536]\n",
       "app.listen_ports[0]: must be between 1 and 65535 (got 65536)"},
      {"listen_port_duplicate", "[app]\nlisten_ports = [80, 443, 80]\n",
       "app.listen_ports[2]: duplicate port 80"},
      // Cross-field.
      {"rto_min_above_initial", "[tcp]\nrto_min_ms = 2000\n",
       "tcp.rto_min_ms: must be <= tcp.rto_initial_ms (2000 > 1000)"},
      {"rto_max_below_initial", "[tcp]\nrto_max_ms = 500\n",
       "tcp.rto_max_ms: must be >= tcp.rto_initial_ms (500 < 1000)"},
      {"mss_above_mtu", "[tcp]\nmss = 1461\n",
       "tcp.mss: must be <= port.mtu - 40 = 1460 (got 1461)"},
      {"mss_vs_smallest_port_mtu",
       "[[port]]\nport_id = 0\nmtu = 9000\n[[port]]\nport_id = 1\nmtu = 1500\n[tcp]\nmss = 8960\n",
       "tcp.mss: must be <= port.mtu - 40 = 1460 (got 8960)"},
      {"min_mss_low", "[tcp]\nmin_mss = 63\n", "tcp.min_mss: must be between 64 and 9000 (got 63)"},
      {"min_mss_above_mss", "[tcp]\nmin_mss = 1461\n",
       "tcp.min_mss: must be <= tcp.mss 1460 (got 1461)"},
      {"rcv_buf_below_mss", "[tcp]\nrcv_buf = 1024\n",
       "tcp.rcv_buf: must be >= tcp.mss 1460 (got 1024)"},
      {"mem_budget_below_snd_buf", "[tcp]\nsnd_buf = 4194304\nmem_budget_mb = 2\n",
       "tcp.mem_budget_mb: must hold at least one tcp.snd_buf of 4194304 bytes (got 2)"},
      {"mem_budget_range", "[tcp]\nmem_budget_mb = 2000000\n",
       "tcp.mem_budget_mb: must be between 0 and 1048576 (got 2000000)"},
      {"duplicate_port_id", "[[port]]\nport_id = 0\n[[port]]\nport_id = 0\n",
       "port[1].port_id: duplicate port id 0"},
      {"mbufs_below_rings", "[mempool]\nmbufs = 2048\n",
       "mempool.mbufs: must be at least 2432 (rx_desc + tx_desc of every port + 1.5 x "
       "mempool.cache_size) (got 2048)"},
      {"data_room_below_mtu", "[port]\nmtu = 9000\n[tcp]\nmss = 1460\n",
       "mempool.data_room: must be at least 9146 (128 headroom + port.mtu 9000 + 18) (got 2176)"},
      // [impair] (issue 15).
      {"impair_pct_above_100", "[impair]\nrx_loss_pct = 100.5\n",
       "impair.rx_loss_pct: must be between 0 and 100 (got 100.5)"},
      {"impair_pct_negative", "[impair]\ntx_duplicate_pct = -1\n",
       "impair.tx_duplicate_pct: must be between 0 and 100 (got -1)"},
      {"impair_pct_nan", "[impair]\ntx_corrupt_pct = nan\n",
       "impair.tx_corrupt_pct: must be between 0 and 100 (got nan)"},
      {"impair_pct_string", "[impair]\nrx_loss_pct = \"5%\"\n",
       "impair.rx_loss_pct: expected a number of percent (got string)"},
      {"impair_burst_never_ends", "[impair]\nrx_burst_enter_pct = 1\n",
       "impair.rx_burst_exit_pct: must be above 0 when impair.rx_burst_enter_pct is set (the "
       "burst would never end)"},
      {"impair_jitter_above_delay", "[impair]\ntx_delay_us = 100\ntx_jitter_us = 200\n",
       "impair.tx_jitter_us: must be <= impair.tx_delay_us 100 (got 200)"},
      {"impair_queue_vs_pool", "[impair]\nrx_delay_us = 1000\nqueue_frames = 8192\n",
       "impair.queue_frames: must be <= mempool.mbufs / 4 = 4095 when frames are delayed or "
       "reordered (got 8192)"},
      {"impair_unknown_key", "[impair]\nloss_pct = 5\n", "impair.loss_pct: unknown key"},
  };
  return kCases;
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class ConfigErrorTest : public testing::TestWithParam<Case> {};

TEST_P(ConfigErrorTest, ExactOneLineMessage) {
  const Case& c = GetParam();
  const std::string text = c.toml + (c.with_address ? kAddr : std::string());
  const std::string msg = error_of(text);
  EXPECT_EQ(msg, c.message) << "config:\n" << text;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(AllClasses, ConfigErrorTest, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<Case>& i) { return i.param.name; });

TEST(ConfigSyntaxError, NamesFileLineAndColumnOnOneLine) {
  const std::string msg = error_of(kAddr + "[tcp]\nmsl_ms = = 3\n", "httpd.toml");
  EXPECT_EQ(msg.rfind("httpd.toml:4:", 0), 0u) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

TEST(ConfigSyntaxError, DuplicateKeyIsASyntaxError) {
  const std::string msg = error_of(kAddr + "[tcp]\nmsl_ms = 1\nmsl_ms = 2\n", "f.toml");
  EXPECT_EQ(msg.rfind("f.toml:5:", 0), 0u) << msg;
}

TEST(ConfigSyntaxError, UnterminatedTableHeader) {
  const std::string msg = error_of("[tcp\n", "f.toml");
  EXPECT_EQ(msg.rfind("f.toml:1:", 0), 0u) << msg;
}

TEST(ConfigErrorLocation, WhereNamesTheValue) {
  try {
    load_string(kAddr + "[tcp]\nmsl_ms = 0\n", "x.toml");
    FAIL() << "no throw";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.where, "x.toml:4:10");
  }
}

}  // namespace
}  // namespace shardtcp::config
