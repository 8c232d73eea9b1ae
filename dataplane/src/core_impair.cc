// The impairment stage on mbufs (issue 15): the decisions come from
// impair.h (DPDK-free, unit tested); this file applies them between the PMD
// and the core. rx: rte_eth_rx_burst -> stage -> rx_frame. tx: tx_flush ->
// stage -> rte_eth_tx_burst. Held frames wait in a per-core, per-direction
// queue sized at start-up (impair.queue_frames); nothing here allocates
// memory beyond mbufs from the core's own pool for duplicates.
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include <cstdint>

#include "core.h"

namespace shardtcp::dataplane {

namespace {

// The byte at `off` of a (possibly chained) frame; null past its end.
std::uint8_t* byte_at(rte_mbuf* m, std::uint32_t off) {
  for (; m != nullptr; m = m->next) {
    if (off < m->data_len) return rte_pktmbuf_mtod_offset(m, std::uint8_t*, off);
    off -= m->data_len;
  }
  return nullptr;
}

// Offloaded tx checksums would be computed by the NIC after this stage, over
// the damaged bytes, and the damage would go undetected. Corrupting a frame
// therefore finishes its checksums in software first.
void finish_tx_checksums(rte_mbuf* m) {
  constexpr std::uint64_t kOffload = RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;
  if ((m->ol_flags & kOffload) == 0) return;
  auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, m->l2_len);
  if ((m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM) != 0) {
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
  }
  if ((m->ol_flags & RTE_MBUF_F_TX_TCP_CKSUM) != 0) {
    auto* th = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr*, m->l2_len + m->l3_len);
    th->cksum = 0;
    th->cksum = rte_ipv4_udptcp_cksum(ip, th);
  }
  m->ol_flags &= ~(kOffload | RTE_MBUF_F_TX_IPV4);
}

}  // namespace

unsigned Core::impair_frame(ImpairPath& p, bool tx, rte_mbuf* m, rte_mbuf** out) {
  auto& count = dp_.impair[tx ? 1 : 0];
  const auto inc = [&](ImpairAction a) { count[static_cast<std::size_t>(a)].inc(); };
  const ImpairVerdict v = p.decide.decide(rte_pktmbuf_pkt_len(m));
  if (v.lost) {
    inc(v.burst ? ImpairAction::kLossBurst : ImpairAction::kLossRandom);
    rte_pktmbuf_free(m);
    return 0;
  }
  // The copy is taken before any corruption: one of the two arrives intact.
  rte_mbuf* dup = nullptr;
  if (v.duplicate) {
    dup = rte_pktmbuf_copy(m, pool_, 0, UINT32_MAX);
    inc(dup != nullptr ? ImpairAction::kDuplicate : ImpairAction::kNoMbuf);
  }
  if (v.corrupt) {
    if (tx) finish_tx_checksums(m);
    if (std::uint8_t* b = byte_at(m, v.corrupt_offset)) {
      *b ^= v.corrupt_xor;
      // A checksum the NIC verified no longer holds: let the core check.
      if (!tx) m->ol_flags &= ~(RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK);
      inc(ImpairAction::kCorrupt);
    }
  }
  unsigned n = 0;
  const auto place = [&](rte_mbuf* f, tcp::TimeUs hold, bool reorder) {
    if (hold == 0) {
      out[n++] = f;
    } else if (p.held.push(f, now_ + hold)) {
      inc(ImpairAction::kDelay);
      if (reorder) inc(ImpairAction::kReorder);
    } else {
      inc(ImpairAction::kQueueFull);
      rte_pktmbuf_free(f);
    }
  };
  place(m, v.hold_us, v.reorder);
  if (dup != nullptr) place(dup, v.dup_hold_us, false);
  return n;
}

void Core::rx_impaired(rte_mbuf** burst, std::uint16_t n) {
  rte_mbuf* out[2];
  for (std::uint16_t i = 0; i < n; ++i) {
    const unsigned k = impair_frame(*impair_rx_, false, burst[i], out);
    for (unsigned j = 0; j < k; ++j) rx_frame(out[j], false);
  }
}

std::uint32_t Core::impair_release() {
  // At most one burst per direction per loop: a long queue drains over a few
  // iterations instead of stalling this one.
  std::uint32_t work = 0;
  rte_mbuf* v[kRxBurst > kTxBurst ? kRxBurst : kTxBurst];
  if (impair_rx_) {
    const std::size_t n = impair_rx_->held.pop_due(now_, v, kRxBurst);
    for (std::size_t i = 0; i < n; ++i) rx_frame(v[i], false);
    work += static_cast<std::uint32_t>(n);
    dp_.impair_held[0].set(static_cast<std::int64_t>(impair_rx_->held.size()));
  }
  if (impair_tx_) {
    const std::size_t n = impair_tx_->held.pop_due(now_, v, kTxBurst);
    tx_send(v, static_cast<std::uint16_t>(n));  // n <= kTxBurst
    work += static_cast<std::uint32_t>(n);
    dp_.impair_held[1].set(static_cast<std::int64_t>(impair_tx_->held.size()));
  }
  return work;
}

void Core::impair_drain() {
  const auto free_one = [](rte_mbuf* m) { rte_pktmbuf_free(m); };
  if (impair_rx_) impair_rx_->held.drain(free_one);
  if (impair_tx_) impair_tx_->held.drain(free_one);
  dp_.impair_held[0].set(0);
  dp_.impair_held[1].set(0);
}

}  // namespace shardtcp::dataplane
