#!/usr/bin/env bash
# shardtcp virtual lab: two network namespaces joined by one veth pair.
#
#   stcp-dp   : veth stcp-dp0, link up, NO kernel IPv4 address, IPv6 off.
#               shardtcp (DPDK net_af_packet on stcp-dp0) owns 198.18.0.1/24.
#   stcp-peer : veth stcp-peer0 = 198.18.0.2/24 (+ 198.18.0.10-41/24 as extra
#               client sources), the Linux kernel's own TCP stack.
#
# Only 198.18.0.0/15 (RFC 2544 benchmarking range) is ever used; nothing is
# routed out of the namespaces.
#
# Usage: lab.sh up [--linux] | down | status | netem ARGS... | netem-off
#   up --linux   also gives the kernel 198.18.0.1/24 on stcp-dp0, so a Linux
#                server in stcp-dp can stand in for shardtcp (reference runs).
#   netem ARGS   tc netem on stcp-peer0 (e.g. `netem loss 5%`,
#                `netem delay 5ms reorder 25% 50%`); netem-off removes it.
# Namespace names can be overridden with STCP_DP_NS / STCP_PEER_NS (used by
# the Linux reference runs so they never touch the main lab).
set -euo pipefail

DP_NS=${STCP_DP_NS:-stcp-dp}
PEER_NS=${STCP_PEER_NS:-stcp-peer}
DP_IF=${STCP_DP_IF:-stcp-dp0}
PEER_IF=${STCP_PEER_IF:-stcp-peer0}
DP_ADDR=198.18.0.1/24
PEER_ADDR=198.18.0.2/24
EXTRA_FIRST=10   # 198.18.0.10 .. 198.18.0.41: many-source client tests
EXTRA_LAST=41

