#!/usr/bin/env bash
# shardtcp-loadgen as a load tester (issue 13).
#
#   test_loadgen.sh path/to/shardtcp-loadgen path/to/shardtcp-httpd
#
# Part A, over net_memif (two DPDK processes joined by shared memory; each in
# a namespace of its own so their /metrics listeners never collide; the memif
# socket is a file in this test's temp dir): loadgen on lcore 0 against
# shardtcp-httpd on lcore 1 (one lcore each when the machine has one).
#   A1 verified downloads of /bytes/100000, byte for byte: zero errors;
#   A2 keep-alive + pipelined (--requests-per-conn 100 --pipeline 8), JSON
#      summary: requests == responses == connections x 100 == the growth of
#      httpd's shardtcp_http_requests_total, zero errors, and the JSON is
#      valid against app/loadgen/summary.schema.json;
#   A3 keep-alive until the end (--requests-per-conn 0, --close client):
#      the loadgen's request count equals httpd's;
#   A4 open loop at LOADGEN_TEST_RATE conn/s (default 2000: the lab machine
#      is shared) for 5 s: the achieved open rate (opened_per_s) within 2%.
# Part B, in a veth lab of its own (stcp-lt-dp: shardtcp on net_af_packet;
# stcp-lt-peer: Linux 198.18.0.2 with nginx and a stalled server):
#   B1 nginx, short-lived: zero errors, nginx's access log has one line per
#      connection;
#   B2 nginx, keep-alive (50 requests per connection): the access log grows
#      by exactly the number of requests;
#   B2b nginx with --close rst: every connection ends with our RST, no error;
#   B4 --raw 1000:1000 against a Linux echo server, 5 exchanges per
#      connection: every exchange answered;
#   B5 tuple exhaustion: 10 source ports, client close (our TIME-WAIT keeps
#      them), 50 connections: 10 good, 40 `tuple_exhausted`, and the run ends;
#   B3 a server that accepts and never answers, open loop: every connection
#      times out (--request-timeout 1) and the stall shows in the total
#      latency (p50 >= 1 s), not as a lower rate with good latency.
# Every run is bounded by --timeout-s and `timeout`; namespaces go on exit.
# Nothing is asserted on time except the open-loop rate of A4 (the point of
# that mode), with a 2% tolerance.
set -uo pipefail
LOADGEN=${1:?usage: test_loadgen.sh LOADGEN HTTPD}
HTTPD=${2:?usage: test_loadgen.sh LOADGEN HTTPD}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
SCHEMA=$SRC/app/loadgen/summary.schema.json
RATE=${LOADGEN_TEST_RATE:-2000}
NS_A=${STCP_LT_NS_A:-stcp-lt-a}
NS_B=${STCP_LT_NS_B:-stcp-lt-b}
DP_NS=${STCP_LT_DP_NS:-stcp-lt-dp}
PEER_NS=${STCP_LT_PEER_NS:-stcp-lt-peer}
PEER_IP=198.18.0.2
PY=/usr/bin/python3

