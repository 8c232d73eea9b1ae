// SackScoreboard: RFC 6675 IsLost, SetPipe, NextSeg; block validation
// (RFC 2018, RFC 2883 D-SACK); sequence numbers straddling 2^32.
#include <gtest/gtest.h>

#include <cstdint>

#include "sack_scoreboard.h"

namespace shardtcp::tcp {
namespace {

constexpr std::uint32_t kMss = 1000;
constexpr std::uint32_t kUna = 0xFFFFE000u;  // 8 KB below 2^32: segment 8 is at 2^32

// Segment i covers [kUna + i*kMss, kUna + (i+1)*kMss).
std::uint32_t seg(std::uint32_t i) { return kUna + i * kMss; }
SackBlock blk(std::uint32_t from, std::uint32_t to) { return SackBlock{seg(from), seg(to)}; }

TEST(SackScoreboard, EmptyBoard) {
  SackScoreboard sb;
  EXPECT_TRUE(sb.empty());
  EXPECT_EQ(sb.sacked_bytes(), 0u);
  EXPECT_FALSE(sb.is_lost(kUna, kMss));
  EXPECT_FALSE(sb.next_seg(kUna, seg(10), kUna, kMss).has_value());
  // No SACK information: everything outstanding is in the pipe.
  EXPECT_EQ(sb.pipe(kUna, seg(10), kUna, kMss), 10 * kMss);
  EXPECT_FALSE(sb.highest_sacked().has_value());
}

TEST(SackScoreboard, BlocksMergeAcrossWrap) {
  SackScoreboard sb;
  const SackBlock b1[] = {blk(7, 8), blk(9, 10)};
  sb.on_ack(kUna, b1, 2, seg(20));
  EXPECT_EQ(sb.range_count(), 2);
  EXPECT_EQ(sb.sacked_bytes(), 2 * kMss);
  const SackBlock b2[] = {blk(8, 9)};  // fills the gap at 2^32
  sb.on_ack(kUna, b2, 1, seg(20));
  ASSERT_EQ(sb.range_count(), 1);
  EXPECT_EQ(sb.range(0).left, seg(7));
  EXPECT_EQ(sb.range(0).right, seg(10));
  EXPECT_TRUE(sb.is_sacked(0u));
  EXPECT_EQ(sb.sacked_bytes(), 3 * kMss);
  const SackBlock b3[] = {SackBlock{seg(6) + 500, seg(11) - 1}};  // overlaps both ends
  sb.on_ack(kUna, b3, 1, seg(20));
  ASSERT_EQ(sb.range_count(), 1);
  EXPECT_EQ(sb.range(0).left, seg(6) + 500);
  EXPECT_EQ(sb.range(0).right, seg(11) - 1);
  EXPECT_EQ(sb.sacked_bytes(), 4499u);
}

TEST(SackScoreboard, InvalidAndDsackBlocksIgnored) {
  SackScoreboard sb;
  const SackBlock bad[] = {
      blk(3, 3),                            // empty
      blk(5, 4),                            // inverted
      blk(18, 21),                          // beyond SND.NXT
      SackBlock{kUna - 2000, kUna - 1000},  // D-SACK below SND.UNA (RFC 2883)
  };
  sb.on_ack(kUna, bad, 4, seg(20));
  EXPECT_TRUE(sb.empty());
  // A block straddling SND.UNA is trimmed to it.
  const SackBlock straddle[] = {SackBlock{kUna - 500, seg(2)}};
  sb.on_ack(kUna, straddle, 1, seg(20));
  ASSERT_EQ(sb.range_count(), 1);
  EXPECT_EQ(sb.range(0).left, kUna);
  EXPECT_EQ(sb.sacked_bytes(), 2 * kMss);
}

TEST(SackScoreboard, CumulativeAckForgetsBelowSndUna) {
  SackScoreboard sb;
  const SackBlock b[] = {blk(2, 4), blk(6, 8), blk(10, 12)};
  sb.on_ack(kUna, b, 3, seg(20));
  EXPECT_EQ(sb.sacked_bytes(), 6 * kMss);
  sb.on_ack(seg(7), nullptr, 0, seg(20));  // ACK advances into the second range
  ASSERT_EQ(sb.range_count(), 2);
  EXPECT_EQ(sb.range(0).left, seg(7));
  EXPECT_EQ(sb.sacked_bytes(), 3 * kMss);
  sb.on_ack(seg(20), nullptr, 0, seg(20));
  EXPECT_TRUE(sb.empty());
  EXPECT_EQ(sb.sacked_bytes(), 0u);
}

TEST(SackScoreboard, IsLostByBytes) {  // RFC 6675 §4: > (DupThresh-1)*SMSS above
  SackScoreboard sb;
  const SackBlock b[] = {blk(1, 3)};  // 2 segments SACKed: exactly 2*SMSS, not more
  sb.on_ack(kUna, b, 1, seg(10));
  EXPECT_FALSE(sb.is_lost(seg(0), kMss));
  const SackBlock b2[] = {SackBlock{seg(3), seg(3) + 1}};
  sb.on_ack(kUna, b2, 1, seg(10));  // one more byte
  EXPECT_TRUE(sb.is_lost(seg(0), kMss));
  EXPECT_FALSE(sb.is_lost(seg(1), kMss));  // SACKed bytes are never lost
  EXPECT_FALSE(sb.is_lost(seg(5), kMss));  // nothing above
}

TEST(SackScoreboard, IsLostByDiscontiguousRanges) {  // RFC 6675 §4: DupThresh ranges
  SackScoreboard sb;
  const SackBlock b[] = {SackBlock{seg(1), seg(1) + 100}, SackBlock{seg(2), seg(2) + 100}};
  sb.on_ack(kUna, b, 2, seg(10));
  EXPECT_FALSE(sb.is_lost(seg(0), kMss));
  const SackBlock b2[] = {SackBlock{seg(3), seg(3) + 100}};
  sb.on_ack(kUna, b2, 1, seg(10));
  EXPECT_TRUE(sb.is_lost(seg(0), kMss));         // 3 ranges above, 300 bytes
  EXPECT_FALSE(sb.is_lost(seg(1) + 500, kMss));  // only 2 above
}

// Ten segments out, 2..4 and 6 SACKed:
//   0 1 [2 3 4] 5 [6] 7 8 9
// Holes 0-1 (lost: 4 SACKed segments above), 5 (1 range / 1 segment above:
// not lost), 7-9 (nothing above: not lost).
class Scenario : public ::testing::Test {
 protected:
  void SetUp() override {
    const SackBlock b[] = {blk(6, 7), blk(2, 5)};
    sb.on_ack(kUna, b, 2, seg(10));
  }
  SackScoreboard sb;
};

TEST_F(Scenario, Pipe) {                                    // RFC 6675 §4 SetPipe
  EXPECT_EQ(sb.pipe(kUna, seg(10), kUna, kMss), 4 * kMss);  // segs 5, 7, 8, 9
  // Segment 0 retransmitted: counted once (it is lost, so only rule (b)).
  EXPECT_EQ(sb.pipe(kUna, seg(10), seg(1), kMss), 5 * kMss);
  // Segments 0, 1 and 5 retransmitted: 5 is not lost, so it counts twice.
  EXPECT_EQ(sb.pipe(kUna, seg(10), seg(6), kMss), 7 * kMss);  // 2 + 2 + 3
}

TEST_F(Scenario, NextSegRule1) {  // RFC 6675 §4 NextSeg (1)
  auto s = sb.next_seg(kUna, seg(10), kUna, kMss);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->first, seg(0));
  EXPECT_EQ(s->second, kMss);
  s = sb.next_seg(kUna, seg(10), seg(1), kMss);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->first, seg(1));
  // A segment stops at the next SACKed byte.
  s = sb.next_seg(kUna, seg(10), seg(1) + 200, kMss);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->first, seg(1) + 200);
  EXPECT_EQ(s->second, 800u);
  // After 0-1 are retransmitted, the next hole (5) is not lost.
  EXPECT_FALSE(sb.next_seg(kUna, seg(10), seg(2), kMss).has_value());
}

