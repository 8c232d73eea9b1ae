#!/usr/bin/env python3
"""shardtcp-echo (RFC 862) against the Linux client: small echoes, then
flow control end to end. The client sends 4 MiB while not reading for
1.5 s: echo's send buffer fills, it stops reading, its receive window
closes (the client kernel's TcpExt TCPWinProbe rises), nothing is aborted;
then the client reads and every byte comes back in order. Finally a
half-close: echo returns what is left, then closes (EOF). Runs in the peer
namespace (test_echo.sh)."""
import os
import socket
import sys
import threading
import time

from itcheck import check, finish, win_probes

HOST, PORT = sys.argv[1], int(sys.argv[2])
SIZE = 4 * 1024 * 1024
HOLD = 1.5


def recv_exact(s, n, timeout=30.0):
    s.settimeout(timeout)
    buf = bytearray()
    while len(buf) < n:
        try:
            d = s.recv(min(262144, n - len(buf)))
        except socket.timeout:
            break
        if not d:
            break
        buf += d
    return bytes(buf)


def main():
    with socket.create_connection((HOST, PORT), timeout=10) as s:
        for msg in (b"x", b"hello, echo\n", os.urandom(1460), os.urandom(20000)):
            s.sendall(msg)
            back = recv_exact(s, len(msg), 10)
            check(back == msg, f"{len(msg)} bytes echoed exactly (got {len(back)})")

    data = os.urandom(SIZE)
    probes0 = win_probes()
    s = socket.create_connection((HOST, PORT), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
    res = {"err": None}

    def sender():
        try:
            s.sendall(data)
        except OSError as e:
            res["err"] = e

    th = threading.Thread(target=sender, daemon=True)
    th.start()
    time.sleep(HOLD)
    blocked = th.is_alive()
    t0 = time.monotonic()
    back = recv_exact(s, SIZE, 60)
    th.join(timeout=10)
    probes1 = win_probes()
    check(res["err"] is None and not th.is_alive(), f"client sent all {SIZE} bytes (error: {res['err']})")
    check(blocked, f"the client's send was still blocked after {HOLD} s without reading")
    check(back == data, f"{len(back)}/{SIZE} bytes echoed back in order in {time.monotonic() - t0:.1f} s")
    check(probes0 is not None and probes1 is not None and probes1 > probes0,
          f"echo's receive window closed: the client's TCP sent "
          f"{None if probes0 is None else probes1 - probes0} zero-window probe(s)")

    # Half-close: the rest comes back, then EOF.
    tail = os.urandom(100000)
    try:
        s.sendall(tail)
        s.shutdown(socket.SHUT_WR)
        got = recv_exact(s, len(tail) + 1, 20)
    except OSError as e:
        got = b""
        print(f"half-close: {e}")
    check(got == tail, f"after shutdown(SHUT_WR): {len(got)}/{len(tail)} bytes back, then EOF")
    s.close()
    finish()


if __name__ == "__main__":
    main()
