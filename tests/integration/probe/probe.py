#!/usr/bin/python3
"""Packet-level TCP conformance probe for an HTTP server (RFC 9293, 5961,
6298, 5681 behaviour of the passive side).

Runs in the client namespace (stcp-peer) against SERVER:PORT and prints one
line per check, PASS or FAIL, then exits non-zero if any check failed.
The same checks pass against Linux's own TCP (`probe.sh --target linux`):
that is the reference, validated first.

The probe uses an address and MAC the local kernel does not own (see
wire.py), so it needs no firewall rules. The server must speak HTTP/1.1:
`GET / HTTP/1.1` is answered with a small body, `Connection: close` makes it
close after the response, and it closes when the client half-closes.
Every check uses a fresh connection and aborts it with an exact-sequence RST
afterwards, so nothing is left behind on the server.

A second set of checks (options, SYN-RECEIVED, PAWS, SACK, TIME-WAIT,
congestion control, IP-level) lives in checks2.py and checks3.py; CHECKS.md lists them and
the Linux settings the reference needs where Linux's defaults differ from
the RFCs.
"""
import argparse
import os
import random
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wire import ACK, FIN, PSH, RST, SYN, Conn, Endpoint, ProbeError, seq_add, seq_le  # noqa: E402

REQ = b"GET / HTTP/1.1\r\nHost: 198.18.0.1\r\nUser-Agent: shardtcp-probe\r\n\r\n"
REQ_CLOSE = b"GET / HTTP/1.1\r\nHost: 198.18.0.1\r\nConnection: close\r\n\r\n"


class Ctx:
    def __init__(self, ep, port, closed_port, args):
        self.ep = ep
        self.port = port
        self.closed_port = closed_port
        self.args = args
        self.conns = []

    def conn(self, port=None):
        c = Conn(self.ep, port or self.port)
        self.conns.append(c)
        return c

    def cleanup(self):
        for c in self.conns:
            try:
                if c.rcv_nxt is not None:
                    c.rst()
            finally:
                c.close()
        self.conns = []


def history(c):
    return " ".join(repr(s) for s in c.log[-8:]) or "nothing received"


def response_complete(c):
    """True once the HTTP response in c.rx has its full Content-Length body."""
    return response_complete_from(bytes(c.rx))


def fetch(c, req=REQ, timeout=3.0):
    """Send a request on an established Conn, ACK the response as it comes,
    return True when a complete 200 response arrived."""
    start = len(c.rx)
    c.send_data(req)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seg = c.expect(lambda s: True, deadline - time.monotonic())
        if seg is None:
            break
        if seg.has(RST):
            return False
        if seg.payload or seg.has(FIN):
            c.ack_now()
        rx = bytes(c.rx[start:])
        if rx.startswith(b"HTTP/1.1 200") and response_complete_from(rx):
            return True
    return False


def response_complete_from(rx):
    """True once `rx` holds an HTTP response head and its full Content-Length body."""
    head, sep, body = rx.partition(b"\r\n\r\n")
    if not sep:
        return False
    for ln in head.split(b"\r\n")[1:]:
        k, _, v = ln.partition(b":")
        if k.strip().lower() == b"content-length":
            return len(body) >= int(v.strip())
    return False


def alive_after(ctx, c):
    """The connection still works: a request gets a full 200 response."""
    return fetch(c)


# ---------------------------------------------------------------------------
# Checks. Each returns (ok, detail). ProbeError / exceptions -> FAIL.
# ---------------------------------------------------------------------------

def check_synack_mss(ctx):
    """RFC 9293 §3.10.7.2: SYN in LISTEN -> SYN-ACK with ACK = ISN+1; the
    server announces its MSS (RFC 9293 §3.7.1 / RFC 6691)."""
    c = ctx.conn()
    c.syn()
    sa = c.wait_synack()
    mss = dict((k, v) for k, v in sa.options if isinstance(k, str)).get("MSS")
    ok = sa.ack == seq_add(c.iss, 1) and mss is not None and 88 <= mss <= 65495
    c.send(ACK)
    return ok, f"SYN-ACK {sa}, ISN+1={seq_add(c.iss, 1)}, MSS option={mss}"


