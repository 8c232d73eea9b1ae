// Every close path: CLOSE-WAIT, LAST-ACK, FIN-WAIT-1, FIN-WAIT-2, CLOSING,
// TIME-WAIT; abort, shutdown, close with data arriving later.
#include "engine_harness.h"

namespace shardtcp::tcp::testing {
namespace {

class Closing : public EstablishedTest {};

TEST_F(Closing, PassiveCloseThroughCloseWaitAndLastAck) {
  h.in(kAck | kFin, p, u);
  Out a = h.take_one();  // FIN is acknowledged at once
  EXPECT_EQ(a.seg.flags, kAck);
  EXPECT_EQ(a.seg.ack, p + 1);
  EXPECT_EQ(c->state(), State::kCloseWait);
  EXPECT_EQ(h.app.peer_closed, 1);
  EXPECT_EQ(h.gauge(State::kCloseWait), 1);
  EXPECT_EQ(h.counters.oldest_close_wait_since.get(), static_cast<std::int64_t>(h.now));
  h.advance(5 * kUsPerSec);
  h.expect_none();
  c->close();
  Out f = h.take_one();
  EXPECT_EQ(f.seg.flags, kAck | kFin);
  EXPECT_EQ(f.seg.seq, u);
  EXPECT_EQ(f.seg.ack, p + 1);
  EXPECT_EQ(c->state(), State::kLastAck);
  EXPECT_EQ(h.counters.oldest_close_wait_since.get(), 0);
  EXPECT_EQ(h.gauge(State::kLastAck), 1);
  h.in(kAck, p + 1, u + 1);
  h.expect_none();
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.app.closed[0], CloseReason::kNormal);
  EXPECT_EQ(h.gauge(State::kLastAck), 0);
  EXPECT_EQ(h.stack->connection_count(), 0u);
  EXPECT_EQ(h.stack->time_wait_count(), 0u);
}

TEST_F(Closing, CloseOnPeerFinSendsFinAckInOneSegment) {
  h.app.close_on_peer_fin = true;
  h.in(kAck | kFin, p, u);
  Out f = h.take_one();
  EXPECT_EQ(f.seg.flags, kAck | kFin);
  EXPECT_EQ(f.seg.ack, p + 1);
  EXPECT_EQ(h.gauge(State::kLastAck), 1);
}

TEST_F(Closing, LastAckRetransmitsFin) {
  h.app.close_on_peer_fin = true;
  h.in(kAck | kFin, p, u);
  h.take();
  h.advance(h.tcb(c).rtt.rto());
  Out f = h.take_one();
  EXPECT_EQ(f.seg.flags, kAck | kFin);
  EXPECT_EQ(f.seg.seq, u);
}

TEST_F(Closing, ActiveCloseToTimeWaitAndExpiry) {
  c->close();
  Out f = h.take_one();
  EXPECT_EQ(f.seg.flags, kAck | kFin);
  EXPECT_EQ(f.seg.seq, u);
  EXPECT_EQ(c->state(), State::kFinWait1);
  h.in(kAck, p, u + 1);
  h.expect_none();
  EXPECT_EQ(c->state(), State::kFinWait2);
  h.in(kAck | kFin, p, u + 1);
  Out a = h.take_one();
  EXPECT_EQ(a.seg.flags, kAck);
  EXPECT_EQ(a.seg.seq, u + 1);
  EXPECT_EQ(a.seg.ack, p + 1);
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.app.closed[0], CloseReason::kNormal);
  EXPECT_EQ(h.stack->connection_count(), 0u);
  EXPECT_EQ(h.stack->time_wait_count(), 1u);
  EXPECT_EQ(h.gauge(State::kTimeWait), 1);
  EXPECT_EQ(h.gauge(State::kFinWait2), 0);
  h.advance(2 * h.cfg.msl - 1);
  EXPECT_EQ(h.stack->time_wait_count(), 1u);  // never early
  h.advance(1);
  EXPECT_EQ(h.stack->time_wait_count(), 0u);
  EXPECT_EQ(h.gauge(State::kTimeWait), 0);
  EXPECT_EQ(h.counters.time_wait_expired.get(), 1u);
  h.expect_none();
}

