// Path MTU (RFC 1191, RFC 5927 checks, RFC 4821 black-hole fallback) and ECN
// (RFC 3168 §6.1), exact to the segment: what is sent and what is not.
#include <string>

#include "engine_harness.h"

namespace shardtcp::tcp::testing {
namespace {

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 23);
  return s;
}

std::uint64_t icmp_count(const Harness& h, IcmpResult r) {
  return h.counters.icmp_frag_needed[static_cast<std::size_t>(r)].get();
}

// ---------------------------------------------------------------------------
// Path MTU: an established connection (MSS 1460, no options) with three
// full-sized segments in flight when a router reports a 1280-byte hop.
class PathMtu : public EstablishedTest {
 protected:
  void SetUp() override {
    EstablishedTest::SetUp();
    ASSERT_EQ(h.tcb(c).mss, 1460);
    ASSERT_EQ(c->send(data.data(), data.size()), data.size());
    auto v = h.take();
    ASSERT_EQ(v.size(), 3u);
    for (int i = 0; i < 3; ++i) {
      ASSERT_EQ(v[i].seg.seq, u + 1460u * i);
      ASSERT_EQ(v[i].payload.size(), 1460u);
    }
  }
  IcmpResult icmp(std::uint32_t seq, std::uint16_t mtu, std::uint16_t quoted_len = 1500) {
    IcmpFragNeeded e;
    e.tuple = h.tuple;
    e.seq = seq;
    e.next_hop_mtu = mtu;
    e.quoted_len = quoted_len;
    const IcmpResult r = h.stack->icmp_frag_needed(e, h.now);
    return r;
  }
  const std::string data = pattern(3 * 1460);
};

TEST_F(PathMtu, FragNeededLowersMssAndResendsInFlightAtOnce) {
  // RFC 1191 §6.4 / §3: MSS = 1280 - 40; the 4380 bytes in flight go out
  // again at once, in 1240-byte segments, without waiting for the RTO and
  // without a congestion response (cwnd unchanged).
  const std::uint32_t cwnd = h.tcb(c).cc.cwnd();
  const std::uint64_t rtx = h.counters.retrans_segs.get();
  EXPECT_EQ(icmp(u, 1280), IcmpResult::kMssLowered);
  EXPECT_EQ(h.tcb(c).mss, 1240);
  auto v = h.take();
  ASSERT_EQ(v.size(), 4u);
  const std::uint32_t lens[] = {1240, 1240, 1240, 660};
  std::uint32_t off = 0;
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(v[i].seg.seq, u + off);
    EXPECT_EQ(v[i].seg.ack, p);
    EXPECT_EQ(v[i].payload, data.substr(off, lens[i]));
    EXPECT_EQ(v[i].seg.flags, i == 3 ? kAck | kPsh : kAck);
    off += lens[i];
  }
  EXPECT_EQ(h.counters.retrans_segs.get(), rtx + 4);
  EXPECT_EQ(h.tcb(c).cc.cwnd(), cwnd);
  EXPECT_EQ(icmp_count(h, IcmpResult::kMssLowered), 1u);
  // The same report again (the router answers each big segment) changes
  // nothing and sends nothing (RFC 1191 §3: only a lower MTU counts).
  EXPECT_EQ(icmp(u + 1460, 1280), IcmpResult::kNotLower);
  h.expect_none();
  // Everything acknowledged; new data uses the new MSS.
  h.in(kAck, p, u + 4380);
  h.expect_none();
  const std::string more = pattern(2000);
  ASSERT_EQ(c->send(more.data(), more.size()), more.size());
  v = h.take();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].seg.seq, u + 4380);
  EXPECT_EQ(v[0].payload.size(), 1240u);
  EXPECT_EQ(v[1].payload.size(), 760u);
}

