// The config schema: every key, its type, range, unit and default printer.
// Ranges are the values that make sense for the engine and DPDK, not the
// widest the integer type allows: a typo like msl_ms = 0 must stop start-up.
#include "schema.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <type_traits>

#include "shardtcp/tcp/types.h"

namespace shardtcp::config::detail {
namespace {

using tcp::kUsPerMs;
using tcp::kUsPerSec;
using tcp::TimeUs;

// ---- readers: check the TOML type, then the range -------------------------

std::int64_t read_int(const toml::node& n, const std::string& path, std::int64_t lo,
                      std::int64_t hi) {
  const auto* v = n.as_integer();
  if (v == nullptr) fail(path, "expected an integer (got " + std::string(type_name(n)) + ")", &n);
  const std::int64_t x = v->get();
  if (x < lo || x > hi) {
    fail(path,
         "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + " (got " +
             std::to_string(x) + ")",
         &n);
  }
  return x;
}

bool read_bool(const toml::node& n, const std::string& path) {
  const auto* v = n.as_boolean();
  if (v == nullptr)
    fail(path, "expected true or false (got " + std::string(type_name(n)) + ")", &n);
  return v->get();
}

std::string read_string(const toml::node& n, const std::string& path,
                        std::string_view expected = "a string") {
  const auto* v = n.as_string();
  if (v == nullptr) {
    fail(path, "expected " + std::string(expected) + " (got " + std::string(type_name(n)) + ")",
         &n);
  }
  return v->get();
}

const toml::array& read_array(const toml::node& n, const std::string& path,
                              std::string_view expected) {
  const auto* a = n.as_array();
  if (a == nullptr) {
    fail(path, "expected " + std::string(expected) + " (got " + std::string(type_name(n)) + ")",
         &n);
  }
  return *a;
}

std::string toml_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string elem_path(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// ---- field builders --------------------------------------------------------

// An unsigned integer key. `scale` converts the file's unit to the struct's
// (e.g. ms -> TimeUs); the printer divides it back out.
template <class T, class Acc>
Field<T> integer(std::string_view key, std::string_view unit, std::int64_t lo, std::int64_t hi,
                 std::string_view doc, Acc acc, std::uint64_t scale = 1) {
  return Field<T>{
      key,
      Kind::kInteger,
      unit,
      doc,
      std::to_string(lo) + ".." + std::to_string(hi),
      [=](const toml::node& n, T& t, const std::string& path) {
        auto& ref = acc(t);
        using V = std::remove_reference_t<decltype(ref)>;
        ref = static_cast<V>(static_cast<std::uint64_t>(read_int(n, path, lo, hi)) * scale);
      },
      [=](const T& t) { return std::to_string(static_cast<std::uint64_t>(acc(t)) / scale); }};
}

template <class T, class Acc>
Field<T> boolean(std::string_view key, std::string_view doc, Acc acc) {
  return Field<T>{
      key,
      Kind::kBoolean,
      "",
      doc,
      "",
      [=](const toml::node& n, T& t, const std::string& path) { acc(t) = read_bool(n, path); },
      [=](const T& t) { return std::string(acc(t) ? "true" : "false"); }};
}

template <class Acc>
Field<Config> ms(std::string_view key, std::int64_t lo, std::int64_t hi, std::string_view doc,
                 Acc acc) {
  return integer<Config>(key, "ms", lo, hi, doc, acc, kUsPerMs);
}

template <class Acc>
Field<Config> secs(std::string_view key, std::int64_t lo, std::int64_t hi, std::string_view doc,
                   Acc acc) {
  return integer<Config>(key, "s", lo, hi, doc, acc, kUsPerSec);
}

std::string emit_string_list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + quote(v[i]);
  return out + "]";
}

// ---- special keys ----------------------------------------------------------

constexpr std::string_view kAddressExample = "a string like \"198.18.0.1/24\"";

void parse_address(const toml::node& n, Config& c, const std::string& path) {
  const std::string s = read_string(n, path, kAddressExample);
  const auto slash = s.find('/');
  const auto addr = parse_ipv4(std::string_view(s).substr(0, slash));
  if (!addr || slash == std::string::npos || slash + 1 >= s.size() || s.size() - slash > 3 ||
      s.find_first_not_of("0123456789", slash + 1) != std::string::npos) {
    fail(path, "expected " + std::string(kAddressExample) + " (got " + quote(s) + ")", &n);
  }
  const int prefix = std::stoi(s.substr(slash + 1));
  if (prefix < 1 || prefix > 32) {
    fail(path, "prefix must be between 1 and 32 (got " + std::to_string(prefix) + ")", &n);
  }
  if (*addr == 0) fail(path, "must not be 0.0.0.0", &n);
  c.net.address = *addr;
  c.net.prefix_len = static_cast<std::uint8_t>(prefix);
}

std::string emit_address(const Config& c) {
  return quote(ipv4_to_string(c.net.address) + "/" + std::to_string(c.net.prefix_len));
}

void parse_gateway(const toml::node& n, Config& c, const std::string& path) {
  const std::string s = read_string(n, path, "a string like \"198.18.0.254\" or \"\"");
  if (s.empty()) {
    c.net.gateway = 0;
    return;
  }
  const auto addr = parse_ipv4(s);
  if (!addr) {
    fail(path, "expected an IPv4 address like \"198.18.0.254\" or \"\" (got " + quote(s) + ")", &n);
  }
  c.net.gateway = *addr;
}

void parse_lcores_key(const toml::node& n, Config& c, const std::string& path) {
  const std::string s = read_string(n, path, "a core list like \"0-1\"");
  if (!parse_lcores(s)) {
    fail(path,
         "expected a core list like \"0\", \"0-1\" or \"0,2\" (cores 0..1023) (got " + quote(s) +
             ")",
         &n);
  }
  c.eal.lcores = s;
}

void parse_vdevs(const toml::node& n, Config& c, const std::string& path) {
  const auto& a = read_array(n, path, "an array of strings");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::string p = elem_path(path, i);
    std::string s = read_string(*a.get(i), p);
    // A vdev string is "driver<N>[,key=value...]"; spaces would split argv.
    if (s.empty() || s.find_first_of(" \t\r\n") != std::string::npos || s.front() == ',') {
      fail(p, "expected a vdev like \"net_af_packet0,iface=stcp-dp0\" (got " + quote(s) + ")",
           a.get(i));
    }
    out.push_back(std::move(s));
  }
  c.eal.vdevs = std::move(out);
}

void parse_eal_args(const toml::node& n, Config& c, const std::string& path) {
  // These have their own keys; twice on the EAL command line is an EAL error
  // that would only show up after start-up began.
  static const std::set<std::string_view> kOwnKey = {
      "-l", "--lcores", "--vdev", "--file-prefix", "--no-huge", "-c"};
  const auto& a = read_array(n, path, "an array of strings");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::string p = elem_path(path, i);
    std::string s = read_string(*a.get(i), p);
    const std::string flag = s.substr(0, s.find('='));
    if (kOwnKey.count(flag) != 0) {
      fail(p,
           quote(flag) + " is set by its own key (eal.lcores, eal.vdevs, eal.file_prefix, " +
               "eal.no_huge)",
           a.get(i));
    }
    out.push_back(std::move(s));
  }
  c.eal.args = std::move(out);
}

void parse_file_prefix(const toml::node& n, Config& c, const std::string& path) {
  std::string s = read_string(n, path);
  if (s.size() > 64 ||
      s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
          std::string::npos) {
    fail(path, "expected letters, digits, '_' or '-' (at most 64) (got " + quote(s) + ")", &n);
  }
  c.eal.file_prefix = std::move(s);
}

void parse_cc(const toml::node& n, Config& c, const std::string& path) {
  const std::string s = read_string(n, path, "\"cubic\" or \"newreno\"");
  if (s == "cubic") {
    c.tcp.congestion_control = tcp::CongestionControl::kCubic;
  } else if (s == "newreno") {
    c.tcp.congestion_control = tcp::CongestionControl::kNewReno;
  } else {
    fail(path, "must be one of \"cubic\", \"newreno\" (got " + quote(s) + ")", &n);
  }
}

std::string emit_cc(const Config& c) {
  return quote(c.tcp.congestion_control == tcp::CongestionControl::kCubic ? "cubic" : "newreno");
}

void parse_ecn(const toml::node& n, Config& c, const std::string& path) {
  const std::string s = read_string(n, path, "\"off\", \"passive\" or \"on\"");
  if (s == "off") {
    c.tcp.ecn = tcp::EcnMode::kOff;
  } else if (s == "passive") {
    c.tcp.ecn = tcp::EcnMode::kPassive;
  } else if (s == "on") {
    c.tcp.ecn = tcp::EcnMode::kOn;
  } else {
    fail(path, "must be one of \"off\", \"passive\", \"on\" (got " + quote(s) + ")", &n);
  }
}

std::string emit_ecn(const Config& c) {
  switch (c.tcp.ecn) {
    case tcp::EcnMode::kOff:
      return quote("off");
    case tcp::EcnMode::kOn:
      return quote("on");
    case tcp::EcnMode::kPassive:
      break;
  }
  return quote("passive");
}

void parse_isn_secret(const toml::node& n, Config& c, const std::string& path) {
  const std::string s = read_string(n, path, "32 hex digits or \"\"");
  if (s.empty()) {
    c.tcp.isn_secret[0] = c.tcp.isn_secret[1] = 0;
    return;
  }
  if (s.size() != 32 || s.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
    fail(path,
         "expected 32 hex digits or \"\" (got a string of length " + std::to_string(s.size()) + ")",
         &n);
  }
  c.tcp.isn_secret[0] = std::stoull(s.substr(0, 16), nullptr, 16);
  c.tcp.isn_secret[1] = std::stoull(s.substr(16), nullptr, 16);
}

std::string emit_isn_secret(const Config& c) {
  if (c.tcp.isn_secret[0] == 0 && c.tcp.isn_secret[1] == 0) return "\"\"";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx%016llx",
                static_cast<unsigned long long>(c.tcp.isn_secret[0]),
                static_cast<unsigned long long>(c.tcp.isn_secret[1]));
  return quote(buf);
}

