"""Third set of conformance checks (handshake edge cases, RFC 7323 details,
RFC 5961 §5.2, congestion control, closing variants, IP/TCP encoding),
imported by probe.py. Same conventions as checks2.py; see CHECKS.md.
"""
import time

import probe as P
from checks2 import read_response, syn_with, ts_conn
from wire import ACK, FIN, PSH, RST, SYN, Conn, ProbeError, seq_add, seq_lt

CHECKS3 = []


# --- more handshake edge cases -------------------------------------------------

def check_synrecv_rst_then_ack(ctx):
    """RFC 9293 §3.10.7.4 second check (SYN-RECEIVED, passive): an exact RST
    removes the half-open connection, so the handshake ACK that follows
    meets LISTEN and draws <SEQ=SEG.ACK><CTL=RST>."""
    c = ctx.conn()
    c.syn()
    sa = c.wait_synack()
    c.send(RST, seq=c.snd_nxt, ack=0)
    time.sleep(0.1)
    c.send(ACK)
    seg = c.expect(lambda s: s.has(RST) or s.has(ACK), 1.5)
    want = seq_add(sa.seq, 1)
    c.rcv_nxt = None
    ok = seg is not None and seg.has(RST) and seg.seq == want
    return ok, f"after RST, handshake ACK -> {seg} (want RST seq={want})"


def check_synrecv_fin_no_ack(ctx):
    """RFC 9293 §3.10.7.4 fifth check: a FIN without ACK in SYN-RECEIVED is
    dropped; after the real handshake ACK the connection is open (a request
    is answered and the server does not close, as it would after our FIN)."""
    c = ctx.conn()
    c.syn()
    c.wait_synack()
    c.send(FIN, ack=0)
    quiet = [s for s in c.collect(0.4) if not s.has(SYN)]
    c.send(ACK)
    answered = P.fetch(c)
    later = c.collect(0.4)
    fin = c.server_fin or any(s.has(FIN) for s in later)
    ok = not quiet and answered and not fin
    return ok, f"replies to the FIN: {quiet or 'none'}; then answered: {answered}; server FIN: {fin}"


def check_syn_with_data(ctx):
    """RFC 9293 §3.10.7.2 third check: data in a SYN may be queued or
    dropped (Linux without TFO drops it); either way SEG.ACK covers only
    what was kept, and the request is answered once it is (re)sent."""
    c = ctx.conn()
    c.send(SYN, seq=c.iss, ack=0, options=[("MSS", 1460)], data=P.REQ)
    c.snd_nxt = seq_add(c.iss, 1)
    sa = c.wait_synack()
    if sa.ack == seq_add(c.iss, 1):
        c.send(ACK)
        answered, how = P.fetch(c), "dropped, resent"
    elif sa.ack == seq_add(c.iss, 1 + len(P.REQ)):
        c.snd_nxt = sa.ack
        c.send(ACK)
        answered, how = read_response(c), "queued"
    else:
        return False, f"SYN-ACK acks {sa.ack}: neither ISN+1 nor ISN+1+len"
    return answered, f"SYN data {how}; request answered: {answered}"


# --- RFC 7323 details ----------------------------------------------------------

def check_ts_every_segment(ctx):
    """RFC 7323 §3.2: once negotiated, every segment the server sends
    carries TSopt, TSecr echoes one of our TSvals (never ahead of the latest)
    and its TSval never goes backwards."""
    c, _ = ts_conn(ctx, sack=False)
    start = len(c.log)
    c.send_data(P.get_bytes(20000))
    read_response(c, timeout=3.0)
    sent = c.sent_tsvals
    segs = c.log[start:]
    missing = [s for s in segs if s.opt("Timestamp") is None]
    bad_ecr = [(s, s.opt("Timestamp")) for s in segs
               if s.opt("Timestamp") is not None and s.opt("Timestamp")[1] not in sent]
    vals = [s.opt("Timestamp")[0] for s in segs if s.opt("Timestamp") is not None]
    backwards = any(seq_lt(b, a) for a, b in zip(vals, vals[1:]))
    ok = P.response_complete(c) and segs and not missing and not bad_ecr and not backwards
    return ok, (f"{len(segs)} segments; without TSopt: {missing[:2] or 'none'}; TSecr not ours: "
                f"{bad_ecr[:2] or 'none'} (ours {min(sent)}..{max(sent)}); TSval backwards: {backwards}")


