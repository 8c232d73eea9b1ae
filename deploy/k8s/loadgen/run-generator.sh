#!/usr/bin/env bash
# One generator of a distributed load test: the command of each pod of the
# Indexed Job in job.yaml (installed in the image as
# /usr/share/shardtcp/run-generator.sh), also run by tests/deploy/test_merge.sh.
#
# Its index (JOB_COMPLETION_INDEX, set by Kubernetes for an Indexed Job)
# picks a disjoint slice of the source space, so no two generators ever use
# the same 4-tuple:
#   source address  LG_ADDR_BASE + index          (net.address, /LG_PREFIX)
#   source ports    slice index of LG_PORTS split in LG_GENERATORS equal parts
# Start together: with LG_SUBDOMAIN set (the Job's headless Service), it
# waits until all LG_GENERATORS pods (<job>-<i>.<subdomain>) resolve, at most
# LG_BARRIER_S seconds, then starts; the pods are created at once
# (parallelism = completions), this makes them begin together.
# Output: the loadgen's lines, then its --json summary between the lines
# "--- shardtcp-loadgen summary <index> begin/end ---", which merge.py
# --from-logs takes from `kubectl logs` (deploy/k8s/loadgen/collect.sh).
# Exit status: the loadgen's (0 when every connection was good), 3 when the
# barrier timed out, 2 on a bad environment.
set -uo pipefail
idx=${JOB_COMPLETION_INDEX:?JOB_COMPLETION_INDEX not set (run as an Indexed Job)}
n=${LG_GENERATORS:?LG_GENERATORS not set (= the Job completions)}
base=${LG_ADDR_BASE:-198.18.1.10}
prefix=${LG_PREFIX:-16}
ports=${LG_PORTS:-10000-59999}
loadgen=${LG_BIN:-/usr/bin/shardtcp-loadgen}
config=${LG_CONFIG:-/etc/shardtcp-loadgen/loadgen.toml}
out=${LG_JSON:-/tmp/summary.json}
# In the image: the container entry point (deploy/container/entrypoint.sh)
# adds the pod's port (the SR-IOV VF) and cores; it gets the config and this
# generator's address through its own variables.
wrapper=${LG_WRAPPER:-}

bad() { echo "run-generator: $*" >&2; exit 2; }
[[ $idx =~ ^[0-9]+$ && $n =~ ^[0-9]+$ && $n -ge 1 && $idx -lt $n ]] ||
  bad "index $idx not in 0..$((n - 1))"
[[ $ports =~ ^([0-9]+)-([0-9]+)$ ]] || bad "LG_PORTS $ports: want LO-HI"
lo=${BASH_REMATCH[1]} hi=${BASH_REMATCH[2]}
width=$(((hi - lo + 1) / n))
[[ $width -ge 1 ]] || bad "LG_PORTS $ports has fewer ports than $n generators"
plo=$((lo + idx * width))
phi=$((plo + width - 1))
IFS=. read -r a b c d <<<"$base"
for o in "$a" "$b" "$c" "$d"; do [[ $o =~ ^[0-9]+$ && $o -le 255 ]] || bad "LG_ADDR_BASE $base"; done
v=$(((a << 24 | b << 16 | c << 8 | d) + idx))
addr="$((v >> 24 & 255)).$((v >> 16 & 255)).$((v >> 8 & 255)).$((v & 255))"

if [[ -n ${LG_SUBDOMAIN:-} ]]; then
  job=${LG_JOB_NAME:?LG_JOB_NAME not set}
  deadline=$((SECONDS + ${LG_BARRIER_S:-300}))
  for ((i = 0; i < n; i++)); do
    until getent hosts "$job-$i.$LG_SUBDOMAIN" >/dev/null; do
      ((SECONDS < deadline)) || { echo "run-generator: barrier: $job-$i not up" >&2; exit 3; }
      sleep 1
    done
  done
fi

echo "run-generator: index $idx of $n: source $addr/$prefix, ports $plo-$phi"
if [[ -n $wrapper ]]; then
  SHARDTCP_CONFIG=$config SHARDTCP_ADDRESS=$addr/$prefix "$wrapper" shardtcp-loadgen \
    --src-ports "$plo-$phi" --json "$out" "$@"
else
  "$loadgen" --config "$config" --set "net.address=$addr/$prefix" --src-ports "$plo-$phi" \
    --json "$out" "$@"
fi
rc=$?
if [[ -s $out ]]; then
  echo "--- shardtcp-loadgen summary $idx begin ---"
  cat "$out"
  echo "--- shardtcp-loadgen summary $idx end ---"
fi
exit $rc
