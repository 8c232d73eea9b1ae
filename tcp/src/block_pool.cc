// Slab allocator with a budget; see block_pool.h.
#include "block_pool.h"

#include <sys/mman.h>

#include <new>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
// A block given back is poisoned (all but its free-list link), so ASan
// reports any use of payload memory after the owner returned it.
#define STCP_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define STCP_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define STCP_POISON(p, n) static_cast<void>(0)
#define STCP_UNPOISON(p, n) static_cast<void>(0)
#endif

namespace shardtcp::tcp {

static_assert(BlockPool::kSlabSize % BlockPool::kBlockSize == 0);
static_assert((BlockPool::kSlabSize & (BlockPool::kSlabSize - 1)) == 0, "address mask");

BlockPool::~BlockPool() {
  // Blocks still handed out belong to objects being destroyed with the
  // pool's owner; every slab goes back to the system.
  for (Slab** list : {&partial_, &full_, &empty_}) {
    while (*list != nullptr) {
      Slab* s = *list;
      *list = s->next;
      STCP_UNPOISON(s, kSlabSize);
      munmap(s, kSlabSize);
    }
  }
}

void BlockPool::set_gauges(Gauge* in_use_bytes, Gauge* mapped_bytes) {
  in_use_gauge_ = in_use_bytes;
  mapped_gauge_ = mapped_bytes;
  publish();
}

void BlockPool::publish() {
  if (in_use_gauge_ != nullptr) in_use_gauge_->set(static_cast<std::int64_t>(in_use_ * kBlockSize));
  if (mapped_gauge_ != nullptr) mapped_gauge_->set(static_cast<std::int64_t>(slabs_ * kSlabSize));
}

void BlockPool::unlink(Slab*& head, Slab* s) {
  if (s->prev != nullptr) {
    s->prev->next = s->next;
  } else {
    head = s->next;
  }
  if (s->next != nullptr) s->next->prev = s->prev;
  s->prev = s->next = nullptr;
}

void BlockPool::push(Slab*& head, Slab* s) {
  s->prev = nullptr;
  s->next = head;
  if (head != nullptr) head->prev = s;
  head = s;
}

BlockPool::Slab* BlockPool::map_slab() noexcept {
  // Map twice the size and cut away the misaligned ends: the slab is then
  // aligned to kSlabSize, and a block finds its slab with an address mask.
  void* raw =
      mmap(nullptr, 2 * kSlabSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto a = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (a + kSlabSize - 1) & ~(kSlabSize - 1);
  if (aligned > a) munmap(raw, aligned - a);
  const std::uintptr_t tail = aligned + kSlabSize;
  const std::uintptr_t end = a + 2 * kSlabSize;
  if (end > tail) munmap(reinterpret_cast<void*>(tail), end - tail);
  // Anonymous memory is zero: only the header is written, so pages of
  // blocks never used stay unbacked.
  auto* s = new (reinterpret_cast<void*>(aligned)) Slab{nullptr, nullptr, nullptr, 0, 0, false};
  ++slabs_;
  return s;
}

void BlockPool::unmap_slab(Slab* s) noexcept {
  STCP_UNPOISON(s, kSlabSize);  // the next mapping at this address starts clean
  munmap(s, kSlabSize);
  --slabs_;
}

void* BlockPool::get(bool may_reclaim) noexcept {
  if (in_use_ >= max_blocks_ && may_reclaim && reclaim_ != nullptr && !reclaiming_) {
    // Budget exhausted: let the owner give memory back first (out-of-order
    // data), then try again. Not re-entered from inside the reclaimer.
    reclaiming_ = true;
    reclaim_(reclaim_ctx_, 1);
    reclaiming_ = false;
  }
  if (in_use_ >= max_blocks_) {
    ++budget_failures_;
    return nullptr;
  }
  Slab* s = partial_;
  if (s == nullptr) {
    s = empty_;
    if (s != nullptr) {
      unlink(empty_, s);
      --empty_count_;
    } else {
      s = map_slab();
      if (s == nullptr) {
        ++system_failures_;
        return nullptr;
      }
    }
    push(partial_, s);
  }
  void* b;
  if (s->free != nullptr) {
    b = s->free;
    s->free = s->free->next;
  } else {
    // Never-used blocks are carved in order (block 0 is the header).
    b = reinterpret_cast<unsigned char*>(s) + (1 + s->carved) * kBlockSize;
    ++s->carved;
  }
  STCP_UNPOISON(b, kBlockSize);
  ++s->used;
  if (s->used == kBlocksPerSlab) {
    unlink(partial_, s);
    push(full_, s);
    s->full = true;
  }
  ++in_use_;
  publish();
  return b;
}

void BlockPool::put(void* block) noexcept {
  if (block == nullptr) return;
  Slab* s = slab_of(block);
  auto* fb = static_cast<FreeBlock*>(block);
  fb->next = s->free;
  s->free = fb;
  STCP_POISON(static_cast<unsigned char*>(block) + sizeof(FreeBlock),
              kBlockSize - sizeof(FreeBlock));
  --s->used;
  --in_use_;
  if (s->full) {
    unlink(full_, s);
    push(partial_, s);
    s->full = false;
  }
  if (s->used == 0) {
    unlink(partial_, s);
    if (empty_count_ < max_cached_slabs_) {
      push(empty_, s);
      ++empty_count_;
    } else {
      unmap_slab(s);  // idle memory goes back to the system
    }
  }
  publish();
}

}  // namespace shardtcp::tcp
