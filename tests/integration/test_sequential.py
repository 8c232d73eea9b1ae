#!/usr/bin/env python3
"""Many sequential short connections (connect, GET, read to EOF or full
response, close), alternating which side closes first, from several source
addresses. Every one must succeed. Bounded in count and time."""
import socket
import sys
import time

HOST, PORT = sys.argv[1], int(sys.argv[2])
COUNT = int(sys.argv[3]) if len(sys.argv) > 3 else 500
SOURCES = ["198.18.0.2"] + [f"198.18.0.{i}" for i in range(10, 42)]
DEADLINE = time.monotonic() + 120


def one(i):
    src = SOURCES[i % len(SOURCES)]
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    s.bind((src, 0))
    s.connect((HOST, PORT))
    server_closes = i % 2 == 0
    hdr = "Connection: close\r\n" if server_closes else ""
    s.sendall(f"GET /bytes/{i % 3000} HTTP/1.1\r\nHost: x\r\n{hdr}\r\n".encode())
    data = bytearray()
    want = None
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
        if want is None and b"\r\n\r\n" in data:
            head, _, _ = bytes(data).partition(b"\r\n\r\n")
            for ln in head.split(b"\r\n")[1:]:
                k, _, v = ln.partition(b":")
                if k.strip().lower() == b"content-length":
                    want = len(head) + 4 + int(v.strip())
        if want is not None and len(data) >= want and not server_closes:
            break  # keep-alive: we close first
    s.close()
    ok = data.startswith(b"HTTP/1.1 200") and want is not None and len(data) == want
    return ok, f"conn {i} from {src}: {bytes(data[:40])!r} len={len(data)} want={want}"


fails = 0
done = 0
first_err = None
t0 = time.monotonic()
for i in range(COUNT):
    if time.monotonic() > DEADLINE:
        break
    try:
        ok, info = one(i)
    except OSError as e:
        ok, info = False, f"conn {i}: {e!r}"
    done += 1
    if not ok:
        fails += 1
        first_err = first_err or info
dt = time.monotonic() - t0
print(f"{done}/{COUNT} connections in {dt:.1f}s, {fails} failed")
if first_err:
    print("first failure:", first_err)
ok = done == COUNT and fails == 0
print(("PASS: " if ok else "FAIL: ") + f"{COUNT} sequential connections all served")
sys.exit(0 if ok else 1)
