#!/usr/bin/env bash
# shardtcp bootstrap (idempotent, run as root on Debian 12):
#   1. installs the Debian packages that are missing (apt-get update only when
#      the package lists are older than a day or absent),
#   2. reserves 2 MB hugepages and mounts hugetlbfs at /dev/hugepages.
# If hugepages cannot be had, it says so and DPDK runs with --no-huge.
# Exits non-zero only on a real failure (a package that cannot be installed).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libdpdk-dev dpdk
  libboost-dev libgtest-dev libgmock-dev libbenchmark-dev
  prometheus-cpp-dev libtomlplusplus-dev libcli11-dev
  libssl-dev libcurl4-openssl-dev nlohmann-json3-dev  # loadgen sha256, stat, JSON schema test
  curl wrk nginx-light prometheus
  iproute2 ethtool procps python3 python3-scapy python3-jsonschema tcpdump
  nftables  # lab.sh packet-loss fallback when the kernel has no sch_netem
  jq python3-yaml systemd nodejs  # tests/deploy: entry point, manifests, systemd-analyze, validators
)
HUGEPAGES_2M=${SHARDTCP_HUGEPAGES:-512}
HUGE_MNT=/dev/hugepages

log() { echo "bootstrap: $*"; }
die() { echo "bootstrap: ERROR: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root (in a root shell: bash deploy/bootstrap.sh)"
[[ -r /etc/debian_version ]] || die "this script targets Debian 12 (no /etc/debian_version)"

export DEBIAN_FRONTEND=noninteractive

# ---- packages ---------------------------------------------------------------
missing=()
for p in "${PACKAGES[@]}"; do
  if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) != "install ok installed" ]]; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  log "all ${#PACKAGES[@]} packages present"
else
  log "installing: ${missing[*]}"
  # Refresh the lists only when they are absent or older than a day.
  if [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -n1) ]]; then
    log "apt-get update"
    apt-get update -qq || die "apt-get update failed"
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    die "apt-get install failed for: ${missing[*]}"
  log "installed ${#missing[@]} package(s)"
fi

# ---- offline validators for deploy/ (tests/deploy) ----------------------------
# npm kubernetes-models (OpenAPI schemas) and dockerfile-utils, pinned by
# deploy/k8s/validate/package-lock.json; installed once, used offline.
val_dir=$(cd "$(dirname "$0")" && pwd)/k8s/validate
if [[ ! -d $val_dir/node_modules/kubernetes-models || $val_dir/package-lock.json -nt $val_dir/node_modules ]]; then
  # Debian's nodejs has npm apart (a nodejs that bundles npm needs nothing).
  command -v npm >/dev/null || apt-get install -y -qq --no-install-recommends npm >/dev/null 2>&1 ||
    log "WARNING: could not install npm"
  if command -v npm >/dev/null; then
    log "npm ci in deploy/k8s/validate"
    (cd "$val_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
      log "WARNING: npm ci failed: the deploy.k8s / deploy.container schema checks will fail"
    touch "$val_dir/node_modules" 2>/dev/null || true
  else
    log "WARNING: no npm: the deploy.k8s / deploy.container schema checks will fail"
  fi
fi

# ---- hugepages ----------------------------------------------------------------
huge_warn() {
  log "WARNING: $*"
  log "WARNING: no usable 2 MB hugepages; DPDK will run with --no-huge"
}

hp_sys=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
if [[ ! -w $hp_sys && ! -r $hp_sys ]]; then
  huge_warn "kernel has no 2 MB hugepage support ($hp_sys)"
else
  have=$(cat "$hp_sys")
  if ((have < HUGEPAGES_2M)); then
    echo "$HUGEPAGES_2M" >"$hp_sys" 2>/dev/null || true
    have=$(cat "$hp_sys")
  fi
  if ((have < HUGEPAGES_2M)); then
    huge_warn "asked for $HUGEPAGES_2M 2 MB pages, kernel gave $have"
  else
    log "hugepages: $have x 2 MB reserved"
  fi
  if ! awk -v m="$HUGE_MNT" '$2 == m && $3 == "hugetlbfs" {f=1} END {exit !f}' /proc/mounts; then
    mkdir -p "$HUGE_MNT"
    if mount -t hugetlbfs -o pagesize=2M nodev "$HUGE_MNT" 2>/dev/null; then
      log "mounted hugetlbfs at $HUGE_MNT"
    else
      huge_warn "could not mount hugetlbfs at $HUGE_MNT"
    fi
  else
    log "hugetlbfs already mounted at $HUGE_MNT"
  fi
fi
log "done"
