// SHA-256 of downloaded bodies for shardtcp-loadgen --sha256, computed by
// OpenSSL's libcrypto (EVP interface). One context per connection slot,
// allocated when the slot is made and reused (reset()) for every connection,
// so the data path does not allocate.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

struct evp_md_ctx_st;

namespace shardtcp::app {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&& o) noexcept;
  Sha256& operator=(Sha256&& o) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const std::uint8_t* p, std::size_t n);
  // Finishes the hash; the object must be reset() before another update().
  std::array<std::uint8_t, 32> finish();
  void reset();

  // Lower-case hex of a digest.
  static std::string hex(const std::array<std::uint8_t, 32>& d);

 private:
  evp_md_ctx_st* ctx_ = nullptr;
};

}  // namespace shardtcp::app
