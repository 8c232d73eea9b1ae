#include "arp_cache.h"

#include <bit>

namespace shardtcp::dataplane {

ArpCache::ArpCache(std::uint32_t max_entries, tcp::TimeUs timeout)
    : max_entries_(max_entries == 0 ? 1 : max_entries), timeout_(timeout) {
  // Load factor <= 0.5 keeps linear probe sequences short.
  const std::uint32_t cap = std::bit_ceil(max_entries_ * 2u);
  slots_.resize(cap);
  mask_ = cap - 1;
}

std::uint32_t ArpCache::slot_of(tcp::Ipv4 ip) const {
  // Fibonacci hashing: the low bits of neighbouring addresses spread out.
  return static_cast<std::uint32_t>((ip * 0x9E3779B97F4A7C15ull) >> 32) & mask_;
}

ArpCache::Entry* ArpCache::find(tcp::Ipv4 ip) {
  for (std::uint32_t i = slot_of(ip);; i = (i + 1) & mask_) {
    Entry& e = slots_[i];
    if (e.ip == ip) return e.resolved ? &e : nullptr;
    if (e.ip == 0) return nullptr;
  }
}

ArpCache::Entry* ArpCache::find_or_create(tcp::Ipv4 ip) {
  std::uint32_t i = slot_of(ip);
  for (;; i = (i + 1) & mask_) {
    if (slots_[i].ip == ip) return &slots_[i];
    if (slots_[i].ip == 0) break;
  }
  if (size_ >= max_entries_) return nullptr;  // net.arp_max_entries reached
  Entry& e = slots_[i];
  e = Entry{};
  e.ip = ip;
  ++size_;
  return &e;
}

ArpCache::Entry* ArpCache::learn(tcp::Ipv4 ip, const MacAddr& mac, tcp::TimeUs now, bool create) {
  Entry* e = nullptr;
  if (create) {
    e = find_or_create(ip);
  } else {
    for (std::uint32_t i = slot_of(ip);; i = (i + 1) & mask_) {
      if (slots_[i].ip == ip) {
        e = &slots_[i];
        break;
      }
      if (slots_[i].ip == 0) break;
    }
  }
  if (e == nullptr) return nullptr;
  e->mac = mac;
  e->resolved = true;
  e->requests = 0;
  e->expires = now + timeout_;
  return e;
}

void ArpCache::erase(Entry* e) {
  // Backward-shift deletion: move later members of the probe run into the
  // hole so lookups never need tombstones.
  std::uint32_t hole = static_cast<std::uint32_t>(e - slots_.data());
  slots_[hole] = Entry{};
  --size_;
  for (std::uint32_t j = (hole + 1) & mask_; slots_[j].ip != 0; j = (j + 1) & mask_) {
    const std::uint32_t home = slot_of(slots_[j].ip);
    // Entry j may move to the hole if its home is not in (hole, j] cyclically.
    const bool home_between = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (!home_between) {
      slots_[hole] = slots_[j];
      slots_[j] = Entry{};
      hole = j;
    }
  }
}

}  // namespace shardtcp::dataplane
