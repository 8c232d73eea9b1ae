#!/usr/bin/env bash
# Issue 9, "monitoring blackout": slow HTTP clients must not take the metrics
# endpoint down. A real Prometheus server (Debian's /usr/bin/prometheus)
# scrapes shardtcp-httpd every second while metrics_slowloris.py keeps
# $CONNS connections to the exporter that never finish a request (half a
# request line, or a header trickled one byte every 0.5 s), reopening each one
# the server cuts off. Before the fix two such connections blocked every
# scrape for as long as they stayed.
#
# Required, from Prometheus's own records over the attack window:
#   - up{job="shardtcp"} was 1 at every scrape (min_over_time == 1), and the
#     scrapes happened (count_over_time >= half the window's seconds);
#   - a metric query answers with a fresh sample mid-attack (a failed scrape
#     marks the series stale, so an instant query would return nothing);
#   - the attack was real: the exporter held >= 3/4 of its connection cap at
#     some scrape; it closed slow clients for both reasons (its counters,
#     read directly before and after): request timeout (trickling clients
#     too: the deadline covers the whole head, not each read) and eviction at
#     the cap (the first burst of CONNS > cap connections).
# Then SIGINT and exit status 0 (fixture.sh).
#
# Its own server and lab namespaces (stcp-msl-dp / stcp-msl-peer); the
# exporter listens on 127.0.0.1 inside the dp namespace, where Prometheus and
# the slow clients run. Server overrides: metrics.request_timeout_ms=2000,
# metrics.max_connections=32; CONNS=40 slow clients that reconnect 1 s after
# being cut off. Environment: STCP_MSL_WINDOW_S (30), STCP_MSL_CONNS (40),
# STCP_MSL_METRICS_PORT (9192), STCP_MSL_WEB_PORT (9193).
#   test_metrics_slowloris.sh path/to/shardtcp-httpd
# Exit 0 pass, 1 fail, 77 skipped (not root, no prometheus).
set -uo pipefail
export STCP_DP_NS=${STCP_MSL_DP_NS:-stcp-msl-dp}
export STCP_PEER_NS=${STCP_MSL_PEER_NS:-stcp-msl-peer}
export STCP_STATE_DIR=${STCP_STATE_DIR:-/tmp/shardtcp-integration-metrics-slowloris}
export STCP_HTTPD=${1:-${STCP_HTTPD:-}}
source "$(dirname "$0")/lib.sh"

[[ $STCP_TARGET == shardtcp ]] || { echo "SKIP: shardtcp-only test (target $STCP_TARGET)"; exit 77; }
PROMETHEUS=${STCP_PROMETHEUS:-/usr/bin/prometheus}
[[ -x $PROMETHEUS ]] || { echo "SKIP: $PROMETHEUS not installed (Debian package prometheus)"; exit 77; }

WINDOW_S=${STCP_MSL_WINDOW_S:-30}
CONNS=${STCP_MSL_CONNS:-40}
CAP=32
METRICS_PORT=${STCP_MSL_METRICS_PORT:-9192}
WEB_PORT=${STCP_MSL_WEB_PORT:-9193}
METRICS_URL=http://127.0.0.1:$METRICS_PORT/metrics
API=http://127.0.0.1:$WEB_PORT
PROM_MAX_S=$((WINDOW_S + 120))  # Prometheus never outlives this
HELPER=$STCP_IT_DIR/prom_helper.py

WORK=$(mktemp -d /tmp/shardtcp-msl.XXXXXX)
PROM_PID=""
SLOW_PID=""
STARTED=0

