#!/usr/bin/env bash
# shardtcp-httpd's application timeouts (issue 9) in its own lab namespaces
# (stcp-to-dp / stcp-to-peer) with short timeouts set by --set: header
# dribblers, an idle keep-alive connection and a client that never reads are
# closed (FIN, FIN, RST) and counted on /metrics
# (shardtcp_http_timeouts_total{kind}), while curl keeps being served; then
# SIGINT and exit status 0. Bounded: about 30 s of traffic.
#
#   test_app_timeouts.sh path/to/shardtcp-httpd
set -uo pipefail
export STCP_HTTPD=${1:-${STCP_HTTPD:-}}
export STCP_DP_NS=${STCP_TO_DP_NS:-stcp-to-dp}
export STCP_PEER_NS=${STCP_TO_PEER_NS:-stcp-to-peer}
export STCP_TARGET=shardtcp
export STCP_STATE_DIR=${STCP_STATE_DIR:-/tmp/shardtcp-integration-app-timeouts}
source "$(dirname "$0")/lib.sh"
[[ -x ${STCP_HTTPD:-} ]] || { echo "FAIL: shardtcp-httpd not built: '${STCP_HTTPD:-}'"; exit 1; }

N=${STCP_TO_DRIBBLERS:-300}
HEADER_MS=3000
KEEPALIVE_MS=4000
SEND_MS=5000
export STCP_HTTPD_ARGS="--set app.header_timeout_ms=$HEADER_MS --set app.keepalive_timeout_ms=$KEEPALIVE_MS --set app.send_timeout_ms=$SEND_MS --set tcp.max_connections=4096"
METRICS_URL=http://127.0.0.1:9100/metrics
FAILS=0
CURL_PID=""

cleanup() {
  local rc=$?
  set +e
  if [[ -n $CURL_PID ]] && kill -0 "$CURL_PID" 2>/dev/null; then
    kill "$CURL_PID" 2>/dev/null
    wait "$CURL_PID" 2>/dev/null
  fi
  bash "$STCP_IT_DIR/fixture.sh" stop >"$STCP_STATE_DIR/stop.log" 2>&1 || true
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! bash "$STCP_IT_DIR/fixture.sh" start; then
  check_fail "httpd start"
  finish
fi

# A normal client throughout: one curl a second (bounded count).
(
  for _ in $(seq 1 40); do
    echo "$(http_code "$BASE_URL/" --max-time 3)"
    sleep 1
  done
) >"$STCP_STATE_DIR/curl.codes" 2>/dev/null &
CURL_PID=$!

if peer timeout 60 "$PY" "$STCP_IT_DIR/test_app_timeouts.py" "$SERVER_IP" "$SERVER_PORT" "$N" \
  "$((HEADER_MS / 1000))" "$((KEEPALIVE_MS / 1000))" "$((SEND_MS / 1000))"; then
  check_pass "timeout client checks"
else
  check_fail "timeout client checks"
fi
kill "$CURL_PID" 2>/dev/null
wait "$CURL_PID" 2>/dev/null
CURL_PID=""
total=$(grep -c . "$STCP_STATE_DIR/curl.codes")
ok=$(grep -c '^200$' "$STCP_STATE_DIR/curl.codes")
check "curl served throughout ($ok of $total requests 200)" test "$total" -ge 3 -a "$ok" -eq "$total"

metric() {  # sum of a series over cores
  dp curl -s --max-time 3 "$METRICS_URL" |
    awk -v k="$1" '$1 ~ /^shardtcp_http_timeouts_total\{/ && index($1, "kind=\"" k "\"") { s += $2 }
                   END { print s + 0 }'
}
h=$(metric header)
k=$(metric keepalive)
s=$(metric send)
log "shardtcp_http_timeouts_total: header $h keepalive $k send $s"
check "header timeouts counted ($h == $N)" test "$h" -eq "$N"
check "keep-alive timeouts counted ($k == 1)" test "$k" -eq 1
check "send timeouts counted ($s == 1)" test "$s" -eq 1
check "a fresh curl after all that is still served" test "$(http_code "$BASE_URL/")" = 200

if bash "$STCP_IT_DIR/fixture.sh" stop >"$STCP_STATE_DIR/stop.log" 2>&1; then
  check_pass "httpd exits 0 on SIGINT, lab down"
else
  cat "$STCP_STATE_DIR/stop.log"
  check_fail "httpd exits 0 on SIGINT, lab down"
fi
trap - EXIT
finish
