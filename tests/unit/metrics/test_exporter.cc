// MetricsExporter over a real loopback socket with fake per-core counters:
// values read at scrape time, every state per core, promtool-clean output,
// bind errors, stop, thread placement, and shardtcp-stat against it.
#include <gtest/gtest.h>

#include <dirent.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "http_get.h"
#include "prom_text.h"
#include "shardtcp/dataplane/metrics.h"

namespace shardtcp::dataplane {
namespace {

using stat::Scrape;
using tcp::State;

struct Fake {
  tcp::TcpCounters tcp[2];
  DataplaneCounters dp[2];
  std::atomic<tcp::TimeUs> now{25'500'000};
  tcp::Counter app[2][2];  // [core][counter]: an application's own counters
};

MetricsHooks make_hooks(Fake& f) {
  MetricsHooks h;
  h.port_stats = [] {
    PortStats p;
    p.port_id = 0;
    p.driver = "net_null";
    p.rx_packets = 100;
    p.tx_packets = 90;
    p.rx_bytes = 6400;
    p.tx_bytes = 5760;
    p.rx_errors = 1;
    p.rx_missed = 3;
    p.link_up = true;
    p.link_speed_mbps = 10000;
    p.rx_queues = {{0, 60, 3840, 0}, {1, 40, 2560, 0}};
    p.tx_queues = {{0, 90, 5760, 0}};
    return std::vector<PortStats>{p};
  };
  h.mempool_stats = [] {
    return std::vector<MempoolStats>{{"stcp_mb0", 1000, 15383}, {"stcp_mb1", 10, 16373}};
  };
  h.now_us = [&f] { return f.now.load(); };
  // AppSetup::counters as shardtcp-httpd and shardtcp-echo register them.
  h.app_counters.push_back({"shardtcp_http_timeouts_total", "HTTP timeouts.", "kind", "header",
                            [&f](unsigned core) { return core < 2 ? &f.app[core][0] : nullptr; }});
  h.app_counters.push_back({"shardtcp_http_timeouts_total", "HTTP timeouts.", "kind", "send",
                            [&f](unsigned core) { return core < 2 ? &f.app[core][1] : nullptr; }});
  h.app_counters.push_back({"shardtcp_echo_idle_timeouts_total", "Echo idle timeouts.", "", "",
                            [&f](unsigned core) { return core < 2 ? &f.app[core][0] : nullptr; }});
  h.version = "9.9.9";
  h.dpdk_version = "DPDK 22.11.1";
  return h;
}

void fill(Fake& f) {
  auto& t0 = f.tcp[0];
  t0.in(State::kListen).set(1);
  t0.in(State::kEstablished).set(5);
  t0.in(State::kCloseWait).set(3);
  t0.in(State::kTimeWait).set(7);
  t0.oldest_close_wait_since.set(10'000'000);  // now 25.5 s -> age 15.5 s
  t0.time_wait_capacity.set(1024);
  t0.active_opens.add(11);
  t0.passive_opens.add(12);
  t0.drop(tcp::DropReason::kBadChecksum);
  t0.drop(tcp::DropReason::kBadChecksum);
  auto& t1 = f.tcp[1];
  t1.in(State::kListen).set(1);
  t1.in(State::kTimeWait).set(2);
  t1.retrans_segs.add(4);
  t1.time_wait_capacity.set(1024);
  f.dp[1].drop(L3DropReason::kIpFragment);
  f.dp[0].busy_cycles.add(250);
  f.dp[0].total_cycles.add(1000);
  f.dp[0].rx_packets.add(64);
  f.dp[0].rx_bursts.add(8);
  f.dp[0].arp_cache_entries.set(2);
}

class ExporterTest : public testing::Test {
 protected:
  void SetUp() override {
    fill(fake_);
    config::MetricsConfig cfg;
    cfg.listen = "127.0.0.1:0";  // the kernel picks a free port
    exporter_ = std::make_unique<MetricsExporter>(
        cfg,
        std::vector<CoreSource>{{0, &fake_.tcp[0], &fake_.dp[0]}, {1, &fake_.tcp[1], &fake_.dp[1]}},
        make_hooks(fake_));
    exporter_->start();
    ASSERT_NE(exporter_->port(), 0);
  }

