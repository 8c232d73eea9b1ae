// Loading, cross-field validation, overrides and printing of the config.
// Everything is checked before anything starts; a problem is one line naming
// the key (STYLE.md: "fails with one clear message naming the bad key").
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include <unistd.h>

#include "schema.h"
#include "shardtcp/config/config.h"

namespace shardtcp::config {
namespace {

using detail::fail;
using detail::Field;
using detail::Kind;
using detail::quote;
using detail::Section;
using detail::type_name;

const Section* find_section(std::string_view name) {
  for (const auto& s : detail::sections())
    if (s.name == name) return &s;
  return nullptr;
}

template <class T>
const Field<T>* find_field(const std::vector<Field<T>>& fields, std::string_view key) {
  for (const auto& f : fields)
    if (f.key == key) return &f;
  return nullptr;
}

// Unknown keys first (a typo is the likeliest mistake and must not hide behind
// another error), then every known key in schema order.
template <class T>
void apply_table(const toml::table& table, const std::vector<Field<T>>& fields, T& target,
                 const std::string& prefix) {
  for (auto&& [k, v] : table) {
    if (find_field(fields, k.str()) == nullptr)
      fail(prefix + "." + std::string(k.str()), "unknown key", &v);
  }
  for (const auto& f : fields) {
    if (const toml::node* n = table.get(f.key))
      f.parse(*n, target, prefix + "." + std::string(f.key));
  }
}

PortConfig parse_port(const toml::node& n, const std::string& path) {
  const auto* t = n.as_table();
  if (t == nullptr) fail(path, "expected a table (got " + std::string(type_name(n)) + ")", &n);
  PortConfig p;
  apply_table(*t, detail::port_fields(), p, path);
  return p;
}

void parse_ports(const toml::node& n, Config& cfg) {
  if (n.is_table()) {  // [port]
    cfg.ports = {parse_port(n, "port")};
    return;
  }
  const auto* a = n.as_array();  // [[port]]
  if (a == nullptr) {
    fail("port",
         "expected a table [port] or tables [[port]] (got " + std::string(type_name(n)) + ")", &n);
  }
  if (a->empty()) fail("port", "at least one port is required", &n);
  cfg.ports.clear();
  for (std::size_t i = 0; i < a->size(); ++i)
    cfg.ports.push_back(parse_port(*a->get(i), "port[" + std::to_string(i) + "]"));
}

std::string port_path(const Config& cfg, std::size_t i) {
  return cfg.ports.size() == 1 ? std::string("port") : "port[" + std::to_string(i) + "]";
}

// tcp.mem_budget_mb -> tcp.mem_budget (bytes per core). 0 = derived: 1/8 of
// physical memory shared by the dataplane cores (Linux sizes tcp_mem's
// maximum at about 3/32 of memory), at least 16 MB. An explicit value must
// hold one send buffer and, with every core's, fit in physical memory.
void resolve_mem_budget(Config& cfg) {
  constexpr std::uint64_t kMiB = 1024 * 1024;
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGESIZE);
  const std::uint64_t phys =
      pages > 0 && page > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page)
                            : 0;
  const std::uint64_t cores = std::max<std::uint32_t>(cfg.lcores_count, 1);
  auto& t = cfg.tcp;
  if (t.mem_budget_mb == 0) {
    t.mem_budget = std::max<std::uint64_t>(phys / 8 / cores, 16 * kMiB);
    return;
  }
  t.mem_budget = std::uint64_t{t.mem_budget_mb} * kMiB;
  if (t.mem_budget < t.snd_buf) {
    fail("tcp.mem_budget_mb", "must hold at least one tcp.snd_buf of " + std::to_string(t.snd_buf) +
                                  " bytes (got " + std::to_string(t.mem_budget_mb) + ")");
  }
  if (phys != 0 && t.mem_budget * cores > phys) {
    fail("tcp.mem_budget_mb", "x " + std::to_string(cores) + " cores exceeds physical memory (" +
                                  std::to_string(phys / kMiB) + " MB) (got " +
                                  std::to_string(t.mem_budget_mb) + ")");
  }
}

