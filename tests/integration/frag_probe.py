#!/usr/bin/env python3
"""What happens to IPv4 fragments sent to shardtcp (issue 15, part 6).

    frag_probe.py IFACE SERVER_IP PORT CASE     (run in the peer namespace)

CASE syn : a SYN in 5 fragments (RFC 791 fragmentation, 24-byte pieces);
           prints "synack" when a SYN-ACK for it comes back, else "none".
CASE big : an ICMP echo of 3000 bytes in 3 fragments; prints "reply" or "none".
CASE lone: one first fragment (MF set) whose rest never comes; prints "sent".
Frames go out with scapy at layer 2 so the peer kernel does not refragment
or reassemble anything itself. Bounded: a few frames, a 2 s wait.
"""
import subprocess
import sys
import time

from scapy.all import (ICMP, IP, TCP, AsyncSniffer, Ether, Raw, conf, fragment,
                       get_if_hwaddr, sendp)

conf.verb = 0
iface, server, port, case = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
neigh = subprocess.run(["ip", "neigh", "show", server], capture_output=True,
                       text=True).stdout.split()
if "lladdr" not in neigh:
    print("no ARP entry for the server (run a request first)")
    sys.exit(2)
eth = Ether(src=get_if_hwaddr(iface), dst=neigh[neigh.index("lladdr") + 1])
me = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", iface], capture_output=True,
                    text=True).stdout.split()[3].split("/")[0]

sniff = AsyncSniffer(iface=iface, filter=f"src host {server}")
sniff.start()
time.sleep(0.5)
if case == "syn":
    pkt = IP(src=me, dst=server, id=0x7701) / TCP(sport=40701, dport=port, flags="S",
                                                    seq=1000) / Raw(b"x" * 100)
    for f in fragment(pkt, fragsize=24):
        sendp(eth / f, iface=iface)
elif case == "big":
    pkt = IP(src=me, dst=server, id=0x7702) / ICMP(id=0x77, seq=2) / Raw(b"y" * 3000)
    for f in fragment(pkt, fragsize=1400):
        sendp(eth / f, iface=iface)
elif case == "lone":
    sendp(eth / IP(src=me, dst=server, id=0x7703, flags="MF") /
          TCP(sport=40703, dport=port, flags="S", seq=1000) / Raw(b"z" * 100), iface=iface)
time.sleep(2)
got = sniff.stop()
if case == "syn":
    ok = any(p.haslayer(TCP) and p[TCP].dport == 40701 and p[TCP].flags == "SA" and
             p[TCP].ack == 1001 for p in got)
    # Leave no half-open connection behind: reset it.
    if ok:
        sendp(eth / IP(src=me, dst=server) / TCP(sport=40701, dport=port, flags="R", seq=1001),
              iface=iface)
    print("synack" if ok else "none")
elif case == "big":
    print("reply" if any(p.haslayer(ICMP) and p[ICMP].type == 0 and p[ICMP].id == 0x77
                         for p in got) else "none")
else:
    print("sent")
