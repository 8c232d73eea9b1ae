#!/usr/bin/env python3
"""The hostile peer of issue 9: tiny MSS options, with and without timestamps.

For every MSS in the range (default 1..88), once without and once with the
timestamp option (RFC 7323): SYN carrying that MSS, the handshake's ACK,
`GET /bytes/100000`, then read and ACK a few data segments, checking that no
segment carries more payload than the server may send (the peer's MSS clamped
to the floor tcp.min_mss, minus 12 bytes of TSopt when timestamps are on,
RFC 9293 §3.7.1 / RFC 7323 §3.2), and finally an RST. The connections come
from an address the peer kernel does not own (probe/wire.py), so its TCP
never interferes.

Exit status 0 when every connection behaved; 1 with one line per failure
(the first connection that gets no SYN-ACK is reported as the server having
stopped answering, e.g. because it crashed).
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "probe"))
from wire import ACK, PSH, RST, SYN, Conn, Endpoint, ProbeError  # noqa: E402

REQUEST = b"GET /bytes/100000 HTTP/1.1\r\nHost: x\r\n\r\n"


def one(ep, port, mss, ts, floor, segments):
    """One hostile exchange; returns (ok, detail)."""
    c = Conn(ep, port, mss=mss)
    try:
        opts = [("MSS", mss)]
        if ts:
            opts += [("NOP", None), ("NOP", None), ("Timestamp", (c.tsval, 0))]
        c.send(SYN, seq=c.iss, ack=0, options=opts)
        c.snd_nxt = (c.iss + 1) % (1 << 32)
        synack = c.wait_synack(timeout=3.0)
        c.ts_on = ts and synack.opt("Timestamp") is not None
        if ts and not c.ts_on:
            return False, "SYN-ACK without timestamps although the SYN offered them"
        limit = max(mss, floor) - (12 if ts else 0)
        c.send(ACK)
        c.send_data(REQUEST, flags=PSH | ACK)
        seen = 0
        biggest = 0
        deadline = time.monotonic() + 3.0
        while seen < segments and time.monotonic() < deadline:
            seg = c.expect(lambda s: len(s.payload) > 0 or s.has(RST), deadline - time.monotonic())
            if seg is None:
                break
            if seg.has(RST):
                return False, f"RST from the server after {seen} data segments"
            seen += 1
            biggest = max(biggest, len(seg.payload))
            if len(seg.payload) > limit:
                return False, f"segment of {len(seg.payload)} bytes above the clamp {limit}"
            c.ack_now()
        c.rst()
        if seen == 0:
            return False, "no data within 3 s"
        return True, f"{seen} segments, largest {biggest} <= {limit}"
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", default="stcp-peer0")
    ap.add_argument("--server", default="198.18.0.1")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--my-ip", default="198.18.0.200")
    ap.add_argument("--my-mac", default="02:00:00:00:00:c8")
    ap.add_argument("--from-mss", type=int, default=1)
    ap.add_argument("--to-mss", type=int, default=88)
    ap.add_argument("--floor", type=int, default=88, help="the server's tcp.min_mss")
    ap.add_argument("--segments", type=int, default=4, help="data segments read per connection")
    ap.add_argument("--ts", choices=["both", "on", "off"], default="both")
    a = ap.parse_args()
    ep = Endpoint(a.iface, a.my_ip, a.my_mac, a.server)
    fails = 0
    tried = 0
    start = time.monotonic()
    try:
        ep.resolve_server()
        modes = {"both": (False, True), "on": (True,), "off": (False,)}[a.ts]
        for mss in range(a.from_mss, a.to_mss + 1):
            for ts in modes:
                tried += 1
                name = f"MSS {mss:2d} {'with' if ts else 'without'} timestamps"
                try:
                    ok, detail = one(ep, a.port, mss, ts, a.floor, a.segments)
                except ProbeError as e:
                    print(f"FAIL: {name}: server stopped answering ({e})")
                    return 1
                if not ok:
                    fails += 1
                    print(f"FAIL: {name}: {detail}")
                elif mss in (1, 4, 11, 12, 13, 87, 88):
                    print(f"ok:   {name}: {detail}")
    finally:
        ep.close()
    print(f"{tried} hostile connections, {fails} failed, {time.monotonic() - start:.1f} s")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
