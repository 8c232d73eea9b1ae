#!/usr/bin/env bash
# Our client side against Linux servers (issue 3 integration, issue 4 active
# opens): shardtcp-loadgen (active opens on the shardtcp stack, in the DPDK
# namespace) downloads files from python3's http.server and from nginx, both
# on the peer's kernel TCP, verified by SHA-256 (a random 5 MiB file) and byte
# for byte (the lab pattern), on a clean link, through 5% loss, and through
# delay + reordering; once with 2 lcores (source ports chosen so each flow
# hashes to its opening core: no segment may reach a core without its
# connection).
#
#   test_client_netem.sh path/to/shardtcp-loadgen
#
# Topology (its own three namespaces, so it never disturbs the shared lab):
#   stcp-cn-dp [stcp-dp0: shardtcp 198.18.0.1/24, DPDK net_af_packet]
#     <veth> stcp-cn-mid [bridge br0: mid-dp + mid-peer, impairments here]
#     <veth> stcp-cn-peer [stcp-peer0: kernel 198.18.0.2/24, http.server :8000,
#                          nginx :8080]
# Impairments sit in the middle namespace, on the bridge ports, so both ends
# see real network loss. (Dropping in the sender's own OUTPUT hook or qdisc
# is not: Linux TCP sees a local transmit error and simply sends the segment
# again, no loss recovery happens.)
#   loss:    tc netem `loss 5%` on both ports; without sch_netem (e.g. a
#            minimal VM kernel), nftables (bridge family, forward hook) drops
#            5% of the frames in both directions.
#   reorder: tc netem `delay 5ms reorder 25% 50%` on both ports; without
#            sch_netem, a stand-in on the server -> client port: nftables
#            gives a random 25% of the frames skb priority 1:20 and an HTB
#            qdisc sends class 1:20 through a slow (20 Mbit/s) class while the
#            rest passes at once, so those frames arrive late, behind later
#            ones. The test checks that reordering really happened (our
#            stack's out-of-order counter).
# On a failed impaired run the capture taken in the peer namespace (tcpdump,
# headers only, -c bounded) is kept and its path printed.
# Every run is bounded by --timeout-s and `timeout`; namespaces go on exit.
set -uo pipefail
export STCP_DP_NS=${STCP_CLIENT_DP_NS:-stcp-cn-dp}
export STCP_PEER_NS=${STCP_CLIENT_PEER_NS:-stcp-cn-peer}
MID_NS=${STCP_CLIENT_MID_NS:-stcp-cn-mid}
source "$(dirname "$0")/lib.sh"

LOADGEN=${1:-${STCP_LOADGEN:-}}
[[ -x $LOADGEN ]] || { echo "FAIL: shardtcp-loadgen not built: '$LOADGEN'"; exit 1; }
SIZE=${CLIENT_NETEM_BYTES:-4194304}            # pattern file, 4 MiB
RAND_SIZE=${CLIENT_NETEM_RAND_BYTES:-5242880}  # random file, 5 MiB
CONNS=${CLIENT_NETEM_CONNS:-4}
LOSS=${CLIENT_NETEM_LOSS:-loss 5%}
REORDER=${CLIENT_NETEM_REORDER:-delay 5ms reorder 25% 50%}
LOSS_PER10K=${CLIENT_NETEM_LOSS_PER10K:-500}   # nftables fallback: 5%
REORDER_PCT=${CLIENT_NETEM_REORDER_PCT:-25}    # HTB fallback: share of frames held back
REORDER_RATE=${CLIENT_NETEM_REORDER_RATE:-20mbit}
PY_PORT=8000
NGINX_PORT=8080
PEER_IP=198.18.0.2
KEEP_DIR=${STCP_STATE_DIR:-/tmp/shardtcp-integration-client}/client-netem

work=$(mktemp -d)
HTTP_PID=""
NGINX_PID=""
DUMP_PID=""
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
mid() { ip netns exec "$MID_NS" "$@"; }

