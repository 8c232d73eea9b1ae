// shardtcp-loadgen: load tester on the shardtcp stack (active opens).
//
//   shardtcp-loadgen --config config/httpd.toml --target IP:PORT [--target ...]
//       [--path /x] [--header 'Name: value' ...] [--raw SEND:EXPECT]
//       [--expect-bytes N] [--sha256 HEX | --no-verify]
//       [--concurrency C | --rate R [--arrivals uniform|poisson] [--max-open M]]
//       [--requests-per-conn N] [--pipeline D] [--close client|server|rst]
//       [--connections N] [--duration S] [--request-timeout S] [--timeout-s S]
//       [--src-ports A-B] [--src-port-start P] [--json FILE] [--quiet]
//       [--set KEY=VALUE ...]
//   shardtcp-loadgen --write-pattern N   (N bytes of the body pattern to stdout)
//
// Closed loop (--concurrency) or open loop (--rate, latency from each
// connection's intended start); see load_client.h. Bounded by --connections
// and/or --duration (with --duration alone the count is unlimited) and by
// --timeout-s; SIGINT stops the run and prints the summary so far. While it
// runs: one line per second (conn/s, req/s, open, errors, p50, p99 of the
// total latency over that second), rewritten in place on a terminal. Then a
// summary: connect / ttfb / total latency p50 p90 p99 p99.9 max, errors by
// kind, and with --json FILE the same for machines
// (app/loadgen/summary.schema.json). Exit status: 0 when every connection
// was good (and with --connections N, N of them), 1 otherwise, 2 on bad
// arguments or config. The loadgen options are taken out of argv first; the
// rest (--config, --set) is the common app command line; /metrics
// (client-side connection states and engine counters) is served when
// metrics.enabled is set, as for the servers. `--connect`, `--count` and
// `--bytes` are accepted as aliases.
#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "app_main.h"
#include "body_pattern.h"
#include "latency_histogram.h"
#include "load_client.h"
#include "shardtcp/dataplane/runtime.h"

namespace {

using namespace shardtcp;

bool parse_ipv4(const std::string& s, tcp::Ipv4& out) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) return false;
  out = ntohl(a.s_addr);
  return true;
}

int usage(const char* why) {
  std::fprintf(
      stderr,
      "shardtcp-loadgen: %s\nusage: shardtcp-loadgen [--config FILE] [--set K=V ...] "
      "--target IP:PORT [--target ...] [--path /x] [--header 'N: v' ...] [--raw SEND:EXPECT] "
      "[--expect-bytes N] [--sha256 HEX | --no-verify] [--concurrency C | --rate R "
      "[--arrivals uniform|poisson] [--max-open M]] [--requests-per-conn N] [--pipeline D] "
      "[--close client|server|rst] [--connections N] [--duration S] [--request-timeout S] "
      "[--timeout-s S] [--src-ports A-B] [--src-port-start P] [--json FILE] [--quiet]\n"
      "       shardtcp-loadgen --write-pattern N\n",
      why);
  return 2;
}

bool parse_uint(const std::string& v, unsigned long long max, unsigned long long& out) {
  if (v.empty() || !std::isdigit(static_cast<unsigned char>(v[0]))) return false;
  char* end = nullptr;
  out = std::strtoull(v.c_str(), &end, 10);
  return *end == '\0' && out <= max;
}

bool parse_seconds(const std::string& v, double max, double& out) {
  char* end = nullptr;
  out = std::strtod(v.c_str(), &end);
  return !v.empty() && *end == '\0' && out > 0 && out <= max;
}

struct Cli {
  app::LoadOptions o;
  std::string json_file;
  bool quiet = false;
};