def check_window_scale_applied(ctx):
    """RFC 7323 §2.3: with scaling negotiated the server scales our window
    field (1000 << 2 = 4000 bytes): it sends more than 1000 bytes and
    nothing beyond 4000 before we ACK."""
    c = ctx.conn()
    sa = syn_with(c, [("MSS", 1460), ("NOP", None), ("WScale", 2)])
    if sa.opt("WScale") is None:
        return False, f"no WScale in SYN-ACK {sa.options}"
    c.send(ACK, win=1000)
    c.send_data(P.get_bytes(20000), win=1000)
    start = c.rcv_nxt
    segs = c.collect(0.6)
    sent = max([(seq_add(s.seq, len(s.payload)) - start) % (1 << 32) for s in segs if s.payload] or [0])
    c.ack_now()
    done = read_response(c, timeout=4.0)
    ok = 1000 < sent <= 4000 and done
    return ok, f"sent {sent} bytes into a 1000<<2 window (want 1001..4000); complete later: {done}"


# --- RFC 5961 §5.2 ---------------------------------------------------------------

def check_ack_too_old(ctx):
    """RFC 5961 §5.2: SEG.ACK < SND.UNA - MAX.SND.WND -> challenge ACK and
    the segment (with its data) is discarded; the connection survives."""
    c = ctx.conn()
    c.handshake()
    old = seq_add(c.rcv_nxt, -(1 << 20))
    want = c.snd_nxt
    c.send(PSH | ACK, ack=old, data=P.REQ)
    segs = c.collect(0.8)
    acked = any(s.has(ACK) and s.ack == seq_add(want, len(P.REQ)) for s in segs)
    chal = any(s.has(ACK) and s.ack == want and not s.has(RST) for s in segs)
    answered = bytes(c.rx).startswith(b"HTTP/")
    survived = P.fetch(c)
    ok = chal and not acked and not answered and survived
    return ok, f"replies {segs or 'none'}; challenge ACK: {chal}; data taken: {acked or answered}; survives: {survived}"


# --- congestion control (RFC 5681, RFC 6928, RFC 2018/6675) --------------------

def first_flight(c, n_bytes, win=65535, settle=0.12):
    """Request n_bytes and, without ACKing, return the distinct data bytes of
    the first flight and the segments."""
    start = c.rcv_nxt
    c.send_data(P.get_bytes(n_bytes), win=win)
    first = c.expect(lambda s: len(s.payload) > 0, 2.0)
    if first is None:
        raise ProbeError(f"no response data: {P.history(c)}")
    segs = [first] + c.collect(settle)
    sent = max([(seq_add(s.seq, len(s.payload)) - start) % (1 << 32) for s in segs if s.payload])
    return sent, segs


def drain(c, timeout=5.0):
    """ACK everything until the response is complete."""
    return read_response(c, timeout=timeout)


def big_window_conn(ctx):
    c = ctx.conn()
    sa = syn_with(c, [("MSS", 1460), ("NOP", None), ("WScale", 7)])
    c.send(ACK)
    return c, min(1460, sa.opt("MSS") or 536)


def check_initial_window(ctx):
    """RFC 5681 §3.1 / RFC 6928: the first flight of a response into a
    large window is at most IW = 10 segments."""
    c, mss = big_window_conn(ctx)
    sent, _ = first_flight(c, 100000)
    c.rst()
    c.rcv_nxt = None
    ok = mss <= sent <= 10 * mss
    return ok, f"first flight {sent} bytes = {sent / mss:.1f} x MSS {mss} (want <= 10)"


