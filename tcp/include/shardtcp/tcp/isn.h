// RFC 6528 initial sequence numbers: ISN = M + F(4-tuple, secret), where M is
// a 4-microsecond clock and F a keyed hash (SipHash-2-4 here).
#pragma once

#include <cstddef>
#include <cstdint>

#include "shardtcp/tcp/types.h"

namespace shardtcp::tcp {

// SipHash-2-4 (Aumasson & Bernstein), the reference function: key[0] / key[1]
// are the key's bytes 0-7 / 8-15 read little-endian, the message is bytes.
std::uint64_t siphash24(const void* data, std::size_t len, const std::uint64_t key[2]);

// SipHash-2-4 over a 4-tuple (also the keyed hash of the connection table).
// The 12 message bytes are, little-endian: local_ip, remote_ip, local_port,
// remote_port (fixed order, independent of the struct's layout).
std::uint64_t siphash_tuple(const FourTuple& t, const std::uint64_t key[2]);

class IsnGenerator {
 public:
  // key {0,0} draws a random key from std::random_device.
  explicit IsnGenerator(const std::uint64_t key[2]);
  // RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey).
  std::uint32_t isn(const FourTuple& t, TimeUs now) const;
  const std::uint64_t* key() const { return key_; }

 private:
  std::uint64_t key_[2];
  // F's key is derived from key_ (domain separation): handing the same secret
  // to the ISN generator and to the connection table must not let a peer who
  // sees ISNs learn the table's hash bits (and aim collisions at it).
  std::uint64_t f_key_[2];
};

}  // namespace shardtcp::tcp