# impair_netem ARGS...: netem on both bridge ports; 1 if the kernel lacks it.
impair_netem() {
  if mid tc qdisc add dev mid-dp root netem "$@" 2>/dev/null &&
    mid tc qdisc add dev mid-peer root netem "$@" 2>/dev/null; then
    return 0
  fi
  mid tc qdisc del dev mid-dp root 2>/dev/null
  return 1
}
# impair_loss: prints what it did in IMPAIR; 1 if nothing is available.
IMPAIR=""
impair_loss() {
  # shellcheck disable=SC2086
  if impair_netem $LOSS; then IMPAIR="tc netem $LOSS (both directions)"; return 0; fi
  mid nft -f - <<NFT || return 1
table bridge stcp_loss {
  chain lossy { type filter hook forward priority 0; policy accept; numgen random mod 10000 < $LOSS_PER10K drop; }
}
NFT
  IMPAIR="nftables bridge loss $((LOSS_PER10K / 100))% (both directions; no sch_netem)"
}
impair_reorder() {
  # shellcheck disable=SC2086
  if impair_netem $REORDER; then IMPAIR="tc netem $REORDER (both directions)"; return 0; fi
  # Stand-in (header comment): HTB picks the class from skb->priority when it
  # names one of its leaf classes; nftables sets it for a random share.
  mid tc qdisc add dev mid-dp root handle 1: htb default 10 || return 1
  mid tc class add dev mid-dp parent 1: classid 1:10 htb rate 10gbit quantum 60000 || return 1
  mid tc class add dev mid-dp parent 1: classid 1:20 htb rate "$REORDER_RATE" ceil "$REORDER_RATE" \
    burst 1600 cburst 1600 quantum 1514 || return 1
  # A short queue keeps the hold-back near netem's few milliseconds (8 frames
  # at 20 Mbit/s: <= 5 ms); beyond it frames are dropped, i.e. lost.
  mid tc qdisc add dev mid-dp parent 1:20 handle 20: pfifo limit "${CLIENT_NETEM_REORDER_QLEN:-8}" ||
    return 1
  mid nft -f - <<NFT || return 1
table bridge stcp_reorder {
  chain hold {
    type filter hook forward priority 0; policy accept;
    oifname "mid-dp" numgen random mod 100 < $REORDER_PCT meta priority set 1:20
  }
}
NFT
  IMPAIR="reordering stand-in: $REORDER_PCT% of server->client frames through a $REORDER_RATE HTB class (no sch_netem)"
}
impair_off() {
  mid tc qdisc del dev mid-dp root 2>/dev/null
  mid tc qdisc del dev mid-peer root 2>/dev/null
  mid nft delete table bridge stcp_loss 2>/dev/null
  mid nft delete table bridge stcp_reorder 2>/dev/null
  return 0
}
cleanup() {
  [[ -n $DUMP_PID ]] && kill "$DUMP_PID" 2>/dev/null
  [[ -n $HTTP_PID ]] && kill "$HTTP_PID" 2>/dev/null
  [[ -n $NGINX_PID ]] && kill "$NGINX_PID" 2>/dev/null
  wait 2>/dev/null
  topo_down
  rm -rf "$work"
}
trap cleanup EXIT

# The project's body pattern (app/common/body_pattern.h, as shardtcp-httpd's
# /bytes/N), written by the loadgen itself so there is one definition.
"$LOADGEN" --write-pattern "$SIZE" >"$work/pattern.bin"
[[ $(stat -c %s "$work/pattern.bin") -eq $SIZE ]] || { echo "FAIL: pattern file"; exit 1; }
head -c "$RAND_SIZE" /dev/urandom >"$work/random.bin"
RAND_SHA=$(sha256sum "$work/random.bin" | cut -d' ' -f1)
log "random.bin: $RAND_SIZE bytes, sha256 $RAND_SHA"
head -c 10000 "$work/random.bin" >"$work/small.bin"
SMALL_SHA=$(sha256sum "$work/small.bin" | cut -d' ' -f1)
chmod -R a+rX "$work"

topo_up || { echo "FAIL: could not build the test topology"; exit 1; }
# Linux servers. python3's http.server: HTTP/1.0, closes after each response.
(cd "$work" && exec ip netns exec "$STCP_PEER_NS" "$PY" -m http.server --bind "$PEER_IP" "$PY_PORT" \
  >"$work/http.log" 2>&1) &
HTTP_PID=$!
# nginx (nginx-light) with a config of its own in the temp dir.
have_nginx=0
if command -v nginx >/dev/null; then
  mkdir -p "$work/nginx-tmp"
  cat >"$work/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  sendfile on;
  default_type application/octet-stream;
  client_body_temp_path $work/nginx-tmp/body;
  proxy_temp_path $work/nginx-tmp/proxy;
  fastcgi_temp_path $work/nginx-tmp/fastcgi;
  uwsgi_temp_path $work/nginx-tmp/uwsgi;
  scgi_temp_path $work/nginx-tmp/scgi;
  server { listen $PEER_IP:$NGINX_PORT; root $work; }
}
EOF
  ip netns exec "$STCP_PEER_NS" nginx -p "$work" -c "$work/nginx.conf" -e "$work/nginx-error.log" \
    </dev/null >"$work/nginx.out" 2>&1 &
  NGINX_PID=$!
  have_nginx=1
fi
for port in "$PY_PORT" $([[ $have_nginx -eq 1 ]] && echo "$NGINX_PORT"); do
  for _ in $(seq 1 40); do
    peer curl -s -o /dev/null --max-time 1 "http://$PEER_IP:$port/pattern.bin" && break
    sleep 0.25
  done
