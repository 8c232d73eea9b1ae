#!/usr/bin/env bash
# The README's second command (as root):  bash deploy/test.sh   (.ci/run calls it)
#
#   1. bootstrap (packages, hugepages)
#   2. Release build with DPDK and tests in build-test/, then ctest: unit,
#      simulation, fuzz-corpus replay and integration tests (the real
#      shardtcp-httpd in the lab against Linux clients, the conformance probe,
#      and the same harness against Linux's own TCP as the reference)
#   3. ASan+UBSan build without DPDK in build-asan/, then ctest again on the
#      unit + simulation tests (skip with SHARDTCP_SKIP_SANITIZE=1)
#   4. clang libFuzzer build (ASan+UBSan, no DPDK, only the fuzz targets) in
#      build-fuzz/, then the stateful engine fuzzer for SHARDTCP_FUZZ_TIME s
#      (default 60) and the parser fuzzer for half that, each over a copy of
#      its committed corpus; one pass or fail each (skip with SHARDTCP_SKIP_FUZZ=1)
# and ends with one line "N passed, N failed" (both runs summed; a build that
# fails counts as one failure, and the tests that did build still run).
# Exit status 0 only when nothing failed.
#
# Environment: SHARDTCP_SKIP_BOOTSTRAP=1, SHARDTCP_SKIP_SANITIZE=1,
# SHARDTCP_SKIP_FUZZ=1, SHARDTCP_FUZZ_TIME (default 60 s),
# SHARDTCP_JOBS (default 2), SHARDTCP_TEST_TIMEOUT (per test, default 600 s),
# SHARDTCP_CTEST_ARGS (extra ctest arguments for both runs, e.g. "-R integration").
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
JOBS=${SHARDTCP_JOBS:-2}
TIMEOUT=${SHARDTCP_TEST_TIMEOUT:-600}
# shellcheck disable=SC2206
EXTRA=(${SHARDTCP_CTEST_ARGS:-})

# As typed in a root shell (no sudo needed); a non-root user with sudo is
# lifted once, anyone else is told what to do.
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo -E bash "$ROOT/deploy/test.sh" "$@"; fi
  echo "test: run as root: bash deploy/test.sh in a root shell (the lab needs network namespaces)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

PASSED=0
FAILED=0
REPORT=()
banner() { printf '\n===== %s (%s)\n' "$*" "$(date +%H:%M:%S)"; }

