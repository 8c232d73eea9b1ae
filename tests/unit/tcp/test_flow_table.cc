// Flow table: behaviour against std::unordered_map under randomized churn,
// growth (incremental migration), erase and find while migrating.
#include "shardtcp/tcp/flow_table.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <unordered_map>
#include <vector>

namespace shardtcp::tcp {
namespace {

constexpr std::uint64_t kKey[2] = {0x0123456789abcdefULL, 0xfedcba9876543210ULL};

struct TupleHash {
  std::size_t operator()(const FourTuple& t) const {
    return (std::size_t{t.local_ip} * 31 + t.remote_ip) * 131071 + t.local_port * 65537u +
           t.remote_port;
  }
};

// Tuples from a small space so that random operations hit existing keys often.
FourTuple random_tuple(std::mt19937_64& rng, std::uint32_t space) {
  const std::uint32_t r = static_cast<std::uint32_t>(rng() % space);
  FourTuple t;
  t.local_ip = 0xC6120001;  // 198.18.0.1
  t.remote_ip = 0xC6120000 | (r >> 14);
  t.local_port = 80;
  t.remote_port = static_cast<std::uint16_t>(1024 + (r & 0x3fff));
  return t;
}

TEST(FlowTable, InsertFindErase) {
  FlowTable<std::uint32_t> ft(kKey, 4);
  FourTuple a{1, 2, 3, 4}, b{1, 2, 3, 5};
  EXPECT_EQ(ft.find(a), nullptr);
  EXPECT_TRUE(ft.insert(a, 7));
  EXPECT_FALSE(ft.insert(a, 8)) << "duplicate";
  EXPECT_TRUE(ft.insert(b, 9));
  ASSERT_NE(ft.find(a), nullptr);
  EXPECT_EQ(*ft.find(a), 7u);
  *ft.find(a) = 11;  // the value is mutable in place
  EXPECT_EQ(*ft.find(a), 11u);
  EXPECT_EQ(ft.size(), 2u);
  EXPECT_TRUE(ft.erase(a));
  EXPECT_FALSE(ft.erase(a));
  EXPECT_EQ(ft.find(a), nullptr);
  EXPECT_EQ(*ft.find(b), 9u);
  EXPECT_EQ(ft.size(), 1u);
}

TEST(FlowTable, PointerValues) {
  int x = 0, y = 0;
  FlowTable<int*> ft(kKey);
  EXPECT_TRUE(ft.insert(FourTuple{1, 1, 1, 1}, &x));
  EXPECT_TRUE(ft.insert(FourTuple{1, 1, 1, 2}, &y));
  int** px = ft.find(FourTuple{1, 1, 1, 1});
  int** py = ft.find(FourTuple{1, 1, 1, 2});
  ASSERT_NE(px, nullptr);
  ASSERT_NE(py, nullptr);
  EXPECT_EQ(*px, &x);
  EXPECT_EQ(*py, &y);
}

TEST(FlowTable, KeyedHashChangesLayout) {
  // Same tuples, different keys: the iteration order (bucket layout) differs,
  // which is what makes offline collision crafting useless.
  const std::uint64_t other[2] = {1, 2};
  FlowTable<std::uint32_t> a(kKey, 64), b(other, 64);
  for (std::uint32_t i = 0; i < 40; ++i) {
    a.insert(FourTuple{1, 2, 80, static_cast<std::uint16_t>(i)}, i);
    b.insert(FourTuple{1, 2, 80, static_cast<std::uint16_t>(i)}, i);
  }
  std::vector<std::uint32_t> oa, ob;
  a.for_each([&](const FourTuple&, std::uint32_t& v) { oa.push_back(v); });
  b.for_each([&](const FourTuple&, std::uint32_t& v) { ob.push_back(v); });
  EXPECT_EQ(oa.size(), 40u);
  EXPECT_NE(oa, ob);
}

void check_equal(FlowTable<std::uint32_t>& ft,
                 const std::unordered_map<FourTuple, std::uint32_t, TupleHash>& ref) {
  ASSERT_EQ(ft.size(), ref.size());
  for (const auto& [k, v] : ref) {
    std::uint32_t* p = ft.find(k);
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(*p, v);
  }
  std::size_t n = 0;
  ft.for_each([&](const FourTuple& k, std::uint32_t& v) {
    ++n;
    auto it = ref.find(k);
    ASSERT_NE(it, ref.end());
    ASSERT_EQ(it->second, v);
  });
  ASSERT_EQ(n, ref.size());
}

TEST(FlowTable, RandomizedAgainstUnorderedMap) {
  for (std::uint32_t seed = 1; seed <= 4; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937_64 rng(seed);
    FlowTable<std::uint32_t> ft(kKey, 8);
    std::unordered_map<FourTuple, std::uint32_t, TupleHash> ref;
    const std::uint32_t space = seed * 5000;
    for (int op = 0; op < 200000; ++op) {
      const FourTuple t = random_tuple(rng, space);
      const std::uint64_t r = rng() % 10;
      if (r < 5) {
        const auto v = static_cast<std::uint32_t>(rng());
        const bool ok = ft.insert(t, v);
        ASSERT_EQ(ok, ref.emplace(t, v).second);
      } else if (r < 8) {
        ASSERT_EQ(ft.erase(t), ref.erase(t) == 1);
      } else {
        std::uint32_t* p = ft.find(t);
        auto it = ref.find(t);
        ASSERT_EQ(p != nullptr, it != ref.end());
        if (p != nullptr) {
          ASSERT_EQ(*p, it->second);
        }
      }
      ASSERT_EQ(ft.size(), ref.size());
      if (op % 20000 == 0) check_equal(ft, ref);
    }
    check_equal(ft, ref);
  }
}

TEST(FlowTable, GrowthUnderHeavyChurnIsIncremental) {
  std::mt19937_64 rng(99);
  FlowTable<std::uint32_t> ft(kKey, 16);
  std::unordered_map<FourTuple, std::uint32_t, TupleHash> ref;
  std::size_t migrations_seen = 0, ops_while_migrating = 0;
  bool was_migrating = false;
  // Net growth of 1 per 3 ops with constant churn: many doublings.
  for (std::uint32_t i = 0; i < 300000; ++i) {
    const FourTuple t = random_tuple(rng, 1u << 30);
    if (ft.insert(t, i)) ref.emplace(t, i);
    if (i % 3 != 0 && !ref.empty()) {
      // Erase a key known to be present (the most recent one is cheap to get).
      ASSERT_TRUE(ft.erase(t) || ref.count(t) == 0);
      ref.erase(t);
    }
    if (ft.migrating()) {
      ++ops_while_migrating;
      if (!was_migrating) ++migrations_seen;
    }
    was_migrating = ft.migrating();
  }
  check_equal(ft, ref);
  EXPECT_GE(migrations_seen, 10u);
  // Each migration spans many operations (bounded work per op, no big pause).
  EXPECT_GT(ops_while_migrating, migrations_seen * 4);
}

TEST(FlowTable, EraseAndFindDuringMigration) {
  FlowTable<std::uint32_t> ft(kKey, 1000);
  std::vector<FourTuple> keys;
  std::uint32_t i = 0;
  // Fill until a migration starts.
  while (!ft.migrating()) {
    FourTuple t{0x0A000001, 0x0A000002 + i / 60000, 443, static_cast<std::uint16_t>(i)};
    ASSERT_TRUE(ft.insert(t, i));
    keys.push_back(t);
    ++i;
  }
  const std::size_t cap_before = ft.capacity();
  EXPECT_GT(ft.memory_bytes(), cap_before * 20);  // both arrays are counted
  // Erase every other key while the migration is in progress; each erase
  // moves a few buckets. Everything must stay findable in either array.
  std::size_t erased = 0;
  for (std::size_t k = 0; k < keys.size(); k += 2) {
    ASSERT_TRUE(ft.erase(keys[k]));
    ++erased;
    for (std::size_t j = k + 1; j < keys.size() && j < k + 40; j += 2) {
      ASSERT_NE(ft.find(keys[j]), nullptr) << j;
      ASSERT_EQ(*ft.find(keys[j]), static_cast<std::uint32_t>(j));
    }
    if (k + 2 < keys.size()) {
      ASSERT_NE(ft.find(keys[k + 2]), nullptr);
    }
    ASSERT_EQ(ft.find(keys[k]), nullptr);
  }
  EXPECT_FALSE(ft.migrating()) << "erases alone must finish the migration";
  EXPECT_EQ(ft.size(), keys.size() - erased);
  for (std::size_t k = 0; k < keys.size(); ++k) {
    ASSERT_EQ(ft.find(keys[k]) != nullptr, k % 2 == 1) << k;
  }
  // Re-inserting erased keys and duplicates of live keys behaves.
  for (std::size_t k = 0; k < keys.size(); ++k) {
    ASSERT_EQ(ft.insert(keys[k], 5), k % 2 == 0);
  }
  EXPECT_EQ(ft.size(), keys.size());
}

TEST(FlowTable, MemoryBytesCountsSlots) {
  FlowTable<std::uint32_t> ft(kKey, 1024);
  const std::size_t empty = ft.memory_bytes();
  EXPECT_GE(empty, ft.capacity() * 20);
  for (std::uint32_t i = 0; i < 1024; ++i) ft.insert(FourTuple{i, 1, 2, 3}, i);
  EXPECT_EQ(ft.memory_bytes(), empty) << "initial_capacity entries fit without growing";
}

}  // namespace
}  // namespace shardtcp::tcp
