#!/usr/bin/env bash
# Runs every integration test in one go (outside ctest, or as ctest's Linux
# reference test):
#
#   run_all.sh --target linux                  the harness against Linux's own
#       TCP (refserver.py, kernel owns 198.18.0.1) in namespaces of its own
#       (stcp-rdp / stcp-rpeer), so it can run next to the main lab.
#   run_all.sh --target shardtcp --httpd PATH  the same against shardtcp-httpd
#       in the main lab (stcp-dp / stcp-peer).
#
# Each test prints PASS/FAIL lines; the last line is "N passed, N failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target=shardtcp
while [[ $# -gt 0 ]]; do
  case $1 in
    --target) target=$2; shift 2 ;;
    --httpd) STCP_HTTPD=$(realpath "$2"); export STCP_HTTPD; shift 2 ;;
    *) echo "usage: $0 [--target linux|shardtcp] [--httpd PATH]" >&2; exit 2 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root (network namespaces)"; exit 77; }
export STCP_TARGET=$target
if [[ $target == linux ]]; then
  export STCP_DP_NS=${STCP_REF_DP_NS:-stcp-rdp} STCP_PEER_NS=${STCP_REF_PEER_NS:-stcp-rpeer}
fi
export STCP_STATE_DIR=${STCP_STATE_DIR:-/tmp/shardtcp-integration-$target}
source "$here/lib.sh"

passed=0 failed=0
run() {
  local name=$1; shift
  echo "===== $name"
  if timeout 300 "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "===== $name: FAILED"; fi
}
cleanup() { bash "$here/fixture.sh" stop >/dev/null 2>&1 || true; }
trap cleanup EXIT

if ! bash "$here/fixture.sh" start; then
  echo "0 passed, 1 failed"
  exit 1
fi
run curl bash "$here/test_curl.sh"
run bytes bash "$here/test_bytes.sh"
run errors bash "$here/test_errors.sh"
run icmp bash "$here/test_py.sh" test_icmp.py
run halfclose bash "$here/test_py.sh" test_halfclose.py
run sequential bash "$here/test_py.sh" test_sequential.py 500
run pipeline bash "$here/test_py.sh" test_pipeline.py
run wrk bash "$here/test_wrk.sh"
run probe bash "$here/probe/probe.sh"
run leak bash "$here/test_leak.sh"
trap - EXIT
run teardown bash "$here/fixture.sh" stop
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
