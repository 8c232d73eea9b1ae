// The report layout: one column per core, then the total (and the rate per
// second over the last interval in --watch mode). Counter wording follows
// netstat -s so an operator reads it the same way.
#include "report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace shardtcp::stat {
namespace {

constexpr const char* kStates[] = {"LISTEN",     "SYN-SENT",   "SYN-RECEIVED", "ESTABLISHED",
                                   "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT",   "CLOSING",
                                   "LAST-ACK",   "TIME-WAIT"};

struct Row {
  const char* metric;  // without the shardtcp_ prefix
  const char* text;
};

constexpr Row kTcpRows[] = {
    {"tcp_active_opens_total", "active connection openings"},
    {"tcp_passive_opens_total", "passive connection openings"},
    {"tcp_attempt_fails_total", "failed connection attempts"},
    {"tcp_estab_resets_total", "connection resets received"},
    {"tcp_segments_received_total", "segments received"},
    {"tcp_segments_sent_total", "segments sent out"},
    {"tcp_retransmitted_segments_total", "segments retransmitted"},
    {"tcp_bad_segments_total", "bad segments received"},
    {"tcp_rsts_received_total", "resets received"},
    {"tcp_rsts_sent_total", "resets sent"},
    {"tcp_out_of_order_segments_total", "segments queued out of order"},
    {"tcp_fast_retransmits_total", "fast retransmits"},
    {"tcp_rto_expirations_total", "retransmission timeouts"},
    {"tcp_timeouts_total", "connections aborted after retries"},
    {"tcp_delayed_acks_total", "delayed acks sent"},
    {"tcp_challenge_acks_total", "challenge ACKs sent"},
    {"tcp_challenge_acks_suppressed_total", "challenge ACKs suppressed"},
    {"tcp_syncookies_sent_total", "SYN cookies sent"},
    {"tcp_syncookies_validated_total", "SYN cookies received"},
    {"tcp_syncookies_failed_total", "invalid SYN cookies received"},
    {"tcp_listen_overflows_total", "times the listen queue overflowed"},
    {"tcp_listen_drops_total", "SYNs to LISTEN sockets dropped"},
    {"tcp_conn_limit_drops_total", "SYNs dropped at max_connections"},
    {"tcp_idle_evictions_total", "idle connections reset at max_connections"},
    {"tcp_oow_acks_suppressed_total", "out-of-window ACKs suppressed (rate limit)"},
    {"tcp_fin_wait2_timeouts_total", "FIN-WAIT-2 timeouts"},
    {"tcp_time_wait_expired_total", "TIME-WAIT entries expired"},
    {"tcp_time_wait_recycled_total", "TIME-WAIT entries recycled at capacity"},
    {"tcp_time_wait_reopens_total", "TIME-WAIT reopened by a new SYN"},
    {"tcp_keepalive_probes_total", "keep-alive probes sent"},
    {"tcp_zero_window_probes_total", "zero-window probes sent"},
};

constexpr Row kLinkRows[] = {
    {"core_rx_packets_total", "frames received"},
    {"core_tx_packets_total", "frames sent"},
    {"arp_requests_received_total", "ARP requests received"},
    {"arp_replies_sent_total", "ARP replies sent"},
    {"arp_requests_sent_total", "ARP requests sent"},
    {"arp_replies_received_total", "ARP replies received"},
    {"arp_resolve_failures_total", "ARP resolution failures"},
    {"icmp_echo_requests_total", "ICMP echo requests received"},
    {"icmp_echo_replies_total", "ICMP echo replies sent"},
};

std::string fmt_num(double v) {
  char buf[32];
  if (std::isnan(v)) return "-";
  if (std::fabs(v - std::round(v)) < 1e-9 && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f", v);
  }
  return buf;
}

class Table {
 public:
  Table(const Scrape& now, const ReportOptions& opt, std::vector<std::string> cores)
      : now_(now), opt_(opt), cores_(std::move(cores)) {}

  void header(std::string& out, const std::string& title) const {
    out += pad_right(title, kLabelWidth);
    for (const auto& c : cores_) out += pad_left("core " + c, kColWidth);
    out += pad_left("total", kColWidth);
    if (opt_.previous != nullptr) out += pad_left("/s", kColWidth);
    out += "\n";
  }

  // One line: per-core values of `metric` (with extra label match), total,
  // and the rate when watching. Returns false (prints nothing) for an
  // all-zero counter unless show_zero.
  // How the "total" column combines the cores: counts add up; an age is the
  // oldest; a ratio is the mean.
  enum class Agg { kSum, kMax, kMean };

  bool line(std::string& out, const std::string& metric, const std::string& text,
            const std::vector<std::pair<std::string, std::string>>& match = {}, bool rate = true,
            bool always = false, Agg agg = Agg::kSum) const {
    if (!now_.has(metric)) return false;
    double total = agg == Agg::kSum ? now_.sum(metric, match) : 0;
    std::string cells;
    for (const auto& c : cores_) {
      auto m = match;
      m.emplace_back("core", c);
      const double v = now_.sum(metric, m);
      if (agg == Agg::kMax) total = std::max(total, v);
      if (agg == Agg::kMean) total += v / static_cast<double>(cores_.size());
      cells += pad_left(fmt_num(v), kColWidth);
    }
    if (total == 0 && !opt_.show_zero && !always) return false;
    out += pad_right("  " + text, kLabelWidth) + cells;
    out += pad_left(fmt_num(agg == Agg::kMean ? std::round(total * 100) / 100 : total), kColWidth);
    if (opt_.previous != nullptr && rate) {
      const double d = total - opt_.previous->sum(metric, match);
      out += pad_left(fmt_num(std::round(d / opt_.interval_s * 10) / 10), kColWidth);
    }
    out += "\n";
    return true;
  }

