// RFC 5681 §4.1 restart window: after an idle period longer than the RTO a
// sender restarts from RW = min(IW, cwnd) instead of a stale, large cwnd.
// Found by the conformance probe (tests/integration/probe, check
// restart_window_after_idle): a keep-alive connection sent ~24 segments at
// once after 1.5 s of idleness where Linux (Reno/CUBIC) sends <= 10.
#include "congestion.h"
#include "engine_harness.h"

namespace shardtcp::tcp::testing {
namespace {

class RestartWindowCc : public ::testing::TestWithParam<CongestionControl> {};
INSTANTIATE_TEST_SUITE_P(Cc, RestartWindowCc,
                         ::testing::Values(CongestionControl::kNewReno, CongestionControl::kCubic));

TEST_P(RestartWindowCc, IdleRestartCutsCwndToIwAndRemembersThreeQuarters) {
  CongestionController cc(GetParam());
  cc.init(1000, 10);
  TimeUs now = kUsPerSec;
  for (int i = 0; i < 30; ++i) cc.on_ack(1000, now += 1000, 10 * kUsPerMs);  // slow start
  const std::uint32_t big = cc.cwnd();
  ASSERT_EQ(big, 40'000u);
  cc.on_idle_restart(10);
  EXPECT_EQ(cc.cwnd(), 10'000u);      // RW = min(IW, cwnd), RFC 5681 §4.1
  EXPECT_EQ(cc.ssthresh(), 30'000u);  // 3/4 of the old cwnd (RFC 2861 §3)
  EXPECT_TRUE(cc.in_slow_start());
  // A window already below IW is left alone.
  CongestionController small(GetParam());
  small.init(1000, 10);
  small.on_rto(10'000, now);  // cwnd = 1 SMSS
  small.on_idle_restart(10);
  EXPECT_EQ(small.cwnd(), 1000u);
}

class RestartWindow : public EstablishedTest {
 protected:
  void SetUp() override {
    EstablishedTest::SetUp();
    // Grow cwnd well past IW: send 60 segments and ACK every one at once
    // (virtual RTT 0, so the RTO is rto_min); slow start adds 1 SMSS per ACK.
    std::string d(60 * 1460, 'x');
    ASSERT_EQ(c->send(d.data(), d.size()), d.size());
    for (int round = 0; round < 20 && h.tcb(c).snd_una != h.tcb(c).snd_max; ++round) {
      for (auto& o : h.take()) {
        if (!o.payload.empty()) {
          h.in(kAck, h.peer_nxt, o.seg.seq + static_cast<std::uint32_t>(o.payload.size()));
        }
      }
    }
    h.take();
    ASSERT_EQ(h.tcb(c).snd_una, h.tcb(c).snd_max);
    ASSERT_GT(h.tcb(c).cc.cwnd(), 20u * 1460);
  }
  std::size_t burst_after(TimeUs idle) {
    h.advance(idle);
    h.take();
    std::string d(40 * 1460, 'y');
    c->send(d.data(), d.size());
    std::size_t n = 0;
    for (auto& o : h.take()) n += o.payload.empty() ? 0 : 1;
    return n;
  }
};

TEST_F(RestartWindow, IdleLongerThanRtoRestartsFromInitialWindow) {
  const TimeUs rto = h.impl().rto(h.tcb(c));
  EXPECT_EQ(burst_after(rto + kUsPerMs), 10u);  // RFC 5681 §4.1 / RFC 6928 IW10
}

TEST_F(RestartWindow, ShortPauseKeepsTheWindow) {
  const TimeUs rto = h.impl().rto(h.tcb(c));
  EXPECT_GT(burst_after(rto / 2), 20u);
}

}  // namespace
}  // namespace shardtcp::tcp::testing
