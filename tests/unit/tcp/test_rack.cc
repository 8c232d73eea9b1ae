// RACK-TLP (RFC 8985) and PRR (RFC 6937) on the virtual clock, exact to the
// segment: what is sent, when, and what is not. The peer SACKs (RFC 2018);
// MSS 1460, no timestamps (4 SACK blocks fit).
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <utility>

#include "engine_harness.h"

namespace shardtcp::tcp::testing {
namespace {

constexpr std::uint32_t kMss = 1460;

// The timer wheel fires a deadline at the first 1 ms tick at or after it
// (never early): the virtual time at which a timer set for `d` runs.
TimeUs tick_up(TimeUs d) { return (d + kUsPerMs - 1) / kUsPerMs * kUsPerMs; }

class RackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h.listen();
    TcpOptions o = mss_option();
    o.sack_permitted = true;
    c = h.open(kPeerIsn, kOurIss, o);
    ASSERT_NE(c, nullptr);
    h.take();
    u = h.our_nxt;
    p = h.peer_nxt;
  }
  // Byte i*MSS of what we send.
  std::uint32_t S(int i) const { return u + static_cast<std::uint32_t>(i) * kMss; }
  void send_segs(int n) {
    const std::string d(static_cast<std::size_t>(n) * kMss, 'r');
    ASSERT_EQ(c->send(d.data(), d.size()), d.size());
  }
  // An ACK of segments [0, cum) with SACK blocks of segment indexes [a, b).
  void ack(int cum, std::initializer_list<std::pair<int, int>> blocks) {
    TcpOptions s;
    for (const auto& b : blocks) {
      s.sack[s.num_sack].left = S(b.first);
      s.sack[s.num_sack].right = S(b.second);
      ++s.num_sack;
    }
    h.in(h.seg(kAck, p, S(cum), "", 65535, s));
  }
  Tcb& tcb() { return h.tcb(c); }
  // Sequence numbers of what was sent since the last take(), all full-sized.
  std::vector<std::uint32_t> sent() {
    std::vector<std::uint32_t> v;
    for (const Out& o : h.take()) {
      EXPECT_EQ(o.payload.size(), kMss);
      v.push_back(o.seg.seq);
    }
    return v;
  }
  // Runs a first flight of `n` segments and its ACK 1 ms later, so that the
  // connection has an RTT sample (RACK.min_RTT = 1 ms).
  void warm_up(int n) {
    send_segs(n);
    EXPECT_EQ(sent().size(), static_cast<std::size_t>(n));
    h.advance(1 * kUsPerMs);
    ack(n, {});
    u = S(n);
    h.take();
    ASSERT_EQ(tcb().txlog, nullptr);  // nothing in flight: the log is given back
  }

  Harness h;
  Connection* c = nullptr;
  std::uint32_t u = 0;
  std::uint32_t p = 0;
};

