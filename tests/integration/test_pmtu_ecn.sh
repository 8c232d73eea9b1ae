#!/usr/bin/env bash
# Path MTU (RFC 1191) and ECN (RFC 3168) against Linux, in a lab of its own:
#
#   stcp-pm-dp (shardtcp 198.18.0.1, MTU 1500)
#     == veth 1500 == stcp-pm-peer (a Linux router: 198.18.0.2, ip_forward)
#     == veth 1280 == stcp-pm-cli  (Linux client 198.19.0.2, route advmss 1460)
#
# The client announces MSS 1460 (route advmss), so shardtcp sends 1500-byte
# datagrams with DF; the router cannot forward them onto the 1280 hop and
# answers ICMP fragmentation-needed (mtu 1280). A 1 MiB download must
# complete byte-exact and the engine must count the lowered MSS.
# Then the client turns net.ipv4.tcp_ecn=1: the kernel's tcp_info must show
# ECN negotiated and ECT seen on our data; the router marks every 20th ECT
# data packet CE (nftables), and shardtcp must count CE-driven ECE responses
# and CWRs while the download still completes byte-exact.
# Last, the router filters its frag-needed (an ICMP black hole): with
# tcp.mtu_probing the second timeout drops the MSS to 1024 (RFC 4821) and the
# download still completes.
#
#   test_pmtu_ecn.sh path/to/shardtcp-httpd   (or STCP_HTTPD)
set -uo pipefail
export STCP_DP_NS=${STCP_PMTU_DP_NS:-stcp-pm-dp}
export STCP_PEER_NS=${STCP_PMTU_PEER_NS:-stcp-pm-peer}
CLI_NS=${STCP_PMTU_CLI_NS:-stcp-pm-cli}
R_IF=stcp-pm-r1  # router side of the 1280 hop
C_IF=stcp-pm-c1  # client side
export STCP_TARGET=shardtcp
export STCP_HTTPD=${1:-${STCP_HTTPD:-}}
export STCP_STATE_DIR=${STCP_STATE_DIR:-/tmp/shardtcp-integration-pmtu}
source "$(dirname "$0")/lib.sh"
command -v nft >/dev/null || { echo "SKIP: nft not installed"; exit 77; }
CLI_IP=198.19.0.2
N=1048576
export STCP_HTTPD_ARGS="--set net.gateway=198.18.0.2 --set metrics.listen=127.0.0.1:9100 --set tcp.mtu_probing=true ${STCP_HTTPD_ARGS:-}"

cli() { ip netns exec "$CLI_NS" "$@"; }
metric() {  # metric_sum NAME [LABEL-REGEX]: sum over cores
  dp curl -s --max-time 5 http://127.0.0.1:9100/metrics |
    awk -v n="$1" -v l="${2:-}" '$1 ~ "^"n"({|$)" && (l == "" || index($1, l)) {s += $NF} END {print s + 0}'
}
cleanup() {
  ip netns del "$CLI_NS" 2>/dev/null || true
  bash "$STCP_IT_DIR/fixture.sh" stop >"$STCP_STATE_DIR/stop.log" 2>&1
}
mkdir -p "$STCP_STATE_DIR"
ip netns del "$CLI_NS" 2>/dev/null || true

if ! bash "$STCP_IT_DIR/fixture.sh" start; then
  check_fail "server start"
  cleanup
  finish
fi
trap cleanup EXIT

# The client namespace and the 1280-byte hop behind the router.
ip netns add "$CLI_NS"
ip link add "$R_IF" netns "$STCP_PEER_NS" type veth peer name "$C_IF" netns "$CLI_NS"
peer ip link set "$R_IF" mtu 1280 up
peer ip addr add 198.19.0.1/24 dev "$R_IF"
peer sysctl -qw net.ipv4.ip_forward=1
for k in all default "$R_IF"; do peer sysctl -qw "net.ipv4.conf.$k.rp_filter=0"; done
cli ip link set lo up
cli ip link set "$C_IF" mtu 1280 up
cli ip addr add "$CLI_IP/24" dev "$C_IF"
# advmss 1460: the client's SYN claims 1460 whatever its own MTU (as a host
# behind a tunnel or PPPoE link does); only the router knows of the 1280 hop.
cli ip route add 198.18.0.0/24 via 198.19.0.1 advmss 1460
cli sysctl -qw net.ipv4.tcp_ecn=2 # Linux's default: does not request ECN

