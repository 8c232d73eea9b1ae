// Active open (issue 3): connect() -> SYN-SENT -> ESTABLISHED, SYN
// retransmission, refusal, timeout, simultaneous open; keepalive; SYN cookies.
#include "engine_harness.h"

namespace shardtcp::tcp::testing {
namespace {

Connection* start(Harness& h) {
  h.impl().isn_override_ = true;
  h.impl().isn_override_value_ = kOurIss;
  return h.connect();
}

TEST(ActiveOpen, SynCarriesAllOptions) {
  TcpConfig cfg = Harness::default_config();
  cfg.rcv_buf = 1 << 20;
  Harness h(cfg);
  Connection* c = start(h);
  ASSERT_NE(c, nullptr);
  Out s = h.take_one();
  EXPECT_EQ(s.seg.flags, kSyn);
  EXPECT_EQ(s.seg.seq, kOurIss);
  EXPECT_EQ(s.seg.window, 65535);
  EXPECT_TRUE(s.seg.opts.has_mss);
  EXPECT_EQ(s.seg.opts.mss, 1460);
  EXPECT_TRUE(s.seg.opts.has_wscale);
  EXPECT_EQ(s.seg.opts.wscale, 5);  // 65535 << 5 covers 1 MiB
  EXPECT_TRUE(s.seg.opts.sack_permitted);
  EXPECT_TRUE(s.seg.opts.has_timestamps);
  EXPECT_EQ(s.seg.opts.ts_ecr, 0u);
  EXPECT_EQ(c->state(), State::kSynSent);
  EXPECT_EQ(h.gauge(State::kSynSent), 1);
  EXPECT_EQ(h.counters.active_opens.get(), 1u);
}

TEST(ActiveOpen, SynAckEstablishesAndAcks) {
  Harness h;
  Connection* c = start(h);
  Out syn = h.take_one();
  TcpOptions o = mss_option(1400);
  o.has_wscale = true;
  o.wscale = 2;
  o.sack_permitted = true;
  o.has_timestamps = true;
  o.ts_val = 777;
  o.ts_ecr = syn.seg.opts.ts_val;
  h.in(kSyn | kAck, kPeerIsn, kOurIss + 1, "", 30000, o);
  Out a = h.take_one();
  EXPECT_EQ(a.seg.flags, kAck);
  EXPECT_EQ(a.seg.seq, kOurIss + 1);
  EXPECT_EQ(a.seg.ack, kPeerIsn + 1);
  EXPECT_EQ(a.seg.opts.ts_ecr, 777u);
  EXPECT_EQ(c->state(), State::kEstablished);
  ASSERT_EQ(h.app.connected.size(), 1u);
  Tcb& t = h.tcb(c);
  EXPECT_EQ(t.mss, 1400 - 12);
  EXPECT_EQ(t.snd_wnd, 30000u);  // a SYN's window is not scaled
  EXPECT_EQ(t.snd_wscale, 2);
  EXPECT_TRUE(t.sack_ok);
  EXPECT_EQ(h.gauge(State::kSynSent), 0);
  EXPECT_EQ(h.gauge(State::kEstablished), 1);
}

TEST(ActiveOpen, DataQueuedBeforeEstablishmentFollowsTheAck) {
  Harness h;
  Connection* c = start(h);
  h.take();
  EXPECT_EQ(c->send("GET / HTTP/1.1\r\n\r\n", 18), 18u);
  h.expect_none();
  h.in(kSyn | kAck, kPeerIsn, kOurIss + 1, "", 65535, mss_option());
  auto v = h.take();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].seg.flags, kAck);
  EXPECT_EQ(v[1].seg.seq, kOurIss + 1);
  EXPECT_EQ(v[1].payload, "GET / HTTP/1.1\r\n\r\n");
}

TEST(ActiveOpen, SynRetransmittedWithBackoffThenTimeout) {
  TcpConfig cfg = Harness::default_config();
  cfg.syn_retries = 3;
  Harness h(cfg);
  start(h);
  h.take();
  TimeUs rto = cfg.rto_initial;
  for (std::uint32_t i = 0; i < cfg.syn_retries; ++i) {
    h.advance(rto - 1);
    h.expect_none();
    h.advance(1);
    Out s = h.take_one();
    EXPECT_EQ(s.seg.flags, kSyn);
    EXPECT_EQ(s.seg.seq, kOurIss);
    rto *= 2;
  }
  h.advance(rto);
  h.expect_none();
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.app.closed[0], CloseReason::kTimeout);
  EXPECT_EQ(h.counters.attempt_fails.get(), 1u);
  EXPECT_EQ(h.gauge(State::kSynSent), 0);
  EXPECT_EQ(h.stack->connection_count(), 0u);
}

