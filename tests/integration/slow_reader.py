#!/usr/bin/env python3
"""Slow reader (issue 10): a Linux receiver with a small receive buffer that
reads CHUNK bytes every PERIOD seconds, downloading /bytes/N. Prints the bytes
received after a fixed number of read cycles (not wall time) and checks the
body byte for byte ('a'..'z' repeating, as shardtcp-httpd and refserver.py
serve it). Bounded: at most --cycles reads, socket timeout per read.

  slow_reader.py HOST PORT [--size N] [--rcvbuf B] [--chunk C] [--period S] [--cycles K]
"""
import argparse
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--size", type=int, default=4 * 1024 * 1024)
    ap.add_argument("--rcvbuf", type=int, default=8192)
    ap.add_argument("--chunk", type=int, default=65536)
    ap.add_argument("--period", type=float, default=0.3)
    ap.add_argument("--cycles", type=int, default=20)
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)  # before connect: sets the window
    s.settimeout(30)
    s.connect((a.host, a.port))
    s.sendall(b"GET /bytes/%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % a.size)
    buf = b""
    t0 = time.monotonic()
    for _ in range(a.cycles):
        time.sleep(a.period)
        try:
            d = s.recv(a.chunk)
        except socket.timeout:
            break
        if not d:
            break
        buf += d
    el = time.monotonic() - t0
    s.close()
    hdr_end = buf.find(b"\r\n\r\n")
    if not buf.startswith(b"HTTP/1.1 200") or hdr_end < 0:
        print("FAIL: no 200 response", buf[:80])
        return 1
    body = buf[hdr_end + 4:]
    pattern = bytes(97 + i % 26 for i in range(len(body)))
    if body != pattern:
        print("FAIL: body bytes differ")
        return 1
    print("bytes=%d cycles=%d elapsed=%.2f bytes_per_s=%.0f" % (len(body), a.cycles, el, len(body) / el))
    return 0


if __name__ == "__main__":
    sys.exit(main())