lowered0=$(metric shardtcp_tcp_icmp_frag_needed_total 'result="mss_lowered"')
res=$(cli timeout 120 "$PY" "$STCP_IT_DIR/pmtu_ecn_client.py" "$SERVER_IP" "$SERVER_PORT" "$N")
rc=$?
log "1280-byte hop, ECN off: $res"
check "1 MiB through the 1280-byte hop: byte-exact (rc=$rc)" test "$rc" -eq 0
check "... and 200 OK, $N body bytes" grep -q "\"status\": \"HTTP/1.1 200 OK\", \"body_len\": $N" <<<"$res"
lowered=$(($(metric shardtcp_tcp_icmp_frag_needed_total 'result="mss_lowered"') - lowered0))
recv=$(metric shardtcp_icmp_frag_needed_received_total)
log "frag-needed received $recv, MSS lowered $lowered"
check "ICMP frag-needed reached the engine and lowered the MSS ($lowered)" test "$lowered" -ge 1
# curl as well: the common client, same path.
code=$(cli curl -s --max-time 60 -o "$STCP_STATE_DIR/body" -w '%{http_code} %{size_download}' \
  "$BASE_URL/bytes/$N")
check "curl through the 1280-byte hop: 200 and $N bytes (got $code)" test "$code" = "200 $N"

