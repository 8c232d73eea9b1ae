#!/usr/bin/env bash
# Leak check: after a mix of traffic (both close orders, half-close, many
# short connections) and once TIME-WAIT (2*MSL) and FIN-WAIT-2 timers have
# expired, the server must hold ZERO connections (no leaked TCBs) and no
# leaked mbufs. The number must be found and compared: no number = FAIL.
#
# Where the number comes from, in order:
#   linux target : `ss` in the server namespace (the kernel's own sockets);
#   shardtcp     : shardtcp_tcp_connections{state!="LISTEN"} (+ TIME-WAIT
#                  entries) and shardtcp_mempool_mbufs{state="in_use"} from
#                  /metrics when the exporter answers (live, polled), AND
#                  always the per-core counts and mempool in-use figures
#                  shardtcp-httpd prints at shutdown (this test stops the
#                  server with SIGINT itself; teardown checks the exit code).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
require_server
METRICS_URL=${STCP_METRICS_URL:-http://127.0.0.1:9100/metrics}
WAIT_S=${STCP_LEAK_WAIT_S:-20}

log "generating traffic"
peer curl -s -o /dev/null --max-time 10 -H 'Connection: close' "$BASE_URL/" || true
peer curl -s -o /dev/null -o /dev/null --max-time 10 "$BASE_URL/" "$BASE_URL/bytes/100000" || true
# (bounded: a server that never closes must not stall the test)
timeout 30 ip netns exec "$STCP_PEER_NS" "$PY" "$STCP_IT_DIR/test_sequential.py" "$SERVER_IP" "$SERVER_PORT" 100 >/dev/null || true
timeout 15 ip netns exec "$STCP_PEER_NS" "$PY" "$STCP_IT_DIR/test_halfclose.py" "$SERVER_IP" "$SERVER_PORT" >/dev/null || true
timeout 20 ip netns exec "$STCP_PEER_NS" wrk -t1 -c4 -d1s -H 'Connection: close' "$BASE_URL/" >/dev/null 2>&1 || true

# --- linux reference ---------------------------------------------------------
linux_count() {
  # TIME-WAIT is left out: Linux keeps it a fixed 60 s (not configurable).
  dp ss -Htan state all "( sport = :$SERVER_PORT )" | awk '$1 != "LISTEN" && $1 != "TIME-WAIT"' | wc -l
}

# --- shardtcp via metrics ----------------------------------------------------
# Each prints a number, or nothing when the endpoint or the metric is missing.
scrape() { dp curl -s --max-time 2 "$METRICS_URL" 2>/dev/null; }
# Connections in any state but LISTEN, all cores, plus compact TIME-WAIT
# entries (which may be kept outside the per-state gauge).
metrics_count() {
  scrape | awk '
    /^shardtcp_tcp_connections\{/ { seen = 1; if ($0 !~ /state="LISTEN"/) sum += $NF }
    /^shardtcp_tcp_time_wait_entries(\{| )/ { sum += $NF }
    END { if (seen) printf "%d\n", sum }'
}
# mbufs in use (all pools) above the baseline the fixture recorded right
# after start-up (0 when it could not: net_af_packet holds no mbufs at rest).
mbuf_excess() {
  local base
  base=$(cat "$STCP_STATE_DIR/mbuf_baseline" 2>/dev/null || echo 0)
  scrape | awk -v base="$base" '
    /^shardtcp_mempool_mbufs\{/ && /state="in_use"/ { seen = 1; sum += $NF }
    END { if (seen) { d = sum - base; printf "%d\n", (d > 0 ? d : 0) } }'
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

# The counter must be able to see a connection at all: hold one ESTABLISHED
# keep-alive connection for 3 s and read the count while it is open.
hold_one() {
  peer "$PY" -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
s.recv(65536)
time.sleep(3)
s.close()' "$SERVER_IP" "$SERVER_PORT" &
  HOLD_PID=$!
  sleep 1.5
}

if [[ $STCP_TARGET == linux ]]; then
  hold_one
  held=$(linux_count)
  wait "$HOLD_PID"
  check "linux: a held connection is counted (count ${held:-none} >= 1)" test "${held:-0}" -ge 1
  v=$(poll_zero linux_count)
  check "linux: connections (except TIME-WAIT) back to zero after timers (last count: ${v:-none})" test "${v:-x}" = 0
  echo "server sockets by state:"; dp ss -Htan | awk "{print \$1}" | sort | uniq -c
  finish
fi

if [[ -n $(metrics_count) ]]; then
  hold_one
  held=$(metrics_count)
  wait "$HOLD_PID"
  check "metrics: a held connection is counted (count ${held:-none} >= 1)" test "${held:-0}" -ge 1
  v=$(poll_zero metrics_count)
  check "metrics: shardtcp_tcp_connections (non-LISTEN) + TIME-WAIT entries, all cores, back to 0 (last: ${v:-none})" \
    test "${v:-x}" = 0
  scrape | grep -E '^shardtcp_tcp_(connections\{|time_wait_entries)' | awk '$NF != 0' | head -n 20
  if [[ -n $(mbuf_excess) ]]; then
    m=$(poll_zero mbuf_excess)
    check "metrics: mbufs in use back to the start-up baseline ($(cat "$STCP_STATE_DIR/mbuf_baseline" 2>/dev/null || echo 0)); excess: ${m:-none}" \
      test "${m:-x}" = 0
  else
    check_fail "metrics: no shardtcp_mempool_mbufs{state=\"in_use\"} (cannot prove no mbuf leak)"
  fi
  sleep_s=0.5
else
  log "no metrics endpoint at $METRICS_URL: relying on the shutdown report"
  sleep_s=$(awk -v m="$STCP_TEST_MSL_MS" -v f="$STCP_TEST_FW2_MS" 'BEGIN { printf "%.1f", (2 * m + f) / 1000 + 2 }')
fi

# Shutdown report, always: after the timers had time to expire, SIGINT the
# server and read what shardtcp-httpd prints, e.g.
#   shardtcp: core 0 (lcore 0): rx .. pkts, ..., connections 0, time-wait 0, busy 3.1%
#   shardtcp: mempool stcp_mb0: mbufs in use 0 of 16383 after shutdown
# Every core line needs connections 0 and time-wait 0; every pool 0 mbufs in
# use (ports closed, every Stack destroyed: anything left is a leak).
# The fixture's teardown then only checks the exit status.
log "waiting ${sleep_s}s, then stopping the server (SIGINT)"
sleep "$sleep_s"
check "server exits 0 on SIGINT" bash "$STCP_IT_DIR/fixture.sh" stop-server
logf=$STCP_STATE_DIR/server.log
num_after() {  # num_after LINE WORDS_REGEX -> the (possibly negative) number after it
  echo "$1" | grep -oiE "\b($2)[ =:]+-?[0-9]+" | head -n1 | grep -oE -- '-?[0-9]+$'
}
mapfile -t core_lines < <(grep -iE '\bl?core[ =:]*[0-9]+\b.*\bconnections[ =:]+-?[0-9]+' "$logf" || true)
if [[ ${#core_lines[@]} -eq 0 ]]; then
  check_fail "shutdown report: no per-core 'connections N' line in the server log (cannot prove zero)"
else
  for ln in "${core_lines[@]}"; do
    c=$(num_after "$ln" 'connections')
    tw=$(num_after "$ln" 'time[-_ ]?wait')
    check "shutdown report: connections ${c:-?}, time-wait ${tw:-?} (want 0, 0): ${ln#*: }" \
      test "${c:-x}" = 0 -a "${tw:-0}" = 0
  done
fi
mapfile -t pool_lines < <(grep -iE 'mbuf' "$logf" | grep -iE '(leak(ed)?|in[_ -]?use)[ =:]+-?[0-9]+' || true)
if [[ ${#pool_lines[@]} -eq 0 ]]; then
  check_fail "shutdown report: no 'mbufs in use N' line in the server log (cannot prove no mbuf leak)"
else
  for ln in "${pool_lines[@]}"; do
    n=$(num_after "$ln" 'leak(ed)?|in[_ -]?use')
    check "shutdown report: ${n:-?} mbufs outstanding (want 0): ${ln#*: }" test "${n:-x}" = 0
  done
fi
finish
