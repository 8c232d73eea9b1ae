#!/usr/bin/env bash
# Payload memory budget (issue 9 "memory without a budget", "memory given
# back"): clients that never read must not grow the server without bound, and
# the memory must go back once they are gone.
#
#   test_membudget.sh
#
# Set-up: its own shardtcp-httpd (fixture.sh, own state dir) in its own lab
# namespaces (default stcp-mb-dp / stcp-mb-peer), with
#   tcp.mem_budget_mb = MEMB_BUDGET_MB (32)   a small per-core budget.
# From the peer namespace:
#   1. a reading client (curl, rate limited) starts a 10 MiB download first;
#   2. MEMB_CLIENTS (2,000) connections with SO_RCVBUF 4096 each send
#      GET /bytes/10485760 and never read (membudget_clients.py), held
#      MEMB_HOLD_S seconds, then closed (RST: unread data);
#   3. while they are held, a new client tries GET / (answered, or refused
#      cleanly: its SYNs dropped and counted).
# Checks: the budget gauge is what was configured; the used gauge never
# exceeds it (sampled every 0.25 s); it reached the pressure mark (3/4: the
# test exercised the budget) and short sends were counted; the new GET / was
# answered, or its SYNs were refused (above 7/8) and counted; the
# reading client got all 10 MiB; VmRSS growth stayed below budget + slack;
# after the clients closed, payload memory in use returns to 0, mapped memory
# to the cache ceiling, and VmRSS to near its start; GET / is served again;
# the server exits 0 on SIGINT. Figures (RSS before/peak/after) are printed.
set -uo pipefail
export STCP_DP_NS=${STCP_MEMB_DP_NS:-stcp-mb-dp}
export STCP_PEER_NS=${STCP_MEMB_PEER_NS:-stcp-mb-peer}
export STCP_TARGET=shardtcp
source "$(dirname "$0")/lib.sh"

BUDGET_MB=${MEMB_BUDGET_MB:-32}
CLIENTS=${MEMB_CLIENTS:-2000}
HOLD_S=${MEMB_HOLD_S:-6}
CONNECT_S=${MEMB_CONNECT_S:-15}
# VmRSS may grow by the budget plus this (connection blocks, table, the
# application's per-connection state) while the clients are held ...
SLACK_KB=${MEMB_SLACK_KB:-32768}
# ... and must come back to within this of the start once they are gone.
BACK_KB=${MEMB_BACK_KB:-16384}
METRICS_URL=http://127.0.0.1:9100/metrics

work=$(mktemp -d)
export STCP_HTTPD_ARGS="--set tcp.mem_budget_mb=$BUDGET_MB --set metrics.listen=127.0.0.1:9100 ${STCP_HTTPD_ARGS:-}"
cleanup() {
  touch "$work/stop"
  [[ -n ${SAMPLER_PID:-} ]] && kill "$SAMPLER_PID" 2>/dev/null
  [[ -n ${CLIENTS_PID:-} ]] && kill "$CLIENTS_PID" 2>/dev/null
  [[ -n ${READER_PID:-} ]] && kill "$READER_PID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

scrape() { dp curl -s --max-time 2 "$METRICS_URL" 2>/dev/null; }
# metric_sum NAME: sum over all cores, empty if absent.
metric_sum() {
  scrape | awk -v n="$1" '
    index($0, n) == 1 && (substr($0, length(n) + 1, 1) == "{" || substr($0, length(n) + 1, 1) == " ") { seen = 1; s += $NF }
    END { if (seen) printf "%.0f\n", s }'
}
vmrss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

log "starting the server in $STCP_DP_NS (overrides: $STCP_HTTPD_ARGS)"
if ! bash "$STCP_IT_DIR/fixture.sh" start; then
  check_fail "server start"
  bash "$STCP_IT_DIR/fixture.sh" stop >/dev/null 2>&1
  finish
fi
require_server
pid=$(server_pid)
if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == ip ]]; then
  pid=$(pgrep -P "$pid" | head -n1)
fi

for _ in 1 2 3 4 5; do http_code "$BASE_URL/" >/dev/null; done
sleep 0.5
rss_before=$(vmrss_kb "$pid")
budget=$(metric_sum shardtcp_tcp_mem_budget_bytes)
syn_drops_before=$(metric_sum shardtcp_tcp_mem_syn_drops_total)
log "server pid $pid, VmRSS before: ${rss_before:-?} kB, budget gauge: ${budget:-absent} bytes"
check "budget gauge = tcp.mem_budget_mb ($BUDGET_MB MB)" test "${budget:-0}" -eq $((BUDGET_MB * 1024 * 1024))

# Sampler: payload memory in use and VmRSS, every 0.25 s (bounded).
(
  end=$((SECONDS + CONNECT_S + HOLD_S + 40))
  while [[ ! -e $work/stop && SECONDS -lt end ]]; do
    echo "$(metric_sum shardtcp_tcp_mem_used_bytes) $(vmrss_kb "$pid")" >>"$work/samples.log"
    sleep 0.25
  done
) &
SAMPLER_PID=$!

# 1. A reader that keeps reading, started before the memory fills.
peer curl -s -o /dev/null -w '%{http_code} %{size_download}\n' --limit-rate 2M --max-time 60 \
  "$BASE_URL/bytes/10485760" >"$work/reader.out" 2>/dev/null &
READER_PID=$!
sleep 0.5

