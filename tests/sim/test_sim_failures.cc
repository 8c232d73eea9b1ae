// Deterministic simulation of the ways a connection ends badly: refused,
// unreachable, peer vanished, aborted, closed with unread data. Each must be
// reported to the application exactly once with the right CloseReason, and
// leave nothing behind in either Stack.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "sim_fixture.h"
#include "sim_net.h"

namespace shardtcp::tcp::sim {
namespace {

TcpConfig cfg_for(std::uint64_t seed) {
  TcpConfig cfg = seeded_config(seed, seed + 7);
  cfg.syn_retries = 3;
  cfg.max_retries = 5;
  return cfg;
}

// The standard lossy link with less reordering and no jitter.
LinkProfile failure_link() {
  LinkProfile p = lossy_link();
  p.reorder = 0.02;
  p.jitter = 0;
  return p;
}

std::string leftovers(Sim& sim) {
  std::string err;
  for (int s = 0; s < 2; ++s) {
    if (sim.stack(s).connection_count() != 0)
      err += "stack " + std::to_string(s) + " has connections\n";
    if (sim.stack(s).time_wait_count() != 0)
      err += "stack " + std::to_string(s) + " has TIME-WAIT\n";
  }
  return err;
}

TEST(SimFailure, ConnectionRefused) {  // RFC 9293 §3.10.7.3: RST in SYN-SENT
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    Sim sim(cfg_for(seed), LinkProfile{}, seed);
    Endpoint* c = sim.add_connection(100, 0, Endpoint::Style::kShutdown, Endpoint::Style::kShutdown,
                                     /*port=*/81);
    sim.run(300 * kUsPerSec);
    EXPECT_EQ(c->closed_calls, 1) << sim.summary() << sim.trace_tail(20);
    EXPECT_EQ(c->reason, CloseReason::kRefused) << to_string(c->reason);
    EXPECT_FALSE(c->established);
    EXPECT_EQ(leftovers(sim), "") << sim.summary();
    EXPECT_EQ(sim.counters(1).drops[static_cast<int>(DropReason::kNoListenerRst)].get(), 1u);
  }
}

TEST(SimFailure, ConnectTimesOut) {  // SYN retransmission with backoff, then give up
  Sim sim(cfg_for(1), LinkProfile{}, 1);
  sim.set_link_down(true);
  const TimeUs t0 = sim.now();
  Endpoint* c = sim.add_connection(100, 0, Endpoint::Style::kShutdown, Endpoint::Style::kShutdown);
  sim.run(600 * kUsPerSec);
  EXPECT_EQ(c->closed_calls, 1) << sim.summary();
  EXPECT_EQ(c->reason, CloseReason::kTimeout) << to_string(c->reason);
  EXPECT_EQ(leftovers(sim), "");
  // 1 SYN + syn_retries (3) retransmissions, spaced 1, 2, 4 s (+ final 8 s wait).
  EXPECT_EQ(sim.sent_pkts, 4u) << sim.trace_tail(10);
  EXPECT_EQ(sim.counters(0).attempt_fails.get(), 1u);
  (void)t0;
}

TEST(SimFailure, PeerVanishesMidTransfer) {  // retries exhausted (max_retries)
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    Sim sim(cfg_for(seed), failure_link(), seed);
    Endpoint* c = sim.add_connection(10u << 20, 10u << 20, Endpoint::Style::kShutdown,
                                     Endpoint::Style::kShutdown);
    sim.run(100 * kUsPerMs);  // mid-transfer
    ASSERT_TRUE(c->established) << sim.summary();
    sim.set_link_down(true);
    sim.run(3600 * kUsPerSec);
    for (const Endpoint* e : sim.endpoints()) {
      EXPECT_EQ(e->closed_calls, 1) << "seed " << seed << "\n" << sim.summary();
      EXPECT_EQ(e->reason, CloseReason::kTimeout) << "seed " << seed << " " << to_string(e->reason);
    }
    EXPECT_EQ(leftovers(sim), "") << "seed " << seed;
    EXPECT_EQ(sim.counters(0).timeouts.get() + sim.counters(1).timeouts.get(), 2u);
  }
}

TEST(SimFailure, ClientAbortsServerSeesReset) {  // abort(): RST, freed at once
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    Sim sim(cfg_for(seed), seed <= 3 ? LinkProfile{} : failure_link(), seed);
    Endpoint* c =
        sim.add_connection(0, 1u << 20, Endpoint::Style::kShutdown, Endpoint::Style::kShutdown);
    c->abort_after = 100 * 1024;
    sim.run(600 * kUsPerSec);
    const Endpoint* s = sim.endpoints()[1];
    EXPECT_EQ(c->closed_calls, 1) << "seed " << seed;
    EXPECT_EQ(c->reason, CloseReason::kAborted) << "seed " << seed;
    EXPECT_EQ(s->closed_calls, 1) << "seed " << seed << "\n" << sim.summary();
    // The RST may be lost; the server's next retransmission then draws a
    // fresh RST from the client stack (no connection): reset either way.
    EXPECT_EQ(s->reason, CloseReason::kReset)
        << "seed " << seed << " " << to_string(s->reason) << "\n"
        << sim.trace_tail(30);
    EXPECT_EQ(leftovers(sim), "") << "seed " << seed;
  }
}

TEST(SimFailure, CloseWithDataArrivingSendsRst) {  // RFC 9293 §3.10.4, RFC 2525
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    Sim sim(cfg_for(seed), seed <= 3 ? LinkProfile{} : failure_link(), seed);
    Endpoint* c =
        sim.add_connection(1u << 20, 0, Endpoint::Style::kShutdown, Endpoint::Style::kShutdown);
    sim.endpoints()[1]->close_on_establish = true;  // server closes, client keeps sending
    sim.run(900 * kUsPerSec);
    const Endpoint* s = sim.endpoints()[1];
    EXPECT_EQ(c->closed_calls, 1) << "seed " << seed << "\n" << sim.summary();
    EXPECT_EQ(c->reason, CloseReason::kReset)
        << "seed " << seed << " " << to_string(c->reason) << "\n"
        << sim.trace_tail(30);
    EXPECT_LT(c->received + s->received, 2u << 20);
    EXPECT_EQ(s->closed_calls, 1) << "seed " << seed << "\n" << sim.summary();
    EXPECT_GT(sim.counters(1).out_rsts.get(), 0u);
    EXPECT_EQ(leftovers(sim), "") << "seed " << seed;
  }
}

}  // namespace
}  // namespace shardtcp::tcp::sim
