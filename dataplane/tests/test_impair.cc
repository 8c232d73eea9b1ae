// The impairment stage's decisions (issue 15), without DPDK: seeded and
// reproducible, each fault at its configured rate, Gilbert-Elliott losses in
// bursts, corruption inside the IP packet only, delays within delay +-
// jitter, and a delay queue that never grows past its size.
#include "impair.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace shardtcp::dataplane {
namespace {

constexpr std::uint32_t kPct = 10'000;  // ppm per percent

struct Tally {
  std::uint64_t frames = 0, lost = 0, burst_lost = 0, dup = 0, corrupt = 0, reorder = 0;
  std::uint64_t loss_runs = 0;  // maximal runs of consecutive lost frames
};

Tally run(const config::ImpairDirection& cfg, std::uint64_t seed, std::uint64_t frames,
          std::uint32_t len = 1514) {
  ImpairDecider d(cfg, seed);
  Tally t;
  bool prev_lost = false;
  for (std::uint64_t i = 0; i < frames; ++i) {
    const ImpairVerdict v = d.decide(len);
    ++t.frames;
    t.lost += v.lost;
    t.burst_lost += v.burst;
    t.dup += v.duplicate;
    t.corrupt += v.corrupt;
    t.reorder += v.reorder;
    if (v.lost && !prev_lost) ++t.loss_runs;
    prev_lost = v.lost;
  }
  return t;
}

bool same(const ImpairVerdict& a, const ImpairVerdict& b) {
  return a.lost == b.lost && a.burst == b.burst && a.duplicate == b.duplicate &&
         a.corrupt == b.corrupt && a.reorder == b.reorder && a.corrupt_offset == b.corrupt_offset &&
         a.corrupt_xor == b.corrupt_xor && a.hold_us == b.hold_us && a.dup_hold_us == b.dup_hold_us;
}

config::ImpairDirection everything() {
  config::ImpairDirection c;
  c.loss_ppm = 5 * kPct;
  c.burst_enter_ppm = 1 * kPct;
  c.burst_exit_ppm = 25 * kPct;
  c.duplicate_ppm = 2 * kPct;
  c.reorder_ppm = 10 * kPct;
  c.reorder_us = 700;
  c.corrupt_ppm = 3 * kPct;
  c.delay_us = 5000;
  c.jitter_us = 1000;
  return c;
}

TEST(ImpairDecider, SameSeedSameDecisionsOtherSeedOthers) {
  ImpairDecider a(everything(), 7), b(everything(), 7), c(everything(), 8);
  int differ = 0;
  for (int i = 0; i < 10000; ++i) {
    const ImpairVerdict va = a.decide(1000), vb = b.decide(1000), vc = c.decide(1000);
    ASSERT_TRUE(same(va, vb)) << "frame " << i;
    differ += !same(va, vc);
  }
  EXPECT_GT(differ, 5000);  // another seed is another run
}

TEST(ImpairDecider, NthFrameDoesNotDependOnEarlierFrameLengths) {
  // A fixed number of draws per frame: a capture replayed with other sizes
  // (or a shorter ARP frame in between) sees the same losses at the same
  // places, so a failure found with a seed is found again.
  config::ImpairDirection cfg = everything();
  ImpairDecider a(cfg, 99), b(cfg, 99);
  for (int i = 0; i < 5000; ++i) {
    const ImpairVerdict va = a.decide(1514);
    const ImpairVerdict vb = b.decide(i % 3 == 0 ? 60 : 1514);
    ASSERT_EQ(va.lost, vb.lost) << i;
    ASSERT_EQ(va.duplicate, vb.duplicate) << i;
    ASSERT_EQ(va.hold_us, vb.hold_us) << i;
  }
}

TEST(ImpairDecider, OffDoesNothing) {
  const config::ImpairDirection off;
  EXPECT_FALSE(off.active());
  ImpairDecider d(off, 1);
  for (int i = 0; i < 100000; ++i) {
    const ImpairVerdict v = d.decide(1514);
    ASSERT_FALSE(v.lost || v.duplicate || v.corrupt || v.reorder);
    ASSERT_EQ(v.hold_us, 0u);
    ASSERT_EQ(v.dup_hold_us, 0u);
  }
  EXPECT_FALSE(d.in_burst());
}

TEST(ImpairDecider, HundredPercentLossLosesEveryFrameAndNothingElseHappens) {
  config::ImpairDirection c;
  c.loss_ppm = 100 * kPct;
  c.duplicate_ppm = 100 * kPct;  // a lost frame is not duplicated
  const Tally t = run(c, 3, 10000);
  EXPECT_EQ(t.lost, 10000u);
  EXPECT_EQ(t.dup, 0u);
  EXPECT_EQ(t.burst_lost, 0u);
}

TEST(ImpairDecider, RandomLossIsNearItsRateAndIndependent) {
  // 5% of 1e6 frames: the binomial standard deviation is 218 frames, so
  // +-2000 is over 9 sigma (and the seed is fixed: the count is exact).
  config::ImpairDirection c;
  c.loss_ppm = 5 * kPct;
  const Tally t = run(c, 11, 1'000'000);
  EXPECT_NEAR(static_cast<double>(t.lost), 50000.0, 2000.0);
  // Independent losses: a run continues with p = 0.05, mean length 1/0.95.
  const double mean_run = static_cast<double>(t.lost) / static_cast<double>(t.loss_runs);
  EXPECT_LT(mean_run, 1.1);
}

TEST(ImpairDecider, GilbertElliottLosesInBursts) {
  // p = 1%, r = 25%, every frame lost in the bad state, none in the good:
  // stationary loss p / (p + r) = 3.85%, mean burst 1 / r = 4 frames
  // (the model's two-state Markov chain).
  config::ImpairDirection c;
  c.burst_enter_ppm = 1 * kPct;
  c.burst_exit_ppm = 25 * kPct;
  const Tally t = run(c, 5, 1'000'000);
  EXPECT_NEAR(static_cast<double>(t.lost) / 1e6, 0.01 / 0.26, 0.004);
  EXPECT_EQ(t.burst_lost, t.lost);  // all in the bad state
  const double mean_run = static_cast<double>(t.lost) / static_cast<double>(t.loss_runs);
  EXPECT_NEAR(mean_run, 4.0, 0.3);
}

TEST(ImpairDecider, GilbertElliottBadStateLossRateApplies) {
  config::ImpairDirection c;
  c.burst_enter_ppm = 2 * kPct;
  c.burst_exit_ppm = 10 * kPct;
  c.burst_loss_ppm = 50 * kPct;  // half the frames of a burst get through
  const Tally t = run(c, 6, 1'000'000);
  // In the bad state 1/6 of the time, half lost there: 8.3%.
  EXPECT_NEAR(static_cast<double>(t.lost) / 1e6, (0.02 / 0.12) * 0.5, 0.006);
}

TEST(ImpairDecider, DuplicationAndCorruptionAtTheirRates) {
  config::ImpairDirection c;
  c.duplicate_ppm = 1 * kPct;
  c.corrupt_ppm = 2 * kPct;
  const Tally t = run(c, 12, 1'000'000);
  EXPECT_NEAR(static_cast<double>(t.dup), 10000.0, 600.0);
  EXPECT_NEAR(static_cast<double>(t.corrupt), 20000.0, 900.0);
  EXPECT_EQ(t.lost, 0u);
}

TEST(ImpairDecider, CorruptionChangesOneByteOfTheIpPacket) {
  config::ImpairDirection c;
  c.corrupt_ppm = 100 * kPct;
  ImpairDecider d(c, 13);
  std::set<std::uint32_t> offsets;
  for (int i = 0; i < 20000; ++i) {
    const ImpairVerdict v = d.decide(74);  // a bare TCP segment with options
    ASSERT_TRUE(v.corrupt);
    ASSERT_GE(v.corrupt_offset, ImpairDecider::kCorruptFrom);  // never the Ethernet header
    ASSERT_LT(v.corrupt_offset, 74u);                          // never past the frame
    ASSERT_NE(v.corrupt_xor, 0);                               // the byte always changes
    offsets.insert(v.corrupt_offset);
  }
  EXPECT_EQ(offsets.size(), 74u - 14u);  // every byte of the packet can be hit
  // A frame with no IP packet is never corrupted.
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(d.decide(14).corrupt);
}

TEST(ImpairDecider, DelayStaysWithinJitterAndReorderAddsItsHold) {
  config::ImpairDirection c;
  c.delay_us = 50000;
  c.jitter_us = 10000;
  c.reorder_ppm = 25 * kPct;
  c.reorder_us = 3000;
  ImpairDecider d(c, 21);
  tcp::TimeUs lo = ~0ull, hi = 0;
  int reordered = 0;
  for (int i = 0; i < 100000; ++i) {
    const ImpairVerdict v = d.decide(1514);
    const tcp::TimeUs base = v.reorder ? v.hold_us - 3000 : v.hold_us;
    ASSERT_GE(base, 40000u);
    ASSERT_LE(base, 60000u);
    ASSERT_GE(v.dup_hold_us, 40000u);
    ASSERT_LE(v.dup_hold_us, 60000u);
    lo = std::min(lo, base);
    hi = std::max(hi, base);
    reordered += v.reorder;
  }
  EXPECT_LT(lo, 40100u);  // the whole range is used
  EXPECT_GT(hi, 59900u);
  EXPECT_NEAR(reordered, 25000, 1000);
}

TEST(ImpairDecider, NoJitterMeansAFixedDelay) {
  config::ImpairDirection c;
  c.delay_us = 1234;
  ImpairDecider d(c, 2);
  for (int i = 0; i < 1000; ++i) {
    const ImpairVerdict v = d.decide(100);
    ASSERT_EQ(v.hold_us, 1234u);
    ASSERT_EQ(v.dup_hold_us, 1234u);
  }
}

TEST(ImpairSeeds, EveryCoreAndDirectionHasItsOwnStream) {
  std::set<std::uint64_t> seeds;
  for (unsigned core = 0; core < 64; ++core) {
    seeds.insert(impair_stream_seed(1, core, false));
    seeds.insert(impair_stream_seed(1, core, true));
  }
  EXPECT_EQ(seeds.size(), 128u);
  EXPECT_EQ(impair_stream_seed(1, 3, true), impair_stream_seed(1, 3, true));
  EXPECT_NE(impair_stream_seed(1, 3, true), impair_stream_seed(2, 3, true));
}

TEST(ImpairActions, LabelsAreUnique) {
  std::set<std::string> labels;
  for (int a = 0; a < kNumImpairActions; ++a) {
    labels.insert(std::string(to_string(static_cast<ImpairAction>(a))));
  }
  EXPECT_EQ(labels.size(), static_cast<std::size_t>(kNumImpairActions));
  EXPECT_EQ(labels.count("?"), 0u);
}

TEST(DelayQueue, ReleasesByDueTimeThenArrival) {
  DelayQueue<int> q(8);
  ASSERT_TRUE(q.push(1, 300));
  ASSERT_TRUE(q.push(2, 100));
  ASSERT_TRUE(q.push(3, 200));
  ASSERT_TRUE(q.push(4, 100));  // same due as 2: after it
  int out[8];
  EXPECT_EQ(q.pop_due(99, out, 8), 0u);  // nothing early
  ASSERT_EQ(q.pop_due(100, out, 8), 2u);
  EXPECT_EQ(out[0], 2);
  EXPECT_EQ(out[1], 4);
  ASSERT_EQ(q.pop_due(1000, out, 1), 1u);  // at most max
  EXPECT_EQ(out[0], 3);
  ASSERT_EQ(q.pop_due(1000, out, 8), 1u);
  EXPECT_EQ(out[0], 1);
  EXPECT_TRUE(q.empty());
}

TEST(DelayQueue, BoundedAndDrainsEverything) {
  DelayQueue<int> q(16);
  for (int i = 0; i < 16; ++i) ASSERT_TRUE(q.push(i, 1000 - i));
  EXPECT_TRUE(q.full());
  EXPECT_FALSE(q.push(99, 0));  // full: refused, nothing stored
  EXPECT_EQ(q.size(), 16u);
  std::vector<int> drained;
  q.drain([&](int v) { drained.push_back(v); });
  EXPECT_EQ(drained.size(), 16u);
  EXPECT_TRUE(q.empty());
  EXPECT_TRUE(q.push(5, 1));
}

TEST(DelayQueue, FifoUnderAFixedDelay) {
  // Delay without jitter keeps order: frames leave as they came.
  DelayQueue<int> q(1024);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(q.push(i, 50 + static_cast<tcp::TimeUs>(i / 10)));
  int out[32];
  int expect = 0;
  for (tcp::TimeUs now = 0; now < 200; ++now) {
    std::size_t n;
    while ((n = q.pop_due(now, out, 32)) != 0) {
      for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], expect++);
    }
  }
  EXPECT_EQ(expect, 1000);
}

}  // namespace
}  // namespace shardtcp::dataplane
