// RFC 5961 (blind in-window attacks) and RFC 7323 PAWS on established
// connections; RFC 9293 §3.10.7.4 first check (unacceptable segments).
#include "engine_harness.h"

namespace shardtcp::tcp::testing {
namespace {

class Rfc5961 : public EstablishedTest {};

// §3.2: RST exactly at RCV.NXT resets.
TEST_F(Rfc5961, ExactRstResets) {
  h.in(kRst | kAck, p, u);
  h.expect_none();
  EXPECT_EQ(h.app.closed.size(), 1u);
}

// §3.2: RST in the window but not at RCV.NXT -> challenge ACK, no reset.
TEST_F(Rfc5961, InWindowRstDrawsChallengeAck) {
  h.in(kRst, p + 100, 0);
  Out a = h.take_one();
  EXPECT_EQ(a.seg.flags, kAck);
  EXPECT_EQ(a.seg.seq, u);
  EXPECT_EQ(a.seg.ack, p);
  EXPECT_TRUE(h.app.closed.empty());
  EXPECT_EQ(c->state(), State::kEstablished);
  EXPECT_EQ(h.counters.challenge_acks.get(), 1u);
}

// §3.2: RST outside the window is dropped silently.
TEST_F(Rfc5961, OutOfWindowRstIsDroppedSilently) {
  h.in(kRst, p - 1, 0);
  h.expect_none();
  h.in(kRst, p + 70000, 0);
  h.expect_none();
  EXPECT_TRUE(h.app.closed.empty());
  EXPECT_EQ(h.drops(DropReason::kUnacceptable), 2u);
}

// §4.2: SYN in a synchronized state, in window or not -> challenge ACK.
TEST_F(Rfc5961, SynInEstablishedDrawsChallengeAck) {
  h.in(kSyn, p + 5, 0, "", 65535, Harness::mss_only());
  Out a = h.take_one();
  EXPECT_EQ(a.seg.flags, kAck);
  EXPECT_EQ(a.seg.ack, p);
  EXPECT_EQ(c->state(), State::kEstablished);
  EXPECT_EQ(h.counters.challenge_acks.get(), 1u);
}

TEST_F(Rfc5961, SynAtRcvNxtDrawsChallengeAck) {
  h.in(kSyn, p, 0);
  Out a = h.take_one();
  EXPECT_EQ(a.seg.flags, kAck);
  EXPECT_EQ(c->state(), State::kEstablished);
}

// §5.2: ACK older than SND.UNA - MAX.SND.WND -> challenge ACK, data dropped.
TEST_F(Rfc5961, AckTooOldDrawsChallengeAckAndDropsData) {
  h.in(kAck, p, u - 70000, "data");
  Out a = h.take_one();
  EXPECT_EQ(a.seg.flags, kAck);
  EXPECT_EQ(h.app.data, "");
  EXPECT_EQ(h.drops(DropReason::kAckOutOfWindow), 1u);
}

TEST_F(Rfc5961, AckSlightlyOldIsAcceptable) {
  h.in(kAck, p, u - 1000, "data");
  EXPECT_EQ(h.app.data, "data");
}

// §7: challenge ACKs are rate limited per second per core. The budget is
// drawn per second from [limit/2, limit/2 + limit) (CVE-2016-5696; see
// test_oow_ratelimit.cc); the per-connection limit is off here to see it.
TEST(Rfc5961Limit, ChallengeAcksAreRateLimited) {
  TcpConfig cfg = Harness::default_config();
  cfg.challenge_ack_limit = 3;
  cfg.invalid_ratelimit = 0;
  Harness h(cfg);
  h.listen();
  h.open();
  h.take();
  for (int i = 0; i < 6; ++i) h.in(kRst, h.peer_nxt + 10, 0);
  const std::size_t sent = h.take().size();
  EXPECT_GE(sent, 2u);
  EXPECT_LE(sent, 4u);
  EXPECT_EQ(h.counters.challenge_acks.get(), sent);
  EXPECT_EQ(h.counters.challenge_acks_suppressed.get(), 6u - sent);
  h.advance(kUsPerSec);
  h.in(kRst, h.peer_nxt + 10, 0);
  EXPECT_EQ(h.take().size(), 1u);  // a new second
}

// RFC 9293 §3.10.7.4 first check: unacceptable segments are answered with ACK.
TEST_F(Rfc5961, SegmentBeyondWindowGetsAck) {
  h.in(kAck, p + 70000, u, "far");
  Out a = h.take_one();
  EXPECT_EQ(a.seg.flags, kAck);
  EXPECT_EQ(a.seg.seq, u);
  EXPECT_EQ(a.seg.ack, p);
  EXPECT_EQ(h.app.data, "");
}

TEST_F(Rfc5961, KeepaliveStyleProbeGetsAck) {
  h.in(kAck, p - 1, u);
  Out a = h.take_one();
  EXPECT_EQ(a.seg.ack, p);
}

// RFC 7323 §5: PAWS.
TEST(Paws, OldTimestampIsRejectedWithAck) {
  Harness h;
  h.listen();
  TcpOptions o = Harness::mss_only();
  o.has_timestamps = true;
  o.ts_val = 0xFFFFFF00;
  Connection* c = h.open(kPeerIsn, kOurIss, o);
  ASSERT_TRUE(h.tcb(c).ts_ok);
  h.take();
  TcpOptions ts;
  ts.has_timestamps = true;
  ts.ts_val = 0x00000010;  // newer, across 2^32
  ts.ts_ecr = 0;
  h.in(kAck, h.peer_nxt, h.our_nxt, "new", 65535, ts);
  EXPECT_EQ(h.app.data, "new");
  EXPECT_EQ(h.tcb(c).ts_recent, 0x10u);
  ts.ts_val = 0xFFFFFF80;  // older than TS.Recent
  h.in(kAck, h.peer_nxt + 3, h.our_nxt, "old", 65535, ts);
  Out a = h.take_one();
  EXPECT_EQ(a.seg.flags, kAck);
  EXPECT_EQ(a.seg.ack, h.peer_nxt + 3);
  EXPECT_EQ(h.app.data, "new");
  EXPECT_EQ(h.drops(DropReason::kPawsRejected), 1u);
}

// RFC 7323 §5.5: after more than 24 days idle, TS.Recent is invalid; a
// segment with an older TSval (the peer's clock moved 2^31 on) is accepted
// and becomes TS.Recent. One day idle: PAWS still rejects it.
TEST(Paws, TsRecentExpiresAfter24DaysIdle) {
  for (const TimeUs days : {TimeUs{1}, TimeUs{25}}) {
    Harness h;
    h.listen();
    TcpOptions o = Harness::mss_only();
    o.has_timestamps = true;
    o.ts_val = 0x90000000u;
    Connection* c = h.open(kPeerIsn, kOurIss, o);
    ASSERT_TRUE(h.tcb(c).ts_ok);
    h.take();
    h.advance(days * 24 * 3600 * kUsPerSec);
    h.take();
    TcpOptions ts;
    ts.has_timestamps = true;
    // "Older" than TS.Recent: what a peer clock 2^31 ms (24.8 days) on shows.
    ts.ts_val = h.tcb(c).ts_recent - 0x70000000u;
    h.in(kAck, h.peer_nxt, h.our_nxt, "late", 65535, ts);
    if (days == 25) {
      EXPECT_EQ(h.app.data, "late");
      EXPECT_EQ(h.tcb(c).ts_recent, ts.ts_val);
      EXPECT_EQ(h.drops(DropReason::kPawsRejected), 0u);
    } else {
      EXPECT_EQ(h.app.data, "");
      EXPECT_EQ(h.drops(DropReason::kPawsRejected), 1u);
      Out a = h.take_one();
      EXPECT_EQ(a.seg.ack, h.peer_nxt);
    }
  }
}

TEST(Paws, PeerThatStopsSendingTimestampsIsTolerated) {
  Harness h;
  h.listen();
  TcpOptions o = Harness::mss_only();
  o.has_timestamps = true;
  o.ts_val = 100;
  h.open(kPeerIsn, kOurIss, o);
  h.in(kAck, h.peer_nxt, h.our_nxt, "plain");
  EXPECT_EQ(h.app.data, "plain");
}

TEST(Paws, RstIsExemptFromPaws) {
  Harness h;
  h.listen();
  TcpOptions o = Harness::mss_only();
  o.has_timestamps = true;
  o.ts_val = 1000;
  h.open(kPeerIsn, kOurIss, o);
  TcpOptions old;
  old.has_timestamps = true;
  old.ts_val = 5;
  h.in(kRst, h.peer_nxt, 0, "", 0, old);
  EXPECT_EQ(h.app.closed.size(), 1u);
}

}  // namespace
}  // namespace shardtcp::tcp::testing