  std::string body() {
    const auto r = stat::http_get(stat::parse_url(exporter_->url()));
    EXPECT_EQ(r.status, 200);
    return r.body;
  }
  Scrape scrape() { return stat::parse_text(body()); }

  Fake fake_;
  std::unique_ptr<MetricsExporter> exporter_;
};

double get(const Scrape& s, const std::string& name,
           const std::vector<std::pair<std::string, std::string>>& labels) {
  const auto v = s.get(name, labels);
  EXPECT_TRUE(v.has_value()) << name;
  return v.value_or(-1);
}

TEST_F(ExporterTest, UrlNamesTheBoundPort) {
  EXPECT_EQ(exporter_->url(), "http://127.0.0.1:" + std::to_string(exporter_->port()) + "/metrics");
}

TEST_F(ExporterTest, PerStateGaugesPerCore) {
  const Scrape s = scrape();
  EXPECT_EQ(get(s, "shardtcp_tcp_connections", {{"core", "0"}, {"state", "ESTABLISHED"}}), 5);
  EXPECT_EQ(get(s, "shardtcp_tcp_connections", {{"core", "0"}, {"state", "CLOSE-WAIT"}}), 3);
  EXPECT_EQ(get(s, "shardtcp_tcp_connections", {{"core", "0"}, {"state", "TIME-WAIT"}}), 7);
  EXPECT_EQ(get(s, "shardtcp_tcp_connections", {{"core", "1"}, {"state", "TIME-WAIT"}}), 2);
  EXPECT_EQ(get(s, "shardtcp_tcp_connections", {{"core", "1"}, {"state", "LISTEN"}}), 1);
  // Every RFC 9293 state but CLOSED, on every core.
  for (const char* core : {"0", "1"}) {
    for (const char* st : {"LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
                           "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT"}) {
      EXPECT_TRUE(s.get("shardtcp_tcp_connections", {{"core", core}, {"state", st}})) << st;
    }
  }
  EXPECT_FALSE(s.get("shardtcp_tcp_connections", {{"state", "CLOSED"}}));
  EXPECT_EQ(s.label_values("shardtcp_tcp_connections", "state").size(), 10u);
}

TEST_F(ExporterTest, CloseWaitAgeUsesTheEngineClock) {
  Scrape s = scrape();
  EXPECT_DOUBLE_EQ(get(s, "shardtcp_tcp_close_wait_oldest_age_seconds", {{"core", "0"}}), 15.5);
  EXPECT_DOUBLE_EQ(get(s, "shardtcp_tcp_close_wait_oldest_age_seconds", {{"core", "1"}}), 0);
  fake_.now = 30'000'000;
  s = scrape();
  EXPECT_DOUBLE_EQ(get(s, "shardtcp_tcp_close_wait_oldest_age_seconds", {{"core", "0"}}), 20);
}

TEST_F(ExporterTest, CountersAreReadAtScrapeTime) {
  Scrape s = scrape();
  EXPECT_EQ(get(s, "shardtcp_tcp_active_opens_total", {{"core", "0"}}), 11);
  EXPECT_EQ(get(s, "shardtcp_tcp_passive_opens_total", {{"core", "0"}}), 12);
  EXPECT_EQ(get(s, "shardtcp_tcp_retransmitted_segments_total", {{"core", "1"}}), 4);
  EXPECT_EQ(get(s, "shardtcp_tcp_drops_total", {{"core", "0"}, {"reason", "bad_checksum"}}), 2);
  EXPECT_EQ(get(s, "shardtcp_ip_drops_total", {{"core", "1"}, {"reason", "ip_fragment"}}), 1);
  EXPECT_EQ(get(s, "shardtcp_tcp_time_wait_capacity", {{"core", "1"}}), 1024);
  EXPECT_EQ(get(s, "shardtcp_arp_cache_entries", {{"core", "0"}}), 2);
  // One reason label value per drop site.
  EXPECT_EQ(s.label_values("shardtcp_tcp_drops_total", "reason").size(),
            static_cast<std::size_t>(tcp::kNumDropReasons));
  EXPECT_EQ(s.label_values("shardtcp_ip_drops_total", "reason").size(),
            static_cast<std::size_t>(kNumL3DropReasons));

  fake_.tcp[0].active_opens.add(5);
  fake_.tcp[1].in(State::kTimeWait).set(0);
  s = scrape();
  EXPECT_EQ(get(s, "shardtcp_tcp_active_opens_total", {{"core", "0"}}), 16);
  EXPECT_EQ(get(s, "shardtcp_tcp_connections", {{"core", "1"}, {"state", "TIME-WAIT"}}), 0);
}

TEST_F(ExporterTest, LoopGaugesCoverTheIntervalSinceTheLastScrape) {
  Scrape s = scrape();
  EXPECT_DOUBLE_EQ(get(s, "shardtcp_loop_busy_ratio", {{"core", "0"}}), 0.25);
  EXPECT_DOUBLE_EQ(get(s, "shardtcp_loop_packets_per_poll", {{"core", "0"}}), 8);
  EXPECT_DOUBLE_EQ(get(s, "shardtcp_loop_busy_ratio", {{"core", "1"}}), 0);
  fake_.dp[0].busy_cycles.add(1000);
  fake_.dp[0].total_cycles.add(1000);
  fake_.dp[0].rx_packets.add(2);
  fake_.dp[0].rx_bursts.add(2);
  s = scrape();
  EXPECT_DOUBLE_EQ(get(s, "shardtcp_loop_busy_ratio", {{"core", "0"}}), 1.0);
  EXPECT_DOUBLE_EQ(get(s, "shardtcp_loop_packets_per_poll", {{"core", "0"}}), 1.0);
  EXPECT_EQ(get(s, "shardtcp_loop_busy_cycles_total", {{"core", "0"}}), 1250);
}

TEST_F(ExporterTest, PortPoolAndBuildInfo) {
  const Scrape s = scrape();
  EXPECT_EQ(get(s, "shardtcp_port_rx_packets_total", {{"port", "0"}}), 100);
  EXPECT_EQ(get(s, "shardtcp_port_tx_bytes_total", {{"port", "0"}}), 5760);
  EXPECT_EQ(get(s, "shardtcp_port_rx_missed_total", {{"port", "0"}}), 3);
  EXPECT_EQ(get(s, "shardtcp_port_rx_errors_total", {{"port", "0"}}), 1);
  EXPECT_EQ(get(s, "shardtcp_port_link_up", {{"port", "0"}}), 1);
  EXPECT_EQ(get(s, "shardtcp_port_link_speed_bytes", {{"port", "0"}}), 1.25e9);
  EXPECT_EQ(get(s, "shardtcp_port_queue_rx_packets_total", {{"port", "0"}, {"queue", "1"}}), 40);
  EXPECT_EQ(get(s, "shardtcp_port_info", {{"port", "0"}, {"driver", "net_null"}}), 1);
  EXPECT_EQ(get(s, "shardtcp_mempool_mbufs", {{"pool", "stcp_mb0"}, {"state", "in_use"}}), 1000);
  EXPECT_EQ(get(s, "shardtcp_mempool_mbufs", {{"pool", "stcp_mb1"}, {"state", "free"}}), 16373);
  EXPECT_EQ(get(s, "shardtcp_build_info", {{"version", "9.9.9"}, {"dpdk_version", "DPDK 22.11.1"}}),
            1);
}

// Runs `cmd`, returns its exit status and combined output.
std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, ""};
  char buf[4096];
  while (const std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST_F(ExporterTest, PromtoolCheckMetricsIsClean) {
  const std::string promtool = PROMTOOL_BIN;
  if (promtool.empty() || promtool.find("NOTFOUND") != std::string::npos) {
    GTEST_SKIP() << "promtool not installed";
  }
  char path[] = "/tmp/shardtcp-metrics-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string text = body();
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  const auto [rc, out] = run(promtool + " check metrics < " + path);
  unlink(path);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "") << "promtool lint findings:\n" << out;
}

TEST_F(ExporterTest, RenderMatchesTheHttpBodyFamilies) {
  const Scrape http = scrape();
  const Scrape local = stat::parse_text(exporter_->render());
  EXPECT_EQ(local.label_values("shardtcp_tcp_connections", "state"),
            http.label_values("shardtcp_tcp_connections", "state"));
  EXPECT_TRUE(local.has("shardtcp_build_info"));
}

TEST_F(ExporterTest, SecondBindOnTheSamePortFailsWithOneLine) {
  config::MetricsConfig cfg;
  cfg.listen = "127.0.0.1:" + std::to_string(exporter_->port());
  MetricsExporter second(cfg, {}, MetricsHooks{});
  try {
    second.start();
    FAIL() << "second bind succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "metrics.listen: cannot listen on " + cfg.listen + " (Address already in use)");
  }
  EXPECT_FALSE(second.running());
}

TEST_F(ExporterTest, StopClosesTheEndpoint) {
  const auto url = stat::parse_url(exporter_->url());
  exporter_->stop();
  EXPECT_FALSE(exporter_->running());
  EXPECT_EQ(exporter_->url(), "");
  EXPECT_THROW(stat::http_get(url, std::chrono::seconds(2)), std::runtime_error);
  exporter_->stop();  // idempotent
}

TEST_F(ExporterTest, ScrapesWhileCountersMove) {
  // A "dataplane core" bumps counters (bounded) while two scrapers read:
  // values never go backwards and the endpoint keeps answering.
  std::atomic<bool> done{false};
  std::thread core([&] {
    for (int i = 0; i < 2'000'000 && !done.load(std::memory_order_relaxed); ++i) {
      fake_.tcp[0].in_segs.inc();
      fake_.dp[0].rx_packets.inc();
    }
  });
  auto scraper = [&](int* failures) {
    double last = 0;
    for (int i = 0; i < 20; ++i) {
      const double v = scrape().sum("shardtcp_tcp_segments_received_total", {{"core", "0"}});
      if (v < last) ++*failures;
      last = v;
    }
  };
  int f1 = 0, f2 = 0;
  std::thread s1(scraper, &f1), s2(scraper, &f2);
  s1.join();
  s2.join();
  done = true;
  core.join();
  EXPECT_EQ(f1 + f2, 0);
}

TEST_F(ExporterTest, ShardtcpStatPrintsStatesAndCounters) {
  const std::string bin = SHARDTCP_STAT_BIN;
  auto [rc, out] = run(bin + " --url " + exporter_->url());
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("shardtcp 9.9.9 (DPDK 22.11.1)"), std::string::npos) << out;
  // State rows: core 0, core 1, total.
  EXPECT_NE(out.find("  CLOSE-WAIT"), std::string::npos) << out;
  std::istringstream lines(out);
  std::string line;
  bool saw_tw = false, saw_opens = false;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string a, b, c, d, e;
    words >> a;
    if (a == "TIME-WAIT" && (words >> b >> c >> d) && b != "capacity") {
      EXPECT_EQ(b + " " + c + " " + d, "7 2 9") << line;
      saw_tw = true;
    }
    if (line.find("passive connection openings") != std::string::npos) saw_opens = true;
  }
  EXPECT_TRUE(saw_tw) << out;
  EXPECT_TRUE(saw_opens) << out;
  EXPECT_NE(out.find("tcp bad_checksum"), std::string::npos) << out;
  EXPECT_NE(out.find("Mempool stcp_mb0: 1000 in use"), std::string::npos) << out;

  std::tie(rc, out) = run(bin + " --url " + exporter_->url() + " --watch --count 2 --interval 0.1");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("2/2"), std::string::npos) << out;
  EXPECT_NE(out.find("/s"), std::string::npos) << out;  // rate column from the 2nd refresh

  std::tie(rc, out) = run(bin + " --url http://127.0.0.1:1/metrics --timeout 1");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("connect 127.0.0.1:1: Connection refused"), std::string::npos) << out;
  std::tie(rc, out) = run(bin + " --url ftp://x");
  EXPECT_EQ(rc, 2) << out;
}

