// shardtcp-loadgen: client-side driver of the shardtcp stack (active opens).
// HTTP/1.1 GETs (`Connection: close`, one request per connection) to a
// server in the lab, C at a time, spread over the cores; every body is
// checked (length, SHA-256 and/or the lab pattern), then a summary is
// printed and the process exits: 0 when every connection was a complete,
// correct download, 1 otherwise, 2 on bad arguments or config.
//
//   shardtcp-loadgen --config config/httpd.toml --connect 198.18.0.2:8080
//       --path /file.bin [--expect-bytes N] [--sha256 HEX | --no-verify]
//       [--connections N | --count N] [--concurrency C] [--duration S]
//       [--timeout-s S] [--src-ports 20000-60000] [--src-port-start P]
//       [--set KEY=VALUE ...]
//
// Without --sha256 / --no-verify the body must be the lab pattern
// (load_client.h pattern_byte). --duration keeps opening connections for S
// seconds (with --connections 0: no count limit); --timeout-s bounds the
// whole run (open connections are aborted and count as failed). The loadgen
// options are taken out of argv first; the rest (--config, --set) is the
// common app command line. The target must be in 198.18.0.0/15 (the lab's
// benchmarking range). `--target` and `--bytes` are accepted as aliases.
#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "app_main.h"
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
  std::fprintf(stderr,
               "shardtcp-loadgen: %s\nusage: shardtcp-loadgen [--config FILE] [--set K=V ...] "
               "--connect IP:PORT [--path /x] [--expect-bytes N] [--sha256 HEX | --no-verify] "
               "[--connections N | --count N] [--concurrency C] [--duration S] [--timeout-s S] "
               "[--src-ports A-B] [--src-port-start P]\n",
               why);
  return 2;
}

bool parse_uint(const std::string& v, unsigned long long max, unsigned long long& out) {
  if (v.empty() || !std::isdigit(static_cast<unsigned char>(v[0]))) return false;
  char* end = nullptr;
  out = std::strtoull(v.c_str(), &end, 10);
  return *end == '\0' && out <= max;
}

