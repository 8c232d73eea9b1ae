// Spurious retransmissions (issue 10): Eifel detection (RFC 3522) with the
// Eifel response (RFC 4015), F-RTO (RFC 5682 §2) and undo after D-SACK
// (RFC 3708). Ten full segments are in flight (the initial window, RFC
// 6928) with four more queued; each test checks what is sent next, and what
// is not: new data after a spurious timeout, go-back-N after a real one.
#include "engine_harness.h"

namespace shardtcp::tcp::testing {
namespace {

constexpr std::uint32_t kMss = 1460;

class Spurious : public ::testing::Test {
 protected:
  void start(bool timestamps, bool sack) {
    h.listen();
    TcpOptions o = mss_option(kMss);
    o.has_timestamps = timestamps;
    o.ts_val = 100;
    o.sack_permitted = sack;
    c = h.open(kPeerIsn, kOurIss, o);
    ASSERT_NE(c, nullptr);
    h.take();
    m = h.tcb(c).mss;  // 1460, or 1448 beside timestamps
    u = h.our_nxt;
    p = h.peer_nxt;
    const std::string d(14 * m, 'x');
    ASSERT_EQ(c->send(d.data(), d.size()), d.size());
    auto v = h.take();
    ASSERT_EQ(v.size(), 10u);  // IW = 10 segments
    first_tsval = v[0].seg.opts.ts_val;
  }
  // The peer's ACK; ts_ecr echoes one of our TSvals when timestamps are on.
  void ack(std::uint32_t a, std::uint32_t ts_ecr = 0, const TcpOptions* extra = nullptr) {
    TcpOptions o = extra != nullptr ? *extra : TcpOptions{};
    if (h.tcb(c).ts_ok) {
      o.has_timestamps = true;
      o.ts_val = ++peer_ts;
      o.ts_ecr = ts_ecr;
    }
    h.in(h.seg(kAck, p, a, "", 65535, o));
  }
  // The RTO fires: exactly the first unacknowledged segment is resent.
  std::uint32_t fire_rto() {
    h.advance(h.impl().rto(h.tcb(c)));
    Out r = h.take_one();
    EXPECT_EQ(r.seg.seq, u);
    EXPECT_EQ(r.payload.size(), m);
    EXPECT_EQ(h.counters.rto_expirations.get(), 1u);
    EXPECT_EQ(h.tcb(c).cc.cwnd(), m);
    return r.seg.opts.ts_val;
  }
  void expect_seqs(std::initializer_list<std::uint32_t> segs_from_u) {
    auto v = h.take();
    ASSERT_EQ(v.size(), segs_from_u.size());
    std::size_t i = 0;
    for (std::uint32_t k : segs_from_u) {
      EXPECT_EQ(v[i].seg.seq, u + k * m) << "segment " << i;
      EXPECT_EQ(v[i].payload.size(), m);
      ++i;
    }
  }
  // Tests of the RFC 6675 recovery path (without RACK, whose time-based
  // marking retransmits more than the one hole these scripts follow) set
  // rack_off before start().
  static TcpConfig config(bool rack) {
    TcpConfig cfg = Harness::default_config();
    cfg.rack = rack;
    return cfg;
  }
  void rack_off() {
    h.~Harness();
    new (&h) Harness(config(false));
  }
  Harness h{config(true)};
  Connection* c = nullptr;
  std::uint32_t m = m, u = 0, p = 0, first_tsval = 0, peer_ts = 100;
};

// RFC 3522 §3.2: the first ACK after the retransmission echoes the
// original's TSval -> spurious. RFC 4015 §4: no go-back-N (SND.NXT =
// SND.MAX), cwnd = FlightSize + min(bytes_acked, IW) = 8 + 2 segments,
// ssthresh = pipe_prev: two NEW segments go, nothing is retransmitted.
TEST_F(Spurious, EifelDetectsLateAckAndRespondsWithNewData) {
  start(true, false);
  const TimeUs srtt0 = h.tcb(c).rtt.srtt();
  const std::uint32_t rtx_ts = fire_rto();
  ASSERT_TRUE(seq_lt(first_tsval, rtx_ts));
  ack(u + 2 * m, first_tsval);
  EXPECT_EQ(h.counters.spurious_rto_eifel.get(), 1u);
  EXPECT_EQ(h.counters.undo_rto.get(), 1u);
  EXPECT_EQ(h.tcb(c).cc.cwnd(), 10 * m);
  EXPECT_EQ(h.tcb(c).cc.ssthresh(), cc::Common::kInfiniteSsthresh);  // pipe_prev
  expect_seqs({10, 11});
  // RFC 4015 §4: the original's RTT (the whole RTO) is sampled.
  EXPECT_GT(h.tcb(c).rtt.srtt(), srtt0);
  EXPECT_EQ(h.counters.spurious_rto_frto.get(), 0u);
}

// The ACK echoes the retransmission's TSval: the original was lost, the
// timeout was real -> conventional go-back-N in slow start, nothing undone.
TEST_F(Spurious, EifelKeepsRealTimeout) {
  start(true, false);
  const std::uint32_t rtx_ts = fire_rto();
  ack(u + 2 * m, rtx_ts);
  EXPECT_EQ(h.counters.spurious_rto_eifel.get(), 0u);
  EXPECT_EQ(h.counters.undo_rto.get(), 0u);
  EXPECT_EQ(h.tcb(c).cc.cwnd(), 2 * m);
  expect_seqs({2, 3});  // retransmissions, from SND.UNA
}

// RFC 5682 §2 without timestamps: the first ACK advances SND.UNA -> two new
// segments (step 2.b) instead of retransmissions; the second ACK advances
// too -> spurious (step 3.b), Eifel response (LATE_SPUR_TO).
TEST_F(Spurious, FrtoDetectsSpuriousTimeout) {
  start(false, false);
  fire_rto();
  ack(u + 2 * m);
  expect_seqs({10, 11});  // new data, not 2 and 3
  EXPECT_EQ(h.counters.spurious_rto_frto.get(), 0u);
  ack(u + 4 * m);
  EXPECT_EQ(h.counters.spurious_rto_frto.get(), 1u);
  EXPECT_EQ(h.counters.undo_rto.get(), 1u);
  // FlightSize 8 + min(2 acked, IW) = 10 segments: the last two new ones.
  EXPECT_EQ(h.tcb(c).cc.cwnd(), 10 * m);
  expect_seqs({12, 13});
  EXPECT_EQ(h.counters.retrans_segs.get(), 1u);  // only the RTO's one
}

// RFC 5682 §2 step 3.a: a duplicate ACK after the two new segments means
// loss -> conventional recovery: go-back-N from SND.UNA, nothing undone.
TEST_F(Spurious, FrtoDuplicateAckFallsBackToGoBackN) {
  start(false, false);
  fire_rto();
  ack(u + 2 * m);
  expect_seqs({10, 11});
  ack(u + 2 * m);  // duplicate
  EXPECT_EQ(h.counters.spurious_rto_frto.get(), 0u);
  EXPECT_EQ(h.counters.undo_rto.get(), 0u);
  expect_seqs({2, 3});  // retransmissions in slow start (cwnd 2 segments)
  EXPECT_FALSE(h.tcb(c).frto_wait1 || h.tcb(c).frto_wait2);
}

// RFC 5682 §2 step 2.a: the first ACK covers everything outstanding at the
// timeout: no F-RTO, no undo.
TEST_F(Spurious, FrtoAckOfEverythingIsNotJudged) {
  start(false, false);
  fire_rto();
  ack(u + 10 * m);
  EXPECT_EQ(h.counters.spurious_rto_frto.get(), 0u);
  EXPECT_EQ(h.counters.undo_rto.get(), 0u);
  expect_seqs({10, 11});  // slow start from 1 SMSS: the queued data
}

// RFC 3708 §3: fast recovery retransmitted segment 0; after the recovery
// the peer reports that retransmission as a duplicate (RFC 2883 D-SACK below
// the ACK): the reduction was needless, cwnd and ssthresh come back.
TEST_F(Spurious, DsackOfTheRetransmissionUndoesFastRecovery) {
  rack_off();
  start(false, true);
  const std::uint32_t cwnd0 = h.tcb(c).cc.cwnd();
  for (std::uint32_t k = 2; k <= 4; ++k) {  // segment 0 delayed, 1.. SACKed
    TcpOptions s;
    s.num_sack = 1;
    s.sack[0] = SackBlock{u + m, u + k * m};
    ack(u, 0, &s);
  }
  ASSERT_TRUE(h.tcb(c).in_recovery);
  auto v = h.take();
  ASSERT_GE(v.size(), 1u);
  EXPECT_EQ(v[0].seg.seq, u);  // the fast retransmit
  const std::uint32_t retrans = static_cast<std::uint32_t>(h.counters.retrans_segs.get());
  ASSERT_EQ(retrans, 1u);
  EXPECT_LT(h.tcb(c).cc.cwnd(), cwnd0);
  // The delayed original arrives, the recovery ends ...
  ack(h.tcb(c).snd_max);
  EXPECT_FALSE(h.tcb(c).in_recovery);
  EXPECT_EQ(h.counters.undo_recovery.get(), 0u);
  h.take();
  // ... and the retransmission comes back as a duplicate.
  TcpOptions d;
  d.num_sack = 1;
  d.sack[0] = SackBlock{u, u + m};
  ack(h.tcb(c).snd_max, 0, &d);
  EXPECT_EQ(h.counters.dsacks_received.get(), 1u);
  EXPECT_EQ(h.counters.spurious_dsack.get(), 1u);
  EXPECT_EQ(h.counters.undo_recovery.get(), 1u);
  EXPECT_GE(h.tcb(c).cc.cwnd(), cwnd0);
  // A second D-SACK of the same range undoes nothing more.
  ack(h.tcb(c).snd_max, 0, &d);
  EXPECT_EQ(h.counters.dsacks_received.get(), 2u);
  EXPECT_EQ(h.counters.undo_recovery.get(), 1u);
}

// A D-SACK for data this response never retransmitted (a copy made by the
// network) is counted but undoes nothing.
TEST_F(Spurious, DsackOfUnretransmittedDataUndoesNothing) {
  start(false, true);
  for (std::uint32_t k = 2; k <= 4; ++k) {
    TcpOptions s;
    s.num_sack = 1;
    s.sack[0] = SackBlock{u + m, u + k * m};
    ack(u, 0, &s);
  }
  ASSERT_TRUE(h.tcb(c).in_recovery);
  h.take();
  ack(h.tcb(c).snd_max);
  const std::uint32_t cwnd = h.tcb(c).cc.cwnd();
  TcpOptions d;
  d.num_sack = 1;
  d.sack[0] = SackBlock{u - 3 * m, u - 2 * m};  // below the episode
  ack(h.tcb(c).snd_max, 0, &d);
  EXPECT_EQ(h.counters.dsacks_received.get(), 1u);
  EXPECT_EQ(h.counters.undo_recovery.get(), 0u);
  EXPECT_EQ(h.tcb(c).cc.cwnd(), cwnd);
}

}  // namespace
}  // namespace shardtcp::tcp::testing
