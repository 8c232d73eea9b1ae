// The per-core payload memory budget seen from the Stack (issue 9):
// borrowing reassembly queues and SACK scoreboards without throwing, pruning
// out-of-order data under pressure, and waking senders when memory frees.
//
// Rationale: memory a peer can pin (send buffers of a reader that never
// reads, out-of-order data behind a hole it never fills, in-order bytes held
// for a paused application) is bounded by one budget per core (BlockPool).
// Under pressure the stack behaves as Linux does under tcp_mem pressure:
//   1. out-of-order data goes first (tcp_prune_ofo_queue): it was never
//      acknowledged cumulatively, so the peer still has it (RFC 2018 §8
//      allows a receiver to discard SACKed data);
//   2. at the pressure mark (3/4) new out-of-order data is not stored and
//      senders are throttled: send() takes no new chunk for a connection
//      that already has bytes queued (those still go out, and ACKs free
//      them), while a connection with an empty buffer may take one chunk
//      (Linux: sk_stream_moderate_sndbuf(), and the per-socket minimum
//      that keeps every socket moving);
//   3. above the high-water mark (7/8) new connections are refused and
//      counted, so established connections keep what is left; a new
//      connection is refused only after bulk senders were throttled, so
//      they cannot lock new clients out;
//   4. at the budget, in-order data that cannot be stored is dropped
//      without an ACK (the peer retransmits), and send() takes nothing.
#include "stack_impl.h"