  const std::vector<std::string>& cores() const { return cores_; }

 private:
  static constexpr std::size_t kLabelWidth = 40;
  static constexpr std::size_t kColWidth = 11;
  static std::string pad_right(std::string s, std::size_t w) {
    if (s.size() < w) s.append(w - s.size(), ' ');
    return s;
  }
  static std::string pad_left(const std::string& s, std::size_t w) {
    return s.size() >= w ? " " + s : std::string(w - s.size(), ' ') + s;
  }

  const Scrape& now_;
  const ReportOptions& opt_;
  std::vector<std::string> cores_;
};

void section_states(std::string& out, const Table& t) {
  t.header(out, "Connections");
  // Every state is shown, zero or not: the counts are the point of this tool.
  for (const char* state : kStates) {
    t.line(out, "shardtcp_tcp_connections", state, {{"state", state}},
           /*rate=*/false, /*always=*/true);
  }
}

}  // namespace

std::string render_report(const Scrape& s, const ReportOptions& opt) {
  std::string out;
  // Header: build info.
  std::string version = "?", dpdk = "?";
  for (const auto& smp : s.samples) {
    if (smp.name == "shardtcp_build_info") {
      version = smp.label("version");
      dpdk = smp.label("dpdk_version");
    }
  }
  out += "shardtcp " + version + " (" + (dpdk.empty() ? "no DPDK" : dpdk) + ")";
  if (!opt.source.empty()) out += "  " + opt.source;
  out += "\n\n";

  std::vector<std::string> cores = s.label_values("shardtcp_tcp_connections", "core");
  std::sort(cores.begin(), cores.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  const Table table(s, opt, cores);

  section_states(out, table);
  ReportOptions gauges = opt;
  gauges.previous = nullptr;
  gauges.show_zero = true;
  const Table gtable(s, gauges, cores);
  gtable.line(out, "shardtcp_tcp_close_wait_oldest_age_seconds", "oldest CLOSE-WAIT age (s)", {},
              false, false, Table::Agg::kMax);
  gtable.line(out, "shardtcp_tcp_time_wait_capacity", "TIME-WAIT capacity");
  gtable.line(out, "shardtcp_tcp_tcbs", "connection blocks in use");

  out += "\n";
  table.header(out, "Tcp");
  for (const auto& row : kTcpRows) table.line(out, std::string("shardtcp_") + row.metric, row.text);

  // Drops by reason: only the reasons that happened.
  std::string drops;
  for (const char* metric : {"shardtcp_tcp_drops_total", "shardtcp_ip_drops_total"}) {
    const std::string kind = metric == std::string("shardtcp_tcp_drops_total") ? "tcp " : "ip ";
    for (const auto& reason : s.label_values(metric, "reason")) {
      table.line(drops, metric, kind + reason, {{"reason", reason}});
    }
  }
  if (!drops.empty()) {
    out += "\n";
    table.header(out, "Drops");
    out += drops;
  }

  // Sections below print only when they have a line.
  std::string link;
  for (const auto& row : kLinkRows)
    table.line(link, std::string("shardtcp_") + row.metric, row.text);
  gtable.line(link, "shardtcp_arp_cache_entries", "ARP cache entries");
  if (!link.empty()) {
    out += "\n";
    table.header(out, "Link, ARP, ICMP");
    out += link;
  }

  std::string loop;
  gtable.line(loop, "shardtcp_loop_busy_ratio", "busy ratio (since last scrape)", {}, false, false,
              Table::Agg::kMean);
  gtable.line(loop, "shardtcp_loop_packets_per_poll", "packets per rx burst", {}, false, false,
              Table::Agg::kMean);
  if (!loop.empty()) {
    out += "\n";
    gtable.header(out, "Loop");
    out += loop;
  }

  // Ports and pools have their own labels.
  for (const auto& port : s.label_values("shardtcp_port_rx_packets_total", "port")) {
    auto v = [&](const char* m) { return fmt_num(s.sum(m, {{"port", port}})); };
    out += "\nPort " + port + ": rx " + v("shardtcp_port_rx_packets_total") + " packets " +
           v("shardtcp_port_rx_bytes_total") + " bytes, errors " +
           v("shardtcp_port_rx_errors_total") + ", missed " + v("shardtcp_port_rx_missed_total") +
           ", no mbuf " + v("shardtcp_port_rx_nombuf_total") + "\n        tx " +
           v("shardtcp_port_tx_packets_total") + " packets " + v("shardtcp_port_tx_bytes_total") +
           " bytes, errors " + v("shardtcp_port_tx_errors_total") + ", link " +
           (s.sum("shardtcp_port_link_up", {{"port", port}}) > 0 ? "up" : "down") + "\n";
  }
  for (const auto& pool : s.label_values("shardtcp_mempool_mbufs", "pool")) {
    const double used = s.sum("shardtcp_mempool_mbufs", {{"pool", pool}, {"state", "in_use"}});
    const double free = s.sum("shardtcp_mempool_mbufs", {{"pool", pool}, {"state", "free"}});
    char pct[16];
    std::snprintf(pct, sizeof pct, "%.1f%%", used + free > 0 ? 100 * used / (used + free) : 0.0);
    out += "Mempool " + pool + ": " + fmt_num(used) + " in use, " + fmt_num(free) + " free (" +
           pct + " used)\n";
  }
  return out;
}

}  // namespace shardtcp::stat
