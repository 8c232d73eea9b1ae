// The transmit path of a core: engine OutSegments -> Ethernet/IPv4/TCP mbufs,
// next-hop ARP resolution (RFC 826) with a few packets queued per unresolved
// entry, tx batching, and the periodic ARP sweep.
#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstring>
#include <span>

#include "core.h"
#include "net_util.h"
#include "shardtcp/tcp/segment.h"

namespace shardtcp::dataplane {

namespace {

constexpr std::uint32_t kEthLen = sizeof(rte_ether_hdr);
constexpr std::uint32_t kIpLen = sizeof(rte_ipv4_hdr);
constexpr std::uint32_t kMinFrame = 60;  // Ethernet minimum without FCS
constexpr unsigned kTxRetries = 3;       // extra tx_burst attempts before dropping

}  // namespace

std::uint32_t Core::drain_output() {
  const std::span<const tcp::OutSegment> out = stack_->output();
  const auto n = static_cast<std::uint32_t>(out.size());
  if (n == 0) return 0;
  for (const tcp::OutSegment& os : out) send_segment(os);
  stack_->clear_output();
  return n;
}

void Core::send_segment(const tcp::OutSegment& os) {
  tcp::Ipv4 next_hop = os.tuple.remote_ip;
  if (((next_hop ^ sh_.ip) & sh_.netmask) != 0) {
    if (sh_.gateway == 0) return dp_.drop(L3DropReason::kNoRoute);
    next_hop = sh_.gateway;
  }
  // Lengths in size_t, never narrowed before they are checked: the header
  // length and payload come from the engine, whose MSS a peer influences.
  const std::size_t thl = tcp::tcp_header_len(os);
  const std::size_t ip_total = std::size_t{kIpLen} + thl + std::size_t{os.payload_len};
  const std::size_t frame = std::size_t{kEthLen} + ip_total;
  // The IPv4 total length is 16 bits (RFC 791).
  if (ip_total > 0xFFFF) return dp_.drop(L3DropReason::kTxFrameTooBig);
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (m == nullptr) return dp_.drop(L3DropReason::kNoMbuf);  // the engine retransmits
  // The frame must fit this mbuf's own room after its headroom (one
  // segment, no chains on tx), checked before anything is written. After
  // this check frame fits uint16_t: rte_pktmbuf_tailroom() is a uint16_t.
  if (frame > rte_pktmbuf_tailroom(m)) {
    rte_pktmbuf_free(m);
    return dp_.drop(L3DropReason::kTxFrameTooBig);
  }
  auto* p =
      reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, static_cast<std::uint16_t>(frame)));
  if (p == nullptr) {  // cannot happen after the tailroom check; counted all the same
    rte_pktmbuf_free(m);
    return dp_.drop(L3DropReason::kTxFrameTooBig);
  }
  auto* eth = reinterpret_cast<rte_ether_hdr*>(p);
  std::memcpy(eth->src_addr.addr_bytes, sh_.mac.b, 6);
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);

  const tcp::Ipv4 src = os.tuple.local_ip != 0 ? os.tuple.local_ip : sh_.ip;
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p + kEthLen);
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->type_of_service = os.ip_ecn & 0x03u;  // DSCP 0; ECN field (RFC 3168 §5)
  ip->total_length = rte_cpu_to_be_16(static_cast<std::uint16_t>(ip_total));  // <= 0xFFFF
  ip->packet_id = rte_cpu_to_be_16(ip_id_++);
  // RFC 1191: DF set; our MSS fits the MTU.
  ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_TCP;
  ip->hdr_checksum = 0;
  ip->src_addr = rte_cpu_to_be_32(src);
  ip->dst_addr = rte_cpu_to_be_32(os.tuple.remote_ip);

  std::uint8_t* th = p + kEthLen + kIpLen;
  tcp::write_tcp_header(os, th);
  if (os.payload_len != 0) tcp::copy_payload(os, th + thl);

  m->l2_len = kEthLen;
  m->l3_len = kIpLen;
  if (sh_.features.tx_ip_cksum) {
    m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
  } else {
    ip->hdr_checksum = rte_ipv4_cksum(ip);
  }
  if (sh_.features.tx_tcp_cksum) {
    // The NIC finishes the sum; we seed it with the pseudo header.
    m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM;
    const std::uint16_t ph = rte_ipv4_phdr_cksum(ip, m->ol_flags);
    std::memcpy(th + 16, &ph, 2);
  } else {
    const std::uint16_t ck = tcp::tcp_checksum(src, os.tuple.remote_ip, th, thl + os.payload_len);
    std::memcpy(th + 16, &ck, 2);
  }
  resolve_and_send(m, next_hop);
}

