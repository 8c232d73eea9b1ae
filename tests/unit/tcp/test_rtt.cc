// RttEstimator: RFC 6298 (2.1)-(2.5) and (5.5).
#include <gtest/gtest.h>

#include "rtt.h"

namespace shardtcp::tcp {
namespace {

TcpConfig cfg_with(TimeUs initial, TimeUs min, TimeUs max) {
  TcpConfig c;
  c.rto_initial = initial;
  c.rto_min = min;
  c.rto_max = max;
  return c;
}

TEST(RttEstimator, InitialRtoBeforeAnySample) {  // RFC 6298 (2.1)
  const TcpConfig cfg = cfg_with(1 * kUsPerSec, 200 * kUsPerMs, 60 * kUsPerSec);
  RttEstimator r(cfg);
  EXPECT_FALSE(r.has_sample());
  EXPECT_EQ(r.rto(), 1 * kUsPerSec);
  EXPECT_EQ(r.backoffs(), 0u);
}

TEST(RttEstimator, FirstSample) {  // RFC 6298 (2.2)
  const TcpConfig cfg = cfg_with(1 * kUsPerSec, 1 * kUsPerMs, 60 * kUsPerSec);
  RttEstimator r(cfg);
  r.sample(100 * kUsPerMs);
  EXPECT_TRUE(r.has_sample());
  EXPECT_EQ(r.srtt(), 100 * kUsPerMs);
  EXPECT_EQ(r.rttvar(), 50 * kUsPerMs);
  // RTO = SRTT + max(G, K*RTTVAR) = 100 + 200 ms.
  EXPECT_EQ(r.rto(), 300 * kUsPerMs);
}

TEST(RttEstimator, SubsequentSamples) {  // RFC 6298 (2.3)
  const TcpConfig cfg = cfg_with(1 * kUsPerSec, 1 * kUsPerMs, 60 * kUsPerSec);
  RttEstimator r(cfg);
  r.sample(100 * kUsPerMs);
  r.sample(180 * kUsPerMs);
  // RTTVAR = 3/4*50 + 1/4*|100-180| = 37.5 + 20 = 57.5 ms
  // SRTT = 7/8*100 + 1/8*180 = 110 ms
  EXPECT_EQ(r.rttvar(), 57500u);
  EXPECT_EQ(r.srtt(), 110000u);
  EXPECT_EQ(r.rto(), 110000u + 4 * 57500u);
  r.sample(110 * kUsPerMs);
  // err = 0: RTTVAR = 3/4 * 57.5 = 43.125 ms; SRTT unchanged.
  EXPECT_EQ(r.rttvar(), 43125u);
  EXPECT_EQ(r.srtt(), 110000u);
}

TEST(RttEstimator, ConvergesOnConstantRtt) {
  const TcpConfig cfg = cfg_with(1 * kUsPerSec, 1 * kUsPerMs, 60 * kUsPerSec);
  RttEstimator r(cfg);
  for (int i = 0; i < 200; ++i) r.sample(20 * kUsPerMs);
  EXPECT_EQ(r.srtt(), 20 * kUsPerMs);
  EXPECT_LT(r.rttvar(), 10u);
  // K*RTTVAR is below the granularity, so G (1 ms) is added (2.3).
  EXPECT_EQ(r.rto(), 20 * kUsPerMs + RttEstimator::kGranularity);
}

TEST(RttEstimator, RoundsUpToRtoMin) {  // RFC 6298 (2.4)
  const TcpConfig cfg = cfg_with(1 * kUsPerSec, 200 * kUsPerMs, 60 * kUsPerSec);
  RttEstimator r(cfg);
  r.sample(1 * kUsPerMs);
  EXPECT_EQ(r.rto(), 200 * kUsPerMs);
}

TEST(RttEstimator, CappedAtRtoMax) {  // RFC 6298 (2.5)
  const TcpConfig cfg = cfg_with(1 * kUsPerSec, 200 * kUsPerMs, 10 * kUsPerSec);
  RttEstimator r(cfg);
  r.sample(8 * kUsPerSec);  // 8 + 4*4 = 24 s
  EXPECT_EQ(r.rto(), 10 * kUsPerSec);
}

TEST(RttEstimator, BackoffDoublesAndSaturates) {  // RFC 6298 (5.5)
  const TcpConfig cfg = cfg_with(1 * kUsPerSec, 200 * kUsPerMs, 60 * kUsPerSec);
  RttEstimator r(cfg);
  r.backoff();
  EXPECT_EQ(r.rto(), 2 * kUsPerSec);
  EXPECT_EQ(r.backoffs(), 1u);
  r.backoff();
  EXPECT_EQ(r.rto(), 4 * kUsPerSec);
  for (int i = 0; i < 4; ++i) r.backoff();  // 64 s > rto_max
  EXPECT_EQ(r.rto(), 60 * kUsPerSec);
  for (int i = 0; i < 100; ++i) r.backoff();  // no shift overflow
  EXPECT_EQ(r.rto(), 60 * kUsPerSec);
  EXPECT_EQ(r.backoffs(), 106u);
  r.reset_backoff();
  EXPECT_EQ(r.rto(), 1 * kUsPerSec);
  EXPECT_EQ(r.backoffs(), 0u);
}

TEST(RttEstimator, NewSampleClearsBackoff) {
  const TcpConfig cfg = cfg_with(1 * kUsPerSec, 1 * kUsPerMs, 60 * kUsPerSec);
  RttEstimator r(cfg);
  r.sample(100 * kUsPerMs);
  r.backoff();
  r.backoff();
  EXPECT_EQ(r.rto(), 4 * 300 * kUsPerMs);
  r.sample(100 * kUsPerMs);
  EXPECT_EQ(r.backoffs(), 0u);
  EXPECT_EQ(r.rto(), r.base_rto());
}

TEST(RttEstimator, ResetForgetsSamples) {
  const TcpConfig cfg = cfg_with(3 * kUsPerSec, 200 * kUsPerMs, 60 * kUsPerSec);
  RttEstimator r(cfg);
  r.sample(50 * kUsPerMs);
  r.backoff();
  r.reset();
  EXPECT_FALSE(r.has_sample());
  EXPECT_EQ(r.rto(), 3 * kUsPerSec);
  EXPECT_EQ(r.backoffs(), 0u);
}

TEST(RttEstimator, InitialRtoBelowMinIsClamped) {
  const TcpConfig cfg = cfg_with(100 * kUsPerMs, 200 * kUsPerMs, 60 * kUsPerSec);
  RttEstimator r(cfg);
  EXPECT_EQ(r.rto(), 200 * kUsPerMs);
}

}  // namespace
}  // namespace shardtcp::tcp