void parse_metrics_listen(const toml::node& n, Config& c, const std::string& path) {
  const std::string s = read_string(n, path, "a string like \"127.0.0.1:9100\"");
  if (!parse_host_port(s)) {
    fail(path, "expected \"host:port\" like \"127.0.0.1:9100\" (got " + quote(s) + ")", &n);
  }
  c.metrics.listen = s;
}

void parse_listen_ports(const toml::node& n, Config& c, const std::string& path) {
  const auto& a = read_array(n, path, "an array of port numbers like [80]");
  if (a.empty()) fail(path, "must list at least one port", &n);
  std::vector<std::uint16_t> out;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto port = static_cast<std::uint16_t>(read_int(*a.get(i), elem_path(path, i), 1, 65535));
    if (std::find(out.begin(), out.end(), port) != out.end()) {
      fail(elem_path(path, i), "duplicate port " + std::to_string(port), a.get(i));
    }
    out.push_back(port);
  }
  c.app.listen_ports = std::move(out);
}

std::string emit_listen_ports(const Config& c) {
  std::string out = "[";
  for (std::size_t i = 0; i < c.app.listen_ports.size(); ++i)
    out += (i ? ", " : "") + std::to_string(c.app.listen_ports[i]);
  return out + "]";
}

// A rate in percent (integer or float, 0..100) kept as parts per million.
template <class Acc>
Field<Config> percent(std::string_view key, std::string_view doc, Acc acc) {
  return Field<Config>{
      key,
      Kind::kNumber,
      "%",
      doc,
      "0..100",
      [=](const toml::node& n, Config& c, const std::string& path) {
        double v = 0;
        if (const auto* i = n.as_integer()) {
          v = static_cast<double>(i->get());
        } else if (const auto* f = n.as_floating_point()) {
          v = f->get();
        } else {
          fail(path, "expected a number of percent (got " + std::string(type_name(n)) + ")", &n);
        }
        // !(v >= 0) also refuses NaN.
        if (!(v >= 0) || v > 100) {
          fail(path, "must be between 0 and 100 (got " + toml_number(v) + ")", &n);
        }
        acc(c) = static_cast<std::uint32_t>(v * 10000.0 + 0.5);
      },
      [=](const Config& c) {
        const std::uint32_t ppm = acc(c);
        std::string frac = std::to_string(10000 + ppm % 10000).substr(1);
        while (frac.size() > 1 && frac.back() == '0') frac.pop_back();
        return std::to_string(ppm / 10000) + "." + frac;
      }};
}

