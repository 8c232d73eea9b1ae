// The per-lcore run-to-completion loop and the receive path:
// rx burst -> Ethernet -> ARP / IPv4 -> ICMP echo / TCP -> Stack::input.
// The transmit path (segments -> mbufs, ARP resolution) is in core_tx.cc.
#include "core.h"

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>

#include "net_util.h"
#include "shardtcp/tcp/addr_check.h"
#include "shardtcp/tcp/segment.h"

namespace shardtcp::dataplane {

namespace {

constexpr std::uint32_t kEthLen = sizeof(rte_ether_hdr);
constexpr std::uint32_t kIpv4MinLen = sizeof(rte_ipv4_hdr);
constexpr std::uint8_t kIcmpDestUnreachable = 3;  // RFC 792
constexpr std::uint8_t kIcmpFragNeeded = 4;       // code: fragmentation needed and DF set

tcp::DropReason to_drop(tcp::ParseStatus s) {
  switch (s) {
    case tcp::ParseStatus::kTooShort:
      return tcp::DropReason::kTooShort;
    case tcp::ParseStatus::kBadDataOffset:
      return tcp::DropReason::kBadDataOffset;
    case tcp::ParseStatus::kBadOption:
      return tcp::DropReason::kBadOption;
    case tcp::ParseStatus::kOk:
      break;
  }
  return tcp::DropReason::kBadOption;
}

}  // namespace

Core::Core(const Shared& sh, unsigned index, unsigned lcore, rte_mempool* pool, std::uint16_t rxq,
           std::uint16_t txq)
    : sh_(sh),
      index_(index),
      lcore_(lcore),
      pool_(pool),
      rxq_(rxq),
      txq_(txq),
      arp_(sh.cfg->net.arp_max_entries, tcp::TimeUs{sh.cfg->net.arp_timeout_s} * tcp::kUsPerSec) {
  const config::ImpairConfig& im = sh.cfg->impair;
  if (im.rx.active()) {
    impair_rx_.emplace(ImpairPath{ImpairDecider(im.rx, impair_stream_seed(im.seed, index, false)),
                                  DelayQueue<rte_mbuf*>(im.queue_frames)});
  }
  if (im.tx.active()) {
    impair_tx_.emplace(ImpairPath{ImpairDecider(im.tx, impair_stream_seed(im.seed, index, true)),
                                  DelayQueue<rte_mbuf*>(im.queue_frames)});
  }
}

tcp::TimeUs Core::now_us() const {
  // TSC -> microseconds. A double keeps 53 bits of microseconds (centuries).
  return static_cast<tcp::TimeUs>(static_cast<double>(rte_rdtsc() - sh_.tsc0) * sh_.us_per_tsc);
}

void Core::drop(rte_mbuf* m, L3DropReason r) {
  dp_.drop(r);
  rte_pktmbuf_free(m);
}

void Core::run() {
  now_ = now_us();
  stack_.emplace(sh_.cfg->tcp, tcp_, index_, now_);
  if (sh_.app->setup) sh_.app->setup(*stack_, index_);
  drain_output();

  const std::uint64_t hk_period = rte_get_tsc_hz() / 100;  // housekeeping every 10 ms
  std::uint64_t next_hk = 0;
  rte_mbuf* burst[kRxBurst];
  while (!stop_requested()) {
    const std::uint64_t start = rte_rdtsc();
    now_ = static_cast<tcp::TimeUs>(static_cast<double>(start - sh_.tsc0) * sh_.us_per_tsc);
    std::uint32_t work = 0;

    // Packets other cores received for flows this core owns (and ARP copies)
    // first: they arrived before anything still waiting in our own queue, so
    // a flow whose packets reach two queues (net_tap learns a flow's queue
    // from our transmissions; af_packet fanout rolls over under load) is
    // reordered as little as possible.
    for (unsigned from = 0; from < sh_.num_cores; ++from) {
      if (from == index_) continue;
      const std::size_t n = sh_.ring(from, index_)->pop(burst, kRxBurst);
      for (std::size_t i = 0; i < n; ++i) rx_frame(burst[i], true);
      work += static_cast<std::uint32_t>(n);
    }

    if (rxq_ != kNoQueue) {
      const std::uint16_t n = rte_eth_rx_burst(sh_.port, rxq_, burst, kRxBurst);
      if (n != 0) {
        dp_.rx_bursts.inc();
        work += n;
        if (impair_rx_) {
          rx_impaired(burst, n);
        } else {
          for (std::uint16_t i = 0; i < n; ++i) {
            if (i + 1 < n) rte_prefetch0(mbuf_data(burst[i + 1]));
            rx_frame(burst[i], false);
          }
        }
      }
    }
    if (impair_rx_ || impair_tx_) work += impair_release();
    // Timers: cheap when nothing is due.
    stack_->poll(now_);
    if (sh_.app->poll) sh_.app->poll(*stack_, index_);
    work += drain_output();
    if (start >= next_hk) {
      housekeeping();
      next_hk = start + hk_period;
    }
    tx_flush();

    const std::uint64_t cycles = rte_rdtsc() - start;
    dp_.polls.inc();
    dp_.total_cycles.add(cycles);
    if (work != 0) {
      dp_.busy_polls.inc();
      dp_.busy_cycles.add(cycles);
    }
  }

  if (sh_.app->teardown) sh_.app->teardown(*stack_, index_);
  drain_output();
  tx_flush();
  impair_drain();
  arp_.for_each([](ArpCache::Entry& e) {
    for (unsigned i = 0; i < e.npending; ++i) rte_pktmbuf_free(e.pending[i]);
    e.npending = 0;
  });
  pending_total_ = 0;
  stack_.reset();
}

void Core::rx_frame(rte_mbuf* m, bool steered) {
  if (steered) {
    dp_.steered_in.inc();
  } else {
    dp_.rx_packets.inc();
    dp_.rx_bytes.add(rte_pktmbuf_pkt_len(m));
  }
  // Headers are parsed in place: a chained mbuf (jumbo frame) is made flat.
  if (m->nb_segs > 1 && rte_pktmbuf_linearize(m) != 0) return drop(m, L3DropReason::kMultiSegment);
  const std::uint32_t len = rte_pktmbuf_data_len(m);
  if (len < kEthLen) return drop(m, L3DropReason::kEthTooShort);
  const auto* eth = reinterpret_cast<const rte_ether_hdr*>(mbuf_data(m));
  const std::uint16_t type = rte_be_to_cpu_16(eth->ether_type);
  if (type == RTE_ETHER_TYPE_ARP) return rx_arp(m, len, steered);
  if (type != RTE_ETHER_TYPE_IPV4) return drop(m, L3DropReason::kNotIpv4OrArp);
  // A steered IPv4 packet was validated by the receiving core already: TCP,
  // or an ICMP frag-needed about a flow this core owns.
  if (steered) {
    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(mbuf_data(m) + kEthLen);
    if (ip->next_proto_id == IPPROTO_ICMP) return rx_icmp_frag_needed(m);
    dp_.steered_in_tcp.inc();
    return rx_tcp(m);
  }
  rx_ipv4(m, len);
}

void Core::rx_arp(rte_mbuf* m, std::uint32_t len, bool steered) {
  // RFC 826, Ethernet + IPv4 only.
  if (len < kEthLen + sizeof(rte_arp_hdr)) return drop(m, L3DropReason::kArpMalformed);
  const auto* arp = reinterpret_cast<const rte_arp_hdr*>(mbuf_data(m) + kEthLen);
  if (rte_be_to_cpu_16(arp->arp_hardware) != RTE_ARP_HRD_ETHER ||
      rte_be_to_cpu_16(arp->arp_protocol) != RTE_ETHER_TYPE_IPV4 || arp->arp_hlen != 6 ||
      arp->arp_plen != 4) {
    return drop(m, L3DropReason::kArpMalformed);
  }
  const std::uint16_t op = rte_be_to_cpu_16(arp->arp_opcode);
  const tcp::Ipv4 sip = rte_be_to_cpu_32(arp->arp_data.arp_sip);
  const tcp::Ipv4 tip = rte_be_to_cpu_32(arp->arp_data.arp_tip);
  MacAddr sha;
  std::memcpy(sha.b, arp->arp_data.arp_sha.addr_bytes, 6);
  const bool for_us = tip == sh_.ip;
  if (!steered) {
    if (op == RTE_ARP_OP_REQUEST) dp_.arp_requests_in.inc();
    if (op == RTE_ARP_OP_REPLY) dp_.arp_replies_in.inc();
  }

  // RFC 826 "Packet Reception": update the sender's entry if we have one;
  // add it only when the packet is addressed to us. Every core keeps its
  // own cache, so every core learns (see replicate_arp()).
  const bool valid_sender = sip != 0 && !rte_is_multicast_ether_addr(&arp->arp_data.arp_sha);
  if (valid_sender) {
    ArpCache::Entry* e = arp_.learn(sip, sha, now_, for_us);
    if (e != nullptr && e->npending != 0) release_pending(*e);
    dp_.arp_cache_entries.set(arp_.size());
  }
  if (steered) {
    rte_pktmbuf_free(m);  // a copy from the receiving core: learn only
    return;
  }
  if (op == RTE_ARP_OP_REQUEST && for_us && valid_sender) send_arp(RTE_ARP_OP_REPLY, sha, sip);
  if (!for_us) dp_.drop(L3DropReason::kArpNotForUs);  // observed (maybe learned), not answered
  if (sh_.num_cores > 1) return replicate_arp(m);
  rte_pktmbuf_free(m);
}

void Core::replicate_arp(rte_mbuf* m) {
  // ARP is rare: every core gets a reference to the same (read-only) mbuf so
  // each per-core cache learns the answer to whichever core asked.
  for (unsigned to = 0; to < sh_.num_cores; ++to) {
    if (to == index_) continue;
    rte_mbuf_refcnt_update(m, 1);
    if (sh_.ring(index_, to)->push(m)) {
      dp_.steered_out.inc();
    } else {
      rte_mbuf_refcnt_update(m, -1);
      dp_.drop(L3DropReason::kSteerRingFull);
    }
  }
  rte_pktmbuf_free(m);
}

void Core::rx_ipv4(rte_mbuf* m, std::uint32_t len) {
  // RFC 1122 §3.2.1 validation, in header order.
  if (len < kEthLen + kIpv4MinLen) return drop(m, L3DropReason::kIpBadHeaderLen);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(mbuf_data(m) + kEthLen);
  if ((ip->version_ihl >> 4) != 4) return drop(m, L3DropReason::kIpBadVersion);
  const std::uint32_t ihl = (ip->version_ihl & 0x0fu) * 4u;
  if (ihl < kIpv4MinLen || kEthLen + ihl > len) return drop(m, L3DropReason::kIpBadHeaderLen);
  const std::uint32_t total = rte_be_to_cpu_16(ip->total_length);
  if (total < ihl || kEthLen + total > len) return drop(m, L3DropReason::kIpBadTotalLen);
  // Ethernet pads short frames to 60 bytes: the IP total length is the truth.
  // len is the mbuf's data_len (a uint16_t), so the difference fits too.
  if (kEthLen + total < len) rte_pktmbuf_trim(m, static_cast<std::uint16_t>(len - kEthLen - total));

  const std::uint64_t ipck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
  if (sh_.features.rx_ip_cksum && ipck == RTE_MBUF_F_RX_IP_CKSUM_BAD) {
    return drop(m, L3DropReason::kIpBadChecksum);
  }
  if (!(sh_.features.rx_ip_cksum && ipck == RTE_MBUF_F_RX_IP_CKSUM_GOOD) &&
      rte_raw_cksum(ip, ihl) != 0xffff) {
    return drop(m, L3DropReason::kIpBadChecksum);
  }
  // Fragments (MF set or a non-zero offset) are not reassembled.
  if ((rte_be_to_cpu_16(ip->fragment_offset) & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) !=
      0) {
    return drop(m, L3DropReason::kIpFragment);
  }
  const tcp::Ipv4 dst = rte_be_to_cpu_32(ip->dst_addr);
  if (dst != sh_.ip) {
    // A broadcast or multicast destination (a frame sent to all) is not
    // answered either (RFC 1122 §4.2.3.10 for TCP, §3.2.2.6 for ICMP echo).
    return drop(m, tcp::valid_tcp_destination(dst, sh_.ip, sh_.netmask)
                       ? L3DropReason::kIpNotForUs
                       : L3DropReason::kIpBadDestination);
  }
  // RFC 1122 §3.2.1.3: a datagram whose source is broadcast, multicast,
  // unspecified, loopback, class E or our own address is discarded silently;
  // answering it makes state that retransmits into failed ARP lookups, or
  // reflects onto a group or onto ourselves (LAND).
  if (!tcp::valid_source(rte_be_to_cpu_32(ip->src_addr), sh_.ip, sh_.netmask)) {
    return drop(m, L3DropReason::kIpBadSource);
  }

  const std::uint32_t l4_len = total - ihl;
  if (ip->next_proto_id == IPPROTO_ICMP) return rx_icmp(m, ihl, l4_len);
  if (ip->next_proto_id != IPPROTO_TCP) return drop(m, L3DropReason::kIpBadProto);

  m->l2_len = kEthLen;
  m->l3_len = ihl & 0x1ffu;
  if (sh_.features.sw_steering && l4_len >= 4) {
    const std::uint8_t* th = mbuf_data(m) + kEthLen + ihl;
    tcp::FourTuple t;
    t.local_ip = sh_.ip;
    t.remote_ip = rte_be_to_cpu_32(ip->src_addr);
    t.remote_port = static_cast<std::uint16_t>((th[0] << 8) | th[1]);
    t.local_port = static_cast<std::uint16_t>((th[2] << 8) | th[3]);
    const std::uint32_t h = sh_.features.rx_rss_hash && (m->ol_flags & RTE_MBUF_F_RX_RSS_HASH) != 0
                                ? m->hash.rss
                                : flow_hash(t);
    const unsigned owner = owner_from_hash(h, sh_.num_cores);
    if (owner != index_) return steer(m, owner);
  }
  rx_tcp(m);
}

void Core::steer(rte_mbuf* m, unsigned owner) {
  if (sh_.ring(index_, owner)->push(m)) {
    dp_.steered_out.inc();
  } else {
    drop(m, L3DropReason::kSteerRingFull);
  }
}

void Core::rx_icmp(rte_mbuf* m, std::uint32_t ihl, std::uint32_t l4_len) {
  std::uint8_t* p = mbuf_data(m);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p + kEthLen);
  auto* icmp = reinterpret_cast<rte_icmp_hdr*>(p + kEthLen + ihl);
  if (l4_len < sizeof(rte_icmp_hdr) || rte_raw_cksum(icmp, l4_len) != 0xffff) {
    return drop(m, L3DropReason::kIcmpMalformed);
  }
  // RFC 1191: destination unreachable, fragmentation needed and DF set.
  if (icmp->icmp_type == kIcmpDestUnreachable && icmp->icmp_code == kIcmpFragNeeded) {
    m->l2_len = kEthLen;
    m->l3_len = ihl & 0x1ffu;
    if (sh_.features.sw_steering) {
      // The error belongs to the core that owns the quoted flow (the NIC
      // hashed the ICMP's own addresses). The quoted ports are checked in
      // rx_icmp_frag_needed(); here only read when present.
      const std::uint8_t* q = p + kEthLen + ihl + sizeof(rte_icmp_hdr);
      const std::uint32_t qihl =
          l4_len >= sizeof(rte_icmp_hdr) + kIpv4MinLen ? (q[0] & 0x0fu) * 4u : 0;
      if (qihl >= kIpv4MinLen && l4_len >= sizeof(rte_icmp_hdr) + qihl + 8) {
        tcp::FourTuple t;
        t.local_ip = sh_.ip;
        t.remote_ip = static_cast<tcp::Ipv4>((q[16] << 24) | (q[17] << 16) | (q[18] << 8) | q[19]);
        t.local_port = static_cast<std::uint16_t>((q[qihl] << 8) | q[qihl + 1]);
        t.remote_port = static_cast<std::uint16_t>((q[qihl + 2] << 8) | q[qihl + 3]);
        const unsigned owner = owner_from_hash(flow_hash(t), sh_.num_cores);
        if (owner != index_) return steer(m, owner);
      }
    }
    return rx_icmp_frag_needed(m);
  }
  // RFC 792 / RFC 1122 §3.2.2.6: answer echo requests; nothing else is used.
  if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || icmp->icmp_code != 0) {
    return drop(m, L3DropReason::kIcmpUnsupported);
  }
  dp_.icmp_echo_requests.inc();
  // Reply in place, to the MAC the request came from (no ARP round trip).
  auto* eth = reinterpret_cast<rte_ether_hdr*>(p);
  eth->dst_addr = eth->src_addr;
  std::memcpy(eth->src_addr.addr_bytes, sh_.mac.b, 6);
  ip->dst_addr = ip->src_addr;
  ip->src_addr = rte_cpu_to_be_32(sh_.ip);
  ip->time_to_live = 64;
  ip->hdr_checksum = 0;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
  icmp->icmp_cksum = 0;
  icmp->icmp_cksum = static_cast<std::uint16_t>(~rte_raw_cksum(icmp, l4_len));
  m->ol_flags = 0;
  dp_.icmp_echo_replies.inc();
  tx_enqueue(m);
}

