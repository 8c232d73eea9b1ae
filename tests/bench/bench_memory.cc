// Memory budget of the real engine (issue 4): heap bytes per established idle
// connection and per TIME-WAIT entry, at 1 M and 10 M, measured on a real
// tcp::Stack driven by synthesized segments under a virtual clock.
//
//   shardtcp_bench_memory                 # N = 1,000,000 and 10,000,000
//   shardtcp_bench_memory 100000 1000000  # other sizes
//
// Method. Heap bytes are mallinfo2() in-use bytes (uordblks: small and medium
// chunks, malloc headers included; hblkhd: mmap'ed blocks, which is where the
// large flow-table arrays go). That sees operator new (Tcb slabs, TIME-WAIT
// chunks) and std::calloc (FlowTable arrays) alike. The bench is single
// threaded, so the main arena holds everything.
//
// Two scenarios per N:
//  A  N passive opens to ESTABLISHED (SYN, SYN-ACK, ACK from N distinct
//     4-tuples in 198.19.0.0/16), measured idle; then every connection is
//     closed by us (FIN) and the peer answers FIN+ACK -> TIME-WAIT, measured
//     again. The Tcb slabs and the flow table stay allocated (pools keep their
//     memory), so the second delta is what the TIME-WAIT store ADDS.
//  B  Short connections: each one is opened, closed and driven into TIME-WAIT
//     before the next one starts (what a busy server does). Only the
//     TIME-WAIT store grows; its delta / N is the full cost of an entry,
//     index included.
// Targets (issue 4): <= 512 B per established idle connection (engine state,
// no queued payload), <= 64 B per TIME-WAIT entry (+ index, printed apart).
//
// A scenario whose estimated peak does not fit in half of MemAvailable is
// skipped with the reason printed (a shared 2-core lab machine). Numbers are
// printed, never asserted (STYLE.md).
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "shardtcp/tcp/stack.h"
#include "shardtcp/tcp/time_wait.h"
#include "stack_driver.h"
#include "stack_impl.h"
#include "tcb.h"

namespace shardtcp::tcp {
namespace {

// N clients (198.19.0.0/16 x ports) of 198.18.0.1:80, ISNs across 2^32.
using stack_driver::client_segment;
using stack_driver::kPort;
using stack_driver::kServerIp;
using stack_driver::peer_isn;
using stack_driver::tuple_of;

std::size_t heap_bytes() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

std::size_t mem_available() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  std::size_t kb = 0;
  std::string unit;
  while (f >> key >> kb >> unit) {
    if (key == "MemAvailable:") return kb * 1024;
  }
  return 0;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A Linux-like client: MSS, SACK-permitted, timestamps, window scale 7.
struct Peer {
  Stack& stack;
  TimeUs now = 1000 * kUsPerSec;
  std::vector<Connection*>* accepted = nullptr;
  std::uint64_t failures = 0;

  Segment seg(const FourTuple& t, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
              std::uint32_t tsecr) const {
    Segment s = client_segment(t, flags, seq, ack, (flags & kSyn) ? 64240 : 502);
    s.opts.has_timestamps = true;
    s.opts.ts_val = static_cast<std::uint32_t>(now / kUsPerMs);
    s.opts.ts_ecr = tsecr;
    if (flags & kSyn) {
      s.opts.sack_permitted = true;
      s.opts.has_wscale = true;
      s.opts.wscale = 7;
    }
    return s;
  }

  // The one segment the last call produced (or a zeroed one, counted).
  OutSegment take_one() {
    OutSegment o{};
    if (!stack_driver::take_one(stack, o)) ++failures;
    return o;
  }

  // SYN -> SYN-ACK -> ACK. Returns our ISS.
  std::uint32_t open(std::uint64_t i) {
    const FourTuple t = tuple_of(i);
    const std::uint32_t isn = peer_isn(i);
    stack.input(seg(t, kSyn, isn, 0, 0), now);
    const OutSegment sa = take_one();
    if (sa.flags != (kSyn | kAck) || sa.ack != isn + 1) ++failures;
    stack.input(seg(t, kAck, isn + 1, sa.seq + 1, sa.opts.ts_val), now);
    if (!stack.output().empty()) ++failures;  // a pure ACK completes silently
    stack.clear_output();
    return sa.seq;
  }

