#!/usr/bin/env python3
"""Clients that never read (issue 9, memory budget test).

Opens up to --count TCP connections to HOST:PORT, each with a small receive
buffer (SO_RCVBUF set before connect, so the window it offers stays small),
sends one GET for a large body on each connection that completes, never reads,
holds them all for --hold-s seconds, then closes them (unread data: the
kernel answers with RST, RFC 9293 §3.10.4). Connects are non-blocking and
bounded by --connect-s; a connect that has not completed by then (its SYNs
were refused: the server drops them under memory pressure) counts as
"pending" and is closed. Prints one line of JSON with the counts.

Bounded: at most --count sockets, --connect-s + --hold-s seconds.
"""
import argparse
import errno
import json
import os
import resource
import selectors
import socket
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--host", default="198.18.0.1")
ap.add_argument("--port", type=int, default=80)
ap.add_argument("--count", type=int, default=2000)
ap.add_argument("--rcvbuf", type=int, default=4096)
ap.add_argument("--path", default="/bytes/10485760")
ap.add_argument("--connect-s", type=float, default=20.0)
ap.add_argument("--hold-s", type=float, default=5.0)
ap.add_argument("--ready-file", default="")
args = ap.parse_args()

want = args.count + 64
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))

request = f"GET {args.path} HTTP/1.1\r\nHost: {args.host}\r\n\r\n".encode()
sel = selectors.DefaultSelector()
pending = {}
established = []
failed = 0
start = time.monotonic()
deadline = start + args.connect_s

def collect(timeout):
    global failed
    for key, _ in sel.select(timeout=timeout):
        s = key.fileobj
        sel.unregister(s)
        pending.pop(s.fileno(), None)
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err != 0:
            failed += 1
            s.close()
            continue
        try:
            s.send(request)
        except OSError:
            failed += 1
            s.close()
            continue
        established.append(s)

for i in range(args.count):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, args.rcvbuf)
    s.setblocking(False)
    rc = s.connect_ex((args.host, args.port))
    if rc not in (0, errno.EINPROGRESS):
        failed += 1
        s.close()
        continue
    pending[s.fileno()] = s
    sel.register(s, selectors.EVENT_WRITE)
    # Pace the SYNs a little (2,000 in about 1 s), collecting completions.
    if i % 50 == 49:
        collect(0.02)

while pending and time.monotonic() < deadline:
    collect(0.1)
connect_s = time.monotonic() - start
not_connected = len(pending)
for s in list(pending.values()):
    sel.unregister(s)
    s.close()
pending.clear()

if args.ready_file:
    with open(args.ready_file, "w") as f:
        f.write(f"{len(established)}\n")
time.sleep(args.hold_s)
for s in established:
    s.close()
print(json.dumps({"established": len(established), "not_connected": not_connected,
                  "failed": failed, "connect_s": round(connect_s, 1)}))
sys.stdout.flush()
