#include "mbuf_pressure.h"

#include <gtest/gtest.h>

namespace shardtcp::dataplane {
namespace {

constexpr std::uint32_t kPool = 8000;  // 1/8 = 1000, 1/4 = 2000

TEST(MbufPressure, AcceptsWhilePlentyIsFree) {
  MbufPressure p;
  EXPECT_FALSE(p.update(kPool, kPool));
  EXPECT_FALSE(p.update(1000, kPool));  // exactly 1/8 free is not below it
  EXPECT_EQ(p.episodes(), 0u);
}

TEST(MbufPressure, ShedsBelowOneEighthFree) {
  MbufPressure p;
  EXPECT_TRUE(p.update(999, kPool));
  EXPECT_TRUE(p.shedding());
  EXPECT_EQ(p.episodes(), 1u);
}

TEST(MbufPressure, RecoversOnlyAboveOneQuarterFree) {
  MbufPressure p;
  ASSERT_TRUE(p.update(10, kPool));
  // Hysteresis: between 1/8 and 1/4 free the state holds.
  EXPECT_TRUE(p.update(1500, kPool));
  EXPECT_TRUE(p.update(2000, kPool));
  EXPECT_FALSE(p.update(2001, kPool));
  EXPECT_FALSE(p.update(1500, kPool));  // and holds the other way too
  EXPECT_TRUE(p.update(0, kPool));      // pool fully exhausted: shed, no crash
  EXPECT_EQ(p.episodes(), 2u);
}

}  // namespace
}  // namespace shardtcp::dataplane
