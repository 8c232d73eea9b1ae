// ReassemblyQueue: out-of-order holding, trimming, merging, SACK blocks
// (RFC 2018 §4), FIN memory, memory release; sequence numbers near 2^32.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "reassembly.h"

namespace shardtcp::tcp {
namespace {

constexpr std::uint32_t kBase = 0xFFFFF000u;  // 4 KiB below 2^32: every test wraps

// Byte at absolute sequence number s of the stream: a simple function, so
// any misplaced byte is detected.
std::uint8_t pat(std::uint32_t s) { return static_cast<std::uint8_t>((s * 2654435761u) >> 24); }

std::vector<std::uint8_t> bytes_at(std::uint32_t seq, std::uint32_t len) {
  std::vector<std::uint8_t> v(len);
  for (std::uint32_t i = 0; i < len; ++i) v[i] = pat(seq + i);
  return v;
}

bool ins(ReassemblyQueue& q, std::uint32_t seq, std::uint32_t len, std::uint32_t rcv_nxt,
         std::uint32_t limit = 1u << 20) {
  auto v = bytes_at(seq, len);
  return q.insert(seq, v.data(), len, rcv_nxt, limit);
}

// Delivers and checks the pattern; returns the bytes delivered.
std::uint32_t drain(ReassemblyQueue& q, std::uint32_t rcv_nxt) {
  std::uint32_t pos = rcv_nxt;
  const std::uint32_t n = q.deliver(rcv_nxt, [&](ByteView v) {
    for (std::size_t i = 0; i < v.size; ++i) {
      EXPECT_EQ(v.data[i], pat(pos)) << "at seq " << pos;
      ++pos;
    }
  });
  EXPECT_EQ(pos - rcv_nxt, n);
  return n;
}

TEST(ReassemblyQueue, EmptyHoldsNothing) {
  ReassemblyQueue q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
  EXPECT_EQ(drain(q, kBase), 0u);
  SackBlock b[4];
  EXPECT_EQ(q.sack_blocks(b, 4, kBase), 0);
  EXPECT_FALSE(q.fin_seq().has_value());
}

TEST(ReassemblyQueue, OutOfOrderThenGapFilledAcrossWrap) {
  ReassemblyPool pool;
  ReassemblyQueue q(&pool);
  const std::uint32_t nxt = kBase;
  // Segment 2 and 3 arrive first; they straddle 2^32.
  ASSERT_TRUE(ins(q, nxt + 3000, 1460, nxt));
  ASSERT_TRUE(ins(q, nxt + 4460, 1460, nxt));
  EXPECT_EQ(q.bytes(), 2920u);
  EXPECT_EQ(q.range_count(), 1);  // adjacent ranges merge
  EXPECT_EQ(drain(q, nxt), 0u);   // gap at rcv_nxt
  EXPECT_TRUE(q.contains(0u));    // 2^32 itself is held
  // The engine takes [nxt, nxt+3000) in order itself, then asks for the rest.
  EXPECT_EQ(drain(q, nxt + 3000), 2920u);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
  EXPECT_EQ(pool.in_use(), 0u);  // memory returned when empty
}

TEST(ReassemblyQueue, InsertAtRcvNxtIsDeliverable) {
  ReassemblyQueue q;
  ASSERT_TRUE(ins(q, kBase + 100, 50, kBase));
  ASSERT_TRUE(ins(q, kBase, 100, kBase));
  EXPECT_EQ(q.range_count(), 1);
  EXPECT_EQ(drain(q, kBase), 150u);
  EXPECT_TRUE(q.empty());
}

TEST(ReassemblyQueue, OverlapsAreMergedAndDuplicatesTrimmed) {
  ReassemblyQueue q;
  const std::uint32_t nxt = kBase;
  ASSERT_TRUE(ins(q, nxt + 100, 100, nxt));  // [100,200)
  ASSERT_TRUE(ins(q, nxt + 300, 100, nxt));  // [300,400)
  ASSERT_TRUE(ins(q, nxt + 150, 100, nxt));  // [150,250) overlaps the first
  EXPECT_EQ(q.bytes(), 250u);
  EXPECT_EQ(q.range_count(), 2);
  ASSERT_TRUE(ins(q, nxt + 100, 300, nxt));  // covers everything
  EXPECT_EQ(q.bytes(), 300u);
  EXPECT_EQ(q.range_count(), 1);
  ASSERT_TRUE(ins(q, nxt + 120, 10, nxt));  // pure duplicate
  EXPECT_EQ(q.bytes(), 300u);
  EXPECT_EQ(drain(q, nxt + 100), 300u);
}

TEST(ReassemblyQueue, FirstCopyOfABytesWins) {
  ReassemblyQueue q;
  std::vector<std::uint8_t> a(100, 0xAA), b(200, 0xBB);
  ASSERT_TRUE(q.insert(kBase + 50, a.data(), 100, kBase, 10000));
  ASSERT_TRUE(q.insert(kBase, b.data(), 200, kBase, 10000));
  std::vector<std::uint8_t> got;
  q.deliver(kBase, [&](ByteView v) { got.insert(got.end(), v.data, v.data + v.size); });
  ASSERT_EQ(got.size(), 200u);
  EXPECT_EQ(got[49], 0xBB);
  EXPECT_EQ(got[50], 0xAA);
  EXPECT_EQ(got[149], 0xAA);
  EXPECT_EQ(got[150], 0xBB);
}

TEST(ReassemblyQueue, OnlyBytesInsideTheWindowAreKept) {
  ReassemblyQueue q;
  const std::uint32_t nxt = kBase + 1000;
  // Entirely below RCV.NXT: old duplicate.
  ASSERT_TRUE(ins(q, kBase, 500, nxt, 4000));
  EXPECT_TRUE(q.empty());
  // Entirely beyond the window.
  ASSERT_TRUE(ins(q, nxt + 4000, 500, nxt, 4000));
  EXPECT_TRUE(q.empty());
  // Straddles the right edge: only [nxt+3800, nxt+4000) kept.
  ASSERT_TRUE(ins(q, nxt + 3800, 500, nxt, 4000));
  EXPECT_EQ(q.bytes(), 200u);
  EXPECT_FALSE(q.contains(nxt + 4000));
  // Straddles the left edge: [nxt, nxt+100) kept, deliverable at once.
  ASSERT_TRUE(ins(q, nxt - 100, 200, nxt, 4000));
  EXPECT_EQ(q.bytes(), 300u);
  EXPECT_EQ(drain(q, nxt), 100u);
  // Zero window: nothing stored.
  ReassemblyQueue z;
  ASSERT_TRUE(ins(z, nxt + 10, 10, nxt, 0));
  EXPECT_TRUE(z.empty());
}

TEST(ReassemblyQueue, DeliverFromInsideARange) {
  ReassemblyQueue q;
  ASSERT_TRUE(ins(q, kBase + 100, 400, kBase));
  ASSERT_TRUE(ins(q, kBase + 1000, 100, kBase));
  // The engine received [kBase, kBase+300) in order: 200 bytes of the held
  // range are stale and must not be delivered again.
  EXPECT_EQ(drain(q, kBase + 300), 200u);
  EXPECT_EQ(q.bytes(), 100u);
  // Advancing past a whole held range drops it.
  EXPECT_EQ(drain(q, kBase + 2000), 0u);
  EXPECT_TRUE(q.empty());
}

TEST(ReassemblyQueue, SackBlocksMostRecentFirst) {  // RFC 2018 §4
  ReassemblyQueue q;
  const std::uint32_t nxt = kBase;
  ASSERT_TRUE(ins(q, nxt + 1000, 100, nxt));  // A
  ASSERT_TRUE(ins(q, nxt + 3000, 100, nxt));  // B (wraps past 2^32)
  ASSERT_TRUE(ins(q, nxt + 5000, 100, nxt));  // C
  SackBlock b[4];
  ASSERT_EQ(q.sack_blocks(b, 4, nxt), 3);
  EXPECT_EQ(b[0].left, nxt + 5000);
  EXPECT_EQ(b[1].left, nxt + 3000);
  EXPECT_EQ(b[2].left, nxt + 1000);
  // A segment extending A makes A's block first, with its merged edges.
  ASSERT_TRUE(ins(q, nxt + 1100, 100, nxt));
  ASSERT_EQ(q.sack_blocks(b, 4, nxt), 3);
  EXPECT_EQ(b[0].left, nxt + 1000);
  EXPECT_EQ(b[0].right, nxt + 1200);
  EXPECT_EQ(b[1].left, nxt + 5000);
  // Fewer slots than ranges (timestamps leave room for 3).
  ASSERT_EQ(q.sack_blocks(b, 2, nxt), 2);
  EXPECT_EQ(b[0].left, nxt + 1000);
  EXPECT_EQ(b[1].left, nxt + 5000);
  // Bridging two ranges: the merged block is reported first.
  ASSERT_TRUE(ins(q, nxt + 3100, 1900, nxt));
  ASSERT_EQ(q.sack_blocks(b, 4, nxt), 2);
  EXPECT_EQ(b[0].left, nxt + 3000);
  EXPECT_EQ(b[0].right, nxt + 5100);
  EXPECT_EQ(b[1].left, nxt + 1000);
}

TEST(ReassemblyQueue, RemembersOutOfOrderFin) {
  ReassemblyQueue q;
  ASSERT_TRUE(ins(q, kBase + 500, 100, kBase));
  q.set_fin(kBase + 600);
  ASSERT_TRUE(q.fin_seq().has_value());
  EXPECT_EQ(*q.fin_seq(), kBase + 600);
  EXPECT_EQ(drain(q, kBase + 500), 100u);
  EXPECT_TRUE(q.empty());  // data gone, FIN still remembered
  EXPECT_EQ(*q.fin_seq(), kBase + 600);
  q.clear_fin();
  EXPECT_FALSE(q.fin_seq().has_value());
  q.set_fin(3);
  q.clear();
  EXPECT_FALSE(q.fin_seq().has_value());
}

TEST(ReassemblyQueue, RangeLimitRefusesAndKeepsState) {
  ReassemblyQueue q;
  for (int i = 0; i < ReassemblyQueue::kMaxRanges; ++i) {
    ASSERT_TRUE(ins(q, kBase + 10 + 20 * static_cast<std::uint32_t>(i), 10, kBase));
  }
  const std::uint32_t held = q.bytes();
  EXPECT_FALSE(ins(q, kBase + 100000, 10, kBase));  // would be range 65
  EXPECT_EQ(q.bytes(), held);
  EXPECT_EQ(q.range_count(), ReassemblyQueue::kMaxRanges);
  // Merging into an existing range still works at the limit.
  EXPECT_TRUE(ins(q, kBase + 20, 10, kBase));
  EXPECT_EQ(q.range_count(), ReassemblyQueue::kMaxRanges - 1);
}

TEST(ReassemblyQueue, PoolBudgetExhaustedRefusesAndRollsBack) {
  ReassemblyPool pool(/*max_pages=*/2);
  ReassemblyQueue q(&pool);
  const std::uint32_t nxt = 0;                // page-aligned for exact page counts
  ASSERT_TRUE(ins(q, nxt + 100, 100, nxt));   // page 0
  ASSERT_TRUE(ins(q, nxt + 4096, 100, nxt));  // page 2
  EXPECT_EQ(pool.in_use(), 2u);
  // Needs pages 4 and 5: none left; nothing stored, nothing leaked.
  EXPECT_FALSE(ins(q, nxt + 8192 + 2000, 200, nxt));
  EXPECT_EQ(pool.in_use(), 2u);
  EXPECT_EQ(q.bytes(), 200u);
  EXPECT_FALSE(q.contains(nxt + 8192 + 2000));
  q.clear();
  EXPECT_EQ(pool.in_use(), 0u);
  // The empty slab is kept for reuse (under the cache ceiling): no new
  // mapping next time.
  EXPECT_EQ(pool.slabs(), 1u);
  EXPECT_EQ(pool.cached(), BlockPool::kBlocksPerSlab);
  EXPECT_TRUE(ins(q, nxt + 8192 + 2000, 200, nxt));
  EXPECT_EQ(pool.in_use(), 2u);
  EXPECT_EQ(pool.slabs(), 1u);
  EXPECT_EQ(pool.budget_failures(), 1u);  // the refused insert above
}

TEST(ReassemblyQueue, ClearFromInsideDeliverIsSafe) {
  ReassemblyPool pool;
  ReassemblyQueue q(&pool);
  ASSERT_TRUE(ins(q, kBase + 1, 5000, kBase));  // spans 3-4 pages
  ASSERT_TRUE(ins(q, kBase + 8000, 10, kBase));
  int calls = 0;
  const std::uint32_t n = q.deliver(kBase + 1, [&](ByteView v) {
    ++calls;
    q.clear();                             // e.g. the application aborted from on_data
    EXPECT_EQ(v.data[0], pat(kBase + 1));  // the view is still readable
  });
  EXPECT_EQ(calls, 1);
  EXPECT_GT(n, 0u);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(ReassemblyQueue, MoveTransfersOwnership) {
  ReassemblyPool pool;
  ReassemblyQueue a(&pool);
  ASSERT_TRUE(ins(a, kBase + 10, 10, kBase));
  ReassemblyQueue b(std::move(a));
  EXPECT_EQ(b.bytes(), 10u);
  EXPECT_EQ(drain(b, kBase + 10), 10u);
  EXPECT_EQ(pool.in_use(), 0u);
}

// Randomized check against a trivial model: random segments of a stream,
// random order and duplicates; the delivered stream must be exactly the
// original, whatever the interleaving of insert and in-order consumption.
TEST(ReassemblyQueue, RandomizedAgainstModel) {
  for (std::uint32_t seed = 1; seed <= 40; ++seed) {
    std::mt19937 rng(seed);
    ReassemblyPool pool;
    ReassemblyQueue q(&pool);
    const std::uint32_t isn = kBase - (rng() % 20000);
    const std::uint32_t total = 200000;
    const std::uint32_t window = 30000;
    std::uint32_t nxt = isn;
    while (seq_lt(nxt, isn + total)) {
      const std::uint32_t off = rng() % (window + 2000);
      const std::uint32_t s = nxt - 1000 + off;
      std::uint32_t len = 1 + rng() % 1460;
      if (seq_gt(s + len, isn + total)) len = isn + total - s;
      if (seq_le(s + len, isn) || len == 0 || len > 1460) continue;
      auto v = bytes_at(s, len);
      if (s == nxt) {
        // In order: the engine consumes it directly, then drains the queue.
        nxt += len;
        nxt += drain(q, nxt);
      } else {
        ASSERT_TRUE(q.insert(s, v.data(), len, nxt, window)) << "seed " << seed;
        ASSERT_LE(q.bytes(), window);
        ASSERT_LE(pool.in_use(), window / ReassemblyQueue::kPageSize + 2);
        nxt += drain(q, nxt);
      }
    }
    EXPECT_EQ(nxt, isn + total);
    EXPECT_EQ(pool.in_use(), 0u) << "seed " << seed;
  }
}

}  // namespace
}  // namespace shardtcp::tcp
