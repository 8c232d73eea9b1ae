// SHA-256 against FIPS 180-2 Appendix B vectors and chunked-vs-whole updates.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sha256.h"

namespace shardtcp::app {
namespace {

std::string sha(const std::string& s) {
  Sha256 h;
  h.update(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  return Sha256::hex(h.finish());
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, ChunkingDoesNotMatter) {
  std::vector<std::uint8_t> data(100003);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 31 + 7);
  Sha256 whole;
  whole.update(data.data(), data.size());
  const std::string want = Sha256::hex(whole.finish());
  // Every split length from 1 to 130 bytes crosses block boundaries in every phase.
  for (std::size_t step = 1; step <= 130; ++step) {
    Sha256 h;
    for (std::size_t off = 0; off < data.size(); off += step) {
      h.update(data.data() + off, std::min(step, data.size() - off));
    }
    ASSERT_EQ(Sha256::hex(h.finish()), want) << "step " << step;
  }
}

// Lengths around the padding boundary (55, 56, 63, 64 bytes).
TEST(Sha256, PaddingBoundaries) {
  EXPECT_EQ(sha(std::string(55, 'a')),
            "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(sha(std::string(56, 'a')),
            "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(sha(std::string(64, 'a')),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

}  // namespace
}  // namespace shardtcp::app
