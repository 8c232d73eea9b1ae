#include "sha256.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace shardtcp::app {

namespace {
// A context that cannot be made or initialised means libcrypto itself is
// broken (out of memory at start-up): nothing sensible to continue with.
[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "shardtcp-loadgen: libcrypto: %s failed\n", what);
  std::abort();
}
}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) die("EVP_MD_CTX_new");
  reset();
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

Sha256::Sha256(Sha256&& o) noexcept : ctx_(std::exchange(o.ctx_, nullptr)) {}

Sha256& Sha256::operator=(Sha256&& o) noexcept {
  std::swap(ctx_, o.ctx_);
  return *this;
}

void Sha256::reset() {
  if (EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) die("EVP_DigestInit_ex");
}

void Sha256::update(const std::uint8_t* p, std::size_t n) {
  if (EVP_DigestUpdate(ctx_, p, n) != 1) die("EVP_DigestUpdate");
}

std::array<std::uint8_t, 32> Sha256::finish() {
  std::array<std::uint8_t, 32> d{};
  unsigned len = 0;
  if (EVP_DigestFinal_ex(ctx_, d.data(), &len) != 1 || len != d.size()) die("EVP_DigestFinal_ex");
  return d;
}

std::string Sha256::hex(const std::array<std::uint8_t, 32>& d) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(64, '0');
  for (std::size_t i = 0; i < d.size(); ++i) {
    s[2 * i] = kHex[d[i] >> 4];
    s[2 * i + 1] = kHex[d[i] & 15];
  }
  return s;
}

}  // namespace shardtcp::app
