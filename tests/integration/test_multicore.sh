#!/usr/bin/env bash
# Multi-core (issue 4): shardtcp-httpd on 2 lcores with software steering
# serves a 5 s short-connection run from many source addresses and ports with
# zero errors, and each connection lives on exactly one core.
#
#   test_multicore.sh [path/to/shardtcp-httpd]
#
# Set-up: its own server (fixture.sh, own state dir) in its own lab namespaces
# (default stcp-mc-dp / stcp-mc-peer) with eal.lcores=0-1. net_af_packet gets
# qpairs=2 and spreads packets with the kernel's PACKET_FANOUT_HASH, which is
# not our Toeplitz hash, so about half of all packets arrive on the queue of
# the core that does not own the flow and must be steered to the owner
# through the SPSC rings (dataplane/README.md, "Multi-core").
# Load: tests/integration/multicore_client.py in the peer namespace, 8
# processes for 5 s, each connection `GET /` + `Connection: close` from an
# explicit (source address, source port): 32 addresses 198.18.0.10-.41 (lab.sh
# adds them), thousands of ports, and every 4-tuple used exactly once.
#
# Why the metrics prove "each connection lives on exactly one core"
# ------------------------------------------------------------------
# A core's Stack only knows the connections it created itself (per-core
# tables, nothing shared). If any packet of a connection were processed by a
# core other than the one holding its TCB, one of these would move:
#   (a) a SYN handled by a second core creates a second TCB: that core counts
#       a second passive open for the same 4-tuple;
#   (b) any later segment (ACK, data, FIN) reaching a core without the TCB
#       meets the LISTEN socket on port 80 and is answered with a RST
#       (RFC 9293 §3.10.7.2), or, if it is itself a RST, dropped as
#       `rst_no_connection`; a segment for a port without listener is dropped
#       as `no_listener`.
# The client uses every 4-tuple once and reports how many connections it
# established. So, over the run (metrics deltas):
#   1. sum over cores of passive_opens == connections established by the
#      client: every connection was created exactly once (no duplicates, none
#      missing) — no (a);
#   2. per core, passive_opens == the number of the client's 4-tuples whose
#      owner_core() (the steering hash, recomputed in Python) is that core:
#      each connection was created on its owner;
#   3. rsts_sent == 0, drops rst_no_connection == 0 and no_listener == 0, no
#      attempt fails / resets, no SYN cookies: no segment of any connection met
#      a core without its TCB — no (b);
#   4. time_wait_expired summed == connections (the server closes first, so
#      every connection ends in TIME-WAIT exactly once; a FIN-WAIT-2 timeout,
#      if the client's FIN came too late, also counts as the one end), and
#      afterwards every non-LISTEN state gauge, the TCB gauge and the
#      TIME-WAIT gauge are 0 on both cores: nothing half-alive was left on
#      another core;
#   5. steered_packets in > 0 and in == out, steer_ring_full == 0: steering
#      really happened (so the checks above are not vacuous) and lost nothing.
# Both per-core passive-open counts must be non-zero (issue 4 "done means").
set -uo pipefail
export STCP_DP_NS=${STCP_MC_DP_NS:-stcp-mc-dp}
export STCP_PEER_NS=${STCP_MC_PEER_NS:-stcp-mc-peer}
export STCP_TARGET=shardtcp
export STCP_STATE_DIR=${STCP_STATE_DIR:-/tmp/shardtcp-integration-multicore}
source "$(dirname "$0")/lib.sh"

export STCP_HTTPD=${1:-${STCP_HTTPD:-}}
[[ -x $STCP_HTTPD ]] || { echo "FAIL: shardtcp-httpd not built: '$STCP_HTTPD'"; exit 1; }
DURATION=${MC_DURATION_S:-5}
WORKERS=${MC_WORKERS:-8}
CORES=2
METRICS_URL=http://127.0.0.1:9100/metrics
export STCP_HTTPD_ARGS="--set eal.lcores=0-1 --set metrics.enabled=true --set metrics.listen=127.0.0.1:9100 ${STCP_HTTPD_ARGS:-}"

work=$(mktemp -d)
started=0
cleanup() {
  if [[ $started -eq 1 ]]; then bash "$STCP_IT_DIR/fixture.sh" stop >/dev/null 2>&1; fi
  rm -rf "$work"
}
trap cleanup EXIT

