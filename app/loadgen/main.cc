// shardtcp-loadgen: client-side driver of the shardtcp stack (active opens).
// Downloads a file over HTTP/1.0 from a server in the lab on C connections
// spread over the cores and verifies every body byte against the lab
// pattern (load_client.h), then exits: 0 when every download was complete
// and correct, 1 otherwise, 2 on bad arguments or config.
//
//   shardtcp-loadgen --config config/httpd.toml --target 198.18.0.2:8080
//       --path /pattern.bin --bytes 8388608 --connections 4 [--timeout-s 120]
//       [--src-ports 20000-60000] [--no-verify]  [--set KEY=VALUE ...]
//
// The loadgen options are taken out of argv first; the rest (--config, --set)
// is the common app command line. The target must be in 198.18.0.0/15 (the
// lab's benchmarking range).
#include <arpa/inet.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
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
               "--target IP:PORT [--path /x] [--bytes N] [--connections C] [--timeout-s S] "
               "[--src-ports A-B] [--no-verify]\n",
               why);
  return 2;
}

// Takes the loadgen options out of argv (the remainder goes to app_main).
int parse_args(int argc, char** argv, app::LoadOptions& o, std::vector<char*>& rest) {
  bool have_target = false;
  rest.push_back(argv[0]);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string& v) {
      if (i + 1 >= argc) return false;
      v = argv[++i];
      return true;
    };
    std::string v;
    if (a == "--target") {
      if (!value(v)) return usage("--target needs IP:PORT");
      const std::size_t colon = v.find(':');
      if (colon == std::string::npos || !parse_ipv4(v.substr(0, colon), o.target_ip)) {
        return usage("--target: expected IP:PORT");
      }
      const long port = std::strtol(v.c_str() + colon + 1, nullptr, 10);
      if (port < 1 || port > 65535) return usage("--target: bad port");
      o.target_port = static_cast<std::uint16_t>(port);
      have_target = true;
    } else if (a == "--path") {
      if (!value(o.path) || o.path.empty() || o.path[0] != '/') return usage("--path: /...");
    } else if (a == "--bytes") {
      if (!value(v)) return usage("--bytes needs N");
      o.expect_bytes = std::strtoll(v.c_str(), nullptr, 10);
    } else if (a == "--connections") {
      if (!value(v)) return usage("--connections needs N");
      o.connections = static_cast<unsigned>(std::strtoul(v.c_str(), nullptr, 10));
      if (o.connections < 1 || o.connections > 10000) return usage("--connections: 1..10000");
    } else if (a == "--timeout-s") {
      if (!value(v)) return usage("--timeout-s needs S");
      const long s = std::strtol(v.c_str(), nullptr, 10);
      if (s < 1 || s > 3600) return usage("--timeout-s: 1..3600");
      o.timeout = static_cast<tcp::TimeUs>(s) * tcp::kUsPerSec;
    } else if (a == "--src-ports") {
      unsigned lo = 0, hi = 0;
      if (!value(v) || std::sscanf(v.c_str(), "%u-%u", &lo, &hi) != 2 || lo < 1024 || hi > 65535 ||
          lo > hi) {
        return usage("--src-ports: A-B within 1024-65535");
      }
      o.src_port_min = static_cast<std::uint16_t>(lo);
      o.src_port_max = static_cast<std::uint16_t>(hi);
    } else if (a == "--no-verify") {
      o.verify_pattern = false;
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (!have_target) return usage("--target is required");
  // Lab safety: traffic only to the benchmarking range 198.18.0.0/15.
  if ((o.target_ip & 0xFFFE0000u) != 0xC6120000u) {
    return usage("--target must be inside 198.18.0.0/15");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  app::LoadOptions opt;
  std::vector<char*> rest;
  if (const int rc = parse_args(argc, argv, opt, rest); rc != 0) return rc;
  const app::AppSpec spec{"shardtcp-loadgen",
                          "HTTP download client on the shardtcp DPDK TCP stack (active opens)",
                          "config/httpd.toml"};
  int result = 1;
  const int rc = app::app_main(
      static_cast<int>(rest.size()), rest.data(), spec, [&](const config::Config& cfg) {
        opt.local_ip = cfg.net.address;
        std::vector<std::unique_ptr<app::LoadClient>> clients(dataplane::kMaxCores);
        unsigned num_cores = 1;
        std::function<tcp::TimeUs()> now_us;
        std::atomic<unsigned> cores_done{0};
        std::vector<char> counted(dataplane::kMaxCores, 0);  // each used by its core only
        dataplane::AppSetup setup;
        setup.on_started = [&](const dataplane::RuntimeInfo& info) {
          num_cores = static_cast<unsigned>(info.cores.size());
          now_us = info.now_us;
          std::printf("shardtcp-loadgen: %u connection(s) to %s:%u%s over %u core(s)\n",
                      opt.connections, config::ipv4_to_string(opt.target_ip).c_str(),
                      opt.target_port, opt.path.c_str(), num_cores);
          std::fflush(stdout);
        };
        // Connections are opened (and the timeout enforced) from housekeeping,
        // about every 10 ms on each core.
        setup.housekeeping = [&](tcp::Stack& stack, unsigned core) {
          auto& c = clients[core];
          if (!c) c = std::make_unique<app::LoadClient>(opt, core, num_cores);
          if (counted[core]) return;
          c->tick(stack, now_us ? now_us() : 0);  // no-op once done
          // done() may have become true inside a callback since the last tick.
          if (c->done()) {
            counted[core] = true;
            if (cores_done.fetch_add(1) + 1 == num_cores) dataplane::request_stop();
          }
        };
        const int run_rc = dataplane::run(cfg, setup);
        unsigned ok = 0, total = 0;
        for (const auto& c : clients) {
          if (!c) continue;
          for (const app::ConnResult& r : c->results()) {
            ++total;
            const bool size_ok = opt.expect_bytes < 0 ||
                                 r.body == static_cast<std::uint64_t>(opt.expect_bytes);
            const bool good = r.ok() && size_ok;
            ok += good ? 1 : 0;
            std::printf(
                "shardtcp-loadgen: conn %u sport %u: %s status %d content-length %llu body %llu "
                "mismatch-at %lld close %s\n",
                r.id, r.src_port, good ? "OK" : "FAILED", r.status,
                static_cast<unsigned long long>(r.content_length),
                static_cast<unsigned long long>(r.body), static_cast<long long>(r.first_mismatch),
                tcp::to_string(r.reason));
          }
        }
        std::printf("shardtcp-loadgen: %u/%u downloads verified%s\n", ok, opt.connections,
                    opt.verify_pattern ? " byte for byte" : " (size only)");
        result = (run_rc == dataplane::kExitOk && ok == opt.connections && total == ok) ? 0 : 1;
        return run_rc;
      });
  if (rc != 0) return rc;
  return result;
}
