// SYN cookies (RFC 4987 §3.6): validity window, tampering, MSS table, TS bits.
#include "shardtcp/tcp/syn_cookie.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>

namespace shardtcp::tcp {
namespace {

constexpr std::uint64_t kKey[2] = {0x1111, 0x2222};
const FourTuple kTuple{0xC6120001, 0xC6120002, 80, 40000};
constexpr TimeUs kMinute = 60 * kUsPerSec;

TEST(SynCookie, RoundTripRecoversMss) {
  SynCookies sc(kKey);
  const std::uint32_t isn = 0xfffffff0;  // near 2^32: the sums wrap
  const TimeUs now = 1000 * kMinute + 123;
  const std::uint32_t c = sc.make(kTuple, isn, 1460, now);
  auto info = sc.check(kTuple, isn, c, now);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->mss, 1460);
}

TEST(SynCookie, ValidForOneToTwoCounterPeriods) {
  SynCookies sc(kKey);
  const TimeUs made = 500 * kMinute + 30 * kUsPerSec;  // mid-period
  const std::uint32_t c = sc.make(kTuple, 7, 1460, made);
  EXPECT_TRUE(sc.check(kTuple, 7, c, made + 59 * kUsPerSec).has_value());  // t - 1 accepted
  EXPECT_TRUE(sc.check(kTuple, 7, c, 502 * kMinute - 1).has_value());      // last instant
  EXPECT_FALSE(sc.check(kTuple, 7, c, 502 * kMinute).has_value());         // counter t - 2
  EXPECT_FALSE(sc.check(kTuple, 7, c, made + 2 * kMinute).has_value());    // > 2 minutes
  EXPECT_FALSE(sc.check(kTuple, 7, c, made + 300 * kMinute).has_value());  // much later
  // A cookie from the future (clock went backwards / forged top byte) fails.
  EXPECT_FALSE(sc.check(kTuple, 7, c, made - 2 * kMinute).has_value());
}

TEST(SynCookie, TamperedInputsRejected) {
  SynCookies sc(kKey);
  const TimeUs now = 77 * kMinute;
  const std::uint32_t c = sc.make(kTuple, 1000, 1460, now);
  FourTuple t = kTuple;
  t.remote_port ^= 1;
  EXPECT_FALSE(sc.check(t, 1000, c, now).has_value());
  t = kTuple;
  t.remote_ip ^= 0x100;
  EXPECT_FALSE(sc.check(t, 1000, c, now).has_value());
  EXPECT_FALSE(sc.check(kTuple, 1001, c, now).has_value());  // other peer ISN
  EXPECT_FALSE(sc.check(kTuple, 1000, c + 1, now).has_value());
  EXPECT_FALSE(sc.check(kTuple, 1000, c ^ 0x80000000u, now).has_value());
  const std::uint64_t other[2] = {0x1111, 0x2223};
  EXPECT_FALSE(SynCookies(other).check(kTuple, 1000, c, now).has_value());
}

TEST(SynCookie, ForgeryRateIsTiny) {
  // Random ACK numbers for a fixed tuple: each passes with probability
  // ~2 * 8 / 2^24 (about 1e-6); 200k tries should essentially never pass.
  SynCookies sc(kKey);
  std::mt19937 rng(1);
  int passed = 0;
  for (int i = 0; i < 200000; ++i) {
    passed += sc.check(kTuple, 5, static_cast<std::uint32_t>(rng()), 9 * kMinute).has_value();
  }
  EXPECT_LE(passed, 3);
}

TEST(SynCookie, MssTableRoundsDown) {
  SynCookies sc(kKey);
  struct Case {
    std::uint16_t offered, used;
  } cases[] = {{0, 536},     {100, 536},   {536, 536},   {1199, 536},  {1200, 1200},
               {1359, 1300}, {1400, 1400}, {1452, 1440}, {1460, 1460}, {1500, 1460},
               {8960, 8960}, {9000, 8960}, {65535, 8960}};
  for (const Case& k : cases) {
    const std::uint32_t c = sc.make(kTuple, 42, k.offered, 3 * kMinute);
    auto info = sc.check(kTuple, 42, c, 3 * kMinute);
    ASSERT_TRUE(info.has_value()) << k.offered;
    EXPECT_EQ(info->mss, k.used) << k.offered;
    EXPECT_LE(info->mss, std::max<std::uint16_t>(k.offered, 536));
  }
  for (unsigned i = 0; i < SynCookies::kMssTableSize; ++i) {
    EXPECT_EQ(SynCookies::mss_index(SynCookies::kMssTable[i]), i);
  }
}

TEST(SynCookie, TimestampBitsCarryWscaleAndSack) {
  for (std::uint32_t ts_now : {0x12345678u, 0x00000000u, 0x0000003fu, 0xffffffffu}) {
    for (int ws = -1; ws <= 14; ++ws) {
      for (bool sack : {false, true}) {
        const std::uint32_t ts = SynCookies::encode_ts(
            ts_now, ws >= 0, static_cast<std::uint8_t>(ws < 0 ? 0 : ws), sack);
        // Never ahead of the clock, and at most one 64-unit block behind.
        EXPECT_LE(ts_now - ts, 127u);
        CookieInfo info;
        ASSERT_TRUE(SynCookies::decode_ts(ts, info));
        EXPECT_EQ(info.has_wscale, ws >= 0);
        if (ws >= 0) {
          EXPECT_EQ(info.wscale, ws);
        }
        EXPECT_EQ(info.sack_permitted, sack);
      }
    }
  }
  CookieInfo info;
  EXPECT_FALSE(SynCookies::decode_ts(0x20, info));  // reserved bit
}

}  // namespace
}  // namespace shardtcp::tcp