TEST_F(Closing, FinAckOfOurFinGoesStraightToTimeWait) {
  c->close();
  h.take();
  h.in(kAck | kFin, p, u + 1);  // acks our FIN and carries theirs
  Out a = h.take_one();
  EXPECT_EQ(a.seg.ack, p + 1);
  EXPECT_EQ(h.stack->time_wait_count(), 1u);
  EXPECT_EQ(h.gauge(State::kFinWait1), 0);
  EXPECT_EQ(h.gauge(State::kFinWait2), 0);
  EXPECT_EQ(h.gauge(State::kTimeWait), 1);
}

TEST_F(Closing, SimultaneousCloseThroughClosing) {
  c->close();
  h.take();
  h.in(kAck | kFin, p, u);  // their FIN crosses ours
  Out a = h.take_one();
  EXPECT_EQ(a.seg.ack, p + 1);
  EXPECT_EQ(c->state(), State::kClosing);
  EXPECT_EQ(h.gauge(State::kClosing), 1);
  h.in(kAck, p + 1, u + 1);
  h.expect_none();
  EXPECT_EQ(h.stack->time_wait_count(), 1u);
  EXPECT_EQ(h.gauge(State::kClosing), 0);
  EXPECT_EQ(h.gauge(State::kTimeWait), 1);
  ASSERT_EQ(h.app.closed.size(), 1u);
}

class InTimeWait : public Closing {
 protected:
  void SetUp() override {
    Closing::SetUp();
    c->close();
    h.in(kAck | kFin, p, u + 1);
    h.take();
    ASSERT_EQ(h.stack->time_wait_count(), 1u);
  }
};

TEST_F(InTimeWait, RetransmittedFinIsReackedAndTimerRestarts) {
  h.advance(h.cfg.msl);
  h.in(kAck | kFin, p, u + 1);
  Out a = h.take_one();
  EXPECT_EQ(a.seg.flags, kAck);
  EXPECT_EQ(a.seg.seq, u + 1);
  EXPECT_EQ(a.seg.ack, p + 1);
  h.advance(h.cfg.msl);  // the original 2*MSL has passed
  EXPECT_EQ(h.stack->time_wait_count(), 1u);
  h.advance(h.cfg.msl);
  EXPECT_EQ(h.stack->time_wait_count(), 0u);
}

TEST_F(InTimeWait, RstIsIgnored) {
  h.in(kRst, p + 1, 0);
  h.expect_none();
  EXPECT_EQ(h.stack->time_wait_count(), 1u);  // RFC 1337
  EXPECT_EQ(h.drops(DropReason::kTimeWait), 1u);
}

TEST_F(InTimeWait, OldSynIsAnsweredWithAck) {
  h.in(kSyn, p - 100, 0, "", 65535, Harness::mss_only());
  Out a = h.take_one();
  EXPECT_EQ(a.seg.flags, kAck);
  EXPECT_EQ(a.seg.seq, u + 1);
  EXPECT_EQ(a.seg.ack, p + 1);
  EXPECT_EQ(h.stack->time_wait_count(), 1u);
}

TEST_F(InTimeWait, SynBeyondRcvNxtReopens) {
  h.in(kSyn, p + 100000, 0, "", 65535, Harness::mss_only());
  Out sa = h.take_one();
  EXPECT_EQ(sa.seg.flags, kSyn | kAck);
  EXPECT_EQ(sa.seg.ack, p + 100001);
  EXPECT_EQ(h.stack->time_wait_count(), 0u);
  EXPECT_EQ(h.stack->connection_count(), 1u);
  EXPECT_EQ(h.counters.time_wait_reopens.get(), 1u);
  EXPECT_EQ(h.gauge(State::kTimeWait), 0);
  EXPECT_EQ(h.gauge(State::kSynReceived), 1);
}

