// CongestionController: RFC 6928 / RFC 5681 initial window, slow start with
// RFC 3465 byte counting, congestion avoidance, NewReno and CUBIC (RFC 9438)
// reactions to loss and RTO.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "congestion.h"

namespace shardtcp::tcp {
namespace {

constexpr std::uint32_t kMss = 1000;

CongestionController make(CongestionControl algo, std::uint32_t mss = kMss, std::uint32_t iw = 10) {
  CongestionController cc(algo);
  cc.init(mss, iw);
  return cc;
}

// One RTT of per-segment ACKs (`per_ack` segments each) for the whole window.
void ack_one_rtt(CongestionController& cc, TimeUs& now, TimeUs rtt, std::uint32_t per_ack = 1) {
  const std::uint32_t segs = cc.cwnd() / cc.mss();
  const std::uint32_t acks = segs / per_ack;
  const std::uint32_t rest = segs % per_ack;
  const std::uint32_t n = acks + (rest != 0 ? 1 : 0);
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint32_t k = i < acks ? per_ack : rest;
    cc.on_ack(k * cc.mss(), now + rtt * i / n, rtt);
  }
  now += rtt;
}

TEST(CongestionControl, InitialWindowRfc6928) {
  EXPECT_EQ(make(CongestionControl::kCubic, 1460).cwnd(), 14600u);
  EXPECT_EQ(make(CongestionControl::kCubic, 536).cwnd(), 5360u);
  EXPECT_EQ(make(CongestionControl::kNewReno, 9000).cwnd(), 18000u);  // max(2*MSS, 14600)
  EXPECT_EQ(make(CongestionControl::kNewReno, 1000).cwnd(), 10000u);
}

TEST(CongestionControl, InitialWindowRfc5681) {
  EXPECT_EQ(make(CongestionControl::kNewReno, 1460, 4).cwnd(), 3 * 1460u);
  EXPECT_EQ(make(CongestionControl::kNewReno, 536, 4).cwnd(), 4 * 536u);
  EXPECT_EQ(make(CongestionControl::kCubic, 3000, 2).cwnd(), 2 * 3000u);
  EXPECT_TRUE(make(CongestionControl::kNewReno).in_slow_start());
}

TEST(CongestionControl, Names) {
  EXPECT_STREQ(make(CongestionControl::kCubic).name(), "cubic");
  EXPECT_STREQ(make(CongestionControl::kNewReno).name(), "newreno");
  TcpConfig cfg;
  EXPECT_STREQ(CongestionController(cfg).name(), "cubic");  // the default
}

class BothAlgos : public ::testing::TestWithParam<CongestionControl> {};
INSTANTIATE_TEST_SUITE_P(Cc, BothAlgos,
                         ::testing::Values(CongestionControl::kNewReno, CongestionControl::kCubic));

TEST_P(BothAlgos, SlowStartDoublesPerRtt) {  // RFC 5681 §3.1
  auto cc = make(GetParam());
  TimeUs now = 0;
  std::uint32_t expect = 10 * kMss;
  for (int rtt = 0; rtt < 5; ++rtt) {
    ASSERT_EQ(cc.cwnd(), expect);
    ack_one_rtt(cc, now, 50 * kUsPerMs);
    expect *= 2;
  }
  EXPECT_EQ(cc.cwnd(), 320 * kMss);
}

TEST_P(BothAlgos, SlowStartDoublesWithDelayedAcks) {  // RFC 3465 L = 2*SMSS
  auto cc = make(GetParam());
  TimeUs now = 0;
  for (int rtt = 0; rtt < 4; ++rtt) ack_one_rtt(cc, now, 50 * kUsPerMs, 2);
  EXPECT_EQ(cc.cwnd(), 160 * kMss);
}

TEST_P(BothAlgos, ByteCountingLimitsOneStretchAck) {  // RFC 3465 §2.2
  auto cc = make(GetParam());
  cc.on_ack(10 * kMss, 0, 0);  // one ACK for 10 segments
  EXPECT_EQ(cc.cwnd(), 12 * kMss);
  cc.on_ack(100, 0, 0);  // a partial segment counts bytes, not ACKs
  EXPECT_EQ(cc.cwnd(), 12 * kMss + 100);
}

TEST_P(BothAlgos, NoGrowthDuringRecovery) {
  auto cc = make(GetParam());
  cc.on_enter_recovery(10 * kMss, 0);
  EXPECT_TRUE(cc.in_recovery());
  const auto w = cc.cwnd();
  cc.on_ack(5 * kMss, 1000, 0);
  EXPECT_EQ(cc.cwnd(), w);
  cc.inflate(3 * kMss);  // RFC 6582 §3.2 step 2
  EXPECT_EQ(cc.cwnd(), w + 3 * kMss);
  cc.deflate(2 * kMss);  // partial ACK
  EXPECT_EQ(cc.cwnd(), w + kMss);
  cc.deflate(100 * kMss);  // never below one segment
  EXPECT_EQ(cc.cwnd(), kMss);
  cc.on_exit_recovery();  // RFC 6582 step 6: cwnd = ssthresh
  EXPECT_FALSE(cc.in_recovery());
  EXPECT_EQ(cc.cwnd(), cc.ssthresh());
}

TEST_P(BothAlgos, RtoCollapsesToOneSegment) {  // RFC 5681 §3.1 (4)
  auto cc = make(GetParam());
  TimeUs now = 0;
  ack_one_rtt(cc, now, 10 * kUsPerMs);  // cwnd 20 MSS
  cc.on_rto(20 * kMss, now);
  EXPECT_EQ(cc.cwnd(), kMss);
  const std::uint32_t ss = cc.ssthresh();
  if (GetParam() == CongestionControl::kNewReno) {
    EXPECT_EQ(ss, 10 * kMss);  // FlightSize / 2
  } else {
    EXPECT_EQ(ss, 14 * kMss);  // beta_cubic * cwnd
  }
  EXPECT_TRUE(cc.in_slow_start());
  // A second timeout of the same segment keeps ssthresh (RFC 5681 §3.1).
  cc.on_rto(kMss, now, /*first_timeout=*/false);
  EXPECT_EQ(cc.ssthresh(), ss);
  EXPECT_EQ(cc.cwnd(), kMss);
  // Slow start after RTO uses L = 1*SMSS (RFC 3465 §2.3).
  cc.on_ack(2 * kMss, now, 0);
  EXPECT_EQ(cc.cwnd(), 2 * kMss);
}

TEST_P(BothAlgos, SsthreshNeverBelowTwoSegments) {
  auto cc = make(GetParam());
  cc.on_rto(kMss, 0);
  cc.on_rto(kMss, 0);
  EXPECT_EQ(cc.ssthresh(), 2 * kMss);
}

TEST(NewReno, RecoveryHalvesFlight) {  // RFC 5681 (4), RFC 6582
  auto cc = make(CongestionControl::kNewReno);
  cc.on_enter_recovery(30 * kMss, 0);
  EXPECT_EQ(cc.ssthresh(), 15 * kMss);
  EXPECT_EQ(cc.cwnd(), 15 * kMss);
  cc.on_exit_recovery();
  EXPECT_EQ(cc.cwnd(), 15 * kMss);
  EXPECT_FALSE(cc.in_slow_start());
  cc.on_enter_recovery(3 * kMss, 0);
  EXPECT_EQ(cc.ssthresh(), 2 * kMss);  // max(flight/2, 2*SMSS)
}

TEST(NewReno, CongestionAvoidanceAddsOneSegmentPerRtt) {  // RFC 5681 (3), RFC 3465
  auto cc = make(CongestionControl::kNewReno);
  cc.on_enter_recovery(20 * kMss, 0);
  cc.on_exit_recovery();
  ASSERT_EQ(cc.cwnd(), 10 * kMss);
  TimeUs now = 0;
  for (std::uint32_t i = 1; i <= 10; ++i) {
    ack_one_rtt(cc, now, 10 * kUsPerMs);
    EXPECT_EQ(cc.cwnd(), (10 + i) * kMss) << "after RTT " << i;
  }
  // Same growth with delayed ACKs: byte counting, not ACK counting.
  for (std::uint32_t i = 1; i <= 10; ++i) ack_one_rtt(cc, now, 10 * kUsPerMs, 2);
  EXPECT_EQ(cc.cwnd(), 30 * kMss);
}

TEST(NewReno, SlowStartStopsAtSsthreshAndCarriesOver) {
  auto cc = make(CongestionControl::kNewReno);
  cc.on_rto(24 * kMss, 0);  // ssthresh 12 MSS, cwnd 1 MSS
  for (int i = 0; i < 11; ++i) cc.on_ack(kMss, 0, 0);
  EXPECT_EQ(cc.cwnd(), 12 * kMss);
  EXPECT_FALSE(cc.in_slow_start());
  for (int i = 0; i < 11; ++i) cc.on_ack(kMss, 0, 0);
  EXPECT_EQ(cc.cwnd(), 12 * kMss);  // 11 of 12 segments: not yet
  cc.on_ack(kMss, 0, 0);
  EXPECT_EQ(cc.cwnd(), 13 * kMss);
}

const cc::Cubic& cubic_of(const CongestionController& c) {
  const cc::Cubic* p = c.cubic();
  if (p == nullptr) std::abort();
  return *p;
}

// Brings a CUBIC controller to exactly `w` segments in slow start, then a
// loss: W_max = w, cwnd = ssthresh = 0.7 w.
CongestionController cubic_after_loss(std::uint32_t w, TimeUs now) {
  auto cc = make(CongestionControl::kCubic);
  while (cc.cwnd() < w * kMss) cc.on_ack(kMss, 0, 0);
  EXPECT_EQ(cc.cwnd(), w * kMss);
  cc.on_enter_recovery(w * kMss, now);
  cc.on_exit_recovery();
  return cc;
}

TEST(Cubic, LossSetsWmaxAndBeta) {  // RFC 9438 §4.6
  auto cc = cubic_after_loss(100, 0);
  EXPECT_EQ(cc.ssthresh(), 70 * kMss);
  EXPECT_EQ(cc.cwnd(), 70 * kMss);
  EXPECT_DOUBLE_EQ(cubic_of(cc).w_max, 100.0);
}

TEST(Cubic, FastConvergence) {  // RFC 9438 §4.7
  auto cc = cubic_after_loss(100, 0);
  // Second loss at 80 < W_max: W_max = 80 * (1 + 0.7) / 2 = 68.
  while (cc.cwnd() < 80 * kMss) cc.inflate(kMss);
  cc.on_enter_recovery(80 * kMss, 0);
  EXPECT_DOUBLE_EQ(cubic_of(cc).w_max, 68.0);
  EXPECT_EQ(cc.ssthresh(), 56 * kMss);
}

TEST(Cubic, WindowFollowsTheCubicCurve) {  // RFC 9438 §4.2, Figures 1 and 2
  const TimeUs start = 5 * kUsPerSec;
  auto cc = cubic_after_loss(100, start);
  // K = cbrt(W_max (1 - beta) / C) = cbrt(100 * 0.3 / 0.4) = cbrt(75).
  const double k = std::cbrt(75.0);
  const TimeUs rtt = 100 * kUsPerMs;
  TimeUs now = start;
  auto w_rfc = [&](double t) { return 0.4 * std::pow(t - k, 3.0) + 100.0; };
  // Check at t = 1 s, 2 s, K (plateau at W_max) and 6 s (convex region).
  const double checks[] = {1.0, 2.0, k, 6.0};
  for (double t : checks) {
    while (static_cast<double>(now - start) / 1e6 < t - 1e-9) ack_one_rtt(cc, now, rtt);
    const double seg = static_cast<double>(cc.cwnd()) / kMss;
    const double t_now = static_cast<double>(now - start) / 1e6;
    EXPECT_NEAR(seg, w_rfc(t_now), 0.01 * w_rfc(t_now)) << "t=" << t_now;
    // Never above the curve one RTT ahead (the target bound of §4.2).
    EXPECT_LE(seg, w_rfc(t_now + 0.1) + 1.0) << "t=" << t_now;
  }
  EXPECT_NEAR(cubic_of(cc).k, k, 1e-9);
}

TEST(Cubic, PlateauAroundWmax) {
  const TimeUs start = 0;
  auto cc = cubic_after_loss(100, start);
  TimeUs now = start;
  // Near t = K the curve is flat: over ~1 s around K the window changes by
  // only a few segments, unlike Reno's +1/RTT slope (10 segments per second).
  const double k = std::cbrt(75.0);
  while (static_cast<double>(now) / 1e6 < k - 0.5) ack_one_rtt(cc, now, 100 * kUsPerMs);
  const auto before = cc.cwnd();
  while (static_cast<double>(now) / 1e6 < k + 0.5) ack_one_rtt(cc, now, 100 * kUsPerMs);
  EXPECT_LT(cc.cwnd() - before, 3 * kMss);
}

TEST(Cubic, RenoFriendlyRegionOnShortRtt) {  // RFC 9438 §4.3
  auto cc = cubic_after_loss(100, 0);
  // With a 1 ms RTT Reno's estimate outgrows the cubic curve at once; cwnd
  // must follow W_est = 70 + alpha per RTT (alpha = 3(1-b)/(1+b)), and alpha
  // becomes 1 once W_est reaches cwnd_prior = 100.
  TimeUs now = 0;
  double w_est = 70.0;
  const double alpha = 3.0 * 0.3 / 1.7;
  for (int r = 0; r < 120; ++r) {
    const double cwnd_seg = static_cast<double>(cc.cwnd()) / kMss;
    const std::uint32_t segs = cc.cwnd() / kMss;
    for (std::uint32_t i = 0; i < segs; ++i) {
      w_est += (w_est >= 100.0 ? 1.0 : alpha) / cwnd_seg;
      (void)i;
    }
    ack_one_rtt(cc, now, 1 * kUsPerMs);
  }
  const double seg = static_cast<double>(cc.cwnd()) / kMss;
  EXPECT_NEAR(seg, w_est, 0.05 * w_est);
  const double t = static_cast<double>(now) / 1e6;
  EXPECT_GT(seg, cubic_of(cc).w_cubic(t));  // really in the Reno-friendly region
  EXPECT_GT(seg, 100.0);                    // and past W_max
}

TEST(Cubic, CongestionAvoidanceAfterSlowStartWithoutLoss) {
  // Slow start ended by ssthresh (after an RTO) with no higher W_max: the
  // epoch starts at its plateau and grows convexly, never shrinks.
  auto cc = make(CongestionControl::kCubic);
  cc.on_rto(40 * kMss, 0);  // ssthresh = 0.7 * 10 MSS = 7 MSS
  TimeUs now = 0;
  for (int r = 0; r < 30; ++r) {
    const auto before = cc.cwnd();
    ack_one_rtt(cc, now, 50 * kUsPerMs);
    EXPECT_GE(cc.cwnd(), before);
  }
  EXPECT_GT(cc.cwnd(), 7 * kMss);
  EXPECT_FALSE(cc.in_slow_start());
}

}  // namespace
}  // namespace shardtcp::tcp