TEST_F(PathMtu, QuotedSeqOutsideUnaToNxtIsIgnored) {
  // RFC 5927 §4.1: SND.UNA <= SEG.SEQ < SND.NXT, else the ICMP is forged or
  // stale: no MSS change, nothing sent, counted.
  EXPECT_EQ(icmp(u - 1, 1280), IcmpResult::kOutOfWindow);
  EXPECT_EQ(icmp(u + 4380, 1280), IcmpResult::kOutOfWindow);  // SND.NXT itself
  EXPECT_EQ(icmp(u + 0x80000000u, 1280), IcmpResult::kOutOfWindow);
  h.expect_none();
  EXPECT_EQ(h.tcb(c).mss, 1460);
  // Once the first segment is acknowledged its SEQ is below SND.UNA.
  h.in(kAck, p, u + 1460);
  h.take();
  EXPECT_EQ(icmp(u, 1280), IcmpResult::kOutOfWindow);
  h.expect_none();
  EXPECT_EQ(h.tcb(c).mss, 1460);
  EXPECT_EQ(icmp_count(h, IcmpResult::kOutOfWindow), 4u);
  EXPECT_EQ(icmp_count(h, IcmpResult::kMssLowered), 0u);
}

TEST_F(PathMtu, LargerOrEqualMtuNeverRaisesAndUnknownTupleIsCounted) {
  EXPECT_EQ(icmp(u, 1500), IcmpResult::kNotLower);
  EXPECT_EQ(icmp(u, 9000), IcmpResult::kNotLower);
  FourTuple other = h.tuple;
  other.remote_port = static_cast<std::uint16_t>(other.remote_port + 1);
  IcmpFragNeeded e;
  e.tuple = other;
  e.seq = u;
  e.next_hop_mtu = 1280;
  EXPECT_EQ(h.stack->icmp_frag_needed(e, h.now), IcmpResult::kNoConnection);
  h.expect_none();
  EXPECT_EQ(h.tcb(c).mss, 1460);
  EXPECT_EQ(icmp_count(h, IcmpResult::kNotLower), 2u);
  EXPECT_EQ(icmp_count(h, IcmpResult::kNoConnection), 1u);
}

TEST_F(PathMtu, TinyMtuIsClampedAndOldRoutersGetThePlateau) {
  // A forged MTU of 68 (RFC 1191's minimum) would cut the stream into
  // 28-byte segments: the floor is 552 (Linux's min_pmtu).
  EXPECT_EQ(icmp(u, 68), IcmpResult::kMssLowered);
  EXPECT_EQ(h.tcb(c).mss, 512);
  h.take();
}

TEST_F(PathMtu, NoNextHopMtuUsesThePlateauBelowTheQuotedLength) {
  // RFC 1191 §5: an old router leaves the field 0; 1500 -> plateau 1492.
  EXPECT_EQ(icmp(u, 0, 1500), IcmpResult::kMssLowered);
  EXPECT_EQ(h.tcb(c).mss, 1452);
}

TEST(PathMtuTs, TimestampsTakeTheirSpaceFromTheNewMss) {
  Harness h;
  h.listen();
  TcpOptions o = Harness::mss_only();
  o.has_timestamps = true;
  o.ts_val = 100;
  Connection* c = h.open(kPeerIsn, kOurIss, o);
  ASSERT_NE(c, nullptr);
  h.take();
  ASSERT_EQ(h.tcb(c).mss, 1448);
  const std::string d = pattern(1448);
  c->send(d.data(), d.size());
  ASSERT_EQ(h.take().size(), 1u);
  IcmpFragNeeded e;
  e.tuple = h.tuple;
  e.seq = kOurIss + 1;
  e.next_hop_mtu = 1280;
  EXPECT_EQ(h.stack->icmp_frag_needed(e, h.now), IcmpResult::kMssLowered);
  EXPECT_EQ(h.tcb(c).mss, 1280 - 40 - 12);
  auto v = h.take();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].payload.size(), 1228u);
  EXPECT_EQ(v[1].payload.size(), 220u);
}

// RFC 4821 black-hole fallback (tcp.mtu_probing): ICMP never arrives; the
// second timeout in a row resends at the search floor (MSS 1024).
TcpConfig probing_config() {
  TcpConfig c = Harness::default_config();
  c.mtu_probing = true;
  return c;
}