// Cross-field and structural checks on a fully parsed config.
// [impair] (issue 15): a Gilbert-Elliott bad state must be able to end, the
// delay never goes below zero, and held frames leave the pool room to work.
void check_impair(const Config& cfg) {
  const auto& im = cfg.impair;
  bool holds = false;
  for (const auto& [name, d] : {std::pair{"rx", &im.rx}, std::pair{"tx", &im.tx}}) {
    const std::string k = std::string("impair.") + name;
    if (d->burst_enter_ppm != 0 && d->burst_exit_ppm == 0) {
      fail(k + "_burst_exit_pct",
           "must be above 0 when " + k + "_burst_enter_pct is set (the burst would never end)");
    }
    if (d->jitter_us > d->delay_us) {
      fail(k + "_jitter_us", "must be <= " + k + "_delay_us " + std::to_string(d->delay_us) +
                                 " (got " + std::to_string(d->jitter_us) + ")");
    }
    holds = holds || d->delay_us != 0 || d->reorder_ppm != 0;
  }
  if (holds && std::uint64_t{im.queue_frames} * 4 > cfg.mempool.mbufs) {
    fail("impair.queue_frames",
         "must be <= mempool.mbufs / 4 = " + std::to_string(cfg.mempool.mbufs / 4) +
             " when frames are delayed or reordered (got " + std::to_string(im.queue_frames) + ")");
  }
}

