#!/usr/bin/env bash
# shardtcp-httpd vs Linux (nginx on the kernel's TCP), measured in the same run,
# same lab, same client (wrk in the peer namespace). Prints numbers and ratios;
# never passes or fails on time.
#
#   sudo bash tests/bench/bench_vs_linux.sh [--httpd PATH] [--duration S] [--lcores 0|0-1]
#
# Workloads (each wrk run bounded by --duration, default 10 s):
#   cps        new connection per request (Connection: close), GET /   -> connections/s
#   rps        keep-alive, GET /                                       -> requests/s
#   1MiB       keep-alive, GET of a 1 MiB body                         -> MB/s
# Both servers run in namespace stcp-bdp, the client in stcp-bpeer, joined by
# one veth pair (offloads off). shardtcp uses net_af_packet on that veth (a
# virtual PMD: one syscall per burst), so this compares two software paths on
# the same 2-core machine, not a NIC.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
HTTPD=${SRC}/build/app/httpd/shardtcp-httpd
DURATION=10
LCORES=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --httpd) HTTPD=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --lcores) LCORES=$2; shift 2 ;;
    *) echo "usage: $0 [--httpd PATH] [--duration S] [--lcores L]" >&2; exit 2 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "bench: run as root" >&2; exit 2; }
[[ -x $HTTPD ]] || { echo "bench: no shardtcp-httpd at $HTTPD (build first or pass --httpd)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench: wrk not installed (deploy/bootstrap.sh)" >&2; exit 2; }
command -v nginx >/dev/null || { echo "bench: nginx not installed (deploy/bootstrap.sh)" >&2; exit 2; }

export STCP_DP_NS=stcp-bdp STCP_PEER_NS=stcp-bpeer
WORK=$(mktemp -d /tmp/shardtcp-bench.XXXXXX)
NGINX_PID=""
cleanup() {
  [[ -n $NGINX_PID ]] && kill "$NGINX_PID" 2>/dev/null || true
  STCP_TARGET=shardtcp STCP_STATE_DIR=$WORK/st STCP_HTTPD=$HTTPD \
    bash "$SRC/tests/integration/fixture.sh" stop >/dev/null 2>&1 || true
  bash "$SRC/deploy/lab.sh" down >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

peer() { ip netns exec "$STCP_PEER_NS" "$@"; }
URL=http://198.18.0.1:80
MIB_PATH_SHARDTCP=/bytes/1048576
MIB_PATH_LINUX=/1MiB

# run_wrk NAME ARGS... -> prints "value" (requests/s and transfer MB/s)
run_wrk() {
  local out=$WORK/wrk.$1; shift
  peer timeout $((DURATION + 20)) wrk -t2 -c"${CONNS:-32}" -d"${DURATION}s" "$@" >"$out" 2>&1 || true
  local rps mbs errs
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  mbs=$(awk '/^Transfer\/sec:/ {v=$2; if (v ~ /GB/) {sub(/GB/,"",v); v*=1024} else if (v ~ /MB/) {sub(/MB/,"",v)} else if (v ~ /KB/) {sub(/KB/,"",v); v/=1024} else {sub(/B/,"",v); v/=1048576}; printf "%.1f", v}' "$out")
  errs=$(awk '/Socket errors:/ { for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) { sub(/,/, "", $i); e += $i } }
              /Non-2xx/ { e += $NF } END { print e + 0 }' "$out")
  echo "${rps:-0} ${mbs:-0} ${errs:-0}"
}

measure() {  # measure TARGET MIBPATH -> fills R_<target>_<workload>
  local t=$1 mib=$2 r
  r=$(run_wrk "$t.cps" -H 'Connection: close' "$URL/"); eval "R_${t}_cps=(\$r)"
  r=$(run_wrk "$t.rps" "$URL/"); eval "R_${t}_rps=(\$r)"
  r=$(CONNS=8 run_wrk "$t.mib" "$URL$mib"); eval "R_${t}_mib=(\$r)"
}

echo "== shardtcp-httpd (lcores $LCORES) =="
mkdir -p "$WORK/st"
STCP_TARGET=shardtcp STCP_STATE_DIR=$WORK/st STCP_HTTPD=$HTTPD \
  STCP_HTTPD_ARGS="--set eal.lcores=$LCORES --set metrics.enabled=false" \
  STCP_TEST_MSL_MS=1000 bash "$SRC/tests/integration/fixture.sh" start >/dev/null
measure shardtcp "$MIB_PATH_SHARDTCP"
STCP_TARGET=shardtcp STCP_STATE_DIR=$WORK/st STCP_HTTPD=$HTTPD \
  bash "$SRC/tests/integration/fixture.sh" stop >/dev/null

echo "== Linux kernel TCP (nginx, 1 worker per lcore) =="
bash "$SRC/deploy/lab.sh" up --linux >/dev/null
# Same TIME-WAIT pressure relief the client side gets; defaults otherwise.
ip netns exec "$STCP_DP_NS" sysctl -qw net.ipv4.tcp_tw_reuse=1 >/dev/null
mkdir -p "$WORK/www" "$WORK/ngx"
chmod 755 "$WORK" "$WORK/www"  # nginx workers run as www-data
head -c 1048576 /dev/zero | tr '\0' 'a' >"$WORK/www/1MiB"
chmod 644 "$WORK/www/1MiB"
workers=1; [[ $LCORES == *-* || $LCORES == *,* ]] && workers=2
cat >"$WORK/ngx/nginx.conf" <<EOF
worker_processes $workers;
pid $WORK/ngx/nginx.pid;
error_log $WORK/ngx/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 198.18.0.1:80 reuseport backlog=4096;
    root $WORK/www;
    location = / { default_type text/plain; return 200 "Hello from shardtcp\n"; }
  }
}
EOF
ip netns exec "$STCP_DP_NS" nginx -c "$WORK/ngx/nginx.conf" -p "$WORK/ngx" &
NGINX_PID=$!
for _ in $(seq 50); do peer curl -s -o /dev/null --max-time 1 "$URL/" && break; sleep 0.2; done
measure linux "$MIB_PATH_LINUX"
kill "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; NGINX_PID=""
bash "$SRC/deploy/lab.sh" down >/dev/null

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo
echo "| workload (wrk -t2, ${DURATION}s) | shardtcp | Linux (nginx) | shardtcp / Linux | errors (shardtcp, Linux) |"
echo "|---|---|---|---|---|"
echo "| new connection per request, GET / (req/s = conn/s) | ${R_shardtcp_cps[0]} | ${R_linux_cps[0]} | $(ratio "${R_shardtcp_cps[0]}" "${R_linux_cps[0]}") | ${R_shardtcp_cps[2]}, ${R_linux_cps[2]} |"
echo "| keep-alive GET / (req/s) | ${R_shardtcp_rps[0]} | ${R_linux_rps[0]} | $(ratio "${R_shardtcp_rps[0]}" "${R_linux_rps[0]}") | ${R_shardtcp_rps[2]}, ${R_linux_rps[2]} |"
echo "| keep-alive 1 MiB body (MB/s) | ${R_shardtcp_mib[1]} | ${R_linux_mib[1]} | $(ratio "${R_shardtcp_mib[1]}" "${R_linux_mib[1]}") | ${R_shardtcp_mib[2]}, ${R_linux_mib[2]} |"
