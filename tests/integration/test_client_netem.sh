#!/usr/bin/env bash
# Our client side against a Linux server (issue 3, integration): shardtcp-
# loadgen (active opens on the shardtcp stack, in the DPDK namespace) downloads
# a file from python3's http.server on the peer's kernel TCP, verified byte
# for byte, first on a clean link, then through tc netem loss 5% + delay +
# reordering on the peer's veth.
#
#   test_client_netem.sh path/to/shardtcp-loadgen
#
# Topology (its own three namespaces, so it never disturbs the shared lab):
#   stcp-cn-dp [stcp-dp0: shardtcp 198.18.0.1/24, DPDK net_af_packet]
#     <veth> stcp-cn-mid [bridge br0: mid-dp + mid-peer, impairments here]
#     <veth> stcp-cn-peer [stcp-peer0: kernel 198.18.0.2/24, http.server]
# Impairments sit in the middle namespace, on the bridge ports:
#   tc netem when the kernel has sch_netem (loss 5%, delay, reordering);
#   otherwise nftables (bridge family, forward hook) drops 5% of the frames
#   in both directions: real losses for both ends. (Dropping in the sender's
#   own OUTPUT hook or qdisc is not: Linux TCP sees a local transmit error
#   and simply sends the segment again, no loss recovery happens.) Without
#   netem, reordering cannot be emulated and is reported as skipped.
# Every run is bounded by --timeout-s and `timeout`; namespaces go on exit.
set -uo pipefail
export STCP_DP_NS=${STCP_CLIENT_DP_NS:-stcp-cn-dp}
export STCP_PEER_NS=${STCP_CLIENT_PEER_NS:-stcp-cn-peer}
MID_NS=${STCP_CLIENT_MID_NS:-stcp-cn-mid}
source "$(dirname "$0")/lib.sh"

LOADGEN=${1:-${STCP_LOADGEN:-}}
[[ -x $LOADGEN ]] || { echo "FAIL: shardtcp-loadgen not built: '$LOADGEN'"; exit 1; }
SIZE=${CLIENT_NETEM_BYTES:-4194304}      # 4 MiB per download
CONNS=${CLIENT_NETEM_CONNS:-4}
NETEM=${CLIENT_NETEM_ARGS:-loss 5% delay 2ms reorder 25% 50%}
LOSS_PER10K=${CLIENT_NETEM_LOSS_PER10K:-500}  # nftables fallback: 5%
HTTP_PORT=8080
PEER_IP=198.18.0.2

