#!/usr/bin/env bash
# The README's first command (as root):  bash deploy/demo.sh
#
# Installs what is missing, builds, creates the virtual lab, starts
# shardtcp-httpd on the DPDK side (namespace stcp-dp, 198.18.0.1 on veth
# stcp-dp0 through net_af_packet), fetches pages from it with Linux's own
# clients in namespace stcp-peer (curl, wrk), prints what happened, stops the
# server with SIGINT and tears the lab down (also on failure or Ctrl-C).
# Exit status 0 only if every step worked.
#
# Environment: SHARDTCP_BUILD_DIR (default build), SHARDTCP_CONFIG (default
# config/httpd.toml), SHARDTCP_SKIP_BOOTSTRAP=1, SHARDTCP_SKIP_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${SHARDTCP_BUILD_DIR:-build}
CONFIG=${SHARDTCP_CONFIG:-config/httpd.toml}
DP_NS=stcp-dp
PEER_NS=stcp-peer
URL=http://198.18.0.1
LOG=$(mktemp /tmp/shardtcp-demo.XXXXXX.log)
WORK=$(mktemp -d /tmp/shardtcp-demo.XXXXXX)

# As typed in a root shell (no sudo needed); a non-root user with sudo is
# lifted once, anyone else is told what to do.
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo -E bash "$ROOT/deploy/demo.sh" "$@"; fi
  echo "demo: run as root: bash deploy/demo.sh (in a root shell)" >&2
  exit 1
fi

if [[ -t 1 ]]; then
  bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  bold() { printf '\n== %s\n' "$*"; }
fi
SUMMARY=()
FAILED=0
ok() { SUMMARY+=("  ok    $*"); echo "ok: $*"; }
bad() { SUMMARY+=("  FAIL  $*"); echo "FAIL: $*"; FAILED=$((FAILED + 1)); }
peer() { ip netns exec "$PEER_NS" "$@"; }

