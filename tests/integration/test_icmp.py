#!/usr/bin/env python3
"""ICMP echo (RFC 792 / RFC 1122 §3.2.2.6): the server answers echo requests
with the same identifier, sequence number and data, small and near-MTU.
Raw socket in stcp-peer (root); bounded in count and time."""
import os
import socket
import struct
import sys
import time

HOST = sys.argv[1]
fails = 0


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def echo(sock, ident, seq, payload, timeout=2.0):
    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    pkt = struct.pack("!BBHHH", 8, 0, csum(hdr + payload), ident, seq) + payload
    sock.sendto(pkt, (HOST, 0))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data, addr = sock.recvfrom(65535)
        except socket.timeout:
            break
        ihl = (data[0] & 0x0F) * 4
        icmp = data[ihl:]
        if addr[0] != HOST or len(icmp) < 8:
            continue
        typ, code, _, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
        if typ == 0 and rid == ident and rseq == seq:
            return icmp[8:], csum(icmp) == 0
    return None, False


sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident = os.getpid() & 0xFFFF
for seq, size in enumerate((0, 56, 1000, 1472)):  # 1472 = 1500 - 20 - 8
    payload = bytes((i * 7 + seq) & 0xFF for i in range(size))
    got, ck = echo(sock, ident, seq, payload)
    ok = got == payload and ck
    fails += 0 if ok else 1
    what = "no reply" if got is None else f"{len(got)} bytes back, checksum {'ok' if ck else 'BAD'}"
    print(f"{'PASS' if ok else 'FAIL'}: echo {size} bytes -> {what}")
print("RESULT: " + ("all checks passed" if fails == 0 else f"{fails} check(s) failed"))
sys.exit(1 if fails else 0)
