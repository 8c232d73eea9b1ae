// Set-up shared by the simulation tests: seeded engine configs and the
// standard lossy link.
#pragma once

#include <cstdint>

#include "shardtcp/tcp/config.h"
#include "sim_net.h"

namespace shardtcp::tcp::sim {

// A TcpConfig with its ISN secret derived from two keys, so a seed
// reproduces its run exactly (same ISNs). Each test file passes its own
// keys (seed + constant) and keeps the runs it always had.
inline TcpConfig seeded_config(std::uint64_t key0, std::uint64_t key1) {
  TcpConfig cfg;
  cfg.isn_secret[0] = splitmix64(key0);
  cfg.isn_secret[1] = splitmix64(key1) | 1;
  return cfg;
}

// 2 % loss, 1 % duplication, 3 % reordering, 1 % bit flips, 1 ms jitter.
inline LinkProfile lossy_link() {
  return LinkProfile{.name = "lossy",
                     .loss = 0.02,
                     .dup = 0.01,
                     .reorder = 0.03,
                     .corrupt = 0.01,
                     .jitter = 1 * kUsPerMs};
}

}  // namespace shardtcp::tcp::sim
