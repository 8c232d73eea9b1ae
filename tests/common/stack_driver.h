// Drives a server-side tcp::Stack with synthesized client segments, for the
// tests and benchmarks that open many connections through the public API
// (tests/unit/tcp/test_scale_timewait.cc, tests/bench/bench_memory.cc).
//
// Client i of N: 65,536 addresses of 198.19.0.0/16 times source ports from
// 1024, each talking to 198.18.0.1:80; its ISN is spread over the whole
// sequence space, so many connections cross 2^32 (wraparound exercised).
#pragma once

#include <cstdint>

#include "shardtcp/tcp/segment.h"
#include "shardtcp/tcp/stack.h"
#include "shardtcp/tcp/types.h"

namespace shardtcp::tcp::stack_driver {

inline constexpr Ipv4 kServerIp = 0xC6120001;   // 198.18.0.1
inline constexpr Ipv4 kClientNet = 0xC6130000;  // 198.19.0.0/16: N clients x ports
inline constexpr std::uint16_t kPort = 80;

inline FourTuple tuple_of(std::uint64_t i) {
  FourTuple t;
  t.local_ip = kServerIp;
  t.local_port = kPort;
  t.remote_ip = kClientNet + static_cast<std::uint32_t>(i & 0xFFFF);
  t.remote_port = static_cast<std::uint16_t>(1024 + (i >> 16));
  return t;
}

inline std::uint32_t peer_isn(std::uint64_t i) {
  return static_cast<std::uint32_t>(i * 0x9E3779B1u + 0xFFFFF000u);
}

// A client segment on `t`; a SYN carries MSS 1460 (callers add more options).
inline Segment client_segment(const FourTuple& t, std::uint8_t flags, std::uint32_t seq,
                              std::uint32_t ack, std::uint16_t window) {
  Segment s{.tuple = t, .seq = seq, .ack = ack, .flags = flags, .window = window, .opts = {}};
  if (flags & kSyn) {
    s.opts.has_mss = true;
    s.opts.mss = 1460;
  }
  return s;
}

// True if the last call produced exactly one segment (copied to `o`); the
// output is cleared either way.
inline bool take_one(Stack& stack, OutSegment& o) {
  const bool one = stack.output().size() == 1;
  if (one) o = stack.output().front();
  stack.clear_output();
  return one;
}

}  // namespace shardtcp::tcp::stack_driver
