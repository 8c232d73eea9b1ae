// Per-connection timers. One TimerNode per Tcb is armed at the earliest of
// four deadlines (FreeBSD style):
//   rtx_at    RTO (RFC 6298), SYN/SYN-ACK retransmission, or persist (§3.8.6.1)
//   delack_at delayed ACK (RFC 1122 §4.2.3.2)
//   idle_at   keepalive (RFC 1122 §4.2.3.6) or orphaned FIN-WAIT-2 timeout
//   app_at    the application's deadline (Connection::set_deadline), which
//             fires Handlers::on_deadline after the engine's own timers
// Plus TIME-WAIT entry creation (the compact entry has no timer node).
#include <algorithm>

#include "stack_impl.h"

namespace shardtcp::tcp {

void StackImpl::rearm(Tcb& t) {
  if (t.dead) return;
  const TimeUs d = std::min({t.rtx_at, t.delack_at, t.idle_at, t.app_at, t.rack_at});
  if (d == kNever) {
    wheel_.cancel(t.timer);
  } else if (!t.timer.armed() || t.timer.deadline != d) {
    wheel_.arm(t.timer, d);
  }
}

TimeUs StackImpl::rto(const Tcb& t) const {
  const TimeUs r = t.rtt.rto();
  if (!t.syn_rto_fired || t.rtt.has_sample() || t.syn_unacked()) return r;
  const unsigned shift = std::min(t.rtt.backoffs(), 20u);
  return std::max(r, std::min<TimeUs>((3 * kUsPerSec) << shift, cfg_.rto_max));
}

void StackImpl::start_rto(Tcb& t) {
  t.persist = false;
  t.rtx_at = now_ + rto(t);
}

void StackImpl::on_timer(Tcb& t) {
  if (t.dead) return;
  if (t.delack_at <= now_) {
    t.delack_at = kNever;
    if (t.pending_ack_bytes > 0) {
      ctr_.delayed_acks.inc();
      send_ack(t);
    }
  }
  if (t.rack_at <= now_) {
    t.rack_at = kNever;
    rack_timer(t);  // RFC 8985 reordering timer or tail loss probe
    if (t.dead) return;
  }
  if (t.rtx_at <= now_) {
    t.rtx_at = kNever;
    if (t.persist) {
      persist_expired(t);
    } else {
      rto_expired(t);
    }
    if (t.dead) return;
  }
  if (t.idle_at <= now_) {
    t.idle_at = kNever;
    idle_expired(t);
    if (t.dead) return;
  }
  // The application's deadline, last: the engine's own timers have run, so
  // the callback sees the connection as it is at `now_`. It is disarmed
  // before the call; on_deadline may set it again, close or abort.
  if (t.app_at <= now_) {
    t.app_at = kNever;
    if (t.app_owned && t.handlers != nullptr && t.handlers->on_deadline != nullptr) {
      t.handlers->on_deadline(t);
      if (t.dead) return;
    }
  }
  rearm(t);
}

void StackImpl::rto_expired(Tcb& t) {
  ctr_.rto_expirations.inc();
  if (in_state(t.state, State::kSynSent | State::kSynReceived)) {
    if (t.retries >= cfg_.syn_retries) {
      // SYN-SENT / SYN-RECEIVED -> CLOSED: handshake retries exhausted.
      ctr_.attempt_fails.inc();
      ctr_.timeouts.inc();
      close_tcb(t, CloseReason::kTimeout);
      return;
    }
    ++t.retries;
    t.rtt.backoff();  // RFC 6298 (5.5)
    t.rtt_timing = false;
    t.syn_rto_fired = true;
    send_syn(t);
    start_rto(t);
    return;
  }
  if (t.retries >= cfg_.max_retries) {
    give_up(t);  // retransmissions exhausted
    return;
  }
  ++t.retries;
  const bool first = t.retries == 1;
  // RFC 4821 black-hole fallback (path_mtu.cc), before cwnd is cut to 1 SMSS.
  if (cfg_.mtu_probing) mtu_blackhole_check(t);
  t.rtt.backoff();                       // RFC 6298 (5.5)
  undo_begin(t, true, first);            // spurious-RTO detection (undo.cc)
  t.cc.on_rto(t.flight(), now_, first);  // RFC 5681 §3.1 (4)
  t.in_recovery = false;
  t.sack_recovery = false;
  if (t.sacks != nullptr) t.sacks->clear();  // RFC 6675 §5.1: SACK info is advisory
  t.dupacks = 0;
  t.rtt_timing = false;   // Karn
  t.recover = t.snd_max;  // RFC 6582 §4: no fast retransmit for old duplicates
  if (t.txlog != nullptr) {
    rack_on_rto(t);  // RFC 8985 §6.3: resend what is not SACKed, SND.NXT stays
    t.persist = false;
    t.rtx_at = now_ + rto(t);
    return;
  }
  t.snd_nxt = t.snd_una;  // go back: resend from the first unacknowledged byte
  // RFC 6298 (5.4)-(5.6): retransmit the earliest segment, timer at the new RTO.
  output(t, true);
  if (!t.persist) t.rtx_at = now_ + rto(t);
}

// Retries exhausted (RTO or persist) -> CLOSED; the application is told.
void StackImpl::give_up(Tcb& t) {
  ctr_.timeouts.inc();
  if (in_state(t.state, State::kEstablished | State::kCloseWait)) ctr_.estab_resets.inc();
  close_tcb(t, CloseReason::kTimeout);
}

void StackImpl::persist_expired(Tcb& t) {
  t.persist = false;
  if (t.snd_wnd > 0) {
    // SWS override (RFC 1122 §4.2.3.4): the window is open but small; send.
    output(t, true);
    return;
  }
  if (t.retries >= cfg_.max_retries) {
    give_up(t);  // probes unanswered as often as data retransmissions would be
    return;
  }
  ++t.retries;
  ctr_.zero_window_probes.inc();
  // RFC 9293 §3.8.6.1: probe a zero window with one octet of new data;
  // SND.NXT does not advance (the ACK tells whether the octet was taken).
  const std::uint32_t end = t.data_end();
  if (seq_lt(t.snd_nxt, end)) {
    send_data(t, t.snd_nxt, 1, false);
  } else {
    send_ack(t);
  }
  if (t.persist_shift < 30) ++t.persist_shift;
  t.persist = true;
  t.rtx_at = now_ + persist_interval(t);
}

void StackImpl::idle_expired(Tcb& t) {
  if (t.state == State::kSynReceived) {
    // TcpConfig::syn_rcvd_timeout: the handshake took too long -> CLOSED.
    ctr_.attempt_fails.inc();
    ctr_.timeouts.inc();
    close_tcb(t, CloseReason::kTimeout);
    return;
  }
  if (t.state == State::kFinWait2 && t.orphan) {
    // Orphaned FIN-WAIT-2 -> CLOSED: the peer never sent its FIN. Reset it
    // so it does not wait forever either (Linux does the same).
    ctr_.fin_wait2_timeouts.inc();
    send_rst(t);
    close_tcb(t, CloseReason::kFinWait2Timeout);
    return;
  }
  if (!t.keepalive || !in_state(t.state, State::kEstablished | State::kCloseWait)) return;
  // RFC 1122 §4.2.3.6: probe after keepalive_idle without any segment from
  // the peer, then every keepalive_interval; give up after keepalive_probes.
  const TimeUs due = t.last_rcv + cfg_.keepalive_idle + t.ka_probes * cfg_.keepalive_interval;
  if (now_ < due) {
    t.idle_at = due;  // traffic since the timer was armed
    return;
  }
  if (t.snd_max != t.snd_una) {
    t.idle_at = now_ + cfg_.keepalive_interval;  // data in flight: the RTO is in charge
    return;
  }
  if (t.ka_probes >= cfg_.keepalive_probes) {
    ctr_.timeouts.inc();
    ctr_.estab_resets.inc();
    send_rst(t);
    close_tcb(t, CloseReason::kTimeout);
    return;
  }
  ++t.ka_probes;
  ctr_.keepalive_probes.inc();
  // <SEQ=SND.NXT-1><ACK=RCV.NXT>: the peer must answer with an ACK.
  emit(segment_for(t, kAck, t.snd_una - 1), 0);
  t.idle_at = now_ + cfg_.keepalive_interval;
}

// (FIN-WAIT-2 | CLOSING) -> TIME-WAIT. The Tcb and its buffers go; a compact
// entry answers for the 4-tuple for 2*MSL (issue 4, RFC 9293 §3.10.7.4).
void StackImpl::enter_time_wait(Tcb& t) {
  if (t.ack_now) send_ack(t);  // the ACK of the peer's FIN leaves first
  // The compact entry keeps no data: bytes held while the application
  // paused receiving are delivered now, before on_closed, whatever the pause.
  deliver_held(t, true);
  if (t.dead) return;
  TimeWaitEntry e;
  e.tuple = t.tuple;
  e.snd_nxt = t.snd_max;
  e.rcv_nxt = t.rcv_nxt;
  e.ts_recent = t.ts_recent;
  e.ts_offset = t.ts_offset;
  e.oow_stamp = t.oow_stamp;  // the out-of-window answer limit carries on
  e.window = window_field(t);
  e.snd_wscale = t.snd_wscale;
  e.rcv_wscale = t.rcv_wscale;
  e.ts_ok = t.ts_ok;
  e.sack_ok = t.sack_ok;
  const State from = t.state;
  // Free the table slot first: the store indexes the same tuple separately.
  bool recycled = false;
  TimeWaitEntry* stored = tw_.insert(e, now_, &recycled);
  if (recycled) {
    // The oldest TIME-WAIT entry was evicted at capacity: TIME-WAIT -> CLOSED.
    ctr_.time_wait_recycled.inc();
    set_state(nullptr, State::kTimeWait, State::kClosed);
  }
  if (stored != nullptr) {
    set_state(&t, from, State::kTimeWait);
    release(t);
    notify_closed(t, CloseReason::kNormal);
  } else {
    // TIME-WAIT disabled (capacity 0): straight to CLOSED.
    close_tcb(t, CloseReason::kNormal);
  }
}

}  // namespace shardtcp::tcp