[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root (namespaces)"; exit 77; }
[[ -x $LOADGEN && -x $HTTPD ]] || { echo "FAIL: binaries not built"; exit 1; }
$PY -c 'import jsonschema' 2>/dev/null || { echo "SKIP: python3 jsonschema missing"; exit 77; }

work=$(mktemp -d)
chmod 755 "$work"  # nginx's worker (www-data) serves files from here
HTTPD_PID=""
fails=0
ns_del() {
  local ns pids
  for ns in "$@"; do
    ip netns list | awk '{print $1}' | grep -qx "$ns" || continue
    pids=$(ip netns pids "$ns" 2>/dev/null)
    [[ -n $pids ]] && kill $pids 2>/dev/null && sleep 0.5
    pids=$(ip netns pids "$ns" 2>/dev/null)
    [[ -n $pids ]] && kill -9 $pids 2>/dev/null
    ip netns del "$ns"
  done
}
cleanup() {
  [[ -n $HTTPD_PID ]] && kill -INT "$HTTPD_PID" 2>/dev/null
  ns_del "$NS_A" "$NS_B" "$DP_NS" "$PEER_NS"
  rm -rf "$work"
}
trap cleanup EXIT
check() {  # NAME COMMAND...: one verdict line
  local name=$1
  shift
  if "$@"; then echo "PASS: $name"; else echo "FAIL: $name"; fails=$((fails + 1)); fi
}
# jq-like lookups without jq: json FILE EXPR (python expression on d)
json() { $PY -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
valid_json() {
  $PY - "$SCHEMA" "$1" <<'PYEOF'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
jsonschema.validate(json.load(open(sys.argv[2])), schema)
PYEOF
}

huge_args=()
free_huge=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
if [[ ${free_huge:-0} -lt 256 ]] || ! awk '$3 == "hugetlbfs" {f=1} END {exit !f}' /proc/mounts; then
  huge_args=(--set eal.no_huge=true)
fi
lc_httpd=1
[[ $(nproc) -lt 2 ]] && lc_httpd=0

# ---- Part A: net_memif -------------------------------------------------------
ns_del "$NS_A" "$NS_B"
for ns in "$NS_A" "$NS_B"; do ip netns add "$ns" && ip -n "$ns" link set lo up; done
SOCK=$work/memif.sock
start_httpd() {
  rm -f "$SOCK"
  ip netns exec "$NS_A" timeout 600 "$HTTPD" --config "$SRC/config/httpd.toml" "${huge_args[@]}" \
    --set "eal.vdevs=[\"net_memif0,role=server,socket=$SOCK,socket-abstract=no\"]" \
    --set eal.lcores=$lc_httpd --set net.address=198.18.0.1/24 --set 'app.listen_ports=[8080]' \
    >>"$work/httpd.out" 2>&1 &
  HTTPD_PID=$!
  for _ in $(seq 1 100); do [[ -S $SOCK ]] && break; sleep 0.1; done
  [[ -S $SOCK ]] || { echo "FAIL: httpd did not create the memif socket"; cat "$work/httpd.out"; exit 1; }
}
stop_httpd() { kill -INT "$HTTPD_PID"; wait "$HTTPD_PID"; HTTPD_PID=""; }
start_httpd

lg_memif() {  # NAME TIMEOUT_S [args...]
  local name=$1 t=$2
  shift 2
  timeout $((t + 30)) ip netns exec "$NS_B" "$LOADGEN" --config "$SRC/config/httpd.toml" \
    "${huge_args[@]}" --set "eal.vdevs=[\"net_memif0,role=client,socket=$SOCK,socket-abstract=no\"]" \
    --set eal.lcores=0 --set net.address=198.18.0.2/24 --target 198.18.0.1:8080 \
    --timeout-s "$t" --json "$work/$name.json" "$@" >"$work/$name.out" 2>&1
  local rc=$?
  grep -E '^shardtcp-loadgen: (summary|latency|failures|[0-9]+/)' "$work/$name.out" | sed "s/^/  $name: /"
  return $rc
}

lg_memif a1 60 --path /bytes/100000 --expect-bytes 100000 --connections 300 --concurrency 32 --quiet
a1=$?
check "A1 memif: 300 verified /bytes/100000 downloads, exit 0" [ $a1 -eq 0 ]
check "A1 memif: byte for byte, zero errors" \
  grep -q '^shardtcp-loadgen: 300/300 downloads verified byte for byte' "$work/a1.out"

# httpd's own count of requests (shardtcp_http_requests_total on its /metrics).
httpd_requests() {
  ip netns exec "$NS_A" curl -s --max-time 5 http://127.0.0.1:9100/metrics |
    awk '/^shardtcp_http_requests_total\{/ {s += $2} END {printf "%d\n", s}'
}
before=$(httpd_requests)
lg_memif a2 60 --path /bytes/1000 --expect-bytes 1000 --connections 20 --concurrency 10 \
  --requests-per-conn 100 --pipeline 8 --quiet
a2=$?
check "A2 memif keep-alive + pipeline 8: exit 0" [ $a2 -eq 0 ]
check "A2 requests == responses == 2000, zero errors" \
  [ "$(json "$work/a2.json" '(d["requests"], d["responses"], sum(d["errors"].values()))')" = "(2000, 2000, 0)" ]
check "A2 --json valid against summary.schema.json" valid_json "$work/a2.json"
after=$(httpd_requests)
check "A2 httpd counted the same 2000 requests (+$((after - before)))" [ $((after - before)) -eq 2000 ]
before=$after

lg_memif a3 60 --path /bytes/100 --concurrency 8 --requests-per-conn 0 --close client --duration 2 \
  --quiet
a3=$?
check "A3 memif keep-alive until the end, client close: exit 0, zero errors" \
  [ $a3 -eq 0 -a "$(json "$work/a3.json" 'sum(d["errors"].values())')" = 0 ]
check "A3 every request answered, more requests than connections" \
  $PY -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (d['requests']==d['responses'] and d['responses']>d['connections']))" "$work/a3.json"
after=$(httpd_requests)
check "A3 httpd's request counter equals the loadgen's ($((after - before)))" \
  [ $((after - before)) -eq "$(json "$work/a3.json" 'd["requests"]')" ]

# A fresh server for the rate run: no TIME-WAIT 4-tuples left from A1-A3
# that a new SYN could meet (each such meeting costs a SYN retransmission).
stop_httpd
start_httpd
lg_memif a4 60 --path /bytes/100 --rate "$RATE" --duration 5
a4=$?
grep -E '^shardtcp-loadgen: \[' "$work/a4.out" | head -6 | sed 's/^/  a4 live: /'
check "A4 open loop $RATE conn/s: exit 0, zero errors" [ $a4 -eq 0 ]
check "A4 achieved open rate within 2% of $RATE/s ($(json "$work/a4.json" 'round(d["opened_per_s"])'))" \
  $PY -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(abs(d['opened_per_s']-$RATE) > 0.02*$RATE)" "$work/a4.json"
check "A4 live progress lines printed off a terminal" grep -qE '^shardtcp-loadgen: \[ +1s\] conn/s' "$work/a4.out"

stop_httpd
ns_del "$NS_A" "$NS_B"

# ---- Part B: veth lab, nginx and a stalled server -----------------------------
ns_del "$DP_NS" "$PEER_NS"
ip netns add "$DP_NS" && ip netns add "$PEER_NS" || { echo "FAIL: namespaces"; exit 1; }
ip -n "$DP_NS" link set lo up
ip -n "$PEER_NS" link set lo up
ip -n "$DP_NS" link add lt-dp0 type veth peer name lt-peer0 netns "$PEER_NS"
for f in rx tx tso gso gro sg; do
  ip netns exec "$DP_NS" ethtool -K lt-dp0 "$f" off >/dev/null 2>&1
  ip netns exec "$PEER_NS" ethtool -K lt-peer0 "$f" off >/dev/null 2>&1
done
ip -n "$DP_NS" link set lt-dp0 up
ip -n "$PEER_NS" addr add "$PEER_IP/24" dev lt-peer0
ip -n "$PEER_NS" link set lt-peer0 up
ip netns exec "$PEER_NS" sysctl -qw net.ipv4.tcp_max_syn_backlog=4096 net.core.somaxconn=4096

head -c 10000 /dev/urandom >"$work/small.bin"
chmod 644 "$work/small.bin"
SMALL_SHA=$(sha256sum "$work/small.bin" | cut -d' ' -f1)
have_nginx=0
if command -v nginx >/dev/null; then
  mkdir -p "$work/nginx-tmp"
  cat >"$work/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log $work/access.log;
  keepalive_requests 10000;
  default_type application/octet-stream;
  client_body_temp_path $work/nginx-tmp/body;
  proxy_temp_path $work/nginx-tmp/proxy;
  fastcgi_temp_path $work/nginx-tmp/fastcgi;
  uwsgi_temp_path $work/nginx-tmp/uwsgi;
  scgi_temp_path $work/nginx-tmp/scgi;
  server { listen $PEER_IP:8080 backlog=4096; root $work; }
}
NGX
  ip netns exec "$PEER_NS" nginx -p "$work" -c "$work/nginx.conf" -e "$work/nginx-error.log" \
    </dev/null >"$work/nginx.out" 2>&1 &
  for _ in $(seq 1 40); do
    ip netns exec "$PEER_NS" curl -s -o /dev/null --max-time 1 "http://$PEER_IP:8080/small.bin" &&
      { have_nginx=1; break; }
    sleep 0.25
  done
