// The per-core payload memory budget and the allocator behind it: 2 KB
// blocks (send-buffer chunks, reassembly pages, in-order bytes held for a
// paused reader) cut from 128 KB slabs that are mapped from the system and
// unmapped again once every block in them is free.
//
// Rationale (issue 9). Memory a peer can pin must be bounded per core, and
// running out must degrade service, never end the process:
// - get() never throws: it returns nullptr when the budget (max_blocks) is
//   reached or the system refuses a slab, and the caller fails, counts and
//   degrades (send() returns short, a segment is dropped unacknowledged).
// - Before refusing for lack of budget, get() may ask a reclaimer (the
//   Stack: it prunes out-of-order queues, as Linux's tcp_prune_ofo_queue
//   does) to give blocks back.
// - Memory goes back to the system: a slab whose blocks are all free is kept
//   only while fewer than max_cached_slabs empty slabs are cached; beyond
//   that it is unmapped. Allocation prefers partially used slabs so that
//   idle slabs can empty out (the policy of the Linux SLUB allocator).
//   Slabs are mapped directly (mmap), not taken from malloc, so freeing one
//   really lowers the process's resident memory.
// One core, no locking; no virtual calls (the reclaimer is a plain function
// pointer, called only when the budget is exhausted).
#pragma once

#include <cstddef>
#include <cstdint>

#include "shardtcp/tcp/counters.h"

namespace shardtcp::tcp {

class BlockPool {
 public:
  static constexpr std::size_t kBlockSize = 2048;
  static constexpr std::size_t kSlabSize = 128 * 1024;  // mapped aligned to its size
  // Block 0 of each slab holds the slab's header.
  static constexpr std::size_t kBlocksPerSlab = kSlabSize / kBlockSize - 1;
  static constexpr std::size_t kUnlimited = ~std::size_t{0};

  // Gives back up to `want` blocks if it can; returns how many it freed.
  using Reclaimer = std::size_t (*)(void* ctx, std::size_t want);

  explicit BlockPool(std::size_t max_blocks = kUnlimited, std::size_t max_cached_slabs = 8)
      : max_blocks_(max_blocks), max_cached_slabs_(max_cached_slabs) {}
  ~BlockPool();
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  // A block of kBlockSize bytes (aligned to 16), or nullptr: the budget is
  // exhausted (after the reclaimer ran, if `may_reclaim`) or the system
  // refused memory. Never throws.
  void* get(bool may_reclaim = true) noexcept;
  void put(void* block) noexcept;

  void set_reclaimer(Reclaimer fn, void* ctx) {
    reclaim_ = fn;
    reclaim_ctx_ = ctx;
  }
  // Gauges kept exact on every change (bytes): blocks handed out, and
  // memory mapped from the system (slabs, cached empty ones included).
  void set_gauges(Gauge* in_use_bytes, Gauge* mapped_bytes);

  std::size_t in_use() const { return in_use_; }  // blocks handed out
  std::size_t max_blocks() const { return max_blocks_; }
  std::size_t available() const { return in_use_ >= max_blocks_ ? 0 : max_blocks_ - in_use_; }
  // Slabs mapped from the system, and the bytes they take.
  std::size_t slabs() const { return slabs_; }
  std::size_t footprint_bytes() const { return slabs_ * kSlabSize; }
  // Blocks that can be handed out without mapping a new slab.
  std::size_t cached() const { return slabs_ * kBlocksPerSlab - in_use_; }
  // Requests refused: for lack of budget, or because the system had no memory.
  std::uint64_t budget_failures() const { return budget_failures_; }
  std::uint64_t system_failures() const { return system_failures_; }

 private:
  struct FreeBlock {
    FreeBlock* next;
  };
  struct Slab {
    Slab* prev;
    Slab* next;
    FreeBlock* free;  // blocks given back (never-used ones are carved)
    std::uint32_t used;
    std::uint32_t carved;  // blocks handed out at least once (lazy carving)
    bool full;             // on full_ rather than partial_ / empty_
  };
  static Slab* slab_of(void* block) {
    return reinterpret_cast<Slab*>(reinterpret_cast<std::uintptr_t>(block) & ~(kSlabSize - 1));
  }
  static void unlink(Slab*& head, Slab* s);
  static void push(Slab*& head, Slab* s);
  Slab* map_slab() noexcept;
  void unmap_slab(Slab* s) noexcept;
  void publish();

  Slab* partial_ = nullptr;  // slabs with used > 0 and a free block
  Slab* full_ = nullptr;     // slabs with every block handed out
  Slab* empty_ = nullptr;    // slabs with used == 0 (at most max_cached_slabs_)
  std::size_t max_blocks_;
  std::size_t max_cached_slabs_;
  std::size_t in_use_ = 0;
  std::size_t slabs_ = 0;
  std::size_t empty_count_ = 0;
  std::uint64_t budget_failures_ = 0;
  std::uint64_t system_failures_ = 0;
  Reclaimer reclaim_ = nullptr;
  void* reclaim_ctx_ = nullptr;
  bool reclaiming_ = false;
  Gauge* in_use_gauge_ = nullptr;
  Gauge* mapped_gauge_ = nullptr;
};

}  // namespace shardtcp::tcp
