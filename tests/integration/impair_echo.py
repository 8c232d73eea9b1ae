#!/usr/bin/env python3
"""Upload N bytes through an echo server and check every byte comes back.

    impair_echo.py HOST PORT NBYTES [TIMEOUT_S]

One connection; a writer thread sends a seeded pseudo-random stream (so a
shifted, duplicated or damaged segment cannot pass as the right bytes) while
the main thread reads the echo and compares it chunk by chunk. Then a FIN
(shutdown(SHUT_WR)), and the server's FIN must follow the last byte. Prints
"bytes N seconds S"; exit 0 only when all N bytes came back unchanged.
"""
import hashlib
import random
import socket
import sys
import threading
import time


def stream(n, seed=15):
    rng = random.Random(seed)
    left = n
    while left > 0:
        k = min(65536, left)
        yield rng.randbytes(k)
        left -= k


def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 120.0
    deadline = time.monotonic() + timeout
    s = socket.create_connection((host, port), timeout=10)
    s.settimeout(5)
    err = []

    def writer():
        try:
            for chunk in stream(n):
                view = memoryview(chunk)
                while view:
                    if time.monotonic() > deadline:
                        raise TimeoutError("send deadline")
                    try:
                        sent = s.send(view)
                    except socket.timeout:
                        continue
                    view = view[sent:]
            s.shutdown(socket.SHUT_WR)
        except Exception as e:  # reported by the main thread
            err.append(f"writer: {e!r}")

    start = time.monotonic()
    t = threading.Thread(target=writer, daemon=True)
    t.start()
    want = hashlib.sha256()
    got = hashlib.sha256()
    expected = stream(n)
    pending = b""
    received = 0
    mismatch_at = None
    eof = False
    while time.monotonic() < deadline:
        try:
            data = s.recv(262144)
        except socket.timeout:
            if err:
                break
            continue
        if not data:
            eof = True
            break
        got.update(data)
        # Compare against the expected stream as it arrives.
        off = 0
        while off < len(data):
            if not pending:
                pending = next(expected, b"")
                want.update(pending)
                if not pending:
                    break
            k = min(len(pending), len(data) - off)
            if mismatch_at is None and data[off:off + k] != pending[:k]:
                mismatch_at = received + off
            pending = pending[k:]
            off += k
        received += len(data)
    elapsed = time.monotonic() - start
    t.join(timeout=5)
    s.close()
    print(f"bytes {received} seconds {elapsed:.2f}")
    if err:
        print("\n".join(err))
    ok = eof and not err and received == n and mismatch_at is None and want.digest() == got.digest()
    if not ok:
        print(f"FAILED: eof={eof} received={received} of {n} first_mismatch={mismatch_at}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