TEST_F(Closing, FinWait2TimeoutReleasesOrphan) {
  c->close();
  h.in(kAck, p, u + 1);
  h.take();
  EXPECT_EQ(c->state(), State::kFinWait2);
  h.advance(h.cfg.fin_wait2_timeout - 1);
  h.expect_none();
  EXPECT_TRUE(h.app.closed.empty());
  h.advance(1);
  Out r = h.take_one();
  EXPECT_EQ(r.seg.flags, kRst | kAck);
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.app.closed[0], CloseReason::kFinWait2Timeout);
  EXPECT_EQ(h.counters.fin_wait2_timeouts.get(), 1u);
  EXPECT_EQ(h.gauge(State::kFinWait2), 0);
  EXPECT_EQ(h.stack->connection_count(), 0u);
}

TEST_F(Closing, HalfCloseKeepsReceivingWithoutFinWait2Timeout) {
  c->shutdown();
  Out f = h.take_one();
  EXPECT_EQ(f.seg.flags, kAck | kFin);
  h.in(kAck, p, u + 1);
  EXPECT_EQ(c->state(), State::kFinWait2);
  h.advance(h.cfg.fin_wait2_timeout * 2);
  EXPECT_TRUE(h.app.closed.empty());  // not orphaned: no timeout
  h.in(kAck | kPsh, p, u + 1, "late response");
  EXPECT_EQ(h.app.data, "late response");
  h.in(kAck | kFin, p + 13, u + 1);
  EXPECT_EQ(h.app.peer_closed, 1);
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.stack->time_wait_count(), 1u);
}

TEST_F(Closing, PeerHalfCloseWhileWeKeepSending) {
  h.in(kAck | kFin, p, u);
  h.take();
  EXPECT_EQ(c->state(), State::kCloseWait);
  EXPECT_EQ(c->send("more", 4), 4u);
  Out d = h.take_one();
  EXPECT_EQ(d.payload, "more");
  EXPECT_EQ(d.seg.ack, p + 1);
}

TEST_F(Closing, QueuedDataGoesBeforeFin) {
  h.in(kAck, p, u, "", 1000);  // small peer window holds data back
  std::string d(3000, 'd');
  c->send(d.data(), d.size());
  c->close();
  auto v = h.take();
  for (auto& o : v) EXPECT_FALSE(o.seg.flags & kFin);
  std::uint32_t acked = 0;
  for (int i = 0; i < 10 && !(h.app.closed.size()); ++i) {
    h.advance(h.impl().persist_interval(h.tcb(c)));
    for (auto& o : h.take()) {
      if (o.seg.flags & kFin) {
        EXPECT_EQ(o.seg.seq + o.payload.size(), u + 3000);
      }
      acked = o.seg.seq + static_cast<std::uint32_t>(o.payload.size()) - u;
      h.in(kAck, p,
           o.seg.seq + static_cast<std::uint32_t>(o.payload.size()) +
               ((o.seg.flags & kFin) ? 1u : 0u),
           "", 1000);
    }
    for (auto& o : h.take()) {
      acked = o.seg.seq + static_cast<std::uint32_t>(o.payload.size()) - u;
      h.in(kAck, p,
           o.seg.seq + static_cast<std::uint32_t>(o.payload.size()) +
               ((o.seg.flags & kFin) ? 1u : 0u),
           "", 1000);
    }
  }
  EXPECT_EQ(acked, 3000u);
  EXPECT_EQ(c->state(), State::kFinWait2);
}