// RFC 8985 §7: the last two segments of a flight are lost. No ACK can show
// it; the probe (the last segment again, nothing new to send) draws a SACK,
// RACK then finds the other one lost by time. No RTO.
TEST_F(RackTest, TailLossIsRepairedByProbeAndRackNotByTheTimer) {
  warm_up(2);
  send_segs(6);
  EXPECT_EQ(sent().size(), 6u);
  const TimeUs t0 = h.now;
  h.advance(1 * kUsPerMs);
  ack(4, {});  // segments 4 and 5 are lost
  h.expect_none();
  // RFC 8985 §7.2: PTO = 2*SRTT (+2 ms for our 1 ms timer ticks), armed by the ACK.
  const TimeUs pto = 2 * tcb().rtt.srtt() + 2 * kUsPerMs;
  EXPECT_LT(pto, tcb().rtt.rto());
  h.advance_to(tick_up(t0 + 1 * kUsPerMs + pto) - 1);
  h.expect_none();
  h.advance(1);
  // §7.3: no new data, so the last segment is probed again.
  EXPECT_EQ(sent(), std::vector<std::uint32_t>{S(5)});
  EXPECT_EQ(h.counters.tlp_probes.get(), 1u);
  // The probe arrives: segment 5 SACKed, 4 missing. Its retransmission was
  // delivered 1 ms after it was sent (not before RACK.min_RTT): RACK takes
  // its send time, and segment 4, sent earlier, is lost (§6.2).
  h.advance(1 * kUsPerMs);
  ack(4, {{5, 6}});
  EXPECT_EQ(sent(), std::vector<std::uint32_t>{S(4)});
  EXPECT_EQ(h.counters.rack_lost_segs.get(), 1u);
  EXPECT_EQ(h.counters.fast_retransmits.get(), 1u);
  EXPECT_TRUE(tcb().in_recovery);
  h.advance(1 * kUsPerMs);
  ack(6, {});
  EXPECT_FALSE(tcb().in_recovery);
  EXPECT_EQ(tcb().cc.cwnd(), tcb().cc.ssthresh());  // RFC 6937: cwnd = ssthresh at the end
  h.expect_none();
  EXPECT_EQ(h.counters.rto_expirations.get(), 0u);
  EXPECT_EQ(tcb().txlog, nullptr);
}

// RFC 8985 §7.4: the probe alone repaired the loss (a retransmission
// acknowledged with no D-SACK): counted, and the window is reduced once.
TEST_F(RackTest, ProbeThatRepairsTheOnlyLossIsCountedAndReducesTheWindow) {
  warm_up(2);
  send_segs(4);
  EXPECT_EQ(sent().size(), 4u);
  h.advance(1 * kUsPerMs);
  ack(2, {});  // segment 3 lost; 2 still on its way
  const std::uint32_t cwnd = tcb().cc.cwnd();
  h.advance_to(tick_up(h.now + 2 * tcb().rtt.srtt() + 2 * kUsPerMs));
  EXPECT_EQ(sent(), std::vector<std::uint32_t>{S(3)});
  h.advance(1 * kUsPerMs);
  ack(4, {});
  EXPECT_EQ(h.counters.tlp_recoveries.get(), 1u);
  EXPECT_LT(tcb().cc.cwnd(), cwnd);
  EXPECT_EQ(h.counters.fast_retransmits.get(), 0u);
  EXPECT_EQ(h.counters.rto_expirations.get(), 0u);
  h.expect_none();
}

// RFC 8985 §6.2 step 4/5: one SACKed segment above a hole is not yet a loss
// (it may be reordering); the segment is deemed lost when its reordering
// window, RACK.min_RTT/4, has passed, by the timer.
TEST_F(RackTest, SingleSackWaitsForTheReorderingWindow) {
  warm_up(2);
  send_segs(10);
  EXPECT_EQ(sent().size(), 10u);
  h.advance(1 * kUsPerMs);
  ack(0, {{1, 2}});
  h.expect_none();
  // Segment 0 was sent with segment 1: lost at RACK.rtt (1 ms) + 250 us after.
  const TimeUs lost_at = tick_up(h.now + 1 * kUsPerMs / 4);
  h.advance_to(lost_at - 1);
  h.expect_none();
  h.advance(1);
  // PRR (RFC 6937 §3.1): nothing delivered since recovery began, but the
  // first retransmission always goes; nothing else.
  EXPECT_EQ(sent(), std::vector<std::uint32_t>{S(0)});
  EXPECT_EQ(h.counters.rack_reo_timeouts.get(), 1u);
  EXPECT_EQ(h.counters.rack_lost_segs.get(), 1u);
  EXPECT_EQ(h.counters.prr_segs.get(), 1u);
}

