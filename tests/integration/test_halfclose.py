#!/usr/bin/env python3
"""Half-close: the client sends a request then FIN (shutdown(SHUT_WR)); the
server must still send the whole response, then close (EOF). Runs in
stcp-peer (lib.sh wrapper). Also a request split across segments and a
request + FIN in one go for a large body."""
import socket
import sys
import time

from itcheck import check, finish

HOST, PORT = sys.argv[1], int(sys.argv[2])


def read_all(s, limit=16 * 1024 * 1024, timeout=20.0):
    """Read until EOF; returns (bytes, eof_seen)."""
    s.settimeout(timeout)
    data = bytearray()
    deadline = time.monotonic() + timeout
    while len(data) < limit and time.monotonic() < deadline:
        try:
            d = s.recv(262144)
        except socket.timeout:
            return bytes(data), False
        if not d:
            return bytes(data), True
        data += d
    return bytes(data), False


def parse(resp):
    head, _, body = resp.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = lines[0].decode(errors="replace")
    clen = None
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        if k.strip().lower() == b"content-length":
            clen = int(v.strip())
    return status, clen, body


def half_close(path, expect_len, pieces=1):
    s = socket.create_connection((HOST, PORT), timeout=10)
    req = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: halfclose\r\n\r\n".encode()
    step = max(1, len(req) // pieces)
    for i in range(0, len(req), step):
        s.sendall(req[i:i + step])
        if pieces > 1:
            time.sleep(0.05)  # let each piece leave as its own segment
    s.shutdown(socket.SHUT_WR)
    resp, eof = read_all(s)
    s.close()
    status, clen, body = parse(resp)
    tag = f"half-close GET {path} (request in {pieces} piece(s))"
    check(status.startswith("HTTP/1.1 200"), f"{tag}: status 200 (got {status!r})")
    check(clen == expect_len, f"{tag}: Content-Length {expect_len} (got {clen})")
    check(len(body) == expect_len, f"{tag}: body {expect_len} bytes (got {len(body)})")
    check(eof, f"{tag}: server closed after the response (EOF)")


# GET / : body length from Content-Length, whatever the server's page is.
s = socket.create_connection((HOST, PORT), timeout=10)
s.sendall(f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
s.shutdown(socket.SHUT_WR)
resp, eof = read_all(s)
s.close()
status, clen, body = parse(resp)
check(status.startswith("HTTP/1.1 200"), f"half-close GET /: status 200 (got {status!r})")
check(clen is not None and len(body) == clen, f"half-close GET /: body matches Content-Length ({clen} vs {len(body)})")
check(eof, "half-close GET /: EOF after the response")

half_close("/bytes/1461", 1461)
half_close("/bytes/1048576", 1048576)
half_close("/bytes/100000", 100000, pieces=3)

# Peer closes an idle keep-alive connection: the server must close too (EOF).
s = socket.create_connection((HOST, PORT), timeout=10)
s.sendall(f"GET /bytes/10 HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
time.sleep(0.3)
s.shutdown(socket.SHUT_WR)
resp, eof = read_all(s)
s.close()
status, clen, body = parse(resp)
check(status.startswith("HTTP/1.1 200") and len(body) == 10, f"keep-alive then FIN: response intact ({status!r}, {len(body)} bytes)")
check(eof, "keep-alive then FIN: server closes (EOF)")

finish()
