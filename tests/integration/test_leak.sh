#!/usr/bin/env bash
# Leak check: after a mix of traffic (both close orders, half-close, many
# short connections) and once TIME-WAIT (2*MSL) and FIN-WAIT-2 timers have
# expired, the server must hold ZERO connections (no leaked TCBs) and no
# leaked mbufs. The number must be found and compared: no number = FAIL.
#
# Where the number comes from, in order:
#   linux target : `ss` in the server namespace (the kernel's own sockets);
#   shardtcp     : shardtcp_tcp_connections{state!="LISTEN"} summed from
#                  /metrics when the exporter answers, otherwise the
#                  per-core counts shardtcp-httpd prints at shutdown
#                  (this test then stops the server with SIGINT itself).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
require_server
METRICS_URL=${STCP_METRICS_URL:-http://127.0.0.1:9100/metrics}
WAIT_S=${STCP_LEAK_WAIT_S:-20}

log "generating traffic"
peer curl -s -o /dev/null --max-time 10 -H 'Connection: close' "$BASE_URL/" || true
peer curl -s -o /dev/null -o /dev/null --max-time 10 "$BASE_URL/" "$BASE_URL/bytes/100000" || true
peer "$PY" "$STCP_IT_DIR/test_sequential.py" "$SERVER_IP" "$SERVER_PORT" 100 >/dev/null || true
peer "$PY" "$STCP_IT_DIR/test_halfclose.py" "$SERVER_IP" "$SERVER_PORT" >/dev/null || true
timeout 20 ip netns exec "$STCP_PEER_NS" wrk -t1 -c4 -d1s -H 'Connection: close' "$BASE_URL/" >/dev/null 2>&1 || true

# --- linux reference ---------------------------------------------------------
linux_count() {
  # TIME-WAIT is left out: Linux keeps it a fixed 60 s (not configurable).
  dp ss -Htan state all "( sport = :$SERVER_PORT )" | awk '$1 != "LISTEN" && $1 != "TIME-WAIT"' | wc -l
}

# --- shardtcp via metrics ----------------------------------------------------
# Prints the sum of non-LISTEN connection gauges, or nothing when the
# endpoint or the metric is missing.
metrics_count() {
  dp curl -s --max-time 2 "$METRICS_URL" 2>/dev/null | awk '
    /^shardtcp_tcp_connections\{/ {
      seen = 1
      if ($0 ~ /state="LISTEN"/) next
      sum += $NF
    }
    END { if (seen) printf "%d\n", sum }'
}

poll_zero() {  # poll_zero FUNC -> last value printed; 0 when it reached zero
  local fn=$1 v="" i
  for ((i = 0; i < WAIT_S * 2; i++)); do
    v=$($fn)
    [[ -z $v ]] && { echo ""; return 1; }
    [[ $v -eq 0 ]] && { echo 0; return 0; }
    sleep 0.5
  done
  echo "$v"
  return 1
}

if [[ $STCP_TARGET == linux ]]; then
  v=$(poll_zero linux_count)
  check "linux: connections (except TIME-WAIT) back to zero after timers (last count: ${v:-none})" test "${v:-x}" = 0
  echo "server sockets by state:"; dp ss -Htan | awk "{print \$1}" | sort | uniq -c
  finish
fi

if [[ -n $(metrics_count) ]]; then
  v=$(poll_zero metrics_count)
  check "metrics: shardtcp_tcp_connections (non-LISTEN, all cores) returns to 0 (last: ${v:-none})" \
    test "${v:-x}" = 0
  dp curl -s --max-time 2 "$METRICS_URL" | grep -E '^shardtcp_tcp_connections\{' | awk '$NF != 0' | head -n 20
  mb=$(dp curl -s --max-time 2 "$METRICS_URL" | awk '/^shardtcp_mbuf_pool_in_use(\{| )/ {print}' | head -n 4)
  [[ -n $mb ]] && log "mbuf pool in use: $mb"
fi

# Shutdown report: always checked (it also carries mbuf accounting). Wait for
# 2*MSL + FIN-WAIT-2 timeout + margin, then SIGINT the server.
sleep_s=$(awk -v m="$STCP_TEST_MSL_MS" -v f="$STCP_TEST_FW2_MS" 'BEGIN { printf "%.1f", (2 * m + f) / 1000 + 2 }')
log "waiting ${sleep_s}s for TIME-WAIT / FIN-WAIT-2 timers, then stopping the server"
sleep "$sleep_s"
check "server exits 0 on SIGINT" bash "$STCP_IT_DIR/fixture.sh" stop-server
logf=$STCP_STATE_DIR/server.log
# Per-core lines printed at shutdown, e.g.
#   "core 0: connections=0 time_wait=0 mbufs_in_use=0"
# Accepted spellings: (l)core N ... connections[=: ]N  (case-insensitive).
mapfile -t conn_lines < <(grep -iE '\bl?core[ =:]*[0-9]+\b.*\bconnections[ =:]+[0-9]+' "$logf" || true)
if [[ ${#conn_lines[@]} -eq 0 ]]; then
  check_fail "shutdown report: no per-core 'connections=N' line in the server log (cannot prove zero)"
else
  for ln in "${conn_lines[@]}"; do
    n=$(echo "$ln" | grep -oiE '\bconnections[ =:]+[0-9]+' | head -n1 | grep -oE '[0-9]+$')
    check "shutdown report: zero connections: $ln" test "$n" -eq 0
  done
fi
# mbuf accounting: a 'leaked' / 'in use' figure must be present and zero.
mapfile -t mbuf_lines < <(grep -iE 'mbuf' "$logf" | grep -iE '(leak|in[_ -]?use)[a-z_]*[ =:]+[0-9]+' || true)
if [[ ${#mbuf_lines[@]} -eq 0 ]]; then
  check_fail "shutdown report: no mbuf in-use/leaked figure in the server log"
else
  for ln in "${mbuf_lines[@]}"; do
    n=$(echo "$ln" | grep -oiE '(leak|in[_ -]?use)[a-z_]*[ =:]+[0-9]+' | head -n1 | grep -oE '[0-9]+$')
    check "shutdown report: zero mbufs outstanding: $ln" test "$n" -eq 0
  done
fi
finish
