#!/usr/bin/env bash
# Issue 16, part 5: the distributed load test's merge, on real summaries.
#   test_merge.sh SOURCE_DIR LOADGEN HTTPD
# shardtcp-httpd serves over net_memif (shared memory: no network, no
# namespace); three generators run one after the other through
# deploy/k8s/loadgen/run-generator.sh, the Indexed Job's own command, with
# JOB_COMPLETION_INDEX 0, 1, 2 as Kubernetes would set it: each must take its
# own source address and its own third of the port range, download and
# verify /bytes/1000 byte for byte, and print its --json summary between the
# marker lines. Then merge.py --from-logs over the three logs:
#   - counts and errors are the sums, rates the sums of the parts' rates;
#   - the merged histograms hold every sample (totals add up) and the merged
#     percentiles lie between the parts' (a merged percentile can be nowhere
#     else), max is the largest max;
#   - the result is valid against app/loadgen/summary.schema.json;
#   - merging one summary alone reproduces that loadgen's own percentiles
#     exactly (merge.py computes them as the C++ loadgen does);
#   - a cut-off log is refused (exit 2).
# Needs root (DPDK); exit 77 otherwise.
set -uo pipefail
SRC=$1
LOADGEN=$2
HTTPD=$3
PY=/usr/bin/python3
MERGE=$SRC/deploy/k8s/loadgen/merge.py
GEN=$SRC/deploy/k8s/loadgen/run-generator.sh
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root (DPDK)"; exit 77; }
$PY -c 'import jsonschema' 2>/dev/null || { echo "SKIP: python3 jsonschema missing"; exit 77; }
work=$(mktemp -d)
pid=""
cleanup() {
  [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fails=0
check() {  # NAME COMMAND...: one verdict line
  local name=$1
  shift
  if "$@"; then echo "PASS: $name"; return 0; fi
  echo "FAIL: $name"
  fails=$((fails + 1))
  return 1
}
huge=()
free_huge=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
[[ ${free_huge:-0} -lt 256 ]] && huge=(--set eal.no_huge=true)

# One server per generator: DPDK 22.11's memif PMD can crash the side that
# stays up when its peer disconnects (SIGSEGV in the memif rx burst while the
# interrupt thread unmaps the regions; seen about 1 run in 5 here). That
# race is not what this test is about, so no server outlives a generator;
# the crash is reported (docs/deploy.md, "Known issues"), not hidden; the clean stop of
# the server is tested without a memif peer in deploy.deb.
sock=$work/memif.sock
start_httpd() {
  rm -f "$sock"
  "$HTTPD" --config "$SRC/config/httpd.toml" "${huge[@]}" \
    --set "eal.vdevs=[\"net_memif0,role=server,socket=$sock,socket-abstract=no\"]" \
    --set eal.file_prefix=stcp-mrg-srv --set eal.lcores=0 --set metrics.enabled=false \
    --set net.address=198.18.0.1/16 --set 'app.listen_ports=[8080]' >>"$work/httpd.out" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do [[ -S $sock ]] && break; sleep 0.1; done
  [[ -S $sock ]] || { echo "FAIL: httpd did not create the memif socket"; cat "$work/httpd.out"; exit 1; }
}
stop_httpd() {
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  pid=""
}

N=3
K=150
for i in $(seq 0 $((N - 1))); do
  start_httpd
  JOB_COMPLETION_INDEX=$i LG_GENERATORS=$N LG_ADDR_BASE=198.18.1.10 LG_PREFIX=16 \
    LG_PORTS=20000-29999 LG_BIN=$LOADGEN LG_CONFIG=$SRC/config/httpd.toml LG_JSON=$work/s$i.json \
    timeout 120 bash "$GEN" "${huge[@]}" \
    --set "eal.vdevs=[\"net_memif0,role=client,socket=$sock,socket-abstract=no\"]" \
    --set eal.file_prefix=stcp-mrg-lg --set eal.lcores=0 --set metrics.enabled=false \
    --target 198.18.0.1:8080 --path /bytes/1000 --expect-bytes 1000 \
    --connections $K --concurrency 8 --timeout-s 60 --quiet >"$work/pod$i.log" 2>&1
  rc=$?
  lo=$((20000 + i * 3333))
  hi=$((lo + 3332))
  check "generator $i: exit 0" [ $rc -eq 0 ] || tail -20 "$work/pod$i.log"
  check "generator $i: source 198.18.1.$((10 + i)), ports $lo-$hi (its slice)" \
    grep -qxF "run-generator: index $i of $N: source 198.18.1.$((10 + i))/16, ports $lo-$hi" \
    "$work/pod$i.log"
  check "generator $i: the loadgen used that slice" grep -qF "source ports $lo-$hi" "$work/pod$i.log"
  check "generator $i: summary printed between the markers" \
    grep -qx -- "--- shardtcp-loadgen summary $i end ---" "$work/pod$i.log"
  stop_httpd
done

$PY "$MERGE" --from-logs -o "$work/merged.json" "$work"/pod*.log >"$work/merge.out" 2>&1
check "merge.py --from-logs: exit 0" [ $? -eq 0 ]
sed 's/^/  /' "$work/merge.out"
$PY - "$work" "$N" "$K" "$SRC/app/loadgen/summary.schema.json" <<'PYEOF'
import json, sys, jsonschema
work, n, k, schema_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
parts = [json.load(open(f"{work}/s{i}.json")) for i in range(n)]
m = json.load(open(f"{work}/merged.json"))
fails = 0
def check(name, ok):
    global fails
    print(("PASS: " if ok else "FAIL: ") + name)
    fails += 0 if ok else 1
schema = json.load(open(schema_path))
jsonschema.Draft202012Validator.check_schema(schema)
try:
    for p in parts:
        jsonschema.validate(p, schema)
    jsonschema.validate(m, schema)
    check("every part and the merged summary valid against summary.schema.json", True)
except jsonschema.ValidationError as e:
    check(f"schema: {e.message}", False)
check(f"merged: {n} generators", m["generators"] == n)
for key in ("connections", "connections_ok", "requests", "responses", "body_bytes"):
    check(f"merged {key} {m[key]} = sum of the parts", m[key] == sum(p[key] for p in parts))
check(f"merged connections_ok = {n} x {k}, body bytes = {n * k} x 1000",
      m["connections_ok"] == n * k and m["body_bytes"] == n * k * 1000)
check("merged errors: every kind the sum, all 0",
      all(m["errors"][e] == sum(p["errors"][e] for p in parts) == 0 for e in parts[0]["errors"]))
for key in ("connections_per_s", "requests_per_s", "opened_per_s"):
    s = sum(p[key] for p in parts)
    check(f"merged {key} {m[key]:.1f} = sum of the parts' rates", abs(m[key] - s) <= 1e-9 * max(1, s))
check("merged duration_s = the longest part's", m["duration_s"] == max(p["duration_s"] for p in parts))
for kind in ("connect", "ttfb", "total"):
    h = m["histograms_us"][kind]
    check(f"{kind}: merged histogram holds all {h['total']} samples",
          h["total"] == sum(p["histograms_us"][kind]["total"] for p in parts) == n * k
          and sum(c for _, c in h["buckets"]) == h["total"])
    lat = m["latency_us"][kind]
    check(f"{kind}: merged max = largest max", lat["max"] == max(p["latency_us"][kind]["max"] for p in parts))
    for q in ("p50", "p90", "p99", "p999"):
        lo = min(p["latency_us"][kind][q] for p in parts)
        hi = max(p["latency_us"][kind][q] for p in parts)
        check(f"{kind} {q}: merged {lat[q]} within the parts' [{lo}, {hi}]", lo <= lat[q] <= hi)
sys.exit(1 if fails else 0)
PYEOF
check "merged summary: sums, histograms and schema (lines above)" [ $? -eq 0 ]

for i in $(seq 0 $((N - 1))); do
  $PY "$MERGE" --quiet -o "$work/one$i.json" "$work/s$i.json"
  check "merge of generator $i alone reproduces its own percentiles" \
    $PY -c "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(a['latency_us'] != b['latency_us'])" \
    "$work/s$i.json" "$work/one$i.json"
done
# Cut inside the JSON, as a log truncated while the pod was printing it.
begin=$(grep -n -- "--- shardtcp-loadgen summary 0 begin ---" "$work/pod0.log" | cut -d: -f1)
head -n $((begin + 5)) "$work/pod0.log" >"$work/cut.log"
$PY "$MERGE" --from-logs "$work/cut.log" >/dev/null 2>"$work/cut.err"
rc=$?
check "merge refuses a cut-off log: exit 2 ($(cat "$work/cut.err"))" [ $rc -eq 2 ]
echo "$fails failed"
[[ $fails -eq 0 ]]
