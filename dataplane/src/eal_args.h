// Builds the EAL argv from the config (no DPDK calls; unit-testable).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "shardtcp/config/config.h"

namespace shardtcp::dataplane {

struct EalPlan {
  std::vector<std::string> args;   // argv[0] included
  bool hugepages = false;          // false: --no-huge
  std::vector<std::string> notes;  // decisions worth a log line
};

// `cores`: number of lcores the EAL list names (cfg.lcores_count).
EalPlan plan_eal(const config::Config& cfg, const std::string& prog, unsigned cores);

// Bytes of free 2 MB + 1 GB hugepages on this host.
std::uint64_t free_hugepage_bytes();
// Rough memory the process needs (mbuf pools + slack).
std::uint64_t estimate_memory_bytes(const config::Config& cfg, unsigned cores);

}  // namespace shardtcp::dataplane
