// Small helpers shared by the dataplane sources (DPDK side only).
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "shardtcp/tcp/types.h"

namespace shardtcp::dataplane {

// rte_pktmbuf_mtod without the C-style cast.
inline std::uint8_t* mbuf_data(rte_mbuf* m) {
  return static_cast<std::uint8_t*>(m->buf_addr) + m->data_off;
}

// Symmetric Toeplitz key (0x6d5a repeated): hash(a->b) == hash(b->a), so both
// directions of a flow land on the same queue / core. 52 bytes covers every
// PMD's key size seen so far (40 for most, 52 for i40e/ice).
inline constexpr std::uint8_t kSymmetricRssKeyLen = 52;
inline constexpr std::uint8_t kSymmetricRssKey[kSymmetricRssKeyLen] = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d,
    0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d,
    0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a};

// Set at port start-up: the RETA size used by owner_core() (128 in software).
void set_reta_size(std::uint32_t n);
// Symmetric Toeplitz hash of a flow (what an RSS NIC with our key computes).
std::uint32_t flow_hash(const tcp::FourTuple& t);
unsigned owner_from_hash(std::uint32_t hash, unsigned num_cores);

}  // namespace shardtcp::dataplane
