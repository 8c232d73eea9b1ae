// Deterministic simulation of connection lifecycles beyond one transfer:
// TIME-WAIT reuse (RFC 6191), keepalive (RFC 1122 §4.2.3.6), FIN-WAIT-2
// timeout, many concurrent connections.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "sim_fixture.h"
#include "sim_net.h"

namespace shardtcp::tcp::sim {
namespace {

TcpConfig base_cfg(std::uint64_t seed) { return seeded_config(seed + 100, seed + 200); }

// The server closes first (TIME-WAIT on the server); the client reconnects
// from the SAME port as soon as it is closed, while the server still holds
// the TIME-WAIT entry: RFC 6191 must let the new SYN reopen the 4-tuple.
void time_wait_reuse(bool timestamps, std::uint64_t seed, const LinkProfile& link) {
  TcpConfig cfg = base_cfg(seed);
  cfg.timestamps = timestamps;
  Sim sim(cfg, link, seed);
  constexpr int kRounds = 5;
  constexpr std::uint16_t kPort = 40000;
  int opened = 1;
  Endpoint* client = sim.add_connection(100, 20000, Endpoint::Style::kCloseAfterPeerFin,
                                        Endpoint::Style::kShutdown, Sim::kServerPort, kPort);
  sim.hook = [&] {
    if (opened < kRounds && client->closed_calls == 1) {
      ++opened;
      client = sim.add_connection(100, 20000, Endpoint::Style::kCloseAfterPeerFin,
                                  Endpoint::Style::kShutdown, Sim::kServerPort, kPort);
    }
  };
  const bool finished = sim.run(900 * kUsPerSec);
  EXPECT_EQ(opened, kRounds);
  EXPECT_EQ(sim.verify(finished), "") << "seed " << seed << " timestamps " << timestamps;
  // The reconnects really met TIME-WAIT (not an expired entry).
  EXPECT_GE(sim.counters(1).time_wait_reopens.get(), 1u) << sim.summary();
}

TEST(SimLifecycle, TimeWaitReuseWithTimestamps) {  // RFC 6191 §2 (timestamps)
  time_wait_reuse(true, 1, LinkProfile{});
  for (std::uint64_t seed = 2; seed <= 11; ++seed) time_wait_reuse(true, seed, lossy_link());
}

TEST(SimLifecycle, TimeWaitReuseWithoutTimestamps) {  // RFC 6191 §2 (ISN > RCV.NXT)
  time_wait_reuse(false, 1, LinkProfile{});
  for (std::uint64_t seed = 2; seed <= 11; ++seed) time_wait_reuse(false, seed, lossy_link());
}

// Both sides idle with keepalive on; the link dies: keepalive probes go
// unanswered and both connections are given up (RFC 1122 §4.2.3.6).
TEST(SimLifecycle, KeepaliveDetectsDeadPeer) {
  TcpConfig cfg = base_cfg(1);
  cfg.keepalive_idle = 10 * kUsPerSec;
  cfg.keepalive_interval = 1 * kUsPerSec;
  cfg.keepalive_probes = 3;
  Sim sim(cfg, LinkProfile{}, 1);
  Endpoint* c = sim.add_connection(0, 0, Endpoint::Style::kNone, Endpoint::Style::kNone);
  bool keepalive_set = false;
  const TimeUs t0 = sim.now();
  sim.hook = [&] {
    Endpoint* s = sim.server_endpoint(40000);
    if (!keepalive_set && c->conn && s && s->conn && c->established && s->established) {
      c->conn->set_keepalive(true);
      s->conn->set_keepalive(true);
      sim.drain(0);
      sim.drain(1);
      keepalive_set = true;
    }
    if (sim.now() >= t0 + 5 * kUsPerSec) sim.set_link_down(true);
  };
  sim.run(600 * kUsPerSec);
  ASSERT_TRUE(keepalive_set);
  for (const Endpoint* e : sim.endpoints()) {
    EXPECT_EQ(e->closed_calls, 1) << sim.summary();
    EXPECT_EQ(e->reason, CloseReason::kTimeout) << to_string(e->reason);
  }
  for (int s = 0; s < 2; ++s) {
    EXPECT_EQ(sim.stack(s).connection_count(), 0u);
    EXPECT_GE(sim.counters(s).keepalive_probes.get(), 3u);
  }
  // Given up after idle + probes * interval (plus slack), not much later.
  EXPECT_LT(sim.now() - t0, 60 * kUsPerSec) << sim.summary();
}

// Keepalive on a live but idle connection: probes are answered, nothing is
// given up, and the connection still closes normally much later.
TEST(SimLifecycle, KeepaliveKeepsIdleConnection) {
  TcpConfig cfg = base_cfg(2);
  cfg.keepalive_idle = 10 * kUsPerSec;
  cfg.keepalive_interval = 1 * kUsPerSec;
  cfg.keepalive_probes = 3;
  Sim sim(cfg, lossy_link(), 2);
  Endpoint* c = sim.add_connection(5000, 5000, Endpoint::Style::kNone, Endpoint::Style::kNone);
  const TimeUs t0 = sim.now();
  bool ka = false, closing = false;
  sim.hook = [&] {
    Endpoint* s = sim.server_endpoint(40000);
    if (!ka && c->conn && s && s->conn) {
      c->conn->set_keepalive(true);
      s->conn->set_keepalive(true);
      ka = true;
    }
    if (!closing && sim.now() >= t0 + 100 * kUsPerSec && c->conn && s && s->conn) {
      closing = true;
      c->style = s->style = Endpoint::Style::kShutdown;
      c->pump();
      s->pump();
      sim.drain(0);
      sim.drain(1);
    }
  };
  const bool finished = sim.run(900 * kUsPerSec);
  EXPECT_TRUE(closing) << sim.summary();
  EXPECT_EQ(sim.verify(finished), "");
  EXPECT_GE(sim.counters(0).keepalive_probes.get() + sim.counters(1).keepalive_probes.get(), 2u);
}

// The client close()s; the server application never does. The client's
// FIN-WAIT-2 timer releases it; the server's FIN, sent much later, meets no
// connection and is answered with RST.
TEST(SimLifecycle, FinWait2Timeout) {
  TcpConfig cfg = base_cfg(3);
  cfg.fin_wait2_timeout = 10 * kUsPerSec;
  Sim sim(cfg, LinkProfile{}, 3);
  Endpoint* c = sim.add_connection(0, 0, Endpoint::Style::kNone, Endpoint::Style::kNone);
  c->close_on_establish = true;
  const TimeUs t0 = sim.now();
  bool server_closed = false;
  sim.hook = [&] {
    Endpoint* s = sim.server_endpoint(40000);
    if (!server_closed && sim.now() >= t0 + 30 * kUsPerSec && s && s->conn) {
      server_closed = true;
      s->conn->close();
      sim.drain(1);
    }
  };
  sim.run(300 * kUsPerSec);
  const Endpoint* s = sim.server_endpoint(40000);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(sim.counters(0).fin_wait2_timeouts.get(), 1u) << sim.summary();
  EXPECT_EQ(c->closed_calls, 1);
  EXPECT_EQ(c->reason, CloseReason::kFinWait2Timeout) << to_string(c->reason);
  EXPECT_EQ(s->peer_closed_calls, 1);
  EXPECT_EQ(s->closed_calls, 1) << sim.summary() << sim.trace_tail(20);
  EXPECT_EQ(s->reason, CloseReason::kReset) << to_string(s->reason);
  EXPECT_EQ(sim.stack(0).connection_count() + sim.stack(1).connection_count(), 0u);
  EXPECT_EQ(sim.stack(0).time_wait_count() + sim.stack(1).time_wait_count(), 0u);
}

TEST(SimLifecycle, FiftyConcurrentConnections) {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    Sim sim(base_cfg(seed), lossy_link(), seed);
    for (int i = 0; i < 50; ++i) {
      sim.add_connection(20000 + 97 * static_cast<std::uint64_t>(i), 30000,
                         Endpoint::Style::kShutdown,
                         i % 2 ? Endpoint::Style::kShutdown : Endpoint::Style::kCloseAfterPeerFin);
    }
    const bool finished = sim.run(900 * kUsPerSec);
    EXPECT_EQ(sim.verify(finished), "") << "seed " << seed;
  }
}

// A SYN burst beyond the listener's SYN backlog: the overflow is answered
// with SYN cookies (RFC 4987) and every connection must still complete and
// carry its bytes intact, options (window scale, SACK via the timestamp
// cookie bits) included.
//
// Cookies are stateless: an ACK-bearing segment validates only if it is the
// first of the client's flight (SEG.SEQ - 1 = the client's ISN). A client
// data segment overtaking the handshake ACK fails validation and draws a RST
// (RFC 9293 §3.10.7.2, as Linux does), killing a connection the client
// believes established. So the link here loses, duplicates and corrupts
// but does not reorder, and on lossy seeds the client sends nothing before
// its FIN (a lost first data segment would expose the same fragility).
TEST(SimLifecycle, SynCookiesUnderSynBurst) {
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    TcpConfig client = base_cfg(seed);
    TcpConfig server = base_cfg(seed);
    server.syn_backlog = 4;
    LinkProfile link;
    if (seed > 2) {
      link.name = "lossy-in-order";
      link.loss = 0.02;
      link.dup = 0.01;
      link.corrupt = 0.01;
    }
    Sim sim(client, server, link, seed);
    sim.trace_all = std::getenv("SHARDTCP_SIM_TRACE") != nullptr;
    const std::uint64_t c2s = seed <= 2 ? 3000 : 0;
    for (int i = 0; i < 40; ++i) {
      sim.add_connection(c2s, 40000, Endpoint::Style::kShutdown, Endpoint::Style::kShutdown);
    }
    const bool finished = sim.run(900 * kUsPerSec);
    EXPECT_EQ(sim.verify(finished), "") << "seed " << seed;
    EXPECT_GT(sim.counters(1).syncookies_sent.get(), 0u) << "seed " << seed;
    EXPECT_GT(sim.counters(1).syncookies_validated.get(), 0u) << "seed " << seed;
  }
}

}  // namespace
}  // namespace shardtcp::tcp::sim
