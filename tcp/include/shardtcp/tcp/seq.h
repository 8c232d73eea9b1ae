// Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4, RFC 1982 style).
// Every comparison of sequence or acknowledgment numbers goes through these.
#pragma once

#include <cstdint>

namespace shardtcp::tcp {

constexpr std::int32_t seq_diff(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b);
}
constexpr bool seq_lt(std::uint32_t a, std::uint32_t b) { return seq_diff(a, b) < 0; }
constexpr bool seq_le(std::uint32_t a, std::uint32_t b) { return seq_diff(a, b) <= 0; }
constexpr bool seq_gt(std::uint32_t a, std::uint32_t b) { return seq_diff(a, b) > 0; }
constexpr bool seq_ge(std::uint32_t a, std::uint32_t b) { return seq_diff(a, b) >= 0; }
// lo <= x < hi, modulo 2^32.
constexpr bool seq_in(std::uint32_t x, std::uint32_t lo, std::uint32_t hi) {
  return seq_le(lo, x) && seq_lt(x, hi);
}
constexpr std::uint32_t seq_max(std::uint32_t a, std::uint32_t b) { return seq_gt(a, b) ? a : b; }
constexpr std::uint32_t seq_min(std::uint32_t a, std::uint32_t b) { return seq_lt(a, b) ? a : b; }

static_assert(seq_lt(0xFFFFFFF0u, 0x10u), "wraparound");
static_assert(seq_gt(0x10u, 0xFFFFFFF0u), "wraparound");
static_assert(seq_in(0u, 0xFFFFFFFFu, 1u), "window across 2^32");

}  // namespace shardtcp::tcp
