#!/usr/bin/env bash
# Bounded load: wrk -t2 -c20 -d5s with Connection: close (a fresh TCP
# connection per request). Must finish with ZERO socket errors and zero
# non-2xx responses, and must actually have done work.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
require_server
out=$(mktemp)
trap 'rm -f "$out"' EXIT

DURATION=${STCP_WRK_DURATION:-5s}
timeout 30 ip netns exec "$STCP_PEER_NS" wrk -t2 -c20 -d"$DURATION" --timeout 2s \
  -H 'Connection: close' "$BASE_URL/" >"$out" 2>&1
rc=$?
cat "$out"
check "wrk exit status 0 (rc=$rc)" test $rc -eq 0

# "Socket errors: connect 0, read 0, write 0, timeout 0" appears only when
# some error occurred; if present every number must be 0.
sock=$(grep -E '^\s*Socket errors:' "$out" || true)
if [[ -n $sock ]]; then
  nonzero=$(echo "$sock" | grep -oE '[0-9]+' | awk '$1 != 0' | wc -l)
  check "no socket errors ($sock)" test "$nonzero" -eq 0
else
  check_pass "no socket errors (no 'Socket errors' line)"
fi
non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
check "zero non-2xx responses (got ${non2xx:-0})" test "${non2xx:-0}" -eq 0
reqs=$(awk '/requests in/ {print $1}' "$out")
check "wrk completed requests (got ${reqs:-none})" test "${reqs:-0}" -gt 0 2>/dev/null
# Connection: close means one TCP connection per request: report the rate.
rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
log "connections per second (Connection: close): ${rps:-?}"
check "the server still answers after the load" test "$(http_code "$BASE_URL/")" = 200
finish