TEST(ActiveOpen, RstAckIsRefused) {
  Harness h;
  start(h);
  h.take();
  h.in(kRst | kAck, 0, kOurIss + 1);
  h.expect_none();
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.app.closed[0], CloseReason::kRefused);
  EXPECT_EQ(h.counters.attempt_fails.get(), 1u);
}

TEST(ActiveOpen, RstWithWrongAckIsIgnored) {
  Harness h;
  start(h);
  h.take();
  h.in(kRst | kAck, 0, kOurIss + 7);
  h.expect_none();  // a bad ACK draws <RST> only when the segment is not itself a RST
  EXPECT_TRUE(h.app.closed.empty());
}

TEST(ActiveOpen, SimultaneousOpen) {
  Harness h;
  Connection* c = start(h);
  h.take();
  h.in(kSyn, kPeerIsn, 0, "", 65535, mss_option());
  Out sa = h.take_one();
  EXPECT_EQ(sa.seg.flags, kSyn | kAck);
  EXPECT_EQ(sa.seg.seq, kOurIss);
  EXPECT_EQ(sa.seg.ack, kPeerIsn + 1);
  EXPECT_EQ(c->state(), State::kSynReceived);
  // The peer's own SYN,ACK crosses ours.
  h.in(kSyn | kAck, kPeerIsn, kOurIss + 1, "", 65535, mss_option());
  EXPECT_EQ(c->state(), State::kEstablished);
  EXPECT_EQ(h.app.connected.size(), 1u);
  EXPECT_TRUE(h.app.accepted.empty());
}

TEST(ActiveOpen, RstInSimultaneousSynReceivedIsRefused) {
  Harness h;
  start(h);
  h.take();
  h.in(kSyn, kPeerIsn, 0, "", 65535, mss_option());
  h.take();
  h.in(kRst, kPeerIsn + 1, 0);
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.app.closed[0], CloseReason::kRefused);
}

TEST(ActiveOpen, TupleInUseIsRejected) {
  Harness h;
  EXPECT_NE(h.connect(), nullptr);
  EXPECT_EQ(h.connect(), nullptr);
}

TEST(ActiveOpen, IsnsAreKeyedPerTuple) {
  Harness h;
  h.connect();
  Out a = h.take_one();
  h.tuple.local_port = 81;
  h.connect();
  Out b = h.take_one();
  EXPECT_NE(a.seg.seq, b.seg.seq);
}

// We close first and hold TIME-WAIT; the application connects the same
// 4-tuple again (a load generator cycling through its source ports).
// Returns our SND.NXT at the end (our FIN + 1).
std::uint32_t active_close_to_time_wait(Harness& h, bool timestamps) {
  Connection* c = start(h);
  Out syn = h.take_one();
  TcpOptions o = mss_option();
  if (timestamps) {
    o.has_timestamps = true;
    o.ts_val = 5000;
    o.ts_ecr = syn.seg.opts.ts_val;
  }
  h.in(kSyn | kAck, kPeerIsn, kOurIss + 1, "", 65535, o);
  h.take_one();
  c->close();
  EXPECT_EQ(h.take_one().seg.flags, kFin | kAck);
  if (timestamps) o.ts_val = 5001;
  h.in(kFin | kAck, kPeerIsn + 1, kOurIss + 2, "", 65535, o);
  EXPECT_EQ(h.take_one().seg.flags, kAck);
  EXPECT_EQ(h.stack->time_wait_count(), 1u);
  return kOurIss + 2;
}

TEST(TimeWaitReuse, ConnectTakesOverATimestampedTupleAfterOneSecond) {
  Harness h;
  const std::uint32_t old_snd_nxt = active_close_to_time_wait(h, true);
  // Too soon: the peer's timestamp clock may not have ticked since its last
  // segment, so PAWS could not tell old duplicates from new segments.
  EXPECT_EQ(h.connect(), nullptr);
  h.expect_none();
  EXPECT_EQ(h.counters.time_wait_reuse_refused.get(), 1u);
  EXPECT_EQ(h.stack->time_wait_count(), 1u);
  h.advance(kUsPerSec);
  Connection* c = h.connect();
  ASSERT_NE(c, nullptr);
  Out syn = h.take_one();
  EXPECT_EQ(syn.seg.flags, kSyn);
  // The overridden ISS (kOurIss) lies below the old incarnation's sequence
  // space: the new one starts a full unscaled window beyond its SND.NXT.
  EXPECT_EQ(syn.seg.seq, old_snd_nxt + 65537);
  EXPECT_TRUE(syn.seg.opts.has_timestamps);
  EXPECT_EQ(h.counters.time_wait_reused.get(), 1u);
  EXPECT_EQ(h.stack->time_wait_count(), 0u);
  EXPECT_EQ(h.gauge(State::kTimeWait), 0);
  EXPECT_EQ(h.gauge(State::kSynSent), 1);
}