def check_restart_after_idle(ctx):
    """RFC 5681 §4.1: after an idle period longer than the RTO, cwnd is
    restarted at (at most) IW. A keep-alive connection grows cwnd beyond
    IW on a large transfer (shown by an immediate second request), is warmed
    up again, then idles 1.5 s: the next response's first flight is <= 10
    segments. The check only means something when the immediate flight
    exceeded IW; when it did not (the sender saw the probe's own scheduling
    delay as idle time), the attempt is inconclusive and is repeated."""
    busy = 0
    for attempt in range(4):
        c, mss = big_window_conn(ctx)
        c.send_data(P.get_bytes(300000))
        if not drain(c, 8.0):
            return False, f"warm-up transfer incomplete: {P.history(c)}"
        c.rx.clear()
        busy, _ = first_flight(c, 200000)
        if not drain(c, 8.0):
            return False, "second transfer incomplete"
        if busy <= 10 * mss:
            c.rst()
            c.rcv_nxt = None
            continue
        # The unACKed flight above may have cost the sender an RTO; grow
        # cwnd again so the idle flight below is limited by the restart only.
        c.rx.clear()
        c.send_data(P.get_bytes(300000))
        if not drain(c, 8.0):
            return False, "third transfer incomplete"
        c.rx.clear()
        time.sleep(1.5)
        idle, _ = first_flight(c, 200000)
        drain(c, 8.0)
        return idle <= 10 * mss, (
            f"first flight without idle: {busy / mss:.1f} x MSS (attempt {attempt + 1}); "
            f"after 1.5 s idle: {idle / mss:.1f} x MSS (want <= 10)")
    return False, (f"inconclusive 4 times: the first flight without idle never exceeded IW "
                   f"(last {busy / mss:.1f} x MSS)")


def check_sack_retransmit(ctx):
    """RFC 2018 §5 / RFC 6675: with SACK, duplicate ACKs reporting the 3rd..
    5th segments draw a retransmission of the hole (the 2nd segment) before
    any RTO, and the SACKed segments are not resent."""
    for attempt in range(3):
        c = ctx.conn()
        sa = syn_with(c, [("MSS", 1460), ("NOP", None), ("NOP", None), ("SAckOK", b"")])
        c.send(ACK)
        if sa.opt("SAckOK") is None:
            return False, "server did not accept SACK"
        c.send_data(P.get_bytes(30000))
        first = c.expect(lambda s: len(s.payload) > 0, 2.0)
        if first is None:
            return False, f"no response data: {P.history(c)}"
        burst = sorted([s for s in [first] + c.collect(0.04) if s.payload], key=lambda s: (s.seq - first.seq) % (1 << 32))
        if len(burst) < 5:
            return False, f"only {len(burst)} segments in the initial burst"
        e = [seq_add(s.seq, len(s.payload)) for s in burst]
        hole = e[0]
        for k in (2, 3, 4):
            c.send(ACK, ack=hole, options=[("NOP", None), ("NOP", None), ("SAck", (burst[2].seq, e[k]))])
        t_dup = time.monotonic()
        if t_dup - first.t > 0.12:
            c.rst()
            c.rcv_nxt = None
            continue
        segs = c.collect(0.15)
        rtx = [s for s in segs if s.payload and s.seq == hole]
        resent_sacked = [s for s in segs if s.payload and
                         seq_lt(s.seq, e[4]) and seq_lt(burst[2].seq, seq_add(s.seq, len(s.payload)))]
        c.rst()
        c.rcv_nxt = None
        ok = bool(rtx) and not resent_sacked
        return ok, (f"hole seq={hole} retransmitted: {bool(rtx)} "
                    f"({(rtx[0].t - t_dup) * 1000:.0f} ms after the SACKs)" if rtx else
                    f"hole seq={hole} not retransmitted within 150 ms: {segs[:6]}") + \
            f"; SACKed data resent: {resent_sacked[:2] or 'none'}"
    return False, "inconclusive 3 times: the probe could not send the SACKs within 120 ms"