die() { echo "lab.sh: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root"

ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
link_exists() { in_ns "$1" ip link show dev "$2" >/dev/null 2>&1; }

# Offloads off: the DPDK side must see real checksums and MTU-sized frames
# (veth would otherwise hand over partial checksums and 64 KB GSO frames).
# Some features are [fixed] on veth; ethtool then exits non-zero, so each
# feature is tried on its own and only tx/rx checksumming is verified.
offloads_off() {
  local ns=$1 dev=$2 f
  for f in rx tx tso gso gro lro sg; do
    in_ns "$ns" ethtool -K "$dev" "$f" off >/dev/null 2>&1 || true
  done
  in_ns "$ns" ethtool -k "$dev" | grep -Eq '^tx-checksumming: off' ||
    die "could not turn tx checksumming off on $dev"
}

ipv6_off() {
  local ns=$1 dev=$2 k
  for k in all default "$dev"; do
    in_ns "$ns" sysctl -qw "net.ipv6.conf.$k.disable_ipv6=1" >/dev/null 2>&1 || true
  done
}

kill_ns_pids() {
  # Processes left in our own namespaces (a stale server or client) would keep
  # the namespace and its veth alive after `ip netns del`.
  local ns=$1 pids i
  ns_exists "$ns" || return 0
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  [[ -z $pids ]] && return 0
  kill -INT $pids 2>/dev/null || true
  for i in $(seq 1 50); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [[ -z $pids ]] && return 0
    sleep 0.1
  done
  kill -KILL $pids 2>/dev/null || true
  sleep 0.2
}

cmd_up() {
  local linux=0
  [[ ${1:-} == --linux ]] && linux=1
  ns_exists "$DP_NS" || ip netns add "$DP_NS"
  ns_exists "$PEER_NS" || ip netns add "$PEER_NS"
  if ! link_exists "$DP_NS" "$DP_IF" || ! link_exists "$PEER_NS" "$PEER_IF"; then
    # Half a pair (one end deleted by hand): start over.
    in_ns "$DP_NS" ip link del "$DP_IF" 2>/dev/null || true
    in_ns "$PEER_NS" ip link del "$PEER_IF" 2>/dev/null || true
    in_ns "$DP_NS" ip link add "$DP_IF" type veth peer name "$PEER_IF" netns "$PEER_NS"
  fi
  ipv6_off "$DP_NS" "$DP_IF"
  ipv6_off "$PEER_NS" "$PEER_IF"
  offloads_off "$DP_NS" "$DP_IF"
  offloads_off "$PEER_NS" "$PEER_IF"

  in_ns "$DP_NS" ip link set lo up
  in_ns "$PEER_NS" ip link set lo up
  in_ns "$DP_NS" ip link set "$DP_IF" up
  in_ns "$PEER_NS" ip link set "$PEER_IF" up

  if [[ $linux -eq 1 ]]; then
    in_ns "$DP_NS" ip addr replace "$DP_ADDR" dev "$DP_IF"
  else
    # shardtcp owns 198.18.0.1 here; the kernel must not answer for it.
    in_ns "$DP_NS" ip -4 addr flush dev "$DP_IF"
  fi
  in_ns "$PEER_NS" ip addr replace "$PEER_ADDR" dev "$PEER_IF"
  local i
  for i in $(seq "$EXTRA_FIRST" "$EXTRA_LAST"); do
    in_ns "$PEER_NS" ip addr replace "198.18.0.$i/24" dev "$PEER_IF"
  done
  echo "lab up: $DP_NS/$DP_IF ($( [[ $linux -eq 1 ]] && echo "kernel $DP_ADDR" || echo "no kernel address; shardtcp uses $DP_ADDR")) <-> $PEER_NS/$PEER_IF $PEER_ADDR"
}

cmd_down() {
  kill_ns_pids "$DP_NS"
  kill_ns_pids "$PEER_NS"
  if ns_exists "$DP_NS"; then ip netns del "$DP_NS"; fi
  if ns_exists "$PEER_NS"; then ip netns del "$PEER_NS"; fi
  echo "lab down"
}

cmd_status() {
  local ok=0
  for ns in "$DP_NS" "$PEER_NS"; do
    if ns_exists "$ns"; then
      echo "== namespace $ns"
      in_ns "$ns" ip -br link
      in_ns "$ns" ip -br -4 addr | sed 's/^/   addr /'
      in_ns "$ns" tc qdisc show 2>/dev/null | grep netem | sed "s/^/   /" || true
      in_ns "$ns" nft list table inet stcp_netem >/dev/null 2>&1 && echo "   nftables loss emulation active"
      local pids
      pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
      [[ -n $pids ]] && echo "   processes: $pids"
    else
      echo "== namespace $ns: absent"
      ok=1
    fi
  done
  if [[ $ok -eq 0 ]] && { ! link_exists "$DP_NS" "$DP_IF" || ! link_exists "$PEER_NS" "$PEER_IF"; }; then
    echo "veth pair incomplete"
    ok=1
  fi
  return $ok
}

# Impairments on stcp-peer0. tc netem when the kernel has it; otherwise
# (e.g. a minimal VM kernel without sch_netem) random loss only, with an
# nftables numgen rule in the peer namespace, both directions. Exit 3 means
# "this impairment is not available here" so tests can skip, not fail.
cmd_netem() {
  [[ $# -gt 0 ]] || die "usage: lab.sh netem <netem args, e.g. loss 5%>"
  ns_exists "$PEER_NS" || die "lab is not up"
  local err
  if err=$(in_ns "$PEER_NS" tc qdisc replace dev "$PEER_IF" root netem "$@" 2>&1); then
    in_ns "$PEER_NS" tc qdisc show dev "$PEER_IF"
    return 0
  fi
  if [[ $# -eq 2 && $1 == loss && $2 =~ ^([0-9]+(\.[0-9]+)?)%$ ]] && command -v nft >/dev/null; then
    local per10k
    per10k=$(awk -v p="${BASH_REMATCH[1]}" 'BEGIN { printf "%d", p * 100 + 0.5 }')
    in_ns "$PEER_NS" nft delete table inet stcp_netem 2>/dev/null || true
    in_ns "$PEER_NS" nft -f - <<NFT
table inet stcp_netem {
  chain in  { type filter hook input  priority 0; policy accept; iifname "$PEER_IF" numgen random mod 10000 < $per10k drop; }
  chain out { type filter hook output priority 0; policy accept; oifname "$PEER_IF" numgen random mod 10000 < $per10k drop; }
}
NFT
    echo "netem unavailable ($err); emulating loss $2 on $PEER_IF with nftables"
    return 0
  fi
  echo "lab.sh: impairment '$*' not available: $err" >&2
  return 3
}

cmd_netem_off() {
  ns_exists "$PEER_NS" || return 0
  in_ns "$PEER_NS" tc qdisc del dev "$PEER_IF" root 2>/dev/null || true
  in_ns "$PEER_NS" nft delete table inet stcp_netem 2>/dev/null || true
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  netem) shift; cmd_netem "$@" ;;
  netem-off) cmd_netem_off ;;
  *) echo "usage: $0 up [--linux] | down | status | netem ARGS... | netem-off" >&2; exit 2 ;;
esac
