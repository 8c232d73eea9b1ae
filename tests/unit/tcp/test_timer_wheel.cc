// Timer wheel: exact firing rule (timer_wheel.h) checked by hand-written cases
// and against a reference model (std::multimap) with randomized schedules.
#include "shardtcp/tcp/timer_wheel.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <vector>

namespace shardtcp::tcp {
namespace {

struct Item {
  TimerNode node;
  int id = 0;
  int fired = 0;
};

Item* item_of(TimerNode& n) { return reinterpret_cast<Item*>(&n); }  // node is the first member

TEST(TimerWheel, FiresAtDeadlineRoundedUpNeverEarly) {
  TimerWheel w(0, 1000);
  Item a;
  w.arm(a.node, 1500);  // rounds up to 2000
  EXPECT_TRUE(a.node.armed());
  EXPECT_EQ(w.size(), 1u);
  auto fire = [](TimerNode& n) { item_of(n)->fired++; };
  EXPECT_EQ(w.advance(1000, fire), 0u);
  EXPECT_EQ(w.advance(1999, fire), 0u);
  EXPECT_EQ(a.fired, 0);
  EXPECT_EQ(w.advance(2000, fire), 1u);
  EXPECT_EQ(a.fired, 1);
  EXPECT_FALSE(a.node.armed());
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.advance(100000, fire), 0u);
  EXPECT_EQ(a.fired, 1);
}

TEST(TimerWheel, ExactTickDeadlineAndPastDeadline) {
  TimerWheel w(5000, 1000);
  Item a, b;
  w.arm(a.node, 7000);
  w.arm(b.node, 10);  // in the past: fires on the next advance, even at the same time
  auto fire = [](TimerNode& n) { item_of(n)->fired++; };
  EXPECT_EQ(w.next_expiry_hint(), 5000u);
  EXPECT_EQ(w.advance(5000, fire), 1u);
  EXPECT_EQ(b.fired, 1);
  EXPECT_EQ(w.advance(6999, fire), 0u);
  EXPECT_LE(w.next_expiry_hint(), 7000u);
  EXPECT_EQ(w.advance(7000, fire), 1u);
  EXPECT_EQ(a.fired, 1);
  EXPECT_EQ(w.next_expiry_hint(), kNever);
}

TEST(TimerWheel, CancelAndRearm) {
  TimerWheel w(0, 1);
  Item a, b;
  auto fire = [](TimerNode& n) { item_of(n)->fired++; };
  w.arm(a.node, 300);
  w.arm(b.node, 70000);
  w.cancel(a.node);
  w.cancel(a.node);  // no-op when not armed
  EXPECT_FALSE(a.node.armed());
  EXPECT_EQ(w.size(), 1u);
  w.arm(b.node, 50);  // re-arm earlier: moves, does not duplicate
  EXPECT_EQ(w.size(), 1u);
  EXPECT_EQ(w.advance(49, fire), 0u);
  EXPECT_EQ(w.advance(50, fire), 1u);
  EXPECT_EQ(w.advance(1000000, fire), 0u);
  EXPECT_EQ(a.fired, 0);
  EXPECT_EQ(b.fired, 1);
}

TEST(TimerWheel, SelfRearmInThePastFiresOncePerAdvance) {
  TimerWheel w(0, 1000);
  Item a;
  w.arm(a.node, 1000);
  auto fire = [&](TimerNode& n) {
    item_of(n)->fired++;
    w.arm(n, 0);  // in the past: must wait for the next advance()
  };
  EXPECT_EQ(w.advance(1000, fire), 1u);
  EXPECT_EQ(w.advance(1000, fire), 1u);
  EXPECT_EQ(w.advance(900000, fire), 1u);
  EXPECT_EQ(a.fired, 3);
  EXPECT_TRUE(a.node.armed());
}

TEST(TimerWheel, CallbackMayCancelAnotherDueNode) {
  TimerWheel w(0, 1);
  Item a, b;
  w.arm(a.node, 10);
  w.arm(b.node, 10);
  Item* other[2] = {&b, &a};
  auto fire = [&](TimerNode& n) {
    Item* it = item_of(n);
    it->fired++;
    w.cancel(other[it == &a ? 0 : 1]->node);
  };
  EXPECT_EQ(w.advance(10, fire), 1u);
  EXPECT_EQ(a.fired + b.fired, 1);
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, CallbackArmsLaterTickWithinSameAdvance) {
  TimerWheel w(0, 1);
  Item a;
  std::vector<TimeUs> at;
  w.arm(a.node, 5);
  auto fire = [&](TimerNode& n) {
    at.push_back(w.now());
    if (at.size() < 4) w.arm(n, w.now() + 100000);  // crosses level boundaries
  };
  EXPECT_EQ(w.advance(1000000, fire), 4u);
  EXPECT_EQ(at, (std::vector<TimeUs>{5, 100005, 200005, 300005}));
}

TEST(TimerWheel, HugeDeadlinesAndBigJumps) {
  // tick 1 us: 2^32 ticks is only ~71 minutes, so these go to the overflow list.
  TimerWheel w(0, 1);
  Item far, never, mid;
  const TimeUs kFar = (TimeUs{1} << 45) + 12345;
  w.arm(far.node, kFar);
  w.arm(never.node, kNever);
  w.arm(mid.node, (TimeUs{1} << 33) + 7);
  auto fire = [](TimerNode& n) { item_of(n)->fired++; };
  // A per-tick loop would take days here; the bitmap/overflow jump is instant.
  EXPECT_EQ(w.advance((TimeUs{1} << 33) + 6, fire), 0u);
  EXPECT_EQ(w.advance((TimeUs{1} << 33) + 7, fire), 1u);
  EXPECT_EQ(mid.fired, 1);
  EXPECT_EQ(w.advance(kFar - 1, fire), 0u);
  EXPECT_EQ(far.fired, 0);
  EXPECT_EQ(w.advance(kFar, fire), 1u);
  EXPECT_EQ(far.fired, 1);
  EXPECT_EQ(w.advance(TimeUs{1} << 60, fire), 0u);
  EXPECT_EQ(never.fired, 0);
  EXPECT_TRUE(never.node.armed());
  EXPECT_EQ(w.size(), 1u);
}

TEST(TimerWheel, DestructionAfterOwnersAreGone) {
  // The engine frees its TCBs (and their nodes) before the wheel; the wheel's
  // destructor must not walk them (ASan builds catch a regression here).
  auto w = std::make_unique<TimerWheel>(0, 1000);
  auto a = std::make_unique<Item>();
  w->arm(a->node, 5000);
  a.reset();
  w.reset();
  SUCCEED();
}

// ---------------------------------------------------------------------------
// Reference model: what must have fired, checked at every fire callback.
class Model {
 public:
  Model(TimerWheel& w, std::size_t n) : w_(w), st_(n) {}