CHECKS3 += [
    ("syn_received_rst_then_ack_rst", check_synrecv_rst_then_ack),
    ("syn_received_fin_without_ack", check_synrecv_fin_no_ack),
    ("syn_with_data", check_syn_with_data),
    ("timestamps_every_segment", check_ts_every_segment),
    ("window_scale_applied", check_window_scale_applied),
    ("ack_too_old_challenge_rfc5961", check_ack_too_old),
    ("initial_window_iw10", check_initial_window),
    ("sack_hole_retransmit", check_sack_retransmit),
    ("restart_window_after_idle", check_restart_after_idle),
]


# --- closing variants ----------------------------------------------------------

def server_close_response(c):
    """Connection: close request; ACK the response data but not the FIN.
    Returns the server's FIN segment (or None)."""
    c.send_data(P.REQ_CLOSE)
    deadline = time.monotonic() + 3.0
    fin = None
    while time.monotonic() < deadline and fin is None:
        seg = c.expect(lambda s: True, deadline - time.monotonic())
        if seg is None or seg.has(RST):
            break
        if seg.has(FIN):
            fin = seg
        elif seg.payload:
            c.ack_now()
    return fin


def check_fin_retransmitted(ctx):
    """RFC 9293 §3.10.7.4 / RFC 6298: the server's FIN, never acknowledged,
    is retransmitted (same sequence number) with a growing interval."""
    c = ctx.conn()
    c.handshake()
    fin = server_close_response(c)
    if fin is None:
        return False, f"no server FIN: {P.history(c)}"
    fin_seq = seq_add(fin.seq, len(fin.payload))
    c.send(ACK, ack=fin_seq)  # data acked, FIN not
    gaps, _ = P.repeat_gaps(c, fin, lambda s: s.has(FIN) and seq_add(s.seq, len(s.payload)) == fin_seq,
                            3, ctx.args.rto_wait)
    c.send(ACK)
    c.send(FIN | ACK)
    c.snd_nxt = seq_add(c.snd_nxt, 1)
    c.rcv_nxt = None
    ok = len(gaps) >= 2 and gaps[1] > gaps[0] * 1.3
    return ok, f"FIN retransmission gaps {', '.join(f'{g * 1000:.0f}ms' for g in gaps) or 'none'} (want 2, growing)"


def check_simultaneous_close(ctx):
    """RFC 9293 §3.6 (simultaneous close): our FIN crosses the server's
    (FIN-WAIT-1 -> CLOSING): it is ACKed; our ACK of its FIN then takes it to
    TIME-WAIT, where a retransmitted FIN of ours is ACKed again."""
    c = ctx.conn()
    c.handshake()
    fin = server_close_response(c)
    if fin is None:
        return False, f"no server FIN: {P.history(c)}"
    fin_seq = seq_add(fin.seq, len(fin.payload))
    our_fin = c.snd_nxt
    c.send(FIN | ACK, ack=fin_seq)  # does not acknowledge the server's FIN
    c.snd_nxt = seq_add(c.snd_nxt, 1)
    a1 = c.expect(lambda s: s.has(ACK) and s.ack == c.snd_nxt, 1.5)
    c.send(ACK)  # acknowledges the server's FIN: CLOSING -> TIME-WAIT
    time.sleep(0.1)
    c.send(FIN | ACK, seq=our_fin)
    a2 = c.expect(lambda s: s.has(ACK) and not s.has(FIN), 1.0)
    c.rcv_nxt = None
    ok = a1 is not None and not a1.has(RST) and a2 is not None and not a2.has(RST) and \
        a2.ack == c.snd_nxt
    return ok, f"our crossing FIN acked: {a1}; retransmitted FIN in TIME-WAIT: {a2} (want ACK ack={c.snd_nxt})"


# --- IP / TCP encoding robustness ------------------------------------------------

def check_ip_options(ctx):
    """RFC 791 / RFC 1122 §3.2.1.8: IP options (IHL > 5) do not disturb TCP:
    the SYN is answered and a request sent with IP options is answered."""
    from scapy.layers.inet import IPOption_NOP
    nops = [IPOption_NOP()] * 4
    c = ctx.conn()
    c.send(SYN, seq=c.iss, ack=0, options=[("MSS", 1460)], ip_options=nops)
    c.snd_nxt = seq_add(c.iss, 1)
    c.wait_synack()
    c.send(ACK, ip_options=nops)
    c.send(PSH | ACK, data=P.REQ, ip_options=nops)
    c.snd_nxt = seq_add(c.snd_nxt, len(P.REQ))
    answered = read_response(c)
    return answered, f"request over IP options answered: {answered}; {P.history(c)}"