// The next segments the RTO sends, advancing the clock in 10 ms steps
// (never asserting when: only what).
std::vector<Out> next_rto(Harness& h) {
  for (int i = 0; i < 10000; ++i) {
    h.advance(10 * kUsPerMs);
    auto v = h.take();
    if (!v.empty()) return v;
  }
  return {};
}

class Blackhole : public EstablishedWith<&probing_config> {};

TEST_F(Blackhole, SecondTimeoutFallsBackToTheSearchFloor) {
  const std::string d = pattern(1460);
  c->send(d.data(), d.size());
  ASSERT_EQ(h.take().size(), 1u);
  auto v = next_rto(h);  // first timeout: same size
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].seg.seq, u);
  EXPECT_EQ(v[0].payload.size(), 1460u);
  EXPECT_EQ(h.counters.pmtu_blackhole_probes.get(), 0u);
  v = next_rto(h);  // second: the floor
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].seg.seq, u);
  EXPECT_EQ(v[0].payload, d.substr(0, 1024));
  EXPECT_EQ(h.tcb(c).mss, 1024);
  EXPECT_EQ(h.counters.pmtu_blackhole_probes.get(), 1u);
  // The small segment gets through: the rest follows at the new size.
  h.in(kAck, p, u + 1024);
  v = h.take();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].seg.seq, u + 1024);
  EXPECT_EQ(v[0].payload, d.substr(1024));
}

TEST_F(EstablishedTest, BlackholeFallbackIsOffByDefault) {
  const std::string d = pattern(1460);
  c->send(d.data(), d.size());
  ASSERT_EQ(h.take().size(), 1u);
  for (int i = 0; i < 3; ++i) {
    auto v = next_rto(h);
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].payload.size(), 1460u);
  }
  EXPECT_EQ(h.counters.pmtu_blackhole_probes.get(), 0u);
}

// ---------------------------------------------------------------------------
// ECN (RFC 3168).
constexpr std::uint8_t kEceCwr = kEce | kCwr;

// A passive open whose SYN carries `syn_flags`; returns the SYN-ACK.
Out passive_open(Harness& h, std::uint8_t syn_flags, Connection** conn) {
  h.listen();
  h.impl().isn_override_ = true;
  h.impl().isn_override_value_ = kOurIss;
  h.in(static_cast<std::uint8_t>(kSyn | syn_flags), kPeerIsn, 0, "", 65535, mss_option());
  Out sa = h.take_one();
  h.in(kAck, kPeerIsn + 1, kOurIss + 1);
  *conn = h.app.accepted.empty() ? nullptr : h.app.accepted.back();
  h.peer_nxt = kPeerIsn + 1;
  h.our_nxt = kOurIss + 1;
  return sa;
}

TEST(Ecn, PassiveAcceptsAnEcnSetupSynOnly) {
  // RFC 3168 §6.1.1: ECE+CWR on the SYN asks; the SYN-ACK answers ECE alone.
  {
    Harness h;
    Connection* c = nullptr;
    EXPECT_EQ(passive_open(h, kEceCwr, &c).flags(), kSyn | kAck | kEce);
    ASSERT_NE(c, nullptr);
    EXPECT_TRUE(h.tcb(c).ecn_ok);
    EXPECT_EQ(h.counters.ecn_connections.get(), 1u);
  }
  for (std::uint8_t f : {std::uint8_t{0}, std::uint8_t{kEce}, std::uint8_t{kCwr}}) {
    Harness h;
    Connection* c = nullptr;
    EXPECT_EQ(passive_open(h, f, &c).flags(), kSyn | kAck) << int(f);
    ASSERT_NE(c, nullptr);
    EXPECT_FALSE(h.tcb(c).ecn_ok);
  }
  {
    TcpConfig cfg = Harness::default_config();
    cfg.ecn = EcnMode::kOff;
    Harness h(cfg);
    Connection* c = nullptr;
    EXPECT_EQ(passive_open(h, kEceCwr, &c).flags(), kSyn | kAck);
    EXPECT_FALSE(h.tcb(c).ecn_ok);
  }
}