def check_closed_port_syn(ctx):
    """RFC 9293 §3.10.7.1 (CLOSED): SYN -> <SEQ=0><ACK=SEG.SEQ+SEG.LEN><RST,ACK>."""
    c = ctx.conn(ctx.closed_port)
    c.syn()
    seg = c.expect(lambda s: True, 2.0)
    if seg is None:
        return False, "no reply to SYN on a closed port"
    ok = seg.has(RST) and seg.has(ACK) and seg.ack == seq_add(c.iss, 1) and seg.seq == 0
    return ok, f"got {seg}, want RST,ACK seq=0 ack={seq_add(c.iss, 1)}"


def stray_ack_gets_rst(c, where):
    """Sends an ACK with a random ack number; the answer must be
    <SEQ=SEG.ACK><CTL=RST> (no ACK flag)."""
    bogus_ack = random.getrandbits(32)
    c.send(ACK, seq=c.iss, ack=bogus_ack)
    seg = c.expect(lambda s: True, 2.0)
    if seg is None:
        return False, f"no reply to a stray ACK on {where}"
    ok = seg.has(RST) and not seg.has(ACK) and seg.seq == bogus_ack
    return ok, f"got {seg}, want RST seq={bogus_ack}"


def check_closed_port_ack(ctx):
    """RFC 9293 §3.10.7.1: ACK to a closed port -> <SEQ=SEG.ACK><CTL=RST>."""
    return stray_ack_gets_rst(ctx.conn(ctx.closed_port), "a closed port")


def check_listen_stray_ack(ctx):
    """RFC 9293 §3.10.7.2 (LISTEN): an ACK is bad -> <SEQ=SEG.ACK><CTL=RST>."""
    return stray_ack_gets_rst(ctx.conn(), "the listening port")


def check_data_acked(ctx):
    """RFC 9293 §3.10.7.4 seventh step / RFC 1122 §4.2.3.2: data is
    acknowledged (delayed ACK < 0.5 s) - a partial request, so the ACK cannot
    ride on a response."""
    c = ctx.conn()
    c.handshake()
    part = REQ[:10]
    c.send_data(part)
    t0 = time.monotonic()
    seg = c.expect(lambda s: s.has(ACK) and s.ack == c.snd_nxt, 1.0)
    if seg is None:
        return False, f"no ACK of {len(part)} bytes within 1 s: {history(c)}"
    dt = time.monotonic() - t0
    c.send_data(REQ[10:])
    got = c.expect(lambda s: bytes(c.rx).startswith(b"HTTP/1.1 200"), 3.0)
    return got is not None, f"ACK {seg} after {dt * 1000:.0f} ms; rest of request answered: {got is not None}"


def check_out_of_window_data(ctx):
    """RFC 9293 §3.10.7.4 first check: an unacceptable segment (data beyond
    the window, or entirely old data) -> <SEQ=SND.NXT><ACK=RCV.NXT><ACK>,
    dropped, never a RST; the connection survives."""
    c = ctx.conn()
    c.handshake()
    details = []
    ok = True
    want = c.snd_nxt
    for name, seq in (("beyond window", seq_add(want, 1 << 30)),
                      ("old data", seq_add(want, -5000))):
        c.send(PSH | ACK, seq=seq, data=b"X" * 100)
        seg = c.expect(lambda s: True, 1.5)
        good = seg is not None and not seg.has(RST) and seg.has(ACK) and seg.ack == want
        ok &= good
        details.append(f"{name}: got {seg}, want ACK ack={want}")
        time.sleep(0.05)
    survived = alive_after(ctx, c)
    ok &= survived
    details.append(f"connection survives: {survived}")
    return ok, "; ".join(details)


def check_rst_in_window(ctx):
    """RFC 5961 §3.2: RST with SEQ != RCV.NXT but in the window -> challenge
    ACK, connection stays ESTABLISHED."""
    c = ctx.conn()
    c.handshake()
    want = c.snd_nxt
    c.send(RST, seq=seq_add(want, 100), ack=0)
    seg = c.expect(lambda s: True, 1.5)
    got_challenge = seg is not None and seg.has(ACK) and not seg.has(RST) and seg.ack == want
    survived = alive_after(ctx, c)
    return got_challenge and survived, f"reply {seg} (want challenge ACK ack={want}); survives: {survived}"