def check_unknown_tcp_option(ctx):
    """RFC 9293 §3.1 (MUST-6/7): unknown TCP options are skipped by their
    length: the SYN and a data segment carrying one work normally."""
    c = ctx.conn()
    odd = (253, b"\x12\x34")  # RFC 6994 experimental kind
    sa = syn_with(c, [("MSS", 1460), odd, ("NOP", None), ("NOP", None)])
    c.send(ACK)
    c.send(PSH | ACK, data=P.REQ, options=[odd, ("NOP", None), ("NOP", None)])
    c.snd_nxt = seq_add(c.snd_nxt, len(P.REQ))
    answered = read_response(c)
    return answered, f"SYN-ACK {sa.options}; request with an unknown option answered: {answered}"


def check_eth_padding(ctx):
    """RFC 894 / RFC 1122 §3.3.6-ish: bytes after the IP datagram (Ethernet
    padding) are not TCP data: a request followed by junk padding is
    answered and ACKed exactly up to the request's end."""
    c = ctx.conn()
    c.handshake()
    c.send(PSH | ACK, data=P.REQ, trailer=b"JUNK" * 8)
    c.snd_nxt = seq_add(c.snd_nxt, len(P.REQ))
    answered = read_response(c)
    acks = [s.ack for s in c.log if s.has(ACK)]
    over = [a for a in acks if seq_lt(c.snd_nxt, a)]
    ok = answered and not over
    return ok, f"request + 32 padding bytes answered: {answered}; ACK beyond the request: {over or 'none'}"


def check_syn_fin(ctx):
    """RFC 9293 §3.10.7.2 (LISTEN): SYN+FIN is not a valid open; Linux drops
    it. The probe accepts a drop or a SYN-ACK, never a RST."""
    c = ctx.conn()
    c.send(SYN | FIN, seq=c.iss, ack=0, options=[("MSS", 1460)])
    segs = c.collect(0.8)
    rst = [s for s in segs if s.has(RST)]
    synack = [s for s in segs if s.has(SYN)]
    if synack:
        c.irs, c.rcv_nxt = synack[0].seq, seq_add(synack[0].seq, 1)
        c.snd_nxt = seq_add(c.iss, 1)
    return not rst, f"replies {segs or 'none'} (drop or SYN-ACK; no RST)"


def check_large_mss_clamped(ctx):
    """RFC 9293 §3.7.1 / RFC 6691: a peer MSS above the path's (9000 here)
    does not make the server exceed its own MTU: data segments <= its MSS."""
    c = Conn(ctx.ep, ctx.port, mss=9000)
    ctx.conns.append(c)
    sa = c.handshake()
    own = sa.opt("MSS") or 1460
    start = len(c.log)
    c.send_data(P.get_bytes(20000))
    read_response(c, timeout=3.0)
    sizes = [len(s.payload) for s in c.log[start:] if s.payload]
    done = P.response_complete(c)
    ok = done and sizes and max(sizes) <= own
    return ok, f"largest data segment {max(sizes) if sizes else 0} (server MSS {own}, ours 9000); complete: {done}"


CHECKS3 += [
    ("fin_retransmitted_backoff", check_fin_retransmitted),
    ("simultaneous_close_closing", check_simultaneous_close),
    ("ip_options_accepted", check_ip_options),
    ("unknown_tcp_option_skipped", check_unknown_tcp_option),
    ("ethernet_padding_ignored", check_eth_padding),
    ("syn_fin_not_reset", check_syn_fin),
    ("large_peer_mss_clamped", check_large_mss_clamped),
]