TEST_F(Closing, DataAfterCloseIsAnsweredWithRst) {
  c->close();
  h.take();
  h.in(kAck | kPsh, p, u + 1, "unwanted");
  Out r = h.take_one();
  EXPECT_EQ(r.seg.flags, kRst | kAck);
  EXPECT_EQ(r.seg.seq, u + 1);
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.app.closed[0], CloseReason::kAborted);
  EXPECT_EQ(h.app.data, "");
  EXPECT_EQ(h.stack->connection_count(), 0u);
}

TEST_F(Closing, AbortSendsRstAndClosesInsideTheCall) {
  c->send("pending", 7);
  h.take();
  c->abort();
  ASSERT_EQ(h.app.closed.size(), 1u);  // inside abort()
  EXPECT_EQ(h.app.closed[0], CloseReason::kAborted);
  Out r = h.take_one();
  EXPECT_EQ(r.seg.flags, kRst | kAck);
  EXPECT_EQ(r.seg.seq, u + 7);
  EXPECT_EQ(h.stack->connection_count(), 0u);
  EXPECT_EQ(h.gauge(State::kEstablished), 0);
  EXPECT_EQ(h.counters.estab_resets.get(), 1u);
  h.advance(10 * kUsPerSec);
  h.expect_none();                          // no timer left behind
  EXPECT_EQ(h.impl().chunks_in_use(), 0u);  // buffers reclaimed on the next call
}

TEST_F(Closing, AbortFromOnData) {
  h.app.abort_on_data = true;
  h.in(kAck | kPsh, p, u, "x");
  Out r = h.take_one();
  EXPECT_EQ(r.seg.flags, kRst | kAck);
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.app.closed[0], CloseReason::kAborted);
}

TEST_F(Closing, ExactRstResetsConnection) {
  h.in(kRst, p, 0);
  h.expect_none();
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.app.closed[0], CloseReason::kReset);
  EXPECT_EQ(h.counters.estab_resets.get(), 1u);
  EXPECT_EQ(h.counters.in_rsts.get(), 1u);
  EXPECT_EQ(h.gauge(State::kEstablished), 0);
}

TEST_F(Closing, RstInCloseWaitClearsFifo) {
  h.in(kAck | kFin, p, u);
  EXPECT_NE(h.counters.oldest_close_wait_since.get(), 0);
  h.in(kRst, p + 1, 0);
  EXPECT_EQ(h.counters.oldest_close_wait_since.get(), 0);
  EXPECT_EQ(h.gauge(State::kCloseWait), 0);
}

TEST(CloseWaitFifo, OldestIsTrackedAcrossSeveral) {
  Harness h;
  h.listen();
  std::vector<Connection*> cs;
  std::vector<std::uint32_t> ps;
  for (int i = 0; i < 3; ++i) {
    h.tuple.remote_port = static_cast<std::uint16_t>(41000 + i);
    cs.push_back(h.open(1000u * i, 5000u * i));
    ps.push_back(h.peer_nxt);
  }
  const TimeUs t0 = h.now;
  for (int i = 0; i < 3; ++i) {
    h.tuple.remote_port = static_cast<std::uint16_t>(41000 + i);
    h.in(kAck | kFin, ps[i], h.tcb(cs[i]).snd_nxt);
    h.advance(kUsPerSec);
  }
  EXPECT_EQ(h.gauge(State::kCloseWait), 3);
  EXPECT_EQ(h.counters.oldest_close_wait_since.get(), static_cast<std::int64_t>(t0));
  cs[0]->close();
  EXPECT_EQ(h.counters.oldest_close_wait_since.get(), static_cast<std::int64_t>(t0 + kUsPerSec));
  cs[2]->close();
  EXPECT_EQ(h.counters.oldest_close_wait_since.get(), static_cast<std::int64_t>(t0 + kUsPerSec));
  cs[1]->close();
  EXPECT_EQ(h.counters.oldest_close_wait_since.get(), 0);
}

