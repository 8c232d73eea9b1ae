// Compact TIME-WAIT store, one per core (DESIGN.md "Per-core state").
//
// On entering TIME-WAIT the engine releases the full TCB, its buffers and the
// application's context; what remains is a TimeWaitEntry holding just enough
// to (a) answer a retransmitted FIN with the right ACK (seq = snd_nxt,
// ack = rcv_nxt, window), (b) ignore RSTs (RFC 1337) and apply PAWS
// (RFC 7323 §5), and (c) judge whether a new SYN may reopen the 4-tuple
// (RFC 6191: timestamp newer than ts_recent, or ISN beyond rcv_nxt).
//
// The timeout is a constant (2*MSL), so expiry order == insertion order and a
// FIFO replaces the timer wheel: expire() pops from the head while the head's
// expiry <= now. A restarted entry (FIN retransmitted) moves to the tail with
// a new expiry, which keeps the FIFO sorted.
//
// Memory: entries live in chunks of a pooled array with a free list (no
// per-entry malloc), linked by 32-bit indices; lookup is a FlowTable<uint32_t>
// from the 4-tuple to the entry index. When `capacity` entries are live, an
// insert recycles the OLDEST entry (the FIFO head) and says so, so memory is
// bounded and a flood of closes degrades gracefully instead of failing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "shardtcp/tcp/flow_table.h"
#include "shardtcp/tcp/types.h"

namespace shardtcp::tcp {

struct TimeWaitEntry {
  FourTuple tuple;
  std::uint32_t snd_nxt = 0;    // our FIN's sequence number + 1: seq of the re-ACK
  std::uint32_t rcv_nxt = 0;    // peer's FIN + 1: ack of the re-ACK; RFC 6191 ISN test
  std::uint32_t ts_recent = 0;  // RFC 7323 TS.Recent (valid when ts_ok)
  std::uint32_t ts_offset = 0;  // per-connection TSval offset, if the engine uses one
  std::uint32_t oow_stamp = 0;  // last out-of-window answer (engine's rate limit), 0 = none
  TimeUs expiry = 0;            // set by the store: now + timeout
  std::uint32_t prev = 0;       // FIFO links (entry indices), owned by the store
  std::uint32_t next = 0;
  std::uint16_t window = 0;     // on-wire window field to advertise in the re-ACK
  std::uint8_t snd_wscale = 0;  // peer's window shift
  std::uint8_t rcv_wscale = 0;  // our window shift
  bool ts_ok = false;           // timestamps were negotiated
  bool sack_ok = false;         // SACK was negotiated
  std::uint8_t flags = 0;       // free for the engine
};
static_assert(sizeof(TimeWaitEntry) <= 64, "TIME-WAIT entries must stay compact (issue 4)");

class TimeWaitStore {
 public:
  // key: SipHash key of the index (see FlowTable). capacity 0 disables
  // TIME-WAIT (insert() returns nullptr).
  TimeWaitStore(const std::uint64_t key[2], std::size_t capacity, TimeUs timeout);
  // Same, with a random index key.
  TimeWaitStore(std::size_t capacity, TimeUs timeout);
  ~TimeWaitStore();
  TimeWaitStore(const TimeWaitStore&) = delete;
  TimeWaitStore& operator=(const TimeWaitStore&) = delete;

  TimeWaitEntry* find(const FourTuple& t);

  // Copies `e` in (tuple and state; the store sets expiry and links) with
  // expiry now + timeout. If the tuple is already present its entry is
  // overwritten and restarted. At capacity, the oldest entry is evicted first
  // and *recycled (if given) is set true. The pointer stays valid until the
  // entry is erased, expires or is recycled.
  TimeWaitEntry* insert(const TimeWaitEntry& e, TimeUs now, bool* recycled = nullptr);

  // Timer restart (RFC 9293 §3.10.7.4: a retransmitted FIN restarts the
  // 2*MSL timeout): new expiry, moved to the FIFO tail.
  void restart(TimeWaitEntry* e, TimeUs now);
  void restart(TimeWaitEntry& e, TimeUs now) { restart(&e, now); }

  void erase(TimeWaitEntry* e);
  bool erase(const FourTuple& t);

  // Removes every entry with expiry <= now, oldest first, calling
  // on_expire(const TimeWaitEntry&) for each just before it is freed. Never
  // early. on_expire must not call into the store. Returns the number removed.
  template <class F>
  std::size_t expire(TimeUs now, F&& on_expire) {
    std::size_t n = 0;
    while (head_ != kNil) {
      TimeWaitEntry& e = at(head_);
      if (e.expiry > now) break;
      on_expire(static_cast<const TimeWaitEntry&>(e));
      remove(head_);
      ++n;
    }
    return n;
  }

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }
  TimeUs timeout() const { return timeout_; }
  // Expiry of the oldest entry (kNever when empty).
  TimeUs next_expiry() const { return head_ == kNil ? kNever : chunk_at(head_).expiry; }
  // Pool chunks allocated + the index; divide by size() for bytes per entry.
  std::size_t memory_bytes() const;

 private:
  static constexpr std::uint32_t kNil = ~std::uint32_t{0};
  // 4096 entries (<= 256 KiB) per chunk: growth is gradual and pointers to
  // entries stay valid because chunks never move.
  static constexpr unsigned kChunkBits = 12;
  static constexpr std::uint32_t kChunkSize = 1u << kChunkBits;

  // Entries per chunk: a store smaller than one chunk has one chunk of its
  // capacity (allocated_ never passes capacity_: entries are recycled first).
  std::size_t chunk_len() const { return capacity_ < kChunkSize ? capacity_ : kChunkSize; }
  TimeWaitEntry& at(std::uint32_t i) { return chunks_[i >> kChunkBits][i & (kChunkSize - 1)]; }
  const TimeWaitEntry& chunk_at(std::uint32_t i) const {
    return chunks_[i >> kChunkBits][i & (kChunkSize - 1)];
  }
  std::uint32_t index_of(const TimeWaitEntry* e);
  std::uint32_t alloc();
  void link_tail(std::uint32_t i);
  void unlink(std::uint32_t i);
  void remove(std::uint32_t i);  // unlink + index erase + free list

  FlowTable<std::uint32_t> index_;
  std::vector<std::unique_ptr<TimeWaitEntry[]>> chunks_;
  std::size_t capacity_;
  TimeUs timeout_;
  std::size_t size_ = 0;
  std::uint32_t allocated_ = 0;  // entries handed out from chunks so far
  std::uint32_t free_ = kNil;    // free list through TimeWaitEntry::next
  std::uint32_t head_ = kNil;    // oldest
  std::uint32_t tail_ = kNil;    // newest
};

}  // namespace shardtcp::tcp
