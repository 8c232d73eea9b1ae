#!/usr/bin/env python3
"""Helpers for test_prometheus.sh (issue 5).

  clients HOST PORT --hold N --time-wait M --ctl DIR [--max-s S]
      Runs in stcp-peer. Opens N keep-alive connections, each: request,
      whole response, shutdown(SHUT_WR), socket kept open -> the server gets
      our FIN and, with app.hold_close_wait, stays in CLOSE-WAIT. Then M
      connections with `Connection: close`: the server closes first after
      responding, we read to EOF and close -> TIME-WAIT lands on the server.
      Writes DIR/ready, then waits for the server to close the held ones
      (EOF on each socket). An EOF before DIR/release exists is a failure
      (the server did not hold). Exit 0 only if everything went as expected.

  wait API [--state STATE=N ...] [--check 'EXPR OP VALUE' ...] --timeout S
      Runs where the Prometheus server is reachable. Queries its HTTP API
      (/api/v1/query) until every expectation holds in the same round:
      --state compares sum by (state) (shardtcp_tcp_connections{job=...}), a
      state without a series counts as 0; --check compares an instant query's
      single scalar (OP is ==, >=, >, <=). Fails with expected vs seen.

  target-up API --job JOB --timeout S
      Waits until Prometheus reports the job's target healthy (it scraped it).

Every loop is bounded in time.
"""
import argparse
import json
import os
import select
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- clients (stcp-peer) ---------------------------------------------------


def read_response(s, deadline):
    """Reads one HTTP response (Content-Length framed). Returns (status line,
    body, eof_after) where eof_after says the server closed right after it."""
    buf = bytearray()
    while b"\r\n\r\n" not in buf:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        d = s.recv(65536)
        if not d:
            raise RuntimeError(f"EOF before the response head ({bytes(buf)[:80]!r})")
        buf += d
    head, _, body = bytes(buf).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    clen = 0
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        if k.strip().lower() == b"content-length":
            clen = int(v.strip())
    body = bytearray(body)
    while len(body) < clen:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        d = s.recv(65536)
        if not d:
            raise RuntimeError(f"EOF after {len(body)} of {clen} body bytes")
        body += d
    return lines[0].decode(errors="replace"), bytes(body[:clen]), bytes(body[clen:])


def open_held(host, port, i):
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: prom-hold-{i}\r\n\r\n".encode())
    status, _, extra = read_response(s, time.monotonic() + 10)
    if not status.startswith("HTTP/1.1 200"):
        raise RuntimeError(f"held connection {i}: status {status!r}")
    if extra:
        raise RuntimeError(f"held connection {i}: {len(extra)} unexpected bytes after the body")
    # Our FIN: the server's on_peer_closed; in hold mode it must not close.
    s.shutdown(socket.SHUT_WR)
    return s


def time_wait_conn(host, port, i):
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: prom-tw-{i}\r\n"
              "Connection: close\r\n\r\n".encode())
    deadline = time.monotonic() + 10
    status, _, extra = read_response(s, deadline)
    if not status.startswith("HTTP/1.1 200"):
        raise RuntimeError(f"time-wait connection {i}: status {status!r}")
    # The server closes first (Connection: close): its FIN must follow.
    s.settimeout(max(0.1, deadline - time.monotonic()))
    more = extra or s.recv(65536)
    if more:
        raise RuntimeError(f"time-wait connection {i}: {len(more)} bytes after the response")
    s.close()  # our FIN second: the server goes FIN-WAIT-2 -> TIME-WAIT


def cmd_clients(a):
    deadline = time.monotonic() + a.max_s
    os.makedirs(a.ctl, exist_ok=True)
    release_file = os.path.join(a.ctl, "release")
    held = []
    try:
        for i in range(a.hold):
            held.append(open_held(a.host, a.port, i))
        log(f"{len(held)} connections half-closed by us (server should hold them in CLOSE-WAIT)")
        for i in range(a.time_wait):
            time_wait_conn(a.host, a.port, i)
        log(f"{a.time_wait} connections closed by the server first (TIME-WAIT on the server)")
    except (OSError, RuntimeError) as e:
        print(f"FAIL: client setup: {e}", flush=True)
        return 1
    with open(os.path.join(a.ctl, "ready"), "w") as f:
        f.write(f"{a.hold} {a.time_wait}\n")

    # Wait for the server's FIN on every held connection. None may come
    # before the test asked the server to release them.
    open_socks = {s.fileno(): (i, s) for i, s in enumerate(held)}
    fails = 0
    while open_socks and time.monotonic() < deadline:
        r, _, _ = select.select(list(open_socks), [], [], 0.2)
        released = os.path.exists(release_file)
        for fd in r:
            i, s = open_socks.pop(fd)
            try:
                d = s.recv(65536)
            except OSError as e:
                d = None
                print(f"FAIL: held connection {i}: {e}", flush=True)
                fails += 1
            if d:
                print(f"FAIL: held connection {i}: {len(d)} unexpected bytes", flush=True)
                fails += 1
            elif d == b"" and not released:
                print(f"FAIL: held connection {i}: server closed it before the release "
                      "(app.hold_close_wait did not hold it)", flush=True)
                fails += 1
            s.close()
    if open_socks:
        print(f"FAIL: {len(open_socks)} of {a.hold} held connections never got the server's "
              f"FIN within {a.max_s}s (release: {os.path.exists(release_file)})", flush=True)
        fails += 1
        for _, s in open_socks.values():
            s.close()
    elif not fails:
        log(f"all {a.hold} held connections got the server's FIN after the release")
    return 1 if fails else 0


