#!/usr/bin/env python3
"""Hostile-peer packets for test_hostile.sh (issue 9), sent at L2 from the
peer namespace with the probe's raw endpoint (tests/integration/probe/wire.py:
an address and MAC the peer kernel does not own, so it never interferes).

Phase "sources": SYNs from every source class no reply can reach (limited and
directed broadcast, multicast, class E, 0.0.0.0, loopback, our own address =
LAND) and SYNs to broadcast / multicast destinations. Nothing may come back
from the server's MAC (no SYN-ACK, no RST, no ARP for those addresses).

Phase "oow": one established connection (handshake by hand), then --oow bare
ACKs far outside its window as fast as the socket takes them: the server may
answer at most ceil(duration / 0.5 s) + 1 of them (tcp.invalid_ratelimit_ms
500) and at least one; afterwards the connection still serves a request.

Prints PASS:/FAIL: lines and KEY=VALUE figures for the shell script.
"""
import argparse
import math
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "probe"))
from scapy.layers.inet import IP, TCP  # noqa: E402
from scapy.layers.l2 import Ether  # noqa: E402

from wire import ACK, PSH, SYN, Conn, Endpoint, seq_add  # noqa: E402

FAILS = 0


def check(ok, what):
    global FAILS
    print(("PASS: " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        FAILS += 1


class Sniffer:
    """Every frame the server's MAC sends, while running."""

    def __init__(self, iface, server_mac):
        self.mac = bytes.fromhex(server_mac.replace(":", ""))
        self.frames = []
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.bind((iface, 0))
        self.sock.settimeout(0.1)
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            if addr[2] != socket.PACKET_OUTGOING and data[6:12] == self.mac:
                self.frames.append(data)

    def close(self):
        self.stop.set()
        self.t.join(timeout=2)
        self.sock.close()


def describe(frame):
    etype = struct.unpack_from("!H", frame, 12)[0]
    if etype == 0x0806:
        return "ARP " + Ether(frame).summary()
    return Ether(frame).summary()


def phase_sources(ep, server_ip, per_class):
    bad_sources = [
        ("limited_broadcast", "255.255.255.255"),
        ("directed_broadcast", "198.18.0.255"),
        ("multicast", "224.0.0.1"),
        ("class_e", "240.0.0.1"),
        ("unspecified", "0.0.0.0"),
        ("loopback", "127.0.0.1"),
        ("land", server_ip),
    ]
    bad_dests = [
        ("limited_broadcast", "255.255.255.255", "ff:ff:ff:ff:ff:ff"),
        ("directed_broadcast", "198.18.0.255", "ff:ff:ff:ff:ff:ff"),
        ("multicast", "224.0.0.1", "01:00:5e:00:00:01"),
    ]
    sniff = Sniffer(ep.iface, ep.server_mac)
    sent_src = sent_dst = 0
    for name, src in bad_sources:
        for i in range(per_class):
            sport = 80 if name == "land" else 30000 + i  # classic LAND: same address and port
            f = (Ether(dst=ep.server_mac, src=ep.my_mac) / IP(src=src, dst=server_ip, ttl=64)
                 / TCP(sport=sport, dport=80, seq=1000 + i, flags="S", options=[("MSS", 1460)]))
            ep.send_frame(f)
            sent_src += 1
    for name, dst, mac in bad_dests:
        for i in range(per_class):
            f = (Ether(dst=mac, src=ep.my_mac) / IP(src=ep.my_ip, dst=dst, ttl=64)
                 / TCP(sport=31000 + i, dport=80, seq=2000 + i, flags="S", options=[("MSS", 1460)]))
            ep.send_frame(f)
            sent_dst += 1
    time.sleep(1.5)  # a SYN-ACK, RST or ARP request would come within this
    sniff.close()
    print(f"SENT_BAD_SRC={sent_src}")
    print(f"SENT_BAD_DST={sent_dst}")
    check(not sniff.frames,
          f"{sent_src} SYNs from bad sources and {sent_dst} to bad destinations: nothing answered "
          f"({len(sniff.frames)} frames from the server: "
          f"{[describe(x) for x in sniff.frames[:5]]})")


def phase_oow(ep, n):
    c = Conn(ep, 80)
    try:
        c.handshake()
        c.collect(0.2)
        base = (Ether(dst=ep.server_mac, src=ep.my_mac)
                / IP(src=ep.my_ip, dst=ep.server_ip, ttl=64)
                / TCP(sport=c.sport, dport=80, seq=seq_add(c.snd_nxt, 1 << 30), ack=c.rcv_nxt,
                      flags="A", window=65535))
        frame = bytes(base)
        t0 = time.monotonic()
        for _ in range(n):
            ep.sock.send(frame)
        duration = time.monotonic() - t0
        segs = c.collect(0.2)
        acks = [s for s in segs if s.has(ACK) and not s.payload and not s.has(SYN)]
        bound = math.ceil((duration + 0.2) / 0.5) + 1
        print(f"OOW_SENT={n}")
        print(f"OOW_ACKS={len(acks)}")
        print(f"OOW_DURATION={duration:.3f}")
        print(f"OOW_BOUND={bound}")
        check(1 <= len(acks) <= bound,
              f"{n} out-of-window ACKs in {duration:.3f} s drew {len(acks)} ACK(s) "
              f"(at least 1, at most ceil((duration + 0.2 s) / 0.5 s) + 1 = {bound})")
        check(all(a.ack == c.snd_nxt for a in acks), "each answer acknowledges what the server has (its RCV.NXT)")
        # The connection is unharmed: a request is answered.
        c.send_data(b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n")
        c.collect(1.0, until=lambda s: b"\r\n\r\n" in bytes(c.rx))
        check(bytes(c.rx).startswith(b"HTTP/1.1 200"),
              f"the connection still serves a request ({bytes(c.rx)[:20]!r})")
    finally:
        c.rst()
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", default="stcp-peer0")
    ap.add_argument("--server", default="198.18.0.1")
    ap.add_argument("--my-ip", default="198.18.0.200")
    ap.add_argument("--my-mac", default="02:00:00:00:00:c8")
    ap.add_argument("--phase", choices=["sources", "oow"], required=True)
    ap.add_argument("--per-class", type=int, default=10)
    ap.add_argument("--oow", type=int, default=10000)
    a = ap.parse_args()
    ep = Endpoint(a.iface, a.my_ip, a.my_mac, a.server)
    try:
        ep.resolve_server()
        if a.phase == "sources":
            phase_sources(ep, a.server, a.per_class)
        else:
            phase_oow(ep, a.oow)
    finally:
        ep.close()
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
