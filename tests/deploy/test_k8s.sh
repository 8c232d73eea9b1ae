#!/usr/bin/env bash
# Issue 16, part 5: every manifest under deploy/k8s.
#   test_k8s.sh SOURCE_DIR
# For each kustomization (base, server/{deployment,daemonset,af-xdp},
# loadgen): `kubectl kustomize` builds it (offline), and every object
# validates against the Kubernetes OpenAPI schemas / the Prometheus Operator
# CRD schemas (deploy/k8s/validate: npm kubernetes-models, installed by
# deploy/bootstrap.sh). Then what the schemas cannot know (k8s_checks.py):
# Guaranteed QoS with whole CPUs and hugepages, capabilities (no SYS_ADMIN,
# no privileged), probes on the metrics port, the PodMonitor selecting every
# workload with job label "shardtcp", each pod's network attachment existing
# and its device-plugin resource requested, the Indexed Job's N agreeing in
# completions / parallelism / LG_GENERATORS and its subdomain being the
# headless Service, the ConfigMaps being the TOML files beside them, and
# base/prometheusrule.yaml being the generated copy of
# deploy/prometheus/shardtcp-rules.yml. No cluster and no network needed.
set -uo pipefail
SRC=$1
K=$SRC/deploy/k8s
PY=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
check() {  # NAME COMMAND...: one verdict line
  local name=$1
  shift
  if "$@"; then echo "PASS: $name"; return 0; fi
  echo "FAIL: $name"
  fails=$((fails + 1))
  return 1
}
command -v kubectl >/dev/null || { echo "SKIP: kubectl missing (kustomize)"; exit 77; }
$PY -c 'import yaml' 2>/dev/null || { echo "SKIP: python3-yaml missing"; exit 77; }
have_node=1
if ! command -v node >/dev/null || [[ ! -d $K/validate/node_modules/kubernetes-models ]]; then
  # Not a skip: the schema check is the point. bootstrap installs it.
  echo "FAIL: $K/validate/node_modules missing: run deploy/bootstrap.sh (npm ci there)"
  have_node=0
  fails=$((fails + 1))
fi

for v in base server/deployment server/daemonset server/af-xdp loadgen; do
  out=$work/${v//\//_}
  kubectl kustomize "$K/$v" >"$out.yaml" 2>"$out.err"
  check "kubectl kustomize $v" [ $? -eq 0 ] || { cat "$out.err"; continue; }
  $PY -c 'import sys, yaml, json; json.dump([d for d in yaml.safe_load_all(open(sys.argv[1])) if d], open(sys.argv[2], "w"))' \
    "$out.yaml" "$out.json"
  if [[ $have_node -eq 1 ]]; then
    (cd "$K/validate" && node validate.mjs "$out.json") >"$out.val" 2>&1
    rc=$?
    sed "s|^|  $v: |" "$out.val"
    check "$v: every object valid against its OpenAPI schema" [ $rc -eq 0 ]
  fi
done

python3 "$K/gen_prometheusrule.py" >"$work/rule.yaml"
check "base/prometheusrule.yaml is deploy/prometheus/shardtcp-rules.yml (regenerate: gen_prometheusrule.py)" \
  cmp -s "$work/rule.yaml" "$K/base/prometheusrule.yaml"

$PY "$SRC/tests/deploy/k8s_checks.py" "$K" "$work"
check "semantic checks (lines above)" [ $? -eq 0 ]
echo "$fails failed"
[[ $fails -eq 0 ]]