  std::uint64_t ticks_ceil(TimeUs d) const { return d / w_.tick() + (d % w_.tick() != 0 ? 1 : 0); }
  std::uint64_t cur() const { return w_.now() / w_.tick(); }

  void arm(int id, TimeUs d) {
    drop(id);
    St& s = st_[id];
    s.armed = true;
    const std::uint64_t t = ticks_ceil(d);
    if (t <= cur()) {
      s.pending_call = calls_ + 1;  // the next advance() call
      ++pending_;
    } else {
      s.it = by_tick_.emplace(t, id);
      s.in_map = true;
    }
  }
  void cancel(int id) { drop(id); }

  // Called from the wheel's fire callback during call number calls_.
  void on_fire(int id, std::uint64_t target) {
    St& s = st_[id];
    ASSERT_TRUE(s.armed) << "fired a node that is not armed, id " << id;
    const std::uint64_t p = cur();
    ASSERT_LE(p, target) << "processing a tick beyond now";
    if (s.in_map) {
      ASSERT_LE(s.it->first, p) << "fired early, id " << id;
      ASSERT_GE(by_tick_.begin()->first, p) << "some node is late";
      ASSERT_EQ(due_pending(), 0u) << "pending nodes not drained first";
    } else {
      ASSERT_LE(s.pending_call, calls_) << "past-deadline node fired in the arming advance()";
    }
    drop(id);
  }

