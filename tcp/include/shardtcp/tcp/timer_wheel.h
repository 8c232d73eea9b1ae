// Hierarchical timing wheel (Varghese & Lauck), one per core.
// O(1) arm and cancel; a connection owns one TimerNode armed at its earliest
// deadline. Timers never fire early: an entry fires at the first advance()
// whose `now` >= its deadline. advance() costs O(1) per elapsed tick when
// nothing expires (idle connections cost nothing). Implementation owned by
// tcp/src/timer_wheel.cc.
#pragma once

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
  ~TimerWheel();
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // Arms (or re-arms) `n` to fire at `deadline`. A deadline in the past fires
  // on the next advance().
  void arm(TimerNode& n, TimeUs deadline);
  void cancel(TimerNode& n);

  // Moves time to `now` and calls fire(TimerNode&) for every node whose
  // deadline <= now, each exactly once, already disarmed (fire may re-arm it
  // or arm/cancel other nodes). Returns the number fired.
  template <class F>
  std::size_t advance(TimeUs now, F&& fire);

  std::size_t size() const { return size_; }
  // Earliest tick at which something may fire (kNever if empty); a lower
  // bound a loop can use to skip work.
  TimeUs next_expiry_hint() const;

 private:
  // (private members: defined by the implementation)
};

}  // namespace shardtcp::tcp