fi
# A Linux echo server for --raw.
ip netns exec "$PEER_NS" timeout 300 $PY - "$PEER_IP" 9001 <<'PYEOF' &
import socket, sys, threading
def serve(c):
    with c:
        while True:
            d = c.recv(65536)
            if not d:
                return
            c.sendall(d)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1024)
for _ in range(100000):
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PYEOF
# The stalled server: accepts every connection and never answers.
ip netns exec "$PEER_NS" timeout 300 $PY - "$PEER_IP" 9000 <<'PYEOF' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(4096)
held = []
while len(held) < 100000:
    c, _ = s.accept()
    held.append(c)  # kept open, never read from or written to
PYEOF

lg_lab() {  # NAME TIMEOUT_S [args...]
  local name=$1 t=$2
  shift 2
  timeout $((t + 30)) ip netns exec "$DP_NS" "$LOADGEN" --config "$SRC/config/httpd.toml" \
    "${huge_args[@]}" --set 'eal.vdevs=["net_af_packet0,iface=lt-dp0"]' --set eal.lcores=0 \
    --set metrics.enabled=false --set net.address=198.18.0.1/24 --timeout-s "$t" \
    --json "$work/$name.json" --quiet "$@" >"$work/$name.out" 2>&1
  local rc=$?
  grep -E '^shardtcp-loadgen: (summary|latency|failures|[0-9]+/)' "$work/$name.out" | sed "s/^/  $name: /"
  return $rc
}
log_lines() { if [[ -f $work/access.log ]]; then wc -l <"$work/access.log"; else echo 0; fi; }

