#!/usr/bin/env bash
# Fair under a full table (issue 9): with tcp.max_connections reached by idle
# connections, a new client still gets in, because the connection idle
# longest gives way (tcp.evict_idle_on_full, SYN cookies on: the eviction
# happens when the newcomer's handshake completes).
#
#   test_evict.sh [path/to/shardtcp-httpd]
#
# Its own shardtcp-httpd (fixture.sh, own state dir) in its own namespaces
# (default stcp-ev-dp / stcp-ev-peer), tcp.max_connections = EVICT_MAX (200,
# one core). evict_holder.py opens exactly that many idle kernel connections
# from the peer; the ESTABLISHED gauge must then read EVICT_MAX. Three curl
# requests follow, one after another: each must get 200. Then:
#   - shardtcp_tcp_idle_evictions_total >= 1 and equal to the number of the
#     holder's sockets that were reset (RST seen by the kernel: ECONNRESET);
#   - the reset sockets are the first ones opened (the longest idle), in order;
#   - the other held sockets are still open;
#   - the server exits 0 on SIGINT.
# Bounded: the holder gives up after 60 s, every curl after 5 s.
set -uo pipefail
export STCP_DP_NS=${STCP_EVICT_DP_NS:-stcp-ev-dp}
export STCP_PEER_NS=${STCP_EVICT_PEER_NS:-stcp-ev-peer}
export STCP_TARGET=shardtcp
export STCP_STATE_DIR=${STCP_STATE_DIR:-/tmp/shardtcp-integration-evict}
source "$(dirname "$0")/lib.sh"

export STCP_HTTPD=${1:-${STCP_HTTPD:-}}
[[ -x $STCP_HTTPD ]] || { echo "FAIL: shardtcp-httpd not built: '$STCP_HTTPD'"; exit 1; }
MAX=${EVICT_MAX:-200}
METRICS_URL=http://127.0.0.1:9100/metrics
export STCP_HTTPD_ARGS="--set tcp.max_connections=$MAX --set eal.lcores=0 --set eal.file_prefix=stcp-evict --set metrics.listen=127.0.0.1:9100 ${STCP_HTTPD_ARGS:-}"

work=$(mktemp -d)
HOLDER_PID=""
cleanup() {
  touch "$work/go"
  [[ -n $HOLDER_PID ]] && { sleep 0.5; kill "$HOLDER_PID" 2>/dev/null; wait "$HOLDER_PID" 2>/dev/null; }
  bash "$STCP_IT_DIR/fixture.sh" stop >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

scrape() { dp curl -s --max-time 2 "$METRICS_URL" 2>/dev/null; }
metric_sum() {
  scrape | awk -v n="$1" -v re="${2:-}" '
    index($0, n) == 1 && (substr($0, length(n) + 1, 1) == "{" || substr($0, length(n) + 1, 1) == " ") &&
      (re == "" || $0 ~ re) { seen = 1; s += $NF }
    END { if (seen) printf "%d\n", s; else print 0 }'
}

log "starting the server in $STCP_DP_NS ($STCP_HTTPD_ARGS)"
if ! bash "$STCP_IT_DIR/fixture.sh" start; then
  check_fail "server start"
  finish
fi
require_server

log "opening $MAX idle connections from the peer"
peer timeout 90 "$PY" "$STCP_IT_DIR/evict_holder.py" --count "$MAX" --state "$work" \
  --max-seconds 60 2>"$work/holder.err" &
HOLDER_PID=$!
for ((i = 0; i < 600; i++)); do [[ -e $work/opened ]] && break; sleep 0.1; done
opened=$(awk '{print $2}' "$work/opened" 2>/dev/null)
check "holder opened $MAX connections (${opened:-none})" test "${opened:-0}" -eq "$MAX"
estab=$(metric_sum shardtcp_tcp_connections 'state="ESTABLISHED"')
check "ESTABLISHED gauge is $MAX: the table is full ($estab)" test "$estab" -eq "$MAX"
before=$(metric_sum shardtcp_tcp_idle_evictions_total)

ok=0
for n in 1 2 3; do
  code=$(http_code "$BASE_URL/")
  log "curl $n: $code"
  [[ $code == 200 ]] && ok=$((ok + 1))
done
check "3 of 3 curl requests got 200 with a full table ($ok)" test "$ok" -eq 3

evicted=$(($(metric_sum shardtcp_tcp_idle_evictions_total) - before))
check "evictions counted on /metrics ($evicted)" test "$evicted" -ge 1
touch "$work/go"
for ((i = 0; i < 100; i++)); do [[ -e $work/result ]] && break; sleep 0.1; done
wait "$HOLDER_PID" 2>/dev/null
HOLDER_PID=""
if [[ -s $work/result ]]; then
  summary=$("$PY" - "$work/result" "$evicted" <<'EOF'
import json, sys
states = json.load(open(sys.argv[1]))
evicted = int(sys.argv[2])
reset = [i for i, s in enumerate(states) if s == "reset"]
other = sorted(set(s for s in states if s not in ("reset", "open")))
ok = reset == list(range(evicted)) and not other
print(f"{'ok' if ok else 'bad'} reset={reset} open={states.count('open')} other={other}")
EOF
)
  log "holder: $summary"
  check "the $evicted longest idle connections (the first opened) were reset, the rest kept" \
    starts_with "$summary" ok
else
  check_fail "holder reported nothing ($(tail -n 3 "$work/holder.err" 2>/dev/null))"
fi
scrape | grep -E '^shardtcp_tcp_(idle_evictions_total|syncookies_(sent|validated)_total|conn_limit_drops_total)' | sed 's/^/  /'

check "server exits 0 on SIGINT, lab down" bash "$STCP_IT_DIR/fixture.sh" stop
finish
