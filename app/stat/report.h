// Renders a scrape of shardtcp's /metrics like `ss -s` / `netstat -s`:
// connections per RFC 9293 state per core and total, then the key counters.
#pragma once

#include <string>

#include "prom_text.h"

namespace shardtcp::stat {

struct ReportOptions {
  std::string source;      // shown in the header (the URL)
  bool show_zero = false;  // also print counters that are 0 everywhere
  // When set (watch mode), counters also get a per-second column computed
  // against this earlier scrape taken `interval_s` before.
  const Scrape* previous = nullptr;
  double interval_s = 1.0;
};

std::string render_report(const Scrape& now, const ReportOptions& opt);

}  // namespace shardtcp::stat
