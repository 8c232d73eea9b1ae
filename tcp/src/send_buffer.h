// The per-connection send buffer: a FIFO of bytes stored in fixed-size chunks
// taken from the core's BlockPool (the payload memory budget).
//
// Rationale: an idle connection must cost no buffer memory (issue 4: <= 512 B
// per established connection), so a SendBuffer is three words when empty and
// takes chunks only while bytes are queued. Chunks come from a per-core slab
// pool with a budget; steady state allocates nothing per packet, and when the
// budget is exhausted append() takes fewer bytes (never throws).
//
// Byte 0 of the buffer is the oldest unacknowledged byte (SND.UNA for data).
// OutSegment::payload_offset is an offset from that head; the engine only
// trims the head while processing an incoming ACK, before it emits anything
// for that connection, so offsets in the output vector stay valid until the
// dataplane drains it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "block_pool.h"
#include "shardtcp/tcp/segment.h"

namespace shardtcp::tcp {

struct SendChunk {
  static constexpr std::size_t kSize = 2048 - sizeof(void*);
  SendChunk* next = nullptr;
  std::uint8_t data[kSize];
};
static_assert(sizeof(SendChunk) == 2048);

// Chunks are blocks of the core's BlockPool (block_pool.h): the per-core
// payload budget. The old name stays for readability.
using ChunkPool = BlockPool;
static_assert(sizeof(SendChunk) == BlockPool::kBlockSize);

class SendBuffer {
 public:
  SendBuffer() = default;
  SendBuffer(const SendBuffer&) = delete;
  SendBuffer& operator=(const SendBuffer&) = delete;

  std::uint32_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Appends up to `len` bytes; returns how many were taken (never more than
  // `limit - size()`; fewer when the pool refuses a chunk or `max_chunks`
  // new chunks are full).
  std::size_t append(ChunkPool& pool, const std::uint8_t* data, std::size_t len,
                     std::uint32_t limit, std::size_t max_chunks = ~std::size_t{0});
  // New chunks that appending `n` bytes needs.
  std::size_t chunks_needed(std::size_t n) const;
  // Drops `n` bytes from the head (acknowledged data) and returns emptied
  // chunks to the pool.
  void trim(ChunkPool& pool, std::uint32_t n);
  // Returns every chunk to the pool.
  void release(ChunkPool& pool);
  // Copies `len` bytes starting `offset` bytes after the head to dst.
  // Sequential copies (each segment after the previous one) continue from
  // where the last one ended: O(1) per segment instead of a walk over every
  // chunk in flight (the cursor; a copy behind it walks from the head).
  void copy_out(std::uint32_t offset, std::uint32_t len, std::uint8_t* dst) const;

 private:
  SendChunk* head_ = nullptr;
  SendChunk* tail_ = nullptr;
  // The chunk the last copy_out() ended in and the position of its first
  // byte counted from head_'s first byte (a multiple of kSize); null = none.
  mutable const SendChunk* cursor_ = nullptr;
  std::uint32_t head_off_ = 0;  // first valid byte within head_
  std::uint32_t size_ = 0;
  mutable std::uint32_t cursor_pos_ = 0;
};

}  // namespace shardtcp::tcp
