// Receive-side reassembly of out-of-order bytes for one connection
// (RFC 9293 §3.10.7.4 "seventh, process the segment text": segments beyond
// RCV.NXT are held until the gap is filled), plus the SACK blocks that
// describe them (RFC 2018 §4).
//
// Memory. Bytes are copied into fixed-size pages (kPageSize, a power of two
// dividing 2^32, so a page is addressed by its absolute sequence number and
// wraparound needs no special case). Pages come from the core's BlockPool —
// the per-core payload budget, slabs that go back to the system when idle —
// or from operator new (nothrow) when no pool is given. Only bytes inside
// [RCV.NXT, RCV.NXT + limit) are ever stored, so a queue holds at most
// limit / kPageSize + 2 pages: memory is bounded by the receive window. The
// range list is capped at kMaxRanges; beyond that, or when the pool is
// exhausted, insert() refuses (returns false) and the caller drops and counts
// the segment (DropReason::kNoMemory) — the peer retransmits it. Nothing here
// throws: the two small index arrays grow with nothrow allocation (a refusal
// is a failed insert), are allocated when the queue goes from empty to
// non-empty (once per reordering episode, not per segment) and are released
// when it empties again, so an idle connection holds nothing.
// Under memory pressure the owner may prune_ooo(): out-of-order bytes are
// the first memory given back (RFC 2018 §8 lets a receiver discard data it
// has SACKed; the sender keeps it until it is cumulatively acknowledged).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "block_pool.h"
#include "nothrow_vec.h"
#include "shardtcp/tcp/segment.h"
#include "shardtcp/tcp/seq.h"
#include "shardtcp/tcp/types.h"

namespace shardtcp::tcp {

// Pages come from the core's BlockPool (block_pool.h): the payload memory
// budget shared with send buffers. The old name stays for readability.
using ReassemblyPool = BlockPool;

class ReassemblyQueue {
 public:
  static constexpr std::uint32_t kPageSize = BlockPool::kBlockSize;
  static_assert((kPageSize & (kPageSize - 1)) == 0, "power of two divides 2^32");
  // Distinct (non-adjacent) ranges held at once; more are refused.
  static constexpr int kMaxRanges = 64;

  explicit ReassemblyQueue(BlockPool* pool = nullptr) : pool_(pool) {}
  ~ReassemblyQueue() { release_all(); }
  ReassemblyQueue(const ReassemblyQueue&) = delete;
  ReassemblyQueue& operator=(const ReassemblyQueue&) = delete;
  ReassemblyQueue(ReassemblyQueue&& o) noexcept;
  ReassemblyQueue& operator=(ReassemblyQueue&& o) noexcept;

  // Stores the part of [seq, seq+len) that lies in [rcv_nxt, rcv_nxt +
  // rcv_wnd_limit) and is not already held (duplicates are trimmed, overlaps
  // merged). Returns false, storing nothing, when memory or range slots run
  // out. Storing nothing because everything was duplicate/out of window
  // returns true. `may_reclaim`: a page the budget refuses may be made by
  // pruning other queues (false for out-of-order data: it never evicts).
  bool insert(std::uint32_t seq, const std::uint8_t* data, std::uint32_t len, std::uint32_t rcv_nxt,
              std::uint32_t rcv_wnd_limit, bool may_reclaim = true);

  // Memory pressure: drops every byte held beyond `rcv_nxt` (out of order,
  // not yet acknowledged) and a FIN remembered there, keeps the in-order
  // bytes held below it, frees the pages. Returns the bytes dropped.
  std::uint32_t prune_ooo(std::uint32_t rcv_nxt);
  // Out-of-order bytes held beyond `rcv_nxt`.
  std::uint32_t ooo_bytes(std::uint32_t rcv_nxt) const;
  // Inside insert() or deliver(): the page index must not change under it.
  bool busy() const { return delivering_ || inserting_; }
  std::size_t pages() const { return pages_.size(); }

  // The Stack's bookkeeping: which connection owns the queue, and the list of
  // queues in use (the order in which memory pressure prunes them).
  void* owner = nullptr;
  ReassemblyQueue* lru_prev = nullptr;
  ReassemblyQueue* lru_next = nullptr;
  bool ooo_listed = false;

  // Calls f(ByteView) for every byte contiguous at rcv_nxt, in order (one
  // call per page-sized piece), removes them and returns how many bytes were
  // delivered. Bytes held below rcv_nxt (the caller already took them in
  // order) are discarded first. The views are valid only during the call.
  // f may call clear() (e.g. the application aborted); it must not insert().
  template <class F>
  std::uint32_t deliver(std::uint32_t rcv_nxt, F&& f) {
    return deliver(rcv_nxt, static_cast<F&&>(f), [] { return false; });
  }
  // As above, but stop() is asked before each piece: when it returns true
  // the rest stays queued (the application paused receiving).
  template <class F, class Stop>
  std::uint32_t deliver(std::uint32_t rcv_nxt, F&& f, Stop&& stop);

