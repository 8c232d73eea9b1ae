#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_parse_segment (tests/fuzz/corpus/parse_segment).

Pure standard library, deterministic: rerunning it rewrites identical files.
Each file is a TCP header + payload as it starts after the IPv4 header.
Usage: python3 tests/fuzz/make_corpus.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "parse_segment")

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def opt_mss(v): return struct.pack("!BBH", 2, 4, v)
def opt_ws(v): return struct.pack("!BBB", 3, 3, v)
def opt_sackperm(): return bytes([4, 2])
def opt_ts(a, b): return struct.pack("!BBII", 8, 10, a, b)
def opt_sack(*blocks): return struct.pack("!BB", 5, 2 + 8 * len(blocks)) + b"".join(struct.pack("!II", l, r) for l, r in blocks)
NOP, EOL = b"\x01", b"\x00"


def seg(sport=40000, dport=80, seq=0, ack=0, flags=ACK, win=65535, opts=b"", payload=b"",
        doff=None, pad=True):
    if pad:
        opts += EOL * (-len(opts) % 4)
    if doff is None:
        doff = (20 + len(opts)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (doff & 0xF) << 4, flags, win, 0, 0)
    return hdr + opts + payload


CASES = {
    # Valid segments.
    "syn_linux": seg(seq=0xFFFFFFF0, flags=SYN, win=64240,
                     opts=opt_mss(1460) + opt_sackperm() + opt_ts(12345, 0) + NOP + opt_ws(7)),
    "synack_ours": seg(sport=80, dport=40000, seq=1, ack=0xFFFFFFF1, flags=SYN | ACK,
                       opts=opt_mss(1460) + NOP + NOP + opt_ts(1, 12345) + NOP + opt_ws(9)),
    "syn_no_options": seg(flags=SYN),
    "ack_plain": seg(seq=1, ack=2),
    "data_ts_sack": seg(seq=0x10, ack=0xFFFFFFF1, flags=PSH | ACK, win=502,
                        opts=NOP + NOP + opt_ts(0xDEADBEEF, 12345) + NOP + NOP +
                        opt_sack((100, 200), (300, 400)), payload=b"hello"),
    "sack_four_blocks": seg(opts=NOP + NOP + opt_sack((1, 2), (3, 4), (5, 6), (7, 8))),
    "fin_ack_payload": seg(flags=FIN | ACK | PSH, payload=b"GET / HTTP/1.1\r\n\r\n"),
    "rst": seg(flags=RST, win=0),
    "unknown_options": seg(flags=SYN, opts=bytes([254, 4, 0xF9, 0x89, 30, 3, 0]) + opt_mss(536)),
    "wscale_too_big": seg(flags=SYN, opts=NOP + opt_ws(15)),
    "max_header_nops": seg(opts=NOP * 40),
    # Malformed segments.
    "too_short": seg()[:19],
    "empty": b"",
    "doff_too_small": seg(doff=4),
    "doff_past_end": seg(doff=15),
    "opt_len_zero": seg(opts=bytes([254, 0])),
    "opt_len_one": seg(opts=bytes([2, 1])),
    "opt_len_past_header": seg(opts=NOP + NOP + bytes([8, 10, 0, 0]), pad=False),
    "opt_kind_without_len": seg(opts=NOP + NOP + NOP + bytes([2]), pad=False),
    "mss_wrong_len": seg(flags=SYN, opts=bytes([2, 3, 5]) + opt_ws(2)),
    "sack_bad_len": seg(opts=bytes([5, 6, 0, 0, 0, 1])),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in sorted(CASES.items()):
        with open(os.path.join(OUT, name + ".bin"), "wb") as f:
            f.write(data)
    print("wrote %d files to %s" % (len(CASES), OUT))


if __name__ == "__main__":
    main()
