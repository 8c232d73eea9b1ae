#!/usr/bin/env bash
# Loss recovery against Linux (issue 10): curl downloads /bytes/SIZE from
# shardtcp-httpd, then the same body from Linux's own TCP (python3
# http.server) on the same link, through random loss in both directions at
# each rate; prints the mean download time of both stacks, the ratio, and our
# RTO / fast-recovery / TLP counts per rate (from /metrics).
#
#   test_lossrec.sh path/to/shardtcp-httpd
#   LOSSREC_N=50 test_lossrec.sh ...        # the long run (issue 10 used 50)
#   LOSSREC_RATES="5" LOSSREC_SIZE=1048576   # one rate, another size
#   LOSSREC_HTTPD_ARGS="--set tcp.tlp=false"  # extra server arguments
#
# Checks (never on time): every download completes and is byte-exact (the
# project's body pattern, app/common/body_pattern.h), for both stacks; at
# 5% loss our retransmission timeouts are fewer than our fast recoveries.
# The times are printed, not asserted (a loaded machine makes them noisy).
#
# Topology (its own three namespaces, as test_client_netem.sh):
#   stcp-lr-dp [stcp-dp0: shardtcp 198.18.0.1 (DPDK net_af_packet); later the
#               kernel's 198.18.0.1 for the Linux run]
#     <veth> stcp-lr-mid [bridge br0; loss here] <veth>
#   stcp-lr-peer [stcp-peer0: kernel 198.18.0.2, curl]
# Loss: this kernel has no sch_netem, so nftables (bridge family, forward
# hook) drops a random share of the frames in both directions. Offloads
# (TSO/GSO/GRO...) are off on every veth end, so both stacks send MSS-sized
# segments (MSS 1460 both: MTU 1500). Every curl has --max-time; namespaces
# and processes go on exit.
set -uo pipefail
export STCP_DP_NS=${STCP_LOSSREC_DP_NS:-stcp-lr-dp}
export STCP_PEER_NS=${STCP_LOSSREC_PEER_NS:-stcp-lr-peer}
MID_NS=${STCP_LOSSREC_MID_NS:-stcp-lr-mid}
source "$(dirname "$0")/lib.sh"

HTTPD=${1:-${STCP_HTTPD:-}}
[[ -x $HTTPD ]] || { echo "FAIL: shardtcp-httpd not built: '$HTTPD'"; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root (namespaces)"; exit 77; }
command -v nft >/dev/null || { echo "SKIP: no nft"; exit 77; }
N=${LOSSREC_N:-4}
SIZE=${LOSSREC_SIZE:-1048576}
RATES=${LOSSREC_RATES:-"1 5 20"}
MAX_TIME=${LOSSREC_MAX_TIME:-120}
DP_IP=198.18.0.1
PEER_IP=198.18.0.2

work=$(mktemp -d)
SRV_PID=""
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
  for d in br0 mid-dp mid-peer; do ip -n "$MID_NS" link set "$d" up; done
  ip -n "$STCP_DP_NS" link set stcp-dp0 up
  ip -n "$STCP_PEER_NS" addr add "$PEER_IP/24" dev stcp-peer0
  ip -n "$STCP_PEER_NS" link set stcp-peer0 up
}
mid() { ip netns exec "$MID_NS" "$@"; }
loss_set() {  # percent
  mid nft delete table bridge stcp_lr_loss 2>/dev/null
  [[ $1 -eq 0 ]] && return 0
  mid nft -f - <<NFT
table bridge stcp_lr_loss {
  chain lossy { type filter hook forward priority 0; policy accept; numgen random mod 10000 < $(($1 * 100)) drop; }
}
NFT
}
cleanup() {
  [[ -n $SRV_PID ]] && kill "$SRV_PID" 2>/dev/null
  wait 2>/dev/null
  topo_down
  rm -rf "$work"
}
trap cleanup EXIT

# The body pattern: byte i is 'a' + i % 26 (app/common/body_pattern.h).
"$PY" -c "import sys; n=int(sys.argv[1]); sys.stdout.buffer.write(bytes(97 + i % 26 for i in range(n)))" \
  "$SIZE" >"$work/body.bin"
[[ $(stat -c %s "$work/body.bin") -eq $SIZE ]] || { echo "FAIL: pattern file"; exit 1; }
chmod -R a+rX "$work"

topo_up || { echo "FAIL: could not build the test topology"; exit 1; }

huge_args=()
free_huge=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
if [[ ${free_huge:-0} -lt 256 ]] || ! awk '$3 == "hugetlbfs" {f=1} END {exit !f}' /proc/mounts; then
  huge_args=(--set eal.no_huge=true)
fi

metric() {  # name: summed over cores (shardtcp-httpd's /metrics, in its namespace)
  dp curl -s --max-time 5 http://127.0.0.1:9100/metrics |
    awk -v m="shardtcp_tcp_$1" '$1 == m || index($1, m "{") == 1 {s += $2} END {printf "%d\n", s}'
}
declare -A MEAN RTO FAST TLP LOST LRTX LINUX_RTO LINUX_TLP
# run_rate STACK URL RATE: N sequential downloads; byte-exact; mean time.
run_rate() {
  local stack=$1 url=$2 rate=$3 i t ok=0 sum=0
  loss_set "$rate" || { check_fail "nftables loss $rate%"; return; }
  for i in $(seq 1 "$N"); do
    t=$(peer curl -sS --max-time "$MAX_TIME" -o "$work/got.bin" -w '%{time_total}' "$url" 2>"$work/curl.err")
    if cmp -s "$work/got.bin" "$work/body.bin"; then
      ok=$((ok + 1))
      sum=$(awk -v a="$sum" -v b="$t" 'BEGIN {print a + b}')
    else
      echo "  $stack $rate%: download $i incomplete or wrong ($(stat -c %s "$work/got.bin" 2>/dev/null) bytes, ${t}s): $(head -c 200 "$work/curl.err")"
    fi
    rm -f "$work/got.bin"
  done
  loss_set 0
  check "$stack, $rate% loss both ways: $ok/$N downloads of $SIZE bytes complete and byte-exact" \
    test "$ok" -eq "$N"
  MEAN[$stack.$rate]=$(awk -v s="$sum" -v n="$ok" 'BEGIN {printf "%.3f", n ? s / n : 0}')
}

