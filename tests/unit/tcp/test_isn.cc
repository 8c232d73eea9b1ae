// SipHash-2-4 (reference vectors) and RFC 6528 ISN generation.
#include "shardtcp/tcp/isn.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>

namespace shardtcp::tcp {
namespace {

// Key 00 01 .. 0f as the reference implementation reads it (little-endian).
constexpr std::uint64_t kRefKey[2] = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};

TEST(SipHash, ReferenceVectors) {
  // vectors_sip64 of the SipHash reference code: message 00 01 .. (n-1).
  // n = 15 is the worked example of the paper's Appendix A.
  const std::uint64_t want[17] = {
      0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL, 0x85676696d7fb7e2dULL,
      0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL, 0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL,
      0x93f5f5799a932462ULL, 0x9e0082df0ba9e4b0ULL, 0x7a5dbbc594ddb9f3ULL, 0xf4b32f46226bada7ULL,
      0x751e8fbc860ee5fbULL, 0x14ea5627c0843d90ULL, 0xf723ca908e7af2eeULL, 0xa129ca6149be45e5ULL,
      0x3f2acc7f57c29bdbULL};
  std::uint8_t msg[17];
  for (int i = 0; i < 17; ++i) msg[i] = static_cast<std::uint8_t>(i);
  for (int n = 0; n <= 16; ++n) {
    EXPECT_EQ(siphash24(msg, static_cast<std::size_t>(n), kRefKey), want[n]) << "n=" << n;
  }
}

TEST(SipHash, TupleIsTheDocumentedTwelveBytes) {
  const FourTuple t{0xC6120001, 0xC6120002, 80, 40000};
  const std::uint8_t bytes[12] = {0x01, 0x00, 0x12, 0xC6, 0x02, 0x00,
                                  0x12, 0xC6, 80,   0,    0x40, 0x9c};
  EXPECT_EQ(siphash_tuple(t, kRefKey), siphash24(bytes, 12, kRefKey));
  const std::uint64_t other[2] = {1, 0};
  EXPECT_NE(siphash_tuple(t, kRefKey), siphash_tuple(t, other));
  FourTuple u = t;
  u.remote_port = 40001;
  EXPECT_NE(siphash_tuple(t, kRefKey), siphash_tuple(u, kRefKey));
}

TEST(Isn, ClockAdvancesEveryFourMicroseconds) {
  const std::uint64_t key[2] = {11, 22};
  IsnGenerator g(key);
  const FourTuple t{1, 2, 3, 4};
  const TimeUs now = 123456789;
  EXPECT_EQ(g.isn(t, now), g.isn(t, now));  // deterministic for a key
  EXPECT_EQ(g.isn(t, now + 4) - g.isn(t, now), 1u);
  EXPECT_EQ(g.isn(t, now + 4000) - g.isn(t, now), 1000u);
  // M wraps modulo 2^32 (every ~4.77 hours), the sum stays well defined.
  EXPECT_EQ(g.isn(t, now + (TimeUs{1} << 34)) - g.isn(t, now), 0u);
}

TEST(Isn, TuplesGetUnrelatedOffsets) {
  const std::uint64_t key[2] = {11, 22};
  IsnGenerator g(key);
  std::set<std::uint32_t> seen;
  for (std::uint16_t p = 1024; p < 2048; ++p) seen.insert(g.isn(FourTuple{1, 2, 80, p}, 0));
  EXPECT_GT(seen.size(), 1020u);  // a 32-bit hash: collisions are rare
  // Another secret gives other ISNs for the same tuple.
  const std::uint64_t key2[2] = {11, 23};
  IsnGenerator g2(key2);
  EXPECT_NE(g.isn(FourTuple{1, 2, 80, 1024}, 0), g2.isn(FourTuple{1, 2, 80, 1024}, 0));
}

TEST(Isn, FIsNotTheTableHash) {
  // Sharing one secret with the connection table must not publish the
  // table's hash bits in every SYN-ACK.
  const std::uint64_t key[2] = {5, 6};
  IsnGenerator g(key);
  const FourTuple t{1, 2, 80, 5555};
  EXPECT_NE(g.isn(t, 0), static_cast<std::uint32_t>(siphash_tuple(t, key)));
}

TEST(Isn, ZeroKeyDrawsRandomKey) {
  const std::uint64_t zero[2] = {0, 0};
  IsnGenerator a(zero), b(zero);
  EXPECT_FALSE(a.key()[0] == 0 && a.key()[1] == 0);
  EXPECT_FALSE(a.key()[0] == b.key()[0] && a.key()[1] == b.key()[1]);
}

}  // namespace
}  // namespace shardtcp::tcp