void check_cross(Config& cfg) {
  const auto cores = parse_lcores(cfg.eal.lcores);
  if (!cores)
    fail("eal.lcores", "expected a core list like \"0-1\" (got " + quote(cfg.eal.lcores) + ")");
  cfg.lcores_count = static_cast<std::uint32_t>(cores->size());

  // [net]: RFC 1122 §3.2.1.3: neither the network nor the broadcast address of
  // the subnet is a host address (/31 and /32 have no such addresses).
  const auto& net = cfg.net;
  if (net.address == 0) fail("net.address", "required, e.g. address = \"198.18.0.1/24\"");
  const std::uint32_t mask =
      net.prefix_len >= 32 ? ~0u : ~((std::uint32_t{1} << (32 - net.prefix_len)) - 1);
  const std::uint32_t subnet = net.address & mask;
  const std::string subnet_str = ipv4_to_string(subnet) + "/" + std::to_string(net.prefix_len);
  auto is_net_or_bcast = [&](std::uint32_t a) {
    return net.prefix_len <= 30 && (a == subnet || a == (subnet | ~mask));
  };
  if (is_net_or_bcast(net.address)) {
    fail("net.address",
         ipv4_to_string(net.address) + " is the network or broadcast address of " + subnet_str);
  }
  if (net.gateway != 0) {
    const std::string gw = ipv4_to_string(net.gateway);
    if ((net.gateway & mask) != subnet) fail("net.gateway", gw + " is not inside " + subnet_str);
    if (net.gateway == net.address) fail("net.gateway", gw + " is our own address");
    if (is_net_or_bcast(net.gateway)) {
      fail("net.gateway", gw + " is the network or broadcast address of " + subnet_str);
    }
  }

  // [[port]]
  std::uint16_t min_mtu = 65535;
  std::uint64_t ring_mbufs = 0;
  for (std::size_t i = 0; i < cfg.ports.size(); ++i) {
    const auto& p = cfg.ports[i];
    for (std::size_t j = 0; j < i; ++j) {
      if (cfg.ports[j].port_id == p.port_id) {
        fail(port_path(cfg, i) + ".port_id", "duplicate port id " + std::to_string(p.port_id));
      }
    }
    min_mtu = std::min(min_mtu, p.mtu);
    ring_mbufs += std::uint64_t{p.rx_desc} + p.tx_desc;
  }
  if (cfg.ports.empty()) fail("port", "at least one port is required");

  // [mempool]: DPDK refuses a cache whose flush threshold (1.5 x size) exceeds
  // the pool, and every rx ring is filled with mbufs at queue setup.
  const auto& mp = cfg.mempool;
  const std::uint64_t need = ring_mbufs + std::uint64_t{mp.cache_size} * 3 / 2;
  if (mp.mbufs < need) {
    fail("mempool.mbufs",
         "must be at least " + std::to_string(need) +
             " (rx_desc + tx_desc of every port + 1.5 x mempool.cache_size) (got " +
             std::to_string(mp.mbufs) + ")");
  }
  // 128 = RTE_PKTMBUF_HEADROOM; 18 = Ethernet header + one VLAN tag.
  const std::uint32_t room = 128u + min_mtu + 18u;
  if (mp.data_room < room) {
    fail("mempool.data_room", "must be at least " + std::to_string(room) +
                                  " (128 headroom + port.mtu " + std::to_string(min_mtu) +
                                  " + 18) (got " + std::to_string(mp.data_room) + ")");
  }

  // [tcp]
  const auto& t = cfg.tcp;
  const auto ms = [](tcp::TimeUs us) { return std::to_string(us / tcp::kUsPerMs); };
  if (t.rto_min > t.rto_initial) {
    fail("tcp.rto_min_ms",
         "must be <= tcp.rto_initial_ms (" + ms(t.rto_min) + " > " + ms(t.rto_initial) + ")");
  }
  if (t.rto_initial > t.rto_max) {
    fail("tcp.rto_max_ms",
         "must be >= tcp.rto_initial_ms (" + ms(t.rto_max) + " < " + ms(t.rto_initial) + ")");
  }
  // 40 = IPv4 + TCP headers without options (RFC 9293 §3.7.1).
  if (t.mss + 40u > min_mtu) {
    fail("tcp.mss", "must be <= port.mtu - 40 = " + std::to_string(min_mtu - 40) + " (got " +
                        std::to_string(t.mss) + ")");
  }
  if (t.min_mss > t.mss) {
    fail("tcp.min_mss", "must be <= tcp.mss " + std::to_string(t.mss) + " (got " +
                            std::to_string(t.min_mss) + ")");
  }
  if (t.rcv_buf < t.mss) {
    fail("tcp.rcv_buf", "must be >= tcp.mss " + std::to_string(t.mss) + " (got " +
                            std::to_string(t.rcv_buf) + ")");
  }
  if (t.snd_buf < t.mss) {
    fail("tcp.snd_buf", "must be >= tcp.mss " + std::to_string(t.mss) + " (got " +
                            std::to_string(t.snd_buf) + ")");
  }
  check_impair(cfg);
  resolve_mem_budget(cfg);
}

Config from_table(const toml::table& root) {
  Config cfg;
  for (auto&& [k, v] : root) {
    const std::string name(k.str());
    if (name != "port" && find_section(name) == nullptr) {
      fail(name, v.is_table() ? "unknown section" : "unknown key", &v);
    }
  }
  for (const auto& section : detail::sections()) {
    const toml::node* n = root.get(section.name);
    if (n == nullptr) continue;
    const std::string name(section.name);
    const auto* t = n->as_table();
    if (t == nullptr) {
      fail(name, "expected a table [" + name + "] (got " + std::string(type_name(*n)) + ")", n);
    }
    apply_table(*t, section.fields, cfg, name);
  }
  if (const toml::node* n = root.get("port")) parse_ports(*n, cfg);
  check_cross(cfg);
  return cfg;
}

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

// The text of an override value as a TOML node: TOML if it parses, else the
// bare text as a string; shaped to what the key expects.
toml::table override_value(Kind kind, const std::string& value) {
  toml::table holder;
  bool parsed = false;
  try {
    holder = toml::parse("v = " + value);
    parsed = holder.size() == 1 && holder.get("v") != nullptr;
  } catch (const toml::parse_error&) {
  }
  if (!parsed) holder = toml::table{{"v", value}};
  const toml::node& v = *holder.get("v");
  const bool want_string = kind == Kind::kString || kind == Kind::kStringList;
  if (want_string && !v.is_string() && !v.is_array()) holder = toml::table{{"v", value}};
  const bool want_list = kind == Kind::kStringList || kind == Kind::kIntegerList;
  if (want_list && !holder.get("v")->is_array()) {
    toml::array a;
    a.push_back(*holder.get("v"));
    holder.insert_or_assign("v", std::move(a));
  }
  return holder;
}

}  // namespace

