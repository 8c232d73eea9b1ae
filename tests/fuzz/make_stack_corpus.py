#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_stack (tests/fuzz/corpus/stack).

Each file is 2 config bytes and a list of actions in the encoding that
tests/fuzz/fuzz_stack.cc decodes (see the layouts there). Pure standard
library, deterministic: rerunning it rewrites identical files. Seeds are
ordinary conversations (handshakes, transfers, loss, SACK, closes, TIME-WAIT,
cookies, persist, keepalive); the fuzzer mutates them into hostile ones.
Files whose names start with "regress_" are findings kept as regression
inputs and are not written by this script.
Usage: python3 tests/fuzz/make_stack_corpus.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "stack")

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
OP_INJECT, OP_LINK, OP_RUN, OP_TIME, OP_APP, OP_CONNECT, OP_LISTEN, OP_PAUSE_ACCEPT, \
    OP_RUN_TIMED = range(9)
# Seq modes: 0 absolute, 1 RCV.NXT + d, 2 RCV.ADV + d, 3 RCV.NXT + u32.
# Ack modes: 0 absolute, 1 SND.UNA + d, 2 SND.MAX + d, 3 SND.NXT + d.
ABS, REL = 0, 1
ACK_UNA, ACK_MAX = 1, 2
# Tuples: 0-3 fake clients to port 80, 5 fake client to kPorts[idx & 3],
# 6 the tuple of connection #idx, 7 spoofing the other stack.
CONN = 6
# Time steps (index into kSteps): 1 us, 1 ms, 10 ms, 40 ms, 200 ms, 1 s, 3 s,
# 10 s, 30 s, 61 s, 121 s, 600 s, 7201 s, 25 days, 1.5 s, 15 = next timer.
T_40MS, T_200MS, T_1S, T_3S, T_61S, T_121S, T_600S, T_7201S, T_NEXT = 3, 4, 5, 6, 9, 10, 11, 12, 15
# App calls: 0 send, 1 pause, 2 resume, 3 shutdown, 4 close, 5 abort,
# 6 nodelay, 7 keepalive, 8 react, 9 fill, 10 check, 11 accept react,
# 12 deadline (arg ms from now, 0 = none).
SEND, PAUSE, RESUME, SHUTDOWN, CLOSE, ABORT, NODELAY, KEEPALIVE, REACT, FILL = range(10)
ACCEPT_REACT, DEADLINE = 11, 12


def u16(v): return struct.pack("!H", v & 0xFFFF)
def u32(v): return struct.pack("!I", v & 0xFFFFFFFF)


def inject(flags, seq=0, ack=0, window=65535, side=0, tup=0, idx=0, seq_mode=REL,
           ack_mode=ACK_MAX, mss=None, ws=None, sackperm=False, ts=None, ts_rel=False,
           sacks=(), plen=0):
    """ts: (tsval, tsecr); ts_rel: TSval = TS.Recent + tsval, TSecr = echo."""
    b0 = side | (tup << 1) | (seq_mode << 4) | (ack_mode << 6)
    ob = (1 if mss is not None else 0) | (2 if ws is not None else 0) | (4 if sackperm else 0) | \
        (8 if ts is not None else 0) | (len(sacks) << 4) | (0x80 if ts_rel else 0)
    tsv, tse = ts if ts is not None else (0, 0)
    blocks = list(sacks) + [(0, 0)] * (4 - len(sacks))
    return (bytes([OP_INJECT, b0, idx, flags]) + u32(seq) + u32(ack) + u16(window) + bytes([ob]) +
            u16(mss or 0) + bytes([ws or 0]) + u32(tsv) + u32(tse) +
            b"".join(u16(d) + u16(n) for d, n in blocks) + u16(plen))


def time(step): return bytes([OP_TIME, step])
def app(idx, call, arg=0): return bytes([OP_APP, idx, call]) + u16(arg)
def connect(side, target, lport=0, react=0):
    return bytes([OP_CONNECT, side | (target << 1) | (lport << 3) | (react << 5)])
def listen(side, port_index): return bytes([OP_LISTEN, side | (port_index << 1)])
def run(n): return bytes([OP_RUN, n])
def run_timed(n): return bytes([OP_RUN_TIMED, n])
def link(direction, move): return bytes([OP_LINK, direction | (move << 1)])
def pause_accept(side, on): return bytes([OP_PAUSE_ACCEPT, side | (2 if on else 0)])


def cfg(c0=0, c1=0): return bytes([c0, c1])


# A Linux-like client on fake tuple `tup`: SYN with all options, then the ACK.
def handshake(tup=0, ts=True, sack=True, ws=7, mss=1460, isn=0xFFFFF000):
    syn = inject(SYN, seq=isn, seq_mode=ABS, ack_mode=ABS, tup=tup, window=64240, mss=mss,
                 ws=ws, sackperm=sack, ts=(1000, 0) if ts else None)
    ack = inject(ACK, tup=tup, window=502 if ws is not None else 65535,
                 ts=(1, 0) if ts else None, ts_rel=ts)
    return syn + ack


