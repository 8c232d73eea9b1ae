"""Raw L2 endpoint for the conformance probe.

The probe speaks TCP from an address and a MAC address that the probe host's
kernel does NOT own (default 198.18.0.200, 02:00:00:00:00:c8). Frames for
that MAC arrive as PACKET_OTHERHOST and the kernel drops them before its TCP
sees them, so it never RSTs our hand-made connections (no iptables needed).
This endpoint answers ARP for that address itself and hands every TCP
segment for it to the connection that owns the destination port.
"""
import queue
import random
import socket
import struct
import threading
import time

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import ARP, Ether

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
MOD = 1 << 32


def seq_add(a, n):
    return (a + n) % MOD


def seq_lt(a, b):
    """a < b in sequence space (RFC 9293 §3.4)."""
    return ((a - b) % MOD) > (MOD >> 1)


def seq_le(a, b):
    return a == b or seq_lt(a, b)


def flag_str(f):
    return "".join(c for bit, c in ((SYN, "S"), (ACK, "A"), (FIN, "F"), (RST, "R"), (PSH, "P")) if f & bit) or "-"


class ProbeError(Exception):
    """A check could not proceed (e.g. no SYN-ACK): reported as FAIL."""


class Seg:
    """One received TCP segment, already parsed."""
    __slots__ = ("t", "seq", "ack", "flags", "win", "payload", "options", "sport", "dport")

    def __init__(self, t, tcp, payload):
        self.t = t
        self.seq = tcp.seq
        self.ack = tcp.ack
        self.flags = int(tcp.flags)
        self.win = tcp.window
        self.payload = payload
        self.options = tcp.options
        self.sport = tcp.sport
        self.dport = tcp.dport

    def has(self, f):
        return bool(self.flags & f)

    def opt(self, name):
        """Value of TCP option `name` (scapy's spelling: MSS, WScale, SAckOK,
        Timestamp, SAck), or None when absent."""
        for k, v in self.options:
            if k == name:
                return v if v is not None else True
        return None

    def seg_len(self):
        return len(self.payload) + (1 if self.flags & SYN else 0) + (1 if self.flags & FIN else 0)

    def __repr__(self):
        return (f"<{flag_str(self.flags)} seq={self.seq} ack={self.ack} win={self.win} "
                f"len={len(self.payload)}>")


