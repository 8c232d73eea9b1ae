#!/usr/bin/env python3
"""Linux reference stand-in for shardtcp-httpd (the kernel's own TCP).

Same HTTP/1.1 behaviour the integration tests expect from shardtcp-httpd:
  GET /          -> 200, small body
  GET /bytes/N   -> 200, exactly N body bytes 'a'..'z' repeating (0 <= N <= 10 MiB)
  GET other path -> 404
  malformed      -> 400 and close
  keep-alive by default (HTTP/1.1), `Connection: close` honoured,
  close on peer EOF (a request followed by FIN is still answered).
Run it in a namespace where the kernel owns the address (lab.sh up --linux)
so every test harness can be validated against Linux before it is pointed at
shardtcp. Bounded: exits on SIGINT/SIGTERM with status 0.
"""
import argparse
import signal
import socket
import sys
import threading
import time

MAX_BYTES = 10 * 1024 * 1024
MAX_HEADER = 16 * 1024
# Body of /bytes/N: the project's body pattern (app/common/body_pattern.h):
# byte i is 'a' + i % 26, as shardtcp-httpd and shardtcp-loadgen --write-pattern.
CHUNK = b"abcdefghijklmnopqrstuvwxyz" * 2520  # 65520 bytes, a multiple of 26


def body_bytes(n):
    full, rest = divmod(n, len(CHUNK))
    for _ in range(full):
        yield CHUNK
    if rest:
        yield CHUNK[:rest]


def respond(conn, status, reason, body=b"", close=False, length=None):
    length = len(body) if length is None else length
    head = (f"HTTP/1.1 {status} {reason}\r\nServer: refserver\r\n"
            f"Content-Type: text/plain\r\nContent-Length: {length}\r\n"
            f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n")
    conn.sendall(head.encode() + body)


HOLD_CLOSE_WAIT = False  # --hold-close-wait: never close after peer EOF (a leak, for negative tests)


def handle(conn):
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                if len(buf) > MAX_HEADER:
                    respond(conn, 400, "Bad Request", b"bad request\n", close=True)
                    return
                data = conn.recv(65536)
                if not data:
                    if HOLD_CLOSE_WAIT:
                        time.sleep(3600)
                    return  # peer EOF: close our side too
                buf += data
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
            parts = lines[0].split(b" ")
            if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
                respond(conn, 400, "Bad Request", b"bad request\n", close=True)
                return
            method, path, version = parts
            headers = {}
            for ln in lines[1:]:
                if b":" not in ln:
                    respond(conn, 400, "Bad Request", b"bad request\n", close=True)
                    return
                k, v = ln.split(b":", 1)
                headers[k.strip().lower()] = v.strip().lower()
            close = headers.get(b"connection") == b"close" or version == b"HTTP/1.0"
            if method != b"GET":
                respond(conn, 400, "Bad Request", b"bad request\n", close=True)
                return
            if path == b"/":
                respond(conn, 200, "OK", b"hello from refserver\n", close)
            elif path.startswith(b"/bytes/") and path[7:].isdigit() and int(path[7:]) <= MAX_BYTES:
                n = int(path[7:])
                respond(conn, 200, "OK", close=close, length=n)
                for piece in body_bytes(n):
                    conn.sendall(piece)
            else:
                respond(conn, 404, "Not Found", b"not found\n", close)
            if close:
                return
    except OSError:
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="198.18.0.1")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--hold-close-wait", action="store_true")
    args = ap.parse_args()
    global HOLD_CLOSE_WAIT
    HOLD_CLOSE_WAIT = args.hold_close_wait
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((args.bind, args.port))
    ls.listen(1024)
    stop = threading.Event()

    def on_signal(_sig, _frm):
        stop.set()
        try:
            ls.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"refserver listening on {args.bind}:{args.port}", flush=True)
    ls.settimeout(0.5)
    while not stop.is_set():
        try:
            conn, _ = ls.accept()
        except socket.timeout:
            continue
        except OSError:
            break
        conn.settimeout(30)
        threading.Thread(target=handle, args=(conn,), daemon=True).start()
    ls.close()
    print("refserver: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
