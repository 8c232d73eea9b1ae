#!/usr/bin/env python3
"""GET /bytes/N over one Linux TCP connection; checks the body byte by byte
and reports what the kernel saw of ECN (struct tcp_info, tcpi_options:
TCPI_OPT_ECN = negotiated, TCPI_OPT_ECN_SEEN = ECT arrived on data).

usage: pmtu_ecn_client.py HOST PORT N  -> prints one JSON line; exit 1 on a
wrong body."""
import json
import socket
import sys

TCPI_OPT_ECN = 8
TCPI_OPT_ECN_SEEN = 16


def main() -> int:
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    s = socket.create_connection((host, port), timeout=60)
    s.sendall(f"GET /bytes/{n} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    data = bytearray()
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    s.close()
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    want = (b"abcdefghijklmnopqrstuvwxyz" * (n // 26 + 1))[:n]
    opts = info[5]
    out = {
        "status": head.split(b"\r\n", 1)[0].decode(errors="replace"),
        "body_len": len(body),
        "body_ok": body == want,
        "ecn": bool(opts & TCPI_OPT_ECN),
        "ecn_seen": bool(opts & TCPI_OPT_ECN_SEEN),
    }
    print(json.dumps(out))
    return 0 if out["body_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