SERVER_PID=""
cleanup() {
  local rc=$?
  set +e
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -INT "$SERVER_PID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null
  fi
  bash "$ROOT/deploy/lab.sh" down >/dev/null 2>&1
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. bootstrap ------------------------------------------------------------
if [[ ${SHARDTCP_SKIP_BOOTSTRAP:-0} != 1 ]]; then
  bold "bootstrap (packages, hugepages)"
  bash deploy/bootstrap.sh
fi
NO_HUGE=()
free_huge=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
if [[ ${free_huge:-0} -lt 256 ]] || ! awk '$3 == "hugetlbfs" {f=1} END {exit !f}' /proc/mounts; then
  echo "demo: no usable hugepages: DPDK runs with --no-huge"
  NO_HUGE=(--set eal.no_huge=true)
fi

# ---- 2. build ----------------------------------------------------------------
if [[ ${SHARDTCP_SKIP_BUILD:-0} != 1 ]]; then
  bold "build ($BUILD, Release)"
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSHARDTCP_WITH_DPDK=ON \
    -DSHARDTCP_BUILD_TESTS=OFF >/dev/null
  ninja -C "$BUILD" shardtcp-httpd
fi
HTTPD=$(find "$BUILD" -type f -name shardtcp-httpd -perm -u+x | head -n 1)
[[ -n $HTTPD ]] || { echo "demo: shardtcp-httpd was not built" >&2; exit 1; }
ok "built $HTTPD"

# ---- 3. lab --------------------------------------------------------------------
bold "lab: network namespaces $DP_NS <-> $PEER_NS"
bash deploy/lab.sh up
ok "lab up: $DP_NS/stcp-dp0 (shardtcp, 198.18.0.1) <-> $PEER_NS/stcp-peer0 (Linux, 198.18.0.2)"

# ---- 4. server -------------------------------------------------------------------
bold "start shardtcp-httpd in $DP_NS"
echo "ip netns exec $DP_NS $HTTPD --config $CONFIG ${NO_HUGE[*]}"
# set -m: the server gets its own process group and a default SIGINT
# disposition (bash ignores SIGINT in background jobs otherwise).
set -m
ip netns exec "$DP_NS" "$HTTPD" --config "$CONFIG" "${NO_HUGE[@]}" </dev/null >"$LOG" 2>&1 &
SERVER_PID=$!
set +m
ready=0
for _ in $(seq 1 160); do  # up to 40 s
  kill -0 "$SERVER_PID" 2>/dev/null || break
  code=$(peer curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$URL/" || true)
  [[ $code == 200 ]] && { ready=1; break; }
  sleep 0.25
done
sed 's/^/  | /' "$LOG"
if [[ $ready -ne 1 ]]; then
  bad "shardtcp-httpd did not answer on $URL/ (log: $LOG)"
  printf '%s\n' "${SUMMARY[@]}"
  exit 1
fi
ok "shardtcp-httpd (pid $SERVER_PID) answers on $URL/"
LOG_SEEN=$(wc -l <"$LOG")

# ---- 5. Linux clients in stcp-peer ---------------------------------------------------
bold "curl -v $URL/   (from $PEER_NS: the Linux kernel's TCP talking to shardtcp)"
if peer curl -sv --max-time 5 "$URL/" -o "$WORK/index" 2>"$WORK/v"; then
  grep -E '^[<>*] ' "$WORK/v" | grep -vE '^\* (Expire|Closing|Mark bundle)' | sed 's/^/  /' || true
  echo "  body: $(head -c 200 "$WORK/index")"
  ok "GET / -> $(grep -m1 '^< HTTP' "$WORK/v" | tr -d '\r' | cut -c3-), $(stat -c %s "$WORK/index") body bytes"
else
  bad "curl GET / failed"
fi

bold "keep-alive: two requests on one connection"
if peer curl -sv --max-time 5 -o /dev/null "$URL/" -o /dev/null "$URL/bytes/1000" 2>"$WORK/ka"; then
  grep -E 'Connected to|Re-using|Reusing|^< HTTP' "$WORK/ka" | tr -d '\r' | sed 's/^/  /' || true
  conns=$(grep -c 'Connected to' "$WORK/ka" || true)
  if grep -Eq 'Re-using existing connection|Reusing existing connection' "$WORK/ka" && [[ $conns -eq 1 ]]; then
    ok "keep-alive: 2 responses over 1 TCP connection"
  else
    bad "keep-alive: connection was not re-used ($conns connections)"
  fi
else
  bad "keep-alive curl failed"
fi

bold "GET /bytes/1048576"
size=$(peer curl -s --max-time 20 -o /dev/null -w '%{size_download} %{speed_download}' "$URL/bytes/1048576" || true)
if [[ ${size%% *} == 1048576 ]]; then
  ok "/bytes/1048576: exactly 1048576 bytes ($(awk -v s="${size#* }" 'BEGIN { printf "%.1f MB/s", s / 1e6 }'))"
else
  bad "/bytes/1048576: got '${size%% *}' bytes"
fi

bold "wrk -t2 -c20 -d3s -H 'Connection: close'   (one new TCP connection per request)"
if timeout 30 ip netns exec "$PEER_NS" wrk -t2 -c20 -d3s --timeout 2s -H 'Connection: close' "$URL/" >"$WORK/wrk" 2>&1; then
  sed 's/^/  /' "$WORK/wrk"
  reqs=$(awk '/requests in/ {print $1}' "$WORK/wrk")
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk")
  errs=$(grep -E 'Socket errors:' "$WORK/wrk" | grep -oE '[0-9]+' | awk '{s += $1} END {print s + 0}' || true)
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$WORK/wrk")
  if [[ ${reqs:-0} -gt 0 && $errs -eq 0 && ${non2xx:-0} -eq 0 ]]; then
    ok "wrk: $reqs requests in 3 s, $rps connections/s, 0 socket errors"
  else
    bad "wrk: requests=${reqs:-0} socket errors=$errs non-2xx=${non2xx:-0}"
  fi
else
  sed 's/^/  /' "$WORK/wrk"
  bad "wrk failed"
fi

# ---- 6. metrics (when the exporter is built in and enabled) ----------------------------
metrics_addr=$(awk -F'"' '/^[[:space:]]*listen[[:space:]]*=/ {print $2; exit}' "$CONFIG" 2>/dev/null || true)
metrics_url="http://${metrics_addr:-127.0.0.1:9100}/metrics"
if ip netns exec "$DP_NS" curl -s --max-time 2 "$metrics_url" -o "$WORK/metrics" 2>/dev/null && [[ -s $WORK/metrics ]]; then
  bold "metrics: ip netns exec $DP_NS curl $metrics_url"
  grep -E '^shardtcp_tcp_connections\{' "$WORK/metrics" | awk '$NF != 0' | head -n 12 | sed 's/^/  /' || true
  grep -E '^shardtcp_tcp_(passive_opens|segments_(received|sent)|retransmitted_segments)[_a-z]*(\{| )' "$WORK/metrics" |
    head -n 8 | sed 's/^/  /' || true
  ok "metrics endpoint: ip netns exec $DP_NS curl -s $metrics_url ($(grep -c '^shardtcp_' "$WORK/metrics") samples)"
fi

# ---- 7. stop ---------------------------------------------------------------------------
bold "stop shardtcp-httpd (SIGINT)"
kill -INT "$SERVER_PID"
st=0
for _ in $(seq 1 200); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$SERVER_PID" 2>/dev/null; then
  bad "shardtcp-httpd ignored SIGINT for 20 s"
else
  wait "$SERVER_PID" || st=$?
  SERVER_PID=""
  tail -n +$((LOG_SEEN + 1)) "$LOG" | sed 's/^/  | /'
  if [[ $st -eq 0 ]]; then ok "shardtcp-httpd exited 0 after SIGINT"; else bad "shardtcp-httpd exit status $st"; fi
fi

bash deploy/lab.sh down >/dev/null && ok "lab torn down"

bold "summary"
printf '%s\n' "${SUMMARY[@]}"
echo "  server log: $LOG"
if [[ $FAILED -ne 0 ]]; then
  echo "demo: $FAILED step(s) failed"
  exit 1
fi
echo "demo: all steps passed"
