// Path MTU discovery: ICMP "fragmentation needed" for our connections
// (RFC 1191), checked against the connection as RFC 5927 asks, and the
// black-hole fallback of packetization-layer PMTUD (RFC 4821) for paths that
// filter ICMP. The engine never reads IP headers: the dataplane parses the
// ICMP message and hands over the quoted tuple, SEQ and MTU.
#include <algorithm>
#include <cstddef>

#include "stack_impl.h"

namespace shardtcp::tcp {

namespace {

constexpr std::uint32_t kIpTcpHeaders = 40;   // IPv4 + TCP without options
constexpr std::uint32_t kTsOptionSpace = 12;  // TSopt, padded (RFC 7323 §3)
// The lowest MTU a frag-needed may take us to. RFC 1191 §3 allows 68, but a
// forged ICMP would then cut a connection into 28-byte segments (the cost
// CVE-2019-11479 showed); Linux refuses to go below its min_pmtu, 552.
constexpr std::uint32_t kMinPmtu = 552;
// RFC 4821 black-hole fallback: the MTU to drop to, Linux's tcp_base_mss
// (1024) plus headers; below the 1280 of IPv6-minded tunnels.
constexpr std::uint32_t kBlackholeMtu = 1024 + kIpTcpHeaders;

// RFC 1191 §5, table 7-1: an old router sends no next-hop MTU; guess the
// largest plateau below the length of the datagram it refused.
std::uint32_t plateau_below(std::uint32_t len) {
  static constexpr std::uint32_t kPlateaus[] = {32000, 17914, 8166, 4352, 2002,
                                                1492,  1006,  508,  296,  68};
  for (std::uint32_t p : kPlateaus) {
    if (p < len) return p;
  }
  return 68;
}

}  // namespace

IcmpResult StackImpl::icmp_frag_needed(const IcmpFragNeeded& e, TimeUs now) {
  reap();
  now_ = std::max(now_, now);
  in_call_ = true;
  IcmpResult r = IcmpResult::kNoConnection;
  if (Tcb* t = find_tcb(e.tuple)) {
    // RFC 5927 §4.1: act only when the quoted segment could be in flight,
    // SND.UNA <= SEG.SEQ < SND.NXT; an off-path attacker must then guess
    // a sequence number, as for a RST.
    if (!seq_ge(e.seq, t->snd_una) || !seq_lt(e.seq, t->snd_max)) {
      r = IcmpResult::kOutOfWindow;
    } else {
      std::uint32_t mtu = e.next_hop_mtu != 0 ? e.next_hop_mtu : plateau_below(e.quoted_len);
      mtu = std::max(mtu, kMinPmtu);
      std::uint32_t mss = mtu - kIpTcpHeaders - (t->ts_ok ? kTsOptionSpace : 0u);
      // RFC 1191 §3: a report never raises the PMTU estimate.
      if (mss >= t->mss) {
        r = IcmpResult::kNotLower;
      } else {
        lower_mss(*t, mss);
        r = IcmpResult::kMssLowered;
        if (!t->dead) rearm(*t);
      }
    }
  }
  ctr_.icmp_frag_needed[static_cast<std::size_t>(r)].inc();
  in_call_ = false;
  return r;
}

void StackImpl::lower_mss(Tcb& t, std::uint32_t mss) {
  // mss < t.mss <= 65535 (callers check): the narrowing is exact.
  t.mss = static_cast<std::uint16_t>(mss);
  t.cc.set_mss(mss);
  // RFC 1191 §6.4: the segments that did not fit are resent at once in
  // smaller ones, without waiting for the timer and without a congestion
  // response (a smaller path is not congestion; Linux's
  // tcp_simple_retransmit). During loss recovery the recovery resends
  // (with the new MSS) and the state is left to it.
  if (t.in_recovery || t.flight() == 0 || t.snd_nxt == t.snd_una) return;
  if (!in_state(t.state, State::kEstablished | State::kCloseWait | State::kFinWait1 |
                             State::kClosing | State::kLastAck)) {
    return;
  }
  t.rtt_timing = false;   // Karn: what is timed is about to be resent
  t.snd_nxt = t.snd_una;  // go back: resend from the first unacknowledged byte
  output(t, true);
}

void StackImpl::mtu_blackhole_check(Tcb& t) {
  // RFC 4821 §7.7 / Linux tcp_mtu_probing=1: a second timeout in a row for
  // full-sized segments is taken as a PMTU black hole (ICMP filtered
  // somewhere): fall back to the search floor. Counted each time.
  const std::uint32_t floor = kBlackholeMtu - kIpTcpHeaders - (t.ts_ok ? kTsOptionSpace : 0u);
  if (t.retries != 2 || t.mss <= floor) return;
  t.mss = static_cast<std::uint16_t>(floor);  // floor < t.mss <= 65535
  t.cc.set_mss(floor);
  ctr_.pmtu_blackhole_probes.inc();
}

}  // namespace shardtcp::tcp
