#!/bin/sh
# Container entry point: runs a shardtcp program with the config mounted from
# the ConfigMap, adding what only the pod knows at start-up:
#   - the port: an SR-IOV VF bound to vfio-pci (PCI address from the SR-IOV
#     device plugin's environment variable named by SHARDTCP_PCI_ENV, e.g.
#     PCIDEVICE_INTEL_COM_SRIOV_DPDK) becomes `-a <BDF>`; or an AF_XDP
#     netdev from the AF_XDP device plugin (AFXDP_DEVICES) becomes the vdev
#     net_af_xdp0,iface=<dev>,use_cni=1 (the CNI loaded the XDP program and
#     hands the socket over, so the pod needs no CAP_SYS_ADMIN/CAP_BPF);
#   - the IPv4 address: SHARDTCP_ADDRESS (a.b.c.d/len) if set, otherwise the
#     first address Multus' IPAM gave the attachment SHARDTCP_NETWORK
#     (default "shardtcp/shardtcp-sriov") in the network-status annotation
#     (downward API file /etc/podinfo/network-status), with /SHARDTCP_PREFIX;
#   - the lcores: SHARDTCP_LCORES if set (e.g. the cores the static CPU
#     manager gave the pod: `taskset -pc 1`).
#   entrypoint.sh [PROGRAM] [ARGS...]     PROGRAM: shardtcp-httpd (default),
#                                         shardtcp-echo, shardtcp-loadgen
# SHARDTCP_DRY_RUN=1 prints the command (one argument a line) instead of
# running it. Exit 2 when the environment is incomplete (one line why).
set -eu
prog=shardtcp-httpd
case ${1:-} in shardtcp-*) prog=$1; shift ;; esac
config=${SHARDTCP_CONFIG:-/etc/shardtcp/httpd.toml}
status=${SHARDTCP_NETWORK_STATUS:-/etc/podinfo/network-status}
network=${SHARDTCP_NETWORK:-shardtcp/shardtcp-sriov}
bin=${SHARDTCP_BIN_DIR:-/usr/bin}
die() { echo "entrypoint: $*" >&2; exit 2; }

set -- --config "$config" "$@"
if [ -n "${SHARDTCP_PCI_ENV:-}" ]; then
  eval "bdf=\${$SHARDTCP_PCI_ENV:-}"
  bdf=${bdf%%,*}  # the device plugin lists one or more, comma-separated
  [ -n "$bdf" ] || die "SHARDTCP_PCI_ENV=$SHARDTCP_PCI_ENV but \$$SHARDTCP_PCI_ENV is empty (no VF allocated?)"
  set -- "$@" --set "eal.args=[\"-a\", \"$bdf\", \"--in-memory\"]" --set 'eal.vdevs=[]'
elif [ -n "${AFXDP_DEVICES:-}" ]; then
  dev=${AFXDP_DEVICES%% *}
  set -- "$@" --set "eal.vdevs=[\"net_af_xdp0,iface=$dev,use_cni=1\"]"
fi
if [ -n "${SHARDTCP_ADDRESS:-}" ]; then
  set -- "$@" --set "net.address=$SHARDTCP_ADDRESS"
elif [ -r "$status" ]; then
  command -v jq >/dev/null || die "jq missing: cannot read $status"
  ip=$(jq -r --arg n "$network" '[.[] | select(.name == $n) | .ips[]?] | first // empty' "$status")
  [ -n "$ip" ] || die "$status: no address for network $network (IPAM?); or set SHARDTCP_ADDRESS"
  set -- "$@" --set "net.address=$ip/${SHARDTCP_PREFIX:-24}"
fi
if [ -n "${SHARDTCP_LCORES:-}" ]; then
  set -- "$@" --set "eal.lcores=$SHARDTCP_LCORES"
fi
if [ "${SHARDTCP_DRY_RUN:-0}" = 1 ]; then
  printf '%s\n' "$bin/$prog" "$@"
  exit 0
fi
exec "$bin/$prog" "$@"
