#!/usr/bin/env python3
"""shardtcp-httpd's application timeouts against Linux clients (issue 9),
run in the peer namespace by test_app_timeouts.sh with short timeouts:

  dribblers   N connections each send one byte of a never-ending request
              head every second: the server closes every one (FIN, no
              response) once the header timeout has passed since accept;
  idle        one keep-alive connection, one request answered, then silence:
              closed (FIN) after the keep-alive timeout;
  no reader   a client with a 4 KB receive buffer asks for 10 MiB and never
              reads: the server aborts it (RST: ECONNRESET) after the send
              timeout without progress.

Times are printed; the only time checks are lower bounds (the server must not
close early), everything else is bounded by the loop's own deadline.

  test_app_timeouts.py HOST PORT N HEADER_S KEEPALIVE_S SEND_S
"""
import errno
import selectors
import socket
import sys
import threading
import time

from itcheck import check, finish

HOST, PORT = sys.argv[1], int(sys.argv[2])
N = int(sys.argv[3])
HEADER_S, KEEPALIVE_S, SEND_S = (float(x) for x in sys.argv[4:7])
SLACK_S = 8.0  # bound on how late a close may be seen (a loaded 2-core machine)


def not_before(t):
    """Lower bound for "not closed before the timeout t": the server's clock is
    the TSC scaled by a calibrated rate and this client's is CLOCK_MONOTONIC,
    so allow a 2% rate difference and 50 ms of loop and scheduling jitter."""
    return t * 0.98 - 0.05
# A head that never ends: one byte a second never reaches its empty line.
DRIBBLE = b"GET / HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"a" * 4096


def dribblers(res):
    socks, opened, closed, got_bytes = [], {}, {}, 0
    sel = selectors.DefaultSelector()  # epoll: no FD_SETSIZE limit
    for i in range(N):
        s = socket.create_connection((HOST, PORT), timeout=5)
        s.setblocking(False)
        opened[s.fileno()] = time.monotonic()
        socks.append(s)
        sel.register(s, selectors.EVENT_READ)
    by_fd = {s.fileno(): s for s in socks}
    deadline = time.monotonic() + HEADER_S + SLACK_S
    pos = 0
    while len(closed) < N and time.monotonic() < deadline:
        for fd, s in by_fd.items():
            if fd in closed:
                continue
            try:
                s.send(DRIBBLE[pos:pos + 1])
            except OSError:
                pass  # RST after our FIN-closed send: seen below as closed
        pos += 1
        end = time.monotonic() + 1.0
        while len(closed) < N and time.monotonic() < end:
            for key, _ in sel.select(max(0.0, end - time.monotonic())):
                s = key.fileobj
                try:
                    d = s.recv(4096)
                except OSError:
                    d = b""
                if d:
                    got_bytes += len(d)
                else:
                    closed[s.fileno()] = time.monotonic()
                    sel.unregister(s)
    ages = [closed[fd] - opened[fd] for fd in closed]
    res.update(closed=len(closed), got_bytes=got_bytes,
               min_age=min(ages) if ages else None, max_age=max(ages) if ages else None)
    sel.close()
    for s in socks:
        s.close()


def idle(res):
    s = socket.create_connection((HOST, PORT), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"\n"):
        d = s.recv(4096)
        if not d:
            break
        data += d
    res["answered"] = data.startswith(b"HTTP/1.1 200 OK")
    t0 = time.monotonic()
    s.settimeout(KEEPALIVE_S + SLACK_S)
    try:
        d = s.recv(4096)
        res["eof"] = d == b""
    except socket.timeout:
        res["eof"] = False
    except OSError:
        res["eof"] = False  # RST instead of FIN
    res["idle_s"] = time.monotonic() - t0
    s.close()


def no_reader(res):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(5)
    s.connect((HOST, PORT))
    s.sendall(b"GET /bytes/10485760 HTTP/1.1\r\nHost: t\r\n\r\n")
    t0 = time.monotonic()
    deadline = t0 + SEND_S + SLACK_S
    err = 0
    while time.monotonic() < deadline:
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            break
        time.sleep(0.2)
    res["err"] = err
    res["abort_s"] = time.monotonic() - t0
    s.close()


def main():
    results = {"d": {}, "i": {}, "n": {}}
    threads = [threading.Thread(target=dribblers, args=(results["d"],)),
               threading.Thread(target=idle, args=(results["i"],)),
               threading.Thread(target=no_reader, args=(results["n"],))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    d, i, n = results["d"], results["i"], results["n"]
    print(f"dribblers: {d}\nidle: {i}\nno reader: {n}", flush=True)
    check(d.get("closed") == N, f"all {N} header dribblers closed by the server ({d.get('closed')})")
    check(d.get("got_bytes") == 0, "no response bytes to a head that never completed (quiet FIN)")
    check(d.get("min_age") is not None and d["min_age"] >= not_before(HEADER_S),
          f"no dribbler closed before the header timeout (first after {d.get('min_age')} s)")
    check(i.get("answered") is True, "idle connection: its request was answered")
    check(i.get("eof") is True, "idle keep-alive connection closed with FIN")
    check(i.get("idle_s", 0) >= not_before(KEEPALIVE_S),
          f"not before the keep-alive timeout ({i.get('idle_s', 0):.2f} s)")
    check(n.get("err") == errno.ECONNRESET,
          f"never-reading client reset (SO_ERROR {n.get('err')}, after {n.get('abort_s', 0):.2f} s)")
    check(n.get("abort_s", 0) >= not_before(SEND_S), "not before the send timeout")
    finish()


main()
