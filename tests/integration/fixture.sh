#!/usr/bin/env bash
# Integration fixture: start|stop the lab and the server under test.
#
#   fixture.sh start   lab up, start the server in stcp-dp, wait until it answers
#   fixture.sh stop    SIGINT the server, require exit status 0, lab down
#   fixture.sh stop-server   only the SIGINT + exit-status part (leak check)
#
# STCP_TARGET=shardtcp runs STCP_HTTPD (shardtcp-httpd) with the lab config
# plus test timers; STCP_TARGET=linux runs refserver.py on the kernel's TCP
# (lab.sh up --linux) so the same tests can be checked against Linux.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

READY_TIMEOUT_S=${STCP_READY_TIMEOUT_S:-40}
STOP_TIMEOUT_S=${STCP_STOP_TIMEOUT_S:-20}

hugepages_usable() {
  # 2 MB pages free and hugetlbfs mounted: otherwise DPDK needs --no-huge.
  local free
  free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
  [[ ${free:-0} -ge 256 ]] &&
    awk '$3 == "hugetlbfs" {f=1} END {exit !f}' /proc/mounts
}

server_cmd() {
  if [[ $STCP_TARGET == linux ]]; then
    echo "$PY" "$STCP_IT_DIR/refserver.py" --bind "$SERVER_IP" --port "$SERVER_PORT" ${STCP_REFSERVER_ARGS:-}
    return
  fi
  local bin=${STCP_SERVER_BIN:-${STCP_HTTPD:-}}
  [[ -x $bin ]] || { echo "fixture: STCP_HTTPD not set or not executable: '$bin'" >&2; return 1; }
  local -a args=(--config "${STCP_SERVER_CONFIG:-$STCP_SRC/config/httpd.toml}"
    --set "tcp.msl_ms=$STCP_TEST_MSL_MS"
    --set "tcp.fin_wait2_timeout_ms=$STCP_TEST_FW2_MS")
  hugepages_usable || args+=(--set "eal.no_huge=true")
  # Extra overrides from the environment, e.g. STCP_HTTPD_ARGS='--set tcp.rto_min_ms=50'.
  # shellcheck disable=SC2206
  args+=(${STCP_HTTPD_ARGS:-})
  echo "$bin" "${args[@]}"
}

# HTTP servers answer GET / with 200; another server (STCP_SERVER_BIN) only
# has to accept a TCP connection.
server_ready() {
  if [[ -z ${STCP_SERVER_BIN:-} ]]; then
    [[ $(http_code "$BASE_URL/" --max-time 1) == 200 ]]
  else
    peer timeout 1 bash -c "exec 3<>/dev/tcp/$SERVER_IP/$SERVER_PORT" 2>/dev/null
  fi
}

# mbufs in use at rest right after start-up, for test_leak.sh (metrics only).
record_mbuf_baseline() {
  [[ $STCP_TARGET == shardtcp ]] || return 0
  sleep 0.5  # let the readiness probe's connection finish closing
  dp curl -s --max-time 2 "${STCP_METRICS_URL:-http://127.0.0.1:9100/metrics}" 2>/dev/null |
    awk '/^shardtcp_mempool_mbufs\{/ && /state="in_use"/ { seen = 1; sum += $NF }
         END { if (seen) print sum }' >"$STCP_STATE_DIR/mbuf_baseline.tmp" || true
  if [[ -s $STCP_STATE_DIR/mbuf_baseline.tmp ]]; then
    mv "$STCP_STATE_DIR/mbuf_baseline.tmp" "$STCP_STATE_DIR/mbuf_baseline"
    log "mbufs in use at rest: $(cat "$STCP_STATE_DIR/mbuf_baseline")"
  else
    rm -f "$STCP_STATE_DIR/mbuf_baseline.tmp"
  fi
}

start() {
  mkdir -p "$STCP_STATE_DIR"
  rm -f "$STCP_STATE_DIR"/server.{pid,exit,log} "$STCP_STATE_DIR/mbuf_baseline"
  if [[ $STCP_TARGET == linux ]]; then
    lab up --linux
    # Reference kernel: orphaned FIN-WAIT-2 released after 1 s so "connections
    # return to zero" is checkable in seconds. (Linux's TIME-WAIT is a fixed
    # 60 s; test_leak.sh leaves TIME-WAIT out of the Linux count.)
    dp sysctl -qw net.ipv4.tcp_fin_timeout=1 >/dev/null
  else
    lab up
  fi
  local cmd
  cmd=$(server_cmd)
  log "starting ($STCP_TARGET): $cmd"
  # The wrapper records the server's own exit status; set -m so the server
  # does not inherit an ignored SIGINT (bash does that to background jobs).
  # setsid + all fds redirected: ctest must not wait on the server's pipes.
  setsid bash -c '
    set -m
    ip netns exec "$1" $2 </dev/null >>"$3/server.log" 2>&1 &
    echo $! >"$3/server.pid"
    wait $!
    echo $? >"$3/server.exit"
  ' _ "$STCP_DP_NS" "$cmd" "$STCP_STATE_DIR" </dev/null >/dev/null 2>&1 &
  local i
  for ((i = 0; i < READY_TIMEOUT_S * 4; i++)); do
    if [[ -s $STCP_STATE_DIR/server.exit ]]; then
      echo "FAIL: server exited during start-up with status $(cat "$STCP_STATE_DIR/server.exit"):"
      tail -n 40 "$STCP_STATE_DIR/server.log"
      return 1
    fi
    if server_ready; then
      log "server answers on $SERVER_IP:$SERVER_PORT (pid $(server_pid))"
      record_mbuf_baseline
      return 0
    fi
    sleep 0.25
  done
  echo "FAIL: server did not answer within ${READY_TIMEOUT_S}s; log tail:"
  tail -n 40 "$STCP_STATE_DIR/server.log" || true
  return 1
}

# SIGINT the server and require a clean exit (status 0) within the timeout.
stop_server() {
  local pid i
  if [[ -s $STCP_STATE_DIR/server.exit ]]; then
    local st
    st=$(cat "$STCP_STATE_DIR/server.exit")
    log "server already stopped, exit status $st"
    [[ $st == 0 ]]
    return
  fi
  pid=$(server_pid) || { log "no server was started"; return 1; }
  kill -INT "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT_S * 10; i++)); do
    [[ -s $STCP_STATE_DIR/server.exit ]] && break
    sleep 0.1
  done
  if [[ ! -s $STCP_STATE_DIR/server.exit ]]; then
    echo "FAIL: server ignored SIGINT for ${STOP_TIMEOUT_S}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    return 1
  fi
  local st
  st=$(cat "$STCP_STATE_DIR/server.exit")
  log "server exited with status $st after SIGINT"
  [[ $st == 0 ]]
}

stop() {
  local rc=0
  stop_server || rc=1
  echo "---- server log (tail) ----"
  tail -n 25 "$STCP_STATE_DIR/server.log" 2>/dev/null || true
  echo "---------------------------"
  lab down || rc=1
  return $rc
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  stop-server) stop_server ;;
  *) echo "usage: $0 start|stop|stop-server" >&2; exit 2 ;;
esac
