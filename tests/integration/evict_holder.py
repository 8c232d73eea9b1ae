#!/usr/bin/env python3
"""Idle connections that fill shardtcp-httpd's table (test_evict.sh).

Opens --count kernel TCP connections to the server, one after another, and
holds them without sending anything. Writes "open N" to --state/opened when
done, then waits (bounded) for --state/go, then reports which of its sockets
the server has reset (ECONNRESET: evicted), closed (EOF) or kept, in opening
order, to --state/result as JSON, closes everything and exits 0.
"""
import argparse
import errno
import json
import os
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="198.18.0.1")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--max-seconds", type=float, default=60.0)
    a = ap.parse_args()
    deadline = time.monotonic() + a.max_seconds
    socks = []
    for i in range(a.count):
        if time.monotonic() > deadline:
            break
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect((a.host, a.port))
        except OSError as e:
            print(f"connect {i}: {e}", file=sys.stderr)
            s.close()
            break
        socks.append(s)
    with open(os.path.join(a.state, "opened.tmp"), "w") as f:
        f.write(f"open {len(socks)}\n")
    os.rename(os.path.join(a.state, "opened.tmp"), os.path.join(a.state, "opened"))
    go = os.path.join(a.state, "go")
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.1)
    states = []
    for s in socks:
        s.setblocking(False)
        try:
            data = s.recv(1)
            states.append("eof" if data == b"" else "data")
        except BlockingIOError:
            states.append("open")
        except ConnectionResetError:
            states.append("reset")
        except OSError as e:
            states.append("reset" if e.errno == errno.ECONNRESET else f"error:{e.errno}")
    with open(os.path.join(a.state, "result.tmp"), "w") as f:
        json.dump(states, f)
    os.rename(os.path.join(a.state, "result.tmp"), os.path.join(a.state, "result"))
    for s in socks:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
