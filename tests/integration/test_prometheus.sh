#!/usr/bin/env bash
# Issue 5 end to end: a real Prometheus server (Debian's /usr/bin/prometheus)
# scrapes a running shardtcp-httpd in the lab, and its HTTP API must report
# exactly N connections in CLOSE-WAIT and M in TIME-WAIT, then 0 and 0 once
# they are released and TIME-WAIT (2*MSL) has run out. Also `promtool check
# metrics` on the live /metrics text.
#
# Runs its own server (not the shared ctest fixture's): app.hold_close_wait =
# true (peer-closed connections stay in CLOSE-WAIT until SIGUSR1), a short
# tcp.msl_ms, metrics on 127.0.0.1:$METRICS_PORT inside $STCP_DP_NS.
# Prometheus runs in the same namespace (the exporter is loopback only there),
# from a temp dir, loopback only, bounded by `timeout` and killed on exit.
#
# The connections come from Linux in $STCP_PEER_NS (prom_helper.py clients):
#   N held:      request, response, shutdown(SHUT_WR), socket kept open
#                -> the server got our FIN and holds CLOSE-WAIT;
#   M time-wait: `Connection: close`, the server closes first after the
#                response, we close on EOF -> TIME-WAIT on the server.
#
# Environment (besides lib.sh's): STCP_PROM_HELD (7), STCP_PROM_TIME_WAIT
# (11), STCP_PROM_MSL_MS (5000: TIME-WAIT lasts 10 s, long enough to be seen
# on a loaded machine), STCP_PROM_METRICS_PORT (9190), STCP_PROM_WEB_PORT
# (9191). Exit 0 pass, 1 fail, 77 skipped (not root, no prometheus).
set -uo pipefail
export STCP_STATE_DIR=${STCP_STATE_DIR:-/tmp/shardtcp-integration-prometheus}
source "$(dirname "$0")/lib.sh"

[[ $STCP_TARGET == shardtcp ]] || { echo "SKIP: shardtcp-only test (target $STCP_TARGET)"; exit 77; }
PROMETHEUS=${STCP_PROMETHEUS:-/usr/bin/prometheus}
PROMTOOL=${STCP_PROMTOOL:-/usr/bin/promtool}
for b in "$PROMETHEUS" "$PROMTOOL"; do
  [[ -x $b ]] || { echo "SKIP: $b not installed (Debian package prometheus)"; exit 77; }
done

N=${STCP_PROM_HELD:-7}
M=${STCP_PROM_TIME_WAIT:-11}
MSL_MS=${STCP_PROM_MSL_MS:-5000}
METRICS_PORT=${STCP_PROM_METRICS_PORT:-9190}
WEB_PORT=${STCP_PROM_WEB_PORT:-9191}
METRICS_URL=http://127.0.0.1:$METRICS_PORT/metrics
API=http://127.0.0.1:$WEB_PORT
PROM_MAX_S=300  # Prometheus never outlives this, whatever happens to the script
HELPER=$STCP_IT_DIR/prom_helper.py
TW_S=$(((2 * MSL_MS + 999) / 1000))

WORK=$(mktemp -d /tmp/shardtcp-prom.XXXXXX)
PROM_PID=""
CLIENTS_PID=""
STARTED=0

