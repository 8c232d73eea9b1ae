#!/usr/bin/env python3
"""Short-connection load from many source addresses and ports (issue 4,
tests/integration/test_multicore.sh). Runs in the peer namespace.

  multicore_client.py --server 198.18.0.1 --port 80 --duration 5 \
      --workers 8 --sources 198.18.0.10-198.18.0.41 --cores 2 --out FILE

Each of --workers processes opens connections back to back for --duration
seconds: connect from an explicit (source address, source port), send
`GET / HTTP/1.1` with `Connection: close`, read the whole response to EOF,
close. Every connection of the run has its own 4-tuple (worker w owns the
ports [base + w*P, base + (w+1)*P) and walks them with a rotating source
address), so the server never sees a 4-tuple twice and per-connection
accounting on the server is exact.

For every connection that was established, the owner core is computed with
the dataplane's steering function (symmetric Toeplitz, key 0x6d5a..., RETA of
128 entries mapped i % cores: dataplane/src/runtime.cc owner_core()), so the
test can compare the server's per-core passive opens with what each core
must have accepted.

Output (JSON in --out, summary on stdout): ok, established, errors by kind,
per_core (established connections per predicted owner core), distinct
source ports and addresses. Every loop is bounded by --duration and socket
timeouts; exit status 0 even with errors (the test judges).
"""
import argparse
import ipaddress
import json
import multiprocessing
import socket
import sys
import time

# dataplane/src/net_util.h kSymmetricRssKey (52 bytes of 0x6d 0x5a).
RSS_KEY = bytes([0x6D, 0x5A] * 26)
RETA_SIZE = 128  # software steering / PMDs without a RETA (runtime.cc)


def toeplitz(words, key=RSS_KEY):
    """rte_softrss(): Toeplitz hash of 32-bit host-order words, MSB first."""
    k = int.from_bytes(key, "big")
    kbits = len(key) * 8
    ret = 0
    pos = 0
    for w in words:
        for b in range(31, -1, -1):
            if (w >> b) & 1:
                ret ^= (k >> (kbits - 32 - pos)) & 0xFFFFFFFF
            pos += 1
    return ret


def owner_core(src_ip, src_port, dst_ip, dst_port, cores):
    """dataplane owner_core() for a packet from (src) to (dst) = us."""
    if cores <= 1:
        return 0
    h = toeplitz([src_ip, dst_ip, (src_port << 16) | dst_port])
    return (h % RETA_SIZE) % cores


def parse_range(s):
    lo, _, hi = s.partition("-")
    a = int(ipaddress.IPv4Address(lo))
    b = int(ipaddress.IPv4Address(hi or lo))
    return [str(ipaddress.IPv4Address(x)) for x in range(a, b + 1)]