done
if [[ $have_nginx -eq 1 ]] &&
  ! peer curl -s -o /dev/null --max-time 2 "http://$PEER_IP:$NGINX_PORT/pattern.bin"; then
  echo "SKIP: nginx did not start:"; tail -n 5 "$work/nginx-error.log" "$work/nginx.out" 2>/dev/null
  have_nginx=0
fi

huge_args=()
free_huge=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
if [[ ${free_huge:-0} -lt 256 ]] || ! awk '$3 == "hugetlbfs" {f=1} END {exit !f}' /proc/mounts; then
  huge_args=(--set eal.no_huge=true)
fi

# run_loadgen NAME TIMEOUT_S PORT FILE [loadgen args...]: one loadgen run,
# output in $work/NAME.out; FILE pattern.bin is checked byte for byte,
# random.bin by SHA-256. Prints the summary lines; returns loadgen's status.
run_loadgen() {
  local name=$1 t=$2 port=$3 file=$4
  shift 4
  local -a verify
  case $file in
    random.bin) verify=(--expect-bytes "$RAND_SIZE" --sha256 "$RAND_SHA") ;;
    small.bin) verify=(--expect-bytes 10000 --sha256 "$SMALL_SHA") ;;
    *) verify=(--expect-bytes "$SIZE") ;;
  esac
  # Extra arguments go last, so they can override --connections.
  timeout $((t + 30)) ip netns exec "$STCP_DP_NS" "$LOADGEN" --config "$STCP_SRC/config/httpd.toml" \
    "${huge_args[@]}" --set metrics.enabled=false \
    --connect "$PEER_IP:$port" --path "/$file" "${verify[@]}" \
    --connections "$CONNS" --timeout-s "$t" "$@" >"$work/$name.out" 2>&1
  local rc=$?
  grep -E 'shardtcp-loadgen: (conn .*FAILED|summary|close reasons|failures|core|FAILED|[0-9]+/)' \
    "$work/$name.out" | sed 's/^/  /'
  if [[ $rc -ne 0 ]]; then
    echo "---- $name: loadgen output (tail) ----"
    tail -n 30 "$work/$name.out"
  fi
  return $rc
}
# verified NAME FILE: the run's last line says all downloads were verified.
verified() {
  local how="byte for byte"
  [[ $2 == random.bin ]] && how="by sha256"
  grep -q "^shardtcp-loadgen: $CONNS/$CONNS downloads verified $how" "$work/$1.out"
}
# Sum of a per-core field of loadgen's "core N" lines, e.g. "out-of-order".
core_sum() {
  grep -E '^shardtcp-loadgen: core [0-9]+ ' "$work/$1.out" |
    sed -nE "s/.*$2 ([0-9]+).*/\1/p" | awk '{s += $1} END {print s + 0}'
}
server_retrans() { peer nstat -az TcpRetransSegs 2>/dev/null | awk '/TcpRetransSegs/ {print $2}'; }
# Capture in the peer namespace during an impaired run (headers only).
dump_start() {
  DUMP_FILE=$work/$1.pcap
  timeout "$2" ip netns exec "$STCP_PEER_NS" tcpdump -i stcp-peer0 -n -s 96 -c 400000 -U \
    -w "$DUMP_FILE" tcp >/dev/null 2>&1 &
  DUMP_PID=$!
  sleep 0.5
}
dump_stop() {  # dump_stop KEEP(0|1); CLIENT_NETEM_KEEP_CAPTURES=1 keeps every capture
  [[ -n $DUMP_PID ]] && kill "$DUMP_PID" 2>/dev/null
  wait "$DUMP_PID" 2>/dev/null
  DUMP_PID=""
  if [[ ($1 -eq 1 || ${CLIENT_NETEM_KEEP_CAPTURES:-0} == 1) && -s $DUMP_FILE ]]; then
    mkdir -p "$KEEP_DIR"
    cp "$DUMP_FILE" "$KEEP_DIR/"
    cp "$work"/*.out "$KEEP_DIR/" 2>/dev/null
    echo "  capture kept: $KEEP_DIR/$(basename "$DUMP_FILE") (loadgen output beside it)"
  fi
}
# impaired NAME TIMEOUT PORT FILE [args]: run under the current impairment
# ($IMPAIR), capture, check; keeps the capture on failure.
impaired() {
  local name=$1 t=$2 port=$3 file=$4
  shift 4
  dump_start "$name" $((t + 40))
  run_loadgen "$name" "$t" "$port" "$file" "$@"
  local ok=1
  verified "$name" "$file" || ok=0
  dump_stop $((1 - ok))
  check "$name ($IMPAIR): $CONNS downloads of $file from :$port verified" test $ok -eq 1
}

# ---- clean link ----
log "clean link: $CONNS downloads per run"
IMPAIR="clean link"
impaired clean 60 "$PY_PORT" pattern.bin
impaired clean_sha 60 "$PY_PORT" random.bin
# Negative control: the verification must be able to fail (one wrong digest).
run_loadgen wrong_sha 30 "$PY_PORT" random.bin --connections 1 --sha256 "$(printf '0%.0s' {1..64})" \
  >/dev/null
wrong_rc=$?
check "a wrong --sha256 fails the run (rc=$wrong_rc, sha256_mismatch reported)" \
  bash -c "[[ $wrong_rc -eq 1 ]] && grep -q 'failures: sha256_mismatch 1' '$work/wrong_sha.out'"
if [[ $have_nginx -eq 1 ]]; then
  impaired clean_nginx 60 "$NGINX_PORT" random.bin --set eal.lcores=0-1
  # Source ports chosen by owner_core(): on a clean link no segment may find
  # a core without its connection (late duplicates need loss or reordering).
  # Short connections for a bounded time (--duration), 16 at a time on 2
  # lcores: many source ports, each on the core its hash names. A source
  # port whose hash named the other core would fail its handshake (the
  # SYN-ACK would be steered to a core without the connection and reset),
  # so "all verified on both cores" is the check. Segments that found no
  # connection at all are printed: on this link they can only be late
  # duplicates after a close (the af_packet ring drops frames when the
  # polling core is descheduled, which causes retransmissions).
  dump_start short_nginx 70
  run_loadgen short_nginx 30 "$NGINX_PORT" small.bin --set eal.lcores=0-1 \
    --connections 0 --duration 2 --concurrency 16
  short_ok=$(sed -nE 's/^shardtcp-loadgen: summary: [0-9]+ connection\(s\), ([0-9]+) ok, ([0-9]+) failed.*/\1 \2/p' \
    "$work/short_nginx.out")
  check "short connections for 2 s, 2 lcores: all verified, none failed (ok failed: ${short_ok:-?})" \
    grep -qE "^shardtcp-loadgen: ([1-9][0-9]*)/\1 downloads verified by sha256" "$work/short_nginx.out"
  short_cores=$(grep -E '^shardtcp-loadgen: core [0-9]+ ' "$work/short_nginx.out" |
    grep -cvE 'active opens 0,')
  check "short connections: both cores made active opens ($short_cores)" test "$short_cores" -eq 2
  wrong=$(core_sum short_nginx "no-connection drops")
  log "short connections: $wrong segment(s) found no connection (late duplicates)"
  dump_stop $((wrong > 0 ? 1 : 0))
else
  echo "SKIP: nginx not available"
fi

# ---- 5% loss ----
if impair_loss; then
  log "impairment in $MID_NS: $IMPAIR"
  before=$(server_retrans)
  impaired loss 240 "$PY_PORT" random.bin
  after=$(server_retrans)
  log "Linux server retransmitted $((${after:-0} - ${before:-0})) segment(s) during the lossy run"
  # The impairment must have been real: the server had to recover losses.
  check "the loss was real (server retransmissions > 0)" test $((${after:-0} - ${before:-0})) -gt 0
  [[ $have_nginx -eq 1 ]] && impaired loss_nginx 240 "$NGINX_PORT" pattern.bin
  # Two lcores: each core opens its own connections with source ports whose
  # flow hash returns to it (DESIGN.md, active opens); both must be used.
  if [[ ${CLIENT_NETEM_MULTICORE:-1} == 1 ]]; then
    impaired loss_2cores 240 "$PY_PORT" random.bin --set eal.lcores=0-1
    grep -E '^shardtcp: core [0-9]+ \(lcore' "$work/loss_2cores.out" | sed 's/^/  /'
    cores_used=$(grep -E '^shardtcp: core [0-9]+ \(lcore' "$work/loss_2cores.out" |
      grep -cvE 'active opens 0,')
    check "2 lcores: both cores made active opens ($cores_used)" test "${cores_used:-0}" -eq 2
  fi
  impair_off
else
  echo "SKIP: neither tc netem nor nftables bridge filtering is available"
fi

# ---- delay + reordering ----
if impair_reorder; then
  log "impairment in $MID_NS: $IMPAIR"
  impaired reorder 240 "$PY_PORT" random.bin
  ooo=$(core_sum reorder "out-of-order")
  check "the reordering was real (our stack queued $ooo out-of-order segment(s))" test "$ooo" -gt 0
  [[ $have_nginx -eq 1 ]] && impaired reorder_nginx 240 "$NGINX_PORT" random.bin --set eal.lcores=0-1
  impair_off
else
  echo "SKIP: no way to reorder on this kernel (neither sch_netem nor htb + nftables)"
fi
finish
