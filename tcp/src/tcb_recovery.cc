// Loss recovery as Linux has it by default: RACK time-based loss detection
// with tail loss probes (RFC 8985) over the transmission log (rack.h), and
// proportional rate reduction (RFC 6937) for the window in fast recovery.
//
// Why: RFC 6675 alone finds a loss only from DupThresh SACKed segments above
// it. A lost retransmission, or a loss near the end of a flight (the usual
// case for a response), then waits for the RTO, which costs at least
// tcp.rto_min_ms on a path whose round trip may be far shorter (issue 10:
// at 5% loss most recoveries were timeouts). RACK judges every segment by
// its send time against the most recently sent delivered one, retransmissions
// included; the probe after ~2 SRTT draws the SACK that starts recovery.
//
// Used while the connection holds a log (tcp.rack, the peer SACKs); without
// one the RFC 6582 / RFC 6675 code in tcb_input.cc runs as before.
#include <algorithm>

#include "stack_impl.h"

namespace shardtcp::tcp {

namespace {
// RFC 8985 §7.2: WCDelAckT, the worst-case delayed ACK timer of the peer,
// added to the PTO when only one segment is in flight (nothing else will
// make the peer ACK sooner).
constexpr TimeUs kWcDelAck = 200 * kUsPerMs;
// Our timer wheel ticks in ms: a PTO of exactly 2*SRTT on a sub-millisecond
// path would fire before the ACK had a chance (Linux adds 2 jiffies).
constexpr TimeUs kPtoSlack = 2 * kUsPerMs;
}  // namespace

// New data or a retransmission of [seq, seq+seg_len) left now. The log is
// borrowed when a flight starts (it must see every byte of the flight).
void StackImpl::rack_log_send(Tcb& t, std::uint32_t seq, std::uint32_t seg_len,
                              bool starts_flight) {
  if (seg_len == 0) return;
  if (t.txlog == nullptr) {
    if (!cfg_.rack || !t.sack_ok || !starts_flight || seq != t.snd_una) return;
    t.txlog = txlogs_.get();
    if (t.txlog == nullptr) {
      ctr_.mem_alloc_failures.inc();  // RFC 6582/6675 recovery only, as without SACK
      return;
    }
  }
  t.txlog->on_send(seq, seq + seg_len, now_);
  // RFC 8985 §7.2: new data sent in the open state arms the PTO.
  if (t.rack_at == kNever && !t.in_recovery) rack_arm(t, 0, true);
}

void StackImpl::rack_release(Tcb& t) {
  if (t.txlog == nullptr) return;
  put_txlog(t.txlog);
  t.txlog = nullptr;
  t.rack_at = kNever;
}

// RFC 8985 §7.2 PTO.
TimeUs StackImpl::pto(const Tcb& t) const {
  TimeUs p;
  if (t.rtt.has_sample()) {
    p = 2 * t.rtt.srtt() + kPtoSlack;
    if (t.flight() <= t.mss) p = std::max(p, t.rtt.srtt() * 3 / 2 + kWcDelAck);
  } else {
    p = kUsPerSec;
  }
  return p;
}

// Arms rack_at: the reordering timer when a segment waits for its reordering
// window (RFC 8985 §6.2 step 5), else the PTO (§7.2) when a probe is allowed,
// else nothing. rearm_tlp = false keeps a pending PTO where it is.
void StackImpl::rack_arm(Tcb& t, TimeUs reo_wait, bool rearm_tlp) {
  if (t.snd_una == t.snd_max) {
    t.rack_at = kNever;
    return;
  }
  if (reo_wait > 0) {
    t.rack_at = now_ + reo_wait;
    t.rack_tlp = false;
    return;
  }
  const TxLog& l = *t.txlog;
  // §7.2: a probe only in the open state, one at a time, never into a closed window.
  const bool tlp_ok = cfg_.tlp && !t.in_recovery && !l.tlp_out && !t.persist && t.snd_wnd > 0;
  if (!tlp_ok) {
    t.rack_at = kNever;
    return;
  }
  if (!rearm_tlp && t.rack_at != kNever && t.rack_tlp) return;
  const TimeUs at = now_ + pto(t);
  // §7.2: a PTO later than the RTO is pointless, the RTO fires first.
  if (t.rtx_at != kNever && at >= t.rtx_at) {
    t.rack_at = kNever;
    return;
  }
  t.rack_at = at;
  t.rack_tlp = true;
}

// After the fifth check processed an ACK (ack_info_ holds what it delivered).
void StackImpl::rack_after_ack(Tcb& t, bool advanced) {
  TxLog& l = *t.txlog;
  // RFC 8985 §7.4: the episode of a probe ends when its sequence number is
  // acknowledged. A retransmitted probe acknowledged without a D-SACK
  // repaired a loss: the congestion response is owed (as a recovery that
  // ended at once).
  if (l.tlp_out && seq_ge(t.snd_una, l.tlp_end)) {
    l.tlp_out = false;
    if (l.tlp_rtx && advanced && !ack_info_.dsack && !t.in_recovery) {
      ctr_.tlp_recoveries.inc();
      t.cc.on_enter_recovery(t.flight() + ack_info_.delivered, now_);
      t.cc.on_exit_recovery();
    }
  }
  if (t.snd_una == t.snd_max) {
    rack_release(t);
    return;
  }
  const TimeUs wait = rack_detect_and_respond(t, ack_info_.delivered);
  rack_arm(t, wait, advanced || ack_info_.delivered > 0);
}

// RFC 8985 §6.2 (detect_loss) and the response: recovery starts when a
// segment is newly marked lost, or goes on sending what PRR allows for the
// `delivered` bytes. Returns how long the next segment may still wait for
// its reordering window (0 = none waits).
TimeUs StackImpl::rack_detect_and_respond(Tcb& t, std::uint32_t delivered) {
  TxLog& l = *t.txlog;
  int lost_rtx = 0;
  TimeUs wait = 0;
  const int marked = l.detect_loss(now_, l.reo_wnd(t.in_recovery, t.rtt.srtt()), &lost_rtx, &wait);
  ctr_.rack_lost_segs.add(static_cast<std::uint64_t>(marked));
  ctr_.lost_retransmits.add(static_cast<std::uint64_t>(lost_rtx));
  if (marked > 0 && !t.in_recovery) {
    rack_enter_recovery(t);
  } else if (t.in_recovery) {
    rack_transmit(t, delivered);
  }
  return wait;
}

// RFC 8985 §6.2 / RFC 6675 §5 (4): a loss was detected in the open state.
void StackImpl::rack_enter_recovery(Tcb& t) {
  TxLog& l = *t.txlog;
  ctr_.fast_retransmits.inc();
  t.recover = t.snd_max;  // RecoveryPoint = HighData
  t.in_recovery = true;
  t.sack_recovery = true;
  t.rtt_timing = false;  // Karn
  l.tlp_out = false;
  l.rto_recovery = false;
  // RFC 6937 §3: start of recovery.
  l.prr_active = true;
  l.prr_delivered = 0;
  l.prr_out = 0;
  l.recover_fs = t.flight();
  t.cc.on_enter_recovery(t.flight(), now_);  // ssthresh (RFC 5681 (4) / RFC 9438 §4.6)
  rack_transmit(t, ack_info_.delivered);
}

// Sends what the recovery allows: in fast recovery the PRR quantity
// (RFC 6937 §3.1, PRR-SSRB), after an RTO cwnd - pipe (slow start). Lost
// segments go first, then new data (RFC 6675 NextSeg() rules 1 and 2).
void StackImpl::rack_transmit(Tcb& t, std::uint32_t delivered) {
  TxLog& l = *t.txlog;
  const std::uint32_t mss = t.mss;
  const std::uint32_t pipe = l.pipe();
  std::int64_t budget;
  if (l.prr_active) {
    l.prr_delivered += delivered;
    const std::uint64_t ss = t.cc.ssthresh();
    if (pipe > ss) {
      // Proportional part: sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out.
      const std::uint64_t fs = std::max<std::uint32_t>(l.recover_fs, 1);
      const std::uint64_t want = (std::uint64_t{l.prr_delivered} * ss + fs - 1) / fs;
      budget = static_cast<std::int64_t>(want) - l.prr_out;
    } else {
      // Slow-start reduction bound: limit = MAX(prr_delivered - prr_out, DeliveredData) + MSS.
      const std::int64_t gap = std::int64_t{l.prr_delivered} - l.prr_out;
      const std::int64_t limit = std::max<std::int64_t>(gap, delivered) + mss;
      budget = std::min<std::int64_t>(static_cast<std::int64_t>(ss - pipe), limit);
    }
    // RFC 6937 §3.1 note: the first retransmission of a recovery always goes.
    if (budget < static_cast<std::int64_t>(mss) && l.prr_out == 0 && l.any_lost()) budget = mss;
  } else {
    const std::uint32_t cwnd = t.cc.cwnd();
    budget = cwnd > pipe ? cwnd - pipe : 0;
  }
  for (int guard = 0; guard < 1024 && budget > 0; ++guard) {
    std::uint32_t sent = 0;
    if (auto s = l.next_lost(mss)) {
      if (static_cast<std::int64_t>(s->second) > budget) break;
      send_range(t, s->first, s->second);
      sent = s->second;
    } else {
      const std::uint32_t end = t.data_end();
      const std::uint32_t unsent = seq_lt(t.snd_nxt, end) ? end - t.snd_nxt : 0;
      const bool fin_due = t.fin_queued && !t.fin_acked && unsent == 0 && t.snd_nxt == end &&
                           !seq_gt(t.snd_max, end);
      const std::uint32_t wnd_end = t.snd_una + t.snd_wnd;
      const std::uint32_t room = seq_gt(wnd_end, t.snd_nxt) ? wnd_end - t.snd_nxt : 0;
      const std::uint32_t len = std::min({unsent, mss, room});
      if (len == 0 && !fin_due) break;
      if (static_cast<std::int64_t>(len) > budget) break;
      const bool fin = t.fin_queued && !t.fin_acked && t.snd_nxt + len == end;
      send_data(t, t.snd_nxt, len, fin);
      t.snd_nxt += len + (fin ? 1u : 0u);
      t.snd_max = seq_max(t.snd_max, t.snd_nxt);
      sent = len + (fin ? 1u : 0u);
    }
    budget -= sent;
    if (l.prr_active) {
      l.prr_out += sent;
      ctr_.prr_segs.inc();
    }
  }
}

// RFC 8985 §6.3 (as Linux's tcp_enter_loss): on an RTO every unSACKed
// segment is deemed lost and resent as cwnd (one segment, slow start)
// allows; SACKed segments are not resent and SND.NXT does not go back.
void StackImpl::rack_on_rto(Tcb& t) {
  TxLog& l = *t.txlog;
  // A repeated timeout may mean the peer reneged: forget its SACKs
  // (RFC 6675 §5.1, RFC 2018 §8).
  l.mark_all_lost(t.retries > 1);
  l.tlp_out = false;
  l.prr_active = false;
  l.rto_recovery = true;
  t.in_recovery = true;
  t.sack_recovery = true;
  t.recover = t.snd_max;
  t.rack_at = kNever;
  rack_transmit(t, 0);
}

void StackImpl::rack_timer(Tcb& t) {
  if (t.txlog == nullptr || t.snd_una == t.snd_max) return;
  if (t.rack_tlp) {
    tlp_fire(t);
    return;
  }
  // RFC 8985 §6.2 step 5: the reordering window of a segment ran out.
  ctr_.rack_reo_timeouts.inc();
  ack_info_ = TxLog::AckInfo{};
  rack_arm(t, rack_detect_and_respond(t, 0), false);
}

// RFC 8985 §7.3: send one segment, new data if the window allows, else the
// last segment sent again, so that the peer's ACK (with SACK) tells which
// of the tail was lost.
void StackImpl::tlp_fire(Tcb& t) {
  TxLog& l = *t.txlog;
  if (t.in_recovery || l.tlp_out) return;
  const std::uint32_t end = t.data_end();
  const std::uint32_t wnd_end = t.snd_una + t.snd_wnd;
  const std::uint32_t room = seq_gt(wnd_end, t.snd_nxt) ? wnd_end - t.snd_nxt : 0;
  const std::uint32_t unsent = seq_lt(t.snd_nxt, end) ? end - t.snd_nxt : 0;
  const std::uint32_t len = std::min({unsent, static_cast<std::uint32_t>(t.mss), room});
  if (len > 0 && t.snd_nxt == t.snd_max) {
    const bool fin = t.fin_queued && !t.fin_acked && t.snd_nxt + len == end;
    send_data(t, t.snd_nxt, len, fin);
    t.snd_nxt += len + (fin ? 1u : 0u);
    t.snd_max = seq_max(t.snd_max, t.snd_nxt);
    l.tlp_rtx = false;
  } else if (auto s = l.last_segment(t.mss)) {
    send_range(t, s->first, s->second);
    l.tlp_rtx = true;
  } else {
    return;
  }
  ctr_.tlp_probes.inc();
  l.tlp_out = true;
  l.tlp_end = t.snd_max;
  t.rack_at = kNever;  // one probe per episode (§7.2)
  // §7.3: the RTO runs anew from the probe.
  t.persist = false;
  t.rtx_at = now_ + rto(t);
}

}  // namespace shardtcp::tcp
