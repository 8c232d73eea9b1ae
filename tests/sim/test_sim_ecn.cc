// ECN end to end (RFC 3168): two engines over a bottleneck whose queue marks
// ECT packets CE above a backlog (an AQM, RFC 3168 §5), transfers verified
// byte by byte. Both directions carry data, so each side is sender (ECE ->
// cwnd cut -> CWR) and receiver (CE -> ECE until CWR).
#include <gtest/gtest.h>

#include <cstdio>

#include "sim_fixture.h"

namespace shardtcp::tcp::sim {
namespace {

LinkProfile marking_bottleneck() {
  return LinkProfile{.name = "ecn-bottleneck",
                     .delay = 10 * kUsPerMs,
                     .bandwidth = 10'000'000,
                     .queue_bytes = 128 * 1024,
                     .ecn_mark_bytes = 32 * 1024};
}

TEST(SimEcn, MarkingBottleneckBothWaysByteExact) {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    TcpConfig client = seeded_config(seed + 7000, seed + 7001);
    TcpConfig server = client;
    client.ecn = EcnMode::kOn;  // requests; the server accepts (passive)
    Sim sim(client, server, marking_bottleneck(), seed);
    sim.add_connection(3'000'000, 3'000'000, Endpoint::Style::kShutdown,
                       Endpoint::Style::kShutdown);
    const bool finished = sim.run(300 * kUsPerSec);
    ASSERT_EQ(sim.verify(finished), "") << "seed " << seed;
    EXPECT_GT(sim.ce_marked, 0u) << "seed " << seed;
    for (int side = 0; side < 2; ++side) {
      const TcpCounters& c = sim.counters(side);
      EXPECT_EQ(c.ecn_connections.get(), 1u) << "seed " << seed << " side " << side;
      // Each side saw CE on the other's data, answered with ECE, and cut its
      // own window for the other's ECE, announcing it with CWR.
      EXPECT_GT(c.ecn_ce_received.get(), 0u) << "seed " << seed << " side " << side;
      EXPECT_GT(c.ecn_ece_received.get(), 0u) << "seed " << seed << " side " << side;
      EXPECT_GT(c.ecn_cwr_sent.get(), 0u) << "seed " << seed << " side " << side;
      // At most one response per window: never more responses than marks.
      EXPECT_LE(c.ecn_ece_received.get(), sim.counters(1 - side).ecn_ce_received.get());
    }
    std::printf("seed %llu: CE marks %llu, queue drops %llu, rtx %llu/%llu\n",
                static_cast<unsigned long long>(seed),
                static_cast<unsigned long long>(sim.ce_marked),
                static_cast<unsigned long long>(sim.queue_drops),
                static_cast<unsigned long long>(sim.counters(0).retrans_segs.get()),
                static_cast<unsigned long long>(sim.counters(1).retrans_segs.get()));
  }
}

TEST(SimEcn, MarksReplaceTheDropsALossOnlyPathWouldHave) {
  // The same transfers without ECN fill the 128 KB queue and lose packets;
  // with ECN the window comes down before the queue overflows.
  std::uint64_t drops[2] = {0, 0};
  for (int ecn = 0; ecn < 2; ++ecn) {
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      TcpConfig client = seeded_config(seed + 7000, seed + 7001);
      TcpConfig server = client;
      client.ecn = ecn ? EcnMode::kOn : EcnMode::kOff;
      Sim sim(client, server, marking_bottleneck(), seed);
      sim.add_connection(3'000'000, 3'000'000, Endpoint::Style::kShutdown,
                         Endpoint::Style::kShutdown);
      const bool finished = sim.run(300 * kUsPerSec);
      ASSERT_EQ(sim.verify(finished), "");
      drops[ecn] += sim.queue_drops;
    }
  }
  std::printf("queue drops over 3 seeds: without ECN %llu, with ECN %llu\n",
              static_cast<unsigned long long>(drops[0]), static_cast<unsigned long long>(drops[1]));
  EXPECT_GT(drops[0], 0u);
  EXPECT_EQ(drops[1], 0u);
}

TEST(SimEcn, NotNegotiatedMeansNoEctOnTheWire) {
  // The AQM marks only ECT packets: without negotiation none may exist.
  for (EcnMode server : {EcnMode::kOff, EcnMode::kPassive}) {
    TcpConfig client = seeded_config(7100, 7101);
    TcpConfig srv = client;
    client.ecn = server == EcnMode::kOff ? EcnMode::kOn : EcnMode::kPassive;
    srv.ecn = server;
    Sim sim(client, srv, marking_bottleneck(), 5);
    sim.add_connection(300'000, 1'000'000, Endpoint::Style::kShutdown, Endpoint::Style::kShutdown);
    const bool finished = sim.run(300 * kUsPerSec);
    ASSERT_EQ(sim.verify(finished), "");
    EXPECT_EQ(sim.ce_marked, 0u);
    EXPECT_EQ(sim.counters(0).ecn_connections.get(), 0u);
    EXPECT_EQ(sim.counters(1).ecn_connections.get(), 0u);
  }
}

}  // namespace
}  // namespace shardtcp::tcp::sim