  // We close (FIN); the peer ACKs it with its own FIN -> TIME-WAIT.
  void to_time_wait(std::uint64_t i, Connection* c) {
    const FourTuple t = tuple_of(i);
    c->close();
    const OutSegment fin = take_one();
    if (!(fin.flags & kFin)) ++failures;
    stack.input(seg(t, kFin | kAck, peer_isn(i) + 1, fin.seq + 1, fin.opts.ts_val), now);
    const OutSegment ack = take_one();  // ACK of the peer's FIN
    if (ack.flags != kAck) ++failures;
  }
};

void on_accept(Connection& c, void* user) {
  auto* v = static_cast<std::vector<Connection*>*>(user);
  if (v->size() < v->capacity()) v->push_back(&c);  // never reallocates (reserved)
}

TcpConfig config_for(std::uint64_t n) {
  TcpConfig cfg;
  cfg.isn_secret[0] = 0x1234;
  cfg.isn_secret[1] = 0x5678;
  cfg.max_connections = static_cast<std::uint32_t>(n + 16);
  cfg.time_wait_capacity = static_cast<std::uint32_t>(n + 16);
  cfg.syn_backlog = 1024;
  return cfg;
}

struct Row {
  std::uint64_t n = 0;
  std::string what;
  double bytes_per = 0;
  double target = 0;
};
std::vector<Row> g_rows;

void add_row(std::uint64_t n, const std::string& what, double bytes_per, double target) {
  g_rows.push_back({n, what, bytes_per, target});
  std::printf("  %-44s %10.1f B%s\n", what.c_str(), bytes_per,
              target > 0 ? (bytes_per <= target ? "  (<= target)" : "  (OVER target)") : "");
  std::fflush(stdout);
}

// A Stack listening on kServerIp:kPort, at the Peer's virtual time; accepted
// connections go to `conns` (reserved by the caller: never reallocates).
std::unique_ptr<Stack> listening_stack(const TcpConfig& cfg, TcpCounters& ctr,
                                       std::vector<Connection*>& conns) {
  auto stack = std::make_unique<Stack>(cfg, ctr, 0, 1000 * kUsPerSec);
  Handlers h;
  h.on_accept = on_accept;
  stack->listen(kPort, h, &conns, kServerIp);
  return stack;
}

// Tcb storage as the engine's pool allocates it: slabs of 256.
double tcb_slab_bytes_per(std::uint64_t n) {
  const std::uint64_t slabs = (n + 255) / 256;
  return static_cast<double>(slabs * 256 * sizeof(Tcb)) / static_cast<double>(n);
}

// The index alone: a FlowTable with the same N keys, measured by its own
// accounting. Growth doubles the slot array past 3/4 load and drains the old
// array incrementally, so right after a doubling both arrays exist for a while.
template <class V>
void shadow_table(std::uint64_t n, const char* what) {
  const std::uint64_t key[2] = {1, 2};
  FlowTable<V> t(key, 1024);
  for (std::uint64_t i = 0; i < n; ++i) t.insert(tuple_of(i), V{});
  const double per = static_cast<double>(t.memory_bytes()) / static_cast<double>(n);
  add_row(n, std::string("  ") + what + " (own accounting)", per, 0);
  std::printf("    %zu slots, load %.2f%s\n", t.capacity(),
              static_cast<double>(n) / static_cast<double>(t.capacity()),
              t.migrating() ? ", old array still draining (incremental rehash)" : "");
}

double tw_chunk_bytes_per(std::uint64_t n) {
  const std::uint64_t chunks = (n + 4095) / 4096;
  return static_cast<double>(chunks * 4096 * sizeof(TimeWaitEntry)) / static_cast<double>(n);
}

// Scenario A: N established idle, then N TIME-WAIT (Tcbs released to the pool).
void scenario_established(std::uint64_t n) {
  std::printf("\n[A] N = %" PRIu64 ": established idle, then all to TIME-WAIT\n", n);
  const TcpConfig cfg = config_for(n);
  TcpCounters ctr;
  std::vector<Connection*> conns;
  conns.reserve(n);  // bench bookkeeping, allocated before the baseline
  auto stack = listening_stack(cfg, ctr, conns);
  Peer peer{*stack};

  const std::size_t heap0 = heap_bytes();
  auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    peer.open(i);
    ++peer.now;  // 1 us per connection: the virtual clock moves, no timer is due
  }
  const std::size_t heap1 = heap_bytes();
  const double t_open = seconds_since(t0);
  const auto est = ctr.in(State::kEstablished).get();
  std::printf("  opened %" PRIu64 " in %.1f s; ESTABLISHED gauge %" PRId64
              ", connections %zu, accepted %zu, failures %" PRIu64 "\n",
              n, t_open, est, stack->connection_count(), conns.size(), peer.failures);
  const double per_est = static_cast<double>(heap1 - heap0) / static_cast<double>(n);
  add_row(n, "established idle: heap / connection", per_est, 512);
  add_row(n, "  of which Tcb slab (sizeof(Tcb) x slab fill)", tcb_slab_bytes_per(n), 0);
  add_row(n, "  of which flow table + other (residual)", per_est - tcb_slab_bytes_per(n), 0);