# ---- shardtcp-httpd ----
log "shardtcp-httpd in $STCP_DP_NS; $N downloads of $SIZE bytes per rate (${RATES// /, } %)"
# ip netns exec execs the server: SRV_PID is the server itself (SIGINT reaches it).
ip netns exec "$STCP_DP_NS" "$HTTPD" --config "$STCP_SRC/config/httpd.toml" "${huge_args[@]}" \
  ${LOSSREC_HTTPD_ARGS:-} \
  >"$work/httpd.log" 2>&1 &
SRV_PID=$!
for _ in $(seq 1 80); do
  peer curl -s -o /dev/null --max-time 1 "http://$DP_IP/bytes/10" && break
  sleep 0.25
done
if ! peer curl -s -o /dev/null --max-time 2 "http://$DP_IP/bytes/10"; then
  echo "FAIL: shardtcp-httpd did not answer"; tail -n 20 "$work/httpd.log"; exit 1
fi
for rate in $RATES; do
  r0=$(metric rto_expirations_total) f0=$(metric fast_retransmits_total)
  p0=$(metric tlp_probes_total) l0=$(metric rack_lost_segments_total)
  x0=$(metric lost_retransmits_total)
  run_rate shardtcp "http://$DP_IP/bytes/$SIZE" "$rate"
  RTO[$rate]=$(($(metric rto_expirations_total) - r0))
  FAST[$rate]=$(($(metric fast_retransmits_total) - f0))
  TLP[$rate]=$(($(metric tlp_probes_total) - p0))
  LOST[$rate]=$(($(metric rack_lost_segments_total) - l0))
  LRTX[$rate]=$(($(metric lost_retransmits_total) - x0))
done
kill -INT "$SRV_PID" 2>/dev/null
for _ in $(seq 1 40); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.25; done
kill -0 "$SRV_PID" 2>/dev/null && kill -KILL "$SRV_PID" 2>/dev/null
wait "$SRV_PID" 2>/dev/null
SRV_PID=""
# Nothing of ours may answer on stcp-dp0 any more.
for p in $(ip netns pids "$STCP_DP_NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done

# ---- Linux (the kernel in the same namespace, same link, same MSS) ----
ip -n "$STCP_DP_NS" addr add "$DP_IP/24" dev stcp-dp0
(cd "$work" && exec ip netns exec "$STCP_DP_NS" "$PY" -m http.server --bind "$DP_IP" 80 \
  >"$work/http.log" 2>&1) &
SRV_PID=$!
for _ in $(seq 1 40); do
  peer curl -s -o /dev/null --max-time 1 "http://$DP_IP/body.bin" && break
  sleep 0.25
done
nst() { dp nstat -az "$1" 2>/dev/null | awk -v k="$1" '$1 == k {print $2 + 0}'; }
for rate in $RATES; do
  r0=$(nst TcpExtTCPTimeouts) p0=$(nst TcpExtTCPLossProbes)
  run_rate linux "http://$DP_IP/body.bin" "$rate"
  LINUX_RTO[$rate]=$(($(nst TcpExtTCPTimeouts) - r0))
  LINUX_TLP[$rate]=$(($(nst TcpExtTCPLossProbes) - p0))
done

# ---- figures ----
echo
printf '%-6s %12s %12s %7s | %5s %6s %5s %6s %8s | %10s %10s\n' loss shardtcp_s linux_s ratio \
  rto fastrec tlp lost lost_rtx linux_rto linux_tlp
for rate in $RATES; do
  s=${MEAN[shardtcp.$rate]:-0} l=${MEAN[linux.$rate]:-0}
  ratio=$(awk -v a="$s" -v b="$l" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}')
  printf '%-6s %12s %12s %7s | %5s %6s %5s %6s %8s | %10s %10s\n' "$rate%" "$s" "$l" "$ratio" \
    "${RTO[$rate]}" "${FAST[$rate]}" "${TLP[$rate]}" "${LOST[$rate]}" "${LRTX[$rate]}" \
    "${LINUX_RTO[$rate]}" "${LINUX_TLP[$rate]}"
done
echo "(mean seconds per download of $SIZE bytes over $N downloads; goal: ratio <= 1.5; counts are ours"
echo " from /metrics: RTO expirations, fast recoveries, TLPs, RACK-lost segments, lost retransmissions;"
echo " linux_rto / linux_tlp: the server kernel's TcpExtTCPTimeouts / TcpExtTCPLossProbes)"
echo
for rate in $RATES; do
  if [[ $rate == 5 ]]; then
    check "5% loss: our timeouts (${RTO[5]}) fewer than our fast recoveries (${FAST[5]})" \
      test "${RTO[5]}" -lt "${FAST[5]}"
  fi
done
finish