void Core::resolve_and_send(rte_mbuf* m, tcp::Ipv4 next_hop) {
  auto* eth = reinterpret_cast<rte_ether_hdr*>(mbuf_data(m));
  if (ArpCache::Entry* e = arp_.find(next_hop)) {
    std::memcpy(eth->dst_addr.addr_bytes, e->mac.b, 6);
    // Stale: keep using it, refresh with a unicast request (RFC 1122
    // §2.3.2.1 suggests unicast polling), at most once per retry period.
    if (now_ > e->expires && now_ - e->last_request >= ArpCache::kRetryUs) {
      e->last_request = now_;
      ++e->requests;
      send_arp(RTE_ARP_OP_REQUEST, e->mac, next_hop);
    }
    return tx_enqueue(m);
  }
  ArpCache::Entry* e = arp_.find_or_create(next_hop);
  if (e == nullptr || e->npending >= ArpCache::kMaxPending || pending_total_ >= kMaxPendingTotal) {
    rte_pktmbuf_free(m);
    dp_.drop(L3DropReason::kArpUnresolved);
  } else {
    e->pending[e->npending++] = m;
    ++pending_total_;
  }
  if (e != nullptr && (e->requests == 0 || now_ - e->last_request >= ArpCache::kRetryUs)) {
    e->last_request = now_;
    ++e->requests;
    send_arp(RTE_ARP_OP_REQUEST, MacAddr{}, next_hop);
  }
  dp_.arp_cache_entries.set(arp_.size());
}

void Core::release_pending(ArpCache::Entry& e) {
  for (unsigned i = 0; i < e.npending; ++i) {
    rte_mbuf* m = e.pending[i];
    auto* eth = reinterpret_cast<rte_ether_hdr*>(mbuf_data(m));
    std::memcpy(eth->dst_addr.addr_bytes, e.mac.b, 6);
    tx_enqueue(m);
  }
  pending_total_ -= e.npending;
  e.npending = 0;
}

void Core::send_arp(std::uint16_t op, const MacAddr& dst_mac, tcp::Ipv4 target_ip) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (m == nullptr) return dp_.drop(L3DropReason::kNoMbuf);
  auto* p = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, kMinFrame));
  if (p == nullptr) {
    rte_pktmbuf_free(m);
    return dp_.drop(L3DropReason::kNoMbuf);
  }
  std::memset(p, 0, kMinFrame);
  auto* eth = reinterpret_cast<rte_ether_hdr*>(p);
  const bool request = op == RTE_ARP_OP_REQUEST;
  const bool broadcast = request && dst_mac == MacAddr{};
  if (broadcast) {
    std::memset(eth->dst_addr.addr_bytes, 0xff, 6);
  } else {
    std::memcpy(eth->dst_addr.addr_bytes, dst_mac.b, 6);
  }
  std::memcpy(eth->src_addr.addr_bytes, sh_.mac.b, 6);
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
  auto* arp = reinterpret_cast<rte_arp_hdr*>(p + kEthLen);
  arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
  arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  arp->arp_hlen = 6;
  arp->arp_plen = 4;
  arp->arp_opcode = rte_cpu_to_be_16(op);
  std::memcpy(arp->arp_data.arp_sha.addr_bytes, sh_.mac.b, 6);
  arp->arp_data.arp_sip = rte_cpu_to_be_32(sh_.ip);
  // Target hardware address: unknown (zero) in a broadcast request.
  if (!broadcast) std::memcpy(arp->arp_data.arp_tha.addr_bytes, dst_mac.b, 6);
  arp->arp_data.arp_tip = rte_cpu_to_be_32(target_ip);
  if (request) {
    dp_.arp_requests_out.inc();
  } else {
    dp_.arp_replies_out.inc();
  }
  tx_enqueue(m);
}