void Core::rx_icmp_frag_needed(rte_mbuf* m) {
  // RFC 792: 8 bytes of ICMP header (RFC 1191 §4: next-hop MTU in the low
  // 16 bits of the second word), then the IP header and at least the first
  // 8 bytes of the datagram we sent: ports and SEQ of our TCP header. All
  // lengths in 32 bits from the validated outer header; nothing is trusted
  // from the quoted one before it is checked against them.
  const std::uint8_t* p = mbuf_data(m);
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(p + m->l2_len);
  const std::uint32_t ihl = m->l3_len;
  const std::uint32_t l4_len = std::uint32_t{rte_be_to_cpu_16(ip->total_length)} - ihl;
  const std::uint8_t* icmp = p + m->l2_len + ihl;
  constexpr std::uint32_t kIcmpHdr = sizeof(rte_icmp_hdr);
  if (l4_len < kIcmpHdr + kIpv4MinLen + 8) return drop(m, L3DropReason::kIcmpMalformed);
  const std::uint8_t* q = icmp + kIcmpHdr;
  const std::uint32_t qihl = (q[0] & 0x0fu) * 4u;
  if ((q[0] >> 4) != 4 || qihl < kIpv4MinLen || kIcmpHdr + qihl + 8 > l4_len) {
    return drop(m, L3DropReason::kIcmpMalformed);
  }
  const tcp::Ipv4 qsrc =
      static_cast<tcp::Ipv4>((q[12] << 24) | (q[13] << 16) | (q[14] << 8) | q[15]);
  // Only a TCP segment that we sent can be the cause (RFC 5927 §4.1 then
  // checks its SEQ in the engine).
  if (q[9] != IPPROTO_TCP || qsrc != sh_.ip) return drop(m, L3DropReason::kIcmpNotOurs);
  tcp::IcmpFragNeeded e;
  e.tuple.local_ip = sh_.ip;
  e.tuple.remote_ip = static_cast<tcp::Ipv4>((q[16] << 24) | (q[17] << 16) | (q[18] << 8) | q[19]);
  const std::uint8_t* th = q + qihl;
  e.tuple.local_port = static_cast<std::uint16_t>((th[0] << 8) | th[1]);
  e.tuple.remote_port = static_cast<std::uint16_t>((th[2] << 8) | th[3]);
  e.seq = (std::uint32_t{th[4]} << 24) | (std::uint32_t{th[5]} << 16) |
          (std::uint32_t{th[6]} << 8) | std::uint32_t{th[7]};
  e.next_hop_mtu = static_cast<std::uint16_t>((icmp[6] << 8) | icmp[7]);
  e.quoted_len = static_cast<std::uint16_t>((q[2] << 8) | q[3]);
  dp_.icmp_frag_needed.inc();
  stack_->icmp_frag_needed(e, now_);
  rte_pktmbuf_free(m);
  drain_output();
}