TEST_F(Scenario, NextSegRule3) {  // RFC 6675 §4 NextSeg (3)
  auto s = sb.next_seg_rule3(kUna, seg(10), seg(2), kMss);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->first, seg(5));
  EXPECT_EQ(s->second, kMss);
  // Above the highest SACKed byte: rule 3 does not apply (that is new data
  // or rule 4 territory).
  EXPECT_FALSE(sb.next_seg_rule3(kUna, seg(10), seg(7), kMss).has_value());
  EXPECT_EQ(sb.highest_sacked().value(), seg(7));
}

TEST(SackScoreboard, LargeMssSegmentEndsAtSndNxt) {
  SackScoreboard sb;
  const SackBlock b[] = {blk(1, 4)};
  sb.on_ack(kUna, b, 1, seg(4));
  auto s = sb.next_seg(kUna, seg(4), kUna, 5 * kMss);
  // Lost? 3000 bytes above > 2 * 5000? No: with a 5000-byte SMSS not lost.
  EXPECT_FALSE(s.has_value());
  s = sb.next_seg(kUna, seg(4), kUna, kMss);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->second, kMss);
}

TEST(SackScoreboard, CapacityIsBoundedAndConservative) {
  SackScoreboard sb;
  const std::uint32_t nxt = seg(200);
  for (std::uint32_t i = 0; i < 40; ++i) {
    const SackBlock b[] = {blk(2 * i + 1, 2 * i + 2)};
    sb.on_ack(kUna, b, 1, nxt);
  }
  EXPECT_EQ(sb.range_count(), SackScoreboard::kMaxRanges);
  EXPECT_EQ(sb.sacked_bytes(), SackScoreboard::kMaxRanges * kMss);
  EXPECT_FALSE(sb.is_sacked(seg(2 * 39 + 1)));  // ignored when full
  // Merging still works when full.
  const SackBlock m[] = {blk(1, 4)};
  sb.on_ack(kUna, m, 1, nxt);
  EXPECT_EQ(sb.range_count(), SackScoreboard::kMaxRanges - 1);
  EXPECT_EQ(sb.sacked_bytes(), (SackScoreboard::kMaxRanges + 1) * kMss);
  sb.clear();
  EXPECT_TRUE(sb.empty());
  EXPECT_EQ(sb.sacked_bytes(), 0u);
}

TEST(SackScoreboard, PipeConsistentWithPerByteDefinition) {
  // Brute-force SetPipe octet by octet (RFC 6675 §4 literally) and compare.
  SackScoreboard sb;
  const std::uint32_t mss = 100;
  const std::uint32_t una = 0xFFFFFE00u;
  const std::uint32_t nxt = una + 3000;
  const SackBlock b[] = {{una + 300, una + 400},
                         {una + 700, una + 1000},
                         {una + 1200, una + 1250},
                         {una + 2000, una + 2100}};
  sb.on_ack(una, b, 4, nxt);
  for (std::uint32_t hr = una; seq_le(hr, nxt); hr += 150) {
    std::uint32_t expect = 0;
    for (std::uint32_t s = una; s != nxt; ++s) {
      if (sb.is_sacked(s)) continue;
      if (!sb.is_lost(s, mss)) ++expect;
      if (seq_lt(s, hr)) ++expect;
    }
    EXPECT_EQ(sb.pipe(una, nxt, hr, mss), expect) << "high_rxt offset " << hr - una;
  }
}

}  // namespace
}  // namespace shardtcp::tcp
