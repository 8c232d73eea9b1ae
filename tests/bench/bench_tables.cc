// Per-core table costs from 10^3 to 10^7 entries (issue 4: "flat per-operation
// cost for table and timer operations", "bytes per TIME_WAIT entry at 1 M and
// 10 M"). Prints numbers only; nothing here passes or fails on time.
//
//   shardtcp_bench_tables                      # everything (~1 min CPU, < 1 GB peak RSS)
//   shardtcp_bench_tables --benchmark_filter=TimeWait
//
// Large fixtures are built once per size and shared by the benchmarks of that
// size (Google Benchmark calls a function several times while it calibrates,
// and rebuilding 10^7 entries each time would dominate the run). Only one
// fixture is alive at a time, which keeps peak memory bounded.
//
// Reading the numbers: per-operation work is O(1) at every size, but at 10^5
// and beyond the tables no longer fit in the CPU caches, and a random lookup
// pays DRAM (and TLB) misses: ns/op then tracks memory latency, not N.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "shardtcp/tcp/flow_table.h"
#include "shardtcp/tcp/time_wait.h"
#include "shardtcp/tcp/timer_wheel.h"

namespace shardtcp::tcp {
namespace {

constexpr std::uint64_t kKey[2] = {0x5eed5eed5eed5eedULL, 0x0badc0ffee0ddf00ULL};

// Distinct tuples for i < 2^31: clients spread over 198.18.0.0/15 and ports.
FourTuple tuple_of(std::uint64_t i) {
  FourTuple t;
  t.local_ip = 0xC6120001;  // 198.18.0.1
  t.local_port = 80;
  t.remote_ip = 0xC6120000u + static_cast<std::uint32_t>(1 + (i >> 16));
  t.remote_port = static_cast<std::uint16_t>(i);
  return t;
}

// Cheap deterministic random indices (no % in the measured loop).
struct Rng {
  std::uint64_t s = 0x9E3779B97F4A7C15ULL;
  std::uint64_t next() {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return s >> 16;
  }
  std::size_t below(std::size_t n) {
    return static_cast<std::size_t>(((next() & 0xffffffffu) * n) >> 32);  // n < 2^32
  }
};

// One shared fixture slot: whatever was built last for some size.
struct Fixture {
  virtual ~Fixture() = default;
};
std::unique_ptr<Fixture> g_fixture;

template <class T>
T& fixture(std::size_t n) {
  auto* f = dynamic_cast<T*>(g_fixture.get());
  if (f == nullptr || f->n != n) {
    g_fixture.reset();  // free the old one first: peak memory = one fixture
    auto fresh = std::make_unique<T>(n);
    f = fresh.get();
    g_fixture = std::move(fresh);
  }
  return *f;
}

// ---------------------------------------------------------------- flow table
struct FlowFixture : Fixture {
  explicit FlowFixture(std::size_t count) : n(count), table(kKey) {
    ids.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      ids[i] = static_cast<std::uint32_t>(i);
      table.insert(tuple_of(i), static_cast<std::uint32_t>(i));
    }
    next_id = n;
  }
  std::size_t n;
  FlowTable<std::uint32_t> table;
  std::vector<std::uint32_t> ids;  // ids currently in the table
  std::uint64_t next_id;
  Rng rng;
};

void BM_FlowTableFind(benchmark::State& state) {
  auto& f = fixture<FlowFixture>(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    // ids[k] == k until churn runs (it runs after every Find size), so the
    // tuple is computed from k directly: no extra cache miss on ids[].
    const std::size_t k = f.rng.below(f.n);
    benchmark::DoNotOptimize(
        f.table.find(tuple_of(f.ids.size() == f.n && f.next_id == f.n ? k : f.ids[k])));
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_FlowTableFindMiss(benchmark::State& state) {
  auto& f = fixture<FlowFixture>(static_cast<std::size_t>(state.range(0)));
  std::uint64_t miss = std::uint64_t{1} << 30;  // never inserted
  for (auto _ : state) benchmark::DoNotOptimize(f.table.find(tuple_of(miss++)));
  state.SetItemsProcessed(state.iterations());
}

// Steady-state churn at size N: one erase of a random live tuple plus one
// insert of a new tuple per iteration (a connection closes, another opens).
void BM_FlowTableEraseInsert(benchmark::State& state) {
  auto& f = fixture<FlowFixture>(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    const std::size_t k = f.rng.below(f.n);
    f.table.erase(tuple_of(f.ids[k]));
    f.ids[k] = static_cast<std::uint32_t>(f.next_id++);
    f.table.insert(tuple_of(f.ids[k]), f.ids[k]);
  }
  state.SetItemsProcessed(state.iterations() * 2);
  state.counters["size"] = static_cast<double>(f.table.size());
}

// Building a table of N from empty, growth (incremental migrations) included.
void BM_FlowTableInsertFromEmpty(benchmark::State& state) {
  g_fixture.reset();
  const auto n = static_cast<std::size_t>(state.range(0));
  std::size_t bytes = 0;
  for (auto _ : state) {
    FlowTable<std::uint32_t> t(kKey);
    for (std::size_t i = 0; i < n; ++i) t.insert(tuple_of(i), static_cast<std::uint32_t>(i));
    bytes = t.memory_bytes();
    benchmark::DoNotOptimize(t.size());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
  state.counters["bytes_per_entry"] = static_cast<double>(bytes) / static_cast<double>(n);
}

// --------------------------------------------------------------- timer wheel
constexpr TimeUs kTick = 1000;              // 1 ms, the engine's default
constexpr TimeUs kSpread = 60 * kUsPerSec;  // deadlines up to a minute out (RTO..keepalive)

struct TimerFixture : Fixture {
  explicit TimerFixture(std::size_t count) : n(count), nodes(count), wheel(0, kTick) {
    for (auto& node : nodes) wheel.arm(node, 1 + rng.below(kSpread));
  }
  std::size_t n;
  std::vector<TimerNode> nodes;
  TimerWheel wheel;
  Rng rng;
  TimeUs now = 0;
};

// Re-arming a live timer (the per-ACK RTO restart) and cancel + arm.
void BM_TimerRearm(benchmark::State& state) {
  auto& f = fixture<TimerFixture>(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    TimerNode& node = f.nodes[f.rng.below(f.n)];
    f.wheel.arm(node, f.now + 1 + f.rng.below(kSpread));
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_TimerCancelArm(benchmark::State& state) {
  auto& f = fixture<TimerFixture>(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    TimerNode& node = f.nodes[f.rng.below(f.n)];
    f.wheel.cancel(node);
    f.wheel.arm(node, f.now + 1 + f.rng.below(kSpread));
  }
  state.SetItemsProcessed(state.iterations() * 2);
}

// One poll-loop tick (1 ms) per iteration; every fired timer is re-armed up
// to a minute out, so the population stays N. Items = timers fired: the cost
// per expiry should not depend on N (cascades are amortized).
void BM_TimerAdvance(benchmark::State& state) {
  auto& f = fixture<TimerFixture>(static_cast<std::size_t>(state.range(0)));
  std::int64_t fired = 0;
  for (auto _ : state) {
    f.now += kTick;
    fired += static_cast<std::int64_t>(f.wheel.advance(
        f.now, [&f](TimerNode& node) { f.wheel.arm(node, f.now + 1 + f.rng.below(kSpread)); }));
  }
  state.SetItemsProcessed(fired);
  state.counters["fired_per_tick"] =
      static_cast<double>(fired) / static_cast<double>(state.iterations());
}

// ----------------------------------------------------------------- TIME-WAIT
// Fills a store with N entries and reports its footprint per entry. The time
// per iteration is the cost of N inserts (index growth included).
void BM_TimeWaitFill(benchmark::State& state) {
  g_fixture.reset();
  const auto n = static_cast<std::size_t>(state.range(0));
  double per_entry = 0;
  for (auto _ : state) {
    TimeWaitStore tw(kKey, n, 60 * kUsPerSec);
    TimeWaitEntry e;
    for (std::size_t i = 0; i < n; ++i) {
      e.tuple = tuple_of(i);
      tw.insert(e, i);
    }
    per_entry = static_cast<double>(tw.memory_bytes()) / static_cast<double>(tw.size());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
  state.counters["bytes_per_entry"] = per_entry;
  state.counters["sizeof_entry"] = sizeof(TimeWaitEntry);
}

// Steady state at capacity: each insert recycles the oldest entry.
void BM_TimeWaitInsertAtCapacity(benchmark::State& state) {
  g_fixture.reset();
  const auto n = static_cast<std::size_t>(state.range(0));
  TimeWaitStore tw(kKey, n, 60 * kUsPerSec);
  TimeWaitEntry e;
  std::uint64_t i = 0;
  for (; i < n; ++i) {
    e.tuple = tuple_of(i);
    tw.insert(e, i);
  }
  for (auto _ : state) {
    e.tuple = tuple_of(i);
    benchmark::DoNotOptimize(tw.insert(e, i));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}

void sizes(benchmark::internal::Benchmark* b) {
  for (std::int64_t n = 1000; n <= 10000000; n *= 10) b->Arg(n);
}

BENCHMARK(BM_FlowTableFind)->Apply(sizes)->MinTime(0.2);
BENCHMARK(BM_FlowTableFindMiss)->Apply(sizes)->MinTime(0.2);
BENCHMARK(BM_FlowTableEraseInsert)->Apply(sizes)->MinTime(0.2);
BENCHMARK(BM_FlowTableInsertFromEmpty)->Apply(sizes)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TimerRearm)->Apply(sizes)->MinTime(0.2);
BENCHMARK(BM_TimerCancelArm)->Apply(sizes)->MinTime(0.2);
BENCHMARK(BM_TimerAdvance)->Apply(sizes)->MinTime(0.2);
BENCHMARK(BM_TimeWaitFill)
    ->Arg(1000)
    ->Arg(1000000)
    ->Arg(10000000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TimeWaitInsertAtCapacity)->Arg(1000)->Arg(1000000)->MinTime(0.2);

}  // namespace
}  // namespace shardtcp::tcp

BENCHMARK_MAIN();
