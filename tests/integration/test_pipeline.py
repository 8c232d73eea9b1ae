#!/usr/bin/env python3
"""Receive flow control against the Linux client: one keep-alive connection
pipelines far more requests than the server's receive window while the
client does not read the responses at first. The server must not drop or
abort anything: it stops reading (its receive window closes, so the Linux
client's TCP sends zero-window probes, counted in this namespace's
TcpExt TCPWinProbe), and once the client reads, every response arrives
complete and in order. Runs in stcp-peer (lib.sh wrapper)."""
import socket
import sys
import threading
import time

from itcheck import check, finish, win_probes

HOST, PORT = sys.argv[1], int(sys.argv[2])
N = int(sys.argv[3]) if len(sys.argv) > 3 else 20000   # requests (~40 bytes each)
BODY = 1000                                            # bytes per response body
HOLD = 1.5                                             # s the client does not read


def expected_body(n):
    period = bytes(ord("a") + i % 26 for i in range(26))
    return (period * (n // 26 + 1))[:n]


def main():
    req = f"GET /bytes/{BODY} HTTP/1.1\r\nHost: t\r\n\r\n".encode()
    requests = req * N
    probes0 = win_probes()
    s = socket.create_connection((HOST, PORT), timeout=10)
    # Small client buffers, so what the server does not take shows at once:
    # the requests fit neither the client's send buffer nor the server's window.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)

    sent = {"n": 0, "err": None, "done_at": None}

    def sender():
        try:
            s.sendall(requests)
            sent["n"] = len(requests)
            sent["done_at"] = time.monotonic()
        except OSError as e:
            sent["err"] = e

    t0 = time.monotonic()
    th = threading.Thread(target=sender, daemon=True)
    th.start()
    time.sleep(HOLD)
    blocked = th.is_alive()

    # Now read every response, in order, while the sender finishes.
    s.settimeout(30)
    want = expected_body(BODY)
    buf = bytearray()
    got = bad = 0
    deadline = time.monotonic() + 60
    while got < N and time.monotonic() < deadline:
        try:
            d = s.recv(262144)
        except socket.timeout:
            break
        if not d:
            break
        buf += d
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = bytes(buf[:end]).decode(errors="replace").split("\r\n")
            length = 0
            for ln in head[1:]:
                k, _, v = ln.partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v.strip())
            if len(buf) < end + 4 + length:
                break
            body = bytes(buf[end + 4:end + 4 + length])
            if not head[0].startswith("HTTP/1.1 200") or body != want:
                bad += 1
            del buf[:end + 4 + length]
            got += 1
    th.join(timeout=10)
    elapsed = time.monotonic() - t0
    probes1 = win_probes()

    check(sent["err"] is None and sent["n"] == len(requests),
          f"client sent all {len(requests)} bytes of {N} pipelined requests (error: {sent['err']})")
    check(blocked, f"the client's send was still blocked after {HOLD} s without reading "
                   f"({len(requests)} request bytes do not fit the windows)")
    check(got == N and bad == 0, f"{got}/{N} responses complete, in order, {bad} bad, in {elapsed:.1f} s")
    check(probes0 is not None and probes1 is not None and probes1 > probes0,
          f"the server's receive window closed: the client's TCP sent {None if probes0 is None else probes1 - probes0} "
          f"zero-window probe(s) (TcpExt TCPWinProbe {probes0} -> {probes1})")
    # The connection is healthy afterwards.
    tail = bytearray(buf)
    s.settimeout(10)
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        while True:
            d = s.recv(65536)
            if not d:
                break
            tail += d
    except OSError as e:  # timeout, reset
        print(f"last request: {e}")
    check(tail.startswith(b"HTTP/1.1 200"), f"a last request on the same connection answered "
                                            f"({bytes(tail[:15])!r}) and closed")
    s.close()
    finish()


if __name__ == "__main__":
    main()
