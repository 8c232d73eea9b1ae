#!/usr/bin/env bash
# Runs the conformance probe from stcp-peer.
#
#   probe.sh [probe args]                 against the running fixture server
#                                         (shardtcp-httpd, or refserver.py when
#                                         STCP_TARGET=linux)
#   probe.sh --target linux [probe args]  self-contained Linux reference run:
#                                         own namespaces (stcp-rdp/stcp-rpeer),
#                                         kernel owns 198.18.0.1, refserver.py
#                                         answers HTTP; lab removed afterwards.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target=${STCP_TARGET:-shardtcp}
standalone=0
if [[ ${1:-} == --target ]]; then target=$2; standalone=1; shift 2; fi

if [[ $standalone -eq 1 && $target == linux ]]; then
  export STCP_TARGET=linux
  export STCP_DP_NS=${STCP_REF_DP_NS:-stcp-rdp} STCP_PEER_NS=${STCP_REF_PEER_NS:-stcp-rpeer}
  export STCP_STATE_DIR=${STCP_REF_STATE_DIR:-/tmp/shardtcp-probe-linux}
  source "$here/../lib.sh"
  trap 'bash "$STCP_IT_DIR/fixture.sh" stop >/dev/null 2>&1 || true' EXIT
  bash "$STCP_IT_DIR/fixture.sh" start || exit 1
else
  source "$here/../lib.sh"
  require_server
fi
timeout 300 ip netns exec "$STCP_PEER_NS" "$PY" "$here/probe.py" --iface stcp-peer0 \
  --server "$SERVER_IP" --port "$SERVER_PORT" --target "$target" "$@"