void Core::tx_enqueue(rte_mbuf* m) {
  tx_[tx_n_++] = m;
  if (tx_n_ == kTxBurst) tx_flush();
}

void Core::tx_flush() {
  if (tx_n_ == 0) return;
  const std::uint16_t n = tx_n_;
  tx_n_ = 0;
  if (!impair_tx_) return tx_send(tx_, n);
  // Issue 15: every frame through the tx impairment stage; a duplicate may
  // double the batch, held frames leave later (impair_release()).
  rte_mbuf* out[2 * kTxBurst];
  std::uint16_t k = 0;
  for (std::uint16_t i = 0; i < n; ++i) {
    k = static_cast<std::uint16_t>(k + impair_frame(*impair_tx_, true, tx_[i], out + k));
  }
  tx_send(out, k);
}

void Core::tx_send(rte_mbuf** v, std::uint16_t n) {
  if (n == 0) return;
  std::uint64_t bytes = 0;
  for (std::uint16_t i = 0; i < n; ++i) bytes += rte_pktmbuf_pkt_len(v[i]);
  std::uint16_t sent = rte_eth_tx_burst(sh_.port, txq_, v, n);
  // A full ring usually drains within a few attempts; beyond that, drop and
  // let TCP retransmit rather than stall the loop.
  for (unsigned r = 0; r < kTxRetries && sent < n; ++r) {
    sent = static_cast<std::uint16_t>(
        sent + rte_eth_tx_burst(sh_.port, txq_, v + sent, static_cast<std::uint16_t>(n - sent)));
  }
  for (std::uint16_t i = sent; i < n; ++i) {
    bytes -= rte_pktmbuf_pkt_len(v[i]);
    rte_pktmbuf_free(v[i]);
    dp_.drop(L3DropReason::kTxFull);
  }
  dp_.tx_packets.add(sent);
  dp_.tx_bytes.add(bytes);
}

void Core::arp_sweep() {
  // Unresolved entries: retry once per kRetryUs, give up after kMaxRequests
  // (queued packets dropped and counted). Resolved entries: deleted when
  // stale and unanswered, or unused for a further full timeout.
  constexpr unsigned kMaxErase = 32;
  tcp::Ipv4 erase[kMaxErase];
  unsigned n_erase = 0;
  arp_.for_each([&](ArpCache::Entry& e) {
    const bool retry_due = now_ - e.last_request >= ArpCache::kRetryUs;
    bool dead = false;
    if (!e.resolved) {
      if (retry_due && e.requests >= ArpCache::kMaxRequests) {
        dead = true;
        dp_.arp_resolve_failures.inc();
      } else if (retry_due) {
        e.last_request = now_;
        ++e.requests;
        send_arp(RTE_ARP_OP_REQUEST, MacAddr{}, e.ip);
      }
    } else if (now_ > e.expires) {
      dead =
          (e.requests >= ArpCache::kMaxRequests && retry_due) || now_ - e.expires > arp_.timeout();
    }
    if (dead && n_erase < kMaxErase) erase[n_erase++] = e.ip;
  });
  for (unsigned i = 0; i < n_erase; ++i) {
    ArpCache::Entry* e = arp_.find_or_create(erase[i]);  // exists: returns it
    if (e == nullptr) continue;
    for (unsigned k = 0; k < e->npending; ++k) {
      rte_pktmbuf_free(e->pending[k]);
      dp_.drop(L3DropReason::kArpUnresolved);
    }
    pending_total_ -= e->npending;
    arp_.erase(e);
  }
}

}  // namespace shardtcp::dataplane
