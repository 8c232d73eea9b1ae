#!/usr/bin/env bash
# Slow reader (issue 10): a Linux receiver with an 8 KiB SO_RCVBUF that reads
# 64 KiB at most every 300 ms downloads /bytes/4194304, first from Linux's own
# TCP (refserver.py, the lab's --linux mode), then from shardtcp-httpd, on the
# same lab link in its own namespaces (stcp-sr-dp / stcp-sr-peer). Bytes are
# counted after a fixed number of read cycles (never wall time) and checked
# byte for byte; ours must be at least 80% of Linux's.
#
#   test_slow_reader.sh path/to/shardtcp-httpd
set -uo pipefail
export STCP_DP_NS=${STCP_SR_DP_NS:-stcp-sr-dp}
export STCP_PEER_NS=${STCP_SR_PEER_NS:-stcp-sr-peer}
export STCP_HTTPD=${1:-${STCP_HTTPD:-}}
export STCP_STATE_DIR=${STCP_STATE_DIR:-/tmp/shardtcp-integration-slow-reader}
CYCLES=${STCP_SR_CYCLES:-30}
source "$(dirname "$0")/lib.sh"

declare -A got
for target in linux shardtcp; do
  export STCP_TARGET=$target
  if ! bash "$STCP_IT_DIR/fixture.sh" start; then
    check_fail "$target server start"
    bash "$STCP_IT_DIR/fixture.sh" stop >/dev/null 2>&1
    continue
  fi
  out=$(peer timeout 120 "$PY" "$STCP_IT_DIR/slow_reader.py" "$SERVER_IP" "$SERVER_PORT" \
    --cycles "$CYCLES")
  rc=$?
  echo "$target: $out"
  if [[ $rc == 0 ]]; then
    check_pass "$target slow reader byte-exact"
    got[$target]=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' <<<"$out")
  else
    check_fail "$target slow reader"
  fi
  bash "$STCP_IT_DIR/fixture.sh" stop >"$STCP_STATE_DIR/stop-$target.log" 2>&1 ||
    check_fail "$target server stop"
done
if [[ -n ${got[linux]:-} && -n ${got[shardtcp]:-} ]]; then
  echo "bytes in $CYCLES read cycles: linux ${got[linux]}, shardtcp ${got[shardtcp]}"
  if ((got[shardtcp] * 10 >= got[linux] * 8)); then
    check_pass "shardtcp sends a slow reader at least 80% of what Linux sends"
  else
    check_fail "shardtcp sends a slow reader at least 80% of what Linux sends"
  fi
fi
finish