Config load_string(const std::string& toml_text, const std::string& source_name) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    const std::string where =
        source_name + ":" + std::to_string(b.line) + ":" + std::to_string(b.column);
    throw ConfigError(where + ": " + one_line(std::string(e.description())), where);
  }
  return from_table(root);
}

Config load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot open: " + std::strerror(errno), path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(path + ": cannot read: " + std::strerror(errno), path);
  return load_string(text.str(), path);
}

void validate(Config& cfg) {
  // Printing and re-parsing runs every per-key check as well as the
  // cross-field ones, so a Config built in code gets the file's messages.
  Config checked = load_string(to_toml(cfg), "<config>");
  cfg.lcores_count = checked.lcores_count;
  cfg.tcp.mem_budget = checked.tcp.mem_budget;
}

void apply_override(Config& cfg, const std::string& key, const std::string& value) {
  const auto dot = key.find('.');
  if (dot == std::string::npos) fail(key, "unknown key (expected SECTION.KEY, e.g. tcp.msl_ms)");
  std::string section = key.substr(0, dot);
  const std::string name = key.substr(dot + 1);
  Config next = cfg;

  // "port.mtu" = first port; "port[N].mtu" = port N.
  std::size_t port_index = 0;
  const bool is_port = section == "port" || section.rfind("port[", 0) == 0;
  if (section != "port" && is_port) {
    const auto close = section.find(']');
    const std::string idx = section.substr(5, close - 5);
    if (close != section.size() - 1 || idx.empty() ||
        idx.find_first_not_of("0123456789") != std::string::npos || idx.size() > 4) {
      fail(section, "unknown section");
    }
    port_index = std::stoul(idx);
    if (port_index >= next.ports.size()) {
      fail(section, "no such port (the config has " + std::to_string(next.ports.size()) + ")");
    }
  }
  if (is_port) {
    const auto* f = find_field(detail::port_fields(), name);
    if (f == nullptr) fail(key, "unknown key");
    const toml::table holder = override_value(f->kind, value);
    f->parse(*holder.get("v"), next.ports[port_index], key);
  } else {
    const Section* s = find_section(section);
    if (s == nullptr) fail(section, "unknown section");
    const auto* f = find_field(s->fields, name);
    if (f == nullptr) fail(key, "unknown key");
    const toml::table holder = override_value(f->kind, value);
    f->parse(*holder.get("v"), next, key);
  }
  check_cross(next);
  cfg = std::move(next);
}

void apply_override(Config& cfg, const std::string& key_equals_value) {
  const auto eq = key_equals_value.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError("--set " + key_equals_value + ": expected KEY=VALUE, e.g. tcp.msl_ms=1000");
  }
  apply_override(cfg, key_equals_value.substr(0, eq), key_equals_value.substr(eq + 1));
}

std::string to_toml(const Config& cfg) {
  std::string out;
  for (const auto& s : detail::sections()) {
    out += "[" + std::string(s.name) + "]\n";
    for (const auto& f : s.fields) out += std::string(f.key) + " = " + f.emit(cfg) + "\n";
    out += "\n";
    if (s.name == "eal") {
      for (const auto& p : cfg.ports) {
        out += "[[port]]\n";
        for (const auto& f : detail::port_fields())
          out += std::string(f.key) + " = " + f.emit(p) + "\n";
        out += "\n";
      }
    }
  }
  return out;
}