// The HTTP thread must not share a CPU with a dataplane lcore.
TEST(ExporterThreads, AvoidTheDataplaneCpus) {
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2) GTEST_SKIP() << "needs 2 CPUs";
  Fake fake;
  config::MetricsConfig cfg;
  cfg.listen = "127.0.0.1:0";
  MetricsHooks hooks;
  hooks.avoid_cpus = {0};
  MetricsExporter e(cfg, {{0, &fake.tcp[0], &fake.dp[0]}}, hooks);
  e.start();
  int checked = 0;
  DIR* d = opendir("/proc/self/task");
  ASSERT_NE(d, nullptr);
  while (dirent* ent = readdir(d)) {
    if (ent->d_name[0] == '.') continue;
    const std::string base = std::string("/proc/self/task/") + ent->d_name;
    std::ifstream comm(base + "/comm");
    std::string name;
    std::getline(comm, name);
    if (name != "stcp-metrics") continue;
    std::ifstream status(base + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("Cpus_allowed_list:", 0) != 0) continue;
      // Same "0-1,3" syntax as an EAL core list.
      const std::string list = line.substr(line.find_first_not_of(" \t", 18));
      const auto cpus = config::parse_lcores(list);
      ASSERT_TRUE(cpus.has_value()) << list;
      EXPECT_EQ(std::count(cpus->begin(), cpus->end(), 0u), 0)
          << name << " may run on CPU 0: " << list;
      ++checked;
    }
  }
  closedir(d);
  EXPECT_GT(checked, 0) << "no stcp-metrics thread found";
}