TEST(Ecn, ActiveOpenRequestsOnlyWhenConfigured) {
  for (EcnMode mode : {EcnMode::kPassive, EcnMode::kOn}) {
    TcpConfig cfg = Harness::default_config();
    cfg.ecn = mode;
    Harness h(cfg);
    h.impl().isn_override_ = true;
    h.impl().isn_override_value_ = kOurIss;
    Connection* c = h.connect();
    ASSERT_NE(c, nullptr);
    Out syn = h.take_one();
    const bool on = mode == EcnMode::kOn;
    EXPECT_EQ(syn.flags(), on ? kSyn | kEceCwr : kSyn);
    // RFC 3168 §6.1.1: a SYN-ACK with ECE and not CWR accepts.
    h.in(kSyn | kAck | kEce, kPeerIsn, kOurIss + 1, "", 65535, mss_option());
    EXPECT_EQ(h.take_one().flags(), kAck);
    EXPECT_EQ(h.tcb(c).ecn_ok, on);
  }
  {
    // ECE and CWR both on a SYN-ACK is not an ECN-setup SYN-ACK.
    TcpConfig cfg = Harness::default_config();
    cfg.ecn = EcnMode::kOn;
    Harness h(cfg);
    Connection* c = h.connect();
    Out syn = h.take_one();
    h.in(kSyn | kAck | kEceCwr, kPeerIsn, syn.seg.seq + 1, "", 65535, mss_option());
    h.take();
    EXPECT_FALSE(h.tcb(c).ecn_ok);
  }
}

class EcnEstablished : public ::testing::Test {
 protected:
  void SetUp() override {
    passive_open(h, kEceCwr, &c);
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(h.tcb(c).ecn_ok);
    p = h.peer_nxt;
    u = h.our_nxt;
  }
  void data_in(const std::string& d, std::uint8_t ip_ecn, std::uint8_t extra = 0) {
    Segment s = h.seg(static_cast<std::uint8_t>(kAck | extra), p, u, d);
    s.ip_ecn = ip_ecn;
    h.in(s);
    p += static_cast<std::uint32_t>(d.size());
  }
  Harness h;
  Connection* c = nullptr;
  std::uint32_t p = 0;
  std::uint32_t u = 0;
};

TEST_F(EcnEstablished, ReceiverEchoesCeWithEceUntilCwr) {
  // RFC 3168 §6.1.3, one segment at a time.
  const std::string d(100, 'x');
  // ECT(0) data, no CE: the delayed ACK has no ECE.
  data_in(d, kEct0);
  h.expect_none();
  h.advance(h.cfg.delayed_ack);
  Out a = h.take_one();
  EXPECT_EQ(a.flags(), kAck);
  EXPECT_EQ(a.seg.ack, p);
  // CE: acknowledged at once, with ECE.
  data_in(d, kCe);
  a = h.take_one();
  EXPECT_EQ(a.flags(), kAck | kEce);
  EXPECT_EQ(a.seg.ack, p);
  EXPECT_EQ(h.counters.ecn_ce_received.get(), 1u);
  // Unmarked data: ECE goes on (every ACK until CWR); not sent early.
  data_in(d, kEct0);
  h.expect_none();
  h.advance(h.cfg.delayed_ack);
  a = h.take_one();
  EXPECT_EQ(a.flags(), kAck | kEce);
  // CWR: the echo stops.
  data_in(d, kEct0, kCwr);
  h.expect_none();
  h.advance(h.cfg.delayed_ack);
  a = h.take_one();
  EXPECT_EQ(a.flags(), kAck);
  EXPECT_EQ(a.seg.ack, p);
  // CWR and CE on the same segment: CE wins (it is newer).
  data_in(d, kCe, kCwr);
  EXPECT_EQ(h.take_one().flags(), kAck | kEce);
  EXPECT_EQ(h.counters.ecn_ce_received.get(), 2u);
}

