#include "send_buffer.h"

#include <algorithm>
#include <cstring>

namespace shardtcp::tcp {

SendChunk* ChunkPool::get() {
  if (free_ == nullptr) {
    // Growth happens in slabs, only while more bytes are queued than ever
    // before on this core; steady state reuses the free list.
    auto slab = std::make_unique<SendChunk[]>(kSlab);
    for (std::size_t i = 0; i < kSlab; ++i) {
      slab[i].next = free_;
      free_ = &slab[i];
    }
    slabs_.push_back(std::move(slab));
  }
  SendChunk* c = free_;
  free_ = c->next;
  c->next = nullptr;
  ++in_use_;
  return c;
}

void ChunkPool::put(SendChunk* c) {
  c->next = free_;
  free_ = c;
  --in_use_;
}

void ChunkPool::put_list(SendChunk* head) {
  while (head != nullptr) {
    SendChunk* next = head->next;
    put(head);
    head = next;
  }
}

std::size_t SendBuffer::append(ChunkPool& pool, const std::uint8_t* data, std::size_t len,
                               std::uint32_t limit) {
  if (size_ >= limit) return 0;
  std::size_t room = limit - size_;
  std::size_t todo = std::min(len, room);
  std::size_t done = 0;
  while (done < todo) {
    // Every chunk but the tail is full, so the tail's fill level is the
    // logical end modulo the chunk size (0 on a non-empty tail means full).
    std::size_t tail_used = SendChunk::kSize;  // no tail: forces a new chunk
    if (tail_ != nullptr) {
      tail_used = (head_off_ + size_ + done) % SendChunk::kSize;
      if (tail_used == 0) tail_used = SendChunk::kSize;
    }
    if (tail_used == SendChunk::kSize) {
      SendChunk* c = pool.get();
      if (tail_ == nullptr) {
        head_ = tail_ = c;
        head_off_ = 0;
      } else {
        tail_->next = c;
        tail_ = c;
      }
      tail_used = 0;
    }
    const std::size_t n = std::min(todo - done, SendChunk::kSize - tail_used);
    std::memcpy(tail_->data + tail_used, data + done, n);
    done += n;
  }
  // done <= limit - size_ (a uint32_t): the sum stays within uint32_t.
  size_ += static_cast<std::uint32_t>(done);
  return done;
}

void SendBuffer::trim(ChunkPool& pool, std::uint32_t n) {
  n = std::min(n, size_);
  size_ -= n;
  std::size_t off = head_off_ + n;
  while (head_ != nullptr && off >= SendChunk::kSize) {
    // When the buffer becomes empty exactly at a chunk boundary the tail
    // chunk goes too.
    SendChunk* next = head_->next;
    if (head_ == tail_ && size_ > 0) break;
    // The cursor counts from head_: it moves back a chunk, or goes with it.
    if (cursor_ == head_) {
      cursor_ = nullptr;
    } else if (cursor_ != nullptr) {
      cursor_pos_ -= static_cast<std::uint32_t>(SendChunk::kSize);
    }
    pool.put(head_);
    head_ = next;
    off -= SendChunk::kSize;
  }
  if (head_ == nullptr) {
    tail_ = nullptr;
    cursor_ = nullptr;
    head_off_ = 0;
    size_ = 0;
    return;
  }
  head_off_ = static_cast<std::uint32_t>(off);
  if (size_ == 0) {
    // Idle connections hold no chunk.
    release(pool);
  }
}

void SendBuffer::release(ChunkPool& pool) {
  pool.put_list(head_);
  head_ = tail_ = nullptr;
  cursor_ = nullptr;
  head_off_ = 0;
  size_ = 0;
}

void SendBuffer::copy_out(std::uint32_t offset, std::uint32_t len, std::uint8_t* dst) const {
  const std::size_t want = head_off_ + static_cast<std::size_t>(offset);
  const SendChunk* c = head_;
  std::size_t base = 0;  // position of c's first byte
  if (cursor_ != nullptr && cursor_pos_ <= want) {
    c = cursor_;
    base = cursor_pos_;
  }
  while (c != nullptr && want - base >= SendChunk::kSize) {
    base += SendChunk::kSize;
    c = c->next;
  }
  std::size_t pos = want - base;
  std::size_t done = 0;
  while (c != nullptr && done < len) {
    const std::size_t n = std::min<std::size_t>(len - done, SendChunk::kSize - pos);
    std::memcpy(dst + done, c->data + pos, n);
    done += n;
    if (done == len) break;
    pos = 0;
    base += SendChunk::kSize;
    c = c->next;
  }
  cursor_ = c;
  cursor_pos_ = static_cast<std::uint32_t>(base);
}

// segment.h: the dataplane copies payload through this (no virtual call).
void copy_payload(const OutSegment& seg, std::uint8_t* dst) {
  if (seg.payload_len == 0 || seg.payload_src == nullptr) return;
  seg.payload_src->copy_out(seg.payload_offset, seg.payload_len, dst);
}

}  // namespace shardtcp::tcp