Field<Config> special(std::string_view key, Kind kind, std::string_view doc,
                      std::function<void(const toml::node&, Config&, const std::string&)> parse,
                      std::function<std::string(const Config&)> emit) {
  return Field<Config>{key, kind, "", doc, "", std::move(parse), std::move(emit)};
}

// [impair]: the same keys for each direction, rx_* (PMD -> core) then tx_*.
std::vector<Field<Config>> impair_fields() {
  using C = Config;
  std::vector<Field<Config>> f{
      integer<C>(
          "seed", "", 0, INT64_MAX,
          "random seed; the same seed and the same frames give the same decisions",
          [](auto& c) -> auto& { return c.impair.seed; }),
      integer<C>(
          "queue_frames", "", 16, 1 << 20,
          "frames held for delay or reordering, per core and direction; beyond, dropped and "
          "counted (queue_full)",
          [](auto& c) -> auto& { return c.impair.queue_frames; })};
  // Keys are string literals kept in static storage: Field::key is a view.
  static constexpr std::string_view kKeys[2][10] = {
      {"rx_loss_pct", "rx_burst_enter_pct", "rx_burst_exit_pct", "rx_burst_loss_pct",
       "rx_duplicate_pct", "rx_reorder_pct", "rx_reorder_us", "rx_corrupt_pct", "rx_delay_us",
       "rx_jitter_us"},
      {"tx_loss_pct", "tx_burst_enter_pct", "tx_burst_exit_pct", "tx_burst_loss_pct",
       "tx_duplicate_pct", "tx_reorder_pct", "tx_reorder_us", "tx_corrupt_pct", "tx_delay_us",
       "tx_jitter_us"}};
  for (int d = 0; d < 2; ++d) {
    const auto dir = d == 0 ? &ImpairConfig::rx : &ImpairConfig::tx;
    const auto* k = kKeys[d];
    auto field = [dir](std::uint32_t ImpairDirection::*m) {
      return [ dir, m ](auto& c) -> auto& { return (c.impair.*dir).*m; };
    };
    f.push_back(
        percent(k[0], "frames lost at random (independently)", field(&ImpairDirection::loss_ppm)));
    f.push_back(percent(k[1],
                        "bursty loss (Gilbert-Elliott): chance per frame of entering the bad state",
                        field(&ImpairDirection::burst_enter_ppm)));
    f.push_back(percent(k[2], "chance per frame of leaving the bad state (> 0 with burst_enter)",
                        field(&ImpairDirection::burst_exit_ppm)));
    f.push_back(percent(k[3], "frames lost while in the bad state",
                        field(&ImpairDirection::burst_loss_ppm)));
    f.push_back(percent(k[4], "frames sent twice", field(&ImpairDirection::duplicate_ppm)));
    f.push_back(percent(k[5], "frames held back reorder_us, behind the frames that follow",
                        field(&ImpairDirection::reorder_ppm)));
    f.push_back(integer<C>(k[6], "us", 1, 10'000'000, "how long a reordered frame is held back",
                           field(&ImpairDirection::reorder_us)));
    f.push_back(percent(k[7], "frames with one byte of the IP packet changed (checksums then fail)",
                        field(&ImpairDirection::corrupt_ppm)));
    f.push_back(integer<C>(k[8], "us", 0, 10'000'000, "delay added to every frame",
                           field(&ImpairDirection::delay_us)));
    f.push_back(integer<C>(k[9], "us", 0, 10'000'000,
                           "delay varies uniformly by up to this much either way (<= delay_us; "
                           "frames may then be reordered)",
                           field(&ImpairDirection::jitter_us)));
  }
  return f;
}

