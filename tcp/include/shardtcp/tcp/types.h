// Basic value types shared by the whole engine. C++ std only: never <rte_*>.
#pragma once

#include <cstddef>
#include <cstdint>

namespace shardtcp::tcp {

// Monotonic time in microseconds. The engine never reads a clock: callers pass
// `now` in (the TSC in production, a virtual clock in tests).
using TimeUs = std::uint64_t;
inline constexpr TimeUs kUsPerMs = 1000;
inline constexpr TimeUs kUsPerSec = 1000 * 1000;
inline constexpr TimeUs kNever = ~TimeUs{0};

// IPv4 addresses and ports are in host byte order everywhere inside the engine.
using Ipv4 = std::uint32_t;

// A connection's identity, always from our point of view:
// local = the address/port on this host, remote = the peer.
struct FourTuple {
  Ipv4 local_ip = 0;
  Ipv4 remote_ip = 0;
  std::uint16_t local_port = 0;
  std::uint16_t remote_port = 0;

  friend bool operator==(const FourTuple&, const FourTuple&) = default;
};
static_assert(sizeof(FourTuple) == 12);

// A read-only view of contiguous bytes (received payload is a view into the
// mbuf it arrived in; valid only for the duration of the callback).
struct ByteView {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
};

}  // namespace shardtcp::tcp