# Forged or useless frag-needed (RFC 5927): for a live, idle keep-alive
# connection with a SEQ it never sent (nothing in flight: any SEQ is out of
# window), for no connection, quoting UDP, and cut short. Each is counted
# and none lowers anything: the connection then still serves full segments.
oow0=$(metric shardtcp_tcp_icmp_frag_needed_total 'result="out_of_window"')
noc0=$(metric shardtcp_tcp_icmp_frag_needed_total 'result="no_connection"')
notours0=$(metric shardtcp_ip_drops_total 'reason="icmp_not_ours"')
malf0=$(metric shardtcp_ip_drops_total 'reason="icmp_malformed"')
rm -f "$STCP_STATE_DIR/idle_port"
cli timeout 60 "$PY" -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
open(sys.argv[3], "w").write(str(s.getsockname()[1]))
time.sleep(3)
s.sendall(b"GET /bytes/5000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
d = b""
while True:
    c = s.recv(65536)
    if not c:
        break
    d += c
sys.exit(0 if d.endswith((b"abcdefghijklmnopqrstuvwxyz" * 200)[:5000]) else 1)
' "$SERVER_IP" "$SERVER_PORT" "$STCP_STATE_DIR/idle_port" &
idle_pid=$!
for i in $(seq 100); do [[ -s $STCP_STATE_DIR/idle_port ]] && break; sleep 0.1; done
cport=$(cat "$STCP_STATE_DIR/idle_port" 2>/dev/null || echo 1)
forge() { peer "$PY" "$STCP_IT_DIR/icmp_forge.py" "$SERVER_IP" "$SERVER_IP" "$CLI_IP" "$@"; }
forge "$SERVER_PORT" "$cport" 12345 576 tcp
forge "$SERVER_PORT" 1 12345 576 tcp
forge "$SERVER_PORT" "$cport" 12345 576 udp
forge "$SERVER_PORT" "$cport" 12345 576 short
wait "$idle_pid"
check "idle connection still served after forged ICMP" test $? -eq 0
sleep 0.5  # metrics are read at scrape time; counters are already final
check "forged SEQ on a live connection: out_of_window" \
  test "$(($(metric shardtcp_tcp_icmp_frag_needed_total 'result="out_of_window"') - oow0))" -ge 1
check "frag-needed for no connection: no_connection" \
  test "$(($(metric shardtcp_tcp_icmp_frag_needed_total 'result="no_connection"') - noc0))" -ge 1
check "frag-needed quoting UDP: icmp_not_ours" \
  test "$(($(metric shardtcp_ip_drops_total 'reason="icmp_not_ours"') - notours0))" -ge 1
check "frag-needed cut short: icmp_malformed" \
  test "$(($(metric shardtcp_ip_drops_total 'reason="icmp_malformed"') - malf0))" -ge 1

# ECN: the Linux client asks (tcp_ecn=1); the router marks every 20th ECT(0)
# data packet from the server CE, and the client's ECT(0) request too (so
# shardtcp's receiver side echoes ECE until the client's CWR).
cli sysctl -qw net.ipv4.tcp_ecn=1
peer nft -f - <<NFT
table inet stcp_pm_ecn {
  chain ce_mark {
    type filter hook forward priority 0; policy accept;
    ip saddr $SERVER_IP ip ecn ect0 numgen inc mod 20 == 0 ip ecn set ce
    ip saddr $CLI_IP ip ecn ect0 ip ecn set ce
  }
}
NFT
if peer nft list table inet stcp_pm_ecn >/dev/null 2>&1; then
  check_pass "router CE-marking rules installed"
else
  check_fail "router CE-marking rules installed"
fi
conn0=$(metric shardtcp_tcp_ecn_connections_total)
ece0=$(metric shardtcp_tcp_ecn_ece_received_total)
cwr0=$(metric shardtcp_tcp_ecn_cwr_sent_total)
ce0=$(metric shardtcp_tcp_ecn_ce_received_total)
res=$(cli timeout 120 "$PY" "$STCP_IT_DIR/pmtu_ecn_client.py" "$SERVER_IP" "$SERVER_PORT" "$N")
rc=$?
log "ECN on, CE marks: $res"
check "1 MiB with CE marks: byte-exact (rc=$rc)" test "$rc" -eq 0
check "Linux client: ECN negotiated (tcpi_options ECN)" grep -q '"ecn": true' <<<"$res"
check "Linux client: ECT seen on shardtcp's data (ECN_SEEN)" grep -q '"ecn_seen": true' <<<"$res"
conn=$(($(metric shardtcp_tcp_ecn_connections_total) - conn0))
ece=$(($(metric shardtcp_tcp_ecn_ece_received_total) - ece0))
cwr=$(($(metric shardtcp_tcp_ecn_cwr_sent_total) - cwr0))
ce=$(($(metric shardtcp_tcp_ecn_ce_received_total) - ce0))
log "shardtcp: ecn connections +$conn, ECE responses +$ece, CWR sent +$cwr, CE received +$ce"
check "shardtcp counted the ECN connection" test "$conn" -ge 1
check "ECE answered with a window reduction" test "$ece" -ge 1
check "CWR sent after each reduction" test "$cwr" -ge 1
check "CE on the client's request counted (and echoed: the body came back)" test "$ce" -ge 1
peer nft delete table inet stcp_pm_ecn

# ICMP black hole: the router sends no frag-needed; tcp.mtu_probing falls
# back to MSS 1024 after the second timeout in a row.
cli sysctl -qw net.ipv4.tcp_ecn=2
peer nft -f - <<NFT
table inet stcp_pm_bh {
  chain out {
    type filter hook output priority 0; policy accept;
    icmp type destination-unreachable icmp code frag-needed counter drop
  }
}
NFT
bh0=$(metric shardtcp_tcp_pmtu_blackhole_probes_total)
lowered0=$(metric shardtcp_tcp_icmp_frag_needed_total 'result="mss_lowered"')
res=$(cli timeout 120 "$PY" "$STCP_IT_DIR/pmtu_ecn_client.py" "$SERVER_IP" "$SERVER_PORT" "$N")
rc=$?
log "ICMP black hole: $res"
check "1 MiB through the 1280-byte hop with ICMP filtered: byte-exact (rc=$rc)" test "$rc" -eq 0
bh=$(($(metric shardtcp_tcp_pmtu_blackhole_probes_total) - bh0))
lowered=$(($(metric shardtcp_tcp_icmp_frag_needed_total 'result="mss_lowered"') - lowered0))
filtered=$(peer nft list table inet stcp_pm_bh | awk '/packets/ {for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1)}')
log "frag-needed filtered by the router: ${filtered:-?}; black-hole fallbacks +$bh; ICMP-lowered +$lowered"
check "the router filtered frag-needed (${filtered:-0})" test "${filtered:-0}" -ge 1
check "no ICMP reached the engine, the RFC 4821 fallback did it (+$bh)" test "$bh" -ge 1 -a "$lowered" -eq 0
peer nft delete table inet stcp_pm_bh

trap - EXIT
ip netns del "$CLI_NS" 2>/dev/null || true
if bash "$STCP_IT_DIR/fixture.sh" stop >"$STCP_STATE_DIR/stop.log" 2>&1; then
  check_pass "server exits 0 on SIGINT, lab down"
else
  cat "$STCP_STATE_DIR/stop.log"
  check_fail "server exits 0 on SIGINT, lab down"
fi
finish
