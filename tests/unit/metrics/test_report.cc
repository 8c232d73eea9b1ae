// shardtcp-stat's report: states always shown, zero counters hidden, per-core
// and total columns, a rate column in watch mode, drops only when they happened.
#include <gtest/gtest.h>

#include <string>

#include "http_get.h"
#include "prom_text.h"
#include "report.h"

namespace shardtcp::stat {
namespace {

const char* const kText =
    "shardtcp_build_info{version=\"1.2.3\",dpdk_version=\"DPDK 22.11.4\"} 1\n"
    "shardtcp_tcp_connections{core=\"0\",state=\"ESTABLISHED\"} 4\n"
    "shardtcp_tcp_connections{core=\"1\",state=\"ESTABLISHED\"} 6\n"
    "shardtcp_tcp_connections{core=\"10\",state=\"ESTABLISHED\"} 1\n"
    "shardtcp_tcp_connections{core=\"0\",state=\"CLOSE-WAIT\"} 0\n"
    "shardtcp_tcp_passive_opens_total{core=\"0\"} 100\n"
    "shardtcp_tcp_passive_opens_total{core=\"1\"} 50\n"
    "shardtcp_tcp_passive_opens_total{core=\"10\"} 0\n"
    "shardtcp_tcp_active_opens_total{core=\"0\"} 0\n"
    "shardtcp_tcp_drops_total{core=\"0\",reason=\"paws\"} 3\n"
    "shardtcp_tcp_drops_total{core=\"0\",reason=\"bad_checksum\"} 0\n"
    "shardtcp_mempool_mbufs{pool=\"p0\",state=\"in_use\"} 25\n"
    "shardtcp_mempool_mbufs{pool=\"p0\",state=\"free\"} 75\n";

std::string line_of(const std::string& report, const std::string& start) {
  const auto pos = report.find("\n  " + start);
  if (pos == std::string::npos) return "";
  return report.substr(pos + 1, report.find('\n', pos + 1) - pos - 1);
}

std::string squeeze(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  return out;
}

TEST(Report, StatesCountersAndDrops) {
  const Scrape s = parse_text(kText);
  ReportOptions opt;
  opt.source = "http://x:1/metrics";
  const std::string r = render_report(s, opt);
  EXPECT_NE(r.find("shardtcp 1.2.3 (DPDK 22.11.4)  http://x:1/metrics"), std::string::npos) << r;
  // Cores sorted numerically: 0, 1, 10, then the total.
  EXPECT_NE(r.find("core 0     core 1    core 10      total"), std::string::npos) << r;
  EXPECT_EQ(squeeze(line_of(r, "ESTABLISHED")), "ESTABLISHED 4 6 1 11") << r;
  EXPECT_EQ(squeeze(line_of(r, "TIME-WAIT")), "TIME-WAIT 0 0 0 0") << r;  // absent = 0, shown
  EXPECT_EQ(squeeze(line_of(r, "passive connection openings")),
            "passive connection openings 100 50 0 150");
  EXPECT_EQ(line_of(r, "active connection openings"), "");  // zero: hidden
  EXPECT_EQ(squeeze(line_of(r, "tcp paws")), "tcp paws 3 0 0 3");
  EXPECT_EQ(line_of(r, "tcp bad_checksum"), "");
  EXPECT_NE(r.find("Mempool p0: 25 in use, 75 free (25.0% used)"), std::string::npos) << r;

  opt.show_zero = true;
  EXPECT_NE(line_of(render_report(s, opt), "active connection openings"), "");
}

TEST(Report, WatchModeAddsARate) {
  const Scrape before = parse_text(kText);
  std::string later = kText;
  later.replace(later.find("passive_opens_total{core=\"0\"} 100"),
                std::string("passive_opens_total{core=\"0\"} 100").size(),
                "passive_opens_total{core=\"0\"} 300");
  const Scrape after = parse_text(later);
  ReportOptions opt;
  opt.previous = &before;
  opt.interval_s = 2.0;
  const std::string r = render_report(after, opt);
  EXPECT_EQ(squeeze(line_of(r, "passive connection openings")),
            "passive connection openings 300 50 0 350 100");
}

TEST(Url, Forms) {
  Url u = parse_url("http://127.0.0.1:9100/metrics");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 9100);
  EXPECT_EQ(u.path, "/metrics");
  u = parse_url("localhost:9101");
  EXPECT_EQ(u.host, "localhost");
  EXPECT_EQ(u.port, 9101);
  EXPECT_EQ(u.path, "/metrics");
  u = parse_url("http://[::1]:9100/x");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.path, "/x");
  u = parse_url("http://example");
  EXPECT_EQ(u.port, 80);
  for (const char* bad : {"https://x:1", "http://:80", "x:0", "x:70000", "x:9a", "[::1"}) {
    EXPECT_THROW(parse_url(bad), std::invalid_argument) << bad;
  }
}

}  // namespace
}  // namespace shardtcp::stat