// Every family the exporter serves is in the metrics reference table and every
// table row is served (with all hooks present), so docs, dashboard and alert
// rules (checked against the table by check_deploy.py) follow renames.
TEST(ExporterDocs, ReferenceTableMatchesTheFamilies) {
  auto read = [](const std::string& rel) {
    std::ifstream in(std::string(SHARDTCP_SOURCE_DIR) + "/" + rel);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  };
  std::string doc = read("deploy/prometheus/METRICS.md");
  if (doc.empty()) doc = read("README.md");  // merged by the lead
  Fake fake;
  config::MetricsConfig cfg;
  MetricsExporter e(cfg, {{0, &fake.tcp[0], &fake.dp[0]}}, make_hooks(fake));
  std::istringstream text(e.render());
  std::string line;
  std::set<std::string> served;
  while (std::getline(text, line)) {
    if (line.rfind("# TYPE shardtcp_", 0) != 0) continue;
    const std::string name = line.substr(7, line.find(' ', 7) - 7);
    served.insert(name);
    EXPECT_NE(doc.find("| `" + name + "` |"), std::string::npos) << name << " is not documented";
  }
  std::size_t pos = 0;
  while ((pos = doc.find("| `shardtcp_", pos)) != std::string::npos) {
    const std::size_t start = pos + 3;
    const std::string name = doc.substr(start, doc.find('`', start) - start);
    EXPECT_TRUE(served.count(name)) << name << " is documented but not served";
    pos = start;
  }
  EXPECT_GT(served.size(), 60u);
}

