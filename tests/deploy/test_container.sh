#!/usr/bin/env bash
# Issue 16, part 4: the container, without a container engine (this machine
# has the docker client but no engine, and no network for a base image).
#   test_container.sh SOURCE_DIR [HTTPD LOADGEN]   (the binaries for step 3)
#  1. deploy/container/Containerfile lints clean (npm dockerfile-utils, the
#     linter of the Docker language server), every COPY source exists, its
#     build stage installs the -dev packages deploy/bootstrap.sh installs for
#     the ordinary build (which builds and tests the same tree), and its
#     entry point / stop signal are the ones the manifests rely on;
#  2. the entry point (deploy/container/entrypoint.sh) turns the device
#     plugins' environment and Multus' network-status into the right
#     --set arguments, and refuses an incomplete environment (exit 2);
#  3. as root, the pods' own chain runs for real over net_memif: the entry
#     point starts shardtcp-httpd with the ConfigMap's deploy/k8s/base/httpd.toml,
#     and run-generator.sh -> entry point -> shardtcp-loadgen (the Job's
#     chain, loadgen.toml) downloads from it.
# The image build itself (apt-get in debian:12) needs an engine and the
# Debian mirror: not run here (README "Container" says so).
set -uo pipefail
SRC=$1
C=$SRC/deploy/container
PY=/usr/bin/python3
work=$(mktemp -d)
# The image's /usr/bin: the programs side by side, as the entry point expects.
BIN=$work/bin
mkdir -p "$BIN"
if [[ -n ${2:-} ]]; then
  for b in "$2" "$3"; do [[ -x $b ]] || { echo "FAIL: $b is not an executable"; exit 1; }; done
  ln -s "$(realpath "$2")" "$BIN/shardtcp-httpd"
  ln -s "$(realpath "$3")" "$BIN/shardtcp-loadgen"
fi
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

