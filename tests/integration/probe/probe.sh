#!/usr/bin/env bash
# Runs the conformance probe from stcp-peer.
#
#   probe.sh [probe args]                 against the running fixture server
#                                         (shardtcp-httpd, or refserver.py when
#                                         STCP_TARGET=linux)
#   probe.sh --target linux [probe args]  self-contained Linux reference run:
#                                         own namespaces (stcp-rdp/stcp-rpeer),
#                                         kernel owns 198.18.0.1, refserver.py
#                                         answers HTTP; lab removed afterwards.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target=${STCP_TARGET:-shardtcp}
standalone=0
if [[ ${1:-} == --target ]]; then target=$2; standalone=1; shift 2; fi

# The Linux reference is configured to the RFC behaviour where Linux's
# defaults differ from it (each setting says why). Only the reference
# namespace is touched (per-namespace sysctls).
linux_rfc_settings() {
  # RFC 1337: Linux's default (tcp_rfc1337=0) lets a RST kill TIME-WAIT;
  # the probe checks the RFC behaviour, which Linux has behind this sysctl.
  dp sysctl -qw net.ipv4.tcp_rfc1337=1 >/dev/null
  # RFC 5681 reference: the host default may be BBR, which has no RFC 5681
  # §4.1 restart window (and paces instead of slow start). CUBIC or Reno
  # follow RFC 5681 for slow start and idle restart; a non-initial namespace
  # may only pick from net.ipv4.tcp_allowed_congestion_control (often Reno).
  dp sysctl -qw net.ipv4.tcp_congestion_control=cubic >/dev/null 2>&1 ||
    dp sysctl -qw net.ipv4.tcp_congestion_control=reno >/dev/null 2>&1 ||
    echo "probe.sh: neither cubic nor reno allowed for the Linux reference" >&2
  dp sysctl -qw net.ipv4.tcp_slow_start_after_idle=1 >/dev/null
  # RFC 6298 (5.7) (3 s RTO after a SYN-ACK timeout without an RTT sample):
  # Linux would seed the RTO from its per-destination metrics cache, filled
  # by the earlier checks from the same probe address; the RFC has no such
  # cache, so the reference runs without it.
  dp sysctl -qw net.ipv4.tcp_no_metrics_save=1 >/dev/null
}

if [[ $standalone -eq 1 && $target == linux ]]; then
  export STCP_TARGET=linux
  export STCP_DP_NS=${STCP_REF_DP_NS:-stcp-rdp} STCP_PEER_NS=${STCP_REF_PEER_NS:-stcp-rpeer}
  export STCP_STATE_DIR=${STCP_REF_STATE_DIR:-/tmp/shardtcp-probe-linux}
  source "$here/../lib.sh"
  trap 'bash "$STCP_IT_DIR/fixture.sh" stop >/dev/null 2>&1 || true' EXIT
  bash "$STCP_IT_DIR/fixture.sh" start || exit 1
else
  source "$here/../lib.sh"
  require_server
fi
[[ $target == linux ]] && linux_rfc_settings
timeout 300 ip netns exec "$STCP_PEER_NS" "$PY" "$here/probe.py" --iface stcp-peer0 \
  --server "$SERVER_IP" --port "$SERVER_PORT" --target "$target" "$@"
