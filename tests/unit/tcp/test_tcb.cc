// Data transfer on an established connection: delivery, ACK policy,
// out-of-order data and SACK, send buffer, retransmission.
#include "engine_harness.h"

namespace shardtcp::tcp::testing {
namespace {

class Established : public EstablishedTest {
 protected:
  std::uint32_t P() const { return h.peer_nxt; }  // peer's next sequence number
  std::uint32_t U() const { return h.our_nxt; }   // our next sequence number
};

TEST_F(Established, InOrderDataIsDeliveredAndAckDelayed) {
  h.in(kAck | kPsh, P(), U(), "hello");
  EXPECT_EQ(h.app.data, "hello");
  h.expect_none();  // delayed
  h.advance(h.cfg.delayed_ack - 1);
  h.expect_none();
  h.advance(1);
  Out a = h.take_one();
  EXPECT_EQ(a.seg.flags, kAck);
  EXPECT_EQ(a.seg.seq, U());
  EXPECT_EQ(a.seg.ack, P() + 5);
  EXPECT_EQ(h.counters.delayed_acks.get(), 1u);
}

TEST_F(Established, EverySecondFullSegmentIsAckedAtOnce) {
  const std::string full(1460, 'a');
  h.in(kAck, P(), U(), full);
  h.expect_none();
  h.in(kAck, P() + 1460, U(), full);
  Out a = h.take_one();
  EXPECT_EQ(a.seg.ack, P() + 2920);
  h.advance(h.cfg.delayed_ack);
  h.expect_none();  // nothing left to acknowledge
}

TEST_F(Established, ResponseCarriesTheAck) {
  h.app.echo = true;
  h.in(kAck | kPsh, P(), U(), "ping");
  Out o = h.take_one();
  EXPECT_EQ(o.seg.flags, kAck | kPsh);
  EXPECT_EQ(o.seg.seq, U());
  EXPECT_EQ(o.seg.ack, P() + 4);
  EXPECT_EQ(o.payload, "ping");
  h.advance(h.cfg.delayed_ack);
  h.expect_none();
}

TEST_F(Established, OutOfOrderGetsImmediateDupAckAndHoleFillAcksAll) {
  h.in(kAck, P() + 3, U(), "def");
  Out d = h.take_one();
  EXPECT_EQ(d.seg.ack, P());  // duplicate ACK
  EXPECT_EQ(h.app.data, "");
  EXPECT_EQ(h.counters.ooo_segs.get(), 1u);
  EXPECT_EQ(d.seg.opts.num_sack, 0);  // SACK not negotiated
  h.in(kAck, P(), U(), "abc");
  EXPECT_EQ(h.app.data, "abcdef");
  Out a = h.take_one();  // filling a hole: immediate
  EXPECT_EQ(a.seg.ack, P() + 6);
  EXPECT_EQ(h.tcb(c).reasm, nullptr);
}

TEST(EstablishedSack, DupAckCarriesSackBlocksMostRecentFirst) {
  Harness h;
  h.listen();
  TcpOptions o = Harness::mss_only();
  o.sack_permitted = true;
  Connection* c = h.open(kPeerIsn, kOurIss, o);
  ASSERT_TRUE(h.tcb(c).sack_ok);
  const std::uint32_t p = h.peer_nxt;
  h.in(kAck, p + 10, h.our_nxt, "0123456789");
  Out a = h.take_one();
  ASSERT_EQ(a.seg.opts.num_sack, 1);
  EXPECT_EQ(a.seg.opts.sack[0].left, p + 10);
  EXPECT_EQ(a.seg.opts.sack[0].right, p + 20);
  h.in(kAck, p + 30, h.our_nxt, "0123456789");
  a = h.take_one();
  ASSERT_EQ(a.seg.opts.num_sack, 2);
  EXPECT_EQ(a.seg.opts.sack[0].left, p + 30);
  EXPECT_EQ(a.seg.opts.sack[1].left, p + 10);
  // Window shrinks by what we hold out of order (rcv_buf minus OOO bytes);
  // the right edge never moves left, so the advertised edge stays.
  EXPECT_EQ(static_cast<std::uint32_t>(a.seg.window) + a.seg.ack, p + 65535);
}

TEST_F(Established, DuplicateDataIsAckedNotRedelivered) {
  h.in(kAck, P(), U(), "abc");
  h.in(kAck, P(), U(), "abc");
  Out a = h.take_one();
  EXPECT_EQ(a.seg.ack, P() + 3);
  EXPECT_EQ(h.app.data, "abc");
  EXPECT_EQ(h.drops(DropReason::kUnacceptable), 1u);
}

TEST_F(Established, PartiallyOldDataIsTrimmed) {
  h.in(kAck, P(), U(), "abc");
  h.in(kAck, P() + 1, U(), "bcdef");
  EXPECT_EQ(h.app.data, "abcdef");
}

TEST_F(Established, DataBeyondWindowIsTrimmed) {
  const std::string big(70000, 'z');
  h.in(kAck, P(), U(), big);
  EXPECT_EQ(h.app.data.size(), 65535u);
}

TEST_F(Established, SendEmitsDataWithPshAndStartsRto) {
  EXPECT_EQ(c->send("hello", 5), 5u);
  Out o = h.take_one();
  EXPECT_EQ(o.seg.flags, kAck | kPsh);
  EXPECT_EQ(o.seg.seq, U());
  EXPECT_EQ(o.seg.ack, P());
  EXPECT_EQ(o.payload, "hello");
  const TimeUs rto = h.tcb(c).rtt.rto();  // 200 ms: the handshake gave a sample
  EXPECT_EQ(rto, h.cfg.rto_min);
  h.advance(rto - 1);
  h.expect_none();
  h.advance(1);
  Out r = h.take_one();
  EXPECT_EQ(r.seg.seq, U());
  EXPECT_EQ(r.payload, "hello");
  EXPECT_EQ(h.counters.retrans_segs.get(), 1u);
  EXPECT_EQ(h.counters.rto_expirations.get(), 1u);
  // Backoff: the next one comes 2*RTO later.
  h.advance(2 * rto - 1);
  h.expect_none();
  h.advance(1);
  EXPECT_EQ(h.take_one().payload, "hello");
  // ACK stops the timer.
  h.in(kAck, P(), U() + 5);
  h.advance(60 * kUsPerSec);
  h.expect_none();
  EXPECT_EQ(h.tcb(c).sndbuf.size(), 0u);
  EXPECT_EQ(h.impl().chunks_in_use(), 0u);  // idle: no buffer held
}

TEST_F(Established, RetriesExhaustedClosesWithTimeout) {
  TcpConfig cfg = Harness::default_config();
  cfg.max_retries = 3;
  Harness h2(cfg);
  h2.listen();
  Connection* c2 = h2.open();
  c2->send("x", 1);
  h2.take();
  for (int i = 0; i < 3; ++i) {
    h2.advance(h2.tcb(c2).rtt.rto());
    EXPECT_EQ(h2.take_one().payload, "x");
  }
  h2.advance(h2.tcb(c2).rtt.rto());
  h2.expect_none();
  ASSERT_EQ(h2.app.closed.size(), 1u);
  EXPECT_EQ(h2.app.closed[0], CloseReason::kTimeout);
  EXPECT_EQ(h2.counters.timeouts.get(), 1u);
  EXPECT_EQ(h2.counters.estab_resets.get(), 1u);
  EXPECT_EQ(h2.gauge(State::kEstablished), 0);
  EXPECT_EQ(h2.stack->connection_count(), 0u);
}

TEST_F(Established, LargeSendIsSegmentedAndLimitedByInitialWindow) {
  std::string big(20 * 1460, 'q');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  EXPECT_EQ(c->send(big.data(), big.size()), big.size());
  auto v = h.take();
  ASSERT_EQ(v.size(), 10u);  // RFC 6928 IW10
  for (std::size_t i = 0; i < v.size(); ++i) {
    EXPECT_EQ(v[i].seg.seq, U() + static_cast<std::uint32_t>(i) * 1460);
    EXPECT_EQ(v[i].payload, big.substr(i * 1460, 1460));
  }
  // ACK of two segments opens room for more (slow start).
  h.in(kAck, P(), U() + 2 * 1460);
  auto w = h.take();
  EXPECT_GE(w.size(), 2u);
  EXPECT_EQ(w[0].seg.seq, U() + 10 * 1460);
  EXPECT_EQ(w[0].payload, big.substr(10 * 1460, 1460));
}

TEST_F(Established, PeerWindowIsRespected) {
  h.in(kAck, P(), U(), "", 40000);
  std::string d(50000, 'w');
  c->send(d.data(), d.size());
  auto v = h.take();
  std::uint32_t sent = 0;
  for (auto& o : v) sent += static_cast<std::uint32_t>(o.payload.size());
  EXPECT_EQ(sent, 10u * 1460);                 // IW10 is the tighter limit
  h.in(kAck, P(), U() + 10 * 1460, "", 1000);  // window shrinks to 1000
  // 1000 < MSS and < half the largest window: SWS avoidance holds it
  // (RFC 1122 §4.2.3.4) until the override timer fires.
  h.expect_none();
  h.advance(h.impl().persist_interval(h.tcb(c)));
  Out o = h.take_one();
  EXPECT_EQ(o.seg.seq, U() + 10 * 1460);
  EXPECT_EQ(o.payload.size(), 1000u);
}

TEST_F(Established, SendBufferLimitsAndWritable) {
  TcpConfig cfg = Harness::default_config();
  cfg.snd_buf = 4000;
  Harness h2(cfg);
  h2.listen();
  Connection* c2 = h2.open();
  std::string d(5000, 'x');
  EXPECT_EQ(c2->send_space(), 4000u);
  EXPECT_EQ(c2->send(d.data(), d.size()), 4000u);
  EXPECT_EQ(c2->send_space(), 0u);
  EXPECT_EQ(c2->send(d.data(), 1), 0u);
  h2.take();
  h2.in(kAck, h2.peer_nxt, h2.our_nxt + 1460);
  EXPECT_EQ(h2.app.writable, 1);
  EXPECT_EQ(c2->send_space(), 1460u);
}

TEST_F(Established, ZeroWindowProbeWithBackoff) {
  h.in(kAck, P(), U(), "", 0);  // peer closes its window
  c->send("abc", 3);
  h.expect_none();
  const TimeUs rto = h.tcb(c).rtt.rto();
  h.advance(rto);
  Out p1 = h.take_one();  // one octet of new data
  EXPECT_EQ(p1.seg.seq, U());
  EXPECT_EQ(p1.payload, "a");
  EXPECT_EQ(h.counters.zero_window_probes.get(), 1u);
  h.in(kAck, P(), U(), "", 0);  // still shut
  h.expect_none();
  h.advance(2 * rto - 1);
  h.expect_none();
  h.advance(1);
  EXPECT_EQ(h.take_one().payload, "a");  // backed off
  // Window opens: everything goes.
  h.in(kAck, P(), U(), "", 1000);
  Out o = h.take_one();
  EXPECT_EQ(o.seg.seq, U());
  EXPECT_EQ(o.payload, "abc");
}

TEST_F(Established, ZeroWindowProbeAcceptedAdvances) {
  h.in(kAck, P(), U(), "", 0);
  c->send("abc", 3);
  h.advance(h.tcb(c).rtt.rto());
  h.take_one();
  h.in(kAck, P(), U() + 1, "", 1000);  // the probe octet was taken
  Out o = h.take_one();
  EXPECT_EQ(o.seg.seq, U() + 1);
  EXPECT_EQ(o.payload, "bc");
}

TEST_F(Established, NagleHoldsSecondSmallSegment) {
  c->set_nodelay(false);
  c->send("a", 1);
  EXPECT_EQ(h.take().size(), 1u);
  c->send("b", 1);
  h.expect_none();
  h.in(kAck, P(), U() + 1);
  Out o = h.take_one();
  EXPECT_EQ(o.payload, "b");
}

TEST_F(Established, NagleOffByDefault) {
  c->send("a", 1);
  c->send("b", 1);
  EXPECT_EQ(h.take().size(), 2u);
}

TEST(EstablishedRtt, HandshakeAndDataSamplesUpdateRto) {
  Harness h;
  h.listen();
  h.impl().isn_override_ = true;
  h.impl().isn_override_value_ = kOurIss;
  h.in(kSyn, kPeerIsn, 0, "", 65535, Harness::mss_only());
  h.take();
  h.advance(100 * kUsPerMs);
  h.in(kAck, kPeerIsn + 1, kOurIss + 1);
  Connection* c = h.app.accepted.at(0);
  // RFC 6298 (2.2): SRTT = R, RTTVAR = R/2, RTO = R + 4*RTTVAR = 300 ms.
  EXPECT_EQ(h.tcb(c).rtt.srtt(), 100 * kUsPerMs);
  EXPECT_EQ(h.tcb(c).rtt.rto(), 300 * kUsPerMs);
  c->send("a", 1);
  h.take();
  h.advance(100 * kUsPerMs);
  h.in(kAck, kPeerIsn + 1, kOurIss + 2);
  // (2.3): RTTVAR = 3/4*50 + 1/4*0, SRTT = 100: RTO = 100 + 4*37.5 = 250 ms.
  EXPECT_EQ(h.tcb(c).rtt.srtt(), 100 * kUsPerMs);
  EXPECT_EQ(h.tcb(c).rtt.rto(), 250 * kUsPerMs);
}

TEST_F(Established, AckForUnsentDataIsAnsweredAndDropped) {
  h.in(kAck, P(), U() + 100, "data");
  Out o = h.take_one();
  EXPECT_EQ(o.seg.flags, kAck);
  EXPECT_EQ(o.seg.ack, P());
  EXPECT_EQ(h.app.data, "");  // dropped with its data
  EXPECT_EQ(h.drops(DropReason::kAckOutOfWindow), 1u);
}

TEST_F(Established, SegmentWithoutAckIsDropped) {
  h.in(kPsh, P(), 0, "zz");
  h.expect_none();
  EXPECT_EQ(h.app.data, "");
  EXPECT_EQ(h.drops(DropReason::kInvalidState), 1u);
}

TEST_F(Established, FastRetransmitOnThirdDupAck) {
  std::string d(4 * 1460, 'f');
  c->send(d.data(), d.size());
  EXPECT_EQ(h.take().size(), 4u);
  h.in(kAck, P(), U());
  h.in(kAck, P(), U());
  h.expect_none();
  h.in(kAck, P(), U());
  Out r = h.take_one();
  EXPECT_EQ(r.seg.seq, U());
  EXPECT_EQ(r.payload.size(), 1460u);
  EXPECT_EQ(h.counters.fast_retransmits.get(), 1u);
  EXPECT_TRUE(h.tcb(c).in_recovery);
  // Partial ACK: the next hole is resent at once (RFC 6582).
  h.in(kAck, P(), U() + 1460);
  Out r2 = h.take_one();
  EXPECT_EQ(r2.seg.seq, U() + 1460);
  // Full ACK ends recovery.
  h.in(kAck, P(), U() + 4 * 1460);
  EXPECT_FALSE(h.tcb(c).in_recovery);
}

TEST_F(Established, PartialGapFillIsAckedAtOnce) {
  h.in(kAck, P() + 10, U(), "klmnopqrst");
  h.take_one();
  h.in(kAck, P(), U(), "abcde");  // fills part of the hole
  Out a = h.take_one();
  EXPECT_EQ(a.seg.ack, P() + 5);
  EXPECT_EQ(h.app.data, "abcde");
}

TEST(EstablishedSackSend, SackBasedRecoveryRetransmitsOnlyHoles) {
  // The RFC 6675 path (DupThresh, IsLost) that runs with tcp.rack off;
  // RACK-TLP has its own tests (test_rack.cc).
  TcpConfig cfg = Harness::default_config();
  cfg.rack = false;
  Harness h(cfg);
  h.listen();
  TcpOptions o = mss_option();
  o.sack_permitted = true;
  Connection* c = h.open(kPeerIsn, kOurIss, o);
  const std::uint32_t u = h.our_nxt;
  const std::uint32_t p = h.peer_nxt;
  std::string d(8 * 1460, 's');
  c->send(d.data(), d.size());
  EXPECT_EQ(h.take().size(), 8u);
  // Segments 0 and 2 lost; the peer SACKs 1 and 3..7.
  auto dup = [&](std::initializer_list<std::pair<std::uint32_t, std::uint32_t>> blocks) {
    TcpOptions s;
    for (auto& b : blocks) {
      s.sack[s.num_sack].left = u + b.first * 1460;
      s.sack[s.num_sack].right = u + b.second * 1460;
      ++s.num_sack;
    }
    h.in(h.seg(kAck, p, u, "", 65535, s));
  };
  dup({{1, 2}});
  dup({{3, 4}, {1, 2}});
  h.expect_none();
  dup({{3, 5}, {1, 2}});  // third duplicate: recovery starts
  auto v = h.take();
  ASSERT_GE(v.size(), 1u);
  EXPECT_EQ(v[0].seg.seq, u);  // first hole
  EXPECT_EQ(h.counters.fast_retransmits.get(), 1u);
  EXPECT_TRUE(h.tcb(c).sack_recovery);
  for (auto& o2 : v) EXPECT_NE(o2.seg.seq, u + 1460) << "SACKed data resent";
  bool hole2 = false;
  for (auto& o2 : v) hole2 |= o2.seg.seq == u + 2 * 1460;
  dup({{3, 8}, {1, 2}});
  for (auto& o2 : h.take()) {
    EXPECT_NE(o2.seg.seq, u + 1460);
    hole2 |= o2.seg.seq == u + 2 * 1460;
  }
  EXPECT_TRUE(hole2);  // the second hole is retransmitted too
  h.in(kAck, p, u + 8 * 1460);
  EXPECT_FALSE(h.tcb(c).in_recovery);
}

TEST(EstablishedSack, DuplicateDataIsReportedWithDsack) {
  Harness h;
  h.listen();
  TcpOptions o = mss_option();
  o.sack_permitted = true;
  h.open(kPeerIsn, kOurIss, o);
  const std::uint32_t p = h.peer_nxt;
  h.in(kAck, p, h.our_nxt, "abcdef");
  h.take();
  h.in(kAck, p, h.our_nxt, "abcdef");  // a spurious retransmission
  Out a = h.take_one();
  EXPECT_EQ(a.seg.ack, p + 6);
  ASSERT_EQ(a.seg.opts.num_sack, 1);
  EXPECT_EQ(a.seg.opts.sack[0].left, p);  // RFC 2883: below the ACK = duplicate
  EXPECT_EQ(a.seg.opts.sack[0].right, p + 6);
  EXPECT_EQ(h.app.data, "abcdef");
}

}  // namespace
}  // namespace shardtcp::tcp::testing
