#!/usr/bin/env bash
# Runs one python client test from tests/integration in stcp-peer.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
require_server
script=$1; shift
exec ip netns exec "$STCP_PEER_NS" "$PY" "$STCP_IT_DIR/$script" "$SERVER_IP" "$SERVER_PORT" "$@"
