// The peer's MSS is hostile input (issue 9). Whatever a SYN says, the MSS we
// send with is clamped to tcp.min_mss BEFORE the 12 bytes of TSopt are taken
// off (Linux tcp_min_snd_mss, CVE-2019-11479), so it can neither wrap (MSS
// 1..11 with timestamps once gave ~65,530) nor be 0 (MSS 12). Every segment a
// transfer emits carries at most that MSS and serializes, header included,
// into a frame of the MTU (the harness checks the latter for every segment).
#include <algorithm>
#include <string>
#include <tuple>

#include "engine_harness.h"

namespace shardtcp::tcp::testing {
namespace {

constexpr std::size_t kBody = 100000;

// The MSS RFC 9293 §3.7.1 and the floor give for a peer's MSS option:
// option 0 is ignored (536, as Linux), then max(floor, peer), then
// min(ours, that), then minus TSopt.
std::uint32_t expected_mss(std::uint16_t peer, bool ts, const TcpConfig& cfg) {
  std::uint32_t m = peer == 0 ? 536u : peer;
  m = std::max<std::uint32_t>(m, cfg.min_mss);
  m = std::min<std::uint32_t>(m, cfg.mss);
  return ts ? m - 12 : m;
}

std::string body() {
  std::string b(kBody, '\0');
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<char>('a' + (i * 7) % 26);
  return b;
}

// The peer's side of a download: ACK everything in order (window 65535,
// unscaled: our SYN-ACK answers no window scale the peer did not offer),
// checking each data segment against the negotiated MSS. Returns the bytes
// received in order.
std::string download(Harness& h, const Tcb& t, std::uint32_t p, std::uint32_t u, bool ts,
                     std::uint32_t mss) {
  std::string got;
  std::uint32_t next = u;
  std::uint32_t ts_val = 100;
  for (int round = 0; round < 20000 && got.size() < kBody; ++round) {
    const std::vector<Out> outs = h.take();
    std::uint32_t last_ts = 0;
    for (const Out& o : outs) {
      EXPECT_LE(o.payload.size(), mss) << "segment above the negotiated MSS";
      if (::testing::Test::HasFailure()) return got;
      if (o.seg.seq == next && !o.payload.empty()) {
        got += o.payload;
        next += static_cast<std::uint32_t>(o.payload.size());
      }
      last_ts = o.seg.opts.ts_val;
    }
    if (outs.empty()) {
      h.advance(h.cfg.rto_min);  // nothing sent: let a timer act
      continue;
    }
    TcpOptions a;
    if (ts) {
      a.has_timestamps = true;
      a.ts_val = ++ts_val;
      a.ts_ecr = last_ts;
    }
    h.in(kAck, p, next, "", 65535, a);
  }
  EXPECT_EQ(t.mss, mss);
  return got;
}

class PeerMss : public ::testing::TestWithParam<std::tuple<std::uint16_t, bool>> {};

TEST_P(PeerMss, ClampedBeforeOptionsAndEverySegmentFits) {
  const auto [peer_mss, ts] = GetParam();
  Harness h;
  const std::string want = body();
  h.app.send_on_accept = want;
  h.listen();
  TcpOptions syn = mss_option(peer_mss);
  if (ts) {
    syn.has_timestamps = true;
    syn.ts_val = 99;
  }
  h.in(kSyn, kPeerIsn, 0, "", 65535, syn);
  const Out sa = h.take_one();
  ASSERT_EQ(sa.seg.flags, kSyn | kAck);
  EXPECT_EQ(sa.seg.opts.mss, h.cfg.mss);  // we announce our own MSS, unchanged
  EXPECT_EQ(sa.seg.opts.has_timestamps, ts);
  const std::uint32_t u = sa.seg.seq + 1;
  const std::uint32_t p = kPeerIsn + 1;
  TcpOptions a;
  if (ts) {
    a.has_timestamps = true;
    a.ts_val = 100;
    a.ts_ecr = sa.seg.opts.ts_val;
  }
  h.in(kAck, p, u, "", 65535, a);
  ASSERT_EQ(h.app.accepted.size(), 1u);
  const Tcb& t = h.tcb(h.app.accepted[0]);
  const std::uint32_t mss = expected_mss(peer_mss, ts, h.cfg);
  EXPECT_EQ(t.mss, mss);
  EXPECT_GT(t.mss, 0u);
  const std::string got = download(h, t, p, u, ts, mss);
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want) << "payload differs";
  EXPECT_EQ(h.counters.out_oversize.get(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Values, PeerMss,
                         ::testing::Combine(::testing::Values<std::uint16_t>(0, 1, 4, 11, 12, 13,
                                                                             87, 88, 89, 536, 1460,
                                                                             65535),
                                            ::testing::Bool()),
                         [](const auto& p) {
                           return "mss" + std::to_string(std::get<0>(p.param)) +
                                  (std::get<1>(p.param) ? "_ts" : "_nots");
                         });

// The SYN-cookie path: the MSS comes back from the cookie's table (536 for
// anything below it, RFC 9293 §3.7.1's default every IPv4 host accepts) and
// goes through the same clamp.
TEST(PeerMssCookie, TinyMssWithTimestampsThroughCookie) {
  Harness h;
  ListenOptions lo;
  lo.syn_backlog = 1;
  h.listen(kPort, lo);
  h.tuple.remote_port = 50000;
  h.in(kSyn, 5, 0, "", 65535, mss_option());  // fills the SYN queue
  h.take();
  h.tuple.remote_port = 50001;
  TcpOptions syn = mss_option(4);
  syn.has_timestamps = true;
  syn.ts_val = 1;
  h.in(kSyn, 1000, 0, "", 65535, syn);
  const Out sa = h.take_one();
  ASSERT_EQ(sa.seg.flags, kSyn | kAck);
  EXPECT_EQ(h.counters.syncookies_sent.get(), 1u);
  TcpOptions a;
  a.has_timestamps = true;
  a.ts_val = 2;
  a.ts_ecr = sa.seg.opts.ts_val;
  h.app.send_on_accept = body();
  h.in(kAck, 1001, sa.seg.seq + 1, "", 65535, a);
  ASSERT_EQ(h.app.accepted.size(), 1u);
  const Tcb& t = h.tcb(h.app.accepted[0]);
  EXPECT_EQ(t.mss, 536u - 12u);
  const std::string got = download(h, t, 1001, sa.seg.seq + 1, true, 536u - 12u);
  EXPECT_EQ(got.size(), kBody);
  EXPECT_EQ(h.counters.out_oversize.get(), 0u);
}

// The active-open path: the SYN-ACK's MSS goes through the same clamp.
TEST(PeerMssActive, SynAckWithTinyMss) {
  for (const std::uint16_t m : {std::uint16_t{1}, std::uint16_t{12}, std::uint16_t{87}}) {
    Harness h;
    h.impl().isn_override_ = true;
    h.impl().isn_override_value_ = kOurIss;
    Connection* c = h.connect();
    ASSERT_NE(c, nullptr);
    const Out syn = h.take_one();
    TcpOptions o = mss_option(m);
    o.has_timestamps = true;
    o.ts_val = 7;
    o.ts_ecr = syn.seg.opts.ts_val;
    h.in(kSyn | kAck, kPeerIsn, kOurIss + 1, "", 65535, o);
    EXPECT_EQ(c->state(), State::kEstablished);
    EXPECT_EQ(h.tcb(c).mss, 88u - 12u) << "peer MSS " << m;
    const std::string data(1000, 'x');
    EXPECT_EQ(c->send(data.data(), data.size()), data.size());
    h.take();  // the handshake ACK and data; each checked by the harness
    EXPECT_EQ(h.counters.out_oversize.get(), 0u);
  }
}

// tcp.min_mss is the configured floor (a config may raise it).
TEST(PeerMssConfig, FloorFollowsConfig) {
  TcpConfig cfg = Harness::default_config();
  cfg.min_mss = 536;
  Harness h(cfg);
  h.listen();
  h.in(kSyn, kPeerIsn, 0, "", 65535, mss_option(100));
  const Out sa = h.take_one();
  h.in(kAck, kPeerIsn + 1, sa.seg.seq + 1);
  ASSERT_EQ(h.app.accepted.size(), 1u);
  EXPECT_EQ(h.tcb(h.app.accepted[0]).mss, 536u);
}

// emit() is the gate: a segment above the connection's MSS is refused and
// counted, never appended to the output.
TEST(EmitContract, OversizeSegmentRefusedAndCounted) {
  Harness h;
  h.listen();
  Connection* c = h.open();
  ASSERT_NE(c, nullptr);
  h.take();
  Tcb& t = h.tcb(c);
  const std::string data(4000, 'y');
  ASSERT_EQ(c->send(data.data(), data.size()), data.size());
  h.take();  // sent, not yet acknowledged: the bytes stay in the send buffer
  StackImpl& s = h.impl();
  OutSegment o = s.segment_for(t, kAck, t.snd_una);
  o.payload_len = t.mss + 1u;
  o.payload_src = &t.sndbuf;
  o.payload_offset = 0;
  EXPECT_FALSE(s.emit(o, t.mss));
  EXPECT_EQ(h.counters.out_oversize.get(), 1u);
  o.payload_len = t.mss;
  EXPECT_TRUE(s.emit(o, t.mss));
  // Within the MSS but not within the MTU's frame: refused too.
  o.payload_len = 3000;
  EXPECT_FALSE(s.emit(o, 65535));
  // A payload length without a source (or the reverse) is refused.
  o.payload_len = 10;
  o.payload_src = nullptr;
  EXPECT_FALSE(s.emit(o, t.mss));
  EXPECT_EQ(h.counters.out_oversize.get(), 3u);
  const std::vector<Out> outs = h.take();
  ASSERT_EQ(outs.size(), 1u);
  EXPECT_EQ(outs[0].payload.size(), t.mss);
}

}  // namespace
}  // namespace shardtcp::tcp::testing