def one_request(server, port, src, sport, timeout):
    """Returns (established, error kind or None)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    established = False
    try:
        s.settimeout(timeout)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((src, sport))
        except OSError as e:
            return False, f"bind:{e.errno}"
        try:
            s.connect((server, port))
        except socket.timeout:
            return False, "connect_timeout"
        except ConnectionRefusedError:
            return False, "connect_refused"
        except OSError as e:
            return False, f"connect:{e.errno}"
        established = True
        s.sendall(f"GET / HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\n\r\n".encode())
        buf = bytearray()
        while True:
            d = s.recv(65536)
            if not d:
                break
            buf += d
            if len(buf) > 1 << 20:
                return True, "response_too_long"
        head, sep, body = bytes(buf).partition(b"\r\n\r\n")
        if not sep:
            return True, "no_header"
        if not head.startswith(b"HTTP/1.1 200"):
            return True, "status:" + head.split(b"\r\n", 1)[0].decode(errors="replace")[:40]
        clen = None
        for ln in head.split(b"\r\n")[1:]:
            k, _, v = ln.partition(b":")
            if k.strip().lower() == b"content-length":
                clen = int(v.strip())
        if clen is None or clen != len(body):
            return True, "body_length"
        return True, None
    except socket.timeout:
        return established, "read_timeout"
    except ConnectionResetError:
        return established, "reset"
    except OSError as e:
        return established, f"io:{e.errno}"
    finally:
        s.close()


def worker(args, w, q):
    srcs = parse_range(args.sources)
    server_ip = int(ipaddress.IPv4Address(args.server))
    base = args.port_base + w * args.ports_per_worker
    per_core = [0] * max(1, args.cores)
    errors = {}
    ok = established = 0
    ports = set()
    addrs = set()
    deadline = time.monotonic() + args.duration
    limit = args.ports_per_worker * len(srcs)
    k = 0
    while time.monotonic() < deadline and k < limit and (args.count == 0 or k < args.count):
        # (port index r, address index (r + q) mod n) is injective for
        # k < P * n when gcd(P + 1, n) = 1 (P even, n a power of two): every
        # connection of the run has its own 4-tuple.
        r, q_ = k % args.ports_per_worker, k // args.ports_per_worker
        src = srcs[(r + q_) % len(srcs)]
        sport = base + r
        k += 1
        est, err = one_request(args.server, args.dst_port, src, sport, args.timeout)
        if est:
            established += 1
            ports.add(sport)
            addrs.add(src)
            per_core[owner_core(int(ipaddress.IPv4Address(src)), sport, server_ip,
                                args.dst_port, args.cores)] += 1
        if err is None:
            ok += 1
        else:
            errors[err] = errors.get(err, 0) + 1
    q.put({"attempts": k, "ok": ok, "established": established, "errors": errors,
           "per_core": per_core, "ports": sorted(ports), "addrs": sorted(addrs)})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default="198.18.0.1")
    ap.add_argument("--dst-port", type=int, default=80)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--count", type=int, default=0, help="max connections per worker (0: none)")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--sources", default="198.18.0.10-198.18.0.41")
    ap.add_argument("--port-base", type=int, default=20000)
    ap.add_argument("--ports-per-worker", type=int, default=4000)
    ap.add_argument("--cores", type=int, default=2)
    # Per connection: room for two lost SYNs (Linux retries after 1 s, 3 s)
    # on a loaded machine, still bounded.
    ap.add_argument("--timeout", type=float, default=8.0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.ports_per_worker % 2 != 0:
        sys.exit("--ports-per-worker must be even (4-tuple uniqueness)")
    if args.port_base + args.workers * args.ports_per_worker > 65536:
        sys.exit("port range exceeds 65535")
    if not ipaddress.IPv4Address(args.server) in ipaddress.IPv4Network("198.18.0.0/15"):
        sys.exit("--server must be inside 198.18.0.0/15")

    q = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=worker, args=(args, w, q)) for w in range(args.workers)]
    for p in procs:
        p.start()
    results = []
    # Each worker stops at its deadline; allow for one last timed-out request.
    end = time.monotonic() + args.duration + 3 * args.timeout + 10
    while len(results) < len(procs) and time.monotonic() < end:
        try:
            results.append(q.get(timeout=max(0.1, end - time.monotonic())))
        except Exception:  # queue.Empty
            break
    for p in procs:
        p.join(timeout=1)
        if p.is_alive():
            p.kill()
    total = {"workers": len(procs), "workers_reported": len(results), "attempts": 0, "ok": 0,
             "established": 0, "errors": {}, "per_core": [0] * max(1, args.cores)}
    ports, addrs = set(), set()
    for r in results:
        for key in ("attempts", "ok", "established"):
            total[key] += r[key]
        for e, n in r["errors"].items():
            total["errors"][e] = total["errors"].get(e, 0) + n
        for i, n in enumerate(r["per_core"]):
            total["per_core"][i] += n
        ports.update(r["ports"])
        addrs.update(r["addrs"])
    total["distinct_source_ports"] = len(ports)
    total["distinct_source_addrs"] = len(addrs)
    with open(args.out, "w") as f:
        json.dump(total, f)
    print(f"multicore_client: {total['attempts']} attempts, {total['established']} established, "
          f"{total['ok']} ok, errors {total['errors']}, per predicted core {total['per_core']}, "
          f"{len(ports)} source ports x {len(addrs)} addresses, "
          f"{total['workers_reported']}/{len(procs)} workers reported", flush=True)


if __name__ == "__main__":
    main()