TEST(TimeWaitReuse, WithoutTimestampsTheTupleWaitsForTwoMsl) {
  Harness h;
  active_close_to_time_wait(h, false);
  h.advance(kUsPerSec);
  EXPECT_EQ(h.connect(), nullptr);  // no PAWS: only TIME-WAIT protects
  EXPECT_EQ(h.counters.time_wait_reuse_refused.get(), 1u);
  h.advance(2 * h.cfg.msl);
  EXPECT_EQ(h.stack->time_wait_count(), 0u);
  EXPECT_NE(h.connect(), nullptr);  // an ordinary new connection: no reuse
  EXPECT_EQ(h.take_one().seg.flags, kSyn);
  EXPECT_EQ(h.counters.time_wait_reused.get(), 0u);
}

TEST(TimeWaitReuse, OffByConfig) {
  TcpConfig cfg = Harness::default_config();
  cfg.time_wait_reuse = false;
  Harness h(cfg);
  active_close_to_time_wait(h, true);
  h.advance(kUsPerSec);
  EXPECT_EQ(h.connect(), nullptr);
  EXPECT_EQ(h.counters.time_wait_reuse_refused.get(), 1u);
  EXPECT_EQ(h.stack->time_wait_count(), 1u);
}

TEST(ActiveOpen, CloseInSynSentDeletesTcb) {
  Harness h;
  Connection* c = start(h);
  h.take();
  c->close();
  h.expect_none();
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.gauge(State::kSynSent), 0);
  EXPECT_EQ(h.stack->connection_count(), 0u);
}

TEST(Keepalive, ProbesAfterIdleAndGivesUp) {
  TcpConfig cfg = Harness::default_config();
  cfg.keepalive_idle = 10 * kUsPerSec;
  cfg.keepalive_interval = 1 * kUsPerSec;
  cfg.keepalive_probes = 2;
  Harness h(cfg);
  h.listen();
  Connection* c = h.open();
  c->set_keepalive(true);
  h.take();
  h.advance(cfg.keepalive_idle - 1);
  h.expect_none();
  h.advance(1);
  Out p = h.take_one();
  EXPECT_EQ(p.seg.flags, kAck);
  EXPECT_EQ(p.seg.seq, h.our_nxt - 1);  // <SEQ=SND.NXT-1>
  EXPECT_EQ(p.payload, "");
  // An answer resets the idle clock.
  h.in(kAck, h.peer_nxt, h.our_nxt);
  h.advance(cfg.keepalive_idle - 1);
  h.expect_none();
  h.advance(1);
  h.take_one();
  h.advance(cfg.keepalive_interval);
  h.take_one();
  h.advance(cfg.keepalive_interval);
  Out r = h.take_one();
  EXPECT_EQ(r.seg.flags, kRst | kAck);
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.app.closed[0], CloseReason::kTimeout);
  EXPECT_EQ(h.counters.keepalive_probes.get(), 3u);
}

TEST(Keepalive, OffByDefault) {
  Harness h;
  h.listen();
  h.open();
  h.take();
  h.advance(h.cfg.keepalive_idle * 2);
  h.expect_none();
}

TEST(SynCookies, CookieWhenSynQueueFullThenValidAckEstablishes) {
  Harness h;
  ListenOptions lo;
  lo.syn_backlog = 1;
  h.listen(kPort, lo);
  h.tuple.remote_port = 50000;
  h.in(kSyn, 5, 0, "", 65535, mss_option());  // fills the queue
  h.take();
  h.tuple.remote_port = 50001;
  h.in(kSyn, 0xFFFFFFFF, 0, "", 65535, mss_option(1400));
  Out sa = h.take_one();
  EXPECT_EQ(sa.seg.flags, kSyn | kAck);
  EXPECT_EQ(sa.seg.ack, 0u);
  EXPECT_EQ(h.counters.syncookies_sent.get(), 1u);
  EXPECT_EQ(h.stack->connection_count(), 1u);  // no state for the cookie
  h.in(kAck | kPsh, 0, sa.seg.seq + 1, "hello");
  EXPECT_EQ(h.counters.syncookies_validated.get(), 1u);
  ASSERT_EQ(h.app.accepted.size(), 1u);
  EXPECT_EQ(h.app.data, "hello");
  EXPECT_EQ(h.tcb(h.app.accepted[0]).mss, 1400);
  EXPECT_EQ(h.app.accepted[0]->state(), State::kEstablished);
}