void Core::rx_tcp(rte_mbuf* m) {
  std::uint8_t* p = mbuf_data(m);
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(p + m->l2_len);
  const std::uint32_t ihl = m->l3_len;
  const std::uint32_t l4_len = rte_be_to_cpu_16(ip->total_length) - ihl;
  const std::uint8_t* th = p + m->l2_len + ihl;
  const tcp::Ipv4 src = rte_be_to_cpu_32(ip->src_addr);
  const tcp::Ipv4 dst = rte_be_to_cpu_32(ip->dst_addr);

  // RFC 9293 §3.1: checksum over the pseudo header and the whole segment.
  const std::uint64_t l4ck = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
  bool ok;
  if (sh_.features.rx_tcp_cksum && l4ck == RTE_MBUF_F_RX_L4_CKSUM_GOOD) {
    ok = true;
  } else if (sh_.features.rx_tcp_cksum && l4ck == RTE_MBUF_F_RX_L4_CKSUM_BAD) {
    ok = false;
  } else {
    ok = tcp::tcp_checksum(src, dst, th, l4_len) == 0;
  }
  if (!ok) {
    tcp_.drop(tcp::DropReason::kBadChecksum);
    tcp_.in_errs.inc();
    rte_pktmbuf_free(m);
    return;
  }
  tcp::Segment seg;
  const tcp::ParseStatus st = tcp::parse_segment(th, l4_len, seg);
  if (st != tcp::ParseStatus::kOk) {
    tcp_.drop(to_drop(st));
    tcp_.in_errs.inc();
    rte_pktmbuf_free(m);
    return;
  }
  if (shed_syn_ && (seg.flags & (tcp::kSyn | tcp::kAck | tcp::kRst)) == tcp::kSyn) {
    tcp_.drop(tcp::DropReason::kNoMemory);  // mbuf pool low: no new connections
    rte_pktmbuf_free(m);
    return;
  }
  seg.tuple.local_ip = dst;
  seg.tuple.remote_ip = src;
  seg.ip_ecn = ip->type_of_service & 0x03u;  // RFC 3168 §5: the ECN field
  // Zero copy: seg.payload points into the mbuf, which lives until input()
  // returns (the callback contract: the view is valid only inside on_data).
  stack_->input(seg, now_);
  rte_pktmbuf_free(m);
  drain_output();
}

void Core::housekeeping() {
  arp_sweep();
  dp_.connections.set(static_cast<std::int64_t>(stack_->connection_count()));
  dp_.time_wait_entries.set(static_cast<std::int64_t>(stack_->time_wait_count()));
  const unsigned avail = rte_mempool_avail_count(pool_);
  dp_.mbufs_in_use.set(static_cast<std::int64_t>(pool_->size - avail));
  shed_syn_ = pressure_.update(avail, pool_->size);
  dp_.arp_cache_entries.set(arp_.size());
  if (sh_.app->housekeeping) {
    sh_.app->housekeeping(*stack_, index_);
    drain_output();
  }
}

}  // namespace shardtcp::dataplane