# --- Prometheus HTTP API ------------------------------------------------------


def api_get(api, path, params=None):
    url = api.rstrip("/") + path
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=5) as r:
        doc = json.load(r)
    if doc.get("status") != "success":
        raise RuntimeError(f"{path}: {doc.get('errorType')}: {doc.get('error')}")
    return doc["data"]


def query(api, expr):
    data = api_get(api, "/api/v1/query", {"query": expr})
    if data["resultType"] != "vector":
        raise RuntimeError(f"{expr}: result type {data['resultType']}")
    return data["result"]


OPS = {
    "==": lambda x, y: x == y,
    ">=": lambda x, y: x >= y,
    ">": lambda x, y: x > y,
    "<=": lambda x, y: x <= y,
}


def parse_check(text):
    expr, op, value = text.rsplit(" ", 2)
    if op not in OPS:
        raise SystemExit(f"--check {text!r}: operator must be one of {' '.join(OPS)}")
    return expr, op, float(value)


def cmd_wait(a):
    want_states = {}
    for s in a.state:
        k, _, v = s.partition("=")
        want_states[k] = float(v)
    checks = [parse_check(c) for c in a.check]
    sel = f'{{job="{a.job}"}}'
    deadline = time.monotonic() + a.timeout
    last = None
    seen_states, seen_checks, err = {}, {}, None
    while True:
        ok = True
        try:
            err = None
            seen_states = {}
            for r in query(a.api, f"sum by (state) (shardtcp_tcp_connections{sel})"):
                seen_states[r["metric"].get("state", "?")] = float(r["value"][1])
            for k, v in want_states.items():
                ok &= seen_states.get(k, 0.0) == v
            seen_checks = {}
            for expr, op, v in checks:
                res = query(a.api, expr)
                got = float(res[0]["value"][1]) if len(res) == 1 else None
                seen_checks[expr] = got if len(res) <= 1 else f"{len(res)} series"
                ok &= got is not None and OPS[op](got, v)
        except (OSError, RuntimeError, ValueError, KeyError) as e:
            ok, err = False, str(e)
        now = (tuple(sorted(seen_states.items())), tuple(sorted(seen_checks.items(), key=str)), err)
        if now != last:
            shown = {k: seen_states.get(k, 0.0) for k in want_states}
            log(f"seen: states {fmt(shown)} checks {fmt(seen_checks)}" + (f" error: {err}" if err else ""))
            last = now
        if ok:
            return 0
        if time.monotonic() >= deadline:
            break
        time.sleep(a.interval)
    print(f"FAIL: after {a.timeout}s the Prometheus API still disagrees:", flush=True)
    for k, v in want_states.items():
        got = seen_states.get(k, 0.0)
        print(f"  sum(shardtcp_tcp_connections{{state=\"{k}\"}}): expected {v:g}, seen {got:g}"
              + ("" if got == v else "   <-- wrong"), flush=True)
    for expr, op, v in checks:
        got = seen_checks.get(expr)
        good = isinstance(got, float) and OPS[op](got, v)
        print(f"  {expr}: expected {op} {v:g}, seen {got}" + ("" if good else "   <-- wrong"),
              flush=True)
    if err:
        print(f"  last error: {err}", flush=True)
    print(f"  all states seen: {fmt(seen_states)}", flush=True)
    return 1


def fmt(d):
    return "{" + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in d.items()) + "}"


def cmd_target_up(a):
    deadline = time.monotonic() + a.timeout
    last = None
    while True:
        try:
            targets = [t for t in api_get(a.api, "/api/v1/targets")["activeTargets"]
                       if t.get("labels", {}).get("job") == a.job]
            state = [(t["scrapeUrl"], t["health"], t.get("lastError", "")) for t in targets]
        except (OSError, RuntimeError, ValueError, KeyError) as e:
            state = str(e)
        if state != last:
            log(f"targets of job {a.job}: {state}")
            last = state
        if isinstance(state, list) and state and all(h == "up" for _, h, _ in state):
            return 0
        if time.monotonic() >= deadline:
            print(f"FAIL: job {a.job} not scraped successfully within {a.timeout}s: {state}",
                  flush=True)
            return 1
        time.sleep(0.5)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("clients")
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("--hold", type=int, required=True)
    c.add_argument("--time-wait", type=int, required=True)
    c.add_argument("--ctl", required=True)
    c.add_argument("--max-s", type=float, default=180)
    w = sub.add_parser("wait")
    w.add_argument("api")
    w.add_argument("--job", default="shardtcp")
    w.add_argument("--state", action="append", default=[])
    w.add_argument("--check", action="append", default=[])
    w.add_argument("--timeout", type=float, required=True)
    w.add_argument("--interval", type=float, default=0.25)
    t = sub.add_parser("target-up")
    t.add_argument("api")
    t.add_argument("--job", default="shardtcp")
    t.add_argument("--timeout", type=float, required=True)
    a = p.parse_args()
    return {"clients": cmd_clients, "wait": cmd_wait, "target-up": cmd_target_up}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
