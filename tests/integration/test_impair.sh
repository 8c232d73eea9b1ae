#!/usr/bin/env bash
# Byte-exact under the impairment stage (issue 15, part 2), in its own lab
# namespaces (stcp-im-dp / stcp-im-peer):
#   1. shardtcp-httpd: a 10 MiB download by curl ('a'..'z' checked);
#   2. shardtcp-echo: a 10 MiB upload echoed back (seeded random bytes checked);
# each with loss 5%, reordering 10%, duplication 1% and corruption 1% in
# both directions (impair.rx_* and impair.tx_*, seed fixed). Then: every
# impairment action was taken in both directions (metrics), damaged frames
# were dropped by a checksum on both ends (shardtcp's drop counters, the
# peer kernel's TcpInCsumErrors), connections and TIME-WAIT back to 0, mbufs
# back to the start-up baseline, and the shutdown report reads 0 connections
# and 0 mbufs in use. Transfer times are printed (figures, never checked).
#
#   test_impair.sh path/to/shardtcp-httpd path/to/shardtcp-echo
set -uo pipefail
export STCP_DP_NS=${STCP_IMPAIR_DP_NS:-stcp-im-dp}
export STCP_PEER_NS=${STCP_IMPAIR_PEER_NS:-stcp-im-peer}
export STCP_TARGET=shardtcp
export STCP_STATE_DIR=${STCP_STATE_DIR:-/tmp/shardtcp-integration-impair}
HTTPD=${1:-${STCP_HTTPD:-}}
ECHO=${2:-}
source "$(dirname "$0")/lib.sh"
[[ -x $HTTPD ]] || { echo "FAIL: shardtcp-httpd not built: '$HTTPD'"; exit 1; }
[[ -x $ECHO ]] || { echo "FAIL: shardtcp-echo not built: '$ECHO'"; exit 1; }
NBYTES=${STCP_IMPAIR_BYTES:-10485760}
WAIT_S=${STCP_IMPAIR_WAIT_S:-30}

IMPAIR="--set impair.seed=15"
for d in rx tx; do
  IMPAIR+=" --set impair.${d}_loss_pct=5 --set impair.${d}_reorder_pct=10"
  IMPAIR+=" --set impair.${d}_reorder_us=1000 --set impair.${d}_duplicate_pct=1"
  IMPAIR+=" --set impair.${d}_corrupt_pct=1"
done
export STCP_HTTPD_ARGS=$IMPAIR

trap 'bash "$STCP_IT_DIR/fixture.sh" stop >/dev/null 2>&1' EXIT

