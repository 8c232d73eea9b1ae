// Rate limits on answers to out-of-window segments, as Linux has them since
// 4.7: one ACK per tcp.invalid_ratelimit_ms per connection (unacceptable
// segments, PAWS, challenge ACKs, TIME-WAIT), and the per-core RFC 5961 §7
// challenge-ACK budget drawn at random every second (CVE-2016-5696). And what
// the limit must never touch: ACKs the peer needs to make progress.
#include <set>

#include "engine_harness.h"

namespace shardtcp::tcp::testing {
namespace {

constexpr TimeUs kLimit = 500 * kUsPerMs;  // the default tcp.invalid_ratelimit_ms

class OowLimit : public EstablishedTest {
 protected:
  // n bare ACKs far beyond the window, one every `step`; returns the ACKs sent.
  std::size_t flood(int n, TimeUs step = 10) {
    std::size_t acks = 0;
    for (int i = 0; i < n; ++i) {
      h.now += step;
      h.in(kAck, p + 0x40000000u, u);
      for (const Out& o : h.take()) {
        EXPECT_EQ(o.seg.flags, kAck);
        EXPECT_EQ(o.seg.ack, p);
        ++acks;
      }
    }
    return acks;
  }
};

// RFC 9293 §3.10.7.4 first check answers an unacceptable segment with an
// ACK; Linux answers at most one per 500 ms per connection. 10,000 in 0.1 s
// draw exactly one; the next is due 500 ms after the first answer.
TEST_F(OowLimit, TenThousandOutOfWindowAcksDrawOne) {
  const TimeUs t0 = h.now + 10;
  EXPECT_EQ(flood(10000), 1u);
  EXPECT_EQ(h.counters.oow_acks_suppressed.get(), 9999u);
  EXPECT_EQ(h.drops(DropReason::kUnacceptable), 10000u);
  h.now = t0 + kLimit - kUsPerMs;
  h.in(kAck, p + 0x40000000u, u);
  h.expect_none();  // 499 ms after the answer
  h.now = t0 + kLimit;
  h.in(kAck, p + 0x40000000u, u);
  Out a = h.take_one();  // 500 ms: another
  EXPECT_EQ(a.seg.ack, p);
  EXPECT_EQ(c->state(), State::kEstablished);
}

TEST_F(OowLimit, OldSegmentsBelowTheWindowToo) {
  std::size_t acks = 0;
  for (int i = 0; i < 100; ++i) {
    h.now += 100;
    h.in(kAck, p - 70000, u);
    acks += h.take().size();
  }
  EXPECT_EQ(acks, 1u);
}

// Each connection has its own limit.
TEST(OowLimitTwo, EachConnectionGetsItsOwn) {
  Harness h;
  h.listen();
  Connection* a = h.open();
  const FourTuple ta = h.tuple;
  const std::uint32_t pa = h.peer_nxt, ua = h.our_nxt;
  h.tuple.remote_port = kPeerPort + 1;
  Connection* b = h.open(1000, 5000);
  const FourTuple tb = h.tuple;
  const std::uint32_t pb = h.peer_nxt, ub = h.our_nxt;
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  h.take();
  std::size_t acks_a = 0, acks_b = 0;
  for (int i = 0; i < 1000; ++i) {
    h.now += 50;
    h.tuple = ta;
    h.in(kAck, pa + 0x40000000u, ua);
    acks_a += h.take().size();
    h.tuple = tb;
    h.in(kAck, pb + 0x40000000u, ub);
    acks_b += h.take().size();
  }
  EXPECT_EQ(acks_a, 1u);
  EXPECT_EQ(acks_b, 1u);
  EXPECT_EQ(h.counters.oow_acks_suppressed.get(), 1998u);
}

// Linux's tcp_oow_rate_limited(): a segment that occupies sequence space and
// has no SYN is a retransmission whose ACK was lost, not part of an ACK
// loop: every one is answered (with a D-SACK, RFC 2883).
TEST_F(OowLimit, DuplicateDataIsAlwaysAnswered) {
  h.in(kAck | kPsh, p, u, "abc");
  EXPECT_EQ(h.app.data, "abc");
  h.take();
  for (int i = 0; i < 20; ++i) {
    h.now += 100;
    h.in(kAck | kPsh, p, u, "abc");  // entirely below RCV.NXT
    Out a = h.take_one();
    EXPECT_EQ(a.seg.ack, p + 3);
  }
  EXPECT_EQ(h.counters.oow_acks_suppressed.get(), 0u);
}

// Out-of-order data inside the window is not out of window: each segment
// draws an immediate duplicate ACK (RFC 5681 §4.2, RFC 9293 §3.10.7.4), even
// right after a flood used the connection's allowance.
TEST_F(OowLimit, InWindowOutOfOrderStillGetsImmediateAcks) {
  EXPECT_EQ(flood(100), 1u);
  for (std::uint32_t i = 0; i < 50; ++i) {
    h.now += 10;
    h.in(kAck | kPsh, p + 100 + 10 * i, u, "0123456789");
    Out a = h.take_one();
    EXPECT_EQ(a.seg.ack, p);  // the hole at p stays
  }
  h.in(kAck | kPsh, p, u, std::string(100, 'x'));  // fills the hole
  Out a = h.take_one();
  EXPECT_EQ(a.seg.ack, p + 600);
}

TEST_F(OowLimit, KeepaliveProbesAreAlwaysAnswered) {
  EXPECT_EQ(flood(100), 1u);
  for (int i = 0; i < 10; ++i) {
    h.now += 10;
    h.in(kAck, p - 1, u);  // <SEQ=RCV.NXT-1>, RFC 1122 §4.2.3.6
    Out a = h.take_one();
    EXPECT_EQ(a.seg.ack, p);
  }
}

TEST(OowLimitZeroWindow, ZeroWindowProbesAreAlwaysAnswered) {
  TcpConfig cfg = Harness::default_config();
  cfg.rcv_buf = 2000;
  Harness h(cfg);
  h.listen();
  Connection* c = h.open();
  h.take();
  c->set_receive_paused(true);
  std::uint32_t p = h.peer_nxt;
  const std::uint32_t u = h.our_nxt;
  h.in(kAck | kPsh, p, u, std::string(1000, 'a'));
  h.in(kAck | kPsh, p + 1000, u, std::string(1000, 'b'));
  p += 2000;
  h.advance(h.cfg.delayed_ack);
  std::vector<Out> outs = h.take();
  ASSERT_FALSE(outs.empty());
  EXPECT_EQ(outs.back().seg.ack, p);
  EXPECT_EQ(outs.back().seg.window, 0);  // the window is closed
  // Out-of-window noise first: it uses the connection's one answer.
  for (int i = 0; i < 10; ++i) {
    h.now += 10;
    h.in(kAck, p + 0x40000000u, u);
  }
  EXPECT_EQ(h.take().size(), 1u);
  for (int i = 0; i < 10; ++i) {
    // RFC 9293 §3.8.6.1: a probe with one octet at RCV.NXT (BSD, and this
    // engine); the octet is not taken, the ACK tells the window.
    h.now += 10;
    h.in(kAck | kPsh, p, u, "z");
    Out a = h.take_one();
    EXPECT_EQ(a.seg.ack, p);
    EXPECT_EQ(a.seg.window, 0);
    // Linux probes with no data at SND.UNA - 1 (tcp_xmit_probe_skb).
    h.now += 10;
    h.in(kAck, p - 1, u);
    Out b = h.take_one();
    EXPECT_EQ(b.seg.ack, p);
    EXPECT_EQ(b.seg.window, 0);
  }
}

// RFC 7323 §5.3 PAWS: the ACK for a rejected segment is limited alike.
TEST(OowLimitPaws, PawsRejectionsDrawOneAck) {
  Harness h;
  h.listen();
  TcpOptions o = Harness::mss_only();
  o.has_timestamps = true;
  o.ts_val = 5000;
  Connection* c = h.open(kPeerIsn, kOurIss, o);
  ASSERT_TRUE(h.tcb(c).ts_ok);
  h.take();
  TcpOptions old;
  old.has_timestamps = true;
  old.ts_val = 10;  // older than TS.Recent
  std::size_t acks = 0;
  for (int i = 0; i < 1000; ++i) {
    h.now += 50;
    h.in(kAck, h.peer_nxt, h.our_nxt, "", 65535, old);
    acks += h.take().size();
  }
  EXPECT_EQ(acks, 1u);
  EXPECT_EQ(h.drops(DropReason::kPawsRejected), 1000u);
  EXPECT_EQ(h.counters.oow_acks_suppressed.get(), 999u);
}

// RFC 5961 §7 + Linux: challenge ACKs pass the per-connection limit first.
TEST_F(OowLimit, ChallengeAcksAreLimitedPerConnection) {
  std::size_t acks = 0;
  for (int i = 0; i < 1000; ++i) {
    h.now += 50;
    h.in(kRst, p + 10, 0);  // in window, not exact
    acks += h.take().size();
  }
  EXPECT_EQ(acks, 1u);
  EXPECT_EQ(h.counters.challenge_acks.get(), 1u);
  EXPECT_EQ(h.counters.oow_acks_suppressed.get(), 999u);
  EXPECT_EQ(h.counters.challenge_acks_suppressed.get(), 0u);
  EXPECT_EQ(c->state(), State::kEstablished);
  h.now += kLimit;
  h.in(kSyn, p, 0);  // RFC 5961 §4.2
  EXPECT_EQ(h.take_one().seg.flags, kAck);
}

TEST(OowLimitOff, ZeroDisablesTheLimit) {
  TcpConfig cfg = Harness::default_config();
  cfg.invalid_ratelimit = 0;
  Harness h(cfg);
  h.listen();
  h.open();
  h.take();
  for (int i = 0; i < 100; ++i) {
    h.now += 10;
    h.in(kAck, h.peer_nxt + 0x40000000u, h.our_nxt);
  }
  EXPECT_EQ(h.take().size(), 100u);
  EXPECT_EQ(h.counters.oow_acks_suppressed.get(), 0u);
}

// TIME-WAIT keeps its own last-answer time in the compact entry.
class OowTimeWait : public EstablishedTest {
 protected:
  void SetUp() override {
    EstablishedTest::SetUp();
    c->close();
    h.take();
    h.in(kAck | kFin, p, u + 1);
    h.take();
    ASSERT_EQ(h.stack->time_wait_count(), 1u);
  }
};

TEST_F(OowTimeWait, OutOfWindowAcksDrawOnePer500ms) {
  const TimeUs t0 = h.now + 10;
  std::size_t acks = 0;
  for (int i = 0; i < 10000; ++i) {
    h.now += 10;
    h.in(kAck, p + 0x40000000u, u + 1);  // §3.10.7.4 first check: unacceptable
    for (const Out& o : h.take()) {
      EXPECT_EQ(o.seg.flags, kAck);
      EXPECT_EQ(o.seg.seq, u + 1);
      EXPECT_EQ(o.seg.ack, p + 1);
      ++acks;
    }
  }
  EXPECT_EQ(acks, 1u);
  EXPECT_EQ(h.counters.oow_acks_suppressed.get(), 9999u);
  h.now = t0 + kLimit - kUsPerMs;
  h.in(kAck, p + 0x40000000u, u + 1);
  h.expect_none();
  h.now = t0 + kLimit;
  h.in(kAck, p + 0x40000000u, u + 1);
  EXPECT_EQ(h.take_one().seg.ack, p + 1);
}

TEST_F(OowTimeWait, OldSynsDrawOneAck) {
  std::size_t acks = 0;
  for (int i = 0; i < 100; ++i) {
    h.now += 10;
    h.in(kSyn, p - 5000, 0, "", 65535, Harness::mss_only());  // not beyond RCV.NXT: no reopen
    acks += h.take().size();
  }
  EXPECT_EQ(acks, 1u);
}

// The peer in LAST-ACK needs our ACK of its FIN: a retransmitted FIN is
// re-ACKed every time (it occupies sequence space, as in Linux).
TEST_F(OowTimeWait, RetransmittedFinIsAlwaysReacked) {
  for (int i = 0; i < 5; ++i) {
    h.now += 10;
    h.in(kAck, p + 0x40000000u, u + 1);
    h.now += 10;
    h.in(kAck | kFin, p, u + 1);
    bool fin_acked = false;
    for (const Out& o : h.take()) fin_acked = fin_acked || o.seg.ack == p + 1;
    EXPECT_TRUE(fin_acked);
  }
}

// RFC 5961 §7 per core, randomized per second as Linux after CVE-2016-5696:
// in each second the budget is one value of [limit/2, limit/2 + limit).
// Many connections (each within its own limit) draw from it.
TEST(ChallengeBudget, PerCoreBudgetIsRandomPerSecond) {
  TcpConfig cfg = Harness::default_config();
  cfg.challenge_ack_limit = 10;
  Harness h(cfg);
  h.listen();
  constexpr int kConns = 30;
  struct Conn {
    FourTuple t;
    std::uint32_t p;
  };
  std::vector<Conn> conns;
  for (int i = 0; i < kConns; ++i) {
    h.tuple.remote_port = static_cast<std::uint16_t>(kPeerPort + i);
    ASSERT_NE(h.open(1000u * static_cast<std::uint32_t>(i), 7000), nullptr);
    conns.push_back({h.tuple, h.peer_nxt});
  }
  h.take();
  std::set<std::uint64_t> budgets;
  std::uint64_t sent_before = 0, suppressed_before = 0;
  for (int second = 0; second < 40; ++second) {
    h.now = (h.now / kUsPerSec + 1) * kUsPerSec;  // start of a new second
    for (const Conn& k : conns) {
      h.tuple = k.t;
      h.in(kRst, k.p + 10, 0);
    }
    h.take();
    const std::uint64_t sent = h.counters.challenge_acks.get() - sent_before;
    const std::uint64_t suppressed = h.counters.challenge_acks_suppressed.get() - suppressed_before;
    EXPECT_GE(sent, 5u);
    EXPECT_LE(sent, 14u);
    EXPECT_EQ(sent + suppressed, static_cast<std::uint64_t>(kConns));
    budgets.insert(sent);
    sent_before += sent;
    suppressed_before += suppressed;
  }
  EXPECT_EQ(h.counters.oow_acks_suppressed.get(), 0u);  // 1 s apart per connection
  // A fixed budget would give one value; 40 draws from 10 give several.
  EXPECT_GE(budgets.size(), 3u);
}

}  // namespace
}  // namespace shardtcp::tcp::testing