scrape() { dp curl -s --max-time 2 "$METRICS_URL" 2>/dev/null; }
# Live (non-LISTEN) connections + TCBs + TIME-WAIT entries, all cores.
live_total() {
  scrape | awk '
    /^shardtcp_tcp_connections\{/ && !/state="LISTEN"/ { s += $NF; seen = 1 }
    /^shardtcp_tcp_tcbs\{/ || /^shardtcp_tcp_time_wait_entries\{/ { s += $NF; seen = 1 }
    END { if (seen) printf "%d\n", s; else print "none" }'
}

log "starting shardtcp-httpd on 2 lcores in $STCP_DP_NS ($STCP_HTTPD_ARGS)"
started=1
if ! bash "$STCP_IT_DIR/fixture.sh" start; then
  check_fail "server start"
  finish
fi
require_server
banner=$(grep -Ei 'steering|rss' "$STCP_STATE_DIR/server.log" | head -n 3)
echo "$banner" | sed 's/^/  server: /'
check "server runs 2 cores with software steering" grep -qi 'software steering' "$STCP_STATE_DIR/server.log"

# Let the readiness probe's connection leave TIME-WAIT (2 * MSL), then take
# the baseline; every check below uses deltas against it.
for _ in $(seq 1 40); do [[ $(live_total) == 0 ]] && break; sleep 0.25; done
scrape >"$work/before.prom"
[[ -s $work/before.prom ]] || { check_fail "metrics endpoint answers ($METRICS_URL)"; finish; }

log "load: $WORKERS processes x ${DURATION}s, GET / with Connection: close, 32 source addresses"
timeout $((DURATION + 60)) ip netns exec "$STCP_PEER_NS" "$PY" "$STCP_IT_DIR/multicore_client.py" \
  --server "$SERVER_IP" --dst-port "$SERVER_PORT" --duration "$DURATION" --workers "$WORKERS" \
  --sources 198.18.0.10-198.18.0.41 --cores "$CORES" --out "$work/client.json"
check "load client finished (rc=$?)" test -s "$work/client.json"

# TIME-WAIT is 2 * MSL (fixture: tcp.msl_ms=500); give it ample time.
live=none
for _ in $(seq 1 60); do
  live=$(live_total)
  [[ $live == 0 ]] && break
  sleep 0.25
done
check "connection, TCB and TIME-WAIT gauges back to 0 on both cores (left: $live)" test "$live" = 0
scrape >"$work/after.prom"

# The per-core comparison (prints one PASS/FAIL line per check).
"$PY" - "$work/before.prom" "$work/after.prom" "$work/client.json" "$CORES" >"$work/checks.txt" <<'EOF'
import json, re, sys

def load(path):
    m = {}
    for ln in open(path):
        if ln.startswith("#") or not ln.strip():
            continue
        mo = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$', ln.strip())
        if not mo:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', mo.group(2) or ""))
        m.setdefault(mo.group(1), []).append((labels, float(mo.group(3))))
    return m

before, after = load(sys.argv[1]), load(sys.argv[2])
client = json.load(open(sys.argv[3]))
cores = int(sys.argv[4])

def delta(name, core=None, **want):
    def pick(m):
        s = 0.0
        for labels, v in m.get(name, []):
            if core is not None and labels.get("core") != str(core):
                continue
            if any(labels.get(k) != w for k, w in want.items()):
                continue
            s += v
        return s
    return int(round(pick(after) - pick(before)))

fails = 0
def check(ok, what):
    global fails
    print(("PASS: " if ok else "FAIL: ") + what)
    if not ok:
        fails += 1

est, ok = client["established"], client["ok"]
per_core = [delta("shardtcp_tcp_passive_opens_total", c) for c in range(cores)]
print(f"  client: {client['attempts']} attempts, {est} established, {ok} ok, errors "
      f"{client['errors']}, {client['distinct_source_ports']} source ports x "
      f"{client['distinct_source_addrs']} source addresses")
print(f"  passive opens per core {per_core}, predicted by owner_core() {client['per_core']}")
for name, lab in [("shardtcp_tcp_active_opens_total", {}), ("shardtcp_tcp_rsts_sent_total", {}),
                  ("shardtcp_tcp_rsts_received_total", {}), ("shardtcp_tcp_attempt_fails_total", {}),
                  ("shardtcp_tcp_estab_resets_total", {}), ("shardtcp_tcp_syncookies_sent_total", {}),
                  ("shardtcp_tcp_time_wait_expired_total", {}),
                  ("shardtcp_tcp_time_wait_reopens_total", {}),
                  ("shardtcp_tcp_time_wait_recycled_total", {}),
                  ("shardtcp_tcp_retransmitted_segments_total", {}),
                  ("shardtcp_steered_packets_total", {"direction": "in"}),
                  ("shardtcp_steered_packets_total", {"direction": "out"})]:
    vals = [delta(name, c, **lab) for c in range(cores)]
    print(f"  {name}{lab if lab else ''} per core {vals}")
def drops(name):
    out = {}
    for labels, _ in after.get(name, []):
        r = labels.get("reason")
        d = delta(name, None, reason=r)
        if d:
            out[r] = d
    return out
tcp_drops, ip_drops = drops("shardtcp_tcp_drops_total"), drops("shardtcp_ip_drops_total")
print(f"  tcp drops during the run: {tcp_drops or 'none'}; ip drops: {ip_drops or 'none'}")

check(client["workers_reported"] == client["workers"],
      f"all {client['workers']} client processes reported")
check(ok > 0 and not client["errors"] and client["attempts"] == ok == est,
      f"zero client errors ({ok} of {client['attempts']} connections ok, errors {client['errors']})")
check(client["distinct_source_addrs"] >= 16 and client["distinct_source_ports"] >= 500,
      f"many sources: {client['distinct_source_ports']} ports x "
      f"{client['distinct_source_addrs']} addresses")
check(all(v > 0 for v in per_core), f"passive opens non-zero on every core {per_core}")
check(sum(per_core) == est,
      f"sum of per-core passive opens {sum(per_core)} == connections established {est} "
      "(each connection created exactly once)")
check(per_core == client["per_core"],
      f"per-core passive opens {per_core} == owner_core() of the client's 4-tuples "
      f"{client['per_core']} (each connection created on its owner)")
check(delta("shardtcp_tcp_active_opens_total") == 0, "no active opens")
check(delta("shardtcp_tcp_rsts_sent_total") == 0,
      f"zero RSTs sent (got {delta('shardtcp_tcp_rsts_sent_total')}): no segment met a core "
      "without its connection")
nc = tcp_drops.get("rst_no_connection", 0) + tcp_drops.get("no_listener", 0)
check(nc == 0, f"zero rst_no_connection / no_listener drops (got {nc})")
bad = {k: delta("shardtcp_tcp_" + k + "_total") for k in
       ("attempt_fails", "estab_resets", "syncookies_sent", "time_wait_recycled", "timeouts")}
check(not any(bad.values()), f"no attempt fails, resets, SYN cookies, recycling, timeouts {bad}")
twx = delta("shardtcp_tcp_time_wait_expired_total")
fw2 = delta("shardtcp_tcp_fin_wait2_timeouts_total")  # client FIN later than the FW2 timer
check(twx + fw2 == est, f"TIME-WAIT expirations {twx} + FIN-WAIT-2 timeouts {fw2} == connections "
      f"{est} (each ended exactly once)")
s_in = delta("shardtcp_steered_packets_total", direction="in")
s_out = delta("shardtcp_steered_packets_total", direction="out")
check(s_in > 0, f"software steering moved packets between cores (in {s_in})")
check(s_in == s_out, f"every steered packet arrived (out {s_out} == in {s_in})")
check(ip_drops.get("steer_ring_full", 0) == 0,
      f"no steer_ring_full drops (got {ip_drops.get('steer_ring_full', 0)})")
sys.exit(1 if fails else 0)
EOF
py_rc=$?
cat "$work/checks.txt"
FAILS=$((FAILS + $(grep -c '^FAIL:' "$work/checks.txt")))
[[ $py_rc -eq 0 || $(grep -c '^FAIL:' "$work/checks.txt") -gt 0 ]] || check_fail "metrics comparison ran (rc=$py_rc)"

check "the server still answers after the load" test "$(http_code "$BASE_URL/")" = 200
started=0
check "server exits 0 on SIGINT (fixture stop, lab down)" bash "$STCP_IT_DIR/fixture.sh" stop
grep -E '^shardtcp: core [0-9]+ \(lcore' "$STCP_STATE_DIR/server.log" | tail -n 2 | sed 's/^/  /'
finish
