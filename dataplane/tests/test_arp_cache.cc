// ArpCache: the open-addressing table against a std::map model, capacity
// limit, stale-entry semantics of learn(create=false).
#include "arp_cache.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

namespace shardtcp::dataplane {
namespace {

MacAddr mac_of(std::uint32_t ip) {
  MacAddr m;
  for (int i = 0; i < 4; ++i) m.b[2 + i] = static_cast<std::uint8_t>(ip >> (8 * i));
  return m;
}

TEST(ArpCache, LearnCreatesOnlyWhenAsked) {
  ArpCache c(8, 1000);
  EXPECT_EQ(c.learn(0xC6120002, mac_of(2), 0, /*create=*/false), nullptr);
  EXPECT_EQ(c.find(0xC6120002), nullptr);
  ASSERT_NE(c.learn(0xC6120002, mac_of(2), 0, true), nullptr);
  ArpCache::Entry* e = c.find(0xC6120002);
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->mac == mac_of(2));
  EXPECT_EQ(e->expires, 1000u);
  // An existing entry is updated without `create` (RFC 826 merge flag).
  ASSERT_NE(c.learn(0xC6120002, mac_of(3), 500, false), nullptr);
  EXPECT_TRUE(c.find(0xC6120002)->mac == mac_of(3));
  EXPECT_EQ(c.find(0xC6120002)->expires, 1500u);
}

TEST(ArpCache, UnresolvedEntryIsNotFound) {
  ArpCache c(8, 1000);
  ArpCache::Entry* e = c.find_or_create(0x0A000001);
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(e->resolved);
  EXPECT_EQ(c.find(0x0A000001), nullptr);  // find() returns resolved entries only
  EXPECT_EQ(c.find_or_create(0x0A000001), e);
  EXPECT_EQ(c.size(), 1u);
}

TEST(ArpCache, CapacityIsEnforced) {
  ArpCache c(4, 1000);
  for (std::uint32_t i = 1; i <= 4; ++i) ASSERT_NE(c.find_or_create(i), nullptr);
  EXPECT_EQ(c.find_or_create(5), nullptr);
  EXPECT_EQ(c.learn(5, mac_of(5), 0, true), nullptr);
  EXPECT_NE(c.find_or_create(3), nullptr);  // existing entries still reachable
  c.erase(c.find_or_create(3));
  EXPECT_NE(c.find_or_create(5), nullptr);
  EXPECT_EQ(c.size(), 4u);
}

// Random inserts and erases (backward-shift deletion) against a model,
// with addresses that collide in the table's low bits.
TEST(ArpCache, MatchesModelUnderRandomOps) {
  ArpCache c(64, 1000);
  std::map<std::uint32_t, MacAddr> model;
  std::mt19937 rng(7);
  for (int step = 0; step < 20000; ++step) {
    const std::uint32_t ip = 0xC6120000u + (rng() % 97) * 256;  // clustered
    if (rng() % 3 != 0) {
      ArpCache::Entry* e = c.learn(ip, mac_of(ip + step), 0, true);
      if (model.size() < 64 || model.count(ip) != 0) {
        ASSERT_NE(e, nullptr);
        model[ip] = mac_of(ip + step);
      } else {
        ASSERT_EQ(e, nullptr);
      }
    } else if (model.count(ip) != 0) {
      c.erase(c.find_or_create(ip));
      model.erase(ip);
    }
    ASSERT_EQ(c.size(), model.size());
  }
  for (std::uint32_t k = 0; k < 97; ++k) {
    const std::uint32_t ip = 0xC6120000u + k * 256;
    ArpCache::Entry* e = c.find(ip);
    if (model.count(ip) != 0) {
      ASSERT_NE(e, nullptr) << ip;
      EXPECT_TRUE(e->mac == model[ip]);
    } else {
      EXPECT_EQ(e, nullptr) << ip;
    }
  }
}

}  // namespace
}  // namespace shardtcp::dataplane