work=$(mktemp -d)
HTTP_PID=""
ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }
topo_down() {
  local ns pids
  for ns in "$STCP_DP_NS" "$MID_NS" "$STCP_PEER_NS"; do
    ns_exists "$ns" || continue
    pids=$(ip netns pids "$ns" 2>/dev/null)
    [[ -n $pids ]] && kill $pids 2>/dev/null
    ip netns del "$ns"
  done
}
offloads_off() {  # ns dev
  local f
  for f in rx tx tso gso gro lro sg; do ip netns exec "$1" ethtool -K "$2" "$f" off >/dev/null 2>&1; done
  ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1" >/dev/null 2>&1
}
topo_up() {
  topo_down
  local ns
  for ns in "$STCP_DP_NS" "$MID_NS" "$STCP_PEER_NS"; do
    ip netns add "$ns" || return 1
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 >/dev/null 2>&1
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
  done
  ip -n "$STCP_DP_NS" link add stcp-dp0 type veth peer name mid-dp netns "$MID_NS" || return 1
  ip -n "$STCP_PEER_NS" link add stcp-peer0 type veth peer name mid-peer netns "$MID_NS" || return 1
  ip -n "$MID_NS" link add br0 type bridge || return 1
  ip -n "$MID_NS" link set mid-dp master br0
  ip -n "$MID_NS" link set mid-peer master br0
  offloads_off "$STCP_DP_NS" stcp-dp0
  offloads_off "$MID_NS" mid-dp
  offloads_off "$MID_NS" mid-peer
  offloads_off "$STCP_PEER_NS" stcp-peer0
  ip -n "$MID_NS" link set br0 up
  ip -n "$MID_NS" link set mid-dp up
  ip -n "$MID_NS" link set mid-peer up
  ip -n "$STCP_DP_NS" link set stcp-dp0 up
  ip -n "$STCP_PEER_NS" addr add "$PEER_IP/24" dev stcp-peer0
  ip -n "$STCP_PEER_NS" link set stcp-peer0 up
}
# impair_on: netem on both bridge ports if possible, else nftables loss.
# Prints what it did; returns 1 if neither works.
IMPAIR=""
impair_on() {
  if ip netns exec "$MID_NS" tc qdisc add dev mid-dp root netem $NETEM 2>/dev/null &&
    ip netns exec "$MID_NS" tc qdisc add dev mid-peer root netem $NETEM 2>/dev/null; then
    IMPAIR="tc netem $NETEM (both directions)"
    return 0
  fi
  ip netns exec "$MID_NS" tc qdisc del dev mid-dp root 2>/dev/null
  ip netns exec "$MID_NS" nft -f - <<NFT || return 1
table bridge stcp_loss {
  chain lossy { type filter hook forward priority 0; policy accept; numgen random mod 10000 < $LOSS_PER10K drop; }
}
NFT
  IMPAIR="nftables bridge loss $((LOSS_PER10K / 100))% (both directions); netem unavailable, so no reordering"
}
impair_off() {
  ip netns exec "$MID_NS" tc qdisc del dev mid-dp root 2>/dev/null
  ip netns exec "$MID_NS" tc qdisc del dev mid-peer root 2>/dev/null
  ip netns exec "$MID_NS" nft delete table bridge stcp_loss 2>/dev/null
  return 0
}
cleanup() {
  [[ -n $HTTP_PID ]] && kill "$HTTP_PID" 2>/dev/null
  wait 2>/dev/null
  topo_down
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

topo_up || { echo "FAIL: could not build the test topology"; exit 1; }
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

# run_loadgen NAME TIMEOUT_S [--set ...]: one loadgen run, output in $work/NAME.out.
run_loadgen() {
  local name=$1 t=$2
  shift 2
  timeout $((t + 30)) ip netns exec "$STCP_DP_NS" "$LOADGEN" --config "$STCP_SRC/config/httpd.toml" \
    "${huge_args[@]}" --set metrics.enabled=false "$@" \
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

if impair_on; then
  log "impairment in $MID_NS: $IMPAIR"
  before=$(peer nstat -az TcpRetransSegs 2>/dev/null | awk '/TcpRetransSegs/ {print $2}')
  run_loadgen netem 240
  check "impaired ($IMPAIR): $CONNS downloads of $SIZE bytes verified byte for byte" \
    grep -q "^shardtcp-loadgen: $CONNS/$CONNS downloads verified byte for byte" "$work/netem.out"
  after=$(peer nstat -az TcpRetransSegs 2>/dev/null | awk '/TcpRetransSegs/ {print $2}')
  log "Linux server retransmitted $(( ${after:-0} - ${before:-0} )) segment(s) during the impaired run"
  # The impairment must have been real: the server had to recover losses.
  check "the impairment caused real losses (server retransmissions > 0)" \
    test $(( ${after:-0} - ${before:-0} )) -gt 0
  # Two lcores: each core opens its own connections with source ports whose
  # flow hash returns to it (DESIGN.md, active opens); both must be used.
  if [[ $(nproc) -ge 2 && ${CLIENT_NETEM_MULTICORE:-1} == 1 ]]; then
    run_loadgen multicore 240 --set eal.lcores=0-1
    check "2 lcores, impaired: $CONNS downloads verified byte for byte" \
      grep -q "^shardtcp-loadgen: $CONNS/$CONNS downloads verified byte for byte" "$work/multicore.out"
    grep -E '^shardtcp: core [0-9]+ \(lcore' "$work/multicore.out" | sed 's/^/  /'
    cores_used=$(grep -E '^shardtcp: core [0-9]+ \(lcore' "$work/multicore.out" |
      grep -cvE 'active opens 0,')
    check "2 lcores: both cores made active opens ($cores_used)" test "${cores_used:-0}" -eq 2
  fi
  impair_off
else
  echo "SKIP: neither tc netem nor nftables bridge filtering is available"
fi
finish
