// Explicit Congestion Notification for TCP (RFC 3168 §6.1): negotiation on
// the handshake, ECT(0) on new data, ECE from a receiver that saw CE until
// the sender's CWR, and one congestion response per window at the sender.
// The dataplane reads and writes the IP header's ECN field
// (Segment::ip_ecn, OutSegment::ip_ecn); the engine never touches IP.
#include "stack_impl.h"

namespace shardtcp::tcp {

void StackImpl::negotiate_ecn(Tcb& t, const Segment& syn) {
  const std::uint8_t ecn_bits = syn.flags & (kEce | kCwr);
  if (syn.flags & kAck) {
    // SYN-SENT: RFC 3168 §6.1.1, an ECN-setup SYN-ACK has ECE and not CWR,
    // and counts only if our SYN asked.
    t.ecn_ok = cfg_.ecn == EcnMode::kOn && ecn_bits == kEce;
  } else if (t.state == State::kSynSent) {
    t.ecn_ok = false;  // simultaneous open: RFC 3168 does not define it
  } else {
    // LISTEN: an ECN-setup SYN has both ECE and CWR (§6.1.1).
    t.ecn_ok = cfg_.ecn != EcnMode::kOff && ecn_bits == (kEce | kCwr);
  }
  if (t.ecn_ok) ctr_.ecn_connections.inc();
}

void StackImpl::ecn_input(Tcb& t, const Segment& seg) {
  // Receiver, RFC 3168 §6.1.3: CWR ends the ECE echo; a CE mark (on this
  // very segment too) starts it again. The first CE is acknowledged at once
  // so the sender hears of it within a round trip (as Linux's quick ACK).
  if (seg.flags & kCwr) t.ece_pending = false;
  if (seg.ip_ecn == kCe) {
    ctr_.ecn_ce_received.inc();
    if (!t.ece_pending) t.ack_now = true;
    t.ece_pending = true;
  }
  // Sender, §6.1.2: ECE asks for the response to a loss (RFC 5681 (4)),
  // at most once per window of data: not again until an ACK covers data sent
  // after the last response, nor while loss recovery already reduced cwnd.
  if (!(seg.flags & kEce) || t.in_recovery) return;
  if (t.ecn_reduced && !seq_gt(seg.ack, t.ecn_recover)) return;
  t.cc.on_enter_recovery(t.flight(), now_);
  t.cc.on_exit_recovery();  // cwnd = ssthresh now; no recovery episode follows
  t.ecn_recover = t.snd_max;
  t.ecn_reduced = true;
  t.cwr_pending = true;
  ctr_.ecn_ece_received.inc();
}

void StackImpl::ecn_mark(Tcb& t, OutSegment& o, bool retransmission) {
  // §6.1.5 / §6.1.6: retransmissions and pure window probes are not ECT,
  // new data is ECT(0); the first new data after a reduction carries CWR.
  if (retransmission || o.payload_len == 0) return;
  // A zero-window probe's octet lies beyond the peer's window (§6.1.6).
  if (seq_gt(o.seq + o.payload_len, t.snd_una + t.snd_wnd)) return;
  o.ip_ecn = kEct0;
  if (t.cwr_pending) {
    o.flags |= kCwr;
    t.cwr_pending = false;
    ctr_.ecn_cwr_sent.inc();
  }
}

}  // namespace shardtcp::tcp