std::vector<Section> make_sections() {
  using C = Config;
  std::vector<Section> s;
  s.push_back(Section{
      "eal",
      {special("vdevs", Kind::kStringList,
               "virtual devices, one --vdev each (\"net_af_packet0,iface=X\", \"net_tap0\", ...)",
               parse_vdevs, [](const C& c) { return emit_string_list(c.eal.vdevs); }),
       special("lcores", Kind::kString,
               "EAL core list (-l): one dataplane loop per core, e.g. \"0\", \"0-1\", \"0,2\"",
               parse_lcores_key, [](const C& c) { return quote(c.eal.lcores); }),
       special(
           "args", Kind::kStringList,
           "extra EAL arguments, verbatim (e.g. \"--no-pci\", \"--in-memory\", \"-m\", \"512\")",
           parse_eal_args, [](const C& c) { return emit_string_list(c.eal.args); }),
       boolean<C>(
           "no_huge", "run without hugepages (--no-huge); add \"-m\", \"512\" to args",
           [](auto& c) -> auto& { return c.eal.no_huge; }),
       special("file_prefix", Kind::kString,
               "--file-prefix, distinct per process on one host (\"\" = not passed)",
               parse_file_prefix, [](const C& c) { return quote(c.eal.file_prefix); })}});
  s.push_back(
      Section{"net",
              {special("address", Kind::kString, "our IPv4 address and prefix length (required)",
                       parse_address, emit_address),
               special("gateway", Kind::kString, "default gateway inside the subnet (\"\" = none)",
                       parse_gateway,
                       [](const C& c) {
                         return quote(c.net.gateway == 0 ? "" : ipv4_to_string(c.net.gateway));
                       }),
               integer<C>(
                   "arp_max_entries", "", 1, 1 << 20, "ARP cache entries per core",
                   [](auto& c) -> auto& { return c.net.arp_max_entries; }),
               integer<C>(
                   "arp_timeout_s", "s", 1, 86400, "ARP cache entry lifetime",
                   [](auto& c) -> auto& { return c.net.arp_timeout_s; })}});
  s.push_back(
      Section{"mempool",
              {integer<C>(
                   "mbufs", "", 1024, 1 << 26,
                   "mbufs per core (2^n - 1 is optimal); the dataplane checks at start-up that "
                   "they can hold the configured connections' buffers",
                   [](auto& c) -> auto& { return c.mempool.mbufs; }),
               integer<C>(
                   "cache_size", "", 0, 512, "per-lcore mempool cache (DPDK max 512)",
                   [](auto& c) -> auto& { return c.mempool.cache_size; }),
               integer<C>(
                   "data_room", "bytes", 256, 65535,
                   "mbuf data room incl. 128 B headroom; must fit port.mtu + 18",
                   [](auto& c) -> auto& { return c.mempool.data_room; })}});
  s.push_back(Section{
      "tcp",
      {ms(
           "msl_ms", 1, 600000, "maximum segment lifetime; TIME-WAIT lasts 2*MSL",
           [](auto& c) -> auto& { return c.tcp.msl; }),
       ms(
           "fin_wait2_timeout_ms", 1, 3600000, "release an orphaned FIN-WAIT-2 connection after",
           [](auto& c) -> auto& { return c.tcp.fin_wait2_timeout; }),
       ms(
           "rto_initial_ms", 1, 600000, "initial retransmission timeout (RFC 6298 (2.1))",
           [](auto& c) -> auto& { return c.tcp.rto_initial; }),
       ms(
           "rto_min_ms", 1, 600000, "lower bound of the RTO (RFC 6298 (2.4))",
           [](auto& c) -> auto& { return c.tcp.rto_min; }),
       ms(
           "rto_max_ms", 1, 600000, "upper bound of the RTO (RFC 6298 (2.5))",
           [](auto& c) -> auto& { return c.tcp.rto_max; }),
       ms(
           "delayed_ack_ms", 0, 499, "delayed-ACK timer, < 500 ms per RFC 9293 (0 = ACK at once)",
           [](auto& c) -> auto& { return c.tcp.delayed_ack; }),
       ms(
           "syn_rcvd_timeout_ms", 0, 600000,
           "give up a SYN-RECEIVED connection after (0 = governed by syn_retries)",
           [](auto& c) -> auto& { return c.tcp.syn_rcvd_timeout; }),
       integer<C>(
           "syn_retries", "", 0, 127, "SYN / SYN-ACK retransmissions before giving up",
           [](auto& c) -> auto& { return c.tcp.syn_retries; }),
       integer<C>(
           "max_retries", "", 1, 255, "data retransmissions before giving up",
           [](auto& c) -> auto& { return c.tcp.max_retries; }),
       integer<C>(
           "mss", "bytes", 536, 9000, "our MSS; at most port.mtu - 40",
           [](auto& c) -> auto& { return c.tcp.mss; }),
       integer<C>(
           "min_mss", "bytes", 64, 9000,
           "floor for the peer's MSS option, applied before option space is taken off",
           [](auto& c) -> auto& { return c.tcp.min_mss; }),
       integer<C>(
           "rcv_buf", "bytes", 1024, 1 << 30, "receive window offered per connection",
           [](auto& c) -> auto& { return c.tcp.rcv_buf; }),
       integer<C>(
           "snd_buf", "bytes", 1024, 1 << 30, "send buffer limit per connection",
           [](auto& c) -> auto& { return c.tcp.snd_buf; }),
       integer<C>(
           "mem_budget_mb", "MB", 0, 1 << 20,
           "payload memory per core: send buffers, reassembly, held bytes (0 = 1/8 of RAM "
           "shared by the cores)",
           [](auto& c) -> auto& { return c.tcp.mem_budget_mb; }),
       integer<C>(
           "max_connections", "", 1, 1 << 26,
           "connections per core; SYNs beyond are dropped and counted",
           [](auto& c) -> auto& { return c.tcp.max_connections; }),
       integer<C>(
           "time_wait_capacity", "", 1, 1 << 26,
           "TIME-WAIT entries per core; the oldest is recycled beyond",
           [](auto& c) -> auto& { return c.tcp.time_wait_capacity; }),
       integer<C>(
           "syn_backlog", "", 1, 1 << 20, "half-open connections per listener",
           [](auto& c) -> auto& { return c.tcp.syn_backlog; }),
       integer<C>(
           "accept_backlog", "", 1, 1 << 20, "reserved for queued-accept APIs",
           [](auto& c) -> auto& { return c.tcp.accept_backlog; }),
       boolean<C>(
           "syn_cookies", "answer with SYN cookies when the SYN queue is full (RFC 4987)",
           [](auto& c) -> auto& { return c.tcp.syn_cookies; }),
       boolean<C>(
           "window_scaling", "window scale option (RFC 7323)",
           [](auto& c) -> auto& { return c.tcp.window_scaling; }),
       boolean<C>(
           "timestamps", "timestamps option and PAWS (RFC 7323)",
           [](auto& c) -> auto& { return c.tcp.timestamps; }),
       boolean<C>(
           "sack", "selective acknowledgments (RFC 2018)",
           [](auto& c) -> auto& { return c.tcp.sack; }),
       special("ecn", Kind::kString,
               "ECN (RFC 3168): \"passive\" accepts it when a client asks, \"on\" also "
               "requests it on active opens, \"off\" never",
               parse_ecn, emit_ecn),
       boolean<C>(
           "mtu_probing",
           "when ICMP never arrives, lower the MSS to 1024 after a second timeout in a row "
           "(RFC 4821 black-hole fallback, Linux tcp_mtu_probing = 1)",
           [](auto& c) -> auto& { return c.tcp.mtu_probing; }),
       boolean<C>(
           "rack", "RACK time-based loss detection and PRR in recovery (RFC 8985, RFC 6937)",
           [](auto& c) -> auto& { return c.tcp.rack; }),
       boolean<C>(
           "tlp", "tail loss probes (RFC 8985 §7); needs tcp.rack",
           [](auto& c) -> auto& { return c.tcp.tlp; }),
       boolean<C>(
           "nagle", "Nagle's algorithm on by default for new connections",
           [](auto& c) -> auto& { return c.tcp.nagle; }),
       boolean<C>(
           "keepalive", "keep-alive on by default for new connections",
           [](auto& c) -> auto& { return c.tcp.keepalive; }),
       secs(
           "keepalive_idle_s", 1, 604800, "idle time before the first keep-alive probe",
           [](auto& c) -> auto& { return c.tcp.keepalive_idle; }),
       secs(
           "keepalive_interval_s", 1, 86400, "time between keep-alive probes",
           [](auto& c) -> auto& { return c.tcp.keepalive_interval; }),
       integer<C>(
           "keepalive_probes", "", 1, 127, "unanswered probes before the connection is dropped",
           [](auto& c) -> auto& { return c.tcp.keepalive_probes; }),
       integer<C>(
           "challenge_ack_limit", "", 1, 10000000,
           "challenge ACKs per second per core (RFC 5961 §7); each second's budget is drawn at "
           "random from [limit/2, limit*3/2) (CVE-2016-5696)",
           [](auto& c) -> auto& { return c.tcp.challenge_ack_limit; }),
       ms(
           "invalid_ratelimit_ms", 0, 600000,
           "per connection, at most one ACK per this interval for out-of-window segments, PAWS "
           "rejections, challenge ACKs and TIME-WAIT (Linux tcp_invalid_ratelimit; 0 = no limit)",
           [](auto& c) -> auto& { return c.tcp.invalid_ratelimit; }),
       boolean<C>(
           "evict_idle_on_full",
           "at max_connections, reset the connection idle longest so a new "
           "client gets in (with syn_cookies, only once its handshake completes)",
           [](auto& c) -> auto& { return c.tcp.evict_idle_on_full; }),
       boolean<C>(
           "time_wait_reuse",
           "connect() may reuse a 4-tuple still in TIME-WAIT on our side when timestamps "
           "protect it (RFC 6191 reasoning, Linux tcp_tw_reuse): the old connection used "
           "timestamps and its last segment is at least 1 s old",
           [](auto& c) -> auto& { return c.tcp.time_wait_reuse; }),
       special("congestion_control", Kind::kString,
               "\"cubic\" (RFC 9438) or \"newreno\" (RFC 6582)", parse_cc, emit_cc),
       integer<C>(
           "initial_window_segments", "", 1, 64, "initial congestion window (RFC 6928)",
           [](auto& c) -> auto& { return c.tcp.initial_window_segments; }),
       special("isn_secret", Kind::kString,
               "RFC 6528 ISN key as 32 hex digits; \"\" = random at start (set only for tests)",
               parse_isn_secret, emit_isn_secret)}});
  s.push_back(
      Section{"metrics",
              {boolean<C>(
                   "enabled", "serve /metrics (Prometheus text format)",
                   [](auto& c) -> auto& { return c.metrics.enabled; }),
               special("listen", Kind::kString,
                       "exporter address \"host:port\" (kernel socket, in the process's netns)",
                       parse_metrics_listen, [](const C& c) { return quote(c.metrics.listen); }),
               integer<C>(
                   "request_timeout_ms", "ms", 100, 600000,
                   "time a client gets for a whole request head, and again to take the response; "
                   "then the exporter closes the connection",
                   [](auto& c) -> auto& { return c.metrics.request_timeout_ms; }),
               integer<C>(
                   "max_connections", "", 1, 4096,
                   "open exporter connections; beyond, the oldest one waiting for a request is "
                   "closed",
                   [](auto& c) -> auto& { return c.metrics.max_connections; }),
               integer<C>(
                   "max_request_bytes", "bytes", 512, 1048576,
                   "largest request head the exporter reads; a longer one is answered 431",
                   [](auto& c) -> auto& { return c.metrics.max_request_bytes; })}});
  s.push_back(
      Section{"app",
              {special("listen_ports", Kind::kIntegerList,
                       "TCP ports the application listens on (1..65535, unique, at least one)",
                       parse_listen_ports, emit_listen_ports),
               boolean<C>(
                   "hold_close_wait",
                   "test mode: never close after the peer's FIN (holds connections in CLOSE-WAIT)",
                   [](auto& c) -> auto& { return c.app.hold_close_wait; }),
               ms(
                   "header_timeout_ms", 0, 86400000,
                   "httpd: close (FIN, no response) a connection whose request head is not "
                   "complete this long after accept or its first byte (0 = never)",
                   [](auto& c) -> auto& { return c.app.header_timeout; }),
               ms(
                   "keepalive_timeout_ms", 0, 86400000,
                   "httpd: close (FIN) a keep-alive connection idle this long after a response "
                   "(0 = never)",
                   [](auto& c) -> auto& { return c.app.keepalive_timeout; }),
               ms(
                   "send_timeout_ms", 0, 86400000,
                   "httpd: abort (RST) a connection whose peer acknowledges none of a waiting "
                   "response for this long (0 = never)",
                   [](auto& c) -> auto& { return c.app.send_timeout; }),
               ms(
                   "idle_timeout_ms", 0, 86400000,
                   "echo: close (FIN) a connection with no bytes either way this long (0 = never)",
                   [](auto& c) -> auto& { return c.app.idle_timeout; })}});
  s.push_back(Section{"impair", impair_fields()});
  return s;
}