std::vector<std::string> known_keys() {
  std::vector<std::string> keys;
  for (const auto& s : detail::sections()) {
    for (const auto& f : s.fields) keys.push_back(std::string(s.name) + "." + std::string(f.key));
    if (s.name == "eal") {
      for (const auto& f : detail::port_fields()) keys.push_back("port." + std::string(f.key));
    }
  }
  return keys;
}

std::vector<std::string> eal_arguments(const Config& cfg, const std::string& argv0) {
  std::vector<std::string> argv = {argv0, "-l", cfg.eal.lcores};
  if (!cfg.eal.file_prefix.empty()) {
    argv.push_back("--file-prefix");
    argv.push_back(cfg.eal.file_prefix);
  }
  for (const auto& v : cfg.eal.vdevs) {
    argv.push_back("--vdev");
    argv.push_back(v);
  }
  if (cfg.eal.no_huge) argv.push_back("--no-huge");
  argv.insert(argv.end(), cfg.eal.args.begin(), cfg.eal.args.end());
  return argv;
}

std::string describe(const Config& cfg) {
  std::ostringstream o;
  const auto ms = [](tcp::TimeUs us) { return std::to_string(us / tcp::kUsPerMs); };
  o << "lcores " << cfg.eal.lcores << " (" << cfg.lcores_count << " dataplane core"
    << (cfg.lcores_count == 1 ? "" : "s") << ")";
  for (const auto& v : cfg.eal.vdevs) o << ", vdev " << v;
  if (cfg.eal.no_huge) o << ", no hugepages";
  o << "\n";
  for (const auto& p : cfg.ports) {
    o << "port " << p.port_id << ": mtu " << p.mtu << ", rx/tx desc " << p.rx_desc << "/"
      << p.tx_desc << (p.promiscuous ? ", promiscuous" : "") << "\n";
  }
  o << "address " << ipv4_to_string(cfg.net.address) << "/" << unsigned{cfg.net.prefix_len}
    << ", gateway " << (cfg.net.gateway ? ipv4_to_string(cfg.net.gateway) : "none")
    << ", listen ports";
  for (const auto port : cfg.app.listen_ports) o << " " << port;
  if (cfg.app.hold_close_wait) o << " (hold_close_wait TEST MODE)";
  o << "\n";
  const auto& t = cfg.tcp;
  o << "tcp: mss " << t.mss << ", msl " << ms(t.msl) << " ms, rto " << ms(t.rto_min) << "/"
    << ms(t.rto_initial) << "/" << ms(t.rto_max) << " ms (min/initial/max), delayed ack "
    << ms(t.delayed_ack) << " ms, "
    << (t.congestion_control == tcp::CongestionControl::kCubic ? "cubic" : "newreno") << ", max "
    << t.max_connections << " connections/core\n";
  o << "mempool: " << cfg.mempool.mbufs << " mbufs/core; payload memory " << (t.mem_budget >> 20)
    << " MB/core; metrics: "
    << (cfg.metrics.enabled ? "http://" + cfg.metrics.listen + "/metrics" : std::string("off"))
    << "\n";
  // A test setting nobody should leave on by accident: said loudly.
  const auto& im = cfg.impair;
  if (im.rx.active() || im.tx.active()) {
    const auto pct = [](std::uint32_t ppm) {
      char b[32];
      std::snprintf(b, sizeof b, "%g", ppm / 10000.0);
      return std::string(b);
    };
    o << "IMPAIRMENT ON (seed " << im.seed << ")";
    for (const auto& [name, d] : {std::pair{"rx", &im.rx}, std::pair{"tx", &im.tx}}) {
      if (!d->active()) continue;
      o << "; " << name << ": loss " << pct(d->loss_ppm) << "%, bursts " << pct(d->burst_enter_ppm)
        << "%/" << pct(d->burst_exit_ppm) << "%, dup " << pct(d->duplicate_ppm) << "%, reorder "
        << pct(d->reorder_ppm) << "%, corrupt " << pct(d->corrupt_ppm) << "%, delay " << d->delay_us
        << "+-" << d->jitter_us << " us";
    }
    o << "\n";
  }
  return o.str();
}

}  // namespace shardtcp::config
