// SipHash-2-4 and RFC 6528 initial sequence numbers.
#include "shardtcp/tcp/isn.h"

#include <bit>
#include <cstring>
#include <random>

namespace shardtcp::tcp {

namespace {

struct SipState {
  std::uint64_t v0, v1, v2, v3;

  explicit SipState(const std::uint64_t key[2])
      : v0(key[0] ^ 0x736f6d6570736575ULL),
        v1(key[1] ^ 0x646f72616e646f6dULL),
        v2(key[0] ^ 0x6c7967656e657261ULL),
        v3(key[1] ^ 0x7465646279746573ULL) {}

  void round() {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }
  void compress(std::uint64_t m) {  // c = 2 rounds per message word
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  std::uint64_t finish() {  // d = 4 finalization rounds
    v2 ^= 0xff;
    round();
    round();
    round();
    round();
    return v0 ^ v1 ^ v2 ^ v3;
  }
};

std::uint64_t load_le64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

std::uint64_t siphash24(const void* data, std::size_t len, const std::uint64_t key[2]) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  SipState s(key);
  const std::size_t full = len & ~std::size_t{7};
  for (std::size_t i = 0; i < full; i += 8) s.compress(load_le64(p + i));
  // Last word: remaining bytes, length mod 256 in the top byte.
  std::uint64_t b = static_cast<std::uint64_t>(len & 0xff) << 56;
  for (std::size_t i = 0; i < (len & 7); ++i)
    b |= static_cast<std::uint64_t>(p[full + i]) << (8 * i);
  s.compress(b);
  return s.finish();
}

std::uint64_t siphash_tuple(const FourTuple& t, const std::uint64_t key[2]) {
  // Same result as siphash24() over the 12 bytes documented in isn.h, without
  // the byte loop: word 0 = local_ip | remote_ip << 32, last word = ports
  // and the length (12) in the top byte. This is on every lookup of the
  // connection table.
  SipState s(key);
  s.compress(static_cast<std::uint64_t>(t.local_ip) |
             (static_cast<std::uint64_t>(t.remote_ip) << 32));
  s.compress(static_cast<std::uint64_t>(t.local_port) |
             (static_cast<std::uint64_t>(t.remote_port) << 16) | (std::uint64_t{12} << 56));
  return s.finish();
}

IsnGenerator::IsnGenerator(const std::uint64_t key[2]) : key_{key[0], key[1]} {
  if (key_[0] == 0 && key_[1] == 0) {
    std::random_device rd;
    for (auto& k : key_) {
      k = (static_cast<std::uint64_t>(rd()) << 32) | rd();
    }
  }
  static constexpr char kLabel0[] = "shardtcp isn F k0";
  static constexpr char kLabel1[] = "shardtcp isn F k1";
  f_key_[0] = siphash24(kLabel0, sizeof(kLabel0) - 1, key_);
  f_key_[1] = siphash24(kLabel1, sizeof(kLabel1) - 1, key_);
}

std::uint32_t IsnGenerator::isn(const FourTuple& t, TimeUs now) const {
  // M: a timer that ticks every 4 us (RFC 6528 §3, as RFC 793 specified).
  const auto m = static_cast<std::uint32_t>(now / 4);
  return m + static_cast<std::uint32_t>(siphash_tuple(t, f_key_));
}

}  // namespace shardtcp::tcp
