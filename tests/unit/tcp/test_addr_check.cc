// Source and destination address checks (RFC 1122 §3.2.1.3, §4.2.3.10,
// RFC 6890): the classifier the dataplane's rx path uses, and the engine's
// own refusal (defence in depth) to answer or keep state for such sources.
#include "shardtcp/tcp/addr_check.h"

#include "engine_harness.h"

namespace shardtcp::tcp::testing {
namespace {

constexpr Ipv4 ip(unsigned a, unsigned b, unsigned c, unsigned d) {
  return (a << 24) | (b << 16) | (c << 8) | d;
}
constexpr Ipv4 kOurs = ip(198, 18, 0, 1);
constexpr Ipv4 kMask24 = 0xFFFFFF00u;

struct Case {
  Ipv4 addr;
  Ipv4 mask;
  AddrClass want;
};

TEST(AddrCheck, ClassifiesEveryClass) {
  const Case cases[] = {
      {ip(198, 18, 0, 2), kMask24, AddrClass::kUnicast},
      {ip(198, 19, 0, 0), kMask24, AddrClass::kUnicast},    // another subnet's .0
      {ip(198, 18, 1, 255), kMask24, AddrClass::kUnicast},  // another subnet's broadcast
      {ip(223, 255, 255, 254), kMask24, AddrClass::kUnicast},
      {ip(1, 0, 0, 0), kMask24, AddrClass::kUnicast},
      {ip(0, 0, 0, 0), kMask24, AddrClass::kUnspecified},
      {ip(0, 1, 2, 3), kMask24, AddrClass::kUnspecified},
      {ip(127, 0, 0, 1), kMask24, AddrClass::kLoopback},
      {ip(127, 255, 255, 255), kMask24, AddrClass::kLoopback},
      {ip(224, 0, 0, 1), kMask24, AddrClass::kMulticast},
      {ip(239, 255, 255, 255), kMask24, AddrClass::kMulticast},
      {ip(240, 0, 0, 1), kMask24, AddrClass::kReserved},
      {ip(255, 255, 255, 254), kMask24, AddrClass::kReserved},
      {ip(255, 255, 255, 255), kMask24, AddrClass::kLimitedBroadcast},
      {ip(198, 18, 0, 255), kMask24, AddrClass::kDirectedBroadcast},
      {ip(198, 18, 0, 1), kMask24, AddrClass::kOurs},
      {ip(198, 18, 1, 255), 0xFFFFFE00u, AddrClass::kDirectedBroadcast},  // /23
      {ip(198, 18, 0, 255), 0xFFFFFE00u, AddrClass::kUnicast},            // inside a /23
      {ip(198, 18, 0, 3), 0xFFFFFFFCu, AddrClass::kDirectedBroadcast},    // /30
      // RFC 3021: a /31 has no broadcast; .0 and .1 are its two hosts.
      {ip(198, 18, 0, 0), 0xFFFFFFFEu, AddrClass::kUnicast},
      {ip(198, 18, 0, 2), 0xFFFFFFFFu, AddrClass::kUnicast},  // /32: no subnet
      {ip(198, 18, 0, 255), 0, AddrClass::kUnicast},          // mask unknown
  };
  for (const Case& c : cases) {
    EXPECT_EQ(classify_address(c.addr, kOurs, c.mask), c.want)
        << std::hex << c.addr << " mask " << c.mask << ": " << to_string(c.want);
    EXPECT_EQ(valid_source(c.addr, kOurs, c.mask), c.want == AddrClass::kUnicast)
        << std::hex << c.addr;
  }
  // Our own address without knowing it is just unicast.
  EXPECT_EQ(classify_address(kOurs), AddrClass::kUnicast);
  EXPECT_TRUE(valid_tcp_destination(kOurs, kOurs, kMask24));
  EXPECT_FALSE(valid_tcp_destination(ip(198, 18, 0, 255), kOurs, kMask24));
  EXPECT_FALSE(valid_tcp_destination(ip(224, 0, 0, 1), kOurs, kMask24));
  EXPECT_FALSE(valid_tcp_destination(ip(255, 255, 255, 255)));
}

// The engine never answers or keeps state for such a source, whatever the
// segment (SYN, ACK, data), even with a listener on the port.
TEST(AddrCheckEngine, BadSourcesAreDroppedSilently) {
  Harness h;
  h.listen();
  const Ipv4 bad[] = {ip(255, 255, 255, 255), ip(224, 0, 0, 1), ip(0, 0, 0, 0),
                      ip(127, 0, 0, 1),       ip(240, 0, 0, 9), kLocalIp};
  std::uint64_t n = 0;
  for (Ipv4 src : bad) {
    h.tuple.remote_ip = src;
    h.in(kSyn, 1000, 0, "", 65535, Harness::mss_only());
    h.in(kAck, 1001, 5, "data");
    h.in(kAck | kFin, 1001, 5);
    n += 3;
  }
  h.expect_none();
  EXPECT_EQ(h.stack->connection_count(), 0u);
  EXPECT_EQ(h.gauge(State::kSynReceived), 0);
  EXPECT_EQ(h.drops(DropReason::kBadAddress), n);
  EXPECT_EQ(h.counters.out_rsts.get(), 0u);
  // A broadcast or multicast destination, from a good source.
  h.tuple.remote_ip = kRemoteIp;
  for (Ipv4 dst : {ip(255, 255, 255, 255), ip(224, 0, 0, 1)}) {
    h.tuple.local_ip = dst;
    h.in(kSyn, 1000, 0, "", 65535, Harness::mss_only());
  }
  h.expect_none();
  EXPECT_EQ(h.drops(DropReason::kBadAddress), n + 2);
  // And a good one still works.
  h.tuple.local_ip = kLocalIp;
  EXPECT_NE(h.open(), nullptr);
}

}  // namespace
}  // namespace shardtcp::tcp::testing