  void begin_call() { ++calls_; }
  void end_call(std::uint64_t target) {
    if (!by_tick_.empty()) {
      ASSERT_GT(by_tick_.begin()->first, target) << "node missed (late)";
    }
    ASSERT_EQ(due_pending(), 0u) << "pending node missed";
  }
  std::size_t size() const { return by_tick_.size() + pending_; }
  // Earliest time anything may fire, for checking next_expiry_hint().
  TimeUs earliest() const {
    if (pending_ != 0) return w_.now();
    if (by_tick_.empty()) return kNever;
    return by_tick_.begin()->first * w_.tick();
  }

 private:
  struct St {
    bool armed = false;
    bool in_map = false;
    std::uint64_t pending_call = 0;
    std::multimap<std::uint64_t, int>::iterator it;
  };
  void drop(int id) {
    St& s = st_[id];
    if (!s.armed) return;
    if (s.in_map) {
      by_tick_.erase(s.it);
    } else {
      --pending_;
    }
    s = St{};
  }
  std::size_t due_pending() const {
    std::size_t n = 0;
    if (pending_ == 0) return 0;
    for (const St& s : st_) n += (s.armed && !s.in_map && s.pending_call <= calls_) ? 1 : 0;
    return n;
  }

  TimerWheel& w_;
  std::vector<St> st_;
  std::multimap<std::uint64_t, int> by_tick_;
  std::size_t pending_ = 0;
  std::uint64_t calls_ = 0;
};

void run_random_schedule(std::uint32_t seed, TimeUs tick, TimeUs start, int ops) {
  SCOPED_TRACE(testing::Message() << "seed " << seed << " tick " << tick);
  std::mt19937_64 rng(seed);
  constexpr int kNodes = 512;
  std::vector<Item> items(kNodes);
  TimerWheel w(start, tick);
  Model m(w, kNodes);
  for (int i = 0; i < kNodes; ++i) items[i].id = i;
  TimeUs now = start;

  auto pick = [&] { return static_cast<int>(rng() % kNodes); };
  // Deadlines spread over every level, the overflow list, the past and kNever.
  auto deadline = [&](TimeUs base) -> TimeUs {
    const std::uint64_t r = rng() % 100;
    const TimeUs t = tick;
    if (r < 5) return base > 3 * t ? base - rng() % (3 * t) : 0;     // past / now
    if (r < 45) return base + rng() % (300 * t);                     // level 0/1
    if (r < 70) return base + rng() % (70000 * t);                   // level 1/2
    if (r < 85) return base + rng() % ((TimeUs{1} << 25) * t);       // level 2/3
    if (r < 97) return base + rng() % ((TimeUs{1} << 34) * t);       // level 3/overflow
    if (r < 99) return base + (TimeUs{1} << 40) * t + rng() % 1000;  // far overflow
    return kNever;
  };
  auto do_arm = [&](int id, TimeUs d) {
    w.arm(items[id].node, d);
    m.arm(id, d);
  };
  auto do_cancel = [&](int id) {
    w.cancel(items[id].node);
    m.cancel(id);
  };

  std::uint64_t target = 0;
  std::size_t fired_in_call = 0;
  auto fire = [&](TimerNode& n) {
    const int id = item_of(n)->id;
    ++fired_in_call;
    EXPECT_FALSE(n.armed());
    m.on_fire(id, target);
    // Arm/cancel from inside the callback, including re-arming this node.
    const std::uint64_t r = rng() % 10;
    const TimeUs wnow = w.now();
    if (r < 3) do_arm(id, deadline(wnow));
    if (r == 3) do_arm(id, wnow);  // in the past relative to the tick being run
    if (r == 4) do_arm(pick(), deadline(wnow));
    if (r == 5) do_cancel(pick());
  };

  for (int op = 0; op < ops && !testing::Test::HasFatalFailure(); ++op) {
    const std::uint64_t r = rng() % 100;
    if (r < 45) {
      do_arm(pick(), deadline(now));
    } else if (r < 55) {
      do_cancel(pick());
    } else {
      const std::uint64_t j = rng() % 1000;
      TimeUs step;
      if (j < 500) {
        step = rng() % (3 * tick);
      } else if (j < 900) {
        step = rng() % (400 * tick);
      } else if (j < 990) {
        step = rng() % ((TimeUs{1} << 20) * tick);
      } else if (j < 998) {
        step = rng() % ((TimeUs{1} << 30) * tick);
      } else {
        step = (TimeUs{1} << 33) * tick + rng() % (TimeUs{1} << 20);  // a huge idle gap
      }
      now += step;
      target = now / tick;
      fired_in_call = 0;
      m.begin_call();
      const std::size_t n = w.advance(now, fire);
      ASSERT_FALSE(testing::Test::HasFatalFailure());
      EXPECT_EQ(n, fired_in_call);
      m.end_call(target);
      ASSERT_FALSE(testing::Test::HasFatalFailure());
    }
    ASSERT_EQ(w.size(), m.size());
    ASSERT_LE(w.next_expiry_hint(), m.earliest());
  }
}

TEST(TimerWheel, RandomizedAgainstReferenceModel) {
  const TimeUs ticks[] = {1, 7, 1000};
  std::uint32_t seed = 1;
  for (TimeUs tick : ticks) {
    for (int rep = 0; rep < 3; ++rep, ++seed) {
      // Start near a level-3 wrap sometimes, so cascades of every level and
      // the overflow re-examination happen early in the run.
      const TimeUs start = rep == 2 ? ((TimeUs{1} << 32) - 300) * tick : seed * 977;
      run_random_schedule(seed, tick, start, 60000);
      if (HasFatalFailure()) return;
    }
  }
}

// A million timers spread over ten minutes at 1 ms resolution, driven by a
// poll loop with jittery steps: each must fire in the first advance() whose
// now >= its deadline rounded up to the tick, and no earlier.
TEST(TimerWheel, MillionTimersAllFireOnTime) {
  constexpr std::size_t kN = 1000000;
  constexpr TimeUs kTick = 1000;
  std::mt19937_64 rng(42);
  std::vector<Item> items(kN);
  TimerWheel w(0, kTick);
  for (std::size_t i = 0; i < kN; ++i) {
    items[i].id = static_cast<int>(i);
    w.arm(items[i].node, 1 + rng() % (600 * kUsPerSec));
  }
  ASSERT_EQ(w.size(), kN);
  TimeUs prev = 0, now = 0;
  std::size_t fired = 0, bad = 0;
  auto fire = [&](TimerNode& n) {
    const TimeUs t = (n.deadline + kTick - 1) / kTick;  // deadline in ticks
    if (t > now / kTick || t <= prev / kTick) ++bad;    // early, or late by a call
    item_of(n)->fired++;
    ++fired;
  };
  while (fired < kN && now < 700 * kUsPerSec) {
    prev = now;
    now += rng() % (3 * kTick);
    w.advance(now, fire);
  }
  EXPECT_EQ(fired, kN);
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(w.size(), 0u);
  for (const Item& it : items) ASSERT_EQ(it.fired, 1);
}

}  // namespace
}  // namespace shardtcp::tcp
