// Latency histogram of shardtcp-loadgen: log-linear buckets in the
// HdrHistogram layout with 3 significant decimal digits (2048 linear
// sub-buckets per power of two, so every recorded value is known to within
// 1/1024 of itself), unit 1 microsecond, values clamped to 2^32 us (~71 min).
//
// Each core records into its own histograms (owner-only relaxed stores, as
// tcp::Counter: no locked read-modify-write, no allocation after
// construction); the reporter thread reads them with relaxed loads for the
// live line, and main() merges the cores' histograms after the loops stopped.
//
// Why not Boost.Histogram: its stock axes are linear or one transform (log)
// over the whole range, which cannot express HdrHistogram's "linear inside
// each power of two" layout without a hand-written custom axis, and its
// generic fill path (axis index computation through variant/tuple machinery,
// storage growth) is more than the hot path needs; the layout below is one
// count-leading-zeros and a shift per value.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "shardtcp/tcp/counters.h"

namespace shardtcp::app {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 11;  // 2048 sub-buckets: 3 significant digits
  static constexpr std::uint64_t kSubCount = std::uint64_t{1} << kSubBits;
  static constexpr std::uint64_t kHalf = kSubCount / 2;
  static constexpr int kMaxBits = 32;  // largest value: 2^32 - 1 us
  static constexpr std::uint64_t kMaxValue = (std::uint64_t{1} << kMaxBits) - 1;
  static constexpr std::size_t kSize = kSubCount + (kMaxBits - kSubBits) * kHalf;

  LatencyHistogram() : counts_(std::make_unique<tcp::Counter[]>(kSize)) {}

  static std::size_t index_of(std::uint64_t v) {
    v = std::min(v, kMaxValue);
    if (v < kSubCount) return static_cast<std::size_t>(v);
    // Bucket b >= 1 covers [2^(b+10), 2^(b+11)) in steps of 2^b.
    const int b = (63 - std::countl_zero(v)) - (kSubBits - 1);
    return static_cast<std::size_t>(kSubCount + (b - 1) * kHalf + ((v >> b) - kHalf));
  }
  // Largest value that lands in bucket i (what percentiles report, as
  // HdrHistogram's highestEquivalentValue: never under-states a latency).
  static std::uint64_t highest_of(std::size_t i) {
    if (i < kSubCount) return i;
    const std::uint64_t b = (i - kSubCount) / kHalf + 1;
    const std::uint64_t sub = (i - kSubCount) % kHalf + kHalf;
    return ((sub + 1) << b) - 1;
  }

  // Owner core only.
  void record(std::uint64_t v) {
    counts_[index_of(v)].inc();
    total_.inc();
    if (v > max_.get()) max_.set(v);
  }

  std::uint64_t count() const { return total_.get(); }
  std::uint64_t max() const { return max_.get(); }
  std::uint64_t at(std::size_t i) const { return counts_[i].get(); }

 private:
  std::unique_ptr<tcp::Counter[]> counts_;
  tcp::Counter total_, max_;
};

// A plain (single-threaded) copy: merged totals or a per-second difference.
struct HistogramSnapshot {
  std::vector<std::uint64_t> counts = std::vector<std::uint64_t>(LatencyHistogram::kSize, 0);
  std::uint64_t total = 0, max = 0;

  void add(const LatencyHistogram& h) {
    for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += h.at(i);
    total += h.count();
    max = std::max(max, h.max());
  }
  void add(const HistogramSnapshot& h) {
    for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += h.counts[i];
    total += h.total;
    max = std::max(max, h.max);
  }
  // this - older (counts only; max is not known per interval).
  HistogramSnapshot minus(const HistogramSnapshot& older) const {
    HistogramSnapshot d;
    for (std::size_t i = 0; i < counts.size(); ++i) d.counts[i] = counts[i] - older.counts[i];
    d.total = total - older.total;
    d.max = max;
    return d;
  }
  // Value at percentile p (0 < p <= 100): the smallest bucket whose
  // cumulative count reaches ceil(p% of total), reported as its highest
  // value but never above the recorded maximum. 0 when empty.
  std::uint64_t percentile(double p) const {
    if (total == 0) return 0;
    auto want = static_cast<std::uint64_t>(p / 100.0 * static_cast<double>(total) + 0.999999);
    want = std::clamp<std::uint64_t>(want, 1, total);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
      seen += counts[i];
      if (seen >= want)
        return max != 0 ? std::min(LatencyHistogram::highest_of(i), max)
                        : LatencyHistogram::highest_of(i);
    }
    return max;
  }
};

}  // namespace shardtcp::app
