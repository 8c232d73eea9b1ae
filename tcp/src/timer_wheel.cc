// Hierarchical timing wheel; see timer_wheel.h for the firing rule and layout.
#include "shardtcp/tcp/timer_wheel.h"

#include <bit>

namespace shardtcp::tcp {

namespace {

constexpr std::uint64_t kOverflowSpan = std::uint64_t{1} << 32;  // 4 levels x 8 bits

// Smallest distance d in [1, 256] such that bit (p + d) mod 256 of the 256-bit
// map `bm` is set; 0 when the map is empty. Slot p itself is distance 256: it
// was processed when the clock entered it, so what it holds now belongs to the
// next rotation.
unsigned next_bit_after(const std::uint64_t* bm, unsigned p) {
  const unsigned start = (p + 1) & 255u;
  unsigned w = start >> 6;
  std::uint64_t word = bm[w] & (~std::uint64_t{0} << (start & 63u));
  // Five reads: the start word's upper part, three others, then the start
  // word again (its upper part is known to be zero by then).
  for (unsigned i = 0; i <= 4; ++i) {
    if (word != 0) {
      const unsigned pos = w * 64 + static_cast<unsigned>(std::countr_zero(word));
      const unsigned d = (pos - p) & 255u;
      return d == 0 ? 256u : d;
    }
    w = (w + 1) & 3u;
    word = bm[w];
  }
  return 0;
}

}  // namespace

TimerWheel::TimerWheel(TimeUs start, TimeUs tick) : tick_(tick == 0 ? 1 : tick), cur_(0) {
  cur_ = start / tick_;
  list_init(pending_);
  list_init(overflow_);
  for (auto& level : slots_) {
    for (auto& s : level) list_init(s);
  }
}

// Nodes still armed are NOT touched: their owners (e.g. TCBs in a pool) are
// commonly freed before the wheel at shutdown, and walking the lists would
// read freed memory. Owners that outlive the wheel must not cancel() after it.
TimerWheel::~TimerWheel() = default;

void TimerWheel::splice_all(TimerNode& from, TimerNode& to) {
  if (list_empty(from)) return;
  to.next = from.next;
  to.prev = from.prev;
  to.next->prev = &to;
  to.prev->next = &to;
  list_init(from);
}

void TimerWheel::arm(TimerNode& n, TimeUs deadline) {
  if (n.armed()) {
    unlink(n);
  } else {
    ++size_;
  }
  n.deadline = deadline;
  const std::uint64_t t = ticks_ceil(deadline);
  if (t <= cur_) {
    // Already due: the next advance() fires it (never in the advance() that
    // is running now, so a callback re-arming itself in the past terminates).
    link_tail(pending_, n);
    return;
  }
  place(n, t);
}

void TimerWheel::place(TimerNode& n, std::uint64_t t) {
  const std::uint64_t diff = t - cur_;  // callers guarantee t >= cur_
  if (diff >= kOverflowSpan) {
    link_tail(overflow_, n);
    if (t < overflow_min_) overflow_min_ = t;
    return;
  }
  // Level = index of the highest non-zero byte of diff (0 for diff < 256).
  const unsigned level =
      diff == 0 ? 0 : static_cast<unsigned>(std::bit_width(diff) - 1) / kSlotBits;
  const unsigned slot = static_cast<unsigned>(t >> (level * kSlotBits)) & (kSlots - 1);
  link_tail(slots_[level][slot], n);
  occupied_[level][slot >> 6] |= std::uint64_t{1} << (slot & 63);
}

std::uint64_t TimerWheel::next_event_tick() const {
  std::uint64_t best = kNoEvent;
  for (unsigned level = 0; level < kLevels; ++level) {
    const unsigned shift = level * kSlotBits;
    const std::uint64_t block = cur_ >> shift;
    const unsigned d =
        next_bit_after(occupied_[level], static_cast<unsigned>(block) & (kSlots - 1));
    if (d == 0) continue;
    // Level 0 runs slot t at tick t; a higher level cascades slot s at the
    // first tick of its span.
    const std::uint64_t ev = (block + d) << shift;
    if (ev < best) best = ev;
  }
  if (!list_empty(overflow_)) {
    // The overflow list is re-examined at a multiple of 2^32 ticks (a top
    // level wrap) once its earliest node is within 2^32 ticks of it. Jumping
    // straight there keeps a far-future node from costing one stop per wrap.
    // (overflow_min_ is exact or lower while the list is non-empty; it may
    // legitimately equal kNoEvent for a node armed at kNever.)
    std::uint64_t lo = cur_ + 1;
    if (overflow_min_ - (kOverflowSpan - 1) > lo) {
      lo = overflow_min_ - (kOverflowSpan - 1);
    }
    if (lo <= kNoEvent - (kOverflowSpan - 1)) {
      const std::uint64_t m = (lo + kOverflowSpan - 1) & ~(kOverflowSpan - 1);
      if (m < best) best = m;
    }
  }
  return best;
}

void TimerWheel::take_due(TimerNode& out) {
  TimerNode tmp;
  list_init(tmp);
  auto replace_all = [&](TimerNode& from) {
    splice_all(from, tmp);
    while (!list_empty(tmp)) {
      TimerNode* n = tmp.next;
      unlink(*n);
      // Never early: every node here has tick >= cur_ (it was filed under a
      // span that starts at cur_ or later); tick == cur_ lands in level 0's
      // slot for cur_, which runs right after the cascades.
      place(*n, ticks_ceil(n->deadline));
    }
  };
  if ((cur_ & (kOverflowSpan - 1)) == 0 && !list_empty(overflow_)) {
    overflow_min_ = kNoEvent;  // recomputed by place() for what stays
    replace_all(overflow_);
  }
  // Top-down: a higher level never cascades into a lower level's slot for
  // cur_ other than level 0's (that slot's nodes would be >= 256^L ticks away).
  for (unsigned level = kLevels - 1; level >= 1; --level) {
    const unsigned shift = level * kSlotBits;
    if ((cur_ & ((std::uint64_t{1} << shift) - 1)) != 0) continue;
    const unsigned slot = static_cast<unsigned>(cur_ >> shift) & (kSlots - 1);
    occupied_[level][slot >> 6] &= ~(std::uint64_t{1} << (slot & 63));
    replace_all(slots_[level][slot]);
  }
  const unsigned slot0 = static_cast<unsigned>(cur_) & (kSlots - 1);
  occupied_[0][slot0 >> 6] &= ~(std::uint64_t{1} << (slot0 & 63));
  splice_all(slots_[0][slot0], out);
}

TimeUs TimerWheel::next_expiry_hint() const {
  if (size_ == 0) return kNever;
  if (!list_empty(pending_)) return now();
  const std::uint64_t e = next_event_tick();
  if (e == kNoEvent || e > kNever / tick_) return kNever;
  return e * tick_;
}

}  // namespace shardtcp::tcp