# Whatever a killed run may have left: only our own lab namespaces.
cleanup() {
  bash "$ROOT/deploy/lab.sh" down >/dev/null 2>&1 || true
  STCP_DP_NS=stcp-rdp STCP_PEER_NS=stcp-rpeer bash "$ROOT/deploy/lab.sh" down >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run_ctest NAME BUILD_DIR [ctest args...]: adds to PASSED/FAILED.
run_ctest() {
  local name=$1 dir=$2; shift 2
  local out="$dir/ctest-summary.log"
  banner "ctest: $name"
  ctest --test-dir "$dir" --output-on-failure --timeout "$TIMEOUT" -j "$JOBS" "$@" "${EXTRA[@]}" 2>&1 |
    tee "$out"
  # "95% tests passed, 1 tests failed out of 20"; skipped tests (exit 77,
  # "***Skipped") count as neither.
  local line total failed skipped
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$out" | tail -n 1)
  if [[ -z $line ]]; then
    if grep -q 'No tests were found' "$out"; then
      REPORT+=("$name: no tests found")
      FAILED=$((FAILED + 1))
    else
      REPORT+=("$name: ctest did not report a summary")
      FAILED=$((FAILED + 1))
    fi
    return
  fi
  failed=$(echo "$line" | sed -E 's/.*, ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
  total=$(echo "$line" | sed -E 's/.*, ([0-9]+) tests? failed out of ([0-9]+).*/\2/')
  skipped=$(grep -cE '\*\*\*Skipped|Not Run.*Skipped' "$out" || true)
  local passed=$((total - failed - skipped))
  PASSED=$((PASSED + passed))
  FAILED=$((FAILED + failed))
  REPORT+=("$name: $passed passed, $failed failed, $skipped skipped")
}

# build NAME DIR cmake-args...: configure + build (ninja -k 0: build all that
# can be built). A failed build counts as one failure; returns 0 when ctest
# can run (also after a partial build: tests of the targets that did build
# still run), 1 when configuring failed.
build() {
  local name=$1 dir=$2; shift 2
  banner "build: $name ($dir)"
  if ! cmake -S "$ROOT" -B "$dir" -G Ninja "$@"; then
    REPORT+=("$name: CONFIGURE FAILED")
    FAILED=$((FAILED + 1))
    return 1
  fi
  if ! ninja -C "$dir" -j "$JOBS" -k 0; then
    REPORT+=("$name: BUILD FAILED (partial build: its tests still run below)")
    FAILED=$((FAILED + 1))
  fi
  return 0
}

START=$(date +%s)
if [[ ${SHARDTCP_SKIP_BOOTSTRAP:-0} != 1 ]]; then
  banner "bootstrap"
  if ! bash deploy/bootstrap.sh; then
    echo "test: bootstrap failed"
    echo "0 passed, 1 failed"
    exit 1
  fi
fi

# ---- Release build, all tests including integration ---------------------------
if build release build-test -DCMAKE_BUILD_TYPE=Release -DSHARDTCP_WITH_DPDK=ON \
  -DSHARDTCP_BUILD_TESTS=ON -DSHARDTCP_SANITIZE=OFF; then
  run_ctest "release (unit, sim, integration)" build-test
fi

# ---- ASan + UBSan build, unit + simulation tests --------------------------------
if [[ ${SHARDTCP_SKIP_SANITIZE:-0} != 1 ]]; then
  if build "asan+ubsan" build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHARDTCP_WITH_DPDK=OFF \
    -DSHARDTCP_BUILD_TESTS=ON -DSHARDTCP_SANITIZE=ON; then
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
      UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
      run_ctest "asan+ubsan (unit, sim)" build-asan -LE 'integration|bench'
  fi
fi

# ---- libFuzzer: the engine fuzzers for a bounded time ---------------------------
# run_fuzzer NAME BINARY CORPUS SECONDS: one pass (no finding) or one failure.
run_fuzzer() {
  local name=$1 bin=$2 corpus=$3 secs=$4
  local work log execs
  work=$(mktemp -d)
  log="$ROOT/build-fuzz/fuzz-$name.log"
  cp -r "$corpus" "$work/corpus"  # new inputs go to the copy, not the repo
  banner "fuzz: $name for $secs s"
  if ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=16:malloc_context_size=8} \
    "$bin" -max_total_time="$secs" -print_final_stats=1 \
    -artifact_prefix="$ROOT/build-fuzz/$name-" "$work/corpus" >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    REPORT+=("fuzz $name: ${execs:-?} executions in $secs s, no finding")
    PASSED=$((PASSED + 1))
  else
    grep -E 'invariant broken|ERROR: (AddressSanitizer|UndefinedBehavior|libFuzzer)|runtime error' \
      "$log" | head -n 3
    REPORT+=("fuzz $name: FINDING (log $log, input $ROOT/build-fuzz/$name-crash-*)")
    FAILED=$((FAILED + 1))
  fi
  rm -rf "$work"
}

if [[ ${SHARDTCP_SKIP_FUZZ:-0} != 1 ]]; then
  FUZZ_TIME=${SHARDTCP_FUZZ_TIME:-60}
  banner "build: libFuzzer targets (build-fuzz)"
  if ! command -v clang++ >/dev/null; then
    REPORT+=("libfuzzer: clang++ not found")
    FAILED=$((FAILED + 1))
  elif ! CC=clang CXX=clang++ cmake -S "$ROOT" -B build-fuzz -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHARDTCP_WITH_DPDK=OFF -DSHARDTCP_BUILD_TESTS=ON \
    -DSHARDTCP_FUZZ_LIBFUZZER=ON; then
    REPORT+=("libfuzzer: CONFIGURE FAILED")
    FAILED=$((FAILED + 1))
  elif ! ninja -C build-fuzz -j "$JOBS" fuzz_stack fuzz_parse_segment; then
    REPORT+=("libfuzzer: BUILD FAILED")
    FAILED=$((FAILED + 1))
  else
    run_fuzzer stack build-fuzz/tests/fuzz/fuzz_stack tests/fuzz/corpus/stack "$FUZZ_TIME"
    run_fuzzer parse_segment build-fuzz/tests/fuzz/fuzz_parse_segment \
      tests/fuzz/corpus/parse_segment $((FUZZ_TIME / 2))
  fi
fi

banner "summary ($(( ($(date +%s) - START) / 60 )) min)"
printf '  %s\n' "${REPORT[@]}"
echo "$PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