  t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < conns.size(); ++i) {
    peer.to_time_wait(i, conns[i]);
    ++peer.now;
  }
  stack->poll(peer.now);  // reaps the last released Tcbs; nothing has expired
  const std::size_t heap2 = heap_bytes();
  std::printf("  to TIME-WAIT in %.1f s; TIME-WAIT gauge %" PRId64
              ", entries %zu, "
              "connections %zu, failures %" PRIu64 "\n",
              seconds_since(t0), ctr.in(State::kTimeWait).get(), stack->time_wait_count(),
              stack->connection_count(), peer.failures);
  const double per_tw =
      (static_cast<double>(heap2) - static_cast<double>(heap1)) / static_cast<double>(n);
  add_row(n, "TIME-WAIT added on top (Tcb pool kept)", per_tw, 0);
  stack.reset();
  std::printf("  heap after the Stack is destroyed: %+.1f MB vs baseline\n",
              (static_cast<double>(heap_bytes()) - static_cast<double>(heap0)) / 1e6);
  shadow_table<Tcb*>(n, "connection table alone");
}

// Scenario B: N short connections each driven into TIME-WAIT before the next.
void scenario_time_wait(std::uint64_t n) {
  std::printf("\n[B] N = %" PRIu64 ": short connections, N TIME-WAIT entries live\n", n);
  const TcpConfig cfg = config_for(n);
  TcpCounters ctr;
  std::vector<Connection*> conns;
  conns.reserve(1);
  auto stack = listening_stack(cfg, ctr, conns);
  Peer peer{*stack};

  const std::size_t heap0 = heap_bytes();
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    conns.clear();
    peer.open(i);
    if (conns.size() != 1) {
      ++peer.failures;
      continue;
    }
    peer.to_time_wait(i, conns[0]);
    ++peer.now;
  }
  stack->poll(peer.now);
  const std::size_t heap1 = heap_bytes();
  std::printf("  %" PRIu64 " connections in %.1f s; TIME-WAIT gauge %" PRId64
              ", entries %zu, connections %zu, recycled %" PRIu64 ", failures %" PRIu64 "\n",
              n, seconds_since(t0), ctr.in(State::kTimeWait).get(), stack->time_wait_count(),
              stack->connection_count(), ctr.time_wait_recycled.get(), peer.failures);
  const double per = static_cast<double>(heap1 - heap0) / static_cast<double>(n);
  add_row(n, "TIME-WAIT: heap / entry (entry + index)", per, 0);
  add_row(n, "  sizeof(TimeWaitEntry)", sizeof(TimeWaitEntry), 64);
  add_row(n, "  entry chunks (sizeof x chunk fill)", tw_chunk_bytes_per(n), 0);
  add_row(n, "  index + other (residual)", per - tw_chunk_bytes_per(n), 0);
  stack.reset();
  shadow_table<std::uint32_t>(n, "TIME-WAIT index alone");
}