// The segment reported late was only reordered: no loss, nothing resent.
TEST_F(RackTest, ReorderedSegmentArrivingInsideTheWindowIsNotResent) {
  warm_up(2);
  send_segs(4);
  EXPECT_EQ(sent().size(), 4u);
  h.advance(1 * kUsPerMs);
  ack(0, {{1, 2}});
  h.advance(100);  // within min_RTT/4 = 250 us
  ack(2, {});
  h.advance(1 * kUsPerMs);
  h.expect_none();
  EXPECT_EQ(h.counters.rack_lost_segs.get(), 0u);
  EXPECT_FALSE(tcb().in_recovery);
}

// RFC 8985 §6.2 with PRR: three SACKed segments make the hole lost at once
// (reo_wnd = 0, no reordering seen); the first retransmission is lost too,
// and the SACK of data sent after it shows that by time: it is resent
// without waiting for the RTO (RFC 6675 alone never resends a hole twice).
TEST_F(RackTest, LostRetransmissionIsDetectedAndResent) {
  warm_up(2);
  send_segs(40);
  EXPECT_EQ(sent().size(), 10u);  // IW (RFC 6928)
  h.advance(1 * kUsPerMs);
  ack(0, {{1, 10}});
  // Recovery: ssthresh = 0.7 * cwnd (CUBIC) = 10220 bytes, pipe = 0 (all
  // SACKed or lost): PRR-SSRB sends min(ssthresh - pipe, 9 MSS + MSS) =
  // 7 segments: the hole first, then new data.
  EXPECT_EQ(tcb().cc.ssthresh(), 10220u);
  EXPECT_EQ(sent(), (std::vector<std::uint32_t>{S(0), S(10), S(11), S(12), S(13), S(14), S(15)}));
  EXPECT_EQ(h.counters.fast_retransmits.get(), 1u);
  // The retransmission of 0 is lost; 10..15 arrive.
  h.advance(1 * kUsPerMs);
  ack(0, {{10, 16}, {1, 10}});
  const auto v = sent();
  ASSERT_FALSE(v.empty());
  EXPECT_EQ(v.front(), S(0));  // resent at once, not after the RTO
  EXPECT_EQ(h.counters.lost_retransmits.get(), 1u);
  EXPECT_EQ(h.counters.rack_lost_segs.get(), 2u);
  EXPECT_EQ(h.counters.rto_expirations.get(), 0u);
  for (std::size_t i = 1; i < v.size(); ++i) EXPECT_EQ(v[i], S(15 + static_cast<int>(i)));
  // Everything arrives: recovery ends with cwnd = ssthresh.
  h.advance(1 * kUsPerMs);
  ack(16 + static_cast<int>(v.size()) - 1, {});
  EXPECT_FALSE(tcb().in_recovery);
  EXPECT_EQ(tcb().cc.cwnd(), tcb().cc.ssthresh());
}

// RFC 8985 §6.3: on an RTO everything not SACKed is lost; SACKed segments
// are not resent and SND.NXT does not go back; cwnd = 1 MSS then slow start.
TEST_F(RackTest, RtoResendsOnlyWhatIsNotSacked) {
  warm_up(2);
  send_segs(6);
  EXPECT_EQ(sent().size(), 6u);
  h.advance(1 * kUsPerMs);
  ack(0, {{2, 4}});  // 0, 1 lost (after the reordering window), 4, 5 unknown
  h.advance(1 * kUsPerMs);
  EXPECT_EQ(sent(), std::vector<std::uint32_t>{S(0)});  // PRR: the first retransmission
  // Silence: the RTO fires.
  h.advance(tcb().rtx_at - h.now);
  EXPECT_EQ(h.counters.rto_expirations.get(), 1u);
  EXPECT_EQ(sent(), std::vector<std::uint32_t>{S(0)});  // cwnd = 1 MSS
  EXPECT_EQ(tcb().snd_nxt, S(6));
  h.advance(1 * kUsPerMs);
  ack(1, {{2, 4}});
  // Slow start: 2 segments, the lost ones not SACKed: 1 and 4 (never 2, 3).
  EXPECT_EQ(sent(), (std::vector<std::uint32_t>{S(1), S(4)}));
  h.advance(1 * kUsPerMs);
  ack(6, {});
  EXPECT_FALSE(tcb().in_recovery);
  h.expect_none();
}

