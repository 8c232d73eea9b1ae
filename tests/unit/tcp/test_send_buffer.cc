// SendBuffer against a std::string model: random appends, trims (ACKs,
// including whole-chunk and exact-boundary ones) and copies (sequential
// segments that use the copy cursor, retransmissions behind it, random
// offsets), byte for byte; every chunk back in the pool at the end.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "send_buffer.h"

namespace shardtcp::tcp {
namespace {

TEST(SendBuffer, MatchesAModelUnderRandomAppendTrimAndCopy) {
  for (std::uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    ChunkPool pool;
    SendBuffer b;
    std::string model;       // bytes in the buffer, head first
    std::uint32_t next = 0;  // offset the next "segment" starts at
    std::uint8_t fill = 0;
    const auto k = static_cast<std::uint32_t>(SendChunk::kSize);
    for (int step = 0; step < 3000; ++step) {
      const unsigned op = rng() % 10;
      if (op < 3) {
        std::string d(1 + rng() % 20000, '\0');
        for (char& ch : d) ch = static_cast<char>(fill++);
        const std::size_t took =
            b.append(pool, reinterpret_cast<const std::uint8_t*>(d.data()), d.size(), 300'000);
        model += d.substr(0, took);
      } else if (op < 5 && !model.empty()) {
        // ACK: arbitrary, or up to the next chunk boundary, or everything.
        std::uint32_t n = static_cast<std::uint32_t>(rng() % (model.size() + 1));
        if (op == 4) n = std::min<std::uint32_t>(static_cast<std::uint32_t>(model.size()), k);
        b.trim(pool, n);
        model.erase(0, n);
        next = next > n ? next - n : 0;
      } else if (!model.empty()) {
        std::uint32_t off = next;
        if (op == 5) off = static_cast<std::uint32_t>(rng() % model.size());  // retransmission
        if (off >= model.size()) off = 0;
        const auto len = std::min<std::uint32_t>(1 + rng() % 1460,
                                                 static_cast<std::uint32_t>(model.size()) - off);
        std::string got(len, '\0');
        b.copy_out(off, len, reinterpret_cast<std::uint8_t*>(got.data()));
        ASSERT_EQ(got, model.substr(off, len)) << "seed " << seed << " step " << step;
        next = off + len;
      }
      ASSERT_EQ(b.size(), model.size());
    }
    b.release(pool);
    EXPECT_EQ(pool.in_use(), 0u);
  }
}

}  // namespace
}  // namespace shardtcp::tcp