cleanup() {
  local rc=$?
  set +e
  for pid in "$SLOW_PID" "$PROM_PID"; do
    if [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; then continue; fi
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [[ $STARTED -eq 1 ]]; then
    STCP_METRICS_URL=$METRICS_URL bash "$STCP_IT_DIR/fixture.sh" stop || rc=1
  fi
  if [[ $rc -ne 0 && -s $WORK/prometheus.log ]]; then
    echo "---- prometheus log (tail) ----"
    tail -n 15 "$WORK/prometheus.log"
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

check_or_stop() {
  local what=$1; shift
  if "$@"; then check_pass "$what"; else check_fail "$what"; finish; fi
}
# value EXPR: one instant query's scalar ("none" if no single series).
value() {
  dp curl -s --max-time 5 "$API/api/v1/query" --data-urlencode "query=$1" |
    "$PY" -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if len(r) == 1 else "none")' 2>/dev/null || echo none
}

# ---- 1. lab + shardtcp-httpd ------------------------------------------------------
export STCP_METRICS_URL=$METRICS_URL
export STCP_HTTPD_ARGS="${STCP_HTTPD_ARGS:-} --set metrics.listen=127.0.0.1:$METRICS_PORT --set metrics.request_timeout_ms=2000 --set metrics.max_connections=$CAP"
STARTED=1
check_or_stop "lab up ($STCP_DP_NS / $STCP_PEER_NS), shardtcp-httpd answers" \
  bash "$STCP_IT_DIR/fixture.sh" start

# ---- 2. Prometheus in the dp namespace, scraping every second -------------------------
cat >"$WORK/prometheus.yml" <<EOF
# Written by tests/integration/test_metrics_slowloris.sh
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: shardtcp
    static_configs:
      - targets: ['127.0.0.1:$METRICS_PORT']
EOF
mkdir -p "$WORK/tsdb"
log "starting $PROMETHEUS in $STCP_DP_NS on 127.0.0.1:$WEB_PORT (at most ${PROM_MAX_S}s)"
ip netns exec "$STCP_DP_NS" timeout -s KILL "$PROM_MAX_S" "$PROMETHEUS" \
  --config.file="$WORK/prometheus.yml" \
  --storage.tsdb.path="$WORK/tsdb" \
  --storage.tsdb.retention.time=1h \
  --web.listen-address="127.0.0.1:$WEB_PORT" \
  </dev/null >"$WORK/prometheus.log" 2>&1 &
PROM_PID=$!
ready=0
for _ in $(seq 1 240); do  # up to 60 s
  kill -0 "$PROM_PID" 2>/dev/null || break
  if [[ $(dp curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$API/-/ready") == 200 ]]; then
    ready=1
    break
  fi
  sleep 0.25
done
[[ $ready -eq 1 ]] || { check_fail "prometheus ready on $API"; finish; }
check_or_stop "prometheus scrapes job shardtcp before the attack" \
  dp "$PY" "$HELPER" target-up "$API" --job shardtcp --timeout 30

# closed SNAPSHOT REASON: shardtcp_metrics_http_closed_total{reason} in a
# /metrics snapshot file (0 if absent).
closed() { awk -v r="reason=\"$2\"" '/^shardtcp_metrics_http_closed_total\{/ && index($0, r) { v = $NF } END { printf "%d", v }' "$1"; }
dp curl -s --max-time 5 "$METRICS_URL" -o "$WORK/before.txt"

# ---- 3. the attack ------------------------------------------------------------------------
log "slow clients in $STCP_DP_NS: $CONNS connections to 127.0.0.1:$METRICS_PORT for ${WINDOW_S}s"
ip netns exec "$STCP_DP_NS" timeout -s KILL $((WINDOW_S + 30)) "$PY" \
  "$STCP_IT_DIR/metrics_slowloris.py" 127.0.0.1 "$METRICS_PORT" --conns "$CONNS" \
  --duration "$WINDOW_S" --ready "$WORK/slow.ready" >"$WORK/slow.log" 2>&1 &
SLOW_PID=$!
for _ in $(seq 1 80); do  # up to 20 s
  [[ -e $WORK/slow.ready ]] && break
  kill -0 "$SLOW_PID" 2>/dev/null || break
  sleep 0.25
done
if [[ ! -e $WORK/slow.ready ]]; then
  check_fail "slow clients: $CONNS connections made"
  cat "$WORK/slow.log"
  finish
fi
T0=$(date +%s)
check_pass "slow clients: $CONNS connections holding unfinished requests"

# Mid-attack: the state gauges answer from a scrape of the last few seconds.
sleep $((WINDOW_S / 2))
check "mid-attack: shardtcp_tcp_connections{state=\"LISTEN\"} answers from a fresh scrape" \
  dp "$PY" "$HELPER" wait "$API" \
  --check 'sum(shardtcp_tcp_connections{job="shardtcp",state="LISTEN"}) >= 1' \
  --check 'time() - max(timestamp(shardtcp_tcp_connections{job="shardtcp"})) <= 3' --timeout 5

slow_rc=0
wait "$SLOW_PID" || slow_rc=$?
SLOW_PID=""
T1=$(date +%s)
cat "$WORK/slow.log"
check "slow clients ran the whole window" [ "$slow_rc" -eq 0 ]
D=$((T1 - T0))
sleep 2  # the last scrape of the window is in the TSDB

# ---- 4. what Prometheus saw during the window ---------------------------------------------
sel='{job="shardtcp"}'
up_min=$(value "min_over_time(up${sel}[${D}s] @ $T1)")
up_count=$(value "count_over_time(up${sel}[${D}s] @ $T1)")
up_sum=$(value "sum_over_time(up${sel}[${D}s] @ $T1)")
dur_max=$(value "max_over_time(scrape_duration_seconds${sel}[${D}s] @ $T1)")
held_max=$(value "max_over_time(shardtcp_metrics_http_connections${sel}[${D}s] @ $T1)")
dp curl -s --max-time 5 "$METRICS_URL" -o "$WORK/after.txt"
closed_timeout=$(($(closed "$WORK/after.txt" timeout) - $(closed "$WORK/before.txt" timeout)))
closed_evicted=$(($(closed "$WORK/after.txt" evicted) - $(closed "$WORK/before.txt" evicted)))
closed_trickle=$(sed -n 's/.*closed_trickle=\([0-9]*\).*/\1/p' "$WORK/slow.log")
log "window ${D}s: scrapes $up_count, successful $up_sum, min(up) $up_min, slowest scrape ${dur_max}s," \
  "exporter connections max $held_max (cap $CAP), closed: timeout +$closed_timeout evicted +$closed_evicted"
ge() { [[ $1 != none ]] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
check "up == 1 at every scrape during the attack (min_over_time(up) = $up_min; $up_sum of $up_count)" \
  [ "$up_min" == 1 ]
check "Prometheus scraped through the window ($up_count scrapes in ${D}s, >= $((D / 2)))" \
  ge "$up_count" $((D / 2))
check "the exporter held >= $((CAP * 3 / 4)) connections at a scrape (max $held_max, cap $CAP)" \
  ge "$held_max" $((CAP * 3 / 4))
check "the exporter closed slow clients at the request timeout (+$closed_timeout; trickling ones: ${closed_trickle:-?})" \
  [ "$closed_timeout" -gt 0 -a "${closed_trickle:-0}" -gt 0 ]
check "the exporter closed the oldest waiting clients at the cap of $CAP (+$closed_evicted)" \
  [ "$closed_evicted" -gt 0 ]

finish
