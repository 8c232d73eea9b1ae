#!/usr/bin/env python3
"""Sends one ICMP destination-unreachable / fragmentation-needed (RFC 1191)
from a raw socket, quoting a made-up datagram: a TCP segment (ports, SEQ),
a UDP datagram, or a quote cut short. For the forged-ICMP checks of
test_pmtu_ecn.sh (RFC 5927); one packet per call, lab addresses only.

usage: icmp_forge.py DST QSRC QDST SPORT DPORT SEQ MTU tcp|udp|short"""
import socket
import struct
import sys


def csum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def main() -> int:
    dst, qsrc, qdst = sys.argv[1], sys.argv[2], sys.argv[3]
    sport, dport, seq, mtu = (int(x) for x in sys.argv[4:8])
    kind = sys.argv[8]
    proto = socket.IPPROTO_UDP if kind == "udp" else socket.IPPROTO_TCP
    qip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 1500, 1, 0x4000, 64, proto, 0,
                      socket.inet_aton(qsrc), socket.inet_aton(qdst))
    ql4 = struct.pack("!HHI", sport, dport, seq)  # first 8 bytes: ports + SEQ
    quote = qip[:4] if kind == "short" else qip + ql4
    hdr = struct.pack("!BBHHH", 3, 4, 0, 0, mtu)
    pkt = struct.pack("!BBHHH", 3, 4, csum(hdr + quote), 0, mtu) + quote
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.sendto(pkt, (dst, 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
