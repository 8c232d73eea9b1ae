#!/usr/bin/env bash
# Our client side against a Linux server (issue 3, integration): shardtcp-
# loadgen (active opens on the shardtcp stack, in the DPDK namespace) downloads
# a file from python3's http.server on the peer's kernel TCP, verified byte
# for byte, first on a clean link, then through tc netem loss 5% + delay +
# reordering on the peer's veth.
#
#   test_client_netem.sh path/to/shardtcp-loadgen
#
# Own namespaces (default stcp-cn-dp / stcp-cn-peer, via deploy/lab.sh) so it
# never disturbs the shared integration lab. Every run is bounded by
# --timeout-s and `timeout`; the lab is torn down on exit.
set -uo pipefail
export STCP_DP_NS=${STCP_CLIENT_DP_NS:-stcp-cn-dp}
export STCP_PEER_NS=${STCP_CLIENT_PEER_NS:-stcp-cn-peer}
source "$(dirname "$0")/lib.sh"

LOADGEN=${1:-${STCP_LOADGEN:-}}
[[ -x $LOADGEN ]] || { echo "FAIL: shardtcp-loadgen not built: '$LOADGEN'"; exit 1; }
SIZE=${CLIENT_NETEM_BYTES:-4194304}      # 4 MiB per download
CONNS=${CLIENT_NETEM_CONNS:-4}
NETEM=${CLIENT_NETEM_ARGS:-loss 5% delay 2ms reorder 25% 50%}
HTTP_PORT=8080
PEER_IP=198.18.0.2

work=$(mktemp -d)
HTTP_PID=""
cleanup() {
  [[ -n $HTTP_PID ]] && kill "$HTTP_PID" 2>/dev/null
  wait 2>/dev/null
  lab netem-off >/dev/null 2>&1
  lab down >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# The lab pattern (app/loadgen/load_client.h pattern_byte):
#   b[i] = (7 i + 3 (i >> 8) + 5 (i >> 16)) mod 256
# Block k of 65536 bytes = block 0 with 5k added to every byte.
"$PY" - "$work/pattern.bin" "$SIZE" <<'EOF'
import sys
path, size = sys.argv[1], int(sys.argv[2])
base = bytes((j * 7 + (j >> 8) * 3) & 255 for j in range(65536))
with open(path, "wb") as f:
    k, left = 0, size
    while left > 0:
        table = bytes((b + 5 * k) & 255 for b in range(256))
        block = base.translate(table)[:left]
        f.write(block)
        left -= len(block)
        k += 1
EOF
[[ $(stat -c %s "$work/pattern.bin") -eq $SIZE ]] || { echo "FAIL: pattern file"; exit 1; }
chmod -R a+rX "$work"

lab up || { echo "FAIL: lab up"; exit 1; }
# Linux server: python3's http.server (HTTP/1.0, closes after each response).
(cd "$work" && exec ip netns exec "$STCP_PEER_NS" "$PY" -m http.server --bind "$PEER_IP" "$HTTP_PORT" \
  >"$work/http.log" 2>&1) &
HTTP_PID=$!
for _ in $(seq 1 40); do
  peer curl -s -o /dev/null --max-time 1 "http://$PEER_IP:$HTTP_PORT/pattern.bin" && break
  sleep 0.25
done

huge_args=()
free_huge=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
if [[ ${free_huge:-0} -lt 256 ]] || ! awk '$3 == "hugetlbfs" {f=1} END {exit !f}' /proc/mounts; then
  huge_args=(--set eal.no_huge=true)
fi

# run_loadgen NAME TIMEOUT_S: one loadgen run, output in $work/NAME.out.
run_loadgen() {
  local name=$1 t=$2
  timeout $((t + 30)) ip netns exec "$STCP_DP_NS" "$LOADGEN" --config "$STCP_SRC/config/httpd.toml" \
    "${huge_args[@]}" --set metrics.enabled=false \
    --target "$PEER_IP:$HTTP_PORT" --path /pattern.bin --bytes "$SIZE" \
    --connections "$CONNS" --timeout-s "$t" >"$work/$name.out" 2>&1
  local rc=$?
  grep -E 'shardtcp-loadgen: (conn|[0-9]+/)' "$work/$name.out" | sed 's/^/  /'
  if [[ $rc -ne 0 ]]; then
    echo "---- $name: loadgen output (tail) ----"
    tail -n 30 "$work/$name.out"
  fi
  return $rc
}

log "clean link: $CONNS x $SIZE bytes"
run_loadgen clean 60
check "clean link: $CONNS downloads of $SIZE bytes verified byte for byte" \
  grep -q "^shardtcp-loadgen: $CONNS/$CONNS downloads verified byte for byte" "$work/clean.out"

if lab netem $NETEM; then
  log "netem on the peer veth: $NETEM"
  run_loadgen netem 240
  check "netem ($NETEM): $CONNS downloads of $SIZE bytes verified byte for byte" \
    grep -q "^shardtcp-loadgen: $CONNS/$CONNS downloads verified byte for byte" "$work/netem.out"
  lab netem-off
else
  echo "SKIP: netem '$NETEM' not available on this kernel"
fi
finish
