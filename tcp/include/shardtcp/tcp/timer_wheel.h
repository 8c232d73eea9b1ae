// Hierarchical timing wheel (Varghese & Lauck), one per core.
// O(1) arm and cancel; a connection owns one TimerNode armed at its earliest
// deadline. Timers never fire early: an entry fires at the first advance()
// whose `now` >= its deadline (rounded up to a tick). advance() skips empty
// spans of ticks in O(1) (idle connections cost nothing per tick).
// Implementation owned by tcp/src/timer_wheel.cc.
//
// Exact firing rule (what the reference-model test checks):
//   T(D) = ceil(D / tick) is the deadline rounded UP to a tick boundary.
//   A node fires during the first advance(now) with floor(now / tick) >= T(D).
//   Ticks are processed in increasing order inside one advance(), so a node
//   armed from a fire callback for a later tick <= floor(now / tick) still
//   fires in the same advance(). A node armed with T(D) <= the tick being
//   processed (a deadline "in the past") goes to a pending list and fires at
//   the start of the NEXT advance() call: a callback that re-arms itself in the
//   past cannot loop forever.
//
// Layout: 4 levels x 256 slots. Level L slot s holds nodes whose tick T has
// (T >> 8L) & 255 == s and 256^L <= T - now < 256^(L+1); when the clock
// reaches the start of that slot's span, the slot is cascaded into lower
// levels (Linux's pre-4.8 timer.c scheme, which never fires early). Deadlines
// more than 2^32 ticks away sit on an overflow list that is re-examined when
// the top level wraps. One bit per slot (occupancy bitmap) lets advance() jump
// straight to the next tick where something happens, so a long idle gap costs
// a few bitmap scans, not one loop iteration per tick.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shardtcp/tcp/types.h"

namespace shardtcp::tcp {

// Intrusive node; embed it in the object that owns the timer.
struct TimerNode {
  TimerNode* prev = nullptr;
  TimerNode* next = nullptr;
  TimeUs deadline = kNever;
  bool armed() const { return prev != nullptr; }
};

class TimerWheel {
 public:
  // tick: resolution (deadlines are rounded *up* to a tick boundary).
  explicit TimerWheel(TimeUs start, TimeUs tick = 1000);
  // Does not touch nodes still armed (their owners may already be freed);
  // after destruction, never call cancel()/arm() on nodes of this wheel.
  ~TimerWheel();
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // Arms (or re-arms) `n` to fire at `deadline`. A deadline in the past fires
  // on the next advance().
  void arm(TimerNode& n, TimeUs deadline);
  // No-op when `n` is not armed.
  void cancel(TimerNode& n) {
    if (!n.armed()) return;
    unlink(n);
    --size_;
  }

  // Moves time to `now` and calls fire(TimerNode&) for every node whose
  // deadline <= now, each exactly once, already disarmed (fire may re-arm it
  // or arm/cancel other nodes). Returns the number fired.
  template <class F>
  std::size_t advance(TimeUs now, F&& fire);

  std::size_t size() const { return size_; }
  // Earliest tick at which something may fire (kNever if empty); a lower
  // bound a loop can use to skip work.
  TimeUs next_expiry_hint() const;

  TimeUs tick() const { return tick_; }
  // The wheel's clock: start of the tick processed last (inside a fire
  // callback: the tick being processed).
  TimeUs now() const { return cur_ * tick_; }

 private:
  static constexpr unsigned kLevels = 4;
  static constexpr unsigned kSlotBits = 8;
  static constexpr unsigned kSlots = 1u << kSlotBits;
  static constexpr unsigned kWords = kSlots / 64;
  static constexpr std::uint64_t kNoEvent = ~std::uint64_t{0};

  // Circular doubly linked lists with a sentinel head: an armed node's prev is
  // never null, and cancel needs no knowledge of which list holds the node.
  static void list_init(TimerNode& h) { h.prev = h.next = &h; }
  static bool list_empty(const TimerNode& h) { return h.next == &h; }
  static void link_tail(TimerNode& h, TimerNode& n) {
    n.prev = h.prev;
    n.next = &h;
    h.prev->next = &n;
    h.prev = &n;
  }
  static void unlink(TimerNode& n) {
    n.prev->next = n.next;
    n.next->prev = n.prev;
    n.prev = n.next = nullptr;
  }
  // Moves every node of `from` onto the empty list `to`.
  static void splice_all(TimerNode& from, TimerNode& to);

  std::uint64_t ticks_ceil(TimeUs t) const { return t / tick_ + (t % tick_ != 0 ? 1 : 0); }
  // Puts `n` (tick t >= cur_) into the level/slot for t - cur_.
  void place(TimerNode& n, std::uint64_t t);
  // Next tick > cur_ at which a slot must be run or cascaded (kNoEvent if none).
  std::uint64_t next_event_tick() const;
  // Cascades every level whose span starts at cur_, then detaches level 0's
  // slot for cur_ into `out` (an empty sentinel list).
  void take_due(TimerNode& out);

  // Fires every node on `head`, one at a time: the callback may cancel or
  // re-arm any node still on the list (it is a real list, so unlink works).
  template <class F>
  std::size_t run_list(TimerNode& head, F& fire) {
    std::size_t n = 0;
    while (!list_empty(head)) {
      TimerNode* t = head.next;
      unlink(*t);
      --size_;
      ++n;
      fire(*t);
    }
    return n;
  }

  TimeUs tick_;
  std::uint64_t cur_;  // last tick processed (everything with T <= cur_ has fired or is pending)
  std::size_t size_ = 0;
  TimerNode pending_;                      // T <= cur_ at arm time: fires on next advance()
  TimerNode overflow_;                     // T - cur_ >= 2^32 at arm time
  std::uint64_t overflow_min_ = kNoEvent;  // lower bound of ticks on overflow_
  // Bit s of occupied_[L] is set when slot s of level L may be non-empty.
  // Cleared lazily (cancel never touches it); a stale bit costs one empty
  // visit, after which it is cleared.
  std::uint64_t occupied_[kLevels][kWords] = {};
  TimerNode slots_[kLevels][kSlots];
};

template <class F>
std::size_t TimerWheel::advance(TimeUs now, F&& fire) {
  std::size_t fired = 0;
  const std::uint64_t target = now / tick_;
  // Deadlines that were already due when armed. Detach first: nodes re-armed
  // in the past by these callbacks wait for the next advance().
  if (!list_empty(pending_)) {
    TimerNode due;
    list_init(due);
    splice_all(pending_, due);
    fired += run_list(due, fire);
  }
  // Fast path for a poll loop that calls in more often than once per tick.
  if (target <= cur_) return fired;
  // Jump from event to event; empty spans between them cost nothing.
  for (;;) {
    const std::uint64_t e = next_event_tick();
    if (e == kNoEvent || e > target) break;
    cur_ = e;
    TimerNode due;
    list_init(due);
    take_due(due);
    fired += run_list(due, fire);
  }
  if (target > cur_) cur_ = target;
  return fired;
}

}  // namespace shardtcp::tcp