std::vector<Field<PortConfig>> make_port_fields() {
  using P = PortConfig;
  return {
      integer<P>(
          "port_id", "", 0, 1023, "DPDK port index (after -a / --vdev probing)",
          [](auto& p) -> auto& { return p.port_id; }),
      integer<P>(
          "rx_desc", "", 64, 16384, "rx ring descriptors per queue",
          [](auto& p) -> auto& { return p.rx_desc; }),
      integer<P>(
          "tx_desc", "", 64, 16384, "tx ring descriptors per queue",
          [](auto& p) -> auto& { return p.tx_desc; }),
      integer<P>(
          "mtu", "bytes", 576, 9600, "IP MTU of the port", [](auto& p) -> auto& { return p.mtu; }),
      boolean<P>(
          "promiscuous", "accept frames for any MAC address",
          [](auto& p) -> auto& { return p.promiscuous; }),
  };
}

}  // namespace

void fail(const std::string& path, const std::string& reason, const toml::node* at) {
  std::string where;
  if (at != nullptr && at->source().begin) {
    const auto& src = at->source();
    where = (src.path ? *src.path : std::string("<string>")) + ":" +
            std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column);
  }
  throw ConfigError(path + ": " + reason, std::move(where));
}

std::string_view type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::array:
      return "array";
    case toml::node_type::table:
      return "table";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

const std::vector<Section>& sections() {
  static const std::vector<Section> kSections = make_sections();
  return kSections;
}

const std::vector<Field<PortConfig>>& port_fields() {
  static const std::vector<Field<PortConfig>> kFields = make_port_fields();
  return kFields;
}

}  // namespace shardtcp::config::detail