# ---- 1. the Containerfile ---------------------------------------------------
V=$SRC/deploy/k8s/validate
if command -v node >/dev/null && [[ -d $V/node_modules/dockerfile-utils ]]; then
  (cd "$V" && node -e '
    const du = require("dockerfile-utils");
    const text = require("fs").readFileSync(process.argv[1], "utf8");
    const d = du.validate(text);
    for (const x of d) console.log(`  line ${x.range.start.line + 1}: ${x.message}`);
    process.exit(d.length ? 1 : 0);' "$C/Containerfile")
  check "Containerfile: dockerfile-utils reports nothing" [ $? -eq 0 ]
else
  echo "FAIL: dockerfile-utils missing: run deploy/bootstrap.sh (npm ci in deploy/k8s/validate)"
  fails=$((fails + 1))
fi
missing=$(awk '/^COPY / && !/--from=/ {for (i = 2; i < NF; i++) print $i}' "$C/Containerfile" |
  while read -r p; do [[ -e $SRC/$p ]] || echo "$p"; done)
check "Containerfile: every COPY source exists in the tree${missing:+ (missing: $missing)}" [ -z "$missing" ]
$PY - "$C/Containerfile" "$SRC/deploy/bootstrap.sh" <<'PYEOF'
import re, sys
cf, boot = open(sys.argv[1]).read(), open(sys.argv[2]).read()
build = cf.split("FROM debian:12-slim")[0]
inst = set(re.findall(r"\b([a-z0-9][a-z0-9.+-]*-dev)\b", build))
pk = re.search(r"PACKAGES=\((.*?)\n\)", boot, re.S).group(1)
pk = re.sub(r"#[^\n]*", "", pk)
need = {p for p in pk.split() if p.endswith("-dev")} - {"libgtest-dev", "libgmock-dev", "libbenchmark-dev"}
miss = sorted(need - inst)
print("  build stage lacks: " + ", ".join(miss) if miss else "  build stage has: " + ", ".join(sorted(need)))
sys.exit(1 if miss else 0)
PYEOF
check "Containerfile: build stage installs bootstrap's -dev packages" [ $? -eq 0 ]
check "Containerfile: runtime ENTRYPOINT is the entry point, STOPSIGNAL SIGTERM" \
  bash -c "grep -qx 'ENTRYPOINT \[\"/usr/bin/shardtcp-entrypoint\"\]' '$C/Containerfile' &&
           grep -qx 'STOPSIGNAL SIGTERM' '$C/Containerfile' &&
           grep -qx 'COPY deploy/container/entrypoint.sh /usr/bin/shardtcp-entrypoint' '$C/Containerfile'"

# ---- 2. the entry point -----------------------------------------------------
E=$C/entrypoint.sh
dry() {  # VAR=VALUE... [-- ENTRYPOINT ARGS...]: the command it would run, on one line
  local vars=()
  while [[ $# -gt 0 && $1 != -- ]]; do vars+=("$1"); shift; done
  [[ ${1:-} == -- ]] && shift
  env -i PATH="$PATH" SHARDTCP_DRY_RUN=1 SHARDTCP_NETWORK_STATUS="$work/none" "${vars[@]}" sh "$E" "$@" |
    tr '\n' ' '
}
out=$(dry SHARDTCP_PCI_ENV=PCIDEVICE_INTEL_COM_SRIOV_DPDK PCIDEVICE_INTEL_COM_SRIOV_DPDK=0000:3b:02.1,0000:3b:02.2 SHARDTCP_ADDRESS=198.18.10.5/24)
check "entrypoint: SR-IOV VF -> -a <first BDF>, no vdev, address" \
  [ "$out" = '/usr/bin/shardtcp-httpd --config /etc/shardtcp/httpd.toml --set eal.args=["-a", "0000:3b:02.1", "--in-memory"] --set eal.vdevs=[] --set net.address=198.18.10.5/24 ' ]
out=$(dry AFXDP_DEVICES="ens1f0q3 ens1f0q4" SHARDTCP_ADDRESS=198.18.11.5/24 SHARDTCP_LCORES=3)
check "entrypoint: AF_XDP device -> net_af_xdp vdev with use_cni, lcores" \
  [ "$out" = '/usr/bin/shardtcp-httpd --config /etc/shardtcp/httpd.toml --set eal.vdevs=["net_af_xdp0,iface=ens1f0q3,use_cni=1"] --set net.address=198.18.11.5/24 --set eal.lcores=3 ' ]
# Multus' network-status annotation as the downward API writes it.
cat >"$work/network-status" <<'JSON'
[{"name": "cbr0", "interface": "eth0", "ips": ["10.244.1.7"], "mac": "0a:58:0a:f4:01:07", "default": true, "dns": {}},
 {"name": "shardtcp/shardtcp-sriov", "interface": "net1", "ips": ["198.18.10.21"], "mac": "aa:bb:cc:dd:ee:01", "dns": {}, "device-info": {"type": "pci", "version": "1.1.0", "pci": {"pci-address": "0000:3b:02.1"}}}]
JSON
out=$(dry SHARDTCP_NETWORK_STATUS="$work/network-status" -- shardtcp-loadgen --quiet)
check "entrypoint: address from network-status (net1's IPAM), other program, its args first" \
  [ "$out" = '/usr/bin/shardtcp-loadgen --config /etc/shardtcp/httpd.toml --quiet --set net.address=198.18.10.21/24 ' ]
env -i PATH="$PATH" SHARDTCP_DRY_RUN=1 SHARDTCP_PCI_ENV=PCIDEVICE_NONE sh "$E" >/dev/null 2>"$work/e.err"
rc=$?
check "entrypoint: VF variable empty -> exit 2 ($(cat "$work/e.err"))" [ $rc -eq 2 ]
env -i PATH="$PATH" SHARDTCP_DRY_RUN=1 SHARDTCP_NETWORK_STATUS=$work/network-status \
  SHARDTCP_NETWORK=other/net sh "$E" >/dev/null 2>"$work/e.err"
rc=$?
check "entrypoint: no address for the attachment -> exit 2 ($(cat "$work/e.err"))" [ $rc -eq 2 ]

# ---- 3. the pods' chain, for real over net_memif ------------------------------
if [[ $(id -u) -eq 0 && -x $BIN/shardtcp-httpd && -x $BIN/shardtcp-loadgen ]]; then
  huge=()
  free_huge=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
  [[ ${free_huge:-0} -lt 256 ]] && huge=(--set eal.no_huge=true)
  sock=$work/memif.sock
  env SHARDTCP_BIN_DIR="$BIN" SHARDTCP_CONFIG="$SRC/deploy/k8s/base/httpd.toml" \
    SHARDTCP_ADDRESS=198.18.10.1/24 SHARDTCP_LCORES=0 SHARDTCP_NETWORK_STATUS=$work/none \
    sh "$E" shardtcp-httpd "${huge[@]}" \
    --set "eal.vdevs=[\"net_memif0,role=server,socket=$sock,socket-abstract=no\"]" \
    --set eal.file_prefix=stcp-ctr-srv --set metrics.listen=127.0.0.1:0 >"$work/httpd.out" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do [[ -S $sock ]] && break; kill -0 $pid 2>/dev/null || break; sleep 0.1; done
  check "entrypoint -> shardtcp-httpd with the ConfigMap's httpd.toml: up" [ -S "$sock" ] ||
    tail -5 "$work/httpd.out"
  JOB_COMPLETION_INDEX=1 LG_GENERATORS=2 LG_ADDR_BASE=198.18.10.100 LG_PREFIX=24 \
    LG_PORTS=10000-59999 LG_CONFIG=$SRC/deploy/k8s/loadgen/loadgen.toml LG_JSON=$work/s.json \
    LG_WRAPPER=$E SHARDTCP_BIN_DIR=$BIN SHARDTCP_LCORES=0 SHARDTCP_NETWORK_STATUS=$work/none \
    timeout 120 bash "$SRC/deploy/k8s/loadgen/run-generator.sh" "${huge[@]}" \
    --set "eal.vdevs=[\"net_memif0,role=client,socket=$sock,socket-abstract=no\"]" \
    --set eal.file_prefix=stcp-ctr-lg --set metrics.listen=127.0.0.1:0 \
    --target 198.18.10.1:80 --path /bytes/1000 --expect-bytes 1000 --connections 100 --concurrency 8 --timeout-s 60 \
    >"$work/lg.out" 2>&1
  rc=$?
  check "run-generator -> entrypoint -> shardtcp-loadgen (index 1 of 2: 198.18.10.101, ports 35000-59999): 100 ok" \
    bash -c "[ $rc -eq 0 ] && grep -qF 'source 198.18.10.101/24, ports 35000-59999' '$work/lg.out' &&
             grep -q 'client on 198.18.10.101' '$work/lg.out' &&
             $PY -c \"import json,sys; d=json.load(open('$work/s.json')); sys.exit(d['connections_ok'] != 100)\"" ||
    grep -v '^ ' "$work/lg.out" | tail -12
  # Not checked here: the server's exit status after its memif peer left.
  # DPDK 22.11's memif PMD can crash the side that stays up when the peer
  # disconnects (SIGSEGV in its rx burst; about 1 run in 5 here), which is
  # not what this test is about; the clean SIGTERM stop is checked in
  # deploy.deb without a memif peer.
  kill -TERM $pid 2>/dev/null
  for _ in $(seq 1 300); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
  wait $pid 2>/dev/null
  pid=""
else
  echo "SKIP: not root or no binaries: the entry point's real run needs root (DPDK)"
fi
echo "$fails failed"
[[ $fails -eq 0 ]]