# 2. Clients that never read.
log "$CLIENTS clients: GET /bytes/10485760 with SO_RCVBUF 4096, never read, held ${HOLD_S}s"
peer "$PY" "$STCP_IT_DIR/membudget_clients.py" --host "$SERVER_IP" --port "$SERVER_PORT" \
  --count "$CLIENTS" --connect-s "$CONNECT_S" --hold-s "$HOLD_S" --ready-file "$work/ready" \
  >"$work/clients.out" 2>"$work/clients.err" &
CLIENTS_PID=$!
for ((i = 0; i < (CONNECT_S + 10) * 4; i++)); do
  [[ -e $work/ready ]] && break
  sleep 0.25
done
sleep 1
used_held=$(metric_sum shardtcp_tcp_mem_used_bytes)
conns_held=$(metric_sum shardtcp_tcp_tcbs)
# 3. A new client while memory is full.
new_code=$(http_code "$BASE_URL/" --max-time 4)
syn_drops_held=$(metric_sum shardtcp_tcp_mem_syn_drops_total)
log "while held: ${conns_held:-?} connections, payload memory in use ${used_held:-?} bytes; new GET /: $new_code; SYNs refused so far: ${syn_drops_held:-?}"
wait "$CLIENTS_PID"
clients_rc=$?
CLIENTS_PID=""
log "clients: $(cat "$work/clients.out") (rc $clients_rc)"
[[ -s $work/clients.err ]] && sed 's/^/  clients stderr: /' "$work/clients.err" | head -5
wait "$READER_PID"
READER_PID=""
log "reader: $(cat "$work/reader.out")"

# The clients are gone: memory goes back.
for ((i = 0; i < 40; i++)); do
  used=$(metric_sum shardtcp_tcp_mem_used_bytes)
  [[ ${used:-1} -eq 0 ]] && break
  sleep 0.25
done
sleep 1
touch "$work/stop"
wait "$SAMPLER_PID" 2>/dev/null
SAMPLER_PID=""
used_after=$(metric_sum shardtcp_tcp_mem_used_bytes)
mapped_after=$(metric_sum shardtcp_tcp_mem_mapped_bytes)
rss_after=$(vmrss_kb "$pid")
peak_used=$(awk '$1 != "" {print $1}' "$work/samples.log" | sort -n | tail -n1)
peak_rss=$(awk '$2 != "" {print $2}' "$work/samples.log" | sort -n | tail -n1)
over=$(awk -v b="${budget:-0}" '$1 != "" && $1 > b' "$work/samples.log" | wc -l)
samples=$(wc -l <"$work/samples.log")

echo "FIGURES: VmRSS before ${rss_before:-?} kB, peak ${peak_rss:-?} kB, after ${rss_after:-?} kB;" \
  "payload memory peak ${peak_used:-?} of ${budget:-?} bytes over $samples samples"
check "clients ran (rc $clients_rc)" test "$clients_rc" -eq 0
established=$(sed -n 's/.*"established": \([0-9]*\).*/\1/p' "$work/clients.out")
check "some never-reading clients were accepted (${established:-0})" test "${established:-0}" -gt 0
check "payload memory in use never exceeded the budget ($over of $samples samples above)" test "$over" -eq 0
check "memory pressure was reached: peak ${peak_used:-0} >= 3/4 of ${budget:-0}" \
  test $((${peak_used:-0} * 4)) -ge $((${budget:-1} * 3))
short_sends=$(metric_sum shardtcp_tcp_mem_short_sends_total)
check "senders were throttled and counted (short sends: ${short_sends:-none})" test "${short_sends:-0}" -gt 0
syn_refused=$(( ${syn_drops_held:-0} - ${syn_drops_before:-0} ))
if [[ $new_code == 200 ]]; then
  check_pass "a new client's GET / was answered under pressure"
else
  check "a new client's GET / was refused cleanly and counted (code $new_code, SYNs refused $syn_refused)" \
    test "$syn_refused" -gt 0
fi
read -r reader_code reader_bytes <"$work/reader.out"
check "the reading client got all 10 MiB under pressure ($reader_code, ${reader_bytes:-0} bytes)" \
  test "${reader_code:-0}" = 200 -a "${reader_bytes:-0}" = 10485760
check "VmRSS growth while held $(( ${peak_rss:-0} - ${rss_before:-0} )) kB <= budget + ${SLACK_KB} kB" \
  test $(( ${peak_rss:-0} - ${rss_before:-0} )) -le $(( BUDGET_MB * 1024 + SLACK_KB ))
check "payload memory in use back to 0 (${used_after:-?})" test "${used_after:-1}" -eq 0
check "mapped payload memory down to the cache ceiling (${mapped_after:-?} <= 2 MB)" \
  test "${mapped_after:-999999999}" -le $((2 * 1024 * 1024))
check "VmRSS back near the start: $(( ${rss_after:-0} - ${rss_before:-0} )) kB <= ${BACK_KB} kB" \
  test $(( ${rss_after:-0} - ${rss_before:-0} )) -le "$BACK_KB"
code=$(http_code "$BASE_URL/")
check "GET / after the clients closed: 200 (got $code)" test "$code" = 200
scrape | grep -E '^shardtcp_tcp_mem_|^shardtcp_tcp_drops_total.*no_memory' | awk '$NF != 0' | sed 's/^/  /'

check "server exits 0 on SIGINT, lab down" bash "$STCP_IT_DIR/fixture.sh" stop
finish