def check_rst_exact(ctx):
    """RFC 9293 §3.10.7.4 / RFC 5961 §3.2: RST with SEQ == RCV.NXT resets the
    connection; a following segment then gets a RST (no connection)."""
    c = ctx.conn()
    c.handshake()
    time.sleep(0.05)
    c.send(RST, seq=c.snd_nxt, ack=0)
    quiet = c.collect(0.5)
    c.send_data(REQ)
    seg = c.expect(lambda s: True, 2.0)
    ok = not quiet and seg is not None and seg.has(RST)
    c.rcv_nxt = None  # nothing left to clean up
    return ok, f"after RST: {quiet or 'silence'}; next data got {seg} (want RST)"


def check_syn_in_established(ctx):
    """RFC 5961 §4.2 (RFC 9293 §3.10.7.4 fourth check): a SYN in a
    synchronized state -> challenge ACK, connection survives."""
    c = ctx.conn()
    c.handshake()
    want = c.snd_nxt
    c.send(SYN, seq=want, ack=0, options=[("MSS", 1460)])
    seg = c.expect(lambda s: True, 1.5)
    got_challenge = seg is not None and seg.has(ACK) and not seg.has(RST) and not seg.has(SYN) \
        and seg.ack == want
    survived = alive_after(ctx, c)
    return got_challenge and survived, f"reply {seg} (want ACK ack={want}); survives: {survived}"


def check_ack_unsent(ctx):
    """RFC 9293 §3.10.7.4 fifth check (ESTABLISHED): SEG.ACK > SND.NXT ->
    send an ACK, drop the segment (its data is not delivered), no RST."""
    c = ctx.conn()
    c.handshake()
    bad_ack = seq_add(c.rcv_nxt, 100000)
    c.send(PSH | ACK, ack=bad_ack, data=REQ)
    segs = c.collect(1.0)
    rst = any(s.has(RST) for s in segs)
    answered = bytes(c.rx).startswith(b"HTTP/")
    acked_data = any(s.has(ACK) and s.ack == seq_add(c.snd_nxt, len(REQ)) for s in segs)
    want = c.snd_nxt
    dup = any(s.has(ACK) and s.ack == want and not s.payload for s in segs)
    survived = alive_after(ctx, c)
    ok = not rst and not answered and not acked_data and dup and survived
    return ok, (f"replies {segs or 'none'}; ACK(ack={want}) sent: {dup}; data dropped: "
                f"{not answered and not acked_data}; RST: {rst}; survives: {survived}")


def check_synack_retransmit(ctx):
    """RFC 6298 (5.5) / RFC 9293 §3.8.1: an unanswered SYN-ACK is
    retransmitted (same sequence number) with a growing interval."""
    c = ctx.conn()
    c.syn()
    first = c.wait_synack()
    times = [first.t]
    deadline = time.monotonic() + ctx.args.synack_wait
    while len(times) < 3 and time.monotonic() < deadline:
        seg = c.expect(lambda s: s.has(SYN) or s.has(RST), deadline - time.monotonic())
        if seg is None:
            break
        if seg.has(RST) or seg.seq != first.seq:
            return False, f"unexpected {seg} while waiting for SYN-ACK retransmissions"
        times.append(seg.t)
    gaps = [b - a for a, b in zip(times, times[1:])]
    c.send(RST, seq=c.snd_nxt, ack=0)
    c.rcv_nxt = None
    ok = len(gaps) >= 2 and gaps[1] > gaps[0] * 1.2
    return ok, f"retransmission gaps {', '.join(f'{g:.2f}s' for g in gaps) or 'none'} (want >= 2, growing)"


