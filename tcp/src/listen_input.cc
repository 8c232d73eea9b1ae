// Segment arrival without a synchronized Tcb: CLOSED (§3.10.7.1), LISTEN
// (§3.10.7.2), SYN-SENT (§3.10.7.3), and TIME-WAIT entries (RFC 1337,
// RFC 6191). RFC 9293 §3.10.7.
#include <algorithm>

#include "stack_impl.h"

namespace shardtcp::tcp {

namespace {
// Linux keeps checking cookies for two minutes after the SYN queue was last
// full (TCP_SYNCOOKIE_VALID); outside that window an ACK to a listener is
// simply answered with RST.
constexpr TimeUs kCookieValidity = 120 * kUsPerSec;
// The lowest peer MSS ever used, whatever tcp.min_mss says (config
// validation refuses less; this guards a TcpConfig built in code).
constexpr std::uint32_t kMinMssFloor = 64;
// NOP NOP TSopt (RFC 7323 §3.2 / Appendix A layout): 12 bytes of every
// segment once timestamps are on.
constexpr std::uint32_t kTsOptionSpace = 12;
}  // namespace

std::uint8_t StackImpl::our_wscale() const {
  // RFC 7323 §2.3: the smallest shift that lets us offer the whole buffer.
  std::uint8_t s = 0;
  while (s < 14 && (std::uint64_t{65535} << s) < cfg_.rcv_buf) ++s;
  return s;
}

void StackImpl::negotiate_options(Tcb& t, const TcpOptions& peer) {
  // RFC 9293 §3.7.1: 536 when the peer sent no MSS option (an MSS of 0 is
  // ignored, as Linux does).
  std::uint32_t peer_mss = peer.has_mss && peer.mss != 0 ? peer.mss : 536u;
  // The peer's MSS is clamped to a floor BEFORE option space is taken off
  // (Linux tcp_min_snd_mss since CVE-2019-11479): a tiny MSS would cost one
  // packet per few bytes, and with TSopt (12 bytes) an MSS below 13 leaves
  // no payload at all. kMinMssFloor also guards configs built in code.
  peer_mss = std::max<std::uint32_t>(peer_mss, std::max<std::uint32_t>(cfg_.min_mss, kMinMssFloor));
  // Payload bytes per segment, never above our own MSS (so the frame fits
  // the MTU) and never below kMinMssFloor - kTsOptionSpace > 0.
  std::uint32_t mss =
      std::min<std::uint32_t>(std::max<std::uint32_t>(cfg_.mss, kMinMssFloor), peer_mss);
  // RFC 7323 §2.2: scaling only when both SYNs carry the option; §2.3 caps 14.
  if (cfg_.window_scaling && peer.has_wscale) {
    t.snd_wscale = std::min<std::uint8_t>(peer.wscale, 14);
    t.rcv_wscale = our_wscale();
    t.ws_ok = true;
  } else {
    t.snd_wscale = 0;
    t.rcv_wscale = 0;
    t.ws_ok = false;
  }
  t.sack_ok = cfg_.sack && peer.sack_permitted;      // RFC 2018 §2
  t.ts_ok = cfg_.timestamps && peer.has_timestamps;  // RFC 7323 §3.2
  if (t.ts_ok) {
    t.ts_recent = peer.ts_val;
    mss -= kTsOptionSpace;  // TSopt in every segment; mss >= 64 > 12: no wrap
  }
  // Narrowing is safe: mss <= max(cfg_.mss, kMinMssFloor) <= 65535.
  t.mss = static_cast<std::uint16_t>(mss);
  t.rcv_mss = t.mss;
  t.ts_offset = ts_offset_of(t.tuple);
}

// RFC 9293 §3.10.7.1: no TCB. An RST is dropped; anything else gets a reset.
void StackImpl::closed_input(const Segment& seg) {
  if (seg.flags & kRst) {
    ctr_.drop(DropReason::kRstNoConnection);  // never RST a RST
    return;
  }
  reply_rst(seg);
  ctr_.drop(DropReason::kNoListenerRst);
}

void StackImpl::listen_input(Listener& l, const Segment& seg) {
  // §3.10.7.2 first: an incoming RST is ignored.
  if (seg.flags & kRst) {
    ctr_.drop(DropReason::kRstNoConnection);
    return;
  }
  // §3.10.7.2 second: any ACK is bad in LISTEN -> <SEQ=SEG.ACK><CTL=RST>,
  // unless it returns a valid SYN cookie (RFC 4987 §3.6).
  if (seg.flags & kAck) {
    if (!(seg.flags & kSyn) && cfg_.syn_cookies && l.last_overflow != kNever &&
        now_ - l.last_overflow <= kCookieValidity) {
      if (syn_cookie_ack(l, seg)) return;
      ctr_.syncookies_failed.inc();
      ctr_.drop(DropReason::kSynCookieInvalid);
      reply_rst(seg);
      return;
    }
    reply_rst(seg);
    ctr_.drop(DropReason::kInvalidState);
    return;
  }
  if (!(seg.flags & kSyn)) {
    ctr_.drop(DropReason::kInvalidState);  // §3.10.7.2 fourth: drop
    return;
  }
  if (seg.flags & kFin) {
    ctr_.drop(DropReason::kBadSynFlags);  // SYN+FIN: Linux drops it, so do we
    return;
  }
  if (flows_.size() >= cfg_.max_connections) {
    if (idle_victim() == nullptr) {
      ctr_.conn_limit_drops.inc();
      ctr_.drop(DropReason::kConnLimit);
      return;
    }
    // Full, with an idle connection to give way (tcp.evict_idle_on_full).
    // With SYN cookies the eviction waits for the handshake's ACK
    // (syn_cookie_ack): a spoofed SYN flood then evicts no one, only a peer
    // that answers at its address does. Without cookies the SYN evicts.
    if (cfg_.syn_cookies && !accept_paused_) {
      l.last_overflow = now_;  // so the cookie ACK is checked
      send_cookie_syn_ack(seg);
      return;
    }
    if (!accept_paused_) evict_idle();
  }
  if (shed_new_connection()) {
    ctr_.listen_drops.inc();
    ctr_.drop(DropReason::kNoMemory);  // mbuf low water or payload memory high water
    return;
  }
  if (l.syn_queued >= l.syn_backlog) {
    l.last_overflow = now_;
    ctr_.listen_overflows.inc();
    if (cfg_.syn_cookies) {
      send_cookie_syn_ack(seg);
      return;
    }
    ctr_.listen_drops.inc();
    ctr_.drop(DropReason::kListenOverflow);
    return;
  }
  Tcb* t = alloc_tcb(seg.tuple);
  if (t == nullptr) {
    ctr_.drop(DropReason::kNoMemory);
    return;
  }
  t->handlers = &l.handlers;
  t->listener = &l;
  ++l.syn_queued;
  t->nagle = l.opts.nagle.value_or(cfg_.nagle);  // the listener's choice wins
  t->keepalive = l.opts.keepalive.value_or(cfg_.keepalive);
  // §3.10.7.2 third: RCV.NXT = SEG.SEQ+1, IRS = SEG.SEQ, ISS per RFC 6528.
  t->irs = seg.seq;
  t->rcv_nxt = seg.seq + 1;
  t->iss = next_iss(seg.tuple);
  t->snd_una = t->iss;
  t->snd_nxt = t->iss;
  t->snd_max = t->iss;
  negotiate_options(*t, seg.opts);
  negotiate_ecn(*t, seg);
  // RFC 7323 §2.2: the window in a SYN is never scaled.
  t->snd_wnd = seg.window;
  t->max_snd_wnd = t->snd_wnd;
  t->snd_wl1 = seg.seq;
  t->snd_wl2 = t->iss;
  t->cc.init(t->mss, cfg_.initial_window_segments);
  ctr_.passive_opens.inc();
  // LISTEN -> SYN-RECEIVED (RFC 9293 §3.10.7.2 third check, SYN): <SYN,ACK>.
  set_state(t, State::kClosed, State::kSynReceived);
  if (cfg_.syn_rcvd_timeout != 0) t->idle_at = now_ + cfg_.syn_rcvd_timeout;
  send_syn(*t);
  start_rto(*t);
  rearm(*t);
}

// RFC 9293 §3.10.7.3, SYN-SENT.
void StackImpl::syn_sent_input(Tcb& t, const Segment& seg) {
  const bool has_ack = seg.flags & kAck;
  // First: ACK must acknowledge our SYN (ISS < SEG.ACK <= SND.NXT).
  if (has_ack && (seq_le(seg.ack, t.iss) || seq_gt(seg.ack, t.snd_max))) {
    if (!(seg.flags & kRst)) reply_rst(seg);  // <SEQ=SEG.ACK><CTL=RST>
    ctr_.drop(DropReason::kAckOutOfWindow);
    return;
  }
  // Second: RST. Acceptable only with an acceptable ACK (RFC 5961 §3.2 allows
  // this in SYN-SENT): SYN-SENT -> CLOSED, "connection refused".
  if (seg.flags & kRst) {
    if (!has_ack) {
      ctr_.drop(DropReason::kRstNoConnection);
      return;
    }
    ctr_.in_rsts.inc();
    ctr_.attempt_fails.inc();
    close_tcb(t, CloseReason::kRefused);
    return;
  }
  // Fourth: SYN.
  if (!(seg.flags & kSyn)) {
    ctr_.drop(DropReason::kInvalidState);
    return;
  }
  t.irs = seg.seq;
  t.rcv_nxt = seg.seq + 1;
  t.rcv_adv = t.rcv_nxt;  // nothing advertised yet: the next segment opens the window
  const std::uint8_t offered_wscale = t.rcv_wscale;
  negotiate_options(t, seg.opts);
  if (t.ws_ok) t.rcv_wscale = offered_wscale;  // what our SYN announced
  negotiate_ecn(t, seg);
  if (has_ack) {
    // Our SYN is acknowledged. SYN-SENT -> ESTABLISHED (§3.10.7.3 fourth).
    if (t.ts_ok && seg.opts.ts_ecr != 0) {
      rtt_from_ack(t, seg);
    } else if (t.rtt_timing && t.retries == 0) {
      t.rtt.sample(now_ - t.rtt_time);  // Karn: only a SYN never retransmitted
    }
    t.rtt_timing = false;
    t.snd_una = seg.ack;
    t.snd_nxt = seq_max(t.snd_nxt, t.snd_una);
    t.snd_wnd = seg.window;  // RFC 7323 §2.2: not scaled in a SYN
    t.max_snd_wnd = t.snd_wnd;
    t.snd_wl1 = seg.seq;
    t.snd_wl2 = seg.ack;
    t.retries = 0;
    t.rtt.reset_backoff();
    t.rtx_at = kNever;
    t.cc.init(t.mss, cfg_.initial_window_segments);
    set_state(&t, State::kSynSent, State::kEstablished);
    if (t.keepalive) t.idle_at = now_ + cfg_.keepalive_idle;
    // RFC 9293 §3.10.7.3 fourth: text or FIN on the SYN-ACK is processed
    // as in ESTABLISHED (sixth step on), within the window our SYN offered,
    // and the ACK then covers it.
    const bool text = seg.payload_len > 0 || (seg.flags & kFin);
    t.rcv_adv = t.rcv_nxt + std::min<std::uint32_t>(cfg_.rcv_buf, 65535);
    if (!text) send_ack(t);
    if (t.handlers->on_connected != nullptr) t.handlers->on_connected(t);
    if (t.dead) return;
    if (text) {
      const std::uint32_t room = t.rcv_adv - t.rcv_nxt;
      const std::uint32_t len = std::min(seg.payload_len, room);
      const bool fin = (seg.flags & kFin) && len == seg.payload_len;
      if (len < seg.payload_len) ctr_.drop(DropReason::kUnacceptable);  // beyond the window
      if (len > 0 || fin) text_arrived(t, t.rcv_nxt, seg.payload, len, fin);
      if (t.dead) return;
    }
    output(t);
    if (t.dead) return;
    if (text && (t.ack_now || t.pending_ack_bytes > 0 || t.last_ack_sent != t.rcv_nxt)) {
      send_ack(t);
    }
    return;
  }
  // Simultaneous open: SYN-SENT -> SYN-RECEIVED (§3.10.7.3 fourth), send
  // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
  t.snd_wnd = seg.window;
  t.max_snd_wnd = t.snd_wnd;
  t.snd_wl1 = seg.seq;
  set_state(&t, State::kSynSent, State::kSynReceived);
  t.snd_nxt = t.iss;
  send_syn(t);  // advertises the window: RCV.ADV is set
  // RFC 9293 §3.10.7.3 fourth: text and FIN on the SYN are queued (within
  // the window) for processing once ESTABLISHED is reached (tcb_input);
  // they are acknowledged then.
  if (seg.payload_len > 0 || (seg.flags & kFin)) {
    const std::uint32_t room = seq_gt(t.rcv_adv, t.rcv_nxt) ? t.rcv_adv - t.rcv_nxt : 0;
    const std::uint32_t len = std::min(seg.payload_len, room);
    const bool fin = (seg.flags & kFin) && len == seg.payload_len;
    if (mem_pressure() || (t.reasm == nullptr && (t.reasm = get_reasm(t)) == nullptr)) {
      ctr_.mem_ofo_drops.inc();
      ctr_.drop(DropReason::kNoMemory);  // not queued: the peer retransmits
      return;
    }
    if (len > 0 && !t.reasm->insert(t.rcv_nxt, seg.payload, len, t.rcv_read(), room,
                                    /*may_reclaim=*/false)) {
      ctr_.mem_ofo_drops.inc();
      ctr_.drop(DropReason::kNoMemory);  // the peer retransmits
    } else if (fin) {
      t.reasm->set_fin(t.rcv_nxt + len);
    }
    if (t.reasm->empty() && !t.reasm->fin_seq()) {
      put_reasm(t.reasm);
      t.reasm = nullptr;
    }
  }
}

// TIME-WAIT as a verdict over the compact entry (Linux
// tcp_timewait_state_process). Returns true when a SYN reopens the 4-tuple
// (only if a listener can take it): the entry is gone and the caller hands
// the SYN to the listener.
bool StackImpl::time_wait_input(TimeWaitEntry& e, const Segment& seg, bool can_reopen) {
  // Answers are rate limited per entry (Linux tcp_timewait_check_oow_rate_limit),
  // except for segments that occupy sequence space without SYN: a
  // retransmitted FIN must be re-ACKed every time (the peer's LAST-ACK
  // waits for it).
  auto ack = [&] {
    if (oow_suppressed(e.oow_stamp, seg)) return;
    OutSegment o;
    o.tuple = e.tuple;
    o.seq = e.snd_nxt;
    o.ack = e.rcv_nxt;
    o.flags = kAck;
    o.window = e.window;
    if (e.ts_ok) {
      o.opts.has_timestamps = true;
      o.opts.ts_val = ts_now_for(now_, e.ts_offset);
      o.opts.ts_ecr = e.ts_recent;
    }
    emit(o, 0);
  };
  // RFC 1337: an RST in TIME-WAIT is ignored (no assassination).
  if (seg.flags & kRst) {
    ctr_.drop(DropReason::kTimeWait);
    return false;
  }
  // RFC 7323 §5.3 PAWS on the entry's TS.Recent.
  const bool paws_fail = e.ts_ok && seg.opts.has_timestamps && seq_lt(seg.opts.ts_val, e.ts_recent);
  // Only a plain SYN may reopen (RFC 1122 §4.2.2.13): a SYN+FIN is no
  // connection request and gets the challenge ACK below.
  if ((seg.flags & (kSyn | kAck | kFin)) == kSyn && !paws_fail) {
    // RFC 6191 §2: reopen when the new SYN's timestamp is newer, or (without
    // timestamps) its ISN is beyond the old RCV.NXT (RFC 9293 §3.6.1).
    const bool ts_newer =
        e.ts_ok && seg.opts.has_timestamps && seq_gt(seg.opts.ts_val, e.ts_recent);
    const bool isn_beyond = !(e.ts_ok && seg.opts.has_timestamps) && seq_gt(seg.seq, e.rcv_nxt);
    if (can_reopen && (ts_newer || isn_beyond)) {
      ctr_.time_wait_reopens.inc();
      tw_.erase(e.tuple);
      // TIME-WAIT -> CLOSED: the compact entry goes; LISTEN takes the SYN.
      set_state(nullptr, State::kTimeWait, State::kClosed);
      return true;
    }
    ack();
    ctr_.drop(DropReason::kTimeWait);
    return false;
  }
  if (paws_fail) {
    ack();
    ctr_.drop(DropReason::kPawsRejected);
    return false;
  }
  if (seg.flags & kSyn) {
    // RFC 5961 §4.2 / RFC 9293 §3.10.7.4 fourth check: any other SYN (a
    // SYN-ACK, a SYN+FIN, also at SEQ = RCV.NXT) draws a challenge ACK; the
    // entry stays.
    ack();
    ctr_.drop(DropReason::kTimeWait);
    return false;
  }
  if ((seg.flags & (kFin | kAck)) == kFin && seq_ge(seg.seq, e.rcv_nxt) &&
      seq_lt(seg.seq, e.rcv_nxt + (std::uint32_t{e.window} << e.rcv_wscale))) {
    // RFC 9293 §3.10.7.4 fifth check: an acceptable segment without ACK is
    // dropped; only an old (retransmitted) FIN fails the first check and is
    // re-ACKed below.
    ctr_.drop(DropReason::kTimeWait);
    return false;
  }
  if (seg.flags & kFin) {
    // A retransmitted FIN: our last ACK was lost. Re-ACK and restart 2*MSL
    // (RFC 9293 §3.10.7.4 eighth, TIME-WAIT).
    ack();
    tw_.restart(e, now_);
    ctr_.drop(DropReason::kTimeWait);
    return false;
  }
  if (seg.payload_len > 0 || seg.seq != e.rcv_nxt) {
    ack();  // §3.10.7.4 first: unacceptable -> ACK
  }
  ctr_.drop(DropReason::kTimeWait);
  return false;
}

// RFC 4987 §3.6: the SYN queue is full, so the SYN-ACK's ISN is a cookie and
// nothing is stored. Without timestamps a cookie cannot carry window scale or
// SACK, so those are not offered (as Linux does).
// The cookie carries the peer's MSS rounded down to its table, whose smallest
// entry is 536 (RFC 9293 §3.7.1's default every IPv4 host accepts, as in
// Linux); syn_cookie_ack() then passes it through negotiate_options().
void StackImpl::send_cookie_syn_ack(const Segment& seg) {
  const std::uint16_t peer_mss = seg.opts.has_mss && seg.opts.mss != 0 ? seg.opts.mss : 536;
  OutSegment o;
  o.tuple = seg.tuple;
  o.seq = cookies_.make(seg.tuple, seg.seq, peer_mss, now_);
  o.ack = seg.seq + 1;
  o.flags = static_cast<std::uint8_t>(kSyn | kAck);
  o.window = static_cast<std::uint16_t>(std::min<std::uint32_t>(cfg_.rcv_buf, 65535));
  o.opts.has_mss = true;
  o.opts.mss = cfg_.mss;
  if (cfg_.timestamps && seg.opts.has_timestamps) {
    const bool ws = cfg_.window_scaling && seg.opts.has_wscale;
    const bool sack = cfg_.sack && seg.opts.sack_permitted;
    o.opts.has_wscale = ws;
    o.opts.wscale = our_wscale();
    o.opts.sack_permitted = sack;
    o.opts.has_timestamps = true;
    o.opts.ts_val = SynCookies::encode_ts(ts_now_for(now_, ts_offset_of(seg.tuple)), ws,
                                          std::min<std::uint8_t>(seg.opts.wscale, 14), sack);
    o.opts.ts_ecr = seg.opts.ts_val;
  }
  if (emit(o, 0)) ctr_.syncookies_sent.inc();
}

// An ACK for a listener that may return one of our cookies. True when it did
// (a Tcb now exists and has processed the segment).
bool StackImpl::syn_cookie_ack(Listener& l, const Segment& seg) {
  const auto info = cookies_.check(seg.tuple, seg.seq - 1, seg.ack - 1, now_);
  if (!info) return false;
  CookieInfo ci = *info;
  const bool ts = cfg_.timestamps && seg.opts.has_timestamps;
  if (ts && !SynCookies::decode_ts(seg.opts.ts_ecr, ci)) return false;
  if (!ts) {
    ci.has_wscale = false;
    ci.sack_permitted = false;
  }
  ctr_.syncookies_validated.inc();
  // At the limit, the longest idle connection gives way to a peer that has
  // proved its address (tcp.evict_idle_on_full, see listen_input()).
  if (flows_.size() >= cfg_.max_connections && !evict_idle()) {
    ctr_.conn_limit_drops.inc();
    ctr_.drop(DropReason::kConnLimit);
    return true;
  }
  Tcb* t = alloc_tcb(seg.tuple);
  if (t == nullptr) {
    ctr_.drop(DropReason::kNoMemory);
    return true;
  }
  t->handlers = &l.handlers;
  t->listener = &l;
  ++l.syn_queued;
  t->nagle = l.opts.nagle.value_or(cfg_.nagle);  // the listener's choice wins
  t->keepalive = l.opts.keepalive.value_or(cfg_.keepalive);
  // Rebuild what the SYN-ACK established: IRS = SEG.SEQ-1, ISS = SEG.ACK-1.
  t->irs = seg.seq - 1;
  t->rcv_nxt = seg.seq;
  t->iss = seg.ack - 1;
  t->snd_una = t->iss;
  t->snd_nxt = seg.ack;
  t->snd_max = seg.ack;
  TcpOptions peer;
  peer.has_mss = true;
  peer.mss = ci.mss;
  peer.has_wscale = ci.has_wscale;
  peer.wscale = ci.wscale;
  peer.sack_permitted = ci.sack_permitted;
  peer.has_timestamps = ts;
  peer.ts_val = seg.opts.ts_val;
  negotiate_options(*t, peer);
  t->rcv_adv = t->rcv_nxt + std::min<std::uint32_t>(cfg_.rcv_buf, 65535);
  t->last_ack_sent = t->rcv_nxt;
  t->snd_wl1 = seg.seq;
  t->snd_wl2 = seg.ack;
  t->cc.init(t->mss, cfg_.initial_window_segments);
  ctr_.passive_opens.inc();
  // LISTEN -> SYN-RECEIVED, rebuilt from the cookie (RFC 4987 §3.6); the
  // segment itself then moves it to ESTABLISHED.
  set_state(t, State::kClosed, State::kSynReceived);
  tcb_input(*t, seg);
  if (!t->dead) rearm(*t);
  return true;
}

}  // namespace shardtcp::tcp
