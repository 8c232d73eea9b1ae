// Per-connection limit on answers to out-of-window segments, as Linux has
// it since 4.7 (__tcp_oow_rate_limited(), sysctl tcp_invalid_ratelimit):
// at most one ACK per `limit` for unacceptable segments, PAWS rejections,
// challenge ACKs and TIME-WAIT answers. It stops ACK loops between two
// desynchronized ends (each answering the other's out-of-window ACK) and
// bounds what a blind attacker gets back per connection.
//
// The stamp is 32 bits so the compact TIME-WAIT entry can keep one in its
// padding: (ms << 1) | 1 of the last answer, 0 = none yet. 31 bits of
// milliseconds wrap after 24.8 days; a stamp exactly that old can suppress
// one answer, which is harmless (Linux's 32-bit jiffies stamp does the same).
#pragma once

#include <cstdint>

#include "shardtcp/tcp/types.h"

namespace shardtcp::tcp {

// True when an answer at `now` must be suppressed; otherwise records `now`
// as the last answer. `limit` 0 disables the limit.
inline bool oow_rate_limited(std::uint32_t& stamp, TimeUs now, TimeUs limit) {
  if (limit == 0) return false;
  constexpr std::uint32_t kMask = 0x7fffffffu;
  const std::uint32_t now_ms = static_cast<std::uint32_t>(now / kUsPerMs) & kMask;
  if (stamp != 0) {
    const std::uint32_t elapsed = (now_ms - (stamp >> 1)) & kMask;
    if (elapsed < limit / kUsPerMs) return true;
  }
  stamp = (now_ms << 1) | 1u;
  return false;
}

}  // namespace shardtcp::tcp
