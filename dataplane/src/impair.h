// The impairment stage (issue 15): seeded, reproducible faults applied to
// frames between the PMD and the core, one direction at a time. DPDK-free so
// the decisions are unit tested without an EAL; core_impair.cc applies them
// to mbufs.
//
// Per frame the decider draws a fixed number of random values whatever the
// settings, so the Nth frame's fate depends only on the seed, N and the
// settings (not on the lengths or times of earlier frames). Loss follows the
// Gilbert-Elliott model (Gilbert 1960, Elliott 1963; the 4-parameter form of
// Linux netem's "loss gemodel"): in the good state a frame is lost with
// loss_ppm, in the bad state with burst_loss_ppm; after each frame the state
// changes with burst_enter_ppm (good -> bad) or burst_exit_ppm (bad -> good).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "shardtcp/config/config.h"
#include "shardtcp/dataplane/counters.h"
#include "shardtcp/tcp/types.h"

namespace shardtcp::dataplane {

// SplitMix64 (Steele, Lea, Flood 2014): tiny, seedable, fast, and good
// enough for fault injection (not for anything secret).
class ImpairRng {
 public:
  explicit ImpairRng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) from the high 32 bits (multiply-shift, no division).
  static std::uint32_t below(std::uint64_t r, std::uint32_t n) {
    return static_cast<std::uint32_t>(((r >> 32) * n) >> 32);
  }
  // True with probability ppm / 1e6.
  static bool chance(std::uint64_t r, std::uint32_t ppm) { return below(r, 1'000'000) < ppm; }

 private:
  std::uint64_t state_;
};

// The seed of one core's one direction: distinct streams from one config seed.
inline std::uint64_t impair_stream_seed(std::uint64_t seed, unsigned core, bool tx) {
  ImpairRng r(seed ^ (0x5851f42d4c957f2dull * (2ull * core + (tx ? 1 : 0) + 1)));
  return r.next();
}

// The fate of one frame.
struct ImpairVerdict {
  bool lost = false;
  bool burst = false;  // lost in the bad state (else random loss)
  bool duplicate = false;
  bool corrupt = false;
  bool reorder = false;
  std::uint32_t corrupt_offset = 0;  // into the frame, >= kCorruptFrom, < frame length
  std::uint8_t corrupt_xor = 0;      // never 0: the byte always changes
  tcp::TimeUs hold_us = 0;           // the frame (0 = pass at once)
  tcp::TimeUs dup_hold_us = 0;       // the duplicate
};

class ImpairDecider {
 public:
  // Corruption hits the IP packet, never the Ethernet header: a real link's
  // FCS catches damage there; what reaches a host damaged is the packet.
  static constexpr std::uint32_t kCorruptFrom = 14;

  ImpairDecider(const config::ImpairDirection& cfg, std::uint64_t seed) : cfg_(cfg), rng_(seed) {}

  bool active() const { return cfg_.active(); }
  bool in_burst() const { return bad_; }

  ImpairVerdict decide(std::uint32_t frame_len) {
    std::array<std::uint64_t, 9> r;
    for (auto& x : r) x = rng_.next();
    ImpairVerdict v;
    const std::uint32_t loss = bad_ ? cfg_.burst_loss_ppm : cfg_.loss_ppm;
    if (ImpairRng::chance(r[0], loss)) {
      v.lost = true;
      v.burst = bad_;
    }
    // The state moves after the frame (netem gemodel order).
    if (cfg_.burst_enter_ppm != 0) {
      bad_ = bad_ ? !ImpairRng::chance(r[1], cfg_.burst_exit_ppm)
                  : ImpairRng::chance(r[1], cfg_.burst_enter_ppm);
    }
    if (v.lost) return v;
    v.duplicate = ImpairRng::chance(r[2], cfg_.duplicate_ppm);
    if (frame_len > kCorruptFrom && ImpairRng::chance(r[3], cfg_.corrupt_ppm)) {
      v.corrupt = true;
      v.corrupt_offset = kCorruptFrom + ImpairRng::below(r[4], frame_len - kCorruptFrom);
      v.corrupt_xor = static_cast<std::uint8_t>(1 + ImpairRng::below(r[5], 255));
    }
    v.hold_us = delay(r[6]);
    v.dup_hold_us = delay(r[7]);
    if (ImpairRng::chance(r[8], cfg_.reorder_ppm)) {
      v.reorder = true;
      v.hold_us += cfg_.reorder_us;
    }
    return v;
  }

 private:
  // delay +- jitter, uniform; validation keeps jitter <= delay.
  tcp::TimeUs delay(std::uint64_t r) const {
    if (cfg_.jitter_us == 0) return cfg_.delay_us;
    const std::uint32_t span = 2 * cfg_.jitter_us + 1;  // both <= 1e7: no overflow
    return tcp::TimeUs{cfg_.delay_us} - cfg_.jitter_us + ImpairRng::below(r, span);
  }

  config::ImpairDirection cfg_;
  ImpairRng rng_;
  bool bad_ = false;
};

// Frames held until a due time: a binary min-heap over a buffer sized once at
// start-up (no allocation afterwards). Equal due times leave in arrival order.
template <class T>
class DelayQueue {
 public:
  explicit DelayQueue(std::size_t capacity) : cap_(capacity) { heap_.reserve(capacity); }

  std::size_t size() const { return heap_.size(); }
  bool empty() const { return heap_.empty(); }
  bool full() const { return heap_.size() >= cap_; }

  // False (and nothing stored) when full.
  bool push(T item, tcp::TimeUs due) {
    if (full()) return false;
    heap_.push_back(Slot{due, seq_++, item});
    std::push_heap(heap_.begin(), heap_.end(), later);
    return true;
  }

  // Moves up to max items due at `now` into out, earliest first.
  std::size_t pop_due(tcp::TimeUs now, T* out, std::size_t max) {
    std::size_t n = 0;
    while (n < max && !heap_.empty() && heap_.front().due <= now) {
      std::pop_heap(heap_.begin(), heap_.end(), later);
      out[n++] = heap_.back().item;
      heap_.pop_back();
    }
    return n;
  }

  // Every item, due or not (shutdown).
  template <class F>
  void drain(F&& f) {
    for (auto& s : heap_) f(s.item);
    heap_.clear();
  }

 private:
  struct Slot {
    tcp::TimeUs due;
    std::uint64_t seq;
    T item;
  };
  static bool later(const Slot& a, const Slot& b) {
    return a.due != b.due ? a.due > b.due : a.seq > b.seq;
  }
  std::size_t cap_;
  std::vector<Slot> heap_;  // never grows past cap_: reserved up front
  std::uint64_t seq_ = 0;
};

}  // namespace shardtcp::dataplane
