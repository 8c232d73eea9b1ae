#!/usr/bin/env bash
# Hostile peers (issue 9): source address checks and out-of-window answer
# limits, on the wire, with scapy from the peer namespace (hostile_sources.py).
#
#   test_hostile.sh [path/to/shardtcp-httpd]
#
# Its own shardtcp-httpd (fixture.sh, own state dir) in its own namespaces
# (default stcp-ho-dp / stcp-ho-peer).
# 1. SYNs from 255.255.255.255, 198.18.0.255 (the subnet's broadcast),
#    224.0.0.1, 240.0.0.1, 0.0.0.0, 127.0.0.1 and 198.18.0.1 itself (LAND),
#    and SYNs to broadcast / multicast destinations, reach the dataplane;
#    none is answered (nothing at all from the server's MAC), none makes a
#    connection (passive opens and the SYN-RECEIVED gauge stay 0), and
#    shardtcp_ip_drops_total{reason="ip_bad_source"} / {reason=
#    "ip_bad_destination"} grow by exactly what was sent.
# 2. 10,000 out-of-window ACKs on one established connection draw at most
#    ceil(duration / 0.5 s) + 1 ACKs; the suppressed ones are counted in
#    shardtcp_tcp_oow_acks_suppressed_total, exactly: each one the server saw
#    (drops{reason="unacceptable_seq"}) was either answered or suppressed.
# 3. The server exits 0 on SIGINT. Bounded: about 30 s.
set -uo pipefail
export STCP_DP_NS=${STCP_HOSTILE_DP_NS:-stcp-ho-dp}
export STCP_PEER_NS=${STCP_HOSTILE_PEER_NS:-stcp-ho-peer}
export STCP_TARGET=shardtcp
export STCP_STATE_DIR=${STCP_STATE_DIR:-/tmp/shardtcp-integration-hostile}
source "$(dirname "$0")/lib.sh"

export STCP_HTTPD=${1:-${STCP_HTTPD:-}}
[[ -x $STCP_HTTPD ]] || { echo "FAIL: shardtcp-httpd not built: '$STCP_HTTPD'"; exit 1; }
METRICS_URL=http://127.0.0.1:9100/metrics
export STCP_HTTPD_ARGS="--set eal.lcores=0 --set eal.file_prefix=stcp-hostile --set metrics.listen=127.0.0.1:9100 ${STCP_HTTPD_ARGS:-}"
"$PY" -c 'import scapy' 2>/dev/null || { echo "SKIP: python3 scapy not installed"; exit 77; }

trap 'bash "$STCP_IT_DIR/fixture.sh" stop >/dev/null 2>&1' EXIT
scrape() { dp curl -s --max-time 2 "$METRICS_URL" 2>/dev/null; }
metric_sum() {
  scrape | awk -v n="$1" -v re="${2:-}" '
    index($0, n) == 1 && (substr($0, length(n) + 1, 1) == "{" || substr($0, length(n) + 1, 1) == " ") &&
      (re == "" || $0 ~ re) { seen = 1; s += $NF }
    END { if (seen) printf "%d\n", s; else print 0 }'
}
hostile() { peer timeout 60 "$PY" "$STCP_IT_DIR/hostile_sources.py" --iface stcp-peer0 "$@"; }
figure() { sed -n "s/^$1=//p" "$2" | tail -n1; }

log "starting the server in $STCP_DP_NS ($STCP_HTTPD_ARGS)"
if ! bash "$STCP_IT_DIR/fixture.sh" start; then
  check_fail "server start"
  finish
fi
require_server
sleep 1  # the readiness probe's connection has gone through TIME-WAIT (MSL 500 ms)

# --- 1. source and destination checks ----------------------------------------
src0=$(metric_sum shardtcp_ip_drops_total 'reason="ip_bad_source"')
dst0=$(metric_sum shardtcp_ip_drops_total 'reason="ip_bad_destination"')
opens0=$(metric_sum shardtcp_tcp_passive_opens_total)
out=$(mktemp)
hostile --phase sources --per-class 10 | tee "$out"
sent_src=$(figure SENT_BAD_SRC "$out")
sent_dst=$(figure SENT_BAD_DST "$out")
grep -q '^FAIL' "$out" && FAILS=$((FAILS + $(grep -c '^FAIL' "$out")))
d_src=$(($(metric_sum shardtcp_ip_drops_total 'reason="ip_bad_source"') - src0))
d_dst=$(($(metric_sum shardtcp_ip_drops_total 'reason="ip_bad_destination"') - dst0))
check "ip_bad_source drops grew by the SYNs sent from bad sources ($d_src of ${sent_src:-?})" \
  test "$d_src" -eq "${sent_src:--1}"
check "ip_bad_destination drops grew by the SYNs sent to bad destinations ($d_dst of ${sent_dst:-?})" \
  test "$d_dst" -eq "${sent_dst:--1}"
opens=$(($(metric_sum shardtcp_tcp_passive_opens_total) - opens0))
check "no connection was created (passive opens +$opens)" test "$opens" -eq 0
synrcvd=$(metric_sum shardtcp_tcp_connections 'state="SYN-RECEIVED"')
check "SYN-RECEIVED gauge is 0 ($synrcvd)" test "$synrcvd" -eq 0
tcbs=$(metric_sum shardtcp_tcp_connections 'state="ESTABLISHED"')
check "ESTABLISHED gauge is 0 ($tcbs)" test "$tcbs" -eq 0

# --- 2. out-of-window answers per connection ---------------------------------
unacc0=$(metric_sum shardtcp_tcp_drops_total 'reason="unacceptable_seq"')
supp0=$(metric_sum shardtcp_tcp_oow_acks_suppressed_total)
hostile --phase oow --oow 10000 | tee "$out"
grep -q '^FAIL' "$out" && FAILS=$((FAILS + $(grep -c '^FAIL' "$out")))
acks=$(figure OOW_ACKS "$out")
unacc=$(($(metric_sum shardtcp_tcp_drops_total 'reason="unacceptable_seq"') - unacc0))
supp=$(($(metric_sum shardtcp_tcp_oow_acks_suppressed_total) - supp0))
log "server saw $unacc out-of-window segments (of 10000 sent; the rest were lost in the veth/AF_PACKET ring), suppressed $supp answers, sent ${acks:-?}"
check "oow_acks_suppressed counted ($supp > 0)" test "$supp" -gt 0
# The server's own account: what it saw minus what it suppressed is what it
# answered (our raw socket may miss frames while it sends, the server's
# counters do not).
answered=$((unacc - supp))
bound=$(figure OOW_BOUND "$out")
check "the server answered $answered of the $unacc it saw (1 <= answered <= ${bound:-?})" \
  test "$answered" -ge 1 -a "$answered" -le "${bound:-0}"
check "the ACKs seen on the wire (${acks:-?}) are the ones it answered ($answered)" \
  test "${acks:-0}" -le "$answered"
rm -f "$out"

check "server alive" server_alive
check "server exits 0 on SIGINT, lab down" bash "$STCP_IT_DIR/fixture.sh" stop
finish