scrape() { dp curl -s --max-time 2 "$METRICS_URL" 2>/dev/null; }
# metric NAME LABEL_REGEX -> the sum of matching series (empty when none).
metric() {
  scrape | awk -v n="$1" -v re="$2" '
    index($0, n "{") == 1 && $0 ~ re { seen = 1; sum += $NF }
    END { if (seen) printf "%d\n", sum }'
}
conn_count() {
  scrape | awk '
    /^shardtcp_tcp_connections\{/ { seen = 1; if ($0 !~ /state="LISTEN"/) sum += $NF }
    /^shardtcp_tcp_time_wait_entries(\{| )/ { sum += $NF }
    END { if (seen) printf "%d\n", sum }'
}
mbuf_excess() {
  local base
  base=$(cat "$STCP_STATE_DIR/mbuf_baseline" 2>/dev/null || echo 0)
  scrape | awk -v base="$base" '
    /^shardtcp_mempool_mbufs\{/ && /state="in_use"/ { seen = 1; sum += $NF }
    END { if (seen) { d = sum - base; printf "%d\n", (d > 0 ? d : 0) } }'
}
poll_zero() {  # poll_zero FUNC -> last value; status 0 once it read 0
  local v="" i
  for ((i = 0; i < WAIT_S * 2; i++)); do
    v=$($1)
    [[ -z $v ]] && { echo ""; return 1; }
    [[ $v -eq 0 ]] && { echo 0; return 0; }
    sleep 0.5
  done
  echo "$v"
  return 1
}
peer_csum_errors() {
  peer nstat -az TcpInCsumErrors 2>/dev/null | awk '$1 == "TcpInCsumErrors" { print $2 }'
}

# After a transfer: every action in both directions, checksums caught the
# damage, the tables and the pool came back, and the shutdown report agrees.
check_after() {
  local what=$1 csum0=$2 d a v
  for d in rx tx; do
    for a in loss_random duplicate reorder corrupt delay; do
      v=$(metric shardtcp_impair_frames_total "direction=\"$d\".*action=\"$a\"")
      check "$what: impair $d $a frames > 0 (got ${v:-none})" test "${v:-0}" -gt 0
    done
  done
  local tcp_ck ip_ck
  tcp_ck=$(metric shardtcp_tcp_drops_total 'reason="bad_checksum"')
  ip_ck=$(metric shardtcp_ip_drops_total 'reason="ip_bad_checksum"')
  v=$(( ${tcp_ck:-0} + ${ip_ck:-0} ))
  check "$what: rx corruption dropped by shardtcp's checksums (TCP + IP: $v > 0)" test "$v" -gt 0
  v=$(peer_csum_errors)
  check "$what: tx corruption dropped by the peer kernel (TcpInCsumErrors +$(( ${v:-0} - csum0 )) > 0)" \
    test "$(( ${v:-0} - csum0 ))" -gt 0
  v=$(metric shardtcp_impair_frames_total 'action="queue_full"')
  check "$what: delay queue never overflowed (queue_full ${v:-none})" test "${v:-x}" = 0
  v=$(poll_zero conn_count)
  check "$what: connections + TIME-WAIT back to 0 (last ${v:-none})" test "${v:-x}" = 0
  v=$(poll_zero mbuf_excess)
  check "$what: mbufs in use back to the start-up baseline (excess ${v:-none})" test "${v:-x}" = 0
  scrape | grep -E '^shardtcp_impair_frames_total' | awk '$NF != 0' | sed 's/^/  /'

  check "$what: server exits 0 on SIGINT" bash "$STCP_IT_DIR/fixture.sh" stop-server
  local logf=$STCP_STATE_DIR/server.log ln n
  ln=$(grep -E 'core [0-9]+ \(lcore' "$logf" | tail -n1)
  n=$(echo "$ln" | grep -oE 'connections -?[0-9]+, time-wait -?[0-9]+')
  check "$what: shutdown report '${n:-none}' (want connections 0, time-wait 0)" \
    test "${n:-x}" = "connections 0, time-wait 0"
  while read -r ln; do
    n=$(echo "$ln" | grep -oE 'in use -?[0-9]+' | grep -oE -- '-?[0-9]+$')
    check "$what: shutdown report: ${n:-?} mbufs in use (want 0): ${ln#*: }" test "${n:-x}" = 0
  done < <(grep -E 'mbufs in use' "$logf")
  grep -qE 'mbufs in use' "$logf" || check_fail "$what: no 'mbufs in use' line in the shutdown report"
  lab down >/dev/null 2>&1
}

# --- 1. download from shardtcp-httpd -----------------------------------------
METRICS_URL=http://127.0.0.1:9100/metrics
unset STCP_SERVER_BIN STCP_SERVER_CONFIG STCP_SERVER_PORT
export STCP_HTTPD=$HTTPD
if bash "$STCP_IT_DIR/fixture.sh" start; then
  csum0=$(peer_csum_errors)
  body=$(mktemp)
  t0=$(date +%s.%N)
  meta=$(peer curl -s --max-time 150 -o "$body" -w '%{http_code} %{size_download}' \
    "$BASE_URL/bytes/$NBYTES")
  rc=$?
  t1=$(date +%s.%N)
  check "download: curl rc 0, 200, $NBYTES bytes (rc=$rc, got '$meta')" \
    test "$rc" = 0 -a "$meta" = "200 $NBYTES"
  check "download: content is 'a'..'z' repeating, byte for byte" "$PY" -c '
import sys
data = open(sys.argv[1], "rb").read()
n = len(data)
sys.exit(data != (b"abcdefghijklmnopqrstuvwxyz" * (n // 26 + 1))[:n])' "$body"
  rm -f "$body"
  echo "FIGURE: download $NBYTES bytes from shardtcp-httpd under impairment: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
  check_after download "${csum0:-0}"
else
  check_fail "download: httpd start under impairment"
fi
bash "$STCP_IT_DIR/fixture.sh" stop >/dev/null 2>&1

# --- 2. upload through shardtcp-echo -----------------------------------------
METRICS_URL=http://127.0.0.1:9101/metrics
export STCP_SERVER_BIN=$ECHO STCP_SERVER_CONFIG=$STCP_SRC/config/echo.toml STCP_SERVER_PORT=7
export STCP_METRICS_URL=$METRICS_URL
SERVER_PORT=7
if bash "$STCP_IT_DIR/fixture.sh" start; then
  csum0=$(peer_csum_errors)
  out=$(peer timeout 170 "$PY" "$STCP_IT_DIR/impair_echo.py" "$SERVER_IP" 7 "$NBYTES" 150)
  rc=$?
  echo "$out"
  check "upload: $NBYTES bytes echoed back unchanged, then FIN (rc=$rc)" test "$rc" = 0
  secs=$(echo "$out" | awk '/^bytes/ { print $4 }')
  echo "FIGURE: upload+echo $NBYTES bytes through shardtcp-echo under impairment: ${secs:-?} s"
  check_after upload "${csum0:-0}"
else
  check_fail "upload: echo start under impairment"
fi
finish
