// RFC 6528 initial sequence numbers: ISN = M + F(4-tuple, secret), where M is
// a 4-microsecond clock and F a keyed hash (SipHash-2-4 here).
#pragma once

#include <cstdint>

#include "shardtcp/tcp/types.h"

namespace shardtcp::tcp {

// SipHash-2-4 over a 4-tuple (also the keyed hash of the connection table).
std::uint64_t siphash_tuple(const FourTuple& t, const std::uint64_t key[2]);

class IsnGenerator {
 public:
  // key {0,0} draws a random key from std::random_device.
  explicit IsnGenerator(const std::uint64_t key[2]);
  std::uint32_t isn(const FourTuple& t, TimeUs now) const;
  const std::uint64_t* key() const { return key_; }

 private:
  std::uint64_t key_[2];
};

}  // namespace shardtcp::tcp
