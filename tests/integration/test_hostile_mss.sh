#!/usr/bin/env bash
# Issue 9, "the hostile peer": tiny MSS options must neither crash
# shardtcp-httpd nor make it send segments above the floor tcp.min_mss.
# Own server and namespaces (stcp-hm-dp / stcp-hm-peer).
#
#   1. hostile_mss.py: for MSS 1..88, without and with timestamps, a raw
#      SYN + ACK + GET /bytes/100000, a few segments read and ACKed (each at
#      most the clamped MSS), then RST;
#   2. a kernel client whose SYN says MSS 8 (route advmss 8 in the peer
#      namespace) downloads /bytes/100000 byte-exact at the floor;
#   3. the server still serves curl GET / and /bytes/1048576 byte-exact;
#   4. SIGINT: exit status 0 and no mbuf left in use (shutdown report).
#
#   test_hostile_mss.sh path/to/shardtcp-httpd
set -uo pipefail
export STCP_DP_NS=${STCP_HM_DP_NS:-stcp-hm-dp}
export STCP_PEER_NS=${STCP_HM_PEER_NS:-stcp-hm-peer}
export STCP_TARGET=shardtcp
export STCP_HTTPD=${1:-${STCP_HTTPD:-}}
export STCP_STATE_DIR=${STCP_STATE_DIR:-/tmp/shardtcp-integration-hostile-mss}
source "$(dirname "$0")/lib.sh"
[[ -x $STCP_HTTPD ]] || { echo "FAIL: shardtcp-httpd not built: '$STCP_HTTPD'"; exit 1; }
MIN_MSS=88
t0=$SECONDS

# Whatever happens: server stopped, nft table and namespaces gone.
cleanup() { bash "$STCP_IT_DIR/fixture.sh" stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
if ! bash "$STCP_IT_DIR/fixture.sh" start; then
  check_fail "server start"
  finish
fi

# 1. Raw hostile handshakes.
if peer timeout 150 "$PY" "$STCP_IT_DIR/hostile_mss.py" --iface "${STCP_PEER_IF:-stcp-peer0}" \
  --server "$SERVER_IP" --port "$SERVER_PORT" --floor "$MIN_MSS"; then
  check_pass "MSS 1..88 with and without timestamps: no segment above the clamp, no crash"
else
  check_fail "MSS 1..88 with and without timestamps"
fi
check "server still running after the hostile handshakes" server_alive

# 2. The kernel as a client whose SYN says MSS 8. Linux refuses TCP_MAXSEG
#    below 88 and clamps a route's advmss to 88 as well, so the SYN's option
#    is rewritten on its way out by nftables in the peer namespace only
#    (what a TCPMSS-clamping middlebox would do).
peer nft -f - <<'NFT'
table inet stcp_hm_mss {
  chain out {
    type filter hook output priority -150; policy accept;
    ip daddr 198.18.0.1 tcp flags & (syn | ack) == syn tcp option maxseg size set 8
  }
}
NFT
syncap=$(mktemp)
if command -v tcpdump >/dev/null; then
  # The client's SYN, to prove it really says MSS 8 (bounded: 1 packet, 70 s).
  peer timeout 70 tcpdump -l -nn -v -c 1 -i "${STCP_PEER_IF:-stcp-peer0}" \
    "src host 198.18.0.2 and tcp dst port $SERVER_PORT and tcp[tcpflags] & tcp-syn != 0" \
    >"$syncap" 2>/dev/null &
  cap_pid=$!
  sleep 1
fi
check "kernel client with MSS 8: /bytes/100000 byte-exact" peer timeout 60 "$PY" -c '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
s.sendall(b"GET /bytes/100000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
buf = bytearray()
while True:
    d = s.recv(65536)
    if not d:
        break
    buf += d
s.close()
head, _, body = bytes(buf).partition(b"\r\n\r\n")
want = (b"abcdefghijklmnopqrstuvwxyz" * (100000 // 26 + 1))[:100000]
print("  kernel MSS-8 client: status %r, %d body bytes" % (head.split(b"\r\n")[0], len(body)))
sys.exit(0 if head.startswith(b"HTTP/1.1 200") and body == want else 1)' "$SERVER_IP" "$SERVER_PORT"
peer nft delete table inet stcp_hm_mss 2>/dev/null || true
if [[ -n ${cap_pid:-} ]]; then
  wait "$cap_pid" 2>/dev/null
  check "the kernel client's SYN said MSS 8 ($(grep -oE 'mss [0-9]+' "$syncap" | head -n1))" \
    grep -q 'mss 8,' "$syncap"
fi
rm -f "$syncap"

# 3. Other clients are still served.
check "curl GET / -> 200" test "$(http_code "$BASE_URL/")" = 200
out=$(mktemp)
peer curl -s --max-time 30 -o "$out" "$BASE_URL/bytes/1048576"
check "curl /bytes/1048576 byte-exact" "$PY" -c '
import sys
d = open(sys.argv[1], "rb").read()
n = 1048576
sys.exit(d != (b"abcdefghijklmnopqrstuvwxyz" * (n // 26 + 1))[:n])' "$out"
rm -f "$out"
check "no segment refused by the engine, no frame too big for its mbuf" bash -c '
  m=$(ip netns exec "$1" curl -s --max-time 2 http://127.0.0.1:9100/metrics) || exit 1
  grep -qE "^shardtcp_tcp_out_oversize_total\{core=\"0\"\} 0$" <<<"$m" &&
    grep -qE "^shardtcp_ip_drops_total\{.*reason=\"tx_frame_too_big\"\} 0$" <<<"$m"' _ "$STCP_DP_NS"
dp curl -s --max-time 2 http://127.0.0.1:9100/metrics 2>/dev/null |
  grep -E '^shardtcp_(tcp_out_oversize_total|ip_drops_total\{.*tx_frame_too_big)' | sed 's/^/  /'

# 4. SIGINT, exit 0, no mbuf in use after shutdown. Timers first: TIME-WAIT
#    (2*MSL) and FIN-WAIT-2 of the connections above expire within seconds.
sleep "$(awk -v m="$STCP_TEST_MSL_MS" -v f="$STCP_TEST_FW2_MS" 'BEGIN { printf "%.1f", (2 * m + f) / 1000 + 1 }')"
check "server exits 0 on SIGINT" bash "$STCP_IT_DIR/fixture.sh" stop-server
report=$(grep -E 'mbufs in use [0-9]+ of' "$STCP_STATE_DIR/server.log" | tail -n 4)
echo "${report:-  (no mempool line in the shutdown report)}" | sed 's/^ */  /'
check "shutdown report: every pool 0 mbufs in use" bash -c '
  [[ -n $1 ]] && ! grep -vqE "mbufs in use 0 of" <<<"$1"' _ "$report"
log "run time $((SECONDS - t0)) s"
finish
