// SEGMENT ARRIVES in SYN-RECEIVED and the synchronized states:
// RFC 9293 §3.10.7.4, with RFC 5961 (blind-attack mitigations), RFC 7323
// (PAWS, timestamps), RFC 5681 / RFC 6582 (ACK processing, fast recovery)
// and RFC 2018 (out-of-order data and SACK).
#include <algorithm>

#include "stack_impl.h"

namespace shardtcp::tcp {

namespace {
// RFC 7323 §5.5: TS.Recent is invalid after 24 days without a segment.
constexpr TimeUs kTsRecentLifetime = TimeUs{24} * 24 * 3600 * kUsPerSec;
}  // namespace

// §3.10.7.4 first check, the four-case acceptability table.
bool StackImpl::acceptable(const Tcb& t, const Segment& seg) const {
  const std::uint32_t wnd = seq_ge(t.rcv_adv, t.rcv_nxt) ? t.rcv_adv - t.rcv_nxt : 0;
  const std::uint32_t len = seg.seg_len();
  if (len == 0) {
    if (wnd == 0) return seg.seq == t.rcv_nxt;
    // An RST is judged by the RFC's rule, RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND
    // (RFC 9293 §3.10.7.4 first check, RFC 5961 §3.2): one at the right edge
    // is outside the window and dropped silently, not challenged.
    if (seg.flags & kRst) return seq_in(seg.seq, t.rcv_nxt, t.rcv_nxt + wnd);
    // Right edge inclusive for bare ACKs, as BSD and Linux accept: a peer
    // that filled our window sends its ACKs at SND.NXT = RCV.NXT + RCV.WND;
    // rejecting them drops their ACK/SACK info and both ends can deadlock.
    return seq_le(t.rcv_nxt, seg.seq) && seq_le(seg.seq, t.rcv_nxt + wnd);
  }
  // RFC 9293 §3.10.7.4: with a zero window no text is acceptable, "but
  // special allowance should be made to accept valid ACKs": a segment at
  // RCV.NXT goes on for its ACK (a peer probing our closed window may carry
  // news of our data); its text is trimmed away and answered with an ACK.
  if (wnd == 0) return seg.seq == t.rcv_nxt;
  return seq_in(seg.seq, t.rcv_nxt, t.rcv_nxt + wnd) ||
         seq_in(seg.seq + len - 1, t.rcv_nxt, t.rcv_nxt + wnd);
}

void StackImpl::tcb_input(Tcb& t, const Segment& in) {
  const TimeUs idle = now_ - t.last_rcv;
  t.last_rcv = now_;
  dsack_for_ = nullptr;
  t.ka_probes = 0;
  if (t.in_lru) lru_touch(t);

  // A retransmitted SYN in SYN-RECEIVED means our SYN-ACK was lost: answer
  // with the SYN-ACK again (RFC 9293 §3.8.1; what Linux does) instead of the
  // bare ACK the sequence check below would send.
  if (t.state == State::kSynReceived && (in.flags & (kSyn | kAck | kRst)) == kSyn &&
      in.seq == t.irs) {
    send_syn(t);
    ctr_.drop(DropReason::kUnacceptable);
    return;
  }
  // Simultaneous open: the peer's SYN,ACK repeats the SYN we already hold
  // (SEQ = IRS). Only the new part is processed (RFC 9293 §3.10.7.4, "if a
  // segment's contents straddle the boundary between old and new"): drop the
  // SYN octet and handle the rest as an ACK (BSD does the same).
  Segment trimmed;
  const Segment* sp = &in;
  if (t.state == State::kSynReceived && (in.flags & kSyn) && (in.flags & kAck) && in.seq == t.irs) {
    trimmed = in;
    trimmed.flags = static_cast<std::uint8_t>(in.flags & ~kSyn);
    trimmed.seq = in.seq + 1;
    sp = &trimmed;
  }
  const Segment& seg = *sp;
  const std::uint8_t f = seg.flags;

  // RFC 7323 §5.3 R1 (PAWS) runs before the sequence check. RSTs are exempt.
  if (t.ts_ok && seg.opts.has_timestamps && !(f & kRst) && seq_lt(seg.opts.ts_val, t.ts_recent)) {
    if (idle > kTsRecentLifetime) {
      // RFC 7323 §5.5: after more than 24 days idle TS.Recent is invalid
      // (the peer's 1 ms clock may have wrapped its sign bit): the segment
      // is not judged by it, and its TSval becomes TS.Recent.
      t.ts_recent = seg.opts.ts_val;
    } else {
      // Linux tcp_validate_incoming(): the answer is rate limited per connection.
      if (!oow_suppressed(t.oow_stamp, seg)) send_ack(t);
      ctr_.drop(DropReason::kPawsRejected);
      return;
    }
  }

  // First check: sequence number. Unacceptable -> <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
  // unless it is an RST; at most one such answer per tcp.invalid_ratelimit_ms
  // (Linux since 4.7). Not limited: the keep-alive / zero-window probe form
  // (no data, SEQ = RCV.NXT - 1, RFC 1122 §4.2.3.6; Linux probes a zero
  // window this way), which must be answered for the peer to make progress,
  // and which only a peer that knows RCV.NXT can send.
  if (!acceptable(t, seg)) {
    const bool probe =
        seg.payload_len == 0 && !(f & (kSyn | kFin | kRst)) && seg.seq == t.rcv_nxt - 1;
    if (!(f & kRst) && (probe || !oow_suppressed(t.oow_stamp, seg))) {
      // RFC 2883: data entirely below RCV.NXT is a duplicate; say so (D-SACK)
      // so the peer can tell a spurious retransmission.
      const bool dup = t.sack_ok && seg.payload_len > 0 &&
                       seq_le(seg.seq + seg.payload_len, t.rcv_nxt) &&
                       seq_gt(seg.seq + seg.payload_len, t.rcv_nxt - t.rcv_wnd() - 65535u);
      const SackBlock d{seg.seq, seg.seq + seg.payload_len};
      send_ack(t, dup ? &d : nullptr);
    }
    ctr_.drop(DropReason::kUnacceptable);
    return;
  }

  // Second check: RST (RFC 5961 §3.2). Exact match resets; anywhere else in
  // the window draws a challenge ACK.
  if (f & kRst) {
    if (seg.seq == t.rcv_nxt) {
      rst_arrived(t);
    } else {
      challenge_ack(t);
      ctr_.drop(DropReason::kUnacceptable);
    }
    return;
  }

  // Fourth check: SYN.
  if (f & kSyn) {
    if (t.state == State::kSynReceived && !t.active_open) {
      // SYN-RECEIVED -> LISTEN (§3.10.7.4 fourth, passive OPEN): drop the TCB.
      ctr_.attempt_fails.inc();
      ctr_.drop(DropReason::kBadSynFlags);
      close_tcb(t, CloseReason::kReset);
      return;
    }
    // RFC 5961 §4.2: any SYN in a synchronized state -> challenge ACK.
    challenge_ack(t);
    ctr_.drop(DropReason::kBadSynFlags);
    return;
  }

  // Fifth check: ACK. Without ACK the segment is dropped.
  if (!(f & kAck)) {
    ctr_.drop(DropReason::kInvalidState);
    return;
  }
  if (t.state == State::kSynReceived) {
    if (!seq_gt(seg.ack, t.snd_una) || seq_gt(seg.ack, t.snd_max)) {
      // Unacceptable ACK in SYN-RECEIVED -> <SEQ=SEG.ACK><CTL=RST>.
      reply_rst(seg);
      ctr_.drop(DropReason::kAckOutOfWindow);
      return;
    }
    establish(t, seg);
    if (t.dead) return;
    // Text (and FIN) queued from the peer's SYN in simultaneous open is
    // processed now that ESTABLISHED is reached (RFC 9293 §3.10.7.3).
    if (t.reasm != nullptr) {
      text_arrived(t, t.rcv_nxt, nullptr, 0, false);
      if (t.dead) return;
    }
  }
  update_ts_recent(t, seg);
  if (t.ecn_ok) ecn_input(t, seg);  // RFC 3168 §6.1.2/§6.1.3 (ecn.cc)
  if (!ack_arrived(t, seg) || t.dead) return;

  // Sixth: URG is not supported (RFC 6093: applications should not use it).
  // Seventh and eighth: segment text and FIN, trimmed to the window.
  if (t.sack_ok && seg.payload_len > 0) note_dsack(t, seg);
  std::uint32_t seq = seg.seq;
  const std::uint8_t* data = seg.payload;
  std::uint32_t len = seg.payload_len;
  bool fin = f & kFin;
  if (seq_lt(seq, t.rcv_nxt)) {
    const std::uint32_t skip = t.rcv_nxt - seq;
    if (skip >= len) {
      if (skip > len) fin = false;  // the FIN is old too
      data = nullptr;
      len = 0;
    } else {
      data += skip;
      len -= skip;
    }
    seq = t.rcv_nxt;
  }
  const std::uint32_t wnd_end = t.rcv_adv;
  if (len > 0 && seq_gt(seq + len, wnd_end)) {
    len = seq_gt(wnd_end, seq) ? wnd_end - seq : 0;
    fin = false;       // the FIN lies beyond the window
    t.ack_now = true;  // tell the peer what we took and our window
    if (len == 0) ctr_.drop(DropReason::kUnacceptable);
  }
  if (len > 0 || fin) {
    text_arrived(t, seq, data, len, fin);
    if (t.dead) return;
  }

  output(t);
  if (t.dead) return;
  // A D-SACK goes at once (a data segment sent above carries no SACK option).
  if (t.ack_now || dsack_for_ == &t) {
    send_ack(t);
  } else if (t.pending_ack_bytes > 0 && t.delack_at == kNever) {
    // RFC 1122 §4.2.3.2 / RFC 9293 §3.8.6.3: delay the ACK (< 500 ms).
    t.delack_at = now_ + cfg_.delayed_ack;
  }
}

// RFC 2883 §4: the first SACK block reports the duplicate contiguous
// sequence that triggered the ACK (only the first one when a segment holds
// several), below RCV.NXT or among out-of-order data; send_ack() puts the
// block that contains it (the most recent one) second.
void StackImpl::note_dsack(Tcb& t, const Segment& seg) {
  const std::uint32_t end = seg.seq + seg.payload_len;
  if (seq_lt(seg.seq, t.rcv_nxt)) {
    // Partly old (the whole segment old is unacceptable, answered above).
    dsack_ = SackBlock{seg.seq, seq_min(end, t.rcv_nxt)};
  } else if (t.reasm != nullptr) {
    const auto dup = t.reasm->first_overlap(seg.seq, end, t.rcv_nxt);
    if (!dup) return;
    dsack_ = *dup;
  } else {
    return;
  }
  dsack_for_ = &t;
}

// SYN-RECEIVED -> ESTABLISHED (RFC 9293 §3.10.7.4 fifth check, SYN-RECEIVED).
void StackImpl::establish(Tcb& t, const Segment& seg) {
  void* listener_user = t.listener != nullptr ? t.listener->user : nullptr;
  leave_syn_queue(t);
  if (t.ts_ok && seg.opts.has_timestamps && seg.opts.ts_ecr != 0) {
    rtt_from_ack(t, seg);
  } else if (t.rtt_timing && t.retries == 0) {
    t.rtt.sample(now_ - t.rtt_time);  // Karn: SYN-ACK never retransmitted
  }
  t.rtt_timing = false;
  t.retries = 0;
  t.rtt.reset_backoff();
  t.rtx_at = kNever;
  t.snd_una = t.iss + 1;
  t.snd_nxt = seq_max(t.snd_nxt, t.snd_una);
  // SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK.
  t.snd_wnd = static_cast<std::uint32_t>(seg.window) << t.snd_wscale;
  t.max_snd_wnd = std::max(t.max_snd_wnd, t.snd_wnd);
  t.snd_wl1 = seg.seq;
  t.snd_wl2 = seg.ack;
  t.recover = t.snd_una;
  set_state(&t, State::kSynReceived, State::kEstablished);
  t.idle_at = t.keepalive ? now_ + cfg_.keepalive_idle : kNever;  // SYN-RECEIVED timer off
  if (t.active_open) {
    if (t.handlers->on_connected != nullptr) t.handlers->on_connected(t);
  } else {
    t.app_owned = true;
    if (t.handlers->on_accept != nullptr) t.handlers->on_accept(t, listener_user);
  }
}

// RFC 5961 §3.2: an RST exactly at RCV.NXT.
void StackImpl::rst_arrived(Tcb& t) {
  ctr_.in_rsts.inc();
  switch (t.state) {
    case State::kSynReceived:
      // SYN-RECEIVED -> LISTEN (passive) / CLOSED "refused" (active), §3.10.7.4 second.
      ctr_.attempt_fails.inc();
      close_tcb(t, t.active_open ? CloseReason::kRefused : CloseReason::kReset);
      return;
    case State::kEstablished:
    case State::kCloseWait:
      // ESTABLISHED / CLOSE-WAIT -> CLOSED (§3.10.7.4 second): connection reset.
      ctr_.estab_resets.inc();
      close_tcb(t, CloseReason::kReset);
      return;
    default:
      // FIN-WAIT-1/2, CLOSING, LAST-ACK -> CLOSED (§3.10.7.4 second).
      close_tcb(t, CloseReason::kReset);
      return;
  }
}

bool StackImpl::oow_suppressed(std::uint32_t& stamp, const Segment& seg, bool always) {
  if (!always && seg.seg_len() > 0 && !(seg.flags & kSyn)) return false;
  if (!oow_rate_limited(stamp, now_, cfg_.invalid_ratelimit)) return false;
  ctr_.oow_acks_suppressed.inc();
  return true;
}

// RFC 5961 §7: challenge ACKs are rate limited, first per connection (one per
// tcp.invalid_ratelimit_ms), then per core. The per-core budget of one fixed
// number per second is what CVE-2016-5696 used: an off-path host that fills
// it with its own challenges and counts what it gets back learns whether a
// spoofed segment drew one, hence the tuple and the sequence window. As
// Linux (since 4.7), the budget is drawn anew every second from
// [limit/2, limit/2 + limit) with a keyed hash nobody outside can predict.
void StackImpl::challenge_ack(Tcb& t) {
  if (oow_suppressed(t.oow_stamp, Segment{}, true)) return;
  const TimeUs window = now_ / kUsPerSec;
  if (window != chal_window_) {
    chal_window_ = window;
    const std::uint32_t limit = cfg_.challenge_ack_limit;
    const std::uint32_t half = (limit + 1) / 2;
    chal_budget_ = limit == 0 ? 0
                              : half + static_cast<std::uint32_t>(
                                           siphash24(&window, sizeof(window), chal_key_) % limit);
  }
  if (chal_budget_ == 0) {
    ctr_.challenge_acks_suppressed.inc();
    return;
  }
  --chal_budget_;
  ctr_.challenge_acks.inc();
  send_ack(t);
}

// RFC 7323 §4.3 (2): TS.Recent <- SEG.TSval when SEG.SEQ <= Last.ACK.sent.
void StackImpl::update_ts_recent(Tcb& t, const Segment& seg) {
  if (!t.ts_ok || !seg.opts.has_timestamps) return;
  if (seq_le(seg.seq, t.last_ack_sent) && seq_ge(seg.opts.ts_val, t.ts_recent)) {
    t.ts_recent = seg.opts.ts_val;
  }
}

void StackImpl::rtt_from_ack(Tcb& t, const Segment& seg) {
  if (t.ts_ok && seg.opts.has_timestamps && seg.opts.ts_ecr != 0) {
    // RFC 7323 §4.1: RTT from TSecr, unambiguous even for retransmissions.
    const std::uint32_t ms = ts_now(t) - seg.opts.ts_ecr;
    // An echo older than our latest retransmission answers an earlier
    // transmission (the peer keeps TS.Recent across duplicates, RFC 7323
    // §4.3): its age would inflate SRTT to the whole retransmission backoff.
    const bool stale = t.rtx_ts_valid && seq_lt(seg.opts.ts_ecr, t.ts_last_rtx);
    if (ms < (1u << 30) && !stale) t.rtt.sample(static_cast<TimeUs>(ms) * kUsPerMs);
    t.rtt_timing = false;
  } else if (t.rtt_timing && seq_gt(seg.ack, t.rtt_seq)) {
    t.rtt.sample(now_ - t.rtt_time);  // RFC 6298 §3 (Karn): timed segment never resent
    t.rtt_timing = false;
  }
}

// Fifth check for synchronized states. Returns false if processing stops.
bool StackImpl::ack_arrived(Tcb& t, const Segment& seg) {
  const std::uint32_t ack = seg.ack;
  // RFC 5961 §5.2: acceptable iff SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT.
  if (seq_gt(ack, t.snd_max)) {
    challenge_ack(t);  // §3.10.7.4: ACK for data not yet sent -> ACK, drop
    ctr_.drop(DropReason::kAckOutOfWindow);
    return false;
  }
  if (seq_lt(ack, t.snd_una - t.max_snd_wnd)) {
    challenge_ack(t);
    ctr_.drop(DropReason::kAckOutOfWindow);
    return false;
  }
  if (seq_ge(ack, t.snd_una) && t.persist) t.retries = 0;         // peer alive: keep probing
  if (t.sack_ok && seg.opts.num_sack > 0) dsack_arrived(t, seg);  // RFC 3708 (undo.cc)
  // RFC 2018 / RFC 6675: record what the peer holds above SND.UNA.
  if (t.sack_ok && seg.opts.num_sack > 0 &&
      (t.sacks != nullptr || (t.sacks = get_sacks()) != nullptr)) {
    t.sacks->on_ack(seq_gt(ack, t.snd_una) ? ack : t.snd_una, seg.opts.sack, seg.opts.num_sack,
                    t.snd_max);
  } else if (t.sacks != nullptr && seq_gt(ack, t.snd_una)) {
    t.sacks->on_ack(ack, nullptr, 0, t.snd_max);
  }
  // RFC 8985 §6.2 steps 1-3: what this ACK delivered, from the log.
  const bool advanced = seq_gt(ack, t.snd_una);
  ack_info_ = TxLog::AckInfo{};
  if (t.txlog != nullptr) {
    ack_info_ = t.txlog->on_ack(advanced ? ack : t.snd_una, seg.opts.sack,
                                t.sack_ok ? seg.opts.num_sack : 0, now_);
  }
  if (advanced) {
    update_window(t, seg);
    new_data_acked(t, seg);
    if (t.dead) return false;
  } else if (ack == t.snd_una) {
    // RFC 5681 §2 duplicate ACK: no data, no SYN/FIN, same window, data
    // outstanding. The window must also be open and no persist probe out
    // (Linux tcp_ack / FreeBSD tcp_do_segment decide it so): the answer to a
    // zero-window probe repeats SND.UNA with the same zero window, and
    // counting it would start fast recovery into a closed window and
    // replace the persist timer by the retransmission timer.
    const std::uint32_t wnd = static_cast<std::uint32_t>(seg.window) << t.snd_wscale;
    const bool dup = seg.payload_len == 0 && !(seg.flags & (kSyn | kFin)) && wnd != 0 &&
                     wnd == t.snd_wnd && !t.persist && t.snd_max != t.snd_una;
    update_window(t, seg);
    if (dup && (t.frto_wait1 || t.frto_wait2)) frto_dupack(t);  // RFC 5682 (undo.cc)
    if (dup) dup_ack(t);
  }
  // else: an old ACK (RFC 9293: ignore it, keep processing the segment).
  if (t.txlog != nullptr) rack_after_ack(t, advanced);  // RACK-TLP, PRR (tcb_recovery.cc)
  if (t.sacks != nullptr && t.sacks->empty() && !t.in_recovery) {
    put_sacks(t.sacks);  // idle connections hold no scoreboard
    t.sacks = nullptr;
  }

  if (t.fin_acked) {
    switch (t.state) {
      case State::kFinWait1:
        // FIN-WAIT-1 -> FIN-WAIT-2 (§3.10.7.4 fifth, FIN-WAIT-1: our FIN acked).
        set_state(&t, State::kFinWait1, State::kFinWait2);
        t.rtx_at = kNever;
        t.persist = false;
        if (t.orphan) t.idle_at = now_ + cfg_.fin_wait2_timeout;
        break;
      case State::kClosing:
        // CLOSING -> TIME-WAIT (§3.10.7.4 fifth, CLOSING: our FIN acked).
        enter_time_wait(t);
        return false;
      case State::kLastAck:
        // LAST-ACK -> CLOSED (§3.10.7.4 fifth, LAST-ACK: our FIN acked).
        // Bytes held for a paused reader (and the FIN's on_peer_closed)
        // reach the application first, as on entering TIME-WAIT.
        deliver_held(t, true);
        if (t.dead) return false;
        close_tcb(t, CloseReason::kNormal);
        return false;
      default:
        break;
    }
  }
  return true;
}

void StackImpl::new_data_acked(Tcb& t, const Segment& seg) {
  const std::uint32_t ack = seg.ack;
  const std::uint32_t acked = ack - t.snd_una;
  const std::uint32_t flight_before = t.flight();
  std::uint32_t data_acked = acked;
  if (t.fin_queued && !t.fin_acked && seq_gt(ack, t.data_end())) {
    t.fin_acked = true;  // the FIN's sequence number is acknowledged
    --data_acked;
  }
  t.sndbuf.trim(chunks_, data_acked);
  t.snd_una = ack;
  if (seq_lt(t.snd_nxt, t.snd_una)) t.snd_nxt = t.snd_una;
  if (t.txlog != nullptr) {
    // RFC 6298 §3 (Karn) from the log: the most recently sent segment this
    // ACK delivered that was never retransmitted. Not TSecr: after a hole
    // is filled the peer echoes the timestamp of the segment before the
    // hole (RFC 7323 §4.3), and the whole recovery would enter SRTT.
    if (ack_info_.rtt_valid) t.rtt.sample(ack_info_.rtt);
    t.rtt_timing = false;
  } else {
    rtt_from_ack(t, seg);
  }
  t.retries = 0;
  t.rtt.reset_backoff();

  if (t.txlog != nullptr) {
    if (t.in_recovery && seq_ge(ack, t.recover)) {
      // RFC 6675 §5 / RFC 6937: RecoveryPoint acknowledged, cwnd = ssthresh.
      t.in_recovery = false;
      t.sack_recovery = false;
      t.txlog->prr_active = false;
      t.txlog->rto_recovery = false;
      t.dupacks = 0;
      t.cc.on_exit_recovery();
    } else if (!t.in_recovery || t.txlog->rto_recovery) {
      // Open, or slow start after an RTO (rack_after_ack() sends).
      t.dupacks = 0;
      if (flight_before + t.mss >= t.cc.cwnd()) t.cc.on_ack(acked, now_, t.rtt.srtt());
    }
  } else if (t.in_recovery) {
    if (seq_ge(ack, t.recover)) {
      // RFC 6582 §3.2 step 6 / RFC 6675 §5: ACK of RecoveryPoint ends recovery.
      t.in_recovery = false;
      t.sack_recovery = false;
      t.dupacks = 0;
      t.cc.on_exit_recovery();
    } else if (t.sack_recovery) {
      sack_transmit(t);  // RFC 6675 §5 (C): a partial ACK also clocks out data
    } else {
      // RFC 6582 §3.2 step 5: partial ACK -> retransmit the next hole,
      // deflate by the amount acked, add back one SMSS.
      t.cc.deflate(acked);
      if (acked >= t.mss) t.cc.inflate(t.mss);
      retransmit_head(t);
    }
  } else {
    t.dupacks = 0;
    // RFC 7661 spirit / RFC 9438 §4.6: grow cwnd only when it limited us.
    if (flight_before + t.mss >= t.cc.cwnd()) t.cc.on_ack(acked, now_, t.rtt.srtt());
  }
  undo_on_ack(t, seg, acked);  // spurious RTO / fast retransmit (undo.cc)

  // RFC 6298 (5.2) all data acked -> stop the timer; (5.3) else restart it.
  if (t.snd_una == t.snd_max) {
    if (!t.persist) t.rtx_at = kNever;
  } else {
    t.rtx_at = now_ + rto(t);
    t.persist = false;
  }

  if (t.want_writable && t.app_owned && !t.orphan && send_space(t) > 0) {
    t.want_writable = false;
    if (t.handlers->on_writable != nullptr) t.handlers->on_writable(t);
  }
}

// RFC 5681 §3.2 / RFC 6582 §3.2 / RFC 6675 §5 duplicate ACK handling.
void StackImpl::dup_ack(Tcb& t) {
  if (t.dupacks < 255) ++t.dupacks;
  if (t.txlog != nullptr) return;  // RACK decides (rack_after_ack), RFC 8985 §6.2
  if (t.in_recovery) {
    if (t.sack_recovery) {
      sack_transmit(t);  // RFC 6675 §5 (C)
    } else {
      t.cc.inflate(t.mss);  // RFC 6582 step 4: output() sends what it allows
    }
    return;
  }
  const bool sacked = t.sacks != nullptr && !t.sacks->empty();
  // RFC 6675 §5: DupThresh duplicates, or IsLost(HighACK + 1).
  if (t.dupacks < 3 && !(sacked && t.sacks->is_lost(t.snd_una, t.mss))) return;
  // RFC 6582 §3.2 step 1/§4: not for duplicates of data sent before the
  // last RTO (SND.UNA has not passed "recover").
  if (seq_lt(t.snd_una, t.recover)) return;
  enter_recovery(t, sacked && t.snd_nxt == t.snd_max);
}

void StackImpl::enter_recovery(Tcb& t, bool sack_based) {
  ctr_.fast_retransmits.inc();
  t.recover = t.snd_max;  // RecoveryPoint = HighData
  undo_begin(t, false);   // before the cut: what an undo restores
  t.in_recovery = true;
  t.sack_recovery = sack_based;
  t.cc.on_enter_recovery(t.flight(), now_);
  t.rtt_timing = false;  // Karn
  if (sack_based) {
    // RFC 6675 §5 (4.3): retransmit the first unacknowledged segment, then
    // let the pipe estimate clock out more.
    t.high_rxt = t.snd_una;
    const std::uint32_t len = std::min<std::uint32_t>(t.mss, t.snd_max - t.snd_una);
    send_range(t, t.snd_una, len);
    t.high_rxt = t.snd_una + len;
    sack_transmit(t);
  } else {
    t.cc.inflate(3 * static_cast<std::uint32_t>(t.mss));  // RFC 6582 step 2
    retransmit_head(t);
  }
  t.rtx_at = now_ + rto(t);
  t.persist = false;
}

// RFC 6675 §5 (C): while cwnd - pipe >= 1 SMSS, send NextSeg().
void StackImpl::sack_transmit(Tcb& t) {
  if (t.sacks == nullptr) return;
  const std::uint32_t cwnd = t.cc.cwnd();
  std::uint32_t pipe = t.sacks->pipe(t.snd_una, t.snd_max, t.high_rxt, t.mss);
  for (int guard = 0; guard < 1024 && pipe < cwnd && cwnd - pipe >= t.mss; ++guard) {
    // Rule 1: a lost, not yet retransmitted hole.
    if (auto r = t.sacks->next_seg(t.snd_una, t.snd_max, t.high_rxt, t.mss)) {
      send_range(t, r->first, r->second);
      t.high_rxt = seq_max(t.high_rxt, r->first + r->second);
      pipe += r->second;
      continue;
    }
    // Rule 2: new data, as far as the peer's window allows.
    const std::uint32_t end = t.data_end();
    if (seq_lt(t.snd_nxt, end)) {
      const std::uint32_t wnd_end = t.snd_una + t.snd_wnd;
      const std::uint32_t room = seq_gt(wnd_end, t.snd_nxt) ? wnd_end - t.snd_nxt : 0;
      const std::uint32_t len =
          std::min({end - t.snd_nxt, static_cast<std::uint32_t>(t.mss), room});
      if (len > 0) {
        const bool fin = t.fin_queued && !t.fin_acked && t.snd_nxt + len == end;
        send_data(t, t.snd_nxt, len, fin);
        t.snd_nxt += len + (fin ? 1u : 0u);
        t.snd_max = seq_max(t.snd_max, t.snd_nxt);
        pipe += len;
        continue;
      }
    }
    // Rule 3: any unSACKed hole not yet retransmitted.
    if (auto r = t.sacks->next_seg_rule3(t.snd_una, t.snd_max, t.high_rxt, t.mss)) {
      send_range(t, r->first, r->second);
      t.high_rxt = seq_max(t.high_rxt, r->first + r->second);
      pipe += r->second;
      continue;
    }
    break;
  }
}

// Retransmits [seq, seq+len) of what was sent; the FIN's sequence number
// may be part of the range.
void StackImpl::send_range(Tcb& t, std::uint32_t seq, std::uint32_t len) {
  const std::uint32_t end = t.data_end();
  const bool fin = t.fin_sent() && !t.fin_acked && seq_gt(seq + len, end);
  const std::uint32_t dlen = seq_lt(seq, end) ? std::min(len, end - seq) : 0;
  if (dlen == 0 && !fin) return;
  send_data(t, seq, dlen, fin);
}

// RFC 9293 §3.10.7.4 fifth check, window update rule (SND.WL1 / SND.WL2).
void StackImpl::update_window(Tcb& t, const Segment& seg) {
  if (seq_lt(t.snd_wl1, seg.seq) || (t.snd_wl1 == seg.seq && seq_le(t.snd_wl2, seg.ack))) {
    const std::uint32_t wnd = static_cast<std::uint32_t>(seg.window) << t.snd_wscale;
    t.snd_wnd = wnd;
    t.snd_wl1 = seg.seq;
    t.snd_wl2 = seg.ack;
    t.max_snd_wnd = std::max(t.max_snd_wnd, wnd);
    if (wnd > 0 && t.persist) {
      // The window opened: leave persist mode; output() sends.
      t.persist = false;
      t.persist_shift = 0;
      t.rtx_at = t.snd_max != t.snd_una ? now_ + rto(t) : kNever;
    }
  }
}

// Seventh and eighth checks. [seq, seq+len) lies within the window.
void StackImpl::text_arrived(Tcb& t, std::uint32_t seq, const std::uint8_t* data, std::uint32_t len,
                             bool fin) {
  if (!in_state(t.state, State::kEstablished | State::kFinWait1 | State::kFinWait2)) {
    // CLOSE-WAIT, CLOSING, LAST-ACK: the peer's FIN was received; text and
    // FIN beyond it are ignored (§3.10.7.4 seventh/eighth).
    return;
  }
  if (len > 0 && t.orphan) {
    // RFC 9293 §3.10.4 / RFC 2525 §2.17: data for a closed socket -> RST.
    send_rst(t);
    close_tcb(t, CloseReason::kAborted);
    return;
  }
  if (seq != t.rcv_nxt) {
    // Out of order: queue it (RFC 9293 §3.10.7.4 seventh) and send an
    // immediate duplicate ACK with SACK blocks (RFC 5681 §4.2, RFC 2018 §4).
    ctr_.ooo_segs.inc();
    t.ack_now = true;
    // Memory pressure (issue 9): out-of-order data is stored only below the
    // budget's pressure mark and never evicts anything (Linux: TCPOFODrop).
    if (mem_pressure() || (t.reasm == nullptr && (t.reasm = get_reasm(t)) == nullptr)) {
      ctr_.mem_ofo_drops.inc();
      ctr_.drop(DropReason::kNoMemory);
      return;
    }
    if (len > 0 && !t.reasm->insert(seq, data, len, t.rcv_read(), t.rcv_held() + t.rcv_wnd(),
                                    /*may_reclaim=*/false)) {
      ctr_.mem_ofo_drops.inc();
      ctr_.drop(DropReason::kNoMemory);
    } else if (fin) {
      t.reasm->set_fin(seq + len);
    }
    if (t.reasm->ooo_bytes(t.rcv_nxt) > 0) ooo_track(*t.reasm);  // prune candidate
    return;
  }
  // RFC 5681 §4.2: a segment that fills all or part of a gap is ACKed at once.
  const bool had_ooo = t.reasm != nullptr && t.reasm->bytes() > t.rcv_held();
  if (len > 0) {
    const bool direct = t.rcv_held() == 0 && !t.rcv_paused;
    if (!direct) {
      // The application paused receiving, or has not read what came
      // earlier: hold the bytes in order; they count against the window.
      if (!hold_in_order(t, seq, data, len)) {
        t.ack_now = true;  // not stored: the ACK does not cover it, the peer retransmits
        return;
      }
      t.reasm->set_held_in_order(t.rcv_held() + len);
    }
    // Before on_data: a reply sent from inside it carries the ACK.
    t.rcv_nxt += len;
    t.pending_ack_bytes += len;
    t.rcv_mss =
        static_cast<std::uint16_t>(std::max<std::uint32_t>(t.rcv_mss, std::min(len, 65535u)));
    if (direct) {
      // The common case: straight to the application from the packet.
      deliver(t, data, len);
      if (t.dead) return;
    }
  }
  if (t.reasm != nullptr) {
    // Out-of-order bytes that the segment covered are stale: drop them (a
    // repacketized retransmission can cover a held range entirely).
    t.reasm->discard_below(t.rcv_read());
    // Out-of-order bytes that became contiguous join the held ones; ACK at
    // once (RFC 5681 §4.2: an ACK for a segment that fills a hole is sent
    // immediately).
    const std::uint32_t end = t.reasm->contiguous_end(t.rcv_nxt);
    if (end != t.rcv_nxt) {
      t.reasm->set_held_in_order(t.rcv_held() + (end - t.rcv_nxt));
      t.rcv_nxt = end;
    }
    if (had_ooo) t.ack_now = true;
    const auto qfin = t.reasm->fin_seq();
    if (qfin && *qfin == t.rcv_nxt) fin = true;
    deliver_held(t);
    if (t.dead) return;
  }
  if (fin) {
    fin_arrived(t);
    return;
  }
  // RFC 5681 §4.2: ACK at least every second full-sized segment.
  if (t.pending_ack_bytes >= 2u * t.rcv_mss) t.ack_now = true;
}

void StackImpl::deliver(Tcb& t, const std::uint8_t* data, std::uint32_t len) {
  if (!t.app_owned || t.orphan || t.handlers->on_data == nullptr) return;
  t.handlers->on_data(t, ByteView{data, len});
}

// Gives held in-order bytes to the application until it pauses (or all of
// them when `force`), then the on_peer_closed that waited for them. Frees
// the queue when it holds nothing more.
void StackImpl::deliver_held(Tcb& t, bool force) {
  // Re-entry (a resume from inside on_data of held bytes): the delivery in
  // progress goes on by itself, its stop test sees the pause lifted.
  if (t.reasm == nullptr || t.reasm->delivering()) return;
  if (t.rcv_held() > 0 && (force || !t.rcv_paused)) {
    t.reasm->deliver(
        t.rcv_read(),
        [&](ByteView v) {
          // v is part of the held bytes, which rcv_buf (< 2^31) bounds.
          t.reasm->set_held_in_order(t.rcv_held() - static_cast<std::uint32_t>(v.size));
          if (!t.dead) deliver(t, v.data, static_cast<std::uint32_t>(v.size));
        },
        [&] { return t.dead || (t.rcv_paused && !force); });
    if (t.dead) return;
  }
  if (t.rcv_held() == 0 && t.peer_fin_owed) {
    t.peer_fin_owed = false;
    if (!t.orphan && t.app_owned && t.handlers->on_peer_closed != nullptr) {
      t.handlers->on_peer_closed(t);
      if (t.dead) return;
    }
  }
  if (t.reasm != nullptr && t.reasm->empty() && !t.reasm->fin_seq()) {
    put_reasm(t.reasm);
    t.reasm = nullptr;
  }
}

// Eighth check: a FIN at RCV.NXT.
void StackImpl::fin_arrived(Tcb& t) {
  t.rcv_nxt += 1;
  // A FIN taken at a zero window (accepted as Linux does) puts RCV.NXT one
  // past the advertised edge; the window never goes negative (RFC 9293
  // §3.8.6.2.2), so the edge moves with it instead of RCV.WND wrapping to
  // 2^32-1 until the next ACK recomputes it.
  if (seq_lt(t.rcv_adv, t.rcv_nxt)) t.rcv_adv = t.rcv_nxt;
  t.ack_now = true;
  if (t.reasm != nullptr) {
    t.reasm->clear_fin();
    if (t.rcv_held() == 0) {
      put_reasm(t.reasm);
      t.reasm = nullptr;
    }
  }
  const State from = t.state;
  switch (from) {
    case State::kEstablished:
      // ESTABLISHED -> CLOSE-WAIT (§3.10.7.4 eighth).
      set_state(&t, from, State::kCloseWait);
      break;
    case State::kFinWait1:
      // FIN-WAIT-1 -> CLOSING (§3.10.7.4 eighth; our FIN not yet acked,
      // else ack_arrived() would have moved us to FIN-WAIT-2): simultaneous close.
      set_state(&t, from, State::kClosing);
      break;
    case State::kFinWait2:
      break;  // -> TIME-WAIT below, after the application heard of it
    default:
      return;
  }
  if (t.rcv_held() > 0) {
    t.peer_fin_owed = true;  // after the held bytes (deliver_held)
  } else if (!t.orphan && t.app_owned && t.handlers->on_peer_closed != nullptr) {
    t.handlers->on_peer_closed(t);
    if (t.dead) return;
  }
  if (t.state == State::kFinWait2) {
    // FIN-WAIT-2 -> TIME-WAIT (§3.10.7.4 eighth).
    enter_time_wait(t);
  }
}

}  // namespace shardtcp::tcp