def check_fin_peer_first(ctx):
    """RFC 9293 §3.6 / §3.10.7.4 eighth step: request + FIN -> the FIN is
    ACKed, the response still arrives, then the server's FIN (CLOSE-WAIT ->
    LAST-ACK); our ACK closes it (-> CLOSED): a later segment gets a RST."""
    c = ctx.conn()
    c.handshake()
    c.send_data(REQ, flags=PSH | ACK | FIN)
    fin_acked = False
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline and not c.server_fin:
        seg = c.expect(lambda s: True, deadline - time.monotonic())
        if seg is None or seg.has(RST):
            break
        fin_acked |= seg.has(ACK) and seg.ack == c.snd_nxt
        if seg.payload or seg.has(FIN):
            c.ack_now()
    answered = bytes(c.rx).startswith(b"HTTP/1.1 200") and response_complete(c)
    if not c.server_fin:
        return False, f"FIN acked: {fin_acked}; response: {answered}; no server FIN: {history(c)}"
    c.ack_now()  # final ACK: LAST-ACK -> CLOSED
    time.sleep(0.2)
    c.send(ACK)  # no connection any more: RFC 9293 §3.10.7.1/2 -> RST
    seg = c.expect(lambda s: s.has(RST), 2.0)
    c.rcv_nxt = None
    ok = fin_acked and answered and seg is not None
    return ok, f"FIN acked: {fin_acked}; full response: {answered}; server FIN; after last ACK: {seg} (want RST)"


def check_fin_server_first(ctx):
    """RFC 9293 §3.6: `Connection: close` -> response + server FIN
    (FIN-WAIT-1); our ACK (FIN-WAIT-2); our FIN is ACKed (TIME-WAIT); a
    retransmitted FIN is ACKed again in TIME-WAIT (§3.10.7.4 eighth step)."""
    c = ctx.conn()
    c.handshake()
    c.send_data(REQ_CLOSE)
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline and not c.server_fin:
        seg = c.expect(lambda s: True, deadline - time.monotonic())
        if seg is None or seg.has(RST):
            break
        if seg.payload or seg.has(FIN):
            c.ack_now()
    if not c.server_fin:
        return False, f"no server FIN after Connection: close: {history(c)}"
    answered = response_complete(c)
    time.sleep(0.1)
    fin_seq = c.snd_nxt
    c.send(FIN | ACK)
    c.snd_nxt = seq_add(c.snd_nxt, 1)
    a1 = c.expect(lambda s: s.has(ACK) and s.ack == c.snd_nxt, 2.0)
    c.send(FIN | ACK, seq=fin_seq)  # retransmitted FIN
    a2 = c.expect(lambda s: s.has(ACK) and s.ack == c.snd_nxt, 2.0)
    c.rcv_nxt = None  # leave TIME-WAIT to expire on its own
    ok = answered and a1 is not None and a2 is not None and not a1.has(RST) and not a2.has(RST)
    return ok, f"response complete: {answered}; our FIN acked: {a1}; retransmitted FIN re-acked: {a2}"


def unacked_response(ctx):
    """A request on a new connection; returns the connection and the first
    response data segment (None if none came), which we never ACK."""
    c = ctx.conn()
    c.handshake()
    c.send_data(REQ)
    return c, c.expect(lambda s: len(s.payload) > 0, 2.0)


def repeat_gaps(c, first, same, count, wait):
    """Seconds between `first` and each later segment for which same(seg)
    holds (its retransmissions), up to `count` segments in all or `wait`
    seconds. Returns (gaps, the RST segment if one came first, else None)."""
    times = [first.t]
    deadline = time.monotonic() + wait
    while len(times) < count and time.monotonic() < deadline:
        seg = c.recv(deadline - time.monotonic())
        if seg is None:
            break
        if seg.has(RST):
            return [b - a for a, b in zip(times, times[1:])], seg
        if same(seg):
            times.append(seg.t)
    return [b - a for a, b in zip(times, times[1:])], None


def check_data_retransmit(ctx):
    """RFC 6298 (5.4)-(5.6): response data we never ACK is retransmitted
    from SND.UNA with exponential backoff."""
    c, first = unacked_response(ctx)
    if first is None:
        return False, f"no response data: {history(c)}"
    gaps, rst = repeat_gaps(c, first, lambda s: s.payload and s.seq == first.seq, 4, ctx.args.rto_wait)
    if rst is not None:
        return False, f"RST while waiting for retransmissions: {rst}"
    c.absorb(first)
    c.rcv_nxt = seq_add(first.seq, len(first.payload))
    ok = len(gaps) >= 2 and gaps[-1] > gaps[0] * 1.2
    return ok, (f"retransmissions of seq={first.seq} after gaps "
                f"{', '.join(f'{g * 1000:.0f}ms' for g in gaps) or 'none'} (want >= 2, growing)")


