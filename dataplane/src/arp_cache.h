// Per-core ARP cache (RFC 826): IPv4 -> MAC with expiry, a bounded number of
// entries, and a few packets queued per unresolved next hop.
//
// Open addressing with linear probing and backward-shift deletion (no
// tombstones), sized once at start-up: lookups and inserts never allocate.
// Entries past their expiry stay usable ("stale", as Linux does) while a
// refresh request is outstanding, so a busy flow never stalls on expiry.
#pragma once

#include <cstdint>
#include <vector>

#include "shardtcp/tcp/types.h"

struct rte_mbuf;

namespace shardtcp::dataplane {

struct MacAddr {
  std::uint8_t b[6] = {};
  friend bool operator==(const MacAddr&, const MacAddr&) = default;
};

class ArpCache {
 public:
  static constexpr unsigned kMaxPending = 4;   // packets queued per unresolved entry
  static constexpr unsigned kMaxRequests = 3;  // requests before giving up
  static constexpr tcp::TimeUs kRetryUs = 1'000'000;

  struct Entry {
    tcp::Ipv4 ip = 0;  // 0 = empty slot
    bool resolved = false;
    std::uint8_t requests = 0;  // requests sent since the last answer
    std::uint8_t npending = 0;
    MacAddr mac;
    tcp::TimeUs expires = 0;       // resolved: stale after this
    tcp::TimeUs last_request = 0;  // for rate limiting (one per kRetryUs)
    rte_mbuf* pending[kMaxPending] = {};
  };

  ArpCache(std::uint32_t max_entries, tcp::TimeUs timeout);

  // Resolved (possibly stale) entry for ip, or nullptr.
  Entry* find(tcp::Ipv4 ip);
  // Finds or creates an unresolved entry; nullptr when the table is full.
  Entry* find_or_create(tcp::Ipv4 ip);
  // Records ip -> mac (from an ARP packet). `create`: add if absent (RFC 826:
  // only when the packet was addressed to us). Returns the entry or nullptr.
  Entry* learn(tcp::Ipv4 ip, const MacAddr& mac, tcp::TimeUs now, bool create);
  void erase(Entry* e);

  std::uint32_t size() const { return size_; }
  std::uint32_t max_entries() const { return max_entries_; }
  tcp::TimeUs timeout() const { return timeout_; }
  // Visits every entry (slot order); the callback may not insert or erase.
  template <typename F>
  void for_each(F&& f) {
    for (Entry& e : slots_) {
      if (e.ip != 0) f(e);
    }
  }

 private:
  std::uint32_t slot_of(tcp::Ipv4 ip) const;

  std::vector<Entry> slots_;
  std::uint32_t mask_ = 0;
  std::uint32_t size_ = 0;
  std::uint32_t max_entries_ = 0;
  tcp::TimeUs timeout_ = 0;
};

}  // namespace shardtcp::dataplane
