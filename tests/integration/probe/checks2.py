"""Second set of conformance checks (options, SYN-RECEIVED, PAWS, SACK, RST
variants, TIME-WAIT, ACK policy, persist, IP-level), imported by probe.py.

Every check was validated against Linux first (`probe.sh --target linux`).
Where Linux's default differs from the RFC the check follows the RFC and says
so; the Linux reference is then configured to the RFC behaviour (probe.sh
sets net.ipv4.tcp_rfc1337=1 in the reference namespace).
"""
import random
import time

import probe as P
from wire import ACK, FIN, PSH, RST, SYN, Conn, ProbeError, seq_add, seq_lt

URG = 0x20
OPTS_ALL = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (0, 0)), ("NOP", None), ("WScale", 2)]


def syn_with(c, options, win=65535):
    c.send(SYN, seq=c.iss, ack=0, win=win, options=options)
    c.snd_nxt = seq_add(c.iss, 1)
    return c.wait_synack()


def ts_conn(ctx, sack=True):
    """Handshake offering MSS, SACK-permitted and timestamps (no scaling);
    the connection then sends TSopt in every segment."""
    c = ctx.conn()
    opts = [("MSS", 1460), ("NOP", None), ("NOP", None), ("Timestamp", (c.tsval, 0))]
    if sack:
        opts += [("NOP", None), ("NOP", None), ("SAckOK", b"")]
    sa = syn_with(c, opts)
    if sa.opt("Timestamp") is None:
        raise ProbeError(f"server did not accept timestamps: {sa.options}")
    c.ts_on = True
    c.send(ACK)
    return c, sa