def data(n, tup=0, flags=PSH | ACK, d=0, ts=True, window=502, sacks=()):
    return inject(flags, seq=d, tup=tup, window=window, ts=(1, 0) if ts else None, ts_rel=ts,
                  plen=n, sacks=sacks)


def ack_all(tup=0, ts=True, window=502, sacks=(), ack_mode=ACK_MAX, ack=0):
    return inject(ACK, tup=tup, window=window, ts=(1, 0) if ts else None, ts_rel=ts,
                  sacks=sacks, ack_mode=ack_mode, ack=ack)


CASES = {
    # A fake client: request, a 20 kB response acknowledged, then both FINs.
    "fake_get": cfg() + handshake() + data(100) + app(0, SEND, 20000) + time(T_40MS) +
    ack_all() + ack_all() + data(0, flags=FIN | ACK) + app(0, CLOSE) + ack_all() +
    time(T_61S),
    "fake_no_options": cfg() + handshake(ts=False, sack=False, ws=None, mss=None) +
    data(300, ts=False, window=65535) + app(0, SEND, 5000) + ack_all(ts=False, window=65535) +
    app(0, SHUTDOWN) + data(0, flags=FIN | ACK, ts=False, window=65535) +
    ack_all(ts=False, window=65535),
    "fake_mss536": cfg() + handshake(mss=536, ws=None) + app(0, SEND, 4000) +
    ack_all(window=65535) + app(0, SEND, 4000) + time(T_1S) + ack_all(window=65535),
    # Out-of-order data, SACK blocks in our ACKs, the hole filled, a FIN out of order.
    "fake_ooo": cfg() + handshake() + data(500, d=1000) + data(500, d=2000) +
    data(0, d=3000, flags=FIN | ACK) + data(1000) + data(500, d=1500) + time(T_40MS),
    # Our data lost: duplicate ACKs with SACK, fast retransmit, recovery.
    "fake_sack_recovery": cfg() + handshake() + app(0, SEND, 30000) +
    ack_all(ack_mode=ACK_UNA, sacks=[(1448, 1448)]) +
    ack_all(ack_mode=ACK_UNA, sacks=[(1448, 2896)]) +
    ack_all(ack_mode=ACK_UNA, sacks=[(1448, 4344)]) + ack_all(ack_mode=ACK_UNA, ack=1448) +
    ack_all() + time(T_200MS) + ack_all(),
    "fake_rto": cfg() + handshake() + app(0, SEND, 10000) + time(T_1S) + time(T_3S) +
    ack_all(ack_mode=ACK_UNA, ack=1448) + time(T_3S) + ack_all(),
    "fake_rst": cfg() + handshake() + inject(RST, seq=1) + inject(RST | ACK, seq=0) +
    handshake(tup=1) + inject(SYN, seq=5, tup=1) + time(T_1S),
    # Zero window: the persist timer probes it, then it opens.
    "fake_persist": cfg() + handshake() + app(0, SEND, 5000) + ack_all(window=0) + time(T_1S) +
    time(T_3S) + ack_all(window=0) + time(T_NEXT) + ack_all(window=502) + ack_all(),
    # Receive flow control: the application pauses, the window closes.
    "fake_paused": cfg(c0=32) + handshake(ws=None) + app(0, PAUSE) + data(1000) + data(1000, d=0) +
    data(2000) + data(1000) + app(0, RESUME) + data(500) + app(0, CLOSE),
    "fake_close_wait": cfg() + handshake() + data(0, flags=FIN | ACK) + time(T_1S) +
    app(0, SEND, 1000) + app(0, CLOSE) + ack_all() + time(T_3S),
    "fake_time_wait_reopen": cfg() + handshake() + app(0, CLOSE) + ack_all() +
    data(0, flags=FIN | ACK) + inject(SYN, seq=100000, seq_mode=3, ack_mode=ABS, window=64240,
                                      mss=1460, ts=(5000, 0), sackperm=True, ws=7) +
    ack_all() + time(T_61S) + time(T_61S),
    "fake_paws": cfg() + handshake() + data(100) +
    inject(PSH | ACK, ts=(0xFF00, 0), ts_rel=True, plen=100) + data(100) +
    time(T_7201S) + data(10),
    "fake_keepalive": cfg(c1=4) + handshake() + time(T_7201S) + time(T_121S) + ack_all() +
    time(T_600S) + time(T_600S),
    "fake_orphan_fin_wait2": cfg() + handshake() + app(0, CLOSE) + ack_all() + time(T_61S) +
    time(T_61S),
    # SYN queue of 1: the second SYN gets a cookie, its ACK completes it.
    "fake_syn_cookie": cfg(c0=128) + inject(SYN, seq=77, seq_mode=ABS, ack_mode=ABS, window=64240,
                                            mss=1460, ws=7, sackperm=True, ts=(1000, 0)) +
    handshake(tup=1) + app(0, SEND, 3000) + ack_all(tup=1) + time(T_3S),
    "fake_no_listener": cfg() + inject(SYN, seq=1, seq_mode=ABS, tup=4, mss=1460) +
    inject(ACK, seq=1, seq_mode=ABS, ack=5, ack_mode=ABS, tup=4) +
    inject(SYN | FIN, seq=9, seq_mode=ABS, tup=0, mss=1460) + listen(0, 1) +
    inject(SYN, seq=3, seq_mode=ABS, ack_mode=ABS, tup=5, idx=1, mss=1460) + time(T_3S),
    # Application deadlines: re-armed from on_deadline, then one that aborts.
    "fake_deadline": cfg() + handshake() + app(0, DEADLINE, 500) + time(T_1S) + time(T_1S) +
    app(0, 10) + app(0, REACT, 64) + app(0, DEADLINE, 100) + time(T_200MS) + handshake(tup=1) +
    app(1, DEADLINE, 50) + app(1, DEADLINE, 0) + time(T_1S),
    # Issue 9: a peer MSS below the option space (12 bytes of TSopt) and a
    # response; before the tcp.min_mss floor these wrapped the MSS to ~65,530
    # (oversized frames) or to 0 (a connection that never sends).
    "hostile_mss4_ts": cfg() + handshake(mss=4) + data(100) + app(0, SEND, 20000) + ack_all() +
    time(T_200MS) + ack_all(),
    "hostile_mss12_ts": cfg() + handshake(mss=12) + app(0, SEND, 3000) + time(T_1S) + ack_all(),
    "hostile_mss1_no_ts": cfg() + handshake(mss=1, ts=False) + app(0, SEND, 3000) +
    ack_all(ts=False) + time(T_1S),
    # Active open to a fake server; its SYN-ACK, data both ways, RST.
    "active_fake_server": cfg() + connect(0, 1) +
    inject(SYN | ACK, seq=0x7FFFFFF0, seq_mode=ABS, tup=CONN, idx=0, window=65535, mss=1460,
           ws=2, sackperm=True, ts=(50, 0), ts_rel=True) + app(0, SEND, 1000) +
    data(700, tup=CONN, window=16000) + ack_all(tup=CONN, window=16000) + time(T_200MS) +
    inject(RST, tup=CONN),
    "active_refused": cfg() + connect(0, 1) + inject(RST | ACK, tup=CONN, ack_mode=ACK_MAX) +
    connect(0, 1, lport=1) + time(T_NEXT) + time(T_NEXT),
    # The two stacks: a transfer both ways and an orderly close.
    "pair_transfer": cfg() + connect(1, 0) + run_timed(4) + app(0, SEND, 60000) +
    app(1, SEND, 20000) + run_timed(32) + app(0, SHUTDOWN) + app(1, CLOSE) + run_timed(16),
    "pair_lossy": cfg() + connect(1, 0) + run(4) + app(0, SEND, 30000) + link(1, 1) +
    link(1, 0) + link(1, 2) + link(1, 3) + link(1, 1) + run(20) + time(T_200MS) + run_timed(32) +
    app(0, CLOSE) + run_timed(16),
    "pair_slow_reader": cfg(c0=32) + app(0, ACCEPT_REACT, 1) + connect(1, 0) + run_timed(4) +
    app(0, FILL) + run_timed(8) + app(1, RESUME) + run_timed(8) + app(1, RESUME) +
    run_timed(8) + app(1, REACT, 0) + app(1, RESUME) + run_timed(16),
    "pair_echo": cfg(c0=16) + app(0, ACCEPT_REACT, 2 | 32) + connect(1, 0, react=0) +
    run_timed(4) + app(0, SEND, 10000) + run_timed(16) + app(0, CLOSE) + run_timed(16),
    "pair_simultaneous_open": cfg() + connect(0, 3) + connect(1, 3) + run_timed(8) +
    app(0, SEND, 2000) + app(1, SEND, 2000) + run_timed(8) + app(0, CLOSE) + app(1, CLOSE) +
    run_timed(16),
    "pair_newreno_iw1": cfg(c0=64 | 2, c1=128) + connect(1, 0) + run_timed(4) +
    app(0, SEND, 40000) + link(1, 0) + link(1, 1) + run_timed(32),
    "pair_limits": cfg(c1=8 | 16 | 32 | 64) + connect(1, 0) + connect(1, 0, lport=1) +
    connect(1, 0, lport=2) + connect(1, 0, lport=3) + run_timed(8) + app(0, CLOSE) +
    app(1, CLOSE) + app(2, ABORT) + run_timed(16) + pause_accept(0, True) + connect(1, 0) +
    run_timed(4),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, blob in sorted(CASES.items()):
        with open(os.path.join(OUT, name + ".bin"), "wb") as f:
            f.write(blob)
    print("wrote %d files to %s" % (len(CASES), OUT))


if __name__ == "__main__":
    main()