def check_ts_missing_tolerated(ctx):
    """RFC 7323 §3.2 lets a receiver drop non-RST segments without TSopt once
    timestamps are negotiated (SHOULD); Linux accepts them, and so must a
    server that "tolerates peers that stop sending timestamps" (issue 3).
    The probe requires acceptance, as Linux does: a request sent without
    TSopt is answered."""
    c, _ = ts_conn(ctx, sack=False)
    c.ts_on = False
    c.send_data(P.REQ)
    answered = read_response(c)
    return answered, f"request without TSopt after negotiating timestamps answered: {answered}"


def check_syn_out_of_window(ctx):
    """RFC 5961 §4.2 / RFC 9293 §3.10.7.4: a SYN in ESTABLISHED far outside
    the window draws an ACK (challenge), never a RST; the connection lives."""
    c = ctx.conn()
    c.handshake()
    want = c.snd_nxt
    c.send(SYN, seq=seq_add(want, 1 << 30), ack=0, options=[("MSS", 1460)])
    seg = c.expect(lambda s: True, 1.5)
    ok = seg is not None and seg.has(ACK) and not seg.has(RST) and not seg.has(SYN) and seg.ack == want
    survived = P.alive_after(ctx, c)
    return ok and survived, f"reply {seg} (want ACK ack={want}); survives: {survived}"


CHECKS3 += [
    ("timestamps_missing_tolerated", check_ts_missing_tolerated),
    ("syn_out_of_window_challenge_ack", check_syn_out_of_window),
]


def check_loss_window_after_rto(ctx):
    """RFC 5681 §3.1 / RFC 6298 (5.4): on an RTO the server retransmits one
    segment (loss window = 1 SMSS) and waits; after our ACK of it, slow start
    allows about two more (never the old window again)."""
    c = ctx.conn()
    c.handshake()
    c.send_data(P.get_bytes(30000))
    first = c.expect(lambda s: len(s.payload) > 0, 2.0)
    if first is None:
        return False, f"no response data: {P.history(c)}"
    burst = [s for s in [first] + c.collect(0.1) if s.payload]
    rtx = c.expect(lambda s: s.payload and s.seq == first.seq, ctx.args.rto_wait)
    if rtx is None:
        return False, f"no RTO retransmission: {P.history(c)}"
    extra = [s for s in c.collect(0.1) if s.payload]
    # ACK the retransmitted segment (a sender may repacketize it) only.
    c.rcv_nxt = seq_add(rtx.seq, len(rtx.payload))
    c.send(ACK)
    after = [s for s in c.collect(0.1) if s.payload]
    ok = len(burst) >= 3 and not extra and 1 <= len(after) <= 3
    return ok, (f"first flight {len(burst)} segments; after the RTO: 1 + {len(extra)} more before our ACK "
                f"(want 0); after ACKing it: {len(after)} segments (want 1..3)")


def check_rto_3s_after_synack_timeout(ctx):
    """RFC 6298 (5.7): if the SYN-ACK timed out and no RTT sample exists
    (no timestamps, Karn), the RTO for data is reset to 3 s: the first data
    retransmission comes >= 2.5 s after the original, not after ~200 ms."""
    c = ctx.conn()
    c.syn()
    c.wait_synack()
    again = c.expect(lambda s: s.has(SYN), 3.0)
    if again is None:
        return False, f"no SYN-ACK retransmission: {P.history(c)}"
    c.send(ACK)
    c.send_data(P.REQ)
    first = c.expect(lambda s: len(s.payload) > 0, 2.0)
    if first is None:
        return False, f"no response data: {P.history(c)}"
    rtx = c.expect(lambda s: s.payload and s.seq == first.seq, 5.0)
    gap = rtx.t - first.t if rtx is not None else None
    c.rcv_nxt = seq_add(first.seq, len(first.payload))
    ok = gap is not None and gap >= 2.5
    return ok, (f"SYN-ACK retransmitted; first data retransmission after "
                f"{'none in 5 s' if gap is None else f'{gap:.2f}s'} (want >= 2.5 s, RTO 3 s)")


CHECKS3 += [
    ("loss_window_after_rto", check_loss_window_after_rto),
    ("rto_3s_after_synack_timeout", check_rto_3s_after_synack_timeout),
]
