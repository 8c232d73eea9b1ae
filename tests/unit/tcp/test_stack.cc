// Passive open, options negotiation, SYN queue, CLOSED-port resets.
#include "engine_harness.h"

namespace shardtcp::tcp::testing {
namespace {

TEST(StackPassive, SynGetsSynAckWithMss) {
  Harness h;
  h.listen();
  h.impl().isn_override_ = true;
  h.impl().isn_override_value_ = kOurIss;
  h.in(kSyn, kPeerIsn, 0, "", 65535, Harness::mss_only(1400));
  Out o = h.take_one();
  EXPECT_EQ(o.seg.flags, kSyn | kAck);
  EXPECT_EQ(o.seg.seq, kOurIss);
  EXPECT_EQ(o.seg.ack, kPeerIsn + 1);
  EXPECT_EQ(o.seg.window, 65535);
  EXPECT_TRUE(o.seg.opts.has_mss);
  EXPECT_EQ(o.seg.opts.mss, 1460);
  // The peer offered nothing else, so nothing else is answered.
  EXPECT_FALSE(o.seg.opts.has_wscale);
  EXPECT_FALSE(o.seg.opts.sack_permitted);
  EXPECT_FALSE(o.seg.opts.has_timestamps);
  EXPECT_EQ(h.gauge(State::kSynReceived), 1);
  EXPECT_EQ(h.counters.passive_opens.get(), 1u);
  EXPECT_TRUE(h.app.accepted.empty());
  EXPECT_EQ(h.stack->connection_count(), 1u);
}

TEST(StackPassive, ThreeWayHandshakeAccepts) {
  Harness h;
  h.listen();
  Connection* c = h.open();
  ASSERT_NE(c, nullptr);
  h.expect_none();  // the final ACK is not answered
  EXPECT_EQ(c->state(), State::kEstablished);
  EXPECT_EQ(h.gauge(State::kSynReceived), 0);
  EXPECT_EQ(h.gauge(State::kEstablished), 1);
  EXPECT_EQ(c->tuple(), h.tuple);
  EXPECT_EQ(h.tcb(c).mss, 1460);
}

TEST(StackPassive, NegotiatesAllOptionsWhenOffered) {
  TcpConfig cfg = Harness::default_config();
  cfg.rcv_buf = 256 * 1024;
  Harness h(cfg);
  h.listen();
  TcpOptions o = Harness::mss_only(1460);
  o.has_wscale = true;
  o.wscale = 7;
  o.sack_permitted = true;
  o.has_timestamps = true;
  o.ts_val = 0xFFFFFFFE;  // wraps during the test
  h.impl().isn_override_ = true;
  h.impl().isn_override_value_ = kOurIss;
  h.in(kSyn, kPeerIsn, 0, "", 65535, o);
  Out sa = h.take_one();
  EXPECT_TRUE(sa.seg.opts.has_wscale);
  EXPECT_EQ(sa.seg.opts.wscale, 3);  // smallest shift covering 256 KiB
  EXPECT_TRUE(sa.seg.opts.sack_permitted);
  ASSERT_TRUE(sa.seg.opts.has_timestamps);
  EXPECT_EQ(sa.seg.opts.ts_ecr, 0xFFFFFFFEu);
  EXPECT_EQ(sa.seg.window, 65535);  // never scaled in a SYN
  TcpOptions a;
  a.has_timestamps = true;
  a.ts_val = 0xFFFFFFFF;
  a.ts_ecr = sa.seg.opts.ts_val;
  h.in(kAck, kPeerIsn + 1, kOurIss + 1, "", 100, a);  // 100 << 7
  ASSERT_EQ(h.app.accepted.size(), 1u);
  Tcb& t = h.tcb(h.app.accepted[0]);
  EXPECT_TRUE(t.ts_ok);
  EXPECT_TRUE(t.sack_ok);
  EXPECT_EQ(t.snd_wscale, 7);
  EXPECT_EQ(t.rcv_wscale, 3);
  EXPECT_EQ(t.snd_wnd, 100u << 7);
  EXPECT_EQ(t.mss, 1460 - 12);  // room for TSopt
  EXPECT_EQ(t.ts_recent, 0xFFFFFFFFu);
  // Our next ACK carries a scaled window and the timestamps.
  h.in(kAck, kPeerIsn + 1, kOurIss + 1, "x", 100, [] {
    TcpOptions x;
    x.has_timestamps = true;
    x.ts_val = 3;  // wrapped past 2^32: still newer
    x.ts_ecr = 1;
    return x;
  }());
  EXPECT_EQ(h.app.data, "x");
  h.advance(cfg.delayed_ack);
  Out ack = h.take_one();
  EXPECT_EQ(ack.seg.ack, kPeerIsn + 2);
  ASSERT_TRUE(ack.seg.opts.has_timestamps);
  EXPECT_EQ(ack.seg.opts.ts_ecr, 3u);
  EXPECT_LE(ack.seg.window, 65535);
  EXPECT_GE(static_cast<std::uint32_t>(ack.seg.window) << 3, 256u * 1024 - 2 * 1460);
}

TEST(StackPassive, MissingMssMeans536) {
  Harness h;
  h.listen();
  Connection* c = h.open(kPeerIsn, kOurIss, TcpOptions{});
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(h.tcb(c).mss, 536);
}

TEST(StackPassive, ConfigDisablesOptions) {
  TcpConfig cfg = Harness::default_config();
  cfg.window_scaling = false;
  cfg.sack = false;
  cfg.timestamps = false;
  Harness h(cfg);
  h.listen();
  TcpOptions o = Harness::mss_only();
  o.has_wscale = true;
  o.wscale = 7;
  o.sack_permitted = true;
  o.has_timestamps = true;
  o.ts_val = 5;
  h.in(kSyn, kPeerIsn, 0, "", 65535, o);
  Out sa = h.take_one();
  EXPECT_FALSE(sa.seg.opts.has_wscale);
  EXPECT_FALSE(sa.seg.opts.sack_permitted);
  EXPECT_FALSE(sa.seg.opts.has_timestamps);
}

TEST(StackPassive, SynAckRetransmittedWithBackoffThenGivesUp) {
  TcpConfig cfg = Harness::default_config();
  cfg.syn_retries = 2;
  Harness h(cfg);
  h.listen();
  h.impl().isn_override_ = true;
  h.impl().isn_override_value_ = kOurIss;
  h.in(kSyn, kPeerIsn, 0, "", 65535, Harness::mss_only());
  h.take_one();
  h.advance(999 * kUsPerMs);
  h.expect_none();  // never early
  h.advance(1 * kUsPerMs);
  Out r1 = h.take_one();
  EXPECT_EQ(r1.seg.flags, kSyn | kAck);
  EXPECT_EQ(r1.seg.seq, kOurIss);
  h.advance(1999 * kUsPerMs);
  h.expect_none();
  h.advance(1 * kUsPerMs);
  EXPECT_EQ(h.take_one().seg.flags, kSyn | kAck);  // 2 s: backed off
  EXPECT_EQ(h.counters.retrans_segs.get(), 2u);
  h.advance(4 * kUsPerSec);
  h.expect_none();  // retries exhausted: silently forgotten
  EXPECT_EQ(h.stack->connection_count(), 0u);
  EXPECT_EQ(h.gauge(State::kSynReceived), 0);
  EXPECT_EQ(h.counters.attempt_fails.get(), 1u);
  EXPECT_TRUE(h.app.closed.empty());  // never handed to the application
}

TEST(StackPassive, RetransmittedSynIsAnsweredWithSynAck) {
  Harness h;
  h.listen();
  h.impl().isn_override_ = true;
  h.impl().isn_override_value_ = kOurIss;
  h.in(kSyn, kPeerIsn, 0, "", 65535, Harness::mss_only());
  h.take_one();
  h.in(kSyn, kPeerIsn, 0, "", 65535, Harness::mss_only());
  Out o = h.take_one();
  EXPECT_EQ(o.seg.flags, kSyn | kAck);
  EXPECT_EQ(o.seg.seq, kOurIss);
  EXPECT_EQ(o.seg.ack, kPeerIsn + 1);
  EXPECT_EQ(h.stack->connection_count(), 1u);
}

TEST(StackPassive, BadAckInSynReceivedGetsReset) {
  Harness h;
  h.listen();
  h.impl().isn_override_ = true;
  h.impl().isn_override_value_ = kOurIss;
  h.in(kSyn, kPeerIsn, 0, "", 65535, Harness::mss_only());
  h.take_one();
  h.in(kAck, kPeerIsn + 1, kOurIss + 5);
  Out o = h.take_one();
  EXPECT_EQ(o.seg.flags, kRst);
  EXPECT_EQ(o.seg.seq, kOurIss + 5);
  EXPECT_EQ(h.gauge(State::kSynReceived), 1);  // still waiting for the right ACK
}

TEST(StackPassive, RstInSynReceivedReturnsToListen) {
  Harness h;
  h.listen();
  h.in(kSyn, kPeerIsn, 0, "", 65535, Harness::mss_only());
  h.take_one();
  h.in(kRst, kPeerIsn + 1, 0);
  h.expect_none();
  EXPECT_EQ(h.stack->connection_count(), 0u);
  EXPECT_EQ(h.gauge(State::kSynReceived), 0);
  EXPECT_EQ(h.gauge(State::kListen), 1);
}

TEST(StackPassive, SynFinIsDropped) {
  Harness h;
  h.listen();
  h.in(kSyn | kFin, kPeerIsn, 0);
  h.expect_none();
  EXPECT_EQ(h.drops(DropReason::kBadSynFlags), 1u);
}

TEST(StackPassive, AckToListenerGetsReset) {
  Harness h;
  h.listen();
  h.in(kAck, 1000, 0xFFFFFFFF);
  Out o = h.take_one();
  EXPECT_EQ(o.seg.flags, kRst);
  EXPECT_EQ(o.seg.seq, 0xFFFFFFFFu);
}

TEST(StackPassive, RstToListenerIsIgnored) {
  Harness h;
  h.listen();
  h.in(kRst, 1000, 0);
  h.expect_none();
}

TEST(StackPassive, SynQueueBoundWithoutCookies) {
  TcpConfig cfg = Harness::default_config();
  cfg.syn_cookies = false;
  Harness h(cfg);
  ListenOptions lo;
  lo.syn_backlog = 2;
  h.listen(kPort, lo);
  for (int i = 0; i < 3; ++i) {
    h.tuple.remote_port = static_cast<std::uint16_t>(50000 + i);
    h.in(kSyn, 100, 0, "", 65535, Harness::mss_only());
  }
  EXPECT_EQ(h.take().size(), 2u);
  EXPECT_EQ(h.stack->connection_count(), 2u);
  EXPECT_EQ(h.counters.listen_overflows.get(), 1u);
  EXPECT_EQ(h.counters.listen_drops.get(), 1u);
  EXPECT_EQ(h.drops(DropReason::kListenOverflow), 1u);
}

TEST(StackPassive, ConnectionLimitDropsSyn) {
  TcpConfig cfg = Harness::default_config();
  cfg.max_connections = 1;
  cfg.evict_idle_on_full = false;  // else the idle connection gives way (test_evict.cc)
  Harness h(cfg);
  h.listen();
  h.open();
  h.tuple.remote_port = 50001;
  h.in(kSyn, 100, 0, "", 65535, Harness::mss_only());
  h.expect_none();
  EXPECT_EQ(h.counters.conn_limit_drops.get(), 1u);
  EXPECT_EQ(h.drops(DropReason::kConnLimit), 1u);
}

TEST(StackPassive, ListenOnSpecificAddressAndAny) {
  Harness h;
  EXPECT_TRUE(h.stack->listen(80, h.handlers, &h.app, kLocalIp));
  EXPECT_FALSE(h.stack->listen(80, h.handlers, &h.app, kLocalIp));
  EXPECT_TRUE(h.stack->listen(80, h.handlers, &h.app, 0));
  EXPECT_EQ(h.gauge(State::kListen), 2);
  h.tuple.local_ip = kLocalIp + 7;  // other address: the wildcard listener takes it
  h.in(kSyn, 1, 0, "", 65535, Harness::mss_only());
  EXPECT_EQ(h.take_one().seg.flags, kSyn | kAck);
}

// RFC 9293 §3.10.7.1: no listener.
TEST(StackClosed, SynToClosedPortGetsRstAck) {
  Harness h;
  h.in(kSyn, 0xFFFFFFFF, 0);
  Out o = h.take_one();
  EXPECT_EQ(o.seg.flags, kRst | kAck);
  EXPECT_EQ(o.seg.seq, 0u);
  EXPECT_EQ(o.seg.ack, 0u);  // SEG.SEQ + SEG.LEN wraps
  EXPECT_EQ(h.counters.out_rsts.get(), 1u);
  EXPECT_EQ(h.drops(DropReason::kNoListenerRst), 1u);
}

TEST(StackClosed, DataWithoutAckGetsRstAckCoveringIt) {
  Harness h;
  h.in(kFin, 0xFFFFFFFE, 0, "abc");
  Out o = h.take_one();
  EXPECT_EQ(o.seg.flags, kRst | kAck);
  EXPECT_EQ(o.seg.ack, 0xFFFFFFFEu + 4);
}

TEST(StackClosed, AckGetsRstAtSegAck) {
  Harness h;
  h.in(kAck | kPsh, 5, 0xFFFFFFFA, "abc");
  Out o = h.take_one();
  EXPECT_EQ(o.seg.flags, kRst);
  EXPECT_EQ(o.seg.seq, 0xFFFFFFFAu);
}

TEST(StackClosed, RstIsNeverAnswered) {
  Harness h;
  h.in(kRst | kAck, 5, 6);
  h.expect_none();
  EXPECT_EQ(h.drops(DropReason::kRstNoConnection), 1u);
}

TEST(StackMemory, IdleEstablishedTcbFitsBudget) {
  // The target is <= 512 bytes of engine state per idle established
  // connection (Tcb + its 32-byte flow-table slot). RACK-TLP, ECN and the
  // spurious-retransmission undo state took the Tcb to 496 B (README, Scale):
  // this bound keeps it from growing further until it is shrunk again.
  static_assert(sizeof(Tcb) <= 496, "Tcb must not grow past 496 B");
  Harness h;
  h.listen();
  Connection* c = h.open();
  EXPECT_EQ(h.tcb(c).sndbuf.size(), 0u);
  EXPECT_EQ(h.tcb(c).reasm, nullptr);
  EXPECT_EQ(h.impl().chunks_in_use(), 0u);
}

TEST(StackPassive, PauseAcceptDropsNewSynsOnly) {
  Harness h;
  h.listen();
  Connection* c = h.open();
  h.stack->pause_accept(true);
  h.tuple.remote_port = 50001;
  h.in(kSyn, 100, 0, "", 65535, Harness::mss_only());
  h.expect_none();
  EXPECT_EQ(h.drops(DropReason::kNoMemory), 1u);
  h.tuple.remote_port = kPeerPort;
  h.in(kAck | kPsh, h.peer_nxt, h.our_nxt, "still served");
  EXPECT_EQ(h.app.data, "still served");
  EXPECT_EQ(c->state(), State::kEstablished);
  h.stack->pause_accept(false);
  h.tuple.remote_port = 50002;
  h.in(kSyn, 100, 0, "", 65535, Harness::mss_only());
  EXPECT_EQ(h.take_one().seg.flags, kSyn | kAck);
}

TEST(StackPassive, NextExpiryTracksTimers) {
  Harness h;
  EXPECT_EQ(h.stack->next_expiry(), kNever);
  h.listen();
  h.in(kSyn, 100, 0, "", 65535, Harness::mss_only());
  const TimeUs e = h.stack->next_expiry();
  EXPECT_LE(e, h.now + h.cfg.rto_initial);
  EXPECT_GT(e, h.now);
}

}  // namespace
}  // namespace shardtcp::tcp::testing
