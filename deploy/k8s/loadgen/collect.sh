#!/usr/bin/env bash
# The one command of a distributed load test: waits for the Job's generators,
# takes each pod's log and merges the summaries into one report.
#   collect.sh [-n NAMESPACE] [-j JOB] [-o merged.json] [--timeout SECONDS]
# Exit 0 with the merged report; 1 when the Job failed or a generator's
# summary is missing (the report names the index); 2 on bad arguments.
set -uo pipefail
ns=shardtcp job=shardtcp-loadgen out=merged.json timeout=1200
while [[ $# -gt 0 ]]; do
  case $1 in
    -n) ns=$2; shift 2 ;;
    -j) job=$2; shift 2 ;;
    -o) out=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    *) echo "usage: collect.sh [-n NS] [-j JOB] [-o FILE] [--timeout S]" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
merge=$here/merge.py
[[ -f $merge ]] || merge=/usr/share/shardtcp/merge.py
n=$(kubectl -n "$ns" get job "$job" -o jsonpath='{.spec.completions}') || exit 1
echo "collect: job $ns/$job, $n generators; waiting up to ${timeout}s"
kubectl -n "$ns" wait --for=condition=complete --timeout="${timeout}s" "job/$job" ||
  echo "collect: job $job did not complete; merging what there is" >&2
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
missing=0
for ((i = 0; i < n; i++)); do
  pod=$(kubectl -n "$ns" get pods -l "job-name=$job,batch.kubernetes.io/job-completion-index=$i" \
    -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)
  if [[ -z $pod ]] || ! kubectl -n "$ns" logs "$pod" >"$logs/$i.log" 2>/dev/null ||
    ! grep -q -- "--- shardtcp-loadgen summary $i end ---" "$logs/$i.log"; then
    echo "collect: generator $i: no summary (pod ${pod:-missing})" >&2
    rm -f "$logs/$i.log"
    missing=$((missing + 1))
  fi
done
[[ $missing -lt $n ]] || { echo "collect: no summaries at all" >&2; exit 1; }
python3 "$merge" --from-logs -o "$out" "$logs"/*.log || exit 1
echo "collect: merged summary in $out"
[[ $missing -eq 0 ]]