// Takes the loadgen options out of argv (the remainder goes to app_main).
int parse_args(int argc, char** argv, Cli& cli, std::vector<char*>& rest) {
  app::LoadOptions& o = cli.o;
  bool have_count = false;
  rest.push_back(argv[0]);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    std::string v;
    auto value = [&]() {
      if (i + 1 >= argc) return false;
      v = argv[++i];
      return true;
    };
    unsigned long long n = 0;
    double d = 0;
    if (a == "--connect" || a == "--target") {
      if (!value()) return usage("--target needs IP:PORT");
      const std::size_t colon = v.rfind(':');
      app::Target t;
      if (colon == std::string::npos || !parse_ipv4(v.substr(0, colon), t.ip)) {
        return usage("--target: expected IPv4:PORT");
      }
      if (!parse_uint(v.substr(colon + 1), 65535, n) || n == 0) return usage("--target: bad port");
      t.port = static_cast<std::uint16_t>(n);
      o.targets.push_back(t);
    } else if (a == "--path") {
      if (!value() || v.empty() || v[0] != '/' || v.find_first_of("\r\n \t") != std::string::npos) {
        return usage("--path: /... without spaces");
      }
      o.path = v;
    } else if (a == "--header") {
      if (!value() || v.find(':') == std::string::npos || v.find(':') == 0 ||
          v.find_first_of("\r\n") != std::string::npos) {
        return usage("--header: 'Name: value' on one line");
      }
      o.headers.push_back(v);
    } else if (a == "--raw") {
      unsigned long long s = 0, e = 0;
      const std::size_t colon = value() ? v.find(':') : std::string::npos;
      if (colon == std::string::npos || !parse_uint(v.substr(0, colon), 65536, s) || s == 0 ||
          !parse_uint(v.substr(colon + 1), 1ull << 40, e)) {
        return usage("--raw SEND:EXPECT: bytes to send (1..65536) and to read per exchange");
      }
      o.raw = true;
      o.raw_send = static_cast<std::size_t>(s);
      o.raw_expect = static_cast<std::size_t>(e);
    } else if (a == "--expect-bytes" || a == "--bytes") {
      if (!value() || !parse_uint(v, 1ull << 50, n)) return usage("--expect-bytes needs N");
      o.expect_bytes = static_cast<std::int64_t>(n);
    } else if (a == "--sha256") {
      if (!value() || v.size() != 64 ||
          v.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
        return usage("--sha256 needs 64 hex digits");
      }
      std::transform(v.begin(), v.end(), v.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      o.sha256 = v;
      o.verify_pattern = false;
    } else if (a == "--connections" || a == "--count") {
      if (!value() || !parse_uint(v, 1ull << 40, n)) return usage("--connections: 0..2^40");
      o.connections = n;
      have_count = true;
    } else if (a == "--concurrency") {
      if (!value() || !parse_uint(v, 1000000, n) || n == 0) {
        return usage("--concurrency: 1..1000000");
      }
      o.concurrency = static_cast<unsigned>(n);
    } else if (a == "--rate") {
      if (!value() || !parse_seconds(v, 1e8, d)) return usage("--rate: connections/s, > 0");
      o.rate = d;
    } else if (a == "--arrivals") {
      if (!value() || (v != "uniform" && v != "poisson")) {
        return usage("--arrivals: uniform or poisson");
      }
      o.poisson = v == "poisson";
    } else if (a == "--max-open") {
      if (!value() || !parse_uint(v, 1000000, n) || n == 0) return usage("--max-open: 1..1000000");
      o.max_open = static_cast<unsigned>(n);
    } else if (a == "--requests-per-conn") {
      if (!value() || !parse_uint(v, 1u << 30, n)) return usage("--requests-per-conn: 0..2^30");
      o.requests_per_conn = static_cast<unsigned>(n);
    } else if (a == "--pipeline") {
      if (!value() || !parse_uint(v, app::kMaxPipeline, n) || n == 0) {
        return usage("--pipeline: 1..64");
      }
      o.pipeline = static_cast<unsigned>(n);
    } else if (a == "--close") {
      if (!value()) return usage("--close: client, server or rst");
      if (v == "client") {
        o.close = app::CloseMode::kClient;
      } else if (v == "server") {
        o.close = app::CloseMode::kServer;
      } else if (v == "rst") {
        o.close = app::CloseMode::kRst;
      } else {
        return usage("--close: client, server or rst");
      }
    } else if (a == "--duration") {
      if (!value() || !parse_seconds(v, 86400, d)) return usage("--duration: seconds, (0, 86400]");
      o.duration = static_cast<tcp::TimeUs>(d * 1e6);
    } else if (a == "--request-timeout") {
      if (!value() || !parse_seconds(v, 3600, d)) return usage("--request-timeout: seconds");
      o.request_timeout = static_cast<tcp::TimeUs>(d * 1e6);
    } else if (a == "--timeout-s") {
      if (!value() || !parse_uint(v, 86400, n) || n == 0) return usage("--timeout-s: 1..86400");
      o.timeout = static_cast<tcp::TimeUs>(n) * tcp::kUsPerSec;
    } else if (a == "--src-ports") {
      unsigned lo = 0, hi = 0;
      if (!value() || std::sscanf(v.c_str(), "%u-%u", &lo, &hi) != 2 || lo < 1024 || hi > 65535 ||
          lo > hi) {
        return usage("--src-ports: A-B within 1024-65535");
      }
      o.src_port_min = static_cast<std::uint16_t>(lo);
      o.src_port_max = static_cast<std::uint16_t>(hi);
    } else if (a == "--src-port-start") {
      if (!value() || !parse_uint(v, 65535, n) || n < 1024) return usage("--src-port-start: port");
      o.src_port_start = static_cast<std::uint16_t>(n);
    } else if (a == "--no-verify") {
      o.verify_pattern = false;
    } else if (a == "--json") {
      if (!value() || v.empty()) return usage("--json needs a file name");
      cli.json_file = v;
    } else if (a == "--quiet") {
      cli.quiet = true;
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (o.targets.empty()) return usage("--target is required");
  if (o.src_port_start == 0) {
    std::random_device rd;
    o.src_port_start = static_cast<std::uint16_t>(
        o.src_port_min + rd() % (std::uint32_t{o.src_port_max} - o.src_port_min + 1));
  }
  if (!have_count && o.duration != 0) o.connections = 0;  // --duration alone: no count bound
  if (o.connections == 0 && o.duration == 0) return usage("--connections 0 needs --duration");
  if (o.requests_per_conn == 0 && o.duration == 0) {
    return usage("--requests-per-conn 0 (keep-alive until the end) needs --duration");
  }
  if (o.rate > 0 && o.concurrency != 0) return usage("--rate and --concurrency exclude each other");
  if (o.raw) o.verify_pattern = false;
  return 0;
}

// Per-core engine / dataplane counters read after the loops stopped.
struct CoreReport {
  unsigned lcore = 0;
  std::uint64_t rx = 0, steered_in_tcp = 0, active_opens = 0, no_listener = 0, out_rsts = 0,
                retrans = 0, rto = 0, fast_retrans = 0, ooo = 0;
};

void print_result(const app::ConnResult& r) {
  std::printf(
      "shardtcp-loadgen: conn %llu sport %u: %s%s status %d content-length %llu body %llu "
      "responses %llu mismatch-at %lld close %s%s%s\n",
      static_cast<unsigned long long>(r.id), r.src_port, r.ok() ? "OK" : "FAILED ",
      r.ok() ? "" : app::to_string(r.failure), r.status,
      static_cast<unsigned long long>(r.content_length), static_cast<unsigned long long>(r.body),
      static_cast<unsigned long long>(r.responses), static_cast<long long>(r.first_mismatch),
      tcp::to_string(r.reason), r.sha256.empty() ? "" : " sha256 ", r.sha256.c_str());
}

using Clients = std::vector<std::unique_ptr<app::LoadClient>>;

app::LoadStats sum_stats(const Clients& clients) {
  app::LoadStats t;
  for (const auto& c : clients) {
    if (c) t.add(c->stats());
  }
  return t;
}

app::HistogramSnapshot merged(const Clients& clients, app::LatencyHistogram app::LiveStats::*h) {
  app::HistogramSnapshot s;
  for (const auto& c : clients) {
    if (c) s.add(c->stats().*h);
  }
  return s;
}

// One line per second while the run goes on (a thread of its own, reading
// the cores' relaxed counters; it never touches a core's state otherwise).
class LiveReporter {
 public:
  LiveReporter(const Clients& clients, bool tty) : clients_(clients), tty_(tty) {}
  void start() {
    th_ = std::thread([this] { loop(); });
  }
  void stop() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (th_.joinable()) th_.join();
    if (tty_ && printed_) std::fputc('\n', stderr);
  }

 private:
  void loop() {
    app::LoadStats prev;
    app::HistogramSnapshot prev_h;
    auto next = std::chrono::steady_clock::now();
    for (unsigned sec = 1;; ++sec) {
      next += std::chrono::seconds(1);
      {
        std::unique_lock<std::mutex> g(mu_);
        if (cv_.wait_until(g, next, [this] { return stop_; })) return;
      }
      const app::LoadStats now = sum_stats(clients_);
      const app::HistogramSnapshot h = merged(clients_, &app::LiveStats::total);
      const app::HistogramSnapshot d = h.minus(prev_h);
      std::fprintf(
          stderr, "%s[%4us] conn/s %llu req/s %llu open %llu errors %llu p50 %llu us p99 %llu us%s",
          tty_ ? "\r\033[K" : "shardtcp-loadgen: ", sec,
          static_cast<unsigned long long>(now.closed - prev.closed),
          static_cast<unsigned long long>(now.responses - prev.responses),
          static_cast<unsigned long long>(now.opened - now.closed),
          static_cast<unsigned long long>(now.failed),
          static_cast<unsigned long long>(d.percentile(50)),
          static_cast<unsigned long long>(d.percentile(99)), tty_ ? "" : "\n");
      std::fflush(stderr);
      printed_ = true;
      prev = now;
      prev_h = h;
    }
  }

  const Clients& clients_;
  bool tty_;
  bool printed_ = false;
  std::thread th_;
  std::mutex mu_;  // reporter thread and main thread only, never a dataplane core
  std::condition_variable cv_;
  bool stop_ = false;
};

struct Percentiles {
  std::uint64_t p50, p90, p99, p999, max;
};
Percentiles percentiles(const app::HistogramSnapshot& h) {
  return {h.percentile(50), h.percentile(90), h.percentile(99), h.percentile(99.9), h.max};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--write-pattern") == 0) {
    // The body pattern (app/common/body_pattern.h) for lab file servers.
    unsigned long long n = 0;
    if (!parse_uint(argv[2], 1ull << 40, n)) return usage("--write-pattern N");
    for (std::uint64_t off = 0; off < n;) {
      const std::size_t len =
          static_cast<std::size_t>(std::min<std::uint64_t>(n - off, app::kBodyPatternChunk));
      if (std::fwrite(app::body_pattern_at(off), 1, len, stdout) != len) return 1;
      off += len;
    }
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  Cli cli;
  std::vector<char*> rest;
  if (const int rc = parse_args(argc, argv, cli, rest); rc != 0) return rc;
  app::LoadOptions& opt = cli.o;
  const app::AppSpec spec{"shardtcp-loadgen",
                          "load tester on the shardtcp DPDK TCP stack (active opens)",
                          "config/httpd.toml", false};
  int result = 1;
  const int rc = app::app_main(
      static_cast<int>(rest.size()), rest.data(), spec, [&](const config::Config& cfg) {
        opt.local_ip = cfg.net.address;
        Clients clients(dataplane::kMaxCores);
        unsigned num_cores = 1;
        const dataplane::RuntimeInfo* info = nullptr;
        std::vector<CoreReport> reports;
        std::atomic<unsigned> cores_done{0};
        std::vector<char> counted(dataplane::kMaxCores, 0);  // each used by its core only
        tcp::TimeUs start = 0, stopped = 0;
        LiveReporter live(clients, isatty(STDERR_FILENO) != 0);
        std::atomic<unsigned> ready_cores{0};  // clients[0..n) made (exporter thread reads)
        dataplane::AppSetup setup;
        setup.on_started = [&](const dataplane::RuntimeInfo& i) {
          info = &i;
          num_cores = static_cast<unsigned>(i.cores.size());
          start = i.now_us();
          // Made here, before the loops start, so the reporter thread only
          // ever sees complete clients; each is then used by its core only.
          for (unsigned c = 0; c < num_cores; ++c) {
            clients[c] = std::make_unique<app::LoadClient>(opt, c, num_cores, i.now_us, start);
          }
          ready_cores.store(num_cores, std::memory_order_release);
          std::string targets;
          for (const app::Target& t : opt.targets) {
            targets += (targets.empty() ? "" : ",") + config::ipv4_to_string(t.ip) + ":" +
                       std::to_string(t.port);
          }
          const std::string load =
              opt.rate > 0 ? "rate " + std::to_string(static_cast<long long>(opt.rate)) + "/s " +
                                 (opt.poisson ? "poisson" : "uniform")
                           : "concurrency " +
                                 std::to_string(opt.concurrency != 0
                                                    ? opt.concurrency
                                                    : std::max<std::uint64_t>(opt.connections, 1));
          std::printf(
              "shardtcp-loadgen: %s connection(s)%s to %s%s over %u core(s), %s, %u request(s) "
              "per connection, source ports %u-%u from %u (each core uses those whose flow hash "
              "returns to it)\n",
              opt.connections != 0 ? std::to_string(opt.connections).c_str() : "unlimited",
              opt.duration != 0 ? (" for " + std::to_string(opt.duration / 1000) + " ms").c_str()
                                : "",
              targets.c_str(), opt.raw ? " (raw)" : opt.path.c_str(), num_cores, load.c_str(),
              opt.requests_per_conn, opt.src_port_min, opt.src_port_max, opt.src_port_start);
          std::fflush(stdout);
          if (!cli.quiet) live.start();
        };
        // Client-side counters on /metrics (with metrics.enabled), beside the
        // engine's: the connections by TCP state are the loadgen's own. Read
        // on the exporter thread; clients exist once ready_cores says so.
        auto counter = [&](const char* name, const char* help, const char* label, std::string value,
                           const tcp::Counter& (*pick)(const app::LiveStats&)) {
          setup.counters.push_back(dataplane::AppCounter{
              name, help, label, std::move(value),
              [&clients, &ready_cores, pick](unsigned core) -> const tcp::Counter* {
                if (core >= ready_cores.load(std::memory_order_acquire)) return nullptr;
                return &pick(clients[core]->stats());
              }});
        };
        counter("shardtcp_loadgen_connections_opened_total", "Connections opened by the loadgen.",
                "", "", [](const app::LiveStats& s) -> const tcp::Counter& { return s.opened; });
        counter("shardtcp_loadgen_connections_ok_total",
                "Connections that ended good (every response complete and verified).", "", "",
                [](const app::LiveStats& s) -> const tcp::Counter& { return s.ok; });
        counter("shardtcp_loadgen_requests_total", "Requests sent by the loadgen.", "", "",
                [](const app::LiveStats& s) -> const tcp::Counter& { return s.requests; });
        counter("shardtcp_loadgen_responses_total", "Responses complete and verified.", "", "",
                [](const app::LiveStats& s) -> const tcp::Counter& { return s.responses; });
        // One entry per kind, consecutive: the exporter makes them one family.
        for (int k = 1; k < app::kNumFailures; ++k) {
          setup.counters.push_back(dataplane::AppCounter{
              "shardtcp_loadgen_errors_total",
              "Failed connections by kind (the summary's error kinds).", "kind",
              app::to_string(static_cast<app::Failure>(k)),
              [&clients, &ready_cores, k](unsigned core) -> const tcp::Counter* {
                if (core >= ready_cores.load(std::memory_order_acquire)) return nullptr;
                return &clients[core]->stats().by_failure[static_cast<std::size_t>(k)];
              }});
        }
        if (opt.rate > 0) {  // open loop only: arrivals are paced every loop iteration
          setup.poll = [&](tcp::Stack& stack, unsigned core) {
            if (!counted[core]) clients[core]->poll(stack);
          };
        }
        // Bounds and per-response timeouts are enforced from housekeeping,
        // about every 10 ms on each core.
        setup.housekeeping = [&](tcp::Stack& stack, unsigned core) {
          auto& c = clients[core];
          if (counted[core]) return;
          c->tick(stack);  // no-op once done
          if (c->done()) {
            counted[core] = true;
            if (cores_done.fetch_add(1) + 1 == num_cores) dataplane::request_stop();
          }
        };
        setup.on_stopping = [&]() {
          if (info == nullptr) return;
          stopped = info->now_us();
          live.stop();
          for (const dataplane::CoreView& v : info->cores) {
            CoreReport r;
            r.lcore = v.lcore;
            r.rx = v.dp->rx_packets.get();
            r.steered_in_tcp = v.dp->steered_in_tcp.get();
            r.active_opens = v.tcp->active_opens.get();
            r.no_listener = v.tcp->drops[static_cast<int>(tcp::DropReason::kNoListenerRst)].get();
            r.out_rsts = v.tcp->out_rsts.get();
            r.retrans = v.tcp->retrans_segs.get();
            r.rto = v.tcp->rto_expirations.get();
            r.fast_retrans = v.tcp->fast_retransmits.get();
            r.ooo = v.tcp->ooo_segs.get();
            reports.push_back(r);
          }
        };
        const int run_rc = dataplane::run(cfg, setup);
        live.stop();

        const app::LoadStats total = sum_stats(clients);
        // The run starts after the warm-up (load_client.h), on the first core.
        tcp::TimeUs run_start = 0;
        for (const auto& c : clients) {
          if (c && c->started_at() != 0 && (run_start == 0 || c->started_at() < run_start)) {
            run_start = c->started_at();
          }
        }
        if (run_start != 0) start = run_start;
        std::vector<const app::ConnResult*> kept;
        for (const auto& c : clients) {
          if (!c) continue;
          for (const app::ConnResult& r : c->results()) kept.push_back(&r);
        }
        std::sort(kept.begin(), kept.end(),
                  [](const app::ConnResult* a, const app::ConnResult* b) { return a->id < b->id; });
        const bool all_lines = total.opened <= app::LoadClient::kKeepResults;
        for (const app::ConnResult* r : kept) {
          if (all_lines || !r->ok()) print_result(*r);
        }
        // Rates over the run: from the common start to the last close (or
        // to the stop, when interrupted with connections still open).
        const tcp::TimeUs end =
            std::max(total.last_close, total.opened > total.closed ? stopped : 0);
        const double secs = end > start ? static_cast<double>(end - start) / 1e6 : 0.0;
        const double conn_s = secs > 0 ? static_cast<double>(total.closed) / secs : 0.0;
        const double req_s = secs > 0 ? static_cast<double>(total.responses) / secs : 0.0;
        std::printf(
            "shardtcp-loadgen: summary: %llu connection(s), %llu ok, %llu failed, %llu "
            "request(s), %llu response(s), %llu body bytes in %.2f s (%.1f MB/s, %.0f "
            "connections/s, %.0f requests/s)\n",
            static_cast<unsigned long long>(total.opened + total.by_failure[1]),
            static_cast<unsigned long long>(total.ok),
            static_cast<unsigned long long>(total.failed),
            static_cast<unsigned long long>(total.requests),
            static_cast<unsigned long long>(total.responses),
            static_cast<unsigned long long>(total.body_bytes), secs,
            secs > 0 ? static_cast<double>(total.body_bytes) / secs / 1e6 : 0.0, conn_s, req_s);
        const app::HistogramSnapshot h_connect = merged(clients, &app::LiveStats::connect);
        const app::HistogramSnapshot h_ttfb = merged(clients, &app::LiveStats::ttfb);
        const app::HistogramSnapshot h_total = merged(clients, &app::LiveStats::total);
        const std::pair<const char*, const app::HistogramSnapshot*> lat[] = {
            {"connect", &h_connect}, {"ttfb", &h_ttfb}, {"total", &h_total}};
        for (const auto& [name, h] : lat) {
          const Percentiles p = percentiles(*h);
          std::printf(
              "shardtcp-loadgen: latency %-7s (us, %llu samples): p50 %llu p90 %llu p99 %llu "
              "p99.9 %llu max %llu\n",
              name, static_cast<unsigned long long>(h->total),
              static_cast<unsigned long long>(p.p50), static_cast<unsigned long long>(p.p90),
              static_cast<unsigned long long>(p.p99), static_cast<unsigned long long>(p.p999),
              static_cast<unsigned long long>(p.max));
        }
        std::string reasons;
        for (int i = 0; i < app::kNumCloseReasons; ++i) {
          reasons += std::string(" ") + tcp::to_string(static_cast<tcp::CloseReason>(i)) + " " +
                     std::to_string(total.by_reason[i]);
        }
        std::printf("shardtcp-loadgen: close reasons:%s\n", reasons.c_str());
        std::string fails;
        for (int i = 1; i < app::kNumFailures; ++i) {
          if (total.by_failure[i] == 0) continue;
          fails += std::string(" ") + app::to_string(static_cast<app::Failure>(i)) + " " +
                   std::to_string(total.by_failure[i]);
        }
        std::printf("shardtcp-loadgen: failures:%s\n", fails.empty() ? " none" : fails.c_str());
        // Active opens pick source ports whose hash returns to the opening
        // core, so with software steering every segment of ours is handled by
        // the core holding its connection. "no-connection" counts segments
        // that found no connection at all: late duplicates after a close
        // (reordering, retransmissions) or misdirected ones. Steered-in TCP
        // packets show how often the PMD itself put a flow on another core's
        // queue (net_af_packet uses the kernel's hash, not ours).
        std::uint64_t no_conn = 0;
        for (std::size_t i = 0; i < reports.size(); ++i) {
          const CoreReport& r = reports[i];
          no_conn += r.no_listener;
          std::printf(
              "shardtcp-loadgen: core %zu (lcore %u): active opens %llu, rx %llu + steered-in tcp "
              "%llu, no-connection drops %llu, rsts sent %llu, retransmits %llu (rto %llu, fast "
              "%llu), out-of-order %llu\n",
              i, r.lcore, static_cast<unsigned long long>(r.active_opens),
              static_cast<unsigned long long>(r.rx),
              static_cast<unsigned long long>(r.steered_in_tcp),
              static_cast<unsigned long long>(r.no_listener),
              static_cast<unsigned long long>(r.out_rsts),
              static_cast<unsigned long long>(r.retrans), static_cast<unsigned long long>(r.rto),
              static_cast<unsigned long long>(r.fast_retrans),
              static_cast<unsigned long long>(r.ooo));
        }
        if (info != nullptr && info->hw_rss && !reports.empty()) {
          std::uint64_t steered = 0;
          for (const CoreReport& r : reports) steered += r.steered_in_tcp;
          if (steered != 0) {
            std::printf(
                "shardtcp-loadgen: note: RSS is on but %llu TCP packet(s) of our own flows were "
                "steered between cores (the PMD does not hash as owner_core() does)\n",
                static_cast<unsigned long long>(steered));
          }
        }
        if (no_conn != 0) {
          std::printf(
              "shardtcp-loadgen: note: %llu segment(s) found no connection (answered with RST): "
              "late duplicates after a close, or misdirected\n",
              static_cast<unsigned long long>(no_conn));
        }
        const std::uint64_t attempted = total.ok + total.failed;
        const std::uint64_t want = opt.connections != 0 ? opt.connections : attempted;
        const char* how = opt.raw               ? " (raw, size only)"
                          : !opt.sha256.empty() ? " by sha256"
                          : opt.verify_pattern  ? " byte for byte"
                                                : " (size only)";
        std::printf("shardtcp-loadgen: %llu/%llu downloads verified%s\n",
                    static_cast<unsigned long long>(total.ok),
                    static_cast<unsigned long long>(want), how);
        if (!cli.json_file.empty()) {
          // Schema: app/loadgen/summary.schema.json (README "shardtcp-loadgen").
          nlohmann::ordered_json j;
          j["connections_per_s"] = conn_s;
          j["requests_per_s"] = req_s;
          j["duration_s"] = secs;
          // Connections opened while --duration ran, per second of it: an
          // open-loop run's achieved rate (lower than --rate when the server
          // or the loadgen fell behind the schedule).
          // (Over the part of --duration that ran, when interrupted.)
          const tcp::TimeUs window =
              std::min<tcp::TimeUs>(opt.duration, stopped > start ? stopped - start : 0);
          j["opened_per_s"] = window != 0 ? static_cast<double>(total.opened_in_time) * 1e6 /
                                                static_cast<double>(window)
                                          : conn_s;
          j["connections"] = attempted;
          j["connections_ok"] = total.ok;
          j["requests"] = total.requests;
          j["responses"] = total.responses;
          j["body_bytes"] = total.body_bytes;
          nlohmann::ordered_json errors = nlohmann::ordered_json::object();
          for (int i = 1; i < app::kNumFailures; ++i) {
            errors[app::to_string(static_cast<app::Failure>(i))] = total.by_failure[i];
          }
          j["errors"] = errors;
          for (const auto& [name, h] : lat) {
            const Percentiles p = percentiles(*h);
            j["latency_us"][name] = {
                {"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}, {"p999", p.p999}, {"max", p.max}};
          }
          // The non-empty buckets themselves (index, count), so the summaries
          // of several generators merge exactly (deploy/k8s/loadgen/merge.py):
          // percentiles of a sum cannot be computed from the parts'
          // percentiles. At most kSize entries per histogram.
          for (const auto& [name, h] : lat) {
            nlohmann::ordered_json buckets = nlohmann::ordered_json::array();
            for (std::size_t i = 0; i < h->counts.size(); ++i) {
              if (h->counts[i] != 0) buckets.push_back({i, h->counts[i]});
            }
            j["histograms_us"][name] = {{"sub_bits", app::LatencyHistogram::kSubBits},
                                        {"total", h->total},
                                        {"max", h->max},
                                        {"buckets", std::move(buckets)}};
          }
          std::ofstream f(cli.json_file);
          f << j.dump(2) << "\n";
          if (!f) {
            std::fprintf(stderr, "shardtcp-loadgen: cannot write --json %s\n",
                         cli.json_file.c_str());
            return 1;
          }
        }
        const bool good =
            run_rc == dataplane::kExitOk && total.failed == 0 && total.ok == want && total.ok > 0;
        result = good ? 0 : 1;
        return run_rc;
      });
  if (rc != 0) return rc;
  return result;
}
