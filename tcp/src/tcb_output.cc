// Segments out: ACKs, SYN/SYN-ACK, RST, data and FIN transmission with the
// window rules of RFC 9293 §3.8.6 and RFC 1122 §4.2.3.3/§4.2.3.4 (SWS
// avoidance on both sides, Nagle), RFC 5681 congestion window.
#include <algorithm>

#include "stack_impl.h"

namespace shardtcp::tcp {

std::uint32_t StackImpl::ts_now_for(TimeUs now, std::uint32_t offset) {
  // RFC 7323 §5.4: a 1 ms timestamp clock, offset per connection (RFC 7323
  // §7.1 recommends a random offset so TSval leaks no host uptime).
  return static_cast<std::uint32_t>(now / kUsPerMs) + offset;
}

std::uint32_t StackImpl::ts_now(const Tcb& t) const { return ts_now_for(now_, t.ts_offset); }

// Our receive window: rcv_buf minus the bytes held (out of order, or in
// order but not yet read because the application paused receiving). The
// right edge never moves left (RFC 9293 §3.8.6.2.2) and moves right only in
// steps of min(rcv_buf/2, MSS) (receiver SWS avoidance, RFC 1122 §4.2.3.3).
namespace {
std::uint64_t window_space(const Tcb& t, std::uint32_t rcv_buf) {
  const std::uint32_t held = t.reasm != nullptr ? t.reasm->bytes() : 0;
  const std::uint64_t space = rcv_buf > held ? rcv_buf - held : 0;
  return std::min<std::uint64_t>(space, std::uint64_t{65535} << t.rcv_wscale);
}
std::uint32_t window_advertised(const Tcb& t) {
  return seq_ge(t.rcv_adv, t.rcv_nxt) ? t.rcv_adv - t.rcv_nxt : 0;
}
}  // namespace

bool StackImpl::opens_by_step(std::uint64_t space, const Tcb& t) const {
  const std::uint32_t cur = window_advertised(t);
  const std::uint32_t step = std::min<std::uint32_t>(cfg_.rcv_buf / 2, cfg_.mss);
  return space > cur && space - cur >= step;
}

bool StackImpl::window_update_due(const Tcb& t) const {
  return opens_by_step(window_space(t, cfg_.rcv_buf), t);
}

std::uint16_t StackImpl::window_field(Tcb& t) {
  const std::uint64_t space = window_space(t, cfg_.rcv_buf);
  if (opens_by_step(space, t)) t.rcv_adv = t.rcv_nxt + static_cast<std::uint32_t>(space);
  if (seq_lt(t.rcv_adv, t.rcv_nxt)) t.rcv_adv = t.rcv_nxt;
  const std::uint32_t wnd = t.rcv_adv - t.rcv_nxt;
  return static_cast<std::uint16_t>(std::min<std::uint32_t>(wnd >> t.rcv_wscale, 65535));
}

OutSegment StackImpl::segment_for(Tcb& t, std::uint8_t flags, std::uint32_t seq) {
  OutSegment o;
  o.tuple = t.tuple;
  o.seq = seq;
  o.flags = flags;
  if (flags & kAck) {
    o.ack = t.rcv_nxt;
    t.last_ack_sent = t.rcv_nxt;
    // Any ACK we send carries everything pending (delayed ACK satisfied).
    t.pending_ack_bytes = 0;
    t.ack_now = false;
    t.delack_at = kNever;
    // RFC 3168 §6.1.3: ECE on every ACK until the peer's CWR.
    if (t.ece_pending && !(flags & (kSyn | kRst))) o.flags |= kEce;
  }
  if (flags & kSyn) {
    // RFC 7323 §2.2: the window of a SYN is never scaled.
    const std::uint32_t w = std::min<std::uint32_t>(cfg_.rcv_buf, 65535);
    o.window = static_cast<std::uint16_t>(w);
    if (flags & kAck) t.rcv_adv = t.rcv_nxt + w;
  } else if (!(flags & kRst)) {
    o.window = window_field(t);
  }
  if (t.ts_ok && !(flags & kRst)) {
    // RFC 7323 §3.2: TSopt in every segment once negotiated.
    o.opts.has_timestamps = true;
    o.opts.ts_val = ts_now(t);
    o.opts.ts_ecr = t.ts_recent;
  }
  return o;
}

// The one gate every outgoing segment passes, built from a connection or by
// hand (RST replies, cookie SYN-ACKs, TIME-WAIT ACKs). The contract, checked
// here once so that no caller can get it wrong:
//  - the payload is at most `payload_mss` (the connection's negotiated MSS,
//    0 for segments that never carry data), RFC 9293 §3.7.1;
//  - IPv4 header + TCP header with options + payload fits the IP MTU the
//    engine was configured for (tcp.mss + 40, which config validation keeps
//    within every port's MTU): the dataplane's frame never overflows;
//  - payload_src is set exactly when there is a payload.
// A segment that breaks it is a bug in the engine: it is counted and never
// sent (as if lost on the wire; the retransmission timer recovers).
bool StackImpl::emit(const OutSegment& o, std::uint32_t payload_mss) {
  constexpr std::size_t kIpv4Header = 20;
  constexpr std::size_t kMaxTcpHeader = 60;  // data offset is 4 bits of 32-bit words
  const std::size_t thl = tcp_header_len(o);
  const std::size_t ip_mtu = std::size_t{cfg_.mss} + 40;
  const bool ok = o.payload_len <= payload_mss && thl <= kMaxTcpHeader &&
                  kIpv4Header + thl + std::size_t{o.payload_len} <= ip_mtu &&
                  (o.payload_len == 0) == (o.payload_src == nullptr);
  if (!ok) {
    ctr_.out_oversize.inc();
    return false;
  }
  // The queue grows past its start-up room only for a burst larger than any
  // one call usually makes (many timers in one poll); if the system refuses
  // the memory the segment is counted and not sent, as if lost on the wire.
  if (!out_.push_back(o)) {
    ctr_.mem_alloc_failures.inc();
    return false;
  }
  ctr_.out_segs.inc();
  if (o.flags & kRst) ctr_.out_rsts.inc();
  return true;
}

void StackImpl::send_ack(Tcb& t, const SackBlock* dsack) {
  // A pure ACK carries the highest sequence number sent, kept inside the
  // peer's window (as Linux's tcp_acceptable_seq). SND.NXT itself is wrong
  // here: after an RTO rewinds it, an ACK at SND.NXT lies below the peer's
  // RCV.NXT, fails the RFC 9293 §3.10.7.4 acceptability test and its ACK
  // field is ignored; two such peers answer each other's duplicate ACKs
  // forever (found by the simulation, tests/sim).
  const std::uint32_t wnd_end = t.snd_una + t.snd_wnd;
  const std::uint32_t ack_seq =
      seq_le(t.snd_max, wnd_end) ? t.snd_max : seq_max(wnd_end, t.snd_nxt);
  OutSegment o = segment_for(t, kAck, ack_seq);
  // A D-SACK noted during input (tcb_input's note_dsack) goes once.
  const SackBlock pending = dsack_;
  if (dsack_for_ == &t) {
    if (dsack == nullptr) dsack = &pending;
    dsack_for_ = nullptr;
  }
  if (t.sack_ok) {
    // RFC 2018 §4: report what we hold, most recent first; 3 blocks fit
    // beside timestamps, 4 without. RFC 2883: a D-SACK block goes first.
    const int max = t.ts_ok ? 3 : 4;
    int n = 0;
    if (dsack != nullptr) o.opts.sack[n++] = *dsack;
    if (t.reasm != nullptr && !t.reasm->empty())
      n += t.reasm->sack_blocks(o.opts.sack + n, max - n, t.rcv_nxt);
    o.opts.num_sack = static_cast<std::uint8_t>(n);
  }
  emit(o, 0);
}

void StackImpl::send_syn(Tcb& t) {
  const bool syn_ack = t.state == State::kSynReceived;
  if (t.retries > 0) {
    ctr_.retrans_segs.inc();
    t.ts_last_rtx = ts_now(t);
    t.rtx_ts_valid = true;
  }
  const bool active_syn = !syn_ack;
  std::uint8_t flags = syn_ack ? static_cast<std::uint8_t>(kSyn | kAck) : std::uint8_t{kSyn};
  // RFC 3168 §6.1.1: an ECN-setup SYN carries ECE and CWR, the SYN-ACK
  // that accepts it ECE alone.
  if (active_syn && cfg_.ecn == EcnMode::kOn) flags |= kEce | kCwr;
  if (syn_ack && t.ecn_ok) flags |= kEce;
  OutSegment o = segment_for(t, flags, t.iss);
  o.opts.has_mss = true;
  o.opts.mss = cfg_.mss;
  if (active_syn) {
    // Offer everything we support (RFC 7323 §2.2/§3.2, RFC 2018 §2).
    o.opts.has_wscale = cfg_.window_scaling;
    o.opts.wscale = t.rcv_wscale;
    o.opts.sack_permitted = cfg_.sack;
    if (cfg_.timestamps) {
      o.opts.has_timestamps = true;
      o.opts.ts_val = ts_now(t);
      o.opts.ts_ecr = 0;
    }
  } else {
    // Answer only what the peer offered.
    o.opts.has_wscale = t.ws_ok;
    o.opts.wscale = t.rcv_wscale;
    o.opts.sack_permitted = t.sack_ok;
  }
  emit(o, 0);
  t.snd_nxt = t.iss + 1;
  t.snd_max = seq_max(t.snd_max, t.snd_nxt);
  if (t.retries == 0 && !t.rtt_timing) {
    t.rtt_timing = true;
    t.rtt_seq = t.iss;
    t.rtt_time = now_;
  }
}

void StackImpl::send_rst(Tcb& t) {
  // <SEQ=SND.NXT><CTL=RST>, with ACK as Linux does so stateful firewalls and
  // peers in SYN-SENT accept it. A RST is accepted only inside the peer's
  // window (RFC 9293 §3.10.7.4, RFC 5961 §3): after a zero-window probe, or
  // data beyond a window that shrank, SND.MAX lies past it and the RST would
  // be ignored, so use the window's right edge then (Linux's
  // tcp_acceptable_seq()). Aborting a reader that never reads depends on it.
  const std::uint32_t wnd_end = t.snd_una + t.snd_wnd;
  const bool synced = !in_state(t.state, State::kSynSent | State::kSynReceived);
  const std::uint32_t seq = synced && seq_gt(t.snd_max, wnd_end) ? wnd_end : t.snd_max;
  emit(segment_for(t, static_cast<std::uint8_t>(kRst | kAck), seq), 0);
}

// RFC 9293 §3.10.7.1 (and the "no TCB" cases of §3.10.7.2/3):
// ACK set -> <SEQ=SEG.ACK><CTL=RST>; else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
void StackImpl::reply_rst(const Segment& seg) {
  if (seg.flags & kRst) return;  // never answer a RST with a RST
  OutSegment o;
  o.tuple = seg.tuple;
  if (seg.flags & kAck) {
    o.seq = seg.ack;
    o.flags = kRst;
  } else {
    o.seq = 0;
    o.ack = seg.seq + seg.seg_len();
    o.flags = static_cast<std::uint8_t>(kRst | kAck);
  }
  emit(o, 0);
}

void StackImpl::send_data(Tcb& t, std::uint32_t seq, std::uint32_t len, bool fin) {
  const std::uint32_t end = t.data_end();
  std::uint8_t flags = kAck;
  if (fin) flags |= kFin;
  if (len > 0 && seq + len == end) flags |= kPsh;
  OutSegment o = segment_for(t, flags, seq);
  if (len > 0) {
    o.payload_len = len;
    o.payload_src = &t.sndbuf;
    o.payload_offset = seq - t.data_seq0();
  }
  const bool starts_flight = t.snd_una == t.snd_max;
  const bool retransmission = seq_lt(seq, t.snd_max);
  if (t.ecn_ok) ecn_mark(t, o, retransmission);  // ecn.cc
  // Refused only if len > t.mss (a bug, counted): the bookkeeping below
  // still runs, so the segment counts as lost and the RTO resends at most
  // one MSS from SND.UNA.
  emit(o, t.mss);
  if (retransmission) {
    ctr_.retrans_segs.inc();
    if (t.undo_armed && t.undo_retrans < 0xFFFF) ++t.undo_retrans;  // RFC 3708 (undo.cc)
    t.ts_last_rtx = ts_now(t);
    t.rtx_ts_valid = true;
  } else if (!t.rtt_timing && len > 0) {
    // RFC 6298 §3: time one new segment per RTT (Karn: never a retransmission).
    t.rtt_timing = true;
    t.rtt_seq = seq;
    t.rtt_time = now_;
  }
  t.snd_max = seq_max(t.snd_max, seq + len + (fin ? 1u : 0u));
  t.last_data_sent = now_;
  if (t.rtx_at == kNever || t.persist) {
    // RFC 6298 (5.1): start the timer when it is not running.
    t.persist = false;
    t.rtx_at = now_ + rto(t);
  }
  rack_log_send(t, seq, len + (fin ? 1u : 0u), starts_flight);  // RFC 8985 §6.1 xmit_ts
}

void StackImpl::retransmit_head(Tcb& t) {
  const std::uint32_t end = t.data_end();
  const std::uint32_t unacked = seq_lt(t.snd_una, end) ? end - t.snd_una : 0;
  const std::uint32_t len = std::min<std::uint32_t>(unacked, t.mss);
  const bool fin = t.fin_sent() && !t.fin_acked && t.snd_una + len == end;
  if (len == 0 && !fin) return;
  send_data(t, t.snd_una, len, fin);
}

TimeUs StackImpl::persist_interval(const Tcb& t) const {
  // RFC 9293 §3.8.6.1 with exponential backoff, bounded like the RTO.
  const TimeUs base = std::max(rto(t), cfg_.rto_min);
  const unsigned shift = std::min<unsigned>(t.persist_shift, 20);
  const TimeUs iv = base << shift;
  return std::min(iv, cfg_.rto_max);
}

// Sends what the windows allow. force_one: a retransmission timer or the SWS
// override fired, send one segment even if SWS/Nagle would wait.
void StackImpl::output(Tcb& t, bool force_one) {
  if (t.dead) return;
  if (!in_state(t.state, State::kEstablished | State::kCloseWait | State::kFinWait1 |
                             State::kClosing | State::kLastAck)) {
    return;
  }
  // RACK recovery sends through rack_transmit() alone (PRR, RFC 6937).
  if (t.txlog != nullptr && t.in_recovery) return;
  // RFC 5681 §4.1: nothing sent for longer than the RTO (and nothing in
  // flight) -> restart from RW = min(IW, cwnd), not a stale, possibly huge,
  // cwnd that no longer reflects the path.
  if (t.snd_max == t.snd_una && t.last_data_sent != kNever && seq_lt(t.snd_nxt, t.data_end()) &&
      now_ - t.last_data_sent > rto(t)) {
    t.cc.on_idle_restart(cfg_.initial_window_segments);
    t.last_data_sent = kNever;  // once per idle period
  }
  for (;;) {
    const std::uint32_t end = t.data_end();
    const std::uint32_t unsent = seq_lt(t.snd_nxt, end) ? end - t.snd_nxt : 0;
    const bool fin_due = t.fin_queued && !t.fin_acked && unsent == 0 && t.snd_nxt == end;
    if (unsent == 0 && !fin_due) break;
    const std::uint32_t in_flight = t.snd_nxt - t.snd_una;
    const std::uint32_t wnd = std::min(t.snd_wnd, t.cc.cwnd());
    const std::uint32_t usable = wnd > in_flight ? wnd - in_flight : 0;
    const std::uint32_t len = std::min({unsent, static_cast<std::uint32_t>(t.mss), usable});
    if (unsent > 0 && len == 0) break;  // window closed: persist below
    if (len > 0 && len < t.mss && !force_one) {
      if (len < unsent) {
        // RFC 1122 §4.2.3.4: a window-limited small segment only if it is at
        // least half the largest window the peer offered.
        if (len < t.max_snd_wnd / 2) break;
      } else if (t.nagle && in_flight > 0) {
        break;  // RFC 896 / RFC 1122 §4.2.3.4 Nagle: one small segment in flight
      }
    }
    const bool fin = t.fin_queued && !t.fin_acked && t.snd_nxt + len == end;
    send_data(t, t.snd_nxt, len, fin);
    t.snd_nxt += len + (fin ? 1u : 0u);
    force_one = false;
    if (fin) break;
  }
  // RFC 9293 §3.8.6.1: data waits, nothing is in flight, the window is shut
  // (or too small to send without SWS): the persist timer probes it.
  const std::uint32_t end = t.data_end();
  if (seq_lt(t.snd_nxt, end) && t.snd_nxt == t.snd_una && t.rtx_at == kNever) {
    t.persist = true;
    t.rtx_at = now_ + persist_interval(t);
  }
}

}  // namespace shardtcp::tcp