def read_response(c, timeout=3.0, win=65535):
    """ACK everything until a complete HTTP response (or FIN/RST/timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not P.response_complete(c):
        seg = c.expect(lambda s: True, deadline - time.monotonic())
        if seg is None or seg.has(RST):
            break
        if seg.payload or seg.has(FIN):
            c.ack_now(win=win)
    return bytes(c.rx).startswith(b"HTTP/1.1 200") and P.response_complete(c)


# --- SYN / SYN-ACK options ---------------------------------------------------

def check_synack_options_mirror(ctx):
    """RFC 7323 §2.2/§3.2, RFC 2018 §2, RFC 9293 §3.7.1: a SYN offering MSS,
    WS, SACK-permitted and TS gets a SYN-ACK with MSS, WS, SACK-permitted and
    TSecr = our TSval."""
    c = ctx.conn()
    tsval = random.randint(1, 1 << 31)
    opts = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (tsval, 0)), ("NOP", None), ("WScale", 2)]
    sa = syn_with(c, opts)
    ts = sa.opt("Timestamp")
    ok = (sa.opt("MSS") is not None and sa.opt("WScale") is not None and sa.opt("SAckOK") is not None
          and ts is not None and ts[1] == tsval and ts[0] != 0)
    return ok, f"SYN-ACK options {sa.options}; want MSS, WScale, SAckOK, Timestamp ecr={tsval}"


def check_synack_no_options(ctx):
    """RFC 7323 §1.3/§2.2, RFC 2018 §2: a SYN without options gets a SYN-ACK
    with MSS only (no WS, TS or SACK-permitted: each needs the peer's offer)."""
    c = ctx.conn()
    sa = syn_with(c, [])
    names = [k for k, _ in sa.options if k not in ("NOP", "EOL")]
    ok = sa.opt("MSS") is not None and not ({"WScale", "Timestamp", "SAckOK"} & set(names))
    c.send(ACK)
    return ok, f"SYN-ACK options {sa.options}; want MSS only"


# --- SYN-RECEIVED --------------------------------------------------------------

def check_synrecv_dup_syn(ctx):
    """RFC 9293 §3.8.1 / §3.10.7.4: a retransmitted SYN (same ISN) while
    SYN-RECEIVED draws the SYN-ACK again (same ISS), not a RST."""
    c = ctx.conn()
    c.syn()
    sa = c.wait_synack()
    c.send(SYN, seq=c.iss, ack=0, options=[("MSS", c.mss)])
    seg = c.expect(lambda s: True, 1.5)
    ok = seg is not None and seg.has(SYN) and seg.has(ACK) and seg.seq == sa.seq and \
        seg.ack == seq_add(c.iss, 1)
    c.send(ACK)
    return ok, f"first {sa}; after duplicate SYN: {seg} (want SYN-ACK seq={sa.seq})"


def check_synrecv_bad_ack(ctx):
    """RFC 9293 §3.10.7.4 fifth check (SYN-RECEIVED): an unacceptable ACK ->
    <SEQ=SEG.ACK><CTL=RST>; the half-open connection survives (a correct ACK
    then completes it)."""
    c = ctx.conn()
    c.syn()
    sa = c.wait_synack()
    bad = seq_add(sa.seq, 1000)
    c.send(ACK, ack=bad)
    seg = c.expect(lambda s: True, 1.5)
    rst_ok = seg is not None and seg.has(RST) and not seg.has(ACK) and seg.seq == bad
    c.send(ACK)
    alive = P.fetch(c)
    return rst_ok and alive, f"reply {seg} (want RST seq={bad}); good ACK then request answered: {alive}"


def check_synrecv_fin_with_ack(ctx):
    """RFC 9293 §3.10.7.4: a FIN riding on the third handshake segment
    (ACK,FIN, carrying a request) establishes, the request is answered, the
    FIN is acknowledged and the server closes (CLOSE-WAIT -> LAST-ACK)."""
    c = ctx.conn()
    c.syn()
    c.wait_synack()
    c.send_data(P.REQ, flags=ACK | PSH | FIN)
    deadline = time.monotonic() + 3.0
    fin_acked = False
    while time.monotonic() < deadline and not c.server_fin:
        seg = c.expect(lambda s: True, deadline - time.monotonic())
        if seg is None or seg.has(RST):
            break
        fin_acked |= seg.has(ACK) and seg.ack == c.snd_nxt
        if seg.payload or seg.has(FIN):
            c.ack_now()
    answered = bytes(c.rx).startswith(b"HTTP/1.1 200") and P.response_complete(c)
    ok = fin_acked and answered and c.server_fin
    c.rcv_nxt = None if ok else c.rcv_nxt  # LAST-ACK -> CLOSED by our ACK above
    return ok, f"FIN acked: {fin_acked}; response: {answered}; server FIN: {c.server_fin}; {P.history(c)}"


def check_handshake_ack_data(ctx):
    """RFC 9293 §3.10.7.4 seventh step: data in the ACK that completes the
    handshake is delivered (the request is answered)."""
    c = ctx.conn()
    c.syn()
    c.wait_synack()
    c.send_data(P.REQ)
    answered = read_response(c)
    return answered, f"response to a request carried by the handshake ACK: {answered}; {P.history(c)}"


# --- RFC 7323 PAWS -----------------------------------------------------------

def check_paws(ctx):
    """RFC 7323 §5.3 R1: a data segment with a TSval older than TS.Recent is
    dropped (not delivered) and answered with an ACK; current segments work."""
    c, _ = ts_conn(ctx)
    c.send_data(b"GET /", advance=True)  # establishes TS.Recent = tsval
    c.expect(lambda s: s.has(ACK) and s.ack == c.snd_nxt, 1.0)
    old = seq_add(c.tsval, -100000)
    want = c.snd_nxt
    c.send(PSH | ACK, data=P.REQ[5:], tsval=old)
    seg = c.expect(lambda s: True, 1.0)
    dropped_acked = seg is not None and seg.has(ACK) and seg.ack == want and not seg.payload \
        and not seg.has(RST)
    time.sleep(0.3)
    leaked = bytes(c.rx).startswith(b"HTTP/")
    c.send_data(P.REQ[5:])
    answered = read_response(c)
    ok = dropped_acked and not leaked and answered
    return ok, (f"reply to old TSval: {seg} (want ACK ack={want}); data delivered anyway: {leaked}; "
                f"fresh retransmission answered: {answered}")


# --- flow control ------------------------------------------------------------

def check_window_update_reopens(ctx):
    """RFC 9293 §3.8.6 / §3.10.7.4 fifth (window update): a response held
    back by our zero window goes out as soon as a window update opens it,
    without waiting for the persist timer."""
    c = ctx.conn()
    c.handshake()
    c.send_data(P.REQ, win=0)
    early = [s for s in c.collect(0.15) if s.payload]
    t0 = time.monotonic()
    c.send(ACK, win=65535)
    first = c.expect(lambda s: len(s.payload) > 0, 2.0)
    dt = (first.t - t0) if first is not None else None
    done = read_response(c) if first is not None else False
    ok = not early and first is not None and dt < 0.19 and done
    return ok, (f"data into the zero window: {early or 'none'}; first data "
                f"{'never' if dt is None else f'{dt * 1000:.0f} ms'} after the window update; complete: {done}")


def check_persist_bytes(ctx):
    """RFC 9293 §3.8.6.1 / RFC 1122 §4.2.2.17: GET /bytes/100000 with a small
    window; we then advertise a zero window: the server probes (persist),
    sends no data beyond the window, and finishes once the window reopens."""
    c = ctx.conn()
    c.handshake(win=4000)
    c.send_data(P.get_bytes(100000), win=4000)
    c.collect(0.4)  # up to 4000 bytes arrive
    got = len(c.rx)
    c.ack_now(win=0)
    probes, over = [], []
    edge = c.rcv_nxt
    deadline = time.monotonic() + ctx.args.persist_wait
    while len(probes) < 2 and time.monotonic() < deadline:
        seg = c.recv(deadline - time.monotonic())
        if seg is None:
            break
        if seg.has(RST):
            return False, f"RST during zero window: {seg}"
        if len(seg.payload) > 1 or (seg.payload and seq_lt(edge, seg.seq)):
            over.append(seg)
        probes.append(seg)
        c.send(ACK, win=0)
    c.ack_now(win=65535)
    done = read_response(c, timeout=6.0)
    size_ok = done and len(bytes(c.rx).partition(b"\r\n\r\n")[2]) == 100000
    ok = got > 0 and len(probes) >= 2 and not over and size_ok
    return ok, (f"{got} bytes before the zero window; probes {probes[:3]}; beyond window: "
                f"{over[:2] or 'none'}; 100000-byte body complete after reopening: {size_ok}")


# --- out-of-order data and SACK ------------------------------------------------

def sack_blocks(seg):
    v = seg.opt("SAck")
    if not v:
        return []
    return [(v[i], v[i + 1]) for i in range(0, len(v) - 1, 2)]


def check_ooo_sack(ctx):
    """RFC 5681 §4.2, RFC 2018 §4: out-of-order segments draw an immediate
    duplicate ACK whose first SACK block is the segment just received and
    which reports every queued block; filling a hole ACKs cumulatively up to
    the next hole, filling the last one ACKs all queued data."""
    c = ctx.conn()
    opts = [("MSS", 1460), ("NOP", None), ("NOP", None), ("SAckOK", b"")]
    syn_with(c, opts)
    c.send(ACK)
    base = c.snd_nxt
    req = P.REQ
    cut = [0, 8, 16, 24, 32, len(req)]
    parts = [(seq_add(base, cut[i]), req[cut[i]:cut[i + 1]]) for i in range(5)]
    end = [seq_add(s, len(d)) for s, d in parts]
    details, ok = [], True

    def send_part(i):
        c.send(PSH | ACK, seq=parts[i][0], data=parts[i][1])

    send_part(0)
    c.expect(lambda s: s.has(ACK) and s.ack == end[0], 1.0)
    for i, want_blocks in ((2, [(parts[2][0], end[2])]),
                           (4, [(parts[4][0], end[4]), (parts[2][0], end[2])])):
        send_part(i)
        seg = c.expect(lambda s: s.has(ACK), 0.3)  # immediate: well under a delayed ACK
        good = seg is not None and seg.ack == end[0] and sack_blocks(seg)[:2] == want_blocks
        ok &= good
        details.append(f"after part {i}: {seg} SACK {sack_blocks(seg) if seg else None} "
                       f"(want ack={end[0]} SACK {want_blocks})")
    send_part(1)
    seg = c.expect(lambda s: s.has(ACK) and s.ack != end[0], 0.5)
    good = seg is not None and seg.ack == end[2] and sack_blocks(seg)[:1] == [(parts[4][0], end[4])]
    ok &= good
    details.append(f"fill 1: {seg} SACK {sack_blocks(seg) if seg else None} (want ack={end[2]}, SACK part 4)")
    send_part(3)
    seg = c.expect(lambda s: s.has(ACK) and seq_lt(end[2], s.ack), 0.5)
    good = seg is not None and seg.ack == end[4]
    ok &= good
    details.append(f"fill 3: {seg} (want ack={end[4]})")
    c.snd_nxt = end[4]
    answered = read_response(c)
    ok &= answered
    details.append(f"reassembled request answered: {answered}")
    return ok, "; ".join(details)


# --- RST variants ------------------------------------------------------------

def check_rst_out_of_window(ctx):
    """RFC 9293 §3.10.7.4 first check / RFC 5961 §3.2: a RST outside the
    window is silently dropped; the connection survives."""
    c = ctx.conn()
    c.handshake()
    c.send(RST, seq=seq_add(c.snd_nxt, 1 << 31), ack=0)
    c.send(RST | ACK, seq=seq_add(c.snd_nxt, -100000))
    quiet = c.collect(0.5)
    survived = P.alive_after(ctx, c)
    return not quiet and survived, f"replies {quiet or 'none'} (want none); survives: {survived}"


def check_rst_ack_exact(ctx):
    """RFC 9293 §3.10.7.4 second check: RST,ACK with SEQ = RCV.NXT resets the
    connection; a later segment gets a RST."""
    c = ctx.conn()
    c.handshake()
    time.sleep(0.05)
    c.send(RST | ACK)
    quiet = c.collect(0.4)
    c.send_data(P.REQ)
    seg = c.expect(lambda s: True, 2.0)
    ok = not quiet and seg is not None and seg.has(RST)
    c.rcv_nxt = None
    return ok, f"after RST,ACK: {quiet or 'silence'}; next data got {seg} (want RST)"


def check_synack_to_closed_port(ctx):
    """RFC 9293 §3.10.7.1: a SYN,ACK to a closed port -> <SEQ=SEG.ACK><CTL=RST>."""
    c = ctx.conn(ctx.closed_port)
    bogus = random.getrandbits(32)
    c.send(SYN | ACK, seq=c.iss, ack=bogus, options=[("MSS", 1460)])
    seg = c.expect(lambda s: True, 2.0)
    ok = seg is not None and seg.has(RST) and not seg.has(ACK) and seg.seq == bogus
    return ok, f"got {seg}, want RST seq={bogus}"


def check_synack_to_listener(ctx):
    """RFC 9293 §3.10.7.2 second check: a SYN,ACK to a listening port (an
    ACK in LISTEN) -> <SEQ=SEG.ACK><CTL=RST>, no connection."""
    c = ctx.conn()
    bogus = random.getrandbits(32)
    c.send(SYN | ACK, seq=c.iss, ack=bogus, options=[("MSS", 1460)])
    seg = c.expect(lambda s: True, 2.0)
    ok = seg is not None and seg.has(RST) and not seg.has(ACK) and seg.seq == bogus
    return ok, f"got {seg}, want RST seq={bogus}"


def check_no_ack_flag_dropped(ctx):
    """RFC 9293 §3.10.7.4 fifth check: a segment without ACK in ESTABLISHED
    is dropped (its data is neither acknowledged nor delivered)."""
    c = ctx.conn()
    c.handshake()
    c.send(PSH, data=P.REQ, ack=0)
    segs = c.collect(0.8)
    acked = any(s.has(ACK) and seq_lt(c.snd_nxt, s.ack) for s in segs)
    answered = bytes(c.rx).startswith(b"HTTP/")
    rst = any(s.has(RST) for s in segs)
    survived = P.fetch(c)
    ok = not acked and not answered and not rst and survived
    return ok, f"replies {segs or 'none'}; data acked: {acked}; answered: {answered}; survives: {survived}"


def check_urgent_inline(ctx):
    """RFC 9293 §3.8.5 / RFC 6093: a segment with URG set is accepted and its
    data delivered; the request is answered. (Linux by default takes the byte
    before the urgent pointer out of band, so that byte is in a header value
    neither server cares about; shardtcp delivers it inline, RFC 6093 §5.)"""
    c = ctx.conn()
    c.handshake()
    req = b"GET / HTTP/1.1\r\nHost: 198.18.0.1\r\nX-Pad: ab\r\n\r\n"
    urg = req.index(b"ab\r\n") + 2  # points just past 'b' (BSD / Linux semantics)
    c.send(URG | PSH | ACK, data=req, urgptr=urg)
    c.snd_nxt = seq_add(c.snd_nxt, len(req))
    answered = read_response(c)
    return answered, f"request with URG answered: {answered}; {P.history(c)}"


def check_challenge_ack_ratelimit(ctx):
    """RFC 5961 §7: a burst of in-window RSTs draws at most one challenge ACK
    each (rate limited), and normal traffic is unaffected: the connection
    and a new one both still work."""
    c = ctx.conn()
    c.handshake()
    n = 300
    for i in range(n):
        c.send(RST, seq=seq_add(c.snd_nxt, 10 + i), ack=0)
    segs = c.collect(0.5)
    rst = any(s.has(RST) for s in segs)
    survived = P.fetch(c)
    c2 = ctx.conn()
    c2.handshake()
    fresh = P.fetch(c2)
    ok = len(segs) <= n and not rst and survived and fresh
    return ok, f"{len(segs)} challenge ACKs for {n} RSTs; RST: {rst}; survives: {survived}; new connection: {fresh}"


# --- retransmission ----------------------------------------------------------

def check_rto_doubles(ctx):
    """RFC 6298 (5.5)/(5.6): unacknowledged response data is retransmitted
    from SND.UNA after the RTO and the interval grows (ordering only)."""
    c, first = P.unacked_response(ctx)
    if first is None:
        return False, f"no response data: {P.history(c)}"
    gaps, _ = P.repeat_gaps(c, first, lambda s: s.payload and s.seq == first.seq, 4, ctx.args.rto_wait)
    c.rcv_nxt = seq_add(first.seq, len(first.payload))
    ok = len(gaps) >= 3 and all(g2 > g1 * 1.3 for g1, g2 in zip(gaps, gaps[1:]))
    return ok, f"gaps {', '.join(f'{g * 1000:.0f}ms' for g in gaps)} (want 3, each larger)"


# --- TIME-WAIT -----------------------------------------------------------------

def to_time_wait(ctx, sport=None):
    """Server closes first (Connection: close); we ACK its FIN and send ours:
    the server is in TIME-WAIT. Returns (conn, ack of our FIN or None)."""
    c = Conn(ctx.ep, ctx.port, sport=sport)
    ctx.conns.append(c)
    c.handshake()
    c.send_data(P.REQ_CLOSE)
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline and not c.server_fin:
        seg = c.expect(lambda s: True, deadline - time.monotonic())
        if seg is None or seg.has(RST):
            break
        if seg.payload or seg.has(FIN):
            c.ack_now()
    if not c.server_fin:
        raise ProbeError(f"no server FIN after Connection: close: {P.history(c)}")
    c.fin_seq = c.snd_nxt
    c.send(FIN | ACK)
    c.snd_nxt = seq_add(c.snd_nxt, 1)
    a = c.expect(lambda s: s.has(ACK) and s.ack == c.snd_nxt, 1.0)
    return c, a


def check_time_wait_rst_ignored(ctx):
    """RFC 1337 (TIME-WAIT assassination): a RST in TIME-WAIT is ignored; a
    retransmitted FIN afterwards is still re-ACKed (not answered with RST).
    Linux needs net.ipv4.tcp_rfc1337=1 for this (its default kills TIME-WAIT
    on RST); probe.sh sets it for the Linux reference."""
    c, a = to_time_wait(ctx)
    c.send(RST, seq=c.snd_nxt, ack=0)
    quiet = c.collect(0.2)
    c.send(FIN | ACK, seq=c.fin_seq)
    a2 = c.expect(lambda s: True, 1.0)
    c.rcv_nxt = None
    ok = a is not None and not quiet and a2 is not None and a2.has(ACK) and not a2.has(RST) \
        and a2.ack == c.snd_nxt
    return ok, f"FIN acked: {a}; after RST: {quiet or 'silence'}; FIN again -> {a2} (want ACK ack={c.snd_nxt})"


def check_time_wait_reopen(ctx):
    """RFC 6191 / RFC 9293 §3.6.1: a new SYN for the 4-tuple in TIME-WAIT
    with an ISN above the old RCV.NXT reopens the connection -> SYN-ACK."""
    c, a = to_time_wait(ctx)
    sport, old = c.sport, c.snd_nxt
    c.rcv_nxt = None
    c.close()
    ctx.conns.remove(c)
    n = Conn(ctx.ep, ctx.port, sport=sport)
    ctx.conns.append(n)
    n.iss = seq_add(old, 100000)
    n.syn()
    seg = n.expect(lambda s: True, 2.0)
    ok = a is not None and seg is not None and seg.has(SYN) and seg.has(ACK) and \
        seg.ack == seq_add(n.iss, 1)
    if seg is not None and seg.has(SYN):
        n.irs, n.rcv_nxt = seg.seq, seq_add(seg.seq, 1)
        n.send(ACK)
        ok &= P.fetch(n)
    return ok, f"FIN acked: {a}; SYN with higher ISN in TIME-WAIT -> {seg} (want SYN-ACK); then usable: {ok}"


# --- ACK policy ----------------------------------------------------------------

def check_delayed_ack_bound(ctx):
    """RFC 1122 §4.2.3.2 / RFC 9293 §3.8.6.3: a single small segment is
    ACKed within the 500 ms delayed-ACK bound."""
    c = ctx.conn()
    c.handshake()
    c.send_data(b"GET / HT")
    t0 = time.monotonic()
    seg = c.expect(lambda s: s.has(ACK) and s.ack == c.snd_nxt, 1.5)
    dt = seg.t - t0 if seg is not None else None
    ok = dt is not None and dt < 0.6  # 500 ms + scheduling slack
    return ok, f"ACK after {'never' if dt is None else f'{dt * 1000:.0f} ms'} (bound 500 ms)"


def check_ack_every_second_segment(ctx):
    """RFC 5681 §4.2 / RFC 9293 §3.8.6.3: two full-size segments are ACKed
    at once (an ACK at least every second full-size segment)."""
    c = ctx.conn()
    sa = c.handshake()
    mss = min(1460, sa.opt("MSS") or 536)
    head = b"GET / HTTP/1.1\r\nHost: 198.18.0.1\r\nX-Pad: "
    pad = b"p" * (2 * mss - len(head))
    body = head + pad
    t0 = time.monotonic()
    c.send_data(body[:mss], flags=ACK)
    c.send_data(body[mss:], flags=ACK)
    seg = c.expect(lambda s: s.has(ACK) and s.ack == c.snd_nxt, 1.0)
    dt = seg.t - t0 if seg is not None else None
    c.send_data(b"\r\n\r\n")
    answered = read_response(c)
    ok = dt is not None and dt < 0.2 and answered
    return ok, (f"ACK of 2x{mss} bytes after {'never' if dt is None else f'{dt * 1000:.0f} ms'} "
                f"(want immediate, < 200 ms); request answered: {answered}")


# --- IP level / checksums ----------------------------------------------------

def check_bad_ip_checksum(ctx):
    """RFC 791 / RFC 1122 §3.2.1.2: a datagram with a bad IP header checksum
    is discarded: a SYN in it gets no answer; the same SYN intact does."""
    return P.corrupt_syn_ignored(ctx.conn(), "bad-IP-checksum", ip_chksum=0xBAD0)


def check_bad_tcp_checksum_data(ctx):
    """RFC 9293 §3.1 (MUST-2/3): an ESTABLISHED data segment with a bad TCP
    checksum is discarded (not ACKed, not delivered); resent intact, it is."""
    c = ctx.conn()
    c.handshake()
    c.send(PSH | ACK, data=P.REQ, chksum=0xBAD0)
    bad = c.collect(0.8)
    c.send_data(P.REQ)
    answered = read_response(c)
    ok = not bad and answered
    return ok, f"replies to the corrupt segment: {bad or 'none'}; intact one answered: {answered}"


CHECKS2 = [
    ("synack_options_mirror", check_synack_options_mirror),
    ("synack_no_options", check_synack_no_options),
    ("syn_received_dup_syn_synack", check_synrecv_dup_syn),
    ("syn_received_bad_ack_rst", check_synrecv_bad_ack),
    ("syn_received_fin_with_ack", check_synrecv_fin_with_ack),
    ("handshake_ack_carries_data", check_handshake_ack_data),
    ("paws_old_tsval_dropped", check_paws),
    ("window_update_reopens", check_window_update_reopens),
    ("ooo_sack_blocks_and_fill", check_ooo_sack),
    ("rst_out_of_window_ignored", check_rst_out_of_window),
    ("rst_ack_exact_resets", check_rst_ack_exact),
    ("synack_to_closed_port_rst", check_synack_to_closed_port),
    ("synack_to_listener_rst", check_synack_to_listener),
    ("no_ack_flag_dropped", check_no_ack_flag_dropped),
    ("urgent_data_delivered", check_urgent_inline),
    ("challenge_ack_ratelimit_ok", check_challenge_ack_ratelimit),
    ("rto_backoff_doubles", check_rto_doubles),
    ("time_wait_rst_ignored_rfc1337", check_time_wait_rst_ignored),
    ("time_wait_syn_reopens_rfc6191", check_time_wait_reopen),
    ("delayed_ack_bound", check_delayed_ack_bound),
    ("ack_every_second_full_segment", check_ack_every_second_segment),
    ("bad_ip_checksum_dropped", check_bad_ip_checksum),
    ("bad_tcp_checksum_data_dropped", check_bad_tcp_checksum_data),
    ("zero_window_persist_bytes", check_persist_bytes),
]