class Endpoint:
    def __init__(self, iface, my_ip, my_mac, server_ip):
        self.iface = iface
        self.my_ip = my_ip
        self.my_mac = my_mac
        self.server_ip = server_ip
        self.server_mac = None
        self._my_ip_b = socket.inet_aton(my_ip)
        self._srv_ip_b = socket.inet_aton(server_ip)
        self._queues = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._arp_seen = threading.Event()
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.bind((iface, 0))
        self.sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._rx_loop, daemon=True)
        self._thread.start()

    # ---- plumbing ---------------------------------------------------------
    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()

    def send_frame(self, frame):
        self.sock.send(bytes(frame))

    def register(self, port):
        q = queue.Queue()
        with self._lock:
            self._queues[port] = q
        return q

    def unregister(self, port):
        with self._lock:
            self._queues.pop(port, None)

    def _rx_loop(self):
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            if addr[2] == socket.PACKET_OUTGOING or len(data) < 14:
                continue
            etype = struct.unpack_from("!H", data, 12)[0]
            if etype == ETH_P_ARP:
                self._on_arp(data)
            elif etype == ETH_P_IP and len(data) >= 34 and data[23] == 6 and data[30:34] == self._my_ip_b:
                now = time.monotonic()
                ip = IP(data[14:])
                if TCP not in ip:
                    continue
                tcp = ip[TCP]
                payload = bytes(tcp.payload)
                # Trim Ethernet padding using the IP total length.
                ihl = (data[14] & 0x0F) * 4
                total = struct.unpack_from("!H", data, 16)[0]
                doff = (data[14 + ihl + 12] >> 4) * 4
                payload = payload[: max(0, total - ihl - doff)]
                with self._lock:
                    q = self._queues.get(tcp.dport)
                if q is not None:
                    q.put(Seg(now, tcp, payload))

    def _on_arp(self, data):
        arp = Ether(data)[ARP]
        if arp.op == 1 and arp.pdst == self.my_ip:  # who-has us: answer
            rep = Ether(dst=arp.hwsrc, src=self.my_mac) / ARP(
                op=2, hwsrc=self.my_mac, psrc=self.my_ip, hwdst=arp.hwsrc, pdst=arp.psrc)
            self.send_frame(rep)
        if arp.psrc == self.server_ip:
            self.server_mac = arp.hwsrc
            self._arp_seen.set()

    def resolve_server(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while self.server_mac is None and time.monotonic() < deadline:
            req = Ether(dst="ff:ff:ff:ff:ff:ff", src=self.my_mac) / ARP(
                op=1, hwsrc=self.my_mac, psrc=self.my_ip, pdst=self.server_ip)
            self.send_frame(req)
            self._arp_seen.wait(0.5)
        if self.server_mac is None:
            raise ProbeError(f"no ARP reply from {self.server_ip} on {self.iface}")
        return self.server_mac


class Conn:
    """A hand-driven TCP connection from the probe address to the server."""

    _used_ports = set()

    def __init__(self, ep, dport, sport=None, mss=1460):
        self.ep = ep
        self.dport = dport
        if sport is None:
            while True:
                sport = random.randint(20000, 60999)
                if sport not in Conn._used_ports:
                    break
        Conn._used_ports.add(sport)
        self.sport = sport
        self.mss = mss
        self.iss = random.getrandbits(32)
        self.snd_nxt = self.iss
        self.irs = None
        self.rcv_nxt = None
        self.rx = bytearray()  # in-order payload received from the server
        self.server_fin = False
        self.log = []  # every segment received, for failure details
        self.q = ep.register(sport)
        # RFC 7323 timestamps: off until ts_on is set (by a SYN that offers them
        # and a SYN-ACK that returns them); then every segment carries TSopt.
        self.ts_on = False
        self.tsval = random.randint(1, 1 << 30)
        self.ts_recent = 0  # the server's latest TSval
        self.sent_tsvals = {self.tsval}  # every TSval we sent (the SYN's included)

    def close(self):
        self.ep.unregister(self.sport)

    # ---- sending ----------------------------------------------------------
    def send(self, flags, seq=None, ack=None, data=b"", win=65535, options=None, chksum=None,
             tsval=None, ip_chksum=None, urgptr=0, ip_options=None, trailer=b""):
        seq = self.snd_nxt if seq is None else seq
        if ack is None:
            ack = self.rcv_nxt if (flags & ACK and self.rcv_nxt is not None) else 0
        if options is None and self.ts_on:
            if tsval is None:
                self.tsval += 1
                tsval = self.tsval
            options = [("NOP", None), ("NOP", None), ("Timestamp", (tsval, self.ts_recent))]
            self.sent_tsvals.add(tsval)
        frame = (Ether(dst=self.ep.server_mac, src=self.ep.my_mac)
                 / IP(src=self.ep.my_ip, dst=self.ep.server_ip, ttl=64, id=random.getrandbits(16),
                      chksum=ip_chksum, options=ip_options or [])
                 / TCP(sport=self.sport, dport=self.dport, seq=seq, ack=ack, flags=flags,
                       window=win, options=options or [], chksum=chksum, urgptr=urgptr)
                 / data)
        # trailer: bytes after the IP datagram (Ethernet padding), not part of it.
        self.ep.send_frame(bytes(frame) + trailer)
        return seq

    def send_data(self, data, flags=PSH | ACK, win=65535, advance=True):
        seq = self.send(flags, data=data, win=win)
        if advance:
            self.snd_nxt = seq_add(self.snd_nxt, len(data) + (1 if flags & FIN else 0))
        return seq

    def ack_now(self, win=65535):
        self.send(ACK, win=win)

    def rst(self):
        """Cleanup: an exact-sequence RST (RFC 9293 §3.10.7.4 first check)."""
        self.send(RST | ACK if self.rcv_nxt is not None else RST)

    # ---- receiving --------------------------------------------------------
    def recv(self, timeout):
        try:
            seg = self.q.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        self.log.append(seg)
        ts = seg.opt("Timestamp")
        if ts is not None and not seg.has(RST):
            self.ts_recent = ts[0]
        return seg

    def collect(self, duration, until=None):
        """All segments for `duration` seconds (or until until(seg) is true)."""
        out = []
        deadline = time.monotonic() + duration
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            seg = self.recv(left)
            if seg is None:
                break
            out.append(seg)
            self.absorb(seg)
            if until is not None and until(seg):
                break
        return out

    def expect(self, pred, timeout):
        """First segment matching pred within timeout (others are absorbed)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            seg = self.recv(left)
            if seg is None:
                return None
            self.absorb(seg)
            if pred(seg):
                return seg

    def absorb(self, seg):
        """Track the server's in-order byte stream and FIN (no reassembly of
        out-of-order data: the lab link does not reorder)."""
        if self.rcv_nxt is None or seg.has(RST) or seg.has(SYN):
            return
        if seg.payload and seg.seq == self.rcv_nxt:
            self.rx += seg.payload
            self.rcv_nxt = seq_add(self.rcv_nxt, len(seg.payload))
        elif seg.payload and seq_lt(seg.seq, self.rcv_nxt):
            end = seq_add(seg.seq, len(seg.payload))
            if seq_lt(self.rcv_nxt, end):
                skip = (self.rcv_nxt - seg.seq) % MOD
                self.rx += seg.payload[skip:]
                self.rcv_nxt = end
        if seg.has(FIN) and seq_add(seg.seq, len(seg.payload)) == self.rcv_nxt:
            self.rcv_nxt = seq_add(self.rcv_nxt, 1)
            self.server_fin = True

    # ---- handshake --------------------------------------------------------
    def syn(self, win=65535):
        self.send(SYN, seq=self.iss, ack=0, win=win, options=[("MSS", self.mss)])
        self.snd_nxt = seq_add(self.iss, 1)

    def wait_synack(self, timeout=3.0):
        seg = self.expect(lambda s: s.has(SYN) or s.has(RST), timeout)
        if seg is None:
            raise ProbeError(f"no SYN-ACK within {timeout}s (port {self.dport})")
        if seg.has(RST) or not (seg.has(SYN) and seg.has(ACK)):
            raise ProbeError(f"expected SYN-ACK, got {seg}")
        self.irs = seg.seq
        self.rcv_nxt = seq_add(seg.seq, 1)
        return seg

    def handshake(self, win=65535):
        self.syn(win=win)
        synack = self.wait_synack()
        self.send(ACK, win=win)
        return synack
