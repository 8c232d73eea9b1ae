// SHA-256 (FIPS 180-4 §6.2), incremental, for verifying downloads in
// shardtcp-loadgen without an extra library dependency. Not constant-time and
// not meant for secrets: it only checks that the bytes received are the bytes
// the server sent.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace shardtcp::app {

class Sha256 {
 public:
  Sha256();
  void update(const std::uint8_t* p, std::size_t n);
  // Finishes the hash (FIPS 180-4 §5.1.1 padding); the object must be reset()
  // before another update().
  std::array<std::uint8_t, 32> finish();
  void reset();

  // Lower-case hex of a digest.
  static std::string hex(const std::array<std::uint8_t, 32>& d);

 private:
  void block(const std::uint8_t* p);

  std::array<std::uint32_t, 8> h_{};
  std::uint8_t buf_[64] = {};
  std::size_t buf_len_ = 0;
  std::uint64_t total_ = 0;  // bytes
};

}  // namespace shardtcp::app
