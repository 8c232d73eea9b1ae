// Issue 10: RFC deviations found by a conformance suite and in the code.
// Each test failed before its fix. Exact to the segment: what is sent and
// what is not.
#include <string>

#include "engine_harness.h"

namespace shardtcp::tcp::testing {
namespace {

// --- RFC 9293 §3.10.7.4 first check / RFC 5961 §3.2: RST at the right edge --

class RstEdge : public EstablishedTest {};

TEST_F(RstEdge, RstAtRightEdgeIsDroppedSilently) {
  const std::uint32_t wnd = h.tcb(c).rcv_wnd();
  ASSERT_GT(wnd, 0u);
  // RCV.NXT+RCV.WND is outside the window: no challenge ACK, no reset.
  h.in(kRst, p + wnd, 0);
  h.expect_none();
  EXPECT_EQ(c->state(), State::kEstablished);
  EXPECT_EQ(h.counters.challenge_acks.get(), 0u);
  EXPECT_EQ(h.drops(DropReason::kUnacceptable), 1u);
  // One below the edge is inside: challenge ACK.
  h.in(kRst, p + wnd - 1, 0);
  Out a = h.take_one();
  EXPECT_EQ(a.seg.flags, kAck);
  EXPECT_EQ(a.seg.ack, p);
  EXPECT_EQ(h.counters.challenge_acks.get(), 1u);
  EXPECT_TRUE(h.app.closed.empty());
}

TEST_F(RstEdge, BareAckAtRightEdgeStaysAcceptable) {
  const std::uint32_t wnd = h.tcb(c).rcv_wnd();
  c->send("abc", 3);
  h.take_one();
  // A zero-length non-RST at the edge is accepted (no ACK in reply) and
  // its ACK field is processed.
  h.in(kAck, p + wnd, u + 3);
  h.expect_none();
  EXPECT_EQ(h.tcb(c).snd_una, u + 3);
  EXPECT_EQ(h.drops(DropReason::kUnacceptable), 0u);
}

// --- RFC 9293 §3.10.7.3: text on a SYN-ACK / on a SYN in simultaneous open ---

Connection* start(Harness& h) {
  h.impl().isn_override_ = true;
  h.impl().isn_override_value_ = kOurIss;
  return h.connect();
}

TEST(SynText, DataOnSynAckIsDeliveredAndAcked) {
  Harness h;
  Connection* c = start(h);
  h.take_one();
  h.in(kSyn | kAck, kPeerIsn, kOurIss + 1, "hello", 65535, mss_option());
  Out a = h.take_one();  // one ACK, covering SYN and text
  EXPECT_EQ(a.seg.flags, kAck);
  EXPECT_EQ(a.seg.seq, kOurIss + 1);
  EXPECT_EQ(a.seg.ack, kPeerIsn + 6);
  EXPECT_EQ(c->state(), State::kEstablished);
  ASSERT_EQ(h.app.connected.size(), 1u);
  EXPECT_EQ(h.app.data, "hello");
}

TEST(SynText, DataAndFinOnSynAckMoveToCloseWait) {
  Harness h;
  Connection* c = start(h);
  h.take_one();
  h.in(kSyn | kAck | kFin, kPeerIsn, kOurIss + 1, "bye", 65535, mss_option());
  Out a = h.take_one();
  EXPECT_EQ(a.seg.flags, kAck);
  EXPECT_EQ(a.seg.ack, kPeerIsn + 1 + 3 + 1);
  EXPECT_EQ(c->state(), State::kCloseWait);
  EXPECT_EQ(h.app.data, "bye");
  EXPECT_EQ(h.app.peer_closed, 1);
}

TEST(SynText, DataOnSynInSimultaneousOpenIsQueuedUntilEstablished) {
  Harness h;
  Connection* c = start(h);
  h.take_one();
  h.in(kSyn, kPeerIsn, 0, "hi", 65535, mss_option());
  Out sa = h.take_one();  // the text is queued, not yet acknowledged
  EXPECT_EQ(sa.seg.flags, kSyn | kAck);
  EXPECT_EQ(sa.seg.ack, kPeerIsn + 1);
  EXPECT_EQ(h.app.data, "");
  h.in(kSyn | kAck, kPeerIsn, kOurIss + 1, "", 65535, mss_option());
  EXPECT_EQ(c->state(), State::kEstablished);
  ASSERT_EQ(h.app.connected.size(), 1u);
  EXPECT_EQ(h.app.data, "hi");
  Out a = h.take_one();
  EXPECT_EQ(a.seg.flags, kAck);
  EXPECT_EQ(a.seg.ack, kPeerIsn + 3);
}

// --- TIME-WAIT: RFC 9293 §3.10.7.4, RFC 5961 §4.2, RFC 1122 §4.2.2.13 -------

class TimeWaitRules : public EstablishedTest {
 protected:
  void SetUp() override {
    EstablishedTest::SetUp();
    c->close();
    h.in(kAck | kFin, p, u + 1);
    h.take();
    ASSERT_EQ(h.stack->time_wait_count(), 1u);
  }
  void expect_challenge_ack() {
    Out a = h.take_one();
    EXPECT_EQ(a.seg.flags, kAck);
    EXPECT_EQ(a.seg.seq, u + 1);
    EXPECT_EQ(a.seg.ack, p + 1);
  }
};

TEST_F(TimeWaitRules, SynFinAboveRcvNxtKeepsEntryAndDrawsChallengeAck) {
  h.in(kSyn | kFin, p + 100000, 0, "", 65535, Harness::mss_only());
  expect_challenge_ack();
  EXPECT_EQ(h.stack->time_wait_count(), 1u);
  EXPECT_EQ(h.stack->connection_count(), 0u);
  EXPECT_EQ(h.counters.time_wait_reopens.get(), 0u);
  // A plain SYN still reopens.
  h.in(kSyn, p + 100000, 0, "", 65535, Harness::mss_only());
  EXPECT_EQ(h.take_one().seg.flags, kSyn | kAck);
  EXPECT_EQ(h.stack->time_wait_count(), 0u);
}

TEST_F(TimeWaitRules, SynAckAtRcvNxtDrawsChallengeAck) {
  h.in(kSyn | kAck, p + 1, u + 1);
  expect_challenge_ack();
  EXPECT_EQ(h.stack->time_wait_count(), 1u);
}

TEST_F(TimeWaitRules, InWindowFinWithoutAckIsDropped) {
  h.in(kFin, p + 1, 0);
  h.expect_none();
  EXPECT_EQ(h.stack->time_wait_count(), 1u);
  EXPECT_EQ(h.drops(DropReason::kTimeWait), 1u);
  // The retransmitted FIN (below RCV.NXT, unacceptable) is still re-ACKed.
  h.in(kFin, p, 0);
  expect_challenge_ack();
}

// --- A FIN taken at a zero window: RCV.WND must not wrap -------------------

std::uint32_t g_wnd_at_fin = 0;

TEST(FinAtZeroWindow, ReceiveWindowDoesNotWrap) {
  TcpConfig cfg = Harness::default_config();
  cfg.rcv_buf = 1000;  // one segment fills the window; its ACK is delayed
  Harness h(cfg);
  h.handlers.on_peer_closed = [](Connection& c) { g_wnd_at_fin = static_cast<Tcb&>(c).rcv_wnd(); };
  h.listen();
  Connection* c = h.open();
  ASSERT_NE(c, nullptr);
  h.take();
  const std::uint32_t p = h.peer_nxt;
  const std::uint32_t u = h.our_nxt;
  h.in(kAck, p, u, std::string(1000, 'x'));
  h.expect_none();  // delayed ACK
  ASSERT_EQ(h.tcb(c).rcv_wnd(), 0u);
  g_wnd_at_fin = 12345;
  h.in(kAck | kFin, p + 1000, u);
  EXPECT_EQ(g_wnd_at_fin, 0u);  // read inside on_peer_closed, before the ACK
  Out a = h.take_one();
  EXPECT_EQ(a.seg.flags, kAck);
  EXPECT_EQ(a.seg.ack, p + 1001);
  EXPECT_EQ(c->state(), State::kCloseWait);
}

// --- Listen options override the global config both ways -------------------

TEST(ListenOpts, ListenerTurnsNagleAndKeepaliveOff) {
  TcpConfig cfg = Harness::default_config();
  cfg.nagle = true;
  cfg.keepalive = true;
  Harness h(cfg);
  ListenOptions lo;
  lo.nagle = false;
  lo.keepalive = false;
  h.listen(kPort, lo);
  Connection* c = h.open();
  ASSERT_NE(c, nullptr);
  h.take();
  // Nagle off: a second small segment goes while the first is unacked.
  c->send("a", 1);
  c->send("b", 1);
  auto v = h.take();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[1].payload, "b");
  h.in(kAck, h.peer_nxt, h.our_nxt + 2);
  // Keep-alive off: idle far beyond keepalive_idle, nothing is sent.
  h.advance(cfg.keepalive_idle + 10 * cfg.keepalive_interval);
  h.expect_none();
}

TEST(ListenOpts, UnsetListenOptionsInheritConfig) {
  TcpConfig cfg = Harness::default_config();
  cfg.nagle = true;
  cfg.keepalive = true;
  Harness h(cfg);
  h.listen();
  Connection* c = h.open();
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(h.tcb(c).nagle);
  EXPECT_TRUE(h.tcb(c).keepalive);
}

// --- RFC 5681 §2: answers to zero-window probes are not duplicate ACKs -----

class ProbeAnswers : public EstablishedTest {};

TEST_F(ProbeAnswers, AnsweredProbesDoNotTriggerFastRetransmit) {
  h.in(kAck, p, u, "", 0);  // the peer closes its window
  c->send("abc", 3);
  h.expect_none();
  const std::uint32_t cwnd = h.tcb(c).cc.cwnd();
  for (int i = 1; i <= 4; ++i) {
    h.advance(h.impl().persist_interval(h.tcb(c)));
    Out probe = h.take_one();
    EXPECT_EQ(probe.seg.seq, u);
    EXPECT_EQ(probe.payload, "a");
    EXPECT_EQ(h.counters.zero_window_probes.get(), static_cast<std::uint64_t>(i));
    // The answer: same ACK, same zero window. Not a duplicate ACK.
    h.in(kAck, p, u, "", 0);
    h.expect_none();
    EXPECT_TRUE(h.tcb(c).persist);
    EXPECT_EQ(h.tcb(c).dupacks, 0);
  }
  EXPECT_EQ(h.counters.fast_retransmits.get(), 0u);
  EXPECT_EQ(h.tcb(c).cc.cwnd(), cwnd);
  EXPECT_FALSE(h.tcb(c).in_recovery);
  // The window opens: everything goes at once.
  h.in(kAck, p, u, "", 1000);
  Out o = h.take_one();
  EXPECT_EQ(o.seg.seq, u);
  EXPECT_EQ(o.payload, "abc");
}

}  // namespace
}  // namespace shardtcp::tcp::testing