if [[ $have_nginx -eq 1 ]]; then
  before=$(log_lines)
  lg_lab b1 60 --target "$PEER_IP:8080" --path /small.bin --sha256 "$SMALL_SHA" \
    --connections 500 --concurrency 16
  b1=$?
  after=$(log_lines)
  check "B1 nginx short-lived: 500 verified by sha256, exit 0" [ $b1 -eq 0 ]
  check "B1 nginx access log +500 lines (got +$((after - before)))" [ $((after - before)) -eq 500 ]
  before=$after
  lg_lab b2 60 --target "$PEER_IP:8080" --path /small.bin --sha256 "$SMALL_SHA" \
    --connections 10 --concurrency 10 --requests-per-conn 50 --close client
  b2=$?
  after=$(log_lines)
  n=$(json "$work/b2.json" 'd["responses"]')
  check "B2 nginx keep-alive: exit 0, 500 responses (got $n)" [ $b2 -eq 0 -a "$n" = 500 ]
  check "B2 nginx access log +500 lines (got +$((after - before)))" [ $((after - before)) -eq 500 ]
  lg_lab b2b 60 --target "$PEER_IP:8080" --path /small.bin --sha256 "$SMALL_SHA" \
    --connections 100 --concurrency 8 --requests-per-conn 3 --close rst
  b2b=$?
  check "B2b nginx --close rst: exit 0, 300 responses" \
    [ $b2b -eq 0 -a "$(json "$work/b2b.json" 'd["responses"]')" = 300 ]
  check "B2b every connection closed by our RST (100 aborted, 0 normal)" \
    grep -q '^shardtcp-loadgen: close reasons: normal 0 reset 0 aborted 100 ' "$work/b2b.out"
  lg_lab b5 30 --target "$PEER_IP:8080" --path /small.bin --sha256 "$SMALL_SHA" \
    --connections 50 --concurrency 1 --close client --requests-per-conn 1 --src-ports 20000-20009
  b5=$?
  check "B5 tuple exhaustion: 10 ok, 40 tuple_exhausted, run ended (exit 1)" \
    [ $b5 -eq 1 -a "$(json "$work/b5.json" '(d["connections_ok"], d["errors"]["tuple_exhausted"])')" = "(10, 40)" ]
else
  echo "SKIP: B1/B2/B2b/B5 (nginx not available or did not start)"
fi

lg_lab b4 30 --target "$PEER_IP:9001" --raw 1000:1000 --connections 50 --concurrency 8 \
  --requests-per-conn 5 --close client
b4=$?
check "B4 --raw 1000:1000 x5 against a Linux echo server: exit 0, 250 exchanges" \
  [ $b4 -eq 0 -a "$(json "$work/b4.json" '(d["responses"], d["body_bytes"])')" = "(250, 250000)" ]

lg_lab b3 30 --target "$PEER_IP:9000" --path / --rate 50 --duration 1 --request-timeout 1
b3=$?
check "B3 stalled server: exit 1 (failures)" [ $b3 -eq 1 ]
check "B3 every connection timed out ($(json "$work/b3.json" 'd["errors"]["timeout"]')/50)" \
  [ "$(json "$work/b3.json" 'd["errors"]["timeout"]')" = 50 ]
check "B3 the stall is in the latency: total p50 >= 1 s, connect p50 < 1 s" \
  $PY -c "import json,sys; l=json.load(open(sys.argv[1]))['latency_us']; sys.exit(not (l['total']['p50']>=1000000 and l['connect']['p50']<1000000))" "$work/b3.json"
check "B3 --json valid against summary.schema.json" valid_json "$work/b3.json"

echo "test_loadgen: $fails failure(s)"
[[ $fails -eq 0 ]]
