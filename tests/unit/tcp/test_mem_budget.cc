// The per-core payload memory budget (issue 9): the slab pool gives idle
// memory back, send() comes up short under the budget and on_writable
// follows when memory frees, out-of-order data is pruned first (and what is
// ACKed and SACKed afterwards says so), SYNs are refused at the high-water
// mark while established connections keep transferring, a one-byte-hole
// attack stays bounded, and a refused system allocation degrades instead of
// throwing. Virtual clock; sequence numbers cross 2^32.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "block_pool.h"
#include "engine_harness.h"
#include "send_buffer.h"

namespace shardtcp::tcp::testing {
namespace {

constexpr std::size_t kPayload = SendChunk::kSize;  // payload bytes per block

std::string pattern(std::size_t n, std::size_t from = 0) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (from + i) % 26);
  return s;
}

// VmRSS of this process in kB (Linux /proc).
long rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

// ---- BlockPool ---------------------------------------------------------------

TEST(BlockPool, BudgetRefusesBeyondItsBlocksAndAcceptsAgainAfterAPut) {
  BlockPool pool(/*max_blocks=*/100);
  std::vector<void*> b;
  for (int i = 0; i < 100; ++i) {
    b.push_back(pool.get());
    ASSERT_NE(b.back(), nullptr);
    std::memset(b.back(), 0xA5, BlockPool::kBlockSize);  // the whole block is ours
  }
  EXPECT_EQ(pool.in_use(), 100u);
  EXPECT_EQ(pool.get(), nullptr);
  EXPECT_EQ(pool.budget_failures(), 1u);
  EXPECT_EQ(pool.system_failures(), 0u);
  pool.put(b.back());
  b.pop_back();
  void* again = pool.get();
  EXPECT_NE(again, nullptr);
  b.push_back(again);
  for (void* p : b) pool.put(p);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(BlockPool, ReclaimerRunsOnlyWhenTheBudgetIsExhausted) {
  struct Ctx {
    BlockPool* pool = nullptr;
    std::vector<void*> victims;
    int calls = 0;
  } ctx;
  BlockPool pool(/*max_blocks=*/4);
  ctx.pool = &pool;
  pool.set_reclaimer(
      [](void* c, std::size_t want) -> std::size_t {
        auto& x = *static_cast<Ctx*>(c);
        ++x.calls;
        std::size_t n = 0;
        while (n < want && !x.victims.empty()) {
          x.pool->put(x.victims.back());
          x.victims.pop_back();
          ++n;
        }
        return n;
      },
      &ctx);
  for (int i = 0; i < 4; ++i) ctx.victims.push_back(pool.get());
  EXPECT_EQ(ctx.calls, 0);
  void* p = pool.get();  // budget full: the reclaimer gives one back
  EXPECT_NE(p, nullptr);
  EXPECT_EQ(ctx.calls, 1);
  EXPECT_EQ(ctx.victims.size(), 3u);
  EXPECT_EQ(pool.get(/*may_reclaim=*/false), nullptr);  // out-of-order data never evicts
  EXPECT_EQ(ctx.calls, 1);
  pool.put(p);
  for (void* v : ctx.victims) pool.put(v);
}

TEST(BlockPool, IdleSlabsGoBackToTheSystemDownToTheCeiling) {
  // 64 MB of blocks, every byte touched, then all freed: the pool keeps only
  // its ceiling of empty slabs and the process's resident memory drops back.
  constexpr std::size_t kCeiling = 2;
  constexpr std::size_t kBlocks = 64 * 1024 * 1024 / BlockPool::kBlockSize;
  BlockPool pool(BlockPool::kUnlimited, kCeiling);
  const long rss0 = rss_kb();
  std::vector<void*> b;
  b.reserve(kBlocks);
  for (std::size_t i = 0; i < kBlocks; ++i) {
    b.push_back(pool.get());
    ASSERT_NE(b.back(), nullptr);
    std::memset(b.back(), 1, BlockPool::kBlockSize);
  }
  const std::size_t slabs = (kBlocks + BlockPool::kBlocksPerSlab - 1) / BlockPool::kBlocksPerSlab;
  EXPECT_EQ(pool.slabs(), slabs);
  const long rss_full = rss_kb();
  EXPECT_GE(rss_full - rss0, 60 * 1024) << "touched blocks are resident";
  // Free in an interleaved order (every other block first): slabs empty out
  // only when their last block returns.
  for (std::size_t i = 0; i < kBlocks; i += 2) pool.put(b[i]);
  EXPECT_EQ(pool.slabs(), slabs);  // every slab still holds a block
  for (std::size_t i = 1; i < kBlocks; i += 2) pool.put(b[i]);
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(pool.slabs(), kCeiling);
  EXPECT_EQ(pool.footprint_bytes(), kCeiling * BlockPool::kSlabSize);
#if !defined(__SANITIZE_ADDRESS__)
  // (Under ASan the shadow of the freed slabs may stay resident.)
  const long rss_after = rss_kb();
  EXPECT_LE(rss_after - rss0, 4 * 1024)
      << "rss " << rss0 << " -> " << rss_full << " -> " << rss_after << " kB";
#endif
  // The cached slabs serve the next requests without a new mapping.
  void* p = pool.get();
  EXPECT_EQ(pool.slabs(), kCeiling);
  pool.put(p);
}

TEST(BlockPool, GaugesFollowEveryChange) {
  Gauge used;
  Gauge mapped;
  BlockPool pool(BlockPool::kUnlimited, /*max_cached_slabs=*/0);
  pool.set_gauges(&used, &mapped);
  void* a = pool.get();
  void* b = pool.get();
  EXPECT_EQ(used.get(), static_cast<std::int64_t>(2 * BlockPool::kBlockSize));
  EXPECT_EQ(mapped.get(), static_cast<std::int64_t>(BlockPool::kSlabSize));
  pool.put(a);
  pool.put(b);
  EXPECT_EQ(used.get(), 0);
  EXPECT_EQ(mapped.get(), 0);  // no cache: the empty slab was unmapped
}

TEST(SendBuffer, AppendTakesOnlyWhatTheBudgetHolds) {
  ChunkPool pool(/*max_blocks=*/3);
  SendBuffer b;
  const std::string d = pattern(10000);
  EXPECT_EQ(b.append(pool, reinterpret_cast<const std::uint8_t*>(d.data()), d.size(), 1 << 20),
            3 * kPayload);
  EXPECT_EQ(b.size(), 3 * kPayload);
  std::string got(b.size(), '\0');
  b.copy_out(0, b.size(), reinterpret_cast<std::uint8_t*>(got.data()));
  EXPECT_EQ(got, d.substr(0, 3 * kPayload));
  b.release(pool);
  EXPECT_EQ(pool.in_use(), 0u);
}

// ---- the engine under a budget ---------------------------------------------------

constexpr std::size_t kBudgetBlocks = 16;
constexpr std::size_t kPressure = 12;   // 3/4: senders throttled, no out-of-order data
constexpr std::size_t kHighWater = 14;  // 7/8: SYNs refused

TcpConfig small_budget() {
  TcpConfig c = Harness::default_config();
  c.mem_budget = kBudgetBlocks * BlockPool::kBlockSize;
  // The peers here never ACK; these tests script every segment and are
  // about memory, not about the probe a silent flight draws (RFC 8985 §7).
  c.tlp = false;
  return c;
}

TcpOptions sack_syn() {
  TcpOptions o = mss_option();
  o.sack_permitted = true;
  return o;
}

class MemBudgetTest : public ::testing::Test {
 protected:
  struct Peer {
    Connection* c = nullptr;
    std::uint16_t port = 0;
    std::uint32_t p = 0;  // peer's next sequence number
    std::uint32_t u = 0;  // our next sequence number (acked by the peer so far)
  };
  void SetUp() override { h.listen(); }
  // A passive open from peer port `port` (SACK permitted).
  Peer open(std::uint16_t port, std::uint32_t our_iss = kOurIss) {
    use(port);
    Peer x;
    x.port = port;
    x.c = h.open(kPeerIsn, our_iss, sack_syn());
    h.take();
    x.p = h.peer_nxt;
    x.u = h.our_nxt;
    return x;
  }
  void use(std::uint16_t port) { h.tuple.remote_port = port; }
  void in(Peer& x, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
          const std::string& data = "") {
    use(x.port);
    h.in(flags, seq, ack, data);
  }
  std::size_t used_blocks() { return h.impl().blocks_for_testing().in_use(); }
  // The peer of `x` acknowledges everything we send it (segments `seen`
  // first, then whatever each ACK releases) until nothing more comes.
  void ack_all(Peer& x, std::vector<Out> seen = {}) {
    for (int round = 0; round < 100; ++round) {
      std::uint32_t end = x.u;
      for (const Out& o : seen) {
        if (o.seg.tuple.remote_port == x.port && seq_gt(o.seg.seq + o.seg.payload_len, end)) {
          end = o.seg.seq + o.seg.payload_len;
        }
      }
      if (end == x.u) return;
      x.u = end;
      in(x, kAck, x.p, x.u);
      seen = h.take();
    }
  }

  Harness h{small_budget()};
};

TEST_F(MemBudgetTest, GaugesShowTheBudgetAndWhatIsUsed) {
  EXPECT_EQ(h.counters.mem_budget_bytes.get(),
            static_cast<std::int64_t>(kBudgetBlocks * BlockPool::kBlockSize));
  Peer a = open(40001);
  const std::string d = pattern(3000);
  EXPECT_EQ(a.c->send(d.data(), d.size()), d.size());
  EXPECT_EQ(h.counters.mem_used_bytes.get(), static_cast<std::int64_t>(2 * BlockPool::kBlockSize));
  EXPECT_EQ(h.counters.mem_mapped_bytes.get(), static_cast<std::int64_t>(BlockPool::kSlabSize));
}

TEST_F(MemBudgetTest, SendComesUpShortAndOnWritableFollowsWhenMemoryFrees) {
  Peer a = open(40001);
  Peer b = open(40002);
  const std::string big = pattern(100000);
  // A takes chunks up to the pressure mark, not the 100000 bytes snd_buf allows.
  EXPECT_EQ(a.c->send(big.data(), big.size()), kPressure * kPayload);
  EXPECT_EQ(h.counters.mem_short_sends.get(), 1u);
  std::vector<Out> sent = h.take();
  ASSERT_EQ(sent.size(), 10u);  // RFC 6928 initial window: 10 segments
  // B has nothing queued: it may take one chunk (progress for everyone),
  // then nothing more: send() returns 0 and B waits for memory.
  EXPECT_EQ(b.c->send(big.data(), big.size()), kPayload);
  std::vector<Out> b_sent = h.take();
  ASSERT_EQ(b_sent.size(), 2u);
  EXPECT_EQ(b_sent[0].payload.size() + b_sent[1].payload.size(), kPayload);
  EXPECT_EQ(b.c->send(big.data(), big.size()), 0u);
  EXPECT_EQ(h.counters.mem_short_sends.get(), 3u);
  h.expect_none();
  EXPECT_EQ(h.app.writable, 0);
  EXPECT_TRUE(h.tcb(b.c).mem_waiting);
  // The peer ACKs A's flight: 7 of A's chunks go back, memory falls below
  // the pressure mark; A hears on_writable from the ACK and B from the
  // memory wait (no ACK of B's own would say that memory is free again).
  a.u += 10 * 1460;
  in(a, kAck, a.p, a.u);
  EXPECT_EQ(used_blocks(), kPressure + 1 - 7);
  EXPECT_EQ(h.app.writable, 2);
  EXPECT_FALSE(h.tcb(b.c).mem_waiting);
  EXPECT_FALSE(h.tcb(b.c).want_writable);
  EXPECT_EQ(b.c->send(big.data(), 4000), 4000u);
}

TEST_F(MemBudgetTest, SynRefusedAtHighWaterWhileEstablishedKeepsTransferring) {
  Peer a = open(40001);
  Peer b = open(40002);
  Peer c = open(40003);
  const std::string big = pattern(100000);
  ASSERT_EQ(a.c->send(big.data(), big.size()), kPressure * kPayload);
  std::vector<Out> flight = h.take();
  ASSERT_EQ(flight.size(), 10u);
  ASSERT_EQ(b.c->send(big.data(), big.size()), kPayload);
  ASSERT_EQ(c.c->send(big.data(), big.size()), kPayload);
  h.take();
  ASSERT_EQ(used_blocks(), kHighWater);
  // At the high-water mark a new SYN is dropped, unanswered, and counted.
  use(40009);
  h.in(kSyn, 1000, 0, "", 65535, sack_syn());
  h.expect_none();
  EXPECT_EQ(h.drops(DropReason::kNoMemory), 1u);
  EXPECT_EQ(h.counters.mem_syn_drops.get(), 1u);
  EXPECT_EQ(h.counters.listen_drops.get(), 1u);
  // An active open is refused the same way: nullptr, nothing sent, counted.
  const FourTuple out{kLocalIp, kRemoteIp, 40100, 80};
  EXPECT_EQ(h.stack->connect(out, h.handlers, nullptr, h.now), nullptr);
  h.expect_none();
  EXPECT_EQ(h.counters.mem_connect_refused.get(), 1u);
  EXPECT_EQ(h.stack->connection_count(), 3u);
  // A goes on: the ACK frees a chunk, the window slides, new data goes out.
  a.u += 2 * 1460;
  in(a, kAck, a.p, a.u);
  std::vector<Out> more = h.take();
  ASSERT_FALSE(more.empty());
  EXPECT_EQ(more.front().seg.tuple.remote_port, a.port);
  EXPECT_EQ(more.front().seg.seq, flight.back().seg.seq + 1460);
  EXPECT_EQ(more.front().payload, big.substr(10 * 1460, 1460));
  // A's buffer drains: below the high-water mark the next SYN is answered.
  ack_all(a, more);
  EXPECT_EQ(a.u, static_cast<std::uint32_t>(flight.front().seg.seq + kPressure * kPayload));
  EXPECT_EQ(used_blocks(), 2u);  // B's and C's chunks
  use(40009);
  h.in(kSyn, 1000, 0, "", 65535, sack_syn());
  Out sa = h.take_one();
  EXPECT_EQ(sa.flags(), kSyn | kAck);
  EXPECT_EQ(h.counters.mem_syn_drops.get(), 1u);
  ASSERT_NE(h.stack->connect(out, h.handlers, nullptr, h.now), nullptr);
  EXPECT_EQ(h.take_one().flags(), kSyn);
  EXPECT_EQ(h.counters.mem_connect_refused.get(), 1u);
}

TEST_F(MemBudgetTest, OutOfOrderDataIsPrunedFirstAndNoLongerSacked) {
  Peer a = open(40001);
  Peer b = open(40002);
  // A: a hole at a.p, 1000 bytes held beyond it, SACKed (RFC 2018 §4).
  const std::string ooo = pattern(1000, 1000);
  in(a, kAck, a.p + 1000, a.u, ooo);
  Out dup = h.take_one();
  EXPECT_EQ(dup.seg.ack, a.p);
  ASSERT_EQ(dup.seg.opts.num_sack, 1);
  EXPECT_EQ(dup.seg.opts.sack[0].left, a.p + 1000);
  EXPECT_EQ(dup.seg.opts.sack[0].right, a.p + 2000);
  EXPECT_EQ(used_blocks(), 1u);
  // B wants more than the pressure mark leaves: A's out-of-order page is
  // given back first (Linux tcp_prune_ofo_queue), then B gets its share.
  const std::string big = pattern(100000);
  EXPECT_EQ(b.c->send(big.data(), big.size()), kPressure * kPayload);
  EXPECT_EQ(h.counters.mem_prune_calls.get(), 1u);
  EXPECT_EQ(h.counters.mem_ofo_pruned.get(), 1000u);
  EXPECT_EQ(used_blocks(), kPressure);
  h.take();
  // The hole is filled: the ACK covers only the filler, with no SACK block
  // for the pruned bytes (reneging is allowed, RFC 2018 §8: the sender
  // keeps them until they are cumulatively acknowledged).
  in(a, kAck, a.p, a.u, pattern(1000));
  h.expect_none();  // no hole left to fill from our side: a delayed ACK
  h.advance(h.cfg.delayed_ack);
  Out ack = h.take_one();
  EXPECT_EQ(ack.flags(), kAck);
  EXPECT_EQ(ack.seg.ack, a.p + 1000);
  EXPECT_EQ(ack.seg.opts.num_sack, 0);
  EXPECT_EQ(h.app.data, pattern(1000));
  // The peer retransmits the pruned bytes; in order, they need no memory.
  in(a, kAck, a.p + 1000, a.u, ooo);
  h.advance(h.cfg.delayed_ack);
  Out ack2 = h.take_one();
  EXPECT_EQ(ack2.seg.ack, a.p + 2000);
  EXPECT_EQ(h.app.data, pattern(2000));
}

TEST_F(MemBudgetTest, OutOfOrderDataIsNotStoredUnderPressure) {
  Peer a = open(40001);
  Peer b = open(40002);
  const std::string big = pattern(100000);
  ASSERT_EQ(b.c->send(big.data(), big.size()), kPressure * kPayload);
  h.take();
  in(a, kAck, a.p + 1000, a.u, pattern(500));
  Out dup = h.take_one();  // still a duplicate ACK (RFC 5681 §4.2) ...
  EXPECT_EQ(dup.seg.ack, a.p);
  EXPECT_EQ(dup.seg.opts.num_sack, 0);  // ... but nothing is SACKed: not stored
  EXPECT_EQ(h.counters.mem_ofo_drops.get(), 1u);
  EXPECT_EQ(h.drops(DropReason::kNoMemory), 1u);
  EXPECT_EQ(h.counters.mem_prune_calls.get(), 0u);
  EXPECT_EQ(used_blocks(), kPressure);
}

TEST_F(MemBudgetTest, InOrderBytesThatCannotBeHeldAreDroppedUnacknowledged) {
  Peer a = open(40001);
  Peer b = open(40002);
  a.c->set_receive_paused(true);
  const std::string big = pattern(100000);
  ASSERT_EQ(b.c->send(big.data(), big.size()), kPressure * kPayload);
  std::vector<Out> b_flight = h.take();
  // A's application is paused: its bytes are held (RFC 9293 §3.10.7.4
  // seventh) in the last quarter of the budget, segment after segment,
  // until a page is refused: that segment is not stored, so not
  // acknowledged (ACK = RCV.NXT as before).
  std::uint32_t held = 0;
  Out last;
  for (int i = 0; i < 10 && h.counters.mem_rcv_drops.get() == 0; ++i) {
    in(a, kAck, a.p + held, a.u, pattern(1460, held));
    h.advance(h.cfg.delayed_ack);
    for (const Out& o : h.take()) {
      if (o.seg.tuple.remote_port == a.port) last = o;  // (B's segments aside)
    }
    if (h.counters.mem_rcv_drops.get() == 0) held += 1460;
  }
  ASSERT_EQ(h.counters.mem_rcv_drops.get(), 1u);
  EXPECT_EQ(used_blocks(), kBudgetBlocks);
  EXPECT_GE(held, 2u * 1460);
  EXPECT_EQ(last.seg.ack, a.p + held);
  EXPECT_EQ(h.drops(DropReason::kNoMemory), 1u);
  EXPECT_EQ(a.c->received_unread(), held);
  // B's peer acknowledges everything: memory frees; the retransmission is held.
  ack_all(b, b_flight);
  in(a, kAck, a.p + held, a.u, pattern(1460, held));
  h.advance(h.cfg.delayed_ack);
  Out ack2 = h.take_one();
  EXPECT_EQ(ack2.seg.ack, a.p + held + 1460);
  EXPECT_EQ(a.c->received_unread(), held + 1460);
  a.c->set_receive_paused(false);
  EXPECT_EQ(h.app.data, pattern(held + 1460));
}

TEST(MemBudget, OneByteHoleAttackIsBounded) {
  // 40 peers each leave a one-byte hole and fill the rest of their 64 KB
  // window with out-of-order data. Without a budget that pins 40 x 64 KB;
  // with a 128 KB budget it stops at the high-water mark, the rest is
  // dropped and counted, and an established connection can still send.
  TcpConfig cfg = Harness::default_config();
  cfg.mem_budget = 64 * BlockPool::kBlockSize;
  Harness h(cfg);
  h.listen();
  StackImpl& impl = h.impl();
  const std::size_t max = impl.blocks_for_testing().max_blocks();
  h.tuple.remote_port = 39999;
  Connection* legit = h.open(kPeerIsn, kOurIss, sack_syn());
  for (std::uint16_t i = 0; i < 40; ++i) {
    h.tuple.remote_port = static_cast<std::uint16_t>(40000 + i);
    h.open(kPeerIsn, kOurIss, sack_syn());
  }
  h.take();
  for (std::uint16_t i = 0; i < 40; ++i) {
    h.tuple.remote_port = static_cast<std::uint16_t>(40000 + i);
    const std::uint32_t p = h.peer_nxt;
    for (std::uint32_t off = 1; off + 1460 <= 65535; off += 1460) {
      h.in(kAck, p + off, h.our_nxt, pattern(1460, off));
      ASSERT_LE(impl.blocks_for_testing().in_use(), max);
    }
    h.take();
  }
  EXPECT_LE(impl.blocks_for_testing().in_use(), max);
  EXPECT_GT(h.counters.mem_ofo_drops.get(), 0u);
  EXPECT_EQ(h.counters.mem_ofo_drops.get(), h.drops(DropReason::kNoMemory));
  // Out-of-order data goes first: the established connection's send takes
  // memory from the attackers' queues.
  const std::string big = pattern(60000);
  EXPECT_EQ(legit->send(big.data(), big.size()), big.size());
  EXPECT_GT(h.counters.mem_prune_calls.get(), 0u);
  EXPECT_GE(h.counters.mem_ofo_pruned.get(), big.size());
  EXPECT_LE(impl.blocks_for_testing().in_use(), max);
}

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
// The system refuses memory (RLIMIT_AS, in a child process): connections,
// send buffers and reassembly fail, count and degrade; nothing throws, the
// stack keeps running and exits normally.
[[noreturn]] void run_out_of_system_memory() {
  TcpConfig cfg = Harness::default_config();  // no budget: only the system limits
  TcpCounters ctr;
  Stack stack(cfg, ctr, 0, 1'000'000);
  Handlers hd;
  hd.on_accept = [](Connection& c, void*) {
    static const std::string body(300000, 'x');
    c.send(body.data(), body.size());
  };
  stack.listen(kPort, hd, nullptr);
  const std::string data(1400, 'd');
  auto seg = [&](std::uint16_t port, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
                 std::uint32_t len) {
    Segment s;
    s.tuple = FourTuple{kLocalIp, kRemoteIp, kPort, port};
    s.seq = seq;
    s.ack = ack;
    s.flags = flags;
    s.window = 65535;
    s.payload = reinterpret_cast<const std::uint8_t*>(data.data());
    s.payload_len = len;
    return s;
  };
  for (std::uint32_t i = 0; i < 20000; ++i) {
    if (i == 1) {
      // The first connection warmed up the output vector and the
      // callback's body; now cap the address space near what is mapped.
      rlimit rl{};
      std::ifstream f("/proc/self/status");
      std::string line;
      long vm_kb = 0;
      while (std::getline(f, line)) {
        if (line.rfind("VmSize:", 0) == 0) vm_kb = std::strtol(line.c_str() + 7, nullptr, 10);
      }
      rl.rlim_cur = rl.rlim_max = static_cast<rlim_t>(vm_kb + 16 * 1024) * 1024;
      if (setrlimit(RLIMIT_AS, &rl) != 0) std::_Exit(3);
    }
    const auto port = static_cast<std::uint16_t>(1024 + i % 60000);
    const std::uint32_t isn = 1000 * i;
    stack.input(seg(port, kSyn, isn, 0, 0), 1'000'000 + i);
    std::uint32_t iss = 0;
    for (const OutSegment& o : stack.output()) {
      if (o.flags == (kSyn | kAck)) iss = o.seq;
    }
    stack.clear_output();
    if (iss == 0) continue;  // refused (memory or table): counted
    stack.input(seg(port, kAck, isn + 1, iss + 1, 0), 1'000'000 + i);
    stack.clear_output();
    stack.input(seg(port, kAck, isn + 1 + 5000, iss + 1, 1400), 1'000'000 + i);  // OOO
    stack.clear_output();
  }
  const bool degraded = ctr.mem_alloc_failures.get() > 0 && ctr.mem_short_sends.get() > 0;
  std::fprintf(
      stderr, "alloc_failures=%llu short_sends=%llu no_memory=%llu conns=%zu\n",
      static_cast<unsigned long long>(ctr.mem_alloc_failures.get()),
      static_cast<unsigned long long>(ctr.mem_short_sends.get()),
      static_cast<unsigned long long>(ctr.drops[static_cast<int>(DropReason::kNoMemory)].get()),
      stack.connection_count());
  std::_Exit(degraded ? 0 : 4);
}

#endif

TEST(MemBudgetDeathTest, SystemAllocationFailureDegradesWithoutThrowing) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "sanitizers reserve address space; RLIMIT_AS cannot be used";
#else
  GTEST_FLAG_SET(death_test_style, "fast");
  EXPECT_EXIT(run_out_of_system_memory(), ::testing::ExitedWithCode(0), "alloc_failures=");
#endif
}

}  // namespace
}  // namespace shardtcp::tcp::testing