def check_zero_window(ctx):
    """RFC 9293 §3.8.6.1 / RFC 1122 §4.2.2.17: with our window at zero the
    server probes it (persist timer, growing interval); when we open the
    window the response is delivered."""
    c = ctx.conn()
    c.handshake()
    c.send_data(REQ, win=0)
    # The server's ACK of the request (it has a response queued but no window).
    c.expect(lambda s: s.has(ACK) and s.ack == c.snd_nxt, 1.0)
    probe_times = []
    probes = []
    deadline = time.monotonic() + ctx.args.persist_wait
    while len(probe_times) < 3 and time.monotonic() < deadline:
        seg = c.recv(deadline - time.monotonic())
        if seg is None:
            break
        if seg.has(RST):
            return False, f"RST during zero window: {seg}"
        # A probe: Linux sends an ACK with SEQ = SND.UNA-1 and no data; others
        # send 1 byte at SND.UNA. Each one is answered with window 0 again.
        if len(seg.payload) <= 1:
            probe_times.append(seg.t)
            probes.append(seg)
            c.send(ACK, win=0)
        else:
            return False, f"server sent {len(seg.payload)} bytes into a zero window: {seg}"
    gaps = [b - a for a, b in zip(probe_times, probe_times[1:])]
    # Open the window: the response must now flow.
    c.send(ACK, win=65535)
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline and not response_complete(c):
        seg = c.expect(lambda s: True, deadline - time.monotonic())
        if seg is None:
            break
        if seg.payload:
            c.ack_now()
    delivered = bytes(c.rx).startswith(b"HTTP/1.1 200") and response_complete(c)
    ok = len(probes) >= 2 and (len(gaps) < 2 or gaps[-1] >= gaps[0]) and delivered
    return ok, (f"{len(probes)} probe(s) {probes[:3]} gaps "
                f"{', '.join(f'{g * 1000:.0f}ms' for g in gaps) or 'none'}; response after window opened: {delivered}")


def get_bytes(n):
    return f"GET /bytes/{n} HTTP/1.1\r\nHost: 198.18.0.1\r\n\r\n".encode()


def check_mss_respected(ctx):
    """RFC 9293 §3.7.1: the server never sends segments larger than the MSS
    we announced (536 here)."""
    c = Conn(ctx.ep, ctx.port, mss=536)
    ctx.conns.append(c)
    c.handshake()
    c.send_data(get_bytes(6000))
    sizes = []
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline and not response_complete(c):
        seg = c.expect(lambda s: True, deadline - time.monotonic())
        if seg is None or seg.has(RST):
            break
        if seg.payload:
            sizes.append(len(seg.payload))
            c.ack_now()
    done = response_complete(c)
    ok = done and sizes and max(sizes) <= 536
    return ok, f"{len(sizes)} data segments, largest {max(sizes) if sizes else 0} bytes (MSS 536); complete: {done}"


def check_window_respected(ctx):
    """RFC 9293 §3.8.6: the server sends nothing beyond the window we offer
    (2000 bytes), then continues as we ACK and reopen it."""
    c = ctx.conn()
    c.handshake(win=2000)
    c.send_data(get_bytes(20000), win=2000)
    right_edge = seq_add(c.rcv_nxt, 2000)
    segs = c.collect(0.6)  # no ACKs from us: only 2000 bytes may come
    over = [s for s in segs if s.payload and not seq_le(seq_add(s.seq, len(s.payload)), right_edge)]
    start = seq_add(right_edge, -2000)
    # Highest byte offset the server sent (retransmissions counted once).
    sent = max([(seq_add(s.seq, len(s.payload)) - start) % (1 << 32) for s in segs if s.payload] or [0])
    # Now let it finish with a normal window.
    deadline = time.monotonic() + 4.0
    c.ack_now(win=65535)
    while time.monotonic() < deadline and not response_complete(c):
        seg = c.expect(lambda s: True, deadline - time.monotonic())
        if seg is None or seg.has(RST):
            break
        if seg.payload:
            c.ack_now()
    done = response_complete(c)
    ok = not over and 0 < sent and done
    return ok, (f"sent up to byte {sent} of a 2000-byte window, beyond it: {over[:2] or 'none'}; "
                f"complete after reopening: {done}")