// Takes the loadgen options out of argv (the remainder goes to app_main).
int parse_args(int argc, char** argv, app::LoadOptions& o, std::vector<char*>& rest) {
  bool have_target = false;
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
    if (a == "--connect" || a == "--target") {
      if (!value()) return usage("--connect needs IP:PORT");
      const std::size_t colon = v.find(':');
      if (colon == std::string::npos || !parse_ipv4(v.substr(0, colon), o.target_ip)) {
        return usage("--connect: expected IP:PORT");
      }
      if (!parse_uint(v.substr(colon + 1), 65535, n) || n == 0) return usage("--connect: bad port");
      o.target_port = static_cast<std::uint16_t>(n);
      have_target = true;
    } else if (a == "--path") {
      if (!value() || v.empty() || v[0] != '/' || v.find_first_of("\r\n ") != std::string::npos) {
        return usage("--path: /... without spaces");
      }
      o.path = v;
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
      if (!value() || !parse_uint(v, 10000000, n)) return usage("--connections: 0..10000000");
      o.connections = static_cast<unsigned>(n);
    } else if (a == "--concurrency") {
      if (!value() || !parse_uint(v, 100000, n) || n == 0) return usage("--concurrency: 1..100000");
      o.concurrency = static_cast<unsigned>(n);
    } else if (a == "--duration") {
      const double s = value() ? std::strtod(v.c_str(), nullptr) : -1;
      if (!(s > 0 && s <= 3600)) return usage("--duration: seconds, (0, 3600]");
      o.duration = static_cast<tcp::TimeUs>(s * 1e6);
    } else if (a == "--timeout-s") {
      if (!value() || !parse_uint(v, 3600, n) || n == 0) return usage("--timeout-s: 1..3600");
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
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (!have_target) return usage("--connect is required");
  if (o.src_port_start == 0) {
    std::random_device rd;
    o.src_port_start = static_cast<std::uint16_t>(
        o.src_port_min + rd() % (std::uint32_t{o.src_port_max} - o.src_port_min + 1));
  }
  if (o.connections == 0 && o.duration == 0) return usage("--connections 0 needs --duration");
  // Lab safety: traffic only to the benchmarking range 198.18.0.0/15.
  if ((o.target_ip & 0xFFFE0000u) != 0xC6120000u) {
    return usage("--connect must be inside 198.18.0.0/15");
  }
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
      "shardtcp-loadgen: conn %u sport %u: %s%s status %d content-length %llu body %llu "
      "mismatch-at %lld close %s%s%s\n",
      r.id, r.src_port, r.ok() ? "OK" : "FAILED ", r.ok() ? "" : app::to_string(r.failure),
      r.status, static_cast<unsigned long long>(r.content_length),
      static_cast<unsigned long long>(r.body), static_cast<long long>(r.first_mismatch),
      tcp::to_string(r.reason), r.sha256.empty() ? "" : " sha256 ", r.sha256.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  app::LoadOptions opt;
  std::vector<char*> rest;
  if (const int rc = parse_args(argc, argv, opt, rest); rc != 0) return rc;
  const app::AppSpec spec{"shardtcp-loadgen",
                          "HTTP download client on the shardtcp DPDK TCP stack (active opens)",
                          "config/httpd.toml", false};
  int result = 1;
  const int rc = app::app_main(
      static_cast<int>(rest.size()), rest.data(), spec, [&](const config::Config& cfg) {
        opt.local_ip = cfg.net.address;
        std::vector<std::unique_ptr<app::LoadClient>> clients(dataplane::kMaxCores);
        unsigned num_cores = 1;
        std::function<tcp::TimeUs()> now_us;
        const dataplane::RuntimeInfo* info = nullptr;
        std::vector<CoreReport> reports;
        std::atomic<unsigned> cores_done{0};
        std::vector<char> counted(dataplane::kMaxCores, 0);  // each used by its core only
        dataplane::AppSetup setup;
        setup.on_started = [&](const dataplane::RuntimeInfo& i) {
          info = &i;
          num_cores = static_cast<unsigned>(i.cores.size());
          now_us = i.now_us;
          std::printf(
              "shardtcp-loadgen: %s connection(s)%s to %s:%u%s over %u core(s), concurrency %u, "
              "source ports %u-%u from %u (each core uses those whose flow hash returns to it)\n",
              opt.connections != 0 ? std::to_string(opt.connections).c_str() : "unlimited",
              opt.duration != 0 ? (" for " + std::to_string(opt.duration / 1000) + " ms").c_str()
                                : "",
              config::ipv4_to_string(opt.target_ip).c_str(), opt.target_port, opt.path.c_str(),
              num_cores, opt.concurrency != 0 ? opt.concurrency : std::max(opt.connections, 1u),
              opt.src_port_min, opt.src_port_max, opt.src_port_start);
          std::fflush(stdout);
        };
        // Connections are opened (and the bounds enforced) from housekeeping,
        // about every 10 ms on each core, and refilled from on_closed.
        setup.housekeeping = [&](tcp::Stack& stack, unsigned core) {
          auto& c = clients[core];
          if (!c) c = std::make_unique<app::LoadClient>(opt, core, num_cores, now_us);
          if (counted[core]) return;
          c->tick(stack);  // no-op once done
          if (c->done()) {
            counted[core] = true;
            if (cores_done.fetch_add(1) + 1 == num_cores) dataplane::request_stop();
          }
        };
        setup.on_stopping = [&]() {
          if (info == nullptr) return;
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

        app::LoadStats total;
        std::vector<const app::ConnResult*> kept;
        for (const auto& c : clients) {
          if (!c) continue;
          total.add(c->stats());
          for (const app::ConnResult& r : c->results()) kept.push_back(&r);
        }
        std::sort(kept.begin(), kept.end(),
                  [](const app::ConnResult* a, const app::ConnResult* b) { return a->id < b->id; });
        const bool all_lines = total.opened <= app::LoadClient::kKeepResults;
        for (const app::ConnResult* r : kept) {
          if (all_lines || !r->ok()) print_result(*r);
        }
        const double secs = total.last_close > total.first_open
                                ? static_cast<double>(total.last_close - total.first_open) / 1e6
                                : 0.0;
        std::printf(
            "shardtcp-loadgen: summary: %llu connection(s), %llu ok, %llu failed, %llu body bytes "
            "in %.2f s (%.1f MB/s, %.0f connections/s)\n",
            static_cast<unsigned long long>(total.opened),
            static_cast<unsigned long long>(total.ok),
            static_cast<unsigned long long>(total.failed),
            static_cast<unsigned long long>(total.body_bytes), secs,
            secs > 0 ? static_cast<double>(total.body_bytes) / secs / 1e6 : 0.0,
            secs > 0 ? static_cast<double>(total.ok + total.failed) / secs : 0.0);
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
        // the core holding its connection (a wrong choice would show up as
        // failed handshakes: the SYN-ACK would meet a core without the
        // connection and be answered with RST). "no-connection" counts
        // segments that found no connection at all: late duplicates after a
        // close (reordering, retransmissions) or misdirected ones. Steered-in
        // TCP packets show how often the PMD itself put a flow on another
        // core's queue (net_af_packet uses the kernel's hash, not ours; with
        // an RSS NIC and our symmetric key this is 0).
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
        const std::uint64_t want = opt.connections != 0 ? opt.connections : total.opened;
        const char* how = !opt.sha256.empty()  ? " by sha256"
                          : opt.verify_pattern ? " byte for byte"
                                               : " (size only)";
        std::printf("shardtcp-loadgen: %llu/%llu downloads verified%s\n",
                    static_cast<unsigned long long>(total.ok),
                    static_cast<unsigned long long>(want), how);
        const bool good =
            run_rc == dataplane::kExitOk && total.failed == 0 && total.ok == want && total.ok > 0;
        result = good ? 0 : 1;
        return run_rc;
      });
  if (rc != 0) return rc;
  return result;
}
