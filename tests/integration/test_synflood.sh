#!/usr/bin/env bash
# SYN flood (issue 4 "SYN floods"): a bounded flood of spoofed SYNs must leave
# a legitimate client served and the server's memory bounded.
#
#   test_synflood.sh [path/to/shardtcp_synflood]
#
# Set-up: its own shardtcp-httpd (via fixture.sh, with its own state dir) in
# its own lab namespaces (default stcp-sf-dp / stcp-sf-peer, so it can never
# disturb the shared integration lab), started with
#   net.gateway = 198.18.0.2   SYN-ACKs to the spoofed 198.19.0.0/16 sources go
#                              to the peer's MAC; the peer kernel (ip_forward
#                              off) drops them. Nothing leaves the namespaces.
#   tcp.syn_backlog = 256      small SYN queue, so SYN cookies take over soon.
# Then, from the peer namespace: SYNFLOOD_COUNT (100,000) spoofed SYNs with
# random sources in 198.19.0.0/16 (bounded by SYNFLOOD_MAX_S seconds) while a
# bounded curl loop from 198.18.0.2 keeps requesting GET /.
#
# Checks: every SYN sent; curl kept getting 200s during the flood (and after);
# the server is alive and exits 0 on SIGINT; SYN cookies were sent
# (shardtcp_tcp_syncookies_sent_total), the SYN queue overflowed
# (listen_overflows_total); the half-open count (SYN-RECEIVED gauge, sampled
# through the flood) never exceeded syn_backlog x cores; VmRSS grew by less
# than SYNFLOOD_RSS_MAX_KB (before/after printed).
set -uo pipefail
export STCP_DP_NS=${STCP_SYNFLOOD_DP_NS:-stcp-sf-dp}
export STCP_PEER_NS=${STCP_SYNFLOOD_PEER_NS:-stcp-sf-peer}
export STCP_TARGET=shardtcp
source "$(dirname "$0")/lib.sh"

SYNFLOOD=${1:-${STCP_SYNFLOOD:-}}
COUNT=${SYNFLOOD_COUNT:-100000}
MAX_S=${SYNFLOOD_MAX_S:-60}
BACKLOG=${SYNFLOOD_BACKLOG:-256}
RSS_MAX_KB=${SYNFLOOD_RSS_MAX_KB:-32768}
MIN_OK_PCT=${SYNFLOOD_MIN_OK_PCT:-90}
METRICS_URL=http://127.0.0.1:9100/metrics
[[ -x $SYNFLOOD ]] || { echo "FAIL: synflood helper not built: '$SYNFLOOD'"; exit 1; }

work=$(mktemp -d)
export STCP_HTTPD_ARGS="--set net.gateway=198.18.0.2 --set tcp.syn_backlog=$BACKLOG --set metrics.listen=127.0.0.1:9100 ${STCP_HTTPD_ARGS:-}"
cleanup() {
  touch "$work/stop"
  [[ -n ${CURL_PID:-} ]] && kill "$CURL_PID" 2>/dev/null
  [[ -n ${SAMPLER_PID:-} ]] && kill "$SAMPLER_PID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

scrape() { dp curl -s --max-time 2 "$METRICS_URL" 2>/dev/null; }
# metric_sum NAME [label-regex]: sum over all cores, empty if absent.
metric_sum() {
  scrape | awk -v n="$1" -v re="${2:-}" '
    index($0, n) == 1 && (substr($0, length(n) + 1, 1) == "{" || substr($0, length(n) + 1, 1) == " ") &&
      (re == "" || $0 ~ re) { seen = 1; s += $NF }
    END { if (seen) printf "%d\n", s }'
}
vmrss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

log "starting the server in $STCP_DP_NS (overrides: $STCP_HTTPD_ARGS)"
if ! bash "$STCP_IT_DIR/fixture.sh" start; then
  check_fail "server start"
  bash "$STCP_IT_DIR/fixture.sh" stop >/dev/null 2>&1
  finish
fi
require_server
# SYN-ACKs for the spoofed sources reach the peer's kernel: it must drop, not
# forward them (a fresh namespace starts with forwarding off; make sure).
peer sysctl -qw net.ipv4.ip_forward=0
pid=$(server_pid)
# The process whose memory counts: fixture.sh records the pid of `ip netns
# exec`, which execs the server (same pid); take a child if it forked.
if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == ip ]]; then
  pid=$(pgrep -P "$pid" | head -n1)
fi
cores=$(scrape | grep -c '^shardtcp_tcp_connections{.*state="LISTEN"')
[[ ${cores:-0} -ge 1 ]] || cores=1

# Warm up (ARP, first allocations) so RSS "before" is the resting size.
for _ in 1 2 3 4 5; do http_code "$BASE_URL/" >/dev/null; done
rss_before=$(vmrss_kb "$pid")
cookies_before=$(metric_sum shardtcp_tcp_syncookies_sent_total)
rx_before=$(metric_sum shardtcp_core_rx_packets_total)
log "server pid $pid, $cores core(s), VmRSS before: ${rss_before:-?} kB, cookies sent before: ${cookies_before:-none}"

