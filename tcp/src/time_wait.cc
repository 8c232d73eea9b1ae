// Compact TIME-WAIT store; see time_wait.h for the design.
#include "shardtcp/tcp/time_wait.h"

#include <algorithm>
#include <new>
#include <random>

namespace shardtcp::tcp {

namespace {

struct RandomKey {
  std::uint64_t k[2];
  RandomKey() {
    std::random_device rd;
    for (auto& x : k) x = (static_cast<std::uint64_t>(rd()) << 32) | rd();
  }
};

// The index starts small and grows incrementally with the number of entries.
constexpr std::size_t kInitialIndex = 1024;

}  // namespace

TimeWaitStore::TimeWaitStore(const std::uint64_t key[2], std::size_t capacity, TimeUs timeout)
    : index_(key, std::min<std::size_t>(kInitialIndex, capacity)),
      // Entry indices are 32-bit with one value reserved for "nil".
      capacity_(capacity < kNil ? capacity : kNil - 1),
      timeout_(timeout) {
  // Start-up: room for every chunk the capacity allows, so alloc() never
  // reallocates the vector (issue 9: nothing on the data path throws).
  chunks_.reserve(capacity_ / kChunkSize + 1);
}

TimeWaitStore::TimeWaitStore(std::size_t capacity, TimeUs timeout)
    : TimeWaitStore(RandomKey().k, capacity, timeout) {}

TimeWaitStore::~TimeWaitStore() = default;

std::uint32_t TimeWaitStore::index_of(const TimeWaitEntry* e) {
  // The tuple is the key: one index lookup is cheaper than searching chunks.
  // `e` must be an entry of this store (it came from find() or insert()).
  const std::uint32_t* i = index_.find(e->tuple);
  return i != nullptr ? *i : kNil;
}

TimeWaitEntry* TimeWaitStore::find(const FourTuple& t) {
  const std::uint32_t* i = index_.find(t);
  return i == nullptr ? nullptr : &at(*i);
}

std::uint32_t TimeWaitStore::alloc() {
  if (free_ != kNil) {
    const std::uint32_t i = free_;
    free_ = at(i).next;
    return i;
  }
  if ((allocated_ & (kChunkSize - 1)) == 0) {
    // Nothrow, no zeroing pass (every field is written on insert); a refusal
    // makes the caller recycle the oldest entry instead.
    if (chunks_.size() == chunks_.capacity()) return kNil;
    std::unique_ptr<TimeWaitEntry[]> c(new (std::nothrow) TimeWaitEntry[chunk_len()]);
    if (c == nullptr) return kNil;
    chunks_.push_back(std::move(c));
  }
  return allocated_++;
}

void TimeWaitStore::link_tail(std::uint32_t i) {
  TimeWaitEntry& e = at(i);
  e.prev = tail_;
  e.next = kNil;
  if (tail_ != kNil) {
    at(tail_).next = i;
  } else {
    head_ = i;
  }
  tail_ = i;
}

void TimeWaitStore::unlink(std::uint32_t i) {
  TimeWaitEntry& e = at(i);
  if (e.prev != kNil) {
    at(e.prev).next = e.next;
  } else {
    head_ = e.next;
  }
  if (e.next != kNil) {
    at(e.next).prev = e.prev;
  } else {
    tail_ = e.prev;
  }
}

void TimeWaitStore::remove(std::uint32_t i) {
  unlink(i);
  TimeWaitEntry& e = at(i);
  index_.erase(e.tuple);
  e.next = free_;
  free_ = i;
  --size_;
}

TimeWaitEntry* TimeWaitStore::insert(const TimeWaitEntry& e, TimeUs now, bool* recycled) {
  if (recycled != nullptr) *recycled = false;
  if (capacity_ == 0) return nullptr;
  if (const std::uint32_t* existing = index_.find(e.tuple)) {
    // Same 4-tuple again (e.g. reopened and closed within 2*MSL): overwrite.
    const std::uint32_t i = *existing;
    unlink(i);
    TimeWaitEntry& slot = at(i);
    slot = e;
    slot.expiry = now + timeout_;
    link_tail(i);
    return &slot;
  }
  if (size_ >= capacity_) {
    // Degrade, never fail: the oldest entry is the one closest to expiring
    // anyway. The caller counts the recycling.
    remove(head_);
    if (recycled != nullptr) *recycled = true;
  }
  std::uint32_t i = alloc();
  if (i == kNil && size_ > 0) {
    // No memory for a new chunk: recycle the oldest entry, as at capacity.
    remove(head_);
    if (recycled != nullptr) *recycled = true;
    i = alloc();
  }
  if (i == kNil) return nullptr;     // the caller goes straight to CLOSED
  if (!index_.insert(e.tuple, i)) {  // the index could not grow: same
    at(i).next = free_;
    free_ = i;
    return nullptr;
  }
  TimeWaitEntry& slot = at(i);
  slot = e;
  slot.expiry = now + timeout_;
  link_tail(i);
  ++size_;
  return &slot;
}

void TimeWaitStore::restart(TimeWaitEntry* e, TimeUs now) {
  const std::uint32_t i = index_of(e);
  if (i == kNil) return;
  unlink(i);
  e->expiry = now + timeout_;
  link_tail(i);
}

void TimeWaitStore::erase(TimeWaitEntry* e) {
  const std::uint32_t i = index_of(e);
  if (i != kNil) remove(i);
}

bool TimeWaitStore::erase(const FourTuple& t) {
  const std::uint32_t* i = index_.find(t);
  if (i == nullptr) return false;
  remove(*i);
  return true;
}

std::size_t TimeWaitStore::memory_bytes() const {
  return sizeof(*this) + index_.memory_bytes() + chunks_.capacity() * sizeof(chunks_[0]) +
         chunks_.size() * chunk_len() * sizeof(TimeWaitEntry);
}

}  // namespace shardtcp::tcp