TEST_F(Closing, OutOfOrderFinWaitsForTheHole) {
  h.in(kAck | kFin, p + 3, u, "def");
  Out d = h.take_one();
  EXPECT_EQ(d.seg.ack, p);
  EXPECT_EQ(c->state(), State::kEstablished);
  h.in(kAck, p, u, "abc");
  Out a = h.take_one();
  EXPECT_EQ(a.seg.ack, p + 7);  // data and FIN
  EXPECT_EQ(h.app.data, "abcdef");
  EXPECT_EQ(c->state(), State::kCloseWait);
  EXPECT_EQ(h.app.peer_closed, 1);
}

TEST_F(Closing, DataAfterPeerFinIsIgnored) {
  h.in(kAck | kFin, p, u);
  h.take();
  h.in(kAck, p + 1, u, "zz");
  EXPECT_EQ(h.app.data, "");
}

TEST(TimeWaitCapacity, OldestIsRecycledAndCounted) {
  TcpConfig cfg = Harness::default_config();
  cfg.time_wait_capacity = 2;
  Harness h(cfg);
  h.listen();
  for (int i = 0; i < 3; ++i) {
    h.tuple.remote_port = static_cast<std::uint16_t>(42000 + i);
    Connection* c = h.open(100u, 200u);
    c->close();
    h.in(kAck | kFin, h.peer_nxt, h.our_nxt + 1);
    h.take();
  }
  EXPECT_EQ(h.stack->time_wait_count(), 2u);
  EXPECT_EQ(h.gauge(State::kTimeWait), 2);
  EXPECT_EQ(h.counters.time_wait_recycled.get(), 1u);
}

TEST(TimeWaitActive, SynWithoutListenerIsAckedNotReopened) {
  Harness h;
  h.impl().isn_override_ = true;
  h.impl().isn_override_value_ = kOurIss;
  Connection* c = h.connect();
  h.in(kSyn | kAck, kPeerIsn, kOurIss + 1, "", 65535, mss_option());
  c->close();
  h.in(kAck | kFin, kPeerIsn + 1, kOurIss + 2);
  h.take();
  ASSERT_EQ(h.stack->time_wait_count(), 1u);
  h.in(kSyn, kPeerIsn + 100000, 0, "", 65535, mss_option());
  Out a = h.take_one();
  EXPECT_EQ(a.seg.flags, kAck);
  EXPECT_EQ(a.seg.seq, kOurIss + 2);
  EXPECT_EQ(a.seg.ack, kPeerIsn + 2);
  EXPECT_EQ(h.stack->time_wait_count(), 1u);
  EXPECT_EQ(h.counters.time_wait_reopens.get(), 0u);
}

TEST(TimeWaitTs, NewerTimestampReopensEvenWithLowerIsn) {
  Harness h;
  h.listen();
  TcpOptions o = mss_option();
  o.has_timestamps = true;
  o.ts_val = 1000;
  Connection* c = h.open(kPeerIsn, kOurIss, o);
  TcpOptions ts;
  ts.has_timestamps = true;
  ts.ts_val = 1001;
  c->close();
  h.in(kAck | kFin, h.peer_nxt, h.our_nxt + 1, "", 65535, ts);
  h.take();
  ASSERT_EQ(h.stack->time_wait_count(), 1u);
  TcpOptions syn = mss_option();
  syn.has_timestamps = true;
  syn.ts_val = 900;  // older: PAWS -> ACK
  h.in(kSyn, kPeerIsn - 5000, 0, "", 65535, syn);
  EXPECT_EQ(h.take_one().seg.flags, kAck);
  syn.ts_val = 5000;  // newer: RFC 6191 reopens although the ISN is lower
  h.in(kSyn, kPeerIsn - 5000, 0, "", 65535, syn);
  Out sa = h.take_one();
  EXPECT_EQ(sa.seg.flags, kSyn | kAck);
  EXPECT_EQ(h.counters.time_wait_reopens.get(), 1u);
}

}  // namespace
}  // namespace shardtcp::tcp::testing