// An application's per-core counters (AppSetup::counters): one family per
// name, one series per core and label value, read at scrape time.
TEST(ExporterAppCounters, OneFamilyPerNameOneSeriesPerCoreAndLabel) {
  Fake fake;
  fake.app[0][0].add(7);
  fake.app[1][1].add(3);
  config::MetricsConfig cfg;
  MetricsExporter e(cfg, {{0, &fake.tcp[0], &fake.dp[0]}, {1, &fake.tcp[1], &fake.dp[1]}},
                    make_hooks(fake));
  const std::string text = e.render();
  auto count = [&](const std::string& what) {
    std::size_t n = 0;
    for (std::size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("# TYPE shardtcp_http_timeouts_total counter"), 1u);
  EXPECT_NE(text.find("shardtcp_http_timeouts_total{core=\"0\",kind=\"header\"} 7"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("shardtcp_http_timeouts_total{core=\"1\",kind=\"send\"} 3"),
            std::string::npos);
  EXPECT_NE(text.find("shardtcp_http_timeouts_total{core=\"0\",kind=\"send\"} 0"),
            std::string::npos);
  EXPECT_NE(text.find("shardtcp_echo_idle_timeouts_total{core=\"0\"} 7"), std::string::npos);
}

TEST(ExporterNoClock, CloseWaitAgeIsLeftOutWithoutAClock) {
  Fake fake;
  fill(fake);
  config::MetricsConfig cfg;
  cfg.listen = "127.0.0.1:0";
  MetricsExporter e(cfg, {{0, &fake.tcp[0], &fake.dp[0]}}, MetricsHooks{});
  const Scrape s = stat::parse_text(e.render());
  EXPECT_FALSE(s.has("shardtcp_tcp_close_wait_oldest_age_seconds"));
  EXPECT_TRUE(s.has("shardtcp_tcp_connections"));
  EXPECT_FALSE(s.has("shardtcp_port_rx_packets_total"));  // no port hook
}

}  // namespace
}  // namespace shardtcp::dataplane
