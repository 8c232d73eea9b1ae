// shardtcp-stat: `ss -s` / `netstat -s` for shardtcp. Fetches the exporter's
// /metrics over plain HTTP and prints per-state connection counts per core
// and total, then the key counters. No DPDK: it only talks HTTP.
//
//   shardtcp-stat                                  # http://127.0.0.1:9100/metrics
//   ip netns exec stcp-dp shardtcp-stat --watch    # refresh every second
//   shardtcp-stat --url http://127.0.0.1:9101/metrics --watch --count 10
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "http_get.h"
#include "prom_text.h"
#include "report.h"

#ifndef SHARDTCP_VERSION
#define SHARDTCP_VERSION "0.1.0"
#endif

namespace {

using shardtcp::stat::Scrape;

Scrape fetch(const shardtcp::stat::Url& url, std::chrono::milliseconds timeout) {
  const auto resp = shardtcp::stat::http_get(url, timeout);
  if (resp.status != 200) {
    throw std::runtime_error("GET " + url.path + ": HTTP status " + std::to_string(resp.status));
  }
  return shardtcp::stat::parse_text(resp.body);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"shardtcp-stat: connection states and counters of a running shardtcp"};
  std::string url_text = "http://127.0.0.1:9100/metrics";
  bool watch = false;
  unsigned count = 0;
  double interval = 1.0;
  bool all = false;
  bool raw = false;
  double timeout_s = 3.0;
  cli.add_option("--url,-u", url_text, "metrics endpoint (http://HOST:PORT/metrics or HOST:PORT)")
      ->capture_default_str();
  cli.add_flag("--watch,-w", watch, "refresh every --interval seconds");
  cli.add_option("--count,-c", count, "with --watch: stop after N refreshes (0 = until Ctrl-C)");
  cli.add_option("--interval,-i", interval, "seconds between refreshes")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cli.add_option("--timeout", timeout_s, "seconds to wait for the endpoint")
      ->check(CLI::Range(0.1, 60.0))
      ->capture_default_str();
  cli.add_flag("--all,-a", all, "also print counters that are zero");
  cli.add_flag("--raw", raw, "print the raw exposition text instead of the report");
  cli.set_version_flag("--version", std::string("shardtcp-stat ") + SHARDTCP_VERSION);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }

  shardtcp::stat::Url url;
  try {
    url = shardtcp::stat::parse_url(url_text);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "shardtcp-stat: --url: %s\n", e.what());
    return 2;
  }
  const auto timeout = std::chrono::milliseconds(static_cast<long>(timeout_s * 1000));
  const std::string source = "http://" + url_text.substr(url_text.rfind("http://", 0) == 0 ? 7 : 0);

  if (raw) {
    try {
      const auto resp = shardtcp::stat::http_get(url, timeout);
      std::fwrite(resp.body.data(), 1, resp.body.size(), stdout);
      return resp.status == 200 ? 0 : 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shardtcp-stat: %s\n", e.what());
      return 1;
    }
  }

  std::optional<Scrape> previous;
  int failures = 0;
  for (unsigned i = 0; !watch || count == 0 || i < count; ++i) {
    if (i > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<long>(interval * 1000)));
    }
    std::string text;
    try {
      Scrape now = fetch(url, timeout);
      shardtcp::stat::ReportOptions opt;
      opt.source = source;
      opt.show_zero = all;
      if (previous) {
        opt.previous = &*previous;
        opt.interval_s = interval;
      }
      text = shardtcp::stat::render_report(now, opt);
      previous = std::move(now);
    } catch (const std::exception& e) {
      ++failures;
      text = std::string("shardtcp-stat: ") + e.what() + "\n";
      previous.reset();
      if (!watch) {
        std::fputs(text.c_str(), stderr);
        return 1;
      }
    }
    if (watch) {
      const std::time_t t = std::time(nullptr);
      char stamp[32];
      std::strftime(stamp, sizeof stamp, "%H:%M:%S", std::localtime(&t));
      // Clear the screen and home the cursor (ANSI), like watch(1).
      std::printf(
          "\033[H\033[2J%s  every %.1fs%s\n", stamp, interval,
          count ? (", " + std::to_string(i + 1) + "/" + std::to_string(count)).c_str() : "");
    }
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
    if (!watch) break;
  }
  return failures == 0 ? 0 : 1;
}