def check_fast_retransmit(ctx):
    """RFC 5681 §3.2: three duplicate ACKs trigger a retransmission of the
    missing segment before the retransmission timer (fast retransmit)."""
    # Fast retransmit and an RTO retransmit the same sequence number; they are
    # told apart by time: the dup ACKs go out well before the 200 ms minimum
    # RTO, and the retransmission must come before that RTO could fire. If the
    # probe itself was too slow to send the dup ACKs early (a loaded host),
    # the attempt is inconclusive and is repeated on a fresh connection.
    for attempt in range(3):
        c = ctx.conn()
        c.handshake()
        c.send_data(get_bytes(30000))
        first = c.expect(lambda s: len(s.payload) > 0, 2.0)
        if first is None:
            return False, f"no response data: {history(c)}"
        burst = [first] + c.collect(0.04)
        data = [s for s in burst if s.payload]
        if len(data) < 5:
            return False, f"only {len(data)} segments in the initial burst (need 5 for 3 dup ACKs)"
        # ACK the first segment only; report the second as lost with dup ACKs
        # (what a receiver sends for segments 3, 4, 5 arriving above a hole).
        hole = seq_add(first.seq, len(first.payload))
        for _ in range(4):
            c.send(ACK, ack=hole)
        t_dup = time.monotonic()
        if t_dup - first.t > 0.12:
            c.rst()
            c.rcv_nxt = None
            continue  # inconclusive: retry
        rtx = c.expect(lambda s: s.payload and s.seq == hole, 1.5)
        if rtx is None:
            return False, f"segment at seq={hole} never retransmitted: {history(c)}"
        since_first = rtx.t - first.t
        ok = since_first < 0.19
        return ok, (f"retransmission of seq={hole} {(rtx.t - t_dup) * 1000:.0f} ms after the dup ACKs, "
                    f"{since_first * 1000:.0f} ms after the original (RTO would be >= 200 ms)")
    return False, "inconclusive 3 times: the probe could not send dup ACKs within 120 ms"

def check_bad_checksum(ctx):
    """RFC 9293 §3.1 (MUST-2/3): a segment with a bad checksum is discarded:
    a SYN with a wrong checksum gets no SYN-ACK (and no RST); the same SYN
    with a good checksum is answered."""
    return corrupt_syn_ignored(ctx.conn(), "bad-checksum", chksum=0xBAD0)


def corrupt_syn_ignored(c, what, **corruption):
    """Sends a SYN damaged by `corruption` (send() keyword arguments), then
    the same SYN intact: the first must get no reply, the second a SYN-ACK."""
    c.send(SYN, seq=c.iss, ack=0, options=[("MSS", 1460)], **corruption)
    bad = c.collect(1.0)
    c.syn()
    good = c.expect(lambda s: s.has(SYN) or s.has(RST), 2.0)
    if good is not None and good.has(SYN):
        c.irs, c.rcv_nxt = good.seq, seq_add(good.seq, 1)
    ok = not bad and good is not None and good.has(SYN) and good.has(ACK)
    return ok, f"reply to {what} SYN: {bad or 'none'}; to the good SYN: {good}"


def check_synrecv_rst(ctx):
    """RFC 9293 §3.10.7.4 (SYN-RECEIVED, second check): an acceptable RST
    ends the half-open connection: no more SYN-ACK retransmissions."""
    c = ctx.conn()
    c.syn()
    sa = c.wait_synack()
    c.send(RST, seq=c.snd_nxt, ack=0)
    later = [s for s in c.collect(ctx.args.synrecv_quiet) if s.has(SYN)]
    c.rcv_nxt = None
    return not later, f"SYN-ACK {sa}; after our RST: {later or 'no retransmission'} in {ctx.args.synrecv_quiet:.1f}s"