# Legitimate client: bounded loop (count and time) until told to stop.
(
  end=$((SECONDS + MAX_S + 30))
  for ((i = 0; i < 2000 && SECONDS < end; i++)); do
    [[ -e $work/stop ]] && break
    code=$(peer curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE_URL/" 2>/dev/null || true)
    phase=after
    [[ -e $work/flooding ]] && phase=during
    echo "$phase ${code:-000}" >>"$work/curl.log"
    sleep 0.05
  done
) &
CURL_PID=$!

# Half-open sampler: the SYN-RECEIVED gauge, all cores, every 0.2 s (bounded).
(
  end=$((SECONDS + MAX_S + 30))
  while [[ ! -e $work/stop && SECONDS -lt end ]]; do
    v=$(metric_sum shardtcp_tcp_connections 'state="SYN-RECEIVED"')
    [[ -n $v ]] && echo "$v" >>"$work/halfopen.log"
    sleep 0.2
  done
) &
SAMPLER_PID=$!

sleep 1
touch "$work/flooding"
log "flooding: $COUNT spoofed SYNs from 198.19.0.0/16 to $SERVER_IP:$SERVER_PORT (bound ${MAX_S}s)"
flood_out=$(timeout $((MAX_S + 10)) ip netns exec "$STCP_PEER_NS" "$SYNFLOOD" --dst "$SERVER_IP" \
  --port "$SERVER_PORT" --src-net 198.19.0.0/16 --count "$COUNT" --max-seconds "$MAX_S" --seed "$RANDOM")
flood_rc=$?
echo "synflood: $flood_out"
# Keep the client going a little while the flood's SYN-RECEIVED entries are
# still in the queue (the server keeps retransmitting SYN-ACKs to them).
sleep 2
rm -f "$work/flooding"
sleep 2
touch "$work/stop"
wait "$CURL_PID" 2>/dev/null
wait "$SAMPLER_PID" 2>/dev/null
CURL_PID="" SAMPLER_PID=""

check "flood: all $COUNT SYNs sent (rc=$flood_rc)" test "$flood_rc" -eq 0

during_total=$(grep -c '^during' "$work/curl.log" 2>/dev/null || true)
during_ok=$(grep -c '^during 200$' "$work/curl.log" 2>/dev/null || true)
after_ok=$(grep -c '^after 200$' "$work/curl.log" 2>/dev/null || true)
log "curl during the flood: ${during_ok:-0}/${during_total:-0} got 200; after: ${after_ok:-0} got 200"
grep -v ' 200$' "$work/curl.log" 2>/dev/null | sort | uniq -c | sed 's/^/  non-200: /'
check "curl: requests were made during the flood (${during_total:-0})" test "${during_total:-0}" -ge 3
check "curl: >= ${MIN_OK_PCT}% of requests during the flood got 200 (${during_ok:-0}/${during_total:-0})" \
  test $((${during_ok:-0} * 100)) -ge $((${during_total:-1} * MIN_OK_PCT))
code=$(http_code "$BASE_URL/")
check "curl after the flood: 200 (got $code)" test "$code" = 200
check "server alive after the flood" server_alive

cookies_after=$(metric_sum shardtcp_tcp_syncookies_sent_total)
rx_after=$(metric_sum shardtcp_core_rx_packets_total)
# Informational: the veth / AF_PACKET ring may drop part of a burst before
# the server sees it (not the server's doing, and not counted by it).
[[ -n $rx_after ]] && log "frames received by the server during the test: $((rx_after - ${rx_before:-0})) (SYNs sent: $COUNT, plus the curl traffic)"
overflows=$(metric_sum shardtcp_tcp_listen_overflows_total)
validated=$(metric_sum shardtcp_tcp_syncookies_validated_total)
if [[ -z $cookies_after ]]; then
  check_fail "metrics: shardtcp_tcp_syncookies_sent_total not exported at $METRICS_URL"
else
  log "SYN cookies sent: ${cookies_before:-0} -> $cookies_after; validated: ${validated:-?}; listen overflows: ${overflows:-?}"
  check "SYN cookies were sent during the flood ($((cookies_after - ${cookies_before:-0})))" \
    test $((cookies_after - ${cookies_before:-0})) -gt 0
  check "listen overflows counted (${overflows:-none})" test "${overflows:-0}" -gt 0
fi
if [[ -s $work/halfopen.log ]]; then
  peak=$(sort -n "$work/halfopen.log" | tail -n1)
  samples=$(wc -l <"$work/halfopen.log")
  log "half-open (SYN-RECEIVED) peak over $samples samples: $peak (bound: syn_backlog $BACKLOG x $cores core(s))"
  check "half-open peak $peak <= syn_backlog x cores ($((BACKLOG * cores)))" \
    test "$peak" -le $((BACKLOG * cores))
  check "half-open queue was actually filled by the flood (peak $peak > 0)" test "$peak" -gt 0
else
  check_fail "no SYN-RECEIVED samples from $METRICS_URL"
fi

rss_after=$(vmrss_kb "$pid")
log "VmRSS before: ${rss_before:-?} kB, after: ${rss_after:-?} kB (allowed growth ${RSS_MAX_KB} kB)"
if [[ -n $rss_before && -n $rss_after ]]; then
  check "VmRSS growth $((rss_after - rss_before)) kB <= ${RSS_MAX_KB} kB" \
    test $((rss_after - rss_before)) -le "$RSS_MAX_KB"
else
  check_fail "could not read VmRSS of pid $pid"
fi
scrape | grep -E '^shardtcp_tcp_drops_total' | awk '$NF != 0' | sed 's/^/  /'

check "server exits 0 on SIGINT, lab down" bash "$STCP_IT_DIR/fixture.sh" stop
grep -E 'core [0-9]+ \(lcore' "$STCP_STATE_DIR/server.log" 2>/dev/null | tail -n 4 | sed 's/^/  /'
finish