// tcp.rack = false: no log, the RFC 6675 DupThresh rule alone (a single
// SACK never starts recovery, whatever the time).
TEST(RackOff, NoLogAndNoTimeBasedLoss) {
  TcpConfig cfg = Harness::default_config();
  cfg.rack = false;
  Harness h(cfg);
  h.listen();
  TcpOptions o = mss_option();
  o.sack_permitted = true;
  Connection* c = h.open(kPeerIsn, kOurIss, o);
  h.take();
  const std::uint32_t u = h.our_nxt;
  const std::string d(4 * kMss, 'x');
  c->send(d.data(), d.size());
  EXPECT_EQ(h.take().size(), 4u);
  EXPECT_EQ(h.tcb(c).txlog, nullptr);
  h.advance(1 * kUsPerMs);
  TcpOptions s;
  s.num_sack = 1;
  s.sack[0] = SackBlock{u + kMss, u + 2 * kMss};
  h.in(h.seg(kAck, h.peer_nxt, u, "", 65535, s));
  h.advance(100 * kUsPerMs);
  h.expect_none();
  EXPECT_EQ(h.counters.tlp_probes.get(), 0u);
  EXPECT_EQ(h.counters.rack_lost_segs.get(), 0u);
}

}  // namespace
}  // namespace shardtcp::tcp::testing

namespace shardtcp::tcp::testing {
namespace {

// A full log still splits a record for a partial retransmission: adjacent
// SACKed records are merged first (their send times no longer matter). A
// split that failed would mark the whole record retransmitted and leave its
// unsent rest to the RTO, one segment per timeout (the stall seen at 20%
// loss in the lab before this).
TEST(TxLogTest, FullLogMakesRoomByMergingSackedRecords) {
  TxLog l;
  const std::uint32_t base = 0xFFFFFF00u;  // crosses 2^32
  for (int i = 0; i < TxLog::kCap; ++i) {
    l.on_send(base + 10u * static_cast<std::uint32_t>(i),
              base + 10u * static_cast<std::uint32_t>(i + 1), 1000);
  }
  ASSERT_EQ(l.size(), TxLog::kCap);
  // Every record but the first SACKed, one block at a time (no merging yet).
  for (int i = 1; i < TxLog::kCap; ++i) {
    const SackBlock b{base + 10u * static_cast<std::uint32_t>(i),
                      base + 10u * static_cast<std::uint32_t>(i + 1)};
    l.on_ack(base, &b, 1, 2000);
  }
  ASSERT_EQ(l.size(), TxLog::kCap);
  l.mark_all_lost(false);
  ASSERT_EQ(l.next_lost(4), (std::optional<std::pair<std::uint32_t, std::uint32_t>>{{base, 4u}}));
  l.on_send(base, base + 4, 3000);  // the first 4 bytes of record 0 again
  ASSERT_EQ(l.size(), 3);
  EXPECT_EQ(l.at(0).end, base + 4);
  EXPECT_EQ(l.at(0).flags, TxLog::kLost | TxLog::kRetrans | TxLog::kEverRetrans);
  EXPECT_EQ(l.at(1).start, base + 4);
  EXPECT_EQ(l.at(1).flags, TxLog::kLost);  // still to be sent
  EXPECT_EQ(l.at(2).flags, TxLog::kSacked);
  EXPECT_EQ(l.at(2).end, base + 10u * TxLog::kCap);
  EXPECT_EQ(l.next_lost(4),
            (std::optional<std::pair<std::uint32_t, std::uint32_t>>{{base + 4, 4u}}));
  EXPECT_EQ(l.pipe(), 4u);  // the retransmission
}

}  // namespace
}  // namespace shardtcp::tcp::testing
