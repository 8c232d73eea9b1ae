// Fair under a full table (issue 9): at tcp.max_connections a new peer that
// proved its address takes the place of the connection that has been idle
// longest, instead of being refused while idle connections hold every slot.
//
// Rationale for an intrusive LRU over sampling the table: eviction must pick
// *the* longest idle connection, not a likely one, so that an attacker who
// keeps many connections barely alive cannot make the choice fall on a busy
// legitimate client, and so that the choice is testable exactly. The list
// costs 16 bytes of link and 4 of stamp per Tcb (Tcb stays within its 512 B
// budget) and, on the data path, one comparison per segment: a connection
// moves to the tail at most once per kLruStepMs, so a busy connection pays a
// list move (three cache lines) a few times a second at most, and the list
// is ordered to within that step. Finding the victim walks from the head
// past connections with data in flight, a bounded number of them.
#include "stack_impl.h"

namespace shardtcp::tcp {

namespace {
constexpr std::uint32_t kLruStepMs = 100;
// Connections with unacknowledged data skipped from the head before giving
// up: those are busy, not idle, and the next segment they get moves them.
constexpr int kEvictScan = 64;
constexpr std::uint16_t kLruStates = State::kEstablished | State::kCloseWait;

std::uint32_t ms_of(TimeUs t) { return static_cast<std::uint32_t>(t / kUsPerMs); }
}  // namespace

void StackImpl::lru_unlink(Tcb& t) {
  if (!t.in_lru) return;
  if (t.lru_prev != nullptr) {
    t.lru_prev->lru_next = t.lru_next;
  } else {
    lru_head_ = t.lru_next;
  }
  if (t.lru_next != nullptr) {
    t.lru_next->lru_prev = t.lru_prev;
  } else {
    lru_tail_ = t.lru_prev;
  }
  t.lru_prev = t.lru_next = nullptr;
  t.in_lru = false;
}

void StackImpl::lru_on_state(Tcb& t, State from, State to) {
  const bool was = in_state(from, kLruStates);
  const bool is = in_state(to, kLruStates);
  if (was == is) return;
  if (!is) {
    lru_unlink(t);
    return;
  }
  t.lru_ms = ms_of(now_);
  t.lru_prev = lru_tail_;
  t.lru_next = nullptr;
  if (lru_tail_ != nullptr) {
    lru_tail_->lru_next = &t;
  } else {
    lru_head_ = &t;
  }
  lru_tail_ = &t;
  t.in_lru = true;
}

void StackImpl::lru_touch(Tcb& t) {
  const std::uint32_t now_ms = ms_of(now_);
  if (now_ms - t.lru_ms < kLruStepMs || lru_tail_ == &t) return;
  lru_unlink(t);
  lru_on_state(t, State::kClosed, t.state);
}

Tcb* StackImpl::idle_victim() {
  if (!cfg_.evict_idle_on_full) return nullptr;
  Tcb* t = lru_head_;
  for (int i = 0; t != nullptr && i < kEvictScan; ++i, t = t->lru_next) {
    // Idle: nothing of ours unacknowledged (the peer owes us nothing).
    if (t->snd_max == t->snd_una && !t->dead) return t;
  }
  return nullptr;
}

bool StackImpl::evict_idle() {
  Tcb* t = idle_victim();
  if (t == nullptr) return false;
  ctr_.idle_evictions.inc();
  ctr_.estab_resets.inc();  // ESTABLISHED / CLOSE-WAIT -> CLOSED by RST
  // As an ABORT (RFC 9293 §3.10.5): <SEQ=SND.NXT><CTL=RST> so the peer
  // learns at once instead of on its next send.
  send_rst(*t);
  close_tcb(*t, CloseReason::kEvicted);
  return true;
}

}  // namespace shardtcp::tcp
