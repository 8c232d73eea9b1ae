// Deterministic simulation (issue 3): two Stacks over a seeded, lossy,
// reordering, duplicating, corrupting in-memory link. Transfers of 0 B to
// 10 MB in each direction and both at once, verified byte for byte; every
// connection must end CLOSED on both sides (TIME-WAIT expired), with no
// connection, TIME-WAIT entry or state gauge left behind.
//
// Reproduce one failing run with full trace:
//   SHARDTCP_SIM_SEED=17 SHARDTCP_SIM_TRACE=1 tcp_sim_tests --gtest_filter='*Small*'
// Soak (N times the seeds): SHARDTCP_SIM_SEEDS=20 tcp_sim_tests
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "shardtcp/tcp/isn.h"
#include "sim_fixture.h"
#include "sim_net.h"

namespace shardtcp::tcp::sim {
namespace {

constexpr TimeUs kLimit = 900 * kUsPerSec;  // virtual time per run

TcpConfig sim_config(std::uint64_t seed, CongestionControl cc = CongestionControl::kCubic) {
  TcpConfig cfg = seeded_config(seed, seed + 1);
  // Default MSL (30 s): TIME-WAIT must outlast the peer's backed-off FIN
  // retransmissions, or a lost last ACK ends in RST (as on any TCP).
  cfg.msl = 30 * kUsPerSec;
  cfg.congestion_control = cc;
  return cfg;
}

LinkProfile clean() { return LinkProfile{.name = "clean"}; }
LinkProfile harsh() {
  return LinkProfile{.name = "harsh",
                     .loss = 0.10,
                     .dup = 0.05,
                     .reorder = 0.10,
                     .corrupt = 0.05,
                     .jitter = 2 * kUsPerMs,
                     .reorder_delay = 50 * kUsPerMs};
}
// A 10 MB/s bottleneck with a 64 KB queue: congestion losses, not random ones.
LinkProfile bottleneck() {
  return LinkProfile{.name = "bottleneck",
                     .loss = 0.001,
                     .reorder = 0.01,
                     .delay = 10 * kUsPerMs,
                     .bandwidth = 10'000'000,
                     .queue_bytes = 64 * 1024};
}

struct Case {
  const char* name;
  std::uint64_t c2s;
  std::uint64_t s2c;
  LinkProfile link;
  int seeds;
  Endpoint::Style client_style = Endpoint::Style::kShutdown;
  Endpoint::Style server_style = Endpoint::Style::kShutdown;
  CongestionControl cc = CongestionControl::kCubic;
  int connections = 1;
  void (*tweak)(TcpConfig& client, TcpConfig& server) = nullptr;  // per-side config
  int wrap = 0;                // 1: client ISN just below 2^32, 2: server ISN
  bool simultaneous = false;   // both sides connect() (crossing SYNs), no listener
  bool expect_no_rtx = false;  // a clean link must not cause any retransmission
  // Slow readers: both applications pause receiving after every on_data
  // and resume with this probability per 1 ms step (0 = never pause).
  double resume_chance = 0;
  double server_resume_chance = -1;        // the server's own, when >= 0
  bool expect_zero_window_probes = false;  // the sender must have persisted
  bool expect_mem_pressure = false;        // the payload budget must have bitten
};

constexpr std::uint32_t kWrapTarget = 0xFFFFFFFFu - 20000;  // 20 KB below 2^32

// A start time at which the ISN chosen for `t` at start + `offset` is
// kWrapTarget. RFC 6528: ISN = M + F(tuple, key) with M a 4 us clock, so the
// ISN moves by one every 4 us; verified below, so a different clock model
// shows up as a test failure rather than silently testing nothing.
TimeUs start_for_isn(const TcpConfig& cfg, const FourTuple& t, TimeUs offset) {
  IsnGenerator g(cfg.isn_secret);
  const TimeUs base = Sim::kDefaultStart;
  const std::uint32_t i0 = g.isn(t, base + offset);
  const TimeUs start = base + 4 * static_cast<TimeUs>(kWrapTarget - i0);
  EXPECT_EQ(g.isn(t, start + offset), kWrapTarget) << "ISN clock model changed";
  return start;
}

std::string run_one(const Case& c, std::uint64_t seed, bool trace) {
  TcpConfig cc = sim_config(seed, c.cc);
  TcpConfig sc = sim_config(seed, c.cc);
  if (c.tweak) c.tweak(cc, sc);
  TimeUs start = Sim::kDefaultStart;
  if (c.wrap == 1) {
    start = start_for_isn(cc, FourTuple{Sim::kIp[0], Sim::kIp[1], 40000, Sim::kServerPort}, 0);
  } else if (c.wrap == 2) {
    // The server picks its ISN when the SYN arrives, one link delay later.
    start = start_for_isn(sc, FourTuple{Sim::kIp[1], Sim::kIp[0], Sim::kServerPort, 40000},
                          c.link.delay);
  }
  Sim sim(cc, sc, c.link, seed, start);
  sim.trace_all = trace;
  for (int i = 0; i < c.connections; ++i) {
    if (c.simultaneous) {
      sim.add_simultaneous_open(c.c2s, c.s2c);
    } else {
      sim.add_connection(c.c2s, c.s2c, c.client_style, c.server_style);
    }
  }
  std::uint64_t resume_rng = splitmix64(seed ^ 0x5eedu);
  std::uint64_t resumed_with_data = 0;
  if (c.resume_chance > 0) {
    for (Endpoint* e : sim.endpoints()) e->pause_after_data = true;
    sim.hook = [&] {
      // Server endpoints appear on accept: mark every endpoint each step.
      for (Endpoint* e : sim.endpoints()) {
        e->pause_after_data = true;
        resume_rng = splitmix64(resume_rng);
        const double r = static_cast<double>(resume_rng >> 11) / 9007199254740992.0;
        const double chance =
            e->side == 1 && c.server_resume_chance >= 0 ? c.server_resume_chance : c.resume_chance;
        if (e->conn != nullptr && e->conn->receive_paused() && r < chance) {
          if (e->conn->received_unread() > 0) ++resumed_with_data;
          e->conn->set_receive_paused(false);
          sim.drain(e->side);
        }
      }
    };
  }
  const bool finished = sim.run(kLimit);
  std::string err = sim.verify(finished);
  if (std::getenv("SHARDTCP_SIM_VERBOSE") != nullptr) {
    std::string line = sim.summary();
    line = line.substr(0, line.find('\n'));
    for (int i = 0; i < 2; ++i) {
      TcpCounters& k = sim.counters(i);
      line += " | side" + std::to_string(i) + " rtx=" + std::to_string(k.retrans_segs.get()) +
              " rto=" + std::to_string(k.rto_expirations.get()) +
              " fastrtx=" + std::to_string(k.fast_retransmits.get()) +
              " ooo=" + std::to_string(k.ooo_segs.get());
    }
    std::fprintf(stderr, "%s: %s\n", c.name, line.c_str());
  }
  if (c.expect_no_rtx) {
    for (int i = 0; i < 2; ++i) {
      if (sim.counters(i).retrans_segs.get() != 0 || sim.counters(i).rto_expirations.get() != 0) {
        err += "stack " + std::to_string(i) + ": retransmitted on a clean link (" +
               std::to_string(sim.counters(i).retrans_segs.get()) + " segments, " +
               std::to_string(sim.counters(i).rto_expirations.get()) + " RTOs)\n";
      }
    }
    if (!err.empty() && err.find("---") == std::string::npos) {
      err += sim.summary() + sim.trace_tail(60);
    }
  }
  if (c.resume_chance > 0 && resumed_with_data == 0) {
    err += "slow reader not exercised: no resume found bytes held\n";
  }
  if (c.expect_zero_window_probes &&
      sim.counters(0).zero_window_probes.get() + sim.counters(1).zero_window_probes.get() == 0) {
    err += "zero window not exercised: no zero-window probe sent\n";
  }
  if (c.expect_mem_pressure) {
    std::uint64_t short_sends = 0;
    std::uint64_t dropped = 0;
    for (int i = 0; i < 2; ++i) {
      const TcpCounters& k = sim.counters(i);
      short_sends += k.mem_short_sends.get();
      dropped += k.mem_ofo_drops.get() + k.mem_rcv_drops.get() + k.mem_ofo_pruned.get();
      if (k.mem_used_bytes.get() > k.mem_budget_bytes.get()) err += "budget exceeded\n";
    }
    if (short_sends == 0 || dropped == 0) {
      err += "memory pressure not exercised: short sends " + std::to_string(short_sends) +
             ", receive-side drops/prunes " + std::to_string(dropped) + "\n";
    }
  }
  if (c.wrap != 0 && !c.link.loss) {
    const int side = c.wrap - 1;
    const std::uint32_t isn = sim.first_syn_seq[side];
    const std::uint64_t bytes = side == 0 ? c.c2s : c.s2c;
    if (isn != kWrapTarget || bytes <= 20000) {
      err += "wraparound not exercised: ISN " + std::to_string(isn) + "\n";
    }
  }
  return err;
}

// Runs all seeds of a case (or only $SHARDTCP_SIM_SEED, traced if
// $SHARDTCP_SIM_TRACE is set); reports every failing seed.
void run_case(const Case& c) {
  const char* only = std::getenv("SHARDTCP_SIM_SEED");
  const bool trace = std::getenv("SHARDTCP_SIM_TRACE") != nullptr;
  // $SHARDTCP_SIM_SEEDS=N runs N times as many seeds (soak runs).
  const char* mult = std::getenv("SHARDTCP_SIM_SEEDS");
  const int seeds = c.seeds * (mult ? std::max(1, std::atoi(mult)) : 1);
  int failures = 0;
  for (int s = 1; s <= seeds; ++s) {
    const std::uint64_t seed =
        only ? std::strtoull(only, nullptr, 10) : static_cast<std::uint64_t>(s);
    const std::string err = run_one(c, seed, trace);
    if (!err.empty()) {
      ++failures;
      // Full diagnosis for the first failure only; seeds for the rest.
      if (failures == 1) {
        ADD_FAILURE() << c.name << " seed " << seed << ":\n" << err;
      } else {
        ADD_FAILURE() << c.name << " seed " << seed
                      << " also fails: " << err.substr(0, err.find('\n'));
      }
    }
    if (only) break;
  }
}

constexpr std::uint64_t kK = 1024;
constexpr std::uint64_t kM = 1024 * 1024;

// ---- small transfers, many seeds ------------------------------------------------

TEST(SimSmall, ZeroBytesClean) { run_case({"0B clean", 0, 0, clean(), 5}); }
TEST(SimSmall, ZeroBytesLossy) { run_case({"0B lossy", 0, 0, lossy_link(), 50}); }
TEST(SimSmall, ZeroBytesHarsh) { run_case({"0B harsh", 0, 0, harsh(), 50}); }
TEST(SimSmall, OneByteClientToServer) { run_case({"1B c2s", 1, 0, lossy_link(), 50}); }
TEST(SimSmall, OneByteServerToClient) { run_case({"1B s2c", 0, 1, lossy_link(), 50}); }
TEST(SimSmall, OneByteBothWays) { run_case({"1B both", 1, 1, harsh(), 50}); }
TEST(SimSmall, OneKbClientToServer) { run_case({"1K c2s", kK, 0, harsh(), 50}); }
TEST(SimSmall, OneKbServerToClient) { run_case({"1K s2c", 0, kK, harsh(), 50}); }
TEST(SimSmall, OneKbBothWays) { run_case({"1K both", kK, kK, lossy_link(), 50}); }
TEST(SimSmall, RequestResponseCloseAfterPeerFin) {
  // Client sends a request and half-closes; the server answers and close()s
  // once it has the client's FIN (the HTTP/1.0 pattern).
  Case c{"req/resp close", 300, 5 * kK, lossy_link(), 50};
  c.server_style = Endpoint::Style::kCloseAfterPeerFin;
  run_case(c);
}
TEST(SimSmall, BothCloseAfterPeerFin) {
  // The server half-closes after its data; the client close()s only after
  // the server's FIN: CLOSE-WAIT -> LAST-ACK on the client side.
  Case c{"both close", 2 * kK, 2 * kK, harsh(), 50};
  c.client_style = Endpoint::Style::kCloseAfterPeerFin;
  c.server_style = Endpoint::Style::kShutdown;
  run_case(c);
}
TEST(SimSmall, SeveralConcurrentConnections) {
  Case c{"4 conns", 3 * kK, 7 * kK, lossy_link(), 20};
  c.connections = 4;
  run_case(c);
}

// ---- slow readers: receive flow control ------------------------------------------

// A small receive buffer, so a paused reader closes the window often.
void small_rcv_buf(TcpConfig& client, TcpConfig& server) {
  client.rcv_buf = 16 * 1024;
  server.rcv_buf = 16 * 1024;
}

Case slow_reader(const char* name, std::uint64_t c2s, std::uint64_t s2c, LinkProfile link,
                 int seeds, double resume_chance) {
  Case c{name, c2s, s2c, link, seeds};
  c.resume_chance = resume_chance;
  c.tweak = small_rcv_buf;
  return c;
}

TEST(SimSlowReader, HundredKbBothWaysLossy) {
  run_case(slow_reader("slow reader 100K both", 100 * kK, 100 * kK, lossy_link(), 20, 0.05));
}
TEST(SimSlowReader, OneMbServerToClientVerySlowHarsh) {
  run_case(slow_reader("slow reader 1M s2c", 64 * kK, kM, harsh(), 3, 0.01));
}
TEST(SimSlowReader, ZeroWindowProbedWhileReaderSleeps) {
  // Reads a 2 KB piece about every 500 ms, longer than the persist timer:
  // the window closes completely and the sender probes it (RFC 9293 §3.8.6.1).
  Case c = slow_reader("slow reader zero window", 8 * kK, 256 * kK, lossy_link(), 3, 0.002);
  c.expect_zero_window_probes = true;
  run_case(c);
}
TEST(SimSlowReader, PeerFinHeldWhileWeStillSendLastAck) {
  // The client's data and FIN arrive long before the server has sent its
  // 1 MB: the server sits in CLOSE-WAIT with bytes held, then shuts down
  // (LAST-ACK); held bytes and on_peer_closed still reach it before on_closed.
  // 8 KB fit the server's window at once: data and FIN arrive early.
  Case c = slow_reader("slow reader last-ack", 8 * kK, 2 * kM, lossy_link(), 5, 0.05);
  c.server_resume_chance = 0.0001;  // reads a 2 KB piece about every 10 s
  run_case(c);
}
TEST(SimSlowReader, CloseAfterPeerFinWaitsForHeldBytes) {
  Case c = slow_reader("slow reader close", 50 * kK, 200 * kK, lossy_link(), 20, 0.03);
  c.client_style = Endpoint::Style::kCloseAfterPeerFin;
  run_case(c);
}

// ---- medium and large ------------------------------------------------------------

TEST(SimMedium, HundredKbClientToServer) { run_case({"100K c2s", 100 * kK, 0, lossy_link(), 20}); }
TEST(SimMedium, HundredKbServerToClient) { run_case({"100K s2c", 0, 100 * kK, lossy_link(), 20}); }
TEST(SimMedium, HundredKbBothWaysHarsh) {
  run_case({"100K both", 100 * kK, 100 * kK, harsh(), 10});
}
TEST(SimMedium, HundredKbClean) {
  Case c{"100K clean", 100 * kK, 100 * kK, clean(), 2};
  c.expect_no_rtx = true;
  run_case(c);
}
TEST(SimMedium, HundredKbNewReno) {
  Case c{"100K newreno", 100 * kK, 100 * kK, lossy_link(), 10};
  c.cc = CongestionControl::kNewReno;
  run_case(c);
}
TEST(SimLarge, OneMbClientToServer) { run_case({"1M c2s", kM, 0, lossy_link(), 5}); }
TEST(SimLarge, OneMbServerToClient) { run_case({"1M s2c", 0, kM, lossy_link(), 5}); }
TEST(SimLarge, OneMbBothWaysBottleneck) { run_case({"1M both", kM, kM, bottleneck(), 3}); }
TEST(SimLarge, TenMbClientToServer) { run_case({"10M c2s", 10 * kM, 0, lossy_link(), 2}); }
TEST(SimLarge, TenMbServerToClient) { run_case({"10M s2c", 0, 10 * kM, bottleneck(), 2}); }
TEST(SimLarge, TenMbBothWays) { run_case({"10M both", 10 * kM, 10 * kM, lossy_link(), 1}); }

TEST(SimLarge, TenMbCleanNoRetransmissions) {
  // No loss, no reordering: any retransmission is spurious (RTO estimate,
  // window or ACK bug).
  Case c{"10M clean", 10 * kM, 10 * kM, clean(), 1};
  c.expect_no_rtx = true;
  run_case(c);
}

// ---- sequence space across 2^32 (ISNs placed 20 KB below it) -------------------

TEST(SimWrap, ClientIsnNearWrapClean) {
  Case c{"wrap client clean", kM, 100 * kK, clean(), 1};
  c.wrap = 1;
  c.expect_no_rtx = true;
  run_case(c);
}
TEST(SimWrap, ServerIsnNearWrapClean) {
  Case c{"wrap server clean", 100 * kK, kM, clean(), 1};
  c.wrap = 2;
  c.expect_no_rtx = true;
  run_case(c);
}
TEST(SimWrap, ClientIsnNearWrapLossy) {
  Case c{"wrap client lossy", kM, kM, lossy_link(), 10};
  c.wrap = 1;
  run_case(c);
}
TEST(SimWrap, ServerIsnNearWrapHarsh) {
  Case c{"wrap server harsh", 100 * kK, 300 * kK, harsh(), 10};
  c.wrap = 2;
  run_case(c);
}

// ---- payload memory budget (issue 9) -----------------------------------------------

// Both stacks get a budget far below what the connections could queue (4
// connections x 256 KB send buffers, slow readers holding bytes, reordering
// filling reassembly queues): send() comes up short, out-of-order data is
// pruned, in-order bytes are dropped unacknowledged, and every byte still
// arrives, in order, exactly once.
TEST(SimMemBudget, TightBudgetBothWaysHarshSlowReaders) {
  Case c{"tight budget", 200 * kK, 300 * kK, harsh(), 8};
  c.connections = 4;
  c.resume_chance = 0.05;
  c.expect_mem_pressure = true;
  c.tweak = [](TcpConfig& a, TcpConfig& b) {
    for (TcpConfig* x : {&a, &b}) {
      x->rcv_buf = 16 * 1024;
      x->mem_budget = 64 * 1024;  // 32 blocks of 2 KB per stack
    }
  };
  run_case(c);
}

// ---- option negotiation and buffer sizes ---------------------------------------

TEST(SimOptions, NoSack) {
  Case c{"no sack", 300 * kK, 300 * kK, lossy_link(), 10};
  c.tweak = [](TcpConfig& a, TcpConfig&) { a.sack = false; };
  run_case(c);
}
TEST(SimOptions, NoTimestamps) {
  Case c{"no timestamps", 300 * kK, 300 * kK, lossy_link(), 10};
  c.tweak = [](TcpConfig&, TcpConfig& b) { b.timestamps = false; };
  run_case(c);
}
TEST(SimOptions, NoWindowScaling) {
  Case c{"no wscale", 300 * kK, 300 * kK, lossy_link(), 10};
  c.tweak = [](TcpConfig& a, TcpConfig&) { a.window_scaling = false; };
  run_case(c);
}
TEST(SimOptions, NothingNegotiatedNewReno) {
  Case c{"bare", 300 * kK, 300 * kK, lossy_link(), 10};
  c.cc = CongestionControl::kNewReno;
  c.tweak = [](TcpConfig& a, TcpConfig& b) {
    for (TcpConfig* x : {&a, &b}) {
      x->sack = false;
      x->timestamps = false;
      x->window_scaling = false;
    }
  };
  run_case(c);
}
TEST(SimOptions, DifferentMss) {
  Case c{"mss 536/1460", 200 * kK, 200 * kK, lossy_link(), 10};
  c.tweak = [](TcpConfig& a, TcpConfig&) { a.mss = 536; };
  run_case(c);
}
TEST(SimOptions, TinyBuffers) {
  // 4 KB send and receive buffers: window-limited, many on_writable rounds,
  // silly window avoidance on both sides.
  Case c{"tiny buffers", 200 * kK, 200 * kK, lossy_link(), 10};
  c.tweak = [](TcpConfig& a, TcpConfig& b) {
    for (TcpConfig* x : {&a, &b}) {
      x->snd_buf = 4096;
      x->rcv_buf = 4096;
    }
  };
  run_case(c);
}
TEST(SimOptions, NagleOn) {
  Case c{"nagle", 50 * kK, 50 * kK, lossy_link(), 10};
  c.tweak = [](TcpConfig& a, TcpConfig& b) { a.nagle = b.nagle = true; };
  run_case(c);
}

// ---- simultaneous open (RFC 9293 §3.5 Figure 7) --------------------------------

TEST(SimOpen, SimultaneousOpenClean) {
  Case c{"simultaneous open", 10 * kK, 10 * kK, clean(), 3};
  c.simultaneous = true;
  run_case(c);
}
TEST(SimOpen, SimultaneousOpenLossy) {
  Case c{"simultaneous open lossy", 10 * kK, 10 * kK, lossy_link(), 20};
  c.simultaneous = true;
  run_case(c);
}

// The harness itself must be able to fail: a corrupted byte that slips past
// the checksum (impossible on the real link) is caught by the pattern check.
TEST(SimHarness, PatternCheckDetectsCorruption) {
  Endpoint e;
  e.recv_key = 42;
  e.expect_recv = 100;
  std::uint8_t buf[100];
  fill_pattern(42, 0, buf, 100);
  buf[57] ^= 1;
  e.on_bytes(ByteView{buf, 100});
  EXPECT_EQ(e.mismatches, 1u);
  EXPECT_EQ(e.first_bad, 57u);
  // Split delivery at odd offsets is checked against the right positions.
  Endpoint f;
  f.recv_key = 42;
  f.expect_recv = 100;
  fill_pattern(42, 0, buf, 100);
  f.on_bytes(ByteView{buf, 13});
  f.on_bytes(ByteView{buf + 13, 87});
  EXPECT_EQ(f.mismatches, 0u);
  EXPECT_EQ(f.received, 100u);
  f.on_bytes(ByteView{buf, 1});  // one byte too many
  EXPECT_EQ(f.mismatches, 1u);
}

TEST(SimHarness, PatternIsRandomAccess) {
  std::uint8_t a[64], b[64];
  fill_pattern(7, 0, a, 64);
  fill_pattern(7, 5, b, 59);
  EXPECT_EQ(std::memcmp(a + 5, b, 59), 0);
  fill_pattern(8, 0, b, 64);
  EXPECT_NE(std::memcmp(a, b, 64), 0);
}

}  // namespace
}  // namespace shardtcp::tcp::sim

