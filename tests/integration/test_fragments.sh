#!/usr/bin/env bash
# IPv4 fragments on net_af_packet (issue 15, part 6), in its own lab
# namespaces (stcp-fr-dp / stcp-fr-peer). DPDK's af_packet PMD joins its
# sockets to a fanout group with PACKET_FANOUT_FLAG_DEFRAG, so the kernel
# reassembles fragments before the PMD sees them: shardtcp never receives a
# fragment on this PMD (shardtcp_ip_drops_total{reason="ip_fragment"} stays
# 0). What reaches it instead, and what README.md says:
#   - a fragmented SYN arrives whole and is answered (SYN-ACK);
#   - a datagram reassembled beyond the PMD's frame (3 KB) arrives cut to the
#     frame and is dropped as ip_bad_total_len, not answered;
#   - a fragment whose rest never comes never arrives (the kernel's
#     reassembly queue times it out).
#   test_fragments.sh path/to/shardtcp-httpd
set -uo pipefail
export STCP_DP_NS=${STCP_FRAG_DP_NS:-stcp-fr-dp}
export STCP_PEER_NS=${STCP_FRAG_PEER_NS:-stcp-fr-peer}
export STCP_TARGET=shardtcp
export STCP_STATE_DIR=${STCP_STATE_DIR:-/tmp/shardtcp-integration-fragments}
export STCP_HTTPD=${1:-${STCP_HTTPD:-}}
source "$(dirname "$0")/lib.sh"
[[ -x $STCP_HTTPD ]] || { echo "FAIL: shardtcp-httpd not built: '$STCP_HTTPD'"; exit 1; }
"$PY" -c 'import scapy' 2>/dev/null || { echo "SKIP: python3 scapy missing"; exit 77; }
trap 'bash "$STCP_IT_DIR/fixture.sh" stop >/dev/null 2>&1' EXIT

metric() {  # metric NAME LABEL_REGEX -> sum (0 when none)
  dp curl -s --max-time 2 http://127.0.0.1:9100/metrics | awk -v n="$1" -v re="$2" '
    index($0, n "{") == 1 && $0 ~ re { sum += $NF } END { printf "%d\n", sum }'
}
probe() { peer timeout 20 "$PY" "$STCP_IT_DIR/frag_probe.py" stcp-peer0 "$SERVER_IP" 80 "$1"; }

if ! bash "$STCP_IT_DIR/fixture.sh" start; then
  check_fail "httpd start"
  finish
fi
peer curl -s -o /dev/null --max-time 5 "$BASE_URL/"  # the peer learns our MAC
frag0=$(metric shardtcp_ip_drops_total 'reason="ip_fragment"')
opens0=$(metric shardtcp_tcp_passive_opens_total '')
len0=$(metric shardtcp_ip_drops_total 'reason="ip_bad_total_len"')

r=$(probe syn)
check "a SYN in 5 fragments is reassembled by the kernel and answered (got '$r')" test "$r" = synack
v=$(( $(metric shardtcp_tcp_passive_opens_total '') - opens0 ))
check "  ... as one passive open (+$v)" test "$v" -ge 1
r=$(probe big)
check "a 3000-byte echo in 3 fragments is not answered (got '$r')" test "$r" = none
v=$(( $(metric shardtcp_ip_drops_total 'reason="ip_bad_total_len"') - len0 ))
check "  ... it arrived cut to the PMD's frame: dropped as ip_bad_total_len (+$v)" test "$v" -ge 1
r=$(probe lone)
v=$(( $(metric shardtcp_ip_drops_total 'reason="ip_fragment"') - frag0 ))
check "no fragment ever reaches shardtcp on net_af_packet: ip_fragment +$v (want 0)" test "$v" = 0
check "server exits 0 on SIGINT, lab down" bash "$STCP_IT_DIR/fixture.sh" stop
finish
