// Latency histogram (HdrHistogram layout, 3 significant digits) and the body
// pattern check.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "body_pattern.h"
#include "latency_histogram.h"

namespace shardtcp::app {
namespace {

// Every value lands in a bucket whose range holds it and is at most 1/1024
// of the value wide (3 significant digits); buckets are contiguous.
TEST(LatencyHistogram, BucketsHoldTheirValuesWithThreeDigits) {
  std::size_t prev_index = 0;
  for (std::uint64_t v = 0; v < (1u << 22); v += (v < 5000 ? 1 : 97)) {
    const std::size_t i = LatencyHistogram::index_of(v);
    ASSERT_LT(i, LatencyHistogram::kSize);
    const std::uint64_t hi = LatencyHistogram::highest_of(i);
    ASSERT_GE(hi, v) << v;
    ASSERT_LE(hi - v, v / 1024 + 1) << v;
    ASSERT_GE(i, prev_index) << v;
    prev_index = i;
    if (i > 0) {
      ASSERT_LT(LatencyHistogram::highest_of(i - 1), v) << v;
    }
  }
  EXPECT_EQ(LatencyHistogram::index_of(~std::uint64_t{0}), LatencyHistogram::kSize - 1);
}

TEST(LatencyHistogram, PercentilesOfAKnownDistribution) {
  LatencyHistogram a, b;
  // 1..10000 us, split over two "cores", merged.
  for (std::uint64_t v = 1; v <= 10000; ++v) (v % 2 ? a : b).record(v);
  HistogramSnapshot s;
  s.add(a);
  s.add(b);
  EXPECT_EQ(s.total, 10000u);
  EXPECT_EQ(s.max, 10000u);
  auto near = [](std::uint64_t got, std::uint64_t want) {
    return got >= want && got - want <= want / 1024 + 1;
  };
  EXPECT_TRUE(near(s.percentile(50), 5000)) << s.percentile(50);
  EXPECT_TRUE(near(s.percentile(90), 9000)) << s.percentile(90);
  EXPECT_TRUE(near(s.percentile(99), 9900)) << s.percentile(99);
  EXPECT_TRUE(near(s.percentile(99.9), 9990)) << s.percentile(99.9);
  EXPECT_EQ(s.percentile(100), 10000u);
  // A per-second difference sees only the new values.
  HistogramSnapshot before = s;
  a.record(1000000);
  HistogramSnapshot after;
  after.add(a);
  after.add(b);
  const HistogramSnapshot d = after.minus(before);
  EXPECT_EQ(d.total, 1u);
  EXPECT_TRUE(near(d.percentile(50), 1000000));
  EXPECT_EQ(HistogramSnapshot{}.percentile(99), 0u);
}

TEST(BodyPattern, IsTheDocumentedBytesAndFindsTheFirstMismatch) {
  std::vector<std::uint8_t> body(200000);
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<std::uint8_t>('a' + i % 26);
  EXPECT_EQ(body_pattern_mismatch(0, body.data(), body.size()), -1);
  // Checked in pieces at their offsets, as the loadgen sees segments.
  for (std::size_t off = 0; off < body.size(); off += 1448) {
    const std::size_t n = std::min<std::size_t>(1448, body.size() - off);
    ASSERT_EQ(body_pattern_mismatch(off, body.data() + off, n), -1) << off;
  }
  body[150001] ^= 1;
  EXPECT_EQ(body_pattern_mismatch(0, body.data(), body.size()), 150001);
  EXPECT_EQ(body_pattern_mismatch(150000, body.data() + 150000, 10), 1);
  // Bytes shifted by one segment are caught at once.
  EXPECT_EQ(body_pattern_mismatch(1448, body.data(), 100), 0);
}

}  // namespace
}  // namespace shardtcp::app
