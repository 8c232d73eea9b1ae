#!/usr/bin/env python3
"""Slow HTTP clients against the metrics exporter (issue 9, monitoring blackout).

  metrics_slowloris.py HOST PORT --conns N --duration S [--ready FILE]
                       [--reconnect-delay S]

Keeps N connections to HOST:PORT that never finish a request: even-numbered
ones send half a request line ("GET /metr") and then nothing; odd-numbered
ones send a request line and then one header byte every 0.5 s (a trickle,
which a per-read timeout would never cut off). A connection the server closes
(EOF or reset) is reopened after --reconnect-delay, so the exporter faces N
slow clients for the whole run, as from a real attacker. Writes FILE once
all N are connected, stops after S seconds and prints one summary line:

  slowloris: opened=O closed_idle=CI closed_trickle=CT max_held=M connect_errors=E

(closed_*: connections the server closed, by kind).

Exit 0 if the N connections were made at the start, 1 otherwise. Every loop
is bounded by --duration.
"""
import argparse
import select
import socket
import sys
import time

HALF = b"GET /metr"
TRICKLE_HEAD = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: "


class Slow:
    def __init__(self, i):
        self.i = i
        self.sock = None
        self.next_send = 0.0
        self.reopen_at = 0.0

    def open(self, host, port, now):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect((host, port))
        s.sendall(HALF if self.i % 2 == 0 else TRICKLE_HEAD)
        s.setblocking(False)
        self.sock = s
        self.next_send = now + 0.5


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--conns", type=int, required=True)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--ready")
    p.add_argument("--reconnect-delay", type=float, default=1.0)
    a = p.parse_args()

    start = time.monotonic()
    end = start + a.duration
    slows = [Slow(i) for i in range(a.conns)]
    opened = errors = max_held = 0
    closed = [0, 0]  # by kind: idle (even), trickle (odd)
    try:
        for s in slows:
            s.open(a.host, a.port, time.monotonic())
            opened += 1
    except OSError as e:
        print(f"FAIL: connection {opened} of {a.conns}: {e}", flush=True)
        for s in slows:
            if s.sock:
                s.sock.close()
        return 1
    if a.ready:
        with open(a.ready, "w") as f:
            f.write(f"{a.conns}\n")

    while True:
        now = time.monotonic()
        if now >= end:
            break
        live = [s for s in slows if s.sock]
        max_held = max(max_held, len(live))
        r, _, _ = select.select([s.sock for s in live], [], [], 0.1)
        gone = set()
        for sock in r:
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            if not data:  # EOF or reset: the server cut us off
                gone.add(sock)
            # A response (e.g. 431 or 400) is ignored; its close follows.
        now = time.monotonic()
        for s in slows:
            if s.sock and s.sock in gone:
                s.sock.close()
                s.sock = None
                closed[s.i % 2] += 1
                s.reopen_at = now + a.reconnect_delay
            elif s.sock is None and now >= s.reopen_at:
                try:
                    s.open(a.host, a.port, now)
                    opened += 1
                except OSError:
                    errors += 1
                    s.sock = None
                    s.reopen_at = now + a.reconnect_delay
            elif s.sock and s.i % 2 == 1 and now >= s.next_send:
                try:
                    s.sock.send(b"a")
                except OSError:
                    pass  # the close is seen by select() next round
                s.next_send = now + 0.5
    for s in slows:
        if s.sock:
            s.sock.close()
    print(f"slowloris: opened={opened} closed_idle={closed[0]} closed_trickle={closed[1]} "
          f"max_held={max_held} connect_errors={errors}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