void print_sizes() {
  std::printf("Static sizes (bytes):\n");
  std::printf("  sizeof(Tcb)                  %4zu  (budget 512 incl. table share)\n", sizeof(Tcb));
  std::printf("    TcbTimer (wheel node)      %4zu\n", sizeof(TcbTimer));
  std::printf("    RttEstimator               %4zu\n", sizeof(RttEstimator));
  std::printf("    CongestionController       %4zu  (variant<NewReno %zu, Cubic %zu>)\n",
              sizeof(CongestionController), sizeof(cc::NewReno), sizeof(cc::Cubic));
  std::printf("    SendBuffer (empty = no chunks) %zu\n", sizeof(SendBuffer));
  std::printf("    FourTuple                  %4zu\n", sizeof(FourTuple));
  std::printf("  sizeof(TimeWaitEntry)        %4zu  (target <= 64)\n", sizeof(TimeWaitEntry));
  // Mirrors of FlowTable's private Slot {tag, key, value} for the two tables.
  struct TcbSlot {
    std::uint32_t tag;
    FourTuple key;
    Tcb* value;
  };
  struct TwSlot {
    std::uint32_t tag;
    FourTuple key;
    std::uint32_t value;
  };
  std::printf("  flow-table slot: Tcb* %zu, TIME-WAIT index %zu (load <= 3/4, power-of-2 slots)\n",
              sizeof(TcbSlot), sizeof(TwSlot));
}

// Rough peak need, for the skip decision.
std::size_t estimate_a(std::uint64_t n) { return n * (sizeof(Tcb) + 64 + 8 + 100); }
std::size_t estimate_b(std::uint64_t n) { return n * (sizeof(TimeWaitEntry) + 64); }

}  // namespace
}  // namespace shardtcp::tcp

int main(int argc, char** argv) {
  using namespace shardtcp::tcp;
  std::vector<std::uint64_t> sizes;
  for (int i = 1; i < argc; ++i) {
    const std::uint64_t n = std::strtoull(argv[i], nullptr, 10);
    if (n == 0 || n > (1ull << 31)) {
      std::fprintf(stderr, "usage: %s [N ...]  (1 <= N <= 2^31)\n", argv[0]);
      return 2;
    }
    sizes.push_back(n);
  }
  if (sizes.empty()) sizes = {1'000'000, 10'000'000};
  print_sizes();
  for (const std::uint64_t n : sizes) {
    const std::size_t avail = mem_available();
    if (estimate_a(n) < avail / 2) {
      scenario_established(n);
    } else {
      std::printf("\n[A] N = %" PRIu64
                  ": SKIPPED: needs ~%.1f GB, MemAvailable %.1f GB "
                  "(limit: half of it on this shared machine)\n",
                  n, static_cast<double>(estimate_a(n)) / 1e9, static_cast<double>(avail) / 1e9);
    }
    if (estimate_b(n) < mem_available() / 2) {
      scenario_time_wait(n);
    } else {
      std::printf("\n[B] N = %" PRIu64 ": SKIPPED: needs ~%.1f GB\n", n,
                  static_cast<double>(estimate_b(n)) / 1e9);
    }
  }
  std::printf("\n%-12s %-46s %12s %8s\n", "N", "measure", "bytes", "target");
  for (const auto& r : g_rows) {
    char target[16] = "-";
    if (r.target > 0) std::snprintf(target, sizeof(target), "%.0f", r.target);
    std::printf("%-12" PRIu64 " %-46s %12.1f %8s\n", r.n, r.what.c_str(), r.bytes_per, target);
  }
  return 0;
}
