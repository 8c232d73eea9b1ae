// Compact TIME-WAIT store: FIFO expiry (never early), capacity recycling,
// timer restart, and a million entries on one store under a virtual clock.
#include "shardtcp/tcp/time_wait.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace shardtcp::tcp {
namespace {

constexpr std::uint64_t kKey[2] = {3, 4};
constexpr TimeUs kTimeout = 60 * kUsPerSec;  // 2 * MSL with MSL = 30 s

TimeWaitEntry entry(std::uint32_t i) {
  TimeWaitEntry e;
  e.tuple = FourTuple{0xC6120001, 0xC6120000 | (i >> 16), 80, static_cast<std::uint16_t>(i)};
  e.snd_nxt = i * 3;
  e.rcv_nxt = i * 5;
  e.ts_recent = i * 7;
  e.ts_ok = (i & 1) != 0;
  e.window = 1234;
  e.rcv_wscale = 7;
  return e;
}

TEST(TimeWait, InsertFindEraseKeepsState) {
  TimeWaitStore tw(kKey, 100, kTimeout);
  bool recycled = true;
  TimeWaitEntry* e = tw.insert(entry(9), 1000, &recycled);
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(recycled);
  EXPECT_EQ(tw.find(entry(9).tuple), e);
  EXPECT_EQ(e->snd_nxt, 27u);
  EXPECT_EQ(e->rcv_nxt, 45u);
  EXPECT_EQ(e->ts_recent, 63u);
  EXPECT_TRUE(e->ts_ok);
  EXPECT_EQ(e->window, 1234);
  EXPECT_EQ(e->rcv_wscale, 7);
  EXPECT_EQ(e->expiry, 1000 + kTimeout);
  EXPECT_EQ(tw.next_expiry(), 1000 + kTimeout);
  EXPECT_EQ(tw.find(entry(10).tuple), nullptr);
  EXPECT_EQ(tw.size(), 1u);
  tw.erase(e);
  EXPECT_EQ(tw.size(), 0u);
  EXPECT_EQ(tw.find(entry(9).tuple), nullptr);
  EXPECT_EQ(tw.next_expiry(), kNever);
  tw.insert(entry(9), 1000);
  EXPECT_TRUE(tw.erase(entry(9).tuple));
  EXPECT_FALSE(tw.erase(entry(9).tuple));
}

TEST(TimeWait, ExpiresInFifoOrderNeverEarly) {
  TimeWaitStore tw(kKey, 100, kTimeout);
  for (std::uint32_t i = 0; i < 10; ++i) tw.insert(entry(i), i * 1000);
  std::vector<std::uint16_t> out;
  auto cb = [&](const TimeWaitEntry& e) { out.push_back(e.tuple.remote_port); };
  EXPECT_EQ(tw.expire(kTimeout - 1, cb), 0u);
  EXPECT_EQ(tw.expire(kTimeout, cb), 1u);  // expiry <= now
  EXPECT_EQ(tw.expire(kTimeout + 3500, cb), 3u);
  EXPECT_EQ(out, (std::vector<std::uint16_t>{0, 1, 2, 3}));
  EXPECT_EQ(tw.size(), 6u);
  EXPECT_EQ(tw.find(entry(2).tuple), nullptr);
  EXPECT_NE(tw.find(entry(4).tuple), nullptr);
}

TEST(TimeWait, RestartMovesToTail) {
  // RFC 9293 §3.10.7.4: a retransmitted FIN restarts the 2*MSL timeout.
  TimeWaitStore tw(kKey, 100, kTimeout);
  TimeWaitEntry* a = tw.insert(entry(1), 0);
  tw.insert(entry(2), 10);
  tw.restart(a, 20);
  EXPECT_EQ(a->expiry, 20 + kTimeout);
  std::vector<std::uint16_t> out;
  auto cb = [&](const TimeWaitEntry& e) { out.push_back(e.tuple.remote_port); };
  EXPECT_EQ(tw.expire(kTimeout + 10, cb), 1u);
  EXPECT_EQ(out, (std::vector<std::uint16_t>{2}));
  EXPECT_EQ(tw.expire(kTimeout + 19, cb), 0u);
  EXPECT_EQ(tw.expire(kTimeout + 20, cb), 1u);
  EXPECT_EQ(out, (std::vector<std::uint16_t>{2, 1}));
}

TEST(TimeWait, CapacityRecyclesOldest) {
  TimeWaitStore tw(kKey, 3, kTimeout);
  bool recycled = false;
  for (std::uint32_t i = 0; i < 3; ++i) {
    tw.insert(entry(i), i, &recycled);
    EXPECT_FALSE(recycled);
  }
  tw.restart(tw.find(entry(0).tuple), 5);  // 1 is now the oldest
  TimeWaitEntry* e = tw.insert(entry(3), 6, &recycled);
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(recycled);
  EXPECT_EQ(tw.size(), 3u);
  EXPECT_EQ(tw.find(entry(1).tuple), nullptr);
  EXPECT_NE(tw.find(entry(0).tuple), nullptr);
  EXPECT_NE(tw.find(entry(3).tuple), nullptr);
  // Re-inserting a present tuple overwrites it and does not recycle.
  TimeWaitEntry again = entry(3);
  again.rcv_nxt = 99;
  EXPECT_EQ(tw.insert(again, 7, &recycled), e);
  EXPECT_FALSE(recycled);
  EXPECT_EQ(e->rcv_nxt, 99u);
  EXPECT_EQ(e->expiry, 7 + kTimeout);
  EXPECT_EQ(tw.size(), 3u);
}

TEST(TimeWait, ZeroCapacityDisables) {
  TimeWaitStore tw(kKey, 0, kTimeout);
  EXPECT_EQ(tw.insert(entry(1), 0), nullptr);
  EXPECT_EQ(tw.size(), 0u);
}

TEST(TimeWait, EntryIsCompact) { EXPECT_LE(sizeof(TimeWaitEntry), 64u); }

// One million entries held at once on one store, driven by a virtual clock in
// irregular steps while new entries keep arriving: each expires in the first
// expire() call whose now >= its expiry (not earlier, not in a later call).
TEST(TimeWait, MillionEntriesExpireOnTime) {
  constexpr std::uint32_t kN = 1000000;
  TimeWaitStore tw(kKey, kN, kTimeout);
  TimeUs now = 0, prev = 0;
  std::uint32_t inserted = 0;
  std::size_t expired = 0, early = 0, late = 0, peak = 0;
  auto cb = [&](const TimeWaitEntry& e) {
    if (e.expiry > now) ++early;
    if (e.expiry <= prev) ++late;
    ++expired;
  };
  std::uint64_t x = 12345;
  while (expired < kN) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;  // LCG step sizes
    prev = now;
    now += 1 + (x >> 33) % 80;  // ~40 us per step: 1M inserts take ~40 s < timeout
    if (inserted < kN) {
      bool recycled = false;
      ASSERT_NE(tw.insert(entry(inserted), now, &recycled), nullptr);
      ASSERT_FALSE(recycled);
      ++inserted;
    }
    if (tw.size() > peak) peak = tw.size();
    tw.expire(now, cb);
    ASSERT_LT(now, 10 * kTimeout);
  }
  EXPECT_EQ(peak, kN) << "all entries were live at the same time";
  EXPECT_EQ(expired, kN);
  EXPECT_EQ(early, 0u);
  EXPECT_EQ(late, 0u);
  EXPECT_EQ(tw.size(), 0u);
  EXPECT_EQ(tw.find(entry(0).tuple), nullptr);
}

TEST(TimeWait, MemoryPerEntryAtMillion) {
  constexpr std::uint32_t kN = 1000000;
  TimeWaitStore tw(kKey, kN, kTimeout);
  for (std::uint32_t i = 0; i < kN; ++i) tw.insert(entry(i), i);
  const double per = static_cast<double>(tw.memory_bytes()) / static_cast<double>(tw.size());
  RecordProperty("bytes_per_entry", static_cast<int>(per));
  // Entry (<= 64) + index slot (20 bytes at <= 75% load, x2 while growing).
  EXPECT_LT(per, 160.0);
  EXPECT_GT(per, static_cast<double>(sizeof(TimeWaitEntry)));
}

}  // namespace
}  // namespace shardtcp::tcp
