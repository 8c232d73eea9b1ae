// Scrape-time collection: per-core counters -> Prometheus metric families.
// Names follow the Prometheus conventions (base units, counters end in
// _total) and mirror Linux's /proc/net/snmp and netstat -s where one exists.
// The reference table of every name is deploy/prometheus/METRICS.md.
#include <deque>
#include <initializer_list>
#include <iterator>
#include <string>
#include <utility>

#include "metrics_collector.h"

namespace shardtcp::dataplane {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::initializer_list<std::pair<const char*, std::string>>;

// A deque: adding a family never moves the ones already handed out.
MetricFamily& family(std::deque<MetricFamily>& out, std::string name, std::string help,
                     MetricType type) {
  out.push_back(MetricFamily{std::move(name), std::move(help), type, {}});
  return out.back();
}

void sample(MetricFamily& f, Labels labels, double value) {
  ClientMetric m;
  for (const auto& [k, v] : labels) m.label.push_back(ClientMetric::Label{k, v});
  if (f.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
}

double as_double(std::uint64_t v) { return static_cast<double>(v); }

// TCP counters with one series per core. Names and meanings mirror
// /proc/net/snmp "Tcp:" and netstat -s "TcpExt:".
struct TcpCounterDef {
  const char* name;
  const char* help;
  tcp::Counter tcp::TcpCounters::*field;
};
constexpr TcpCounterDef kTcpCounters[] = {
    {"active_opens_total", "Connections that went CLOSED -> SYN-SENT (ActiveOpens).",
     &tcp::TcpCounters::active_opens},
    {"passive_opens_total", "Connections that went LISTEN -> SYN-RECEIVED (PassiveOpens).",
     &tcp::TcpCounters::passive_opens},
    {"attempt_fails_total",
     "Connection attempts that failed from SYN-SENT or SYN-RECEIVED (AttemptFails).",
     &tcp::TcpCounters::attempt_fails},
    {"estab_resets_total", "Resets from ESTABLISHED or CLOSE-WAIT (EstabResets).",
     &tcp::TcpCounters::estab_resets},
    {"segments_received_total", "Segments received, including errors (InSegs).",
     &tcp::TcpCounters::in_segs},
    {"segments_sent_total", "Segments sent, excluding retransmissions (OutSegs).",
     &tcp::TcpCounters::out_segs},
    {"retransmitted_segments_total", "Segments retransmitted (RetransSegs).",
     &tcp::TcpCounters::retrans_segs},
    {"bad_segments_total", "Segments received in error: bad checksum, malformed (InErrs).",
     &tcp::TcpCounters::in_errs},
    {"rsts_received_total", "RST segments received and acted on.", &tcp::TcpCounters::in_rsts},
    {"rsts_sent_total", "RST segments sent (OutRsts).", &tcp::TcpCounters::out_rsts},
    {"out_of_order_segments_total", "Segments queued out of order (TCPOFOQueue).",
     &tcp::TcpCounters::ooo_segs},
    {"challenge_acks_total", "Challenge ACKs sent, RFC 5961 (TCPChallengeACK).",
     &tcp::TcpCounters::challenge_acks},
    {"challenge_acks_suppressed_total",
     "Challenge ACKs not sent: over the per-core RFC 5961 §7 budget (randomized per second).",
     &tcp::TcpCounters::challenge_acks_suppressed},
    {"syncookies_sent_total", "SYN cookies sent, RFC 4987 (SyncookiesSent).",
     &tcp::TcpCounters::syncookies_sent},
    {"syncookies_validated_total", "Valid SYN cookies received (SyncookiesRecv).",
     &tcp::TcpCounters::syncookies_validated},
    {"syncookies_failed_total", "Invalid SYN cookies received (SyncookiesFailed).",
     &tcp::TcpCounters::syncookies_failed},
    {"listen_overflows_total", "SYNs that found the SYN queue full (ListenOverflows).",
     &tcp::TcpCounters::listen_overflows},
    {"listen_drops_total", "SYNs dropped at a listener for any reason (ListenDrops).",
     &tcp::TcpCounters::listen_drops},
    {"fin_wait2_timeouts_total", "Connections released by the FIN-WAIT-2 timeout.",
     &tcp::TcpCounters::fin_wait2_timeouts},
    {"close_unread_resets_total",
     "Connections reset because the application closed them with received data unread.",
     &tcp::TcpCounters::close_unread_resets},
    {"time_wait_reopens_total", "TIME-WAIT 4-tuples reused by a new SYN, RFC 6191.",
     &tcp::TcpCounters::time_wait_reopens},
    {"time_wait_recycled_total", "Oldest TIME-WAIT entries evicted at time_wait_capacity.",
     &tcp::TcpCounters::time_wait_recycled},
    {"time_wait_expired_total", "TIME-WAIT entries that ran their 2*MSL.",
     &tcp::TcpCounters::time_wait_expired},
    {"timeouts_total", "Connections given up after max retransmissions (TCPTimeouts).",
     &tcp::TcpCounters::timeouts},
    {"fast_retransmits_total", "Fast retransmissions, RFC 5681 (TCPFastRetrans).",
     &tcp::TcpCounters::fast_retransmits},
    {"rto_expirations_total", "Retransmission timer expirations, RFC 6298.",
     &tcp::TcpCounters::rto_expirations},
    {"rack_lost_segments_total", "Segments RACK deemed lost by time, RFC 8985 §6.2.",
     &tcp::TcpCounters::rack_lost_segs},
    {"lost_retransmits_total", "Retransmissions found lost again (TCPLostRetransmit).",
     &tcp::TcpCounters::lost_retransmits},
    {"rack_reorder_timeouts_total", "RACK reordering-timer expirations, RFC 8985 §6.2.",
     &tcp::TcpCounters::rack_reo_timeouts},
    {"tlp_probes_total", "Tail loss probes sent, RFC 8985 §7 (TCPLossProbes).",
     &tcp::TcpCounters::tlp_probes},
    {"tlp_recoveries_total", "Losses repaired by a tail loss probe (TCPLossProbeRecovery).",
     &tcp::TcpCounters::tlp_recoveries},
    {"prr_segments_total", "Segments sent in fast recovery under PRR, RFC 6937.",
     &tcp::TcpCounters::prr_segs},
    {"spurious_rto_eifel_total",
     "Retransmission timeouts found spurious by timestamps, RFC 3522 (Eifel detection).",
     &tcp::TcpCounters::spurious_rto_eifel},
    {"spurious_rto_frto_total", "Retransmission timeouts found spurious by F-RTO, RFC 5682.",
     &tcp::TcpCounters::spurious_rto_frto},
    {"spurious_fr_eifel_total",
     "Fast retransmits found spurious by timestamps (reordering), RFC 3522.",
     &tcp::TcpCounters::spurious_fr_eifel},
    {"spurious_dsack_total",
     "Congestion responses whose every retransmission was D-SACKed, RFC 3708.",
     &tcp::TcpCounters::spurious_dsack},
    {"dsacks_received_total", "D-SACK blocks received, RFC 2883 (TCPDSACKRecv).",
     &tcp::TcpCounters::dsacks_received},
    {"undo_rto_total",
     "Eifel responses to a spurious timeout, RFC 4015: no go-back-N, window restored.",
     &tcp::TcpCounters::undo_rto},
    {"undo_recovery_total",
     "Congestion responses undone: cwnd and ssthresh restored (TCPFullUndo/TCPDSACKUndo).",
     &tcp::TcpCounters::undo_recovery},
    {"delayed_acks_total", "ACKs sent by the delayed-ACK timer (DelayedACKs).",
     &tcp::TcpCounters::delayed_acks},
    {"keepalive_probes_total", "Keep-alive probes sent.", &tcp::TcpCounters::keepalive_probes},
    {"zero_window_probes_total", "Zero-window probes sent.", &tcp::TcpCounters::zero_window_probes},
    {"conn_limit_drops_total", "SYNs dropped at tcp.max_connections.",
     &tcp::TcpCounters::conn_limit_drops},
    {"out_oversize_total",
     "Segments refused by the engine: payload above the MSS or frame above the MTU (a bug).",
     &tcp::TcpCounters::out_oversize},
    {"oow_acks_suppressed_total",
     "Out-of-window answers not sent: over the per-connection tcp.invalid_ratelimit_ms "
     "(TCPACKSkipped*).",
     &tcp::TcpCounters::oow_acks_suppressed},
    {"idle_evictions_total", "Idle connections reset to admit a new one at tcp.max_connections.",
     &tcp::TcpCounters::idle_evictions},
    {"mem_syn_drops_total", "SYNs refused above the payload memory budget's high-water mark.",
     &tcp::TcpCounters::mem_syn_drops},
    {"time_wait_reused_total",
     "connect() calls that took over a 4-tuple still in TIME-WAIT (tcp.time_wait_reuse).",
     &tcp::TcpCounters::time_wait_reused},
    {"time_wait_reuse_refused_total",
     "connect() calls refused: the 4-tuple was in TIME-WAIT and reuse was not safe or off.",
     &tcp::TcpCounters::time_wait_reuse_refused},
    {"mem_connect_refused_total",
     "connect() calls refused above the payload memory budget's high-water mark.",
     &tcp::TcpCounters::mem_connect_refused},
    {"mem_prune_calls_total", "Times memory pressure pruned out-of-order queues (PruneCalled).",
     &tcp::TcpCounters::mem_prune_calls},
    {"mem_ofo_pruned_bytes_total",
     "Out-of-order bytes given back under memory pressure (OfoPruned).",
     &tcp::TcpCounters::mem_ofo_pruned},
    {"mem_ofo_drops_total", "Out-of-order segments not stored for lack of memory (TCPOFODrop).",
     &tcp::TcpCounters::mem_ofo_drops},
    {"mem_rcv_drops_total",
     "In-order segments not stored for lack of memory, not acknowledged (TCPRcvQDrop).",
     &tcp::TcpCounters::mem_rcv_drops},
    {"mem_short_sends_total", "send() calls that took less for lack of payload memory.",
     &tcp::TcpCounters::mem_short_sends},
    {"mem_alloc_failures_total", "Allocations the system refused (degraded, never thrown).",
     &tcp::TcpCounters::mem_alloc_failures},
    {"pmtu_blackhole_probes_total",
     "MSS lowered to the search floor after repeated timeouts, RFC 4821 (tcp.mtu_probing).",
     &tcp::TcpCounters::pmtu_blackhole_probes},
    {"ecn_connections_total", "Connections that negotiated ECN, RFC 3168.",
     &tcp::TcpCounters::ecn_connections},
    {"ecn_ce_received_total", "Segments received with CE in the IP header (TCPDeliveredCE).",
     &tcp::TcpCounters::ecn_ce_received},
    {"ecn_ece_received_total",
     "Congestion responses to ECE, at most one per window of data, RFC 3168 §6.1.2.",
     &tcp::TcpCounters::ecn_ece_received},
    {"ecn_cwr_sent_total", "Data segments sent with CWR.", &tcp::TcpCounters::ecn_cwr_sent},
};

struct DpCounterDef {
  const char* name;
  const char* help;
  tcp::Counter DataplaneCounters::*field;
};
constexpr DpCounterDef kDpCounters[] = {
    {"shardtcp_core_rx_packets_total", "Frames received by this core's loop.",
     &DataplaneCounters::rx_packets},
    {"shardtcp_core_rx_bytes_total", "Bytes received by this core's loop (frames).",
     &DataplaneCounters::rx_bytes},
    {"shardtcp_core_tx_packets_total", "Frames handed to the NIC by this core.",
     &DataplaneCounters::tx_packets},
    {"shardtcp_core_tx_bytes_total", "Bytes handed to the NIC by this core (frames).",
     &DataplaneCounters::tx_bytes},
    {"shardtcp_arp_requests_received_total", "ARP requests received.",
     &DataplaneCounters::arp_requests_in},
    {"shardtcp_arp_replies_received_total", "ARP replies received.",
     &DataplaneCounters::arp_replies_in},
    {"shardtcp_arp_requests_sent_total", "ARP requests sent (resolution).",
     &DataplaneCounters::arp_requests_out},
    {"shardtcp_arp_replies_sent_total", "ARP replies sent.", &DataplaneCounters::arp_replies_out},
    {"shardtcp_arp_resolve_failures_total", "Next hops that never answered ARP.",
     &DataplaneCounters::arp_resolve_failures},
    {"shardtcp_icmp_echo_requests_total", "ICMP echo requests received.",
     &DataplaneCounters::icmp_echo_requests},
    {"shardtcp_icmp_echo_replies_total", "ICMP echo replies sent.",
     &DataplaneCounters::icmp_echo_replies},
    {"shardtcp_icmp_frag_needed_received_total",
     "ICMP fragmentation-needed quoting our TCP segments, passed to the engine (RFC 1191).",
     &DataplaneCounters::icmp_frag_needed},
    {"shardtcp_loop_polls_total", "Loop iterations.", &DataplaneCounters::polls},
    {"shardtcp_loop_busy_polls_total", "Loop iterations that did work.",
     &DataplaneCounters::busy_polls},
    {"shardtcp_loop_rx_bursts_total", "Non-empty rx bursts.", &DataplaneCounters::rx_bursts},
    {"shardtcp_loop_busy_cycles_total", "TSC cycles spent in iterations that did work.",
     &DataplaneCounters::busy_cycles},
    {"shardtcp_loop_cycles_total", "TSC cycles spent in the loop.",
     &DataplaneCounters::total_cycles},
};

}  // namespace

MetricsExporter::Collector::Collector(std::vector<CoreSource> cores, MetricsHooks hooks)
    : cores_(std::move(cores)), hooks_(std::move(hooks)), last_(cores_.size()) {}

std::vector<MetricFamily> MetricsExporter::Collector::Collect() const {
  const std::lock_guard<std::mutex> lock(mu_);
  std::deque<MetricFamily> out;
  collect_tcp(out);
  collect_dataplane(out);
  collect_hooks(out);
  return {std::make_move_iterator(out.begin()), std::make_move_iterator(out.end())};
}

void MetricsExporter::Collector::collect_tcp(std::deque<MetricFamily>& out) const {
  // Every RFC 9293 state but CLOSED ("no connection state at all"), including
  // LISTEN (listeners) and TIME-WAIT (compact entries), exact because only
  // the engine's set_state() moves them.
  auto& states =
      family(out, "shardtcp_tcp_connections",
             "Connections per RFC 9293 state (LISTEN counts listeners).", MetricType::Gauge);
  for (const auto& c : cores_) {
    for (int i = 0; i < tcp::kNumStates; ++i) {
      const tcp::State s = tcp::state_from_index(i);
      if (s == tcp::State::kClosed) continue;
      sample(states, {{"core", std::to_string(c.core)}, {"state", std::string(tcp::to_string(s))}},
             static_cast<double>(c.tcp->state[static_cast<std::size_t>(i)].get()));
    }
  }
  // Needs the engine's clock; without one the family is left out rather than
  // reported wrong.
  if (hooks_.now_us) {
    const tcp::TimeUs now = hooks_.now_us();
    auto& age = family(out, "shardtcp_tcp_close_wait_oldest_age_seconds",
                       "Age of the oldest connection in CLOSE-WAIT (0 if none): an "
                       "application that never closes shows a growing value.",
                       MetricType::Gauge);
    for (const auto& c : cores_) {
      const std::int64_t since = c.tcp->oldest_close_wait_since.get();
      double seconds = 0;
      if (since > 0 && now > static_cast<tcp::TimeUs>(since)) {
        seconds = static_cast<double>(now - static_cast<tcp::TimeUs>(since)) / 1e6;
      }
      sample(age, {{"core", std::to_string(c.core)}}, seconds);
    }
  }
  auto& cap = family(out, "shardtcp_tcp_time_wait_capacity",
                     "TIME-WAIT entries this core can hold before recycling the oldest.",
                     MetricType::Gauge);
  for (const auto& c : cores_) {
    sample(cap, {{"core", std::to_string(c.core)}},
           static_cast<double>(c.tcp->time_wait_capacity.get()));
  }
  struct MemGauge {
    const char* name;
    const char* help;
    tcp::Gauge tcp::TcpCounters::*field;
  };
  static constexpr MemGauge kMemGauges[] = {
      {"shardtcp_tcp_mem_budget_bytes",
       "Payload memory budget of this core: send buffers, reassembly, held bytes (0 = unlimited).",
       &tcp::TcpCounters::mem_budget_bytes},
      {"shardtcp_tcp_mem_used_bytes", "Payload memory in use (2 KB blocks handed out).",
       &tcp::TcpCounters::mem_used_bytes},
      {"shardtcp_tcp_mem_mapped_bytes",
       "Payload memory mapped from the system (slabs, cached empty ones included).",
       &tcp::TcpCounters::mem_mapped_bytes},
  };
  for (const auto& g : kMemGauges) {
    auto& f = family(out, g.name, g.help, MetricType::Gauge);
    for (const auto& c : cores_) {
      sample(f, {{"core", std::to_string(c.core)}}, static_cast<double>((c.tcp->*g.field).get()));
    }
  }
  for (const auto& def : kTcpCounters) {
    auto& f = family(out, std::string("shardtcp_tcp_") + def.name, def.help, MetricType::Counter);
    for (const auto& c : cores_) {
      sample(f, {{"core", std::to_string(c.core)}}, as_double((c.tcp->*def.field).get()));
    }
  }
  auto& drops =
      family(out, "shardtcp_tcp_drops_total",
             "TCP segments dropped, by reason (every drop site has one).", MetricType::Counter);
  for (const auto& c : cores_) {
    for (int r = 0; r < tcp::kNumDropReasons; ++r) {
      sample(drops,
             {{"core", std::to_string(c.core)},
              {"reason", std::string(tcp::to_string(static_cast<tcp::DropReason>(r)))}},
             as_double(c.tcp->drops[static_cast<std::size_t>(r)].get()));
    }
  }
  auto& icmp = family(out, "shardtcp_tcp_icmp_frag_needed_total",
                      "ICMP fragmentation-needed for our connections (RFC 1191), by result.",
                      MetricType::Counter);
  for (const auto& c : cores_) {
    for (int r = 0; r < tcp::kNumIcmpResults; ++r) {
      sample(icmp,
             {{"core", std::to_string(c.core)},
              {"result", std::string(tcp::to_string(static_cast<tcp::IcmpResult>(r)))}},
             as_double(c.tcp->icmp_frag_needed[static_cast<std::size_t>(r)].get()));
    }
  }
}

void MetricsExporter::Collector::collect_dataplane(std::deque<MetricFamily>& out) const {
  auto& drops = family(out, "shardtcp_ip_drops_total",
                       "Frames dropped below TCP (Ethernet, ARP, IPv4, ICMP, tx), by reason.",
                       MetricType::Counter);
  for (const auto& c : cores_) {
    for (int r = 0; r < kNumL3DropReasons; ++r) {
      sample(drops,
             {{"core", std::to_string(c.core)},
              {"reason", std::string(to_string(static_cast<L3DropReason>(r)))}},
             as_double(c.dp->drops[static_cast<std::size_t>(r)].get()));
    }
  }
  for (const auto& def : kDpCounters) {
    auto& f = family(out, def.name, def.help, MetricType::Counter);
    for (const auto& c : cores_) {
      sample(f, {{"core", std::to_string(c.core)}}, as_double((c.dp->*def.field).get()));
    }
  }
  auto& steered = family(out, "shardtcp_steered_packets_total",
                         "Packets handed between cores by software steering.", MetricType::Counter);
  for (const auto& c : cores_) {
    sample(steered, {{"core", std::to_string(c.core)}, {"direction", "out"}},
           as_double(c.dp->steered_out.get()));
    sample(steered, {{"core", std::to_string(c.core)}, {"direction", "in"}},
           as_double(c.dp->steered_in.get()));
  }
  auto& arp = family(out, "shardtcp_arp_cache_entries", "Entries in this core's ARP cache.",
                     MetricType::Gauge);
  auto& tcbs = family(out, "shardtcp_tcp_tcbs",
                      "Connection blocks in use (published by the core about every 10 ms).",
                      MetricType::Gauge);
  auto& tw = family(out, "shardtcp_tcp_time_wait_entries",
                    "Compact TIME-WAIT entries (published by the core about every 10 ms).",
                    MetricType::Gauge);
  for (const auto& c : cores_) {
    const std::string core = std::to_string(c.core);
    sample(arp, {{"core", core}}, static_cast<double>(c.dp->arp_cache_entries.get()));
    sample(tcbs, {{"core", core}}, static_cast<double>(c.dp->connections.get()));
    sample(tw, {{"core", core}}, static_cast<double>(c.dp->time_wait_entries.get()));
  }

  // The impairment stage (issue 15): all zero unless impair.* is set.
  auto& impair =
      family(out, "shardtcp_impair_frames_total",
             "Frames the impairment stage acted on, by direction and action.", MetricType::Counter);
  auto& held = family(out, "shardtcp_impair_held_frames",
                      "Frames held in the impairment stage's delay queue.", MetricType::Gauge);
  for (const auto& c : cores_) {
    const std::string core = std::to_string(c.core);
    for (std::size_t d = 0; d < 2; ++d) {
      const std::string dir = d == 0 ? "rx" : "tx";
      for (int a = 0; a < kNumImpairActions; ++a) {
        sample(impair,
               {{"core", core},
                {"direction", dir},
                {"action", std::string(to_string(static_cast<ImpairAction>(a)))}},
               as_double(c.dp->impair[d][static_cast<std::size_t>(a)].get()));
      }
      sample(held, {{"core", core}, {"direction", dir}},
             static_cast<double>(c.dp->impair_held[d].get()));
    }
  }

  // Interval gauges: what happened since the previous scrape (since start on
  // the first). For dashboards prefer rate() of the *_total counters; these
  // are for shardtcp-stat and a quick look.
  auto& busy = family(out, "shardtcp_loop_busy_ratio",
                      "Share of loop cycles spent on work since the previous scrape (0..1).",
                      MetricType::Gauge);
  auto& ppp = family(out, "shardtcp_loop_packets_per_poll",
                     "Packets received per non-empty rx burst since the previous scrape.",
                     MetricType::Gauge);
  for (std::size_t i = 0; i < cores_.size(); ++i) {
    const auto& dp = *cores_[i].dp;
    LoopSample now{dp.busy_cycles.get(), dp.total_cycles.get(), dp.rx_packets.get(),
                   dp.rx_bursts.get()};
    const LoopSample& prev = last_[i];
    const std::uint64_t total = now.total_cycles - prev.total_cycles;
    const std::uint64_t bursts = now.rx_bursts - prev.rx_bursts;
    const std::string core = std::to_string(cores_[i].core);
    sample(busy, {{"core", core}},
           total == 0 ? 0.0 : as_double(now.busy_cycles - prev.busy_cycles) / as_double(total));
    sample(ppp, {{"core", core}},
           bursts == 0 ? 0.0 : as_double(now.rx_packets - prev.rx_packets) / as_double(bursts));
    last_[i] = now;
  }
}

void MetricsExporter::Collector::collect_hooks(std::deque<MetricFamily>& out) const {
  if (hooks_.port_stats) {
    const std::vector<PortStats> ports = hooks_.port_stats();
    struct PortDef {
      const char* name;
      const char* help;
      std::uint64_t PortStats::*field;
    };
    static constexpr PortDef kPort[] = {
        {"shardtcp_port_rx_packets_total", "Packets received by the port (PMD ipackets).",
         &PortStats::rx_packets},
        {"shardtcp_port_tx_packets_total", "Packets sent by the port (PMD opackets).",
         &PortStats::tx_packets},
        {"shardtcp_port_rx_bytes_total", "Bytes received by the port (PMD ibytes).",
         &PortStats::rx_bytes},
        {"shardtcp_port_tx_bytes_total", "Bytes sent by the port (PMD obytes).",
         &PortStats::tx_bytes},
        {"shardtcp_port_rx_errors_total", "Erroneous received packets (PMD ierrors).",
         &PortStats::rx_errors},
        {"shardtcp_port_tx_errors_total", "Failed transmissions (PMD oerrors).",
         &PortStats::tx_errors},
        {"shardtcp_port_rx_missed_total",
         "Packets dropped by the NIC because the rx ring was full (PMD imissed).",
         &PortStats::rx_missed},
        {"shardtcp_port_rx_nombuf_total", "Rx ring refills that found no mbuf (PMD rx_nombuf).",
         &PortStats::rx_nombuf},
    };
    for (const auto& def : kPort) {
      auto& f = family(out, def.name, def.help, MetricType::Counter);
      for (const auto& p : ports)
        sample(f, {{"port", std::to_string(p.port_id)}}, as_double(p.*def.field));
    }
    auto& up =
        family(out, "shardtcp_port_link_up", "1 if the port's link is up.", MetricType::Gauge);
    auto& speed = family(out, "shardtcp_port_link_speed_bytes",
                         "Link speed in bytes per second (0 if unknown).", MetricType::Gauge);
    auto& info =
        family(out, "shardtcp_port_info", "Port driver (value is always 1).", MetricType::Gauge);
    for (const auto& p : ports) {
      const std::string port = std::to_string(p.port_id);
      sample(up, {{"port", port}}, p.link_up ? 1.0 : 0.0);
      sample(speed, {{"port", port}}, as_double(p.link_speed_mbps) * 1e6 / 8);
      sample(info, {{"port", port}, {"driver", p.driver}}, 1.0);
    }
    struct QueueDef {
      const char* name;
      const char* help;
      bool rx;
      std::uint64_t PortStats::Queue::*field;
    };
    static constexpr QueueDef kQueue[] = {
        {"shardtcp_port_queue_rx_packets_total", "Packets received on the queue.", true,
         &PortStats::Queue::packets},
        {"shardtcp_port_queue_rx_bytes_total", "Bytes received on the queue.", true,
         &PortStats::Queue::bytes},
        {"shardtcp_port_queue_rx_errors_total", "Packets dropped on the queue (PMD q_errors).",
         true, &PortStats::Queue::errors},
        {"shardtcp_port_queue_tx_packets_total", "Packets sent on the queue.", false,
         &PortStats::Queue::packets},
        {"shardtcp_port_queue_tx_bytes_total", "Bytes sent on the queue.", false,
         &PortStats::Queue::bytes},
    };
    for (const auto& def : kQueue) {
      auto& f = family(out, def.name, def.help, MetricType::Counter);
      for (const auto& p : ports) {
        for (const auto& q : def.rx ? p.rx_queues : p.tx_queues) {
          sample(f, {{"port", std::to_string(p.port_id)}, {"queue", std::to_string(q.id)}},
                 as_double(q.*def.field));
        }
      }
    }
  }
  if (hooks_.mempool_stats) {
    auto& f =
        family(out, "shardtcp_mempool_mbufs", "Mbufs per pool, in use or free.", MetricType::Gauge);
    for (const auto& p : hooks_.mempool_stats()) {
      sample(f, {{"pool", p.name}, {"state", "in_use"}}, as_double(p.in_use));
      sample(f, {{"pool", p.name}, {"state", "free"}}, as_double(p.free));
    }
  }
  // Application counters: consecutive entries with one name share a family.
  MetricFamily* app = nullptr;
  for (const AppCounter& a : hooks_.app_counters) {
    if (app == nullptr || app->name != a.name) {
      app = &family(out, a.name, a.help, MetricType::Counter);
    }
    for (const auto& c : cores_) {
      const tcp::Counter* v = a.counter ? a.counter(c.core) : nullptr;
      if (v == nullptr) continue;
      if (a.label.empty()) {
        sample(*app, {{"core", std::to_string(c.core)}}, as_double(v->get()));
      } else {
        sample(*app, {{"core", std::to_string(c.core)}, {a.label.c_str(), a.label_value}},
               as_double(v->get()));
      }
    }
  }
  auto& build = family(out, "shardtcp_build_info", "Build information (value is always 1).",
                       MetricType::Gauge);
  sample(build, {{"version", hooks_.version}, {"dpdk_version", hooks_.dpdk_version}}, 1.0);
}

}  // namespace shardtcp::dataplane
