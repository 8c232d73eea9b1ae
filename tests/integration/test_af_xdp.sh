#!/usr/bin/env bash
# shardtcp-httpd on net_af_xdp (issue 15, part 6), in its own lab
# namespaces (stcp-xd-dp / stcp-xd-peer): three 10 MiB downloads byte-exact
# ('a'..'z'), then SIGINT: exit 0, connections 0, and 0 mbufs in use in the
# cores' pools. The PMD's own rx pool (stcp_xdp*, see runtime.cc: DPDK 22.11's
# af_xdp keeps its 2048-entry fill ring on close) is reported apart; it must
# hold no more than the fill ring plus the completion ring (4096), i.e. not
# grow with traffic. Skipped (77) with the reason when the kernel or the
# DPDK build cannot run net_af_xdp.
#   test_af_xdp.sh path/to/shardtcp-httpd
set -uo pipefail
export STCP_DP_NS=${STCP_XDP_DP_NS:-stcp-xd-dp}
export STCP_PEER_NS=${STCP_XDP_PEER_NS:-stcp-xd-peer}
export STCP_TARGET=shardtcp
export STCP_STATE_DIR=${STCP_STATE_DIR:-/tmp/shardtcp-integration-af-xdp}
export STCP_HTTPD=${1:-${STCP_HTTPD:-}}
source "$(dirname "$0")/lib.sh"
[[ -x $STCP_HTTPD ]] || { echo "FAIL: shardtcp-httpd not built: '$STCP_HTTPD'"; exit 1; }
export STCP_HTTPD_ARGS="--set eal.vdevs=net_af_xdp0,iface=stcp-dp0"
trap 'bash "$STCP_IT_DIR/fixture.sh" stop >/dev/null 2>&1' EXIT

if ! bash "$STCP_IT_DIR/fixture.sh" start >"$STCP_STATE_DIR.start.log" 2>&1; then
  mkdir -p "$STCP_STATE_DIR"
  if grep -qiE 'af_xdp|xsk|bpf|vdev' "$STCP_STATE_DIR/server.log" 2>/dev/null &&
    ! grep -q 'link up' "$STCP_STATE_DIR/server.log"; then
    echo "SKIP: net_af_xdp does not start here:"
    grep -iE 'af_xdp|xsk|bpf|vdev' "$STCP_STATE_DIR/server.log" | tail -n 5
    exit 77
  fi
  cat "$STCP_STATE_DIR.start.log"
  check_fail "httpd start on net_af_xdp"
  finish
fi
out=$(mktemp)
for i in 1 2 3; do
  meta=$(peer curl -s --max-time 60 -o "$out" -w '%{http_code} %{size_download}' "$BASE_URL/bytes/10485760")
  check "download $i: 200 and 10485760 bytes (got '$meta')" test "$meta" = "200 10485760"
  check "download $i: 'a'..'z' repeating, byte for byte" "$PY" -c '
import sys
d = open(sys.argv[1], "rb").read()
sys.exit(d != (b"abcdefghijklmnopqrstuvwxyz" * (len(d) // 26 + 1))[:len(d)])' "$out"
done
rm -f "$out"
sleep 2  # TIME-WAIT (2 x 500 ms test MSL) and FIN-WAIT-2 expire
check "server exits 0 on SIGINT" bash "$STCP_IT_DIR/fixture.sh" stop-server
logf=$STCP_STATE_DIR/server.log
ln=$(grep -E 'core [0-9]+ \(lcore' "$logf" | tail -n1)
n=$(echo "$ln" | grep -oE 'connections -?[0-9]+, time-wait -?[0-9]+')
check "shutdown report '${n:-none}' (want connections 0, time-wait 0)" test "${n:-x}" = "connections 0, time-wait 0"
mapfile -t pools < <(grep -E 'mempool stcp_mb[0-9]+: mbufs in use' "$logf")
[[ ${#pools[@]} -gt 0 ]] || check_fail "no core pool line in the shutdown report"
for ln in "${pools[@]}"; do
  n=$(echo "$ln" | grep -oE 'in use -?[0-9]+' | grep -oE -- '-?[0-9]+$')
  check "core pool: ${n:-?} mbufs in use after shutdown (want 0): ${ln#*: }" test "${n:-x}" = 0
done
ln=$(grep -E 'mempool stcp_xdp0 ' "$logf")
n=$(echo "$ln" | grep -oE ': [0-9]+ of' | grep -oE '[0-9]+')
echo "${ln#*: }"
check "PMD pool: ${n:-?} mbufs kept by net_af_xdp (want <= 4096: its rings, not traffic)" \
  test -n "$n" -a "${n:-99999}" -le 4096
bash "$STCP_IT_DIR/fixture.sh" stop >/dev/null 2>&1
finish
