// Spurious retransmissions: detection and undo of the congestion response
// (issue 10). Four detectors, one response each:
//  - Eifel detection (RFC 3522) with timestamps: the first acceptable ACK
//    after a retransmission echoes a TSval older than the retransmission's,
//    so it answers the original transmission;
//  - F-RTO (RFC 5682 §2, basic) when timestamps are off: after an RTO, new
//    data instead of go-back-N; two ACKs that advance SND.UNA show the
//    originals arrived;
//  - D-SACK (RFC 3708 §3, RFC 2883): every retransmission of the response
//    came back reported as a duplicate.
// A spurious timeout gets the Eifel response (RFC 4015 §4): no go-back-N,
// cwnd = FlightSize + min(bytes_acked, IW), ssthresh = pipe_prev, and the
// original's RTT sampled. A spurious fast retransmit, or an
// RTO shown spurious only by D-SACK, gets cwnd and ssthresh back (Linux's
// undo). Each detection and each undo is counted.
//
// State (tcb.h, undo_*): what the last congestion response replaced, armed
// by undo_begin() before cwnd is cut and disarmed by an undo or the next
// response.
#include <algorithm>

#include "stack_impl.h"

namespace shardtcp::tcp {

void StackImpl::undo_begin(Tcb& t, bool rto, bool first_rto) {
  if (rto && !first_rto) {
    // RFC 5682 §2 step 1: a repeated timeout is conventional recovery; the
    // first retransmission's RetransmitTS and pipe_prev stay.
    t.frto_wait1 = false;
    t.frto_wait2 = false;
    return;
  }
  const bool keep = rto && t.in_recovery && t.undo_armed;
  if (!keep) {
    // The state before the first response of this episode; an RTO in the
    // middle of fast recovery keeps what was there before the recovery.
    t.undo_cwnd = t.cc.cwnd();
    t.undo_ssthresh = std::max(t.flight(), t.cc.ssthresh());  // RFC 4015 §4 pipe_prev
    t.undo_una = t.snd_una;
    t.undo_ts = ts_now(t);  // RFC 3522 §3.2 RetransmitTS: the retransmission leaves now
    t.undo_retrans = 0;
    t.undo_dsacked = false;
  }
  t.undo_armed = true;
  t.undo_rto = rto;
  t.eifel_wait = t.ts_ok;
  // RFC 5682: F-RTO after a first timeout outside fast recovery, when the
  // timestamps of Eifel are not there to decide.
  t.frto_wait1 = rto && !keep && !t.ts_ok && t.snd_wnd > 0;
  t.frto_wait2 = false;
}

// After an ACK that advanced SND.UNA (new_data_acked, congestion control done).
void StackImpl::undo_on_ack(Tcb& t, const Segment& seg, std::uint32_t acked) {
  if (!t.undo_armed) return;
  if (t.eifel_wait) {
    // RFC 3522 §3.2 steps (4)-(5): the first acceptable ACK decides.
    t.eifel_wait = false;
    const bool original = seg.opts.has_timestamps && seq_lt(seg.opts.ts_ecr, t.undo_ts);
    if (original && t.undo_rto) {
      ctr_.spurious_rto_eifel.inc();
      rto_spurious(t, seg, acked, false);
      return;
    }
    if (original && !t.in_recovery) {
      // The ACK that ended fast recovery answers an original transmission
      // (reordering, not loss): nothing was lost, restore the window.
      ctr_.spurious_fr_eifel.inc();
      undo_window(t);
      return;
    }
  }
  if (t.frto_wait2) {
    // RFC 5682 §2 step 3.b: the second ACK after the RTO advances SND.UNA
    // without a retransmission: the timeout was spurious.
    t.frto_wait2 = false;
    ctr_.spurious_rto_frto.inc();
    rto_spurious(t, seg, acked, true);
    return;
  }
  if (t.frto_wait1) {
    t.frto_wait1 = false;
    // Step 2.a: the ACK covers all that was outstanding at the timeout:
    // nothing to tell, conventional recovery goes on.
    if (seq_ge(seg.ack, t.recover)) return;
    // Step 2.b: up to two new segments instead of retransmissions.
    if (frto_send_new(t)) t.frto_wait2 = true;
    return;
  }
  // RFC 3708 §3: all retransmissions were D-SACKed during the recovery
  // this ACK ended.
  if (t.undo_dsacked && t.undo_retrans == 0 && !t.in_recovery) {
    ctr_.spurious_dsack.inc();
    undo_window(t);
  }
}

// RFC 5682 §2 step 2.a / 3.a: a duplicate ACK after the timeout means loss:
// conventional RTO recovery (go-back-N in slow start from SND.UNA; cwnd is
// at most 2 SMSS here, within the step's 3 SMSS).
void StackImpl::frto_dupack(Tcb& t) {
  if (t.frto_wait2) t.snd_nxt = t.snd_una;
  t.frto_wait1 = false;
  t.frto_wait2 = false;
}

bool StackImpl::frto_send_new(Tcb& t) {
  const std::uint32_t end = t.data_end();
  if (!seq_lt(t.snd_max, end)) return false;  // no new data: conventional (§2 step 2.b)
  const std::uint32_t back = t.snd_nxt;
  t.snd_nxt = t.snd_max;
  int sent = 0;
  for (; sent < 2 && seq_lt(t.snd_nxt, end); ++sent) {
    const std::uint32_t wnd_end = t.snd_una + t.snd_wnd;
    const std::uint32_t room = seq_gt(wnd_end, t.snd_nxt) ? wnd_end - t.snd_nxt : 0;
    const std::uint32_t len = std::min({end - t.snd_nxt, static_cast<std::uint32_t>(t.mss), room});
    if (len == 0) break;
    const bool fin = t.fin_queued && !t.fin_acked && t.snd_nxt + len == end;
    send_data(t, t.snd_nxt, len, fin);
    t.snd_nxt += len + (fin ? 1u : 0u);
    t.snd_max = seq_max(t.snd_max, t.snd_nxt);
  }
  if (sent == 0) t.snd_nxt = back;  // the peer's window has no room: conventional
  return sent > 0;
}

// RFC 4015 §4, the Eifel response to a spurious timeout.
void StackImpl::rto_spurious(Tcb& t, const Segment& seg, std::uint32_t acked, bool late) {
  // SPUR_TO: resume with new data, no go-back-N (LATE_SPUR_TO: F-RTO
  // already went on with new data).
  if (!late) t.snd_nxt = t.snd_max;
  // Reverse congestion control: cwnd = FlightSize + min(bytes_acked, IW)
  // (no burst), ssthresh = pipe_prev (slow start back to where it was).
  const std::uint32_t iw = cc::Common::initial_window(t.mss, cfg_.initial_window_segments);
  t.cc.restore(t.flight() + std::min(acked, iw), t.undo_ssthresh);
  // RFC 4015 §4 adapts the RTO to the delay that caused the timeout: the
  // echoed timestamp times the original transmission, an unambiguous RTT
  // sample (RFC 7323 §4.1) that rtt_from_ack() refused as older than the
  // retransmission. Deviation: it enters the RFC 6298 estimator instead of
  // SRTT = max(SRTT_prev, RTT); the max() form, fed the echo of a
  // receiver's stale TS.Recent, held the RTO at tens of seconds in the
  // harsh-link simulation (tests/sim). The echo may predate the original
  // (a receiver holding a gap): at most the RTO that expired plus the time
  // since the retransmission counts.
  if (!late && t.ts_ok && seg.opts.has_timestamps) {
    const std::uint32_t ms = ts_now(t) - seg.opts.ts_ecr;
    const std::uint32_t since_rtx = ts_now(t) - t.undo_ts;
    const TimeUs cap = t.rtt.base_rto() + static_cast<TimeUs>(since_rtx) * kUsPerMs;
    if (ms < (1u << 30) && since_rtx < (1u << 30)) {
      t.rtt.sample(std::min(static_cast<TimeUs>(ms) * kUsPerMs, cap));
    }
  }
  // Nothing was lost: duplicate ACKs from here on mean new loss (RFC 6582
  // §4's guard against old duplicates is moot without the go-back-N).
  t.recover = t.snd_una;
  ctr_.undo_rto.inc();
  undo_disarm(t);
}

// Restores the window a needless response cut (Linux tcp_undo_cwnd_reduction).
void StackImpl::undo_window(Tcb& t) {
  t.cc.restore(std::max(t.cc.cwnd(), t.undo_cwnd), std::max(t.cc.ssthresh(), t.undo_ssthresh));
  ctr_.undo_recovery.inc();
  undo_disarm(t);
}

void StackImpl::undo_disarm(Tcb& t) {
  t.undo_armed = false;
  t.eifel_wait = false;
  t.frto_wait1 = false;
  t.frto_wait2 = false;
}

// RFC 2883 §4 / RFC 3708 §2: the first SACK block is a D-SACK when it lies
// below the cumulative ACK or inside the second block. Bounded by what we
// sent, so a hostile block moves nothing.
void StackImpl::dsack_arrived(Tcb& t, const Segment& seg) {
  const SackBlock& b = seg.opts.sack[0];
  if (!seq_lt(b.left, b.right)) return;
  const bool below = seq_le(b.right, seg.ack);
  const bool inside = seg.opts.num_sack > 1 && seq_le(seg.opts.sack[1].left, b.left) &&
                      seq_le(b.right, seg.opts.sack[1].right);
  if (!below && !inside) return;
  ctr_.dsacks_received.inc();
  // RFC 3708 §3: only duplicates of what this response retransmitted count.
  if (!t.undo_armed || t.undo_retrans == 0 || seq_lt(b.left, t.undo_una) ||
      seq_gt(b.right, t.snd_max)) {
    return;
  }
  const std::uint32_t mss = std::max<std::uint32_t>(t.mss, 1);
  const std::uint32_t segs = (b.right - b.left) / mss + ((b.right - b.left) % mss != 0 ? 1u : 0u);
  t.undo_retrans = segs >= t.undo_retrans ? 0 : static_cast<std::uint16_t>(t.undo_retrans - segs);
  t.undo_dsacked = true;
  // After the recovery (RFC 3708 §3); an ACK that ends it checks in undo_on_ack().
  if (t.undo_retrans == 0 && !t.in_recovery) {
    ctr_.spurious_dsack.inc();
    undo_window(t);
  }
}

}  // namespace shardtcp::tcp