  // Forgets every byte below `seq` (already taken in order).
  void discard_below(std::uint32_t seq) { trim_below(seq); }
  // The sequence number just past the bytes held contiguously from `seq`
  // (`seq` itself when the byte at `seq` is not held).
  std::uint32_t contiguous_end(std::uint32_t seq) const;

  // An out-of-order FIN was seen at `seq` (the sequence number the FIN
  // occupies). The engine processes it once RCV.NXT reaches it.
  void set_fin(std::uint32_t seq) { fin_ = seq; }
  std::optional<std::uint32_t> fin_seq() const { return fin_; }
  void clear_fin() { fin_.reset(); }

  // In-order bytes held for an application that paused receiving: the
  // front of the queue, below the owner's RCV.NXT. The owner keeps the
  // count (the queue only stores it, so a Tcb stays small); emptied with
  // the queue.
  std::uint32_t held_in_order() const { return held_in_order_; }
  void set_held_in_order(std::uint32_t n) { held_in_order_ = n; }
  // True while deliver() is running (inside its callback).
  bool delivering() const { return delivering_; }
  // Bytes held (out of order, not yet delivered).
  std::uint32_t bytes() const { return bytes_; }
  // No bytes held (a remembered FIN does not count).
  bool empty() const { return ranges_.empty(); }
  int range_count() const { return static_cast<int>(ranges_.size()); }
  // True if the byte at `seq` is held.
  bool contains(std::uint32_t seq) const;

  // RFC 2018 §4: fills up to `max` blocks; the first contains the most
  // recently received segment, the rest follow in order of most recent
  // arrival (approximating "most recently reported"). Returns the count.
  // Ranges starting at or below `rcv_nxt` (bytes received in order but not
  // yet read by the application) are not SACK blocks and are skipped.
  int sack_blocks(SackBlock* out, int max, std::uint32_t rcv_nxt) const;
  // RFC 2883 §4: the lowest part of [seq, end) already held beyond
  // `rcv_nxt` (a duplicate of out-of-order data), or nullopt.
  std::optional<SackBlock> first_overlap(std::uint32_t seq, std::uint32_t end,
                                         std::uint32_t rcv_nxt) const;

  // Drops all bytes and the FIN, frees all memory.
  void clear();

 private:
  struct Range {
    std::uint32_t left;
    std::uint32_t right;
    std::uint32_t stamp;  // arrival order of the newest segment in it
  };
  struct Page {
    std::uint32_t seq;  // page-aligned absolute sequence number
    std::uint8_t* data;
  };

  static std::uint32_t page_of(std::uint32_t seq) { return seq & ~(kPageSize - 1); }
  // Index of the first page whose seq is not below `pseq`.
  std::size_t page_lower_bound(std::uint32_t pseq) const;
  std::uint8_t* alloc_page();
  void free_page(std::uint8_t* p);
  bool ensure_pages(std::uint32_t s, std::uint32_t e);
  void copy_in(std::uint32_t seq, const std::uint8_t* src, std::uint32_t n);
  void free_pages_unused();
  void release_all();
  void trim_below(std::uint32_t rcv_nxt);
  void requeue_front(std::uint32_t left, std::uint32_t right);

  BlockPool* pool_;
  NothrowVec<Range> ranges_;  // sorted, disjoint and non-adjacent
  NothrowVec<Page> pages_;    // sorted by seq
  std::optional<std::uint32_t> fin_;
  std::uint32_t bytes_ = 0;
  std::uint32_t held_in_order_ = 0;
  std::uint32_t stamp_ = 0;
  bool delivering_ = false;
  bool inserting_ = false;
  bool may_reclaim_ = true;
  bool clear_pending_ = false;
};

template <class F, class Stop>
std::uint32_t ReassemblyQueue::deliver(std::uint32_t rcv_nxt, F&& f, Stop&& stop) {
  trim_below(rcv_nxt);
  if (ranges_.empty() || seq_gt(ranges_.front().left, rcv_nxt)) return 0;
  // ranges_.front() now starts exactly at rcv_nxt (trim_below cut the rest).
  const std::uint32_t end = ranges_.front().right;
  ranges_.erase(0, 1);
  std::uint32_t from = rcv_nxt;
  std::uint32_t total = 0;
  delivering_ = true;
  std::size_t pi = page_lower_bound(page_of(from));
  while (from != end && !clear_pending_) {
    if (stop()) {
      requeue_front(from, end);  // paused: [from, end) stays held
      break;
    }
    const Page& pg = pages_[pi];
    const std::uint32_t off = from - pg.seq;
    const std::uint32_t n = std::min(kPageSize - off, end - from);
    bytes_ -= n;
    total += n;
    from += n;
    // Copy out the pointer first: pages_ is stable during f (clear() defers).
    const ByteView v{pg.data + off, n};
    f(v);
    ++pi;
  }
  delivering_ = false;
  if (clear_pending_) {
    clear_pending_ = false;
    release_all();
  } else {
    free_pages_unused();
  }
  return total;
}

}  // namespace shardtcp::tcp