CHECKS = [
    ("synack_mss", check_synack_mss),
    ("closed_port_syn_rst", check_closed_port_syn),
    ("closed_port_ack_rst", check_closed_port_ack),
    ("listen_stray_ack_rst", check_listen_stray_ack),
    ("bad_checksum_dropped", check_bad_checksum),
    ("data_acked", check_data_acked),
    ("out_of_window_data_ack", check_out_of_window_data),
    ("rst_in_window_challenge_ack", check_rst_in_window),
    ("rst_exact_seq_resets", check_rst_exact),
    ("syn_in_established_challenge_ack", check_syn_in_established),
    ("ack_of_unsent_data", check_ack_unsent),
    ("fin_peer_first_last_ack", check_fin_peer_first),
    ("fin_server_first_time_wait", check_fin_server_first),
    ("mss_respected", check_mss_respected),
    ("window_respected", check_window_respected),
    ("fast_retransmit_3_dupacks", check_fast_retransmit),
    ("data_retransmission_rto", check_data_retransmit),
    ("zero_window_probe", check_zero_window),
    ("synack_retransmission_backoff", check_synack_retransmit),
    ("syn_received_rst_aborts", check_synrecv_rst),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iface", default="stcp-peer0")
    ap.add_argument("--server", default="198.18.0.1")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--closed-port", type=int, default=81)
    ap.add_argument("--src", default="198.18.0.200", help="probe address the local kernel does not own")
    ap.add_argument("--src-mac", default="02:00:00:00:00:c8")
    ap.add_argument("--target", default="shardtcp", help="label only (shardtcp | linux)")
    ap.add_argument("--only", action="append", help="run only these checks (repeatable)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--synack-wait", type=float, default=12.0, help="s to wait for 2 SYN-ACK retransmissions")
    ap.add_argument("--rto-wait", type=float, default=8.0, help="s to wait for data retransmissions")
    ap.add_argument("--synrecv-quiet", type=float, default=2.5,
                    help="s without SYN-ACK retransmission after a RST in SYN-RECEIVED")
    ap.add_argument("--persist-wait", type=float, default=8.0, help="s to wait for zero-window probes")
    args = ap.parse_args()
    # The second set (options, SYN-RECEIVED, PAWS, SACK, TIME-WAIT, ...).
    # Imported here: checks2 imports this file as the module `probe`.
    from checks2 import CHECKS2
    from checks3 import CHECKS3
    CHECKS.extend(c for c in CHECKS2 + CHECKS3 if c not in CHECKS)
    if args.list:
        for name, fn in CHECKS:
            print(f"{name:36s} {fn.__doc__.split(chr(10))[0]}")
        return 0
    if not args.src.startswith("198.18.") and not args.src.startswith("198.19."):
        print("probe: addresses must be in 198.18.0.0/15", file=sys.stderr)
        return 2
    selected = [(n, f) for n, f in CHECKS if not args.only or n in args.only]
    if args.only and len(selected) != len(set(args.only)):
        print(f"probe: unknown check in {args.only}", file=sys.stderr)
        return 2

    ep = Endpoint(args.iface, args.src, args.src_mac, args.server)
    fails = 0
    try:
        ep.resolve_server()
        print(f"probe: target {args.target} {args.server}:{args.port} (MAC {ep.server_mac}) "
              f"from {args.src} on {args.iface}", flush=True)
        for name, fn in selected:
            ctx = Ctx(ep, args.port, args.closed_port, args)
            t0 = time.monotonic()
            try:
                ok, detail = fn(ctx)
            except ProbeError as e:
                ok, detail = False, str(e)
            except Exception as e:  # a probe bug must not look like a pass
                ok, detail = False, f"probe error: {e!r}\n{traceback.format_exc()}"
            finally:
                ctx.cleanup()
            fails += 0 if ok else 1
            print(f"{'PASS' if ok else 'FAIL'}: {name:34s} ({time.monotonic() - t0:4.1f}s) {detail}", flush=True)
            time.sleep(0.1)
    except ProbeError as e:
        print(f"FAIL: setup: {e}")
        fails += 1
    finally:
        ep.close()
    total = len(selected)
    print(f"probe: {total - fails}/{total} checks passed against {args.target}")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