cleanup() {
  local rc=$?
  set +e
  if [[ -n $CLIENTS_PID ]] && kill -0 "$CLIENTS_PID" 2>/dev/null; then
    kill "$CLIENTS_PID" 2>/dev/null
    wait "$CLIENTS_PID" 2>/dev/null
  fi
  if [[ -n $PROM_PID ]] && kill -0 "$PROM_PID" 2>/dev/null; then
    kill -TERM "$PROM_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$PROM_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PROM_PID" 2>/dev/null
    wait "$PROM_PID" 2>/dev/null
  fi
  if [[ $STARTED -eq 1 ]]; then
    # SIGINT, exit status 0 required, lab down (fixture.sh).
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

# check_or_stop "what" cmd...: like check, but a failed step ends the test
# (later steps depend on it); the trap still tears everything down.
check_or_stop() {
  local what=$1; shift
  if "$@"; then check_pass "$what"; else check_fail "$what"; finish; fi
}
wait_api() { "$PY" "$HELPER" wait "$API" "$@"; }

# ---- 1. lab + shardtcp-httpd (hold mode, short MSL, our metrics port) -----------
export STCP_TEST_MSL_MS=$MSL_MS
export STCP_METRICS_URL=$METRICS_URL
export STCP_HTTPD_ARGS="${STCP_HTTPD_ARGS:-} --set app.hold_close_wait=true --set metrics.listen=127.0.0.1:$METRICS_PORT"
STARTED=1
check_or_stop "lab up, shardtcp-httpd answers (hold_close_wait, tcp.msl_ms=$MSL_MS)" \
  bash "$STCP_IT_DIR/fixture.sh" start
check_or_stop "server announced hold mode" grep -q 'hold_close_wait = true' "$STCP_STATE_DIR/server.log"
# The readiness probe (curl) closed first, so the server holds it in
# CLOSE-WAIT: release it now so the baseline is zero.
kill -USR1 "$(server_pid)"

# ---- 2. promtool on the live exposition -----------------------------------------
dp curl -s --max-time 5 "$METRICS_URL" -o "$WORK/metrics.txt"
if [[ -s $WORK/metrics.txt ]] && "$PROMTOOL" check metrics <"$WORK/metrics.txt" >"$WORK/promtool.out" 2>&1; then
  check_pass "promtool check metrics: live $METRICS_URL ($(grep -c '^shardtcp_' "$WORK/metrics.txt") shardtcp samples)"
else
  check_fail "promtool check metrics on live $METRICS_URL ($(wc -c <"$WORK/metrics.txt" 2>/dev/null || echo 0) bytes):"
  head -n 30 "$WORK/promtool.out"
fi
check "live /metrics has the close-wait age gauge" \
  grep -q '^shardtcp_tcp_close_wait_oldest_age_seconds{' "$WORK/metrics.txt"
# build_info carries the version the binary announces in its banner.
version=$(grep -m1 -oE '^shardtcp-httpd [0-9][^ ,]*' "$STCP_STATE_DIR/server.log" | awk '{print $2}')
check "shardtcp_build_info{version=\"${version:-?}\"} (the banner's version)" \
  grep -qE "^shardtcp_build_info\{.*version=\"${version:-none}\"" "$WORK/metrics.txt"

# ---- 3. a real Prometheus in the server's namespace --------------------------------
cat >"$WORK/prometheus.yml" <<EOF
# Written by tests/integration/test_prometheus.sh
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: shardtcp
    static_configs:
      - targets: ['127.0.0.1:$METRICS_PORT']
EOF
check_or_stop "promtool check config (test's prometheus.yml)" \
  "$PROMTOOL" check config "$WORK/prometheus.yml" >/dev/null
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
for _ in $(seq 1 240); do  # up to 60 s (a loaded machine starts it slowly)
  kill -0 "$PROM_PID" 2>/dev/null || break
  if [[ $(dp curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$API/-/ready") == 200 ]]; then
    ready=1
    break
  fi
  sleep 0.25
done
if [[ $ready -ne 1 ]]; then
  check_fail "prometheus ready on $API"
  tail -n 20 "$WORK/prometheus.log"
  finish
fi
check_pass "prometheus $("$PROMETHEUS" --version 2>&1 | awk 'NR == 1 {print $3}') ready on $API"
check_or_stop "prometheus scrapes job shardtcp ($METRICS_URL) successfully" \
  dp "$PY" "$HELPER" target-up "$API" --job shardtcp --timeout 30

# ---- 4. baseline: nothing in CLOSE-WAIT or TIME-WAIT --------------------------------
check_or_stop "baseline via Prometheus: CLOSE-WAIT 0, TIME-WAIT 0, LAST-ACK 0, LISTEN 1 per core" \
  dp "$PY" "$HELPER" wait "$API" --state CLOSE-WAIT=0 --state TIME-WAIT=0 --state LAST-ACK=0 \
  --check 'min(shardtcp_tcp_connections{job="shardtcp",state="LISTEN"}) == 1' \
  --check 'max(shardtcp_tcp_connections{job="shardtcp",state="LISTEN"}) == 1' \
  --timeout $((TW_S + 20))
before_expired=$(dp curl -s --max-time 5 "$METRICS_URL" |
  awk '/^shardtcp_tcp_time_wait_expired_total[{ ]/ {s += $NF} END {printf "%d", s}')

# ---- 5. N connections held in CLOSE-WAIT, M in TIME-WAIT ------------------------------
mkdir -p "$WORK/ctl"
log "clients in $STCP_PEER_NS: $N held in CLOSE-WAIT, $M ending in TIME-WAIT"
ip netns exec "$STCP_PEER_NS" "$PY" "$HELPER" clients "$SERVER_IP" "$SERVER_PORT" \
  --hold "$N" --time-wait "$M" --ctl "$WORK/ctl" --max-s 150 >"$WORK/clients.log" 2>&1 &
CLIENTS_PID=$!
for _ in $(seq 1 120); do  # up to 30 s
  [[ -e $WORK/ctl/ready ]] && break
  kill -0 "$CLIENTS_PID" 2>/dev/null || break
  sleep 0.25
done
if [[ ! -e $WORK/ctl/ready ]]; then
  check_fail "clients: $N held + $M time-wait connections made"
  cat "$WORK/clients.log"
  finish
fi
check_pass "clients: $N held + $M time-wait connections made"
# Both in the same query round (TIME-WAIT only lasts ${TW_S}s).
check "Prometheus API: sum(shardtcp_tcp_connections{state=\"CLOSE-WAIT\"}) == $N and {state=\"TIME-WAIT\"} == $M" \
  dp "$PY" "$HELPER" wait "$API" --state "CLOSE-WAIT=$N" --state "TIME-WAIT=$M" --timeout $((TW_S - 1))
check "Prometheus API: oldest CLOSE-WAIT age > 0 while connections are held" \
  dp "$PY" "$HELPER" wait "$API" --state "CLOSE-WAIT=$N" \
  --check 'max(shardtcp_tcp_close_wait_oldest_age_seconds{job="shardtcp"}) > 0' --timeout 10
check "per-core series: CLOSE-WAIT and TIME-WAIT carry a core label" \
  dp "$PY" "$HELPER" wait "$API" \
  --check 'count(shardtcp_tcp_connections{job="shardtcp",state=~"CLOSE-WAIT|TIME-WAIT",core=~"[0-9]+"}) >= 2' --timeout 5
# The held ones must still be held (nothing closes them but SIGUSR1).
check "still $N in CLOSE-WAIT ${TW_S}s+ later (hold mode holds)" \
  dp "$PY" "$HELPER" wait "$API" --state "CLOSE-WAIT=$N" --state TIME-WAIT=0 --timeout $((TW_S + 15))

# ---- 6. release and expiry -------------------------------------------------------------
touch "$WORK/ctl/release"
log "SIGUSR1 to shardtcp-httpd (pid $(server_pid)): close the held connections"
kill -USR1 "$(server_pid)"
check "after the release: CLOSE-WAIT 0, TIME-WAIT 0, LAST-ACK 0, oldest CLOSE-WAIT age 0" \
  dp "$PY" "$HELPER" wait "$API" --state CLOSE-WAIT=0 --state TIME-WAIT=0 --state LAST-ACK=0 \
  --check 'max(shardtcp_tcp_close_wait_oldest_age_seconds{job="shardtcp"}) == 0' \
  --timeout $((TW_S + 20))
check "Prometheus API: time_wait_expired_total grew by >= $M" \
  dp "$PY" "$HELPER" wait "$API" \
  --check "sum(shardtcp_tcp_time_wait_expired_total{job=\"shardtcp\"}) >= $((before_expired + M))" --timeout 10
clients_rc=0
for _ in $(seq 1 80); do kill -0 "$CLIENTS_PID" 2>/dev/null || break; sleep 0.25; done
wait "$CLIENTS_PID" || clients_rc=$?
CLIENTS_PID=""
sed 's/^/  clients| /' "$WORK/clients.log"
check "clients: every held connection got the server's FIN only after SIGUSR1" [ "$clients_rc" -eq 0 ]

# ---- 7. promtool again, with traffic behind it ----------------------------------------------
dp curl -s --max-time 5 "$METRICS_URL" -o "$WORK/metrics2.txt"
if [[ -s $WORK/metrics2.txt ]] && "$PROMTOOL" check metrics <"$WORK/metrics2.txt" >"$WORK/promtool.out" 2>&1; then
  check_pass "promtool check metrics: live /metrics after traffic"
else
  check_fail "promtool check metrics after traffic:"
  head -n 30 "$WORK/promtool.out"
fi

finish