TEST_F(EcnEstablished, SenderReducesOncePerWindowAndSetsCwrOnNewData) {
  // RFC 3168 §6.1.2: ECT(0) on new data; ECE halves cwnd once per window of
  // data; CWR on the first new data after the reduction.
  TcpCounters& ctr = h.counters;
  const std::string d = pattern(4 * 1460);
  ASSERT_EQ(c->send(d.data(), d.size()), d.size());
  auto v = h.take();
  ASSERT_EQ(v.size(), 4u);
  for (auto& o : v) {
    EXPECT_EQ(o.seg.ip_ecn, kEct0);
    EXPECT_EQ(o.flags() & kEceCwr, 0);
  }
  const std::uint32_t flight = 4 * 1460;
  // ECE on the ACK of the first segment: one response.
  h.in(kAck | kEce, p, u + 1460);
  const std::uint32_t reduced = h.tcb(c).cc.cwnd();
  EXPECT_LT(reduced, 10u * 1460);
  EXPECT_EQ(h.tcb(c).cc.ssthresh(), reduced);
  EXPECT_EQ(ctr.ecn_ece_received.get(), 1u);
  h.take();  // whatever the new window allowed; none of it new data yet
  // More ECEs for data sent before the response: no second reduction.
  h.in(kAck | kEce, p, u + 2 * 1460);
  h.in(kAck | kEce, p, u + flight);
  EXPECT_EQ(ctr.ecn_ece_received.get(), 1u);
  EXPECT_EQ(h.tcb(c).cc.ssthresh(), reduced);
  h.expect_none();
  // New data: CWR on the first segment only, ECT(0) on both.
  const std::string more = pattern(2 * 1460);
  c->send(more.data(), more.size());
  v = h.take();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].flags() & kCwr, kCwr);
  EXPECT_EQ(v[1].flags() & kCwr, 0);
  EXPECT_EQ(v[0].seg.ip_ecn, kEct0);
  EXPECT_EQ(v[1].seg.ip_ecn, kEct0);
  EXPECT_EQ(ctr.ecn_cwr_sent.get(), 1u);
  // An ECE that acknowledges data sent after the response is a new event.
  h.in(kAck | kEce, p, u + flight + 1460);
  EXPECT_EQ(ctr.ecn_ece_received.get(), 2u);
  EXPECT_LT(h.tcb(c).cc.cwnd(), reduced);
}

TEST_F(EcnEstablished, RetransmissionsAreNotEct) {
  // RFC 3168 §6.1.5.
  const std::string d = pattern(1460);
  c->send(d.data(), d.size());
  EXPECT_EQ(h.take_one().seg.ip_ecn, kEct0);
  auto v = next_rto(h);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].seg.seq, u);
  EXPECT_EQ(v[0].seg.ip_ecn, kNotEct);
}

TEST_F(EcnEstablished, ZeroWindowProbesAreNotEct) {
  // RFC 3168 §6.1.6: the octet that probes a zero window is not ECT.
  h.in(kAck, p, u, "", 0);
  const std::string d = pattern(100);
  c->send(d.data(), d.size());
  h.expect_none();
  auto v = next_rto(h);  // the persist timer
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].seg.seq, u);
  EXPECT_EQ(v[0].payload, d.substr(0, 1));
  EXPECT_EQ(v[0].seg.ip_ecn, kNotEct);
  EXPECT_EQ(h.counters.zero_window_probes.get(), 1u);
  // The window opens: the data goes out ECT(0).
  h.in(kAck, p, u, "", 65535);
  v = h.take();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].payload, d);
  EXPECT_EQ(v[0].seg.ip_ecn, kNotEct);  // seq u was sent (the probe): a retransmission
}

TEST(EcnOff, NoEctWithoutNegotiation) {
  Harness h;
  Connection* c = nullptr;
  passive_open(h, 0, &c);
  const std::string d = pattern(1460);
  c->send(d.data(), d.size());
  EXPECT_EQ(h.take_one().seg.ip_ecn, kNotEct);
  // A stray ECE from a peer that did not negotiate ECN is no signal.
  const std::uint32_t cwnd = h.tcb(c).cc.cwnd();
  h.in(kAck | kEce, kPeerIsn + 1, kOurIss + 1 + 1460);
  EXPECT_EQ(h.tcb(c).cc.cwnd() >= cwnd, true);
  EXPECT_EQ(h.counters.ecn_ece_received.get(), 0u);
}

}  // namespace
}  // namespace shardtcp::tcp::testing
