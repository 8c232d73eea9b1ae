#!/usr/bin/env bash
# shardtcp-echo in its own lab namespaces (stcp-ec-dp / stcp-ec-peer, so it
# never disturbs the shared lab): small echoes, receive flow control with a
# client that does not read, half-close; then SIGINT and exit status 0.
#
#   test_echo.sh path/to/shardtcp-echo
set -uo pipefail
export STCP_DP_NS=${STCP_ECHO_DP_NS:-stcp-ec-dp}
export STCP_PEER_NS=${STCP_ECHO_PEER_NS:-stcp-ec-peer}
export STCP_TARGET=shardtcp
export STCP_SERVER_BIN=${1:-${STCP_SERVER_BIN:-}}
export STCP_SERVER_PORT=7
export STCP_STATE_DIR=${STCP_STATE_DIR:-/tmp/shardtcp-integration-echo}
source "$(dirname "$0")/lib.sh"
export STCP_SERVER_CONFIG=$STCP_SRC/config/echo.toml
[[ -x $STCP_SERVER_BIN ]] || { echo "FAIL: shardtcp-echo not built: '$STCP_SERVER_BIN'"; exit 1; }

if ! bash "$STCP_IT_DIR/fixture.sh" start; then
  check_fail "echo server start"
  bash "$STCP_IT_DIR/fixture.sh" stop >/dev/null 2>&1
  finish
fi
if peer timeout 120 "$PY" "$STCP_IT_DIR/test_echo.py" "$SERVER_IP" "$SERVER_PORT"; then
  check_pass "echo client checks"
else
  check_fail "echo client checks"
fi
if bash "$STCP_IT_DIR/fixture.sh" stop >"$STCP_STATE_DIR/stop.log" 2>&1; then
  check_pass "echo exits 0 on SIGINT, lab down"
else
  cat "$STCP_STATE_DIR/stop.log"
  check_fail "echo exits 0 on SIGINT, lab down"
fi
finish