namespace shardtcp::tcp {

bool StackImpl::shed_new_connection() {
  if (accept_paused_) return true;
  if (!mem_high_water()) return false;
  ctr_.mem_syn_drops.inc();
  return true;
}

ReassemblyQueue* StackImpl::get_reasm(Tcb& t) {
  ReassemblyQueue* q = reasm_.get(&blocks_);
  if (q == nullptr) {
    ctr_.mem_alloc_failures.inc();
    return nullptr;
  }
  q->owner = &t;
  return q;
}

void StackImpl::put_reasm(ReassemblyQueue* q) {
  ooo_untrack(*q);
  q->owner = nullptr;
  reasm_.put(q);
}

SackScoreboard* StackImpl::get_sacks() {
  SackScoreboard* s = sacks_.get();
  if (s == nullptr) ctr_.mem_alloc_failures.inc();  // SACK info is advisory: go on without
  return s;
}

void StackImpl::ooo_track(ReassemblyQueue& q) {
  if (q.ooo_listed) return;
  q.ooo_listed = true;
  q.lru_prev = ooo_tail_;
  q.lru_next = nullptr;
  if (ooo_tail_ != nullptr) {
    ooo_tail_->lru_next = &q;
  } else {
    ooo_head_ = &q;
  }
  ooo_tail_ = &q;
}

void StackImpl::ooo_untrack(ReassemblyQueue& q) {
  if (!q.ooo_listed) return;
  q.ooo_listed = false;
  if (q.lru_prev != nullptr) {
    q.lru_prev->lru_next = q.lru_next;
  } else {
    ooo_head_ = q.lru_next;
  }
  if (q.lru_next != nullptr) {
    q.lru_next->lru_prev = q.lru_prev;
  } else {
    ooo_tail_ = q.lru_prev;
  }
  q.lru_prev = q.lru_next = nullptr;
}

// Linux tcp_prune_ofo_queue(), across the core: the queues that received
// out-of-order data longest ago give theirs back until `want_blocks` are
// free. Each step prunes or forgets one listed queue, so the work is paid
// for by the out-of-order inserts that listed them.
std::size_t StackImpl::prune_ooo_queues(std::size_t want_blocks) {
  const std::size_t before = blocks_.in_use();
  bool counted = false;
  ReassemblyQueue* q = ooo_head_;
  while (q != nullptr && before - blocks_.in_use() < want_blocks) {
    ReassemblyQueue* next = q->lru_next;
    if (!q->busy()) {
      const Tcb& owner = *static_cast<const Tcb*>(q->owner);
      const std::uint32_t n = q->prune_ooo(owner.rcv_nxt);
      if (n > 0) {
        if (!counted) ctr_.mem_prune_calls.inc();
        counted = true;
        ctr_.mem_ofo_pruned.add(n);
      }
      ooo_untrack(*q);  // holds no out-of-order data now
    }
    q = next;
  }
  return before - blocks_.in_use();
}

std::size_t StackImpl::reclaim(void* self, std::size_t want_blocks) {
  return static_cast<StackImpl*>(self)->prune_ooo_queues(want_blocks);
}

std::size_t StackImpl::send_chunk_allowance(const Tcb& t, std::size_t want) {
  const std::size_t mark = mem_pressure_mark();
  if (blocks_.in_use() + want > mark && ooo_head_ != nullptr) {
    prune_ooo_queues(blocks_.in_use() + want - mark);  // out-of-order data goes first
  }
  const std::size_t used = blocks_.in_use();
  std::size_t allow = used < mark ? mark - used : 0;
  if (allow == 0 && t.sndbuf.empty()) allow = 1;  // every connection may hold one chunk
  return std::min(allow, want);
}

bool StackImpl::hold_in_order(Tcb& t, std::uint32_t seq, const std::uint8_t* data,
                              std::uint32_t len) {
  if (t.reasm == nullptr) t.reasm = get_reasm(t);
  if (t.reasm != nullptr) {
    const std::uint32_t limit = t.rcv_held() + t.rcv_wnd();
    if (t.reasm->insert(seq, data, len, t.rcv_read(), limit)) return true;
    // This connection's own out-of-order bytes go before its in-order ones
    // (Linux tcp_prune_queue(): collapse, then prune the ofo queue).
    const std::uint32_t n = t.reasm->prune_ooo(t.rcv_nxt);
    if (n > 0) {
      ctr_.mem_prune_calls.inc();
      ctr_.mem_ofo_pruned.add(n);
      ooo_untrack(*t.reasm);
      if (t.reasm->insert(seq, data, len, t.rcv_read(), limit)) return true;
    }
  }
  // Not stored, so not acknowledged: the peer retransmits it.
  ctr_.mem_rcv_drops.inc();
  ctr_.drop(DropReason::kNoMemory);
  return false;
}

void StackImpl::mem_wait(Tcb& t) {
  if (t.mem_waiting) return;
  const std::size_t pending = mem_wait_.size() - mem_wait_head_;
  if (mem_wait_head_ > 0 && mem_wait_head_ >= pending) {
    // Most entries are done: drop them (amortized O(1) per entry).
    mem_wait_.erase(0, mem_wait_head_);
    mem_wait_head_ = 0;
  }
  if (pending >= 2 * (flows_.size() + 32)) {
    // Stale entries (connections released while waiting) outnumber the
    // live ones: keep only the valid entries, in order.
    std::size_t out = 0;
    for (std::size_t i = mem_wait_head_; i < mem_wait_.size(); ++i) {
      const MemWaiter w = mem_wait_[i];
      Tcb** p = flows_.find(w.tuple);
      if (p != nullptr && *p == w.t && w.t->mem_waiting) mem_wait_[out++] = w;
    }
    mem_wait_.truncate(out);
    mem_wait_head_ = 0;
  }
  if (!mem_wait_.push_back(MemWaiter{&t, t.tuple})) {
    // No memory for the entry: the connection still hears on_writable from
    // its own ACKs if it has data in flight.
    ctr_.mem_alloc_failures.inc();
    return;
  }
  t.mem_waiting = true;
}

void StackImpl::mem_unwait(Tcb& t) { t.mem_waiting = false; }  // its entry goes stale

// Called at the end of input()/poll(): once memory is below the pressure
// mark again, the connections that send() turned away hear on_writable,
// oldest first, until it is reached again (Linux sk_stream_write_space()).
// One turned away again is queued behind; each entry is visited once per
// call.
void StackImpl::wake_mem_waiters() {
  const std::size_t end = mem_wait_.size();
  while (mem_wait_head_ < end && !mem_pressure()) {
    const MemWaiter w = mem_wait_[mem_wait_head_++];  // a copy: send() may append
    Tcb** p = flows_.find(w.tuple);
    if (p == nullptr || *p != w.t || !w.t->mem_waiting) continue;  // stale
    Tcb& t = *w.t;
    t.mem_waiting = false;
    if (t.dead || !t.app_owned || t.orphan || !t.want_writable || send_space(t) == 0) continue;
    t.want_writable = false;
    if (t.handlers->on_writable != nullptr) t.handlers->on_writable(t);
  }
  if (mem_wait_head_ == mem_wait_.size()) {
    mem_wait_.clear();
    mem_wait_head_ = 0;
  }
}

}  // namespace shardtcp::tcp
