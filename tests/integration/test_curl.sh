#!/usr/bin/env bash
# curl from stcp-peer (Linux TCP) against the server: keep-alive reuse and
# Connection: close.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
require_server
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Two requests on one curl command line: HTTP/1.1 keep-alive must reuse the
# connection (curl prints "Re-using existing connection") and both get 200.
peer curl -sv --max-time 10 -o "$out/a" "$BASE_URL/" -o "$out/b" "$BASE_URL/" 2>"$out/ka.err"
rc=$?
check "keep-alive: curl exit 0 (rc=$rc)" test $rc -eq 0
check "keep-alive: connection re-used for the second request" \
  grep -Eq 'Re-using existing connection|Reusing existing connection' "$out/ka.err"
check "keep-alive: exactly one TCP connection opened" \
  test "$(grep -c 'Connected to' "$out/ka.err")" -eq 1
check "keep-alive: two 200 responses" test "$(grep -c '^< HTTP/1.1 200' "$out/ka.err")" -eq 2
check "keep-alive: both bodies non-empty" test -s "$out/a" -a -s "$out/b"

# Connection: close -> the server answers and closes; curl must not reuse it.
peer curl -sv --max-time 10 -H 'Connection: close' -o "$out/c" "$BASE_URL/" \
  -o "$out/d" "$BASE_URL/" 2>"$out/close.err"
rc=$?
check "close: curl exit 0 (rc=$rc)" test $rc -eq 0
check "close: two 200 responses" test "$(grep -c '^< HTTP/1.1 200' "$out/close.err")" -eq 2
check "close: server announced Connection: close" grep -iq '^< connection: close' "$out/close.err"
check "close: second request needed a new connection" \
  test "$(grep -c 'Connected to' "$out/close.err")" -eq 2
check "close: no connection re-use" bash -c "! grep -Eq 'Re-using existing|Reusing existing' '$out/close.err'"

# HTTP/1.0 without keep-alive: answered and closed too.
code=$(http_code "$BASE_URL/" --http1.0)
check "HTTP/1.0 GET / -> 200 (got $code)" test "$code" = 200

[[ $FAILS -eq 0 ]] || { echo "---- curl -v (keep-alive) ----"; cat "$out/ka.err"; echo "---- curl -v (close) ----"; cat "$out/close.err"; }
finish
