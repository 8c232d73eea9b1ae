# Shared helpers for the integration tests (sourced, not run).
#
# Environment (ctest sets these; defaults work for manual runs):
#   STCP_TARGET     shardtcp (default) | linux  (Linux reference: refserver.py
#                   on the kernel's own TCP, to validate the harness itself)
#   STCP_HTTPD      path of the shardtcp-httpd binary
#   STCP_SERVER_BIN / STCP_SERVER_CONFIG / STCP_SERVER_PORT  another server
#                   (e.g. shardtcp-echo, config/echo.toml, 7): readiness is
#                   then a TCP connect instead of an HTTP 200
#   STCP_STATE_DIR  where the fixture keeps pid, exit code, log, config
#   STCP_DP_NS / STCP_PEER_NS  namespace names (lab.sh defaults)
# shellcheck shell=bash disable=SC2034  # variables are for the scripts that source this

[[ $(id -u) -eq 0 ]] || { echo "SKIP: integration tests need root (network namespaces)"; exit 77; }
STCP_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STCP_IT_DIR=$STCP_SRC/tests/integration
STCP_TARGET=${STCP_TARGET:-shardtcp}
STCP_STATE_DIR=${STCP_STATE_DIR:-/tmp/shardtcp-integration-$STCP_TARGET}
STCP_DP_NS=${STCP_DP_NS:-stcp-dp}
STCP_PEER_NS=${STCP_PEER_NS:-stcp-peer}
export STCP_TARGET STCP_STATE_DIR STCP_DP_NS STCP_PEER_NS

SERVER_IP=198.18.0.1
SERVER_PORT=${STCP_SERVER_PORT:-80}
BASE_URL=http://$SERVER_IP:$SERVER_PORT
# Debian's python3 (has python3-scapy) even when another python3 is first on PATH.
if [[ -x /usr/bin/python3 ]]; then PY=/usr/bin/python3; else PY=python3; fi

# Test-only timers so TIME-WAIT (2*MSL) and FIN-WAIT-2 expire within seconds.
STCP_TEST_MSL_MS=${STCP_TEST_MSL_MS:-500}
STCP_TEST_FW2_MS=${STCP_TEST_FW2_MS:-1000}

peer() { ip netns exec "$STCP_PEER_NS" "$@"; }
dp() { ip netns exec "$STCP_DP_NS" "$@"; }
lab() { bash "$STCP_SRC/deploy/lab.sh" "$@"; }

log() { echo "[$(date +%H:%M:%S)] $*"; }
FAILS=0
check_pass() { echo "PASS: $*"; }
check_fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
# check "description" cmd... : runs cmd, PASS/FAIL line, counts failures.
check() {
  local what=$1; shift
  if "$@"; then check_pass "$what"; else check_fail "$what"; fi
}
finish() {
  if [[ $FAILS -eq 0 ]]; then echo "RESULT: all checks passed"; exit 0; fi
  echo "RESULT: $FAILS check(s) failed"
  exit 1
}

server_pid() { cat "$STCP_STATE_DIR/server.pid" 2>/dev/null; }
server_alive() {
  local pid
  pid=$(server_pid) || return 1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}
# Every test starts with this: the fixture must have left a running server.
require_server() {
  if ! server_alive; then
    echo "FAIL: no running server (fixture setup failed or server died); log tail:"
    tail -n 30 "$STCP_STATE_DIR/server.log" 2>/dev/null || true
    exit 1
  fi
}

# http_code URL [curl args...] -> prints the status code (000 on failure).
http_code() {
  local url=$1; shift
  peer curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" "$url" || true
}

starts_with() { [[ $1 == "$2"* ]]; }