TEST(SynCookies, ForgedAckIsResetAndCounted) {
  Harness h;
  ListenOptions lo;
  lo.syn_backlog = 1;
  h.listen(kPort, lo);
  h.tuple.remote_port = 50000;
  h.in(kSyn, 5, 0, "", 65535, mss_option());
  h.tuple.remote_port = 50001;
  h.in(kSyn, 100, 0, "", 65535, mss_option());
  h.take();
  h.in(kAck, 101, 0x12345678);
  Out r = h.take_one();
  EXPECT_EQ(r.seg.flags, kRst);
  EXPECT_EQ(h.counters.syncookies_failed.get(), 1u);
  EXPECT_EQ(h.drops(DropReason::kSynCookieInvalid), 1u);
  EXPECT_TRUE(h.app.accepted.empty());
}

TEST(SynCookies, TimestampsCarryWscaleAndSack) {
  TcpConfig cfg = Harness::default_config();
  cfg.rcv_buf = 256 * 1024;
  Harness h(cfg);
  ListenOptions lo;
  lo.syn_backlog = 1;
  h.listen(kPort, lo);
  h.tuple.remote_port = 50000;
  h.in(kSyn, 5, 0, "", 65535, mss_option());
  h.tuple.remote_port = 50001;
  TcpOptions o = mss_option();
  o.has_wscale = true;
  o.wscale = 7;
  o.sack_permitted = true;
  o.has_timestamps = true;
  o.ts_val = 4242;
  h.take();
  h.in(kSyn, 100, 0, "", 65535, o);
  Out sa = h.take_one();
  ASSERT_TRUE(sa.seg.opts.has_timestamps);
  EXPECT_TRUE(sa.seg.opts.has_wscale);
  EXPECT_TRUE(sa.seg.opts.sack_permitted);
  TcpOptions a;
  a.has_timestamps = true;
  a.ts_val = 4243;
  a.ts_ecr = sa.seg.opts.ts_val;
  h.in(kAck, 101, sa.seg.seq + 1, "", 10, a);
  ASSERT_EQ(h.app.accepted.size(), 1u);
  Tcb& t = h.tcb(h.app.accepted[0]);
  EXPECT_TRUE(t.ts_ok);
  EXPECT_TRUE(t.sack_ok);
  EXPECT_EQ(t.snd_wscale, 7);
  EXPECT_EQ(t.rcv_wscale, 3);
  EXPECT_EQ(t.snd_wnd, 10u << 7);
}

TEST(ActiveOpen, RtoIsThreeSecondsAfterSynTimeoutWithoutSample) {
  TcpConfig cfg = Harness::default_config();
  cfg.timestamps = false;
  Harness h(cfg);
  Connection* c = start(h);
  h.take();
  h.advance(cfg.rto_initial);
  EXPECT_EQ(h.take_one().seg.flags, kSyn);  // the SYN timed out once
  h.in(kSyn | kAck, kPeerIsn, kOurIss + 1, "", 65535, mss_option());
  h.take();
  c->send("x", 1);
  h.take();
  // RFC 6298 (5.7): no valid sample (Karn), so RTO = 3 s when data begins.
  h.advance(3 * kUsPerSec - 1);
  h.expect_none();
  h.advance(1);
  EXPECT_EQ(h.take_one().payload, "x");
}

TEST(StackPassiveTimeout, SynRcvdTimeoutReleasesHalfOpen) {
  TcpConfig cfg = Harness::default_config();
  cfg.syn_rcvd_timeout = 1500 * kUsPerMs;
  Harness h(cfg);
  h.listen();
  h.in(kSyn, kPeerIsn, 0, "", 65535, mss_option());
  h.take();
  h.advance(1499 * kUsPerMs);
  EXPECT_EQ(h.stack->connection_count(), 1u);
  h.advance(1 * kUsPerMs);
  EXPECT_EQ(h.stack->connection_count(), 0u);
  EXPECT_EQ(h.gauge(State::kSynReceived), 0);
}

}  // namespace
}  // namespace shardtcp::tcp::testing
