#!/usr/bin/env bash
# Issue 16, parts 2 and 3: the Debian package and the systemd units.
#   test_deb.sh BUILD_DIR
# 1. cpack -G DEB from the (already built) tree;
# 2. dpkg-deb -I: name, version, architecture, the Debian runtime
#    dependencies (DPDK libraries and PMD plugins, prometheus-cpp, toml++),
#    conffiles; dpkg-deb -c: programs, configs under /etc/shardtcp, units,
#    CMake package, pkg-config file;
# 3. `apt-get install -s` of the .deb on this host: every dependency it names
#    exists and resolves (offline, from the local package state);
# 4. installed with dpkg --root into an empty scratch root (dependencies are
#    the host's, checked in 3), where dpkg records it and its conffiles;
#    `shardtcp-httpd --version` runs from there;
# 5. systemd-analyze verify of shardtcp-httpd@httpd.service and
#    shardtcp-echo@echo.service as installed in that root (with the host's
#    own units beside them for the targets they name): no warning at all;
# 6. as root: the installed shardtcp-httpd with the installed
#    /etc/shardtcp/httpd.toml (its port swapped for a net_memif vdev, so no
#    network is needed) starts and stops on SIGTERM, the unit's KillSignal,
#    with exit 0 and no mbuf in use: the clean stop the unit relies on.
set -uo pipefail
BUILD=$1
work=$(mktemp -d)
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
for t in cpack dpkg-deb dpkg systemd-analyze; do
  command -v $t >/dev/null || { echo "SKIP: $t missing"; exit 77; }
done

cpack -G DEB -B "$work/pkg" --config "$BUILD/CPackConfig.cmake" >"$work/cpack.log" 2>&1
deb=$(ls "$work"/pkg/shardtcp_*.deb 2>/dev/null | head -1)
check "cpack -G DEB made ${deb##*/}" [ -n "$deb" ] || { tail -20 "$work/cpack.log"; exit 1; }

dpkg-deb -I "$deb" >"$work/info.txt"
field() { dpkg-deb -f "$deb" "$1"; }
check "control: Package shardtcp, Architecture $(dpkg --print-architecture)" \
  [ "$(field Package)" = shardtcp -a "$(field Architecture)" = "$(dpkg --print-architecture)" ]
check "control: Version $(field Version) is the project's" [ -n "$(field Version)" ]
deps=$(field Depends)
for d in librte-eal23 librte-ethdev23 librte-mbuf23 librte-mempool-ring23 librte-net-af-packet23 \
  librte-net-af-xdp23 librte-net-memif23 libprometheus-cpp-core1.0 libtomlplusplus3 libstdc++6; do
  check "Depends names $d" grep -qE "(^|, )${d//+/\\+}( |,|$)" <<<"$deps"
done
check "conffiles: the three configs" \
  [ "$(dpkg-deb --info "$deb" conffiles | sort | tr '\n' ' ')" = \
  "/etc/shardtcp/echo.toml /etc/shardtcp/example-full.toml /etc/shardtcp/httpd.toml " ]

dpkg-deb -c "$deb" | awk '{print $6}' >"$work/files.txt"
for f in ./usr/bin/shardtcp-httpd ./usr/bin/shardtcp-echo ./usr/bin/shardtcp-loadgen \
  ./usr/bin/shardtcp-stat ./etc/shardtcp/httpd.toml ./etc/shardtcp/echo.toml \
  ./usr/lib/systemd/system/shardtcp-httpd@.service ./usr/lib/systemd/system/shardtcp-echo@.service \
  ./usr/lib/cmake/shardtcp/shardtcpConfig.cmake ./usr/lib/pkgconfig/shardtcp.pc \
  ./usr/include/shardtcp/dataplane/runtime.h ./usr/share/shardtcp/merge.py \
  ./usr/share/doc/shardtcp/README.md; do
  check "file list has $f" grep -qxF "$f" "$work/files.txt"
done
check "nothing outside /usr and /etc" bash -c "! grep -vE '^\./(usr|etc)(/|$)|^\./$' '$work/files.txt'"

if command -v apt-get >/dev/null; then
  apt-get install -s "$deb" >"$work/apt.log" 2>&1
  check "apt-get install -s: every dependency resolves on this host" \
    grep -q '^Inst shardtcp ' "$work/apt.log" || tail -10 "$work/apt.log"
fi

R=$work/root
mkdir -p "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/triggers"
touch "$R/var/lib/dpkg/status" "$R/var/lib/dpkg/available"
dpkg --root="$R" --force-depends --force-not-root -i "$deb" >"$work/dpkg.log" 2>&1
check "dpkg --root: installed into a scratch root" \
  bash -c "dpkg --root='$R' -s shardtcp 2>/dev/null | grep -q '^Status: install ok installed'" ||
  tail -10 "$work/dpkg.log"
check "dpkg --root: /etc/shardtcp/httpd.toml registered as a conffile" \
  bash -c "dpkg --root='$R' -s shardtcp | grep -q ' /etc/shardtcp/httpd.toml '"
ver=$("$R/usr/bin/shardtcp-httpd" --version 2>&1)
check "shardtcp-httpd --version from the scratch root: $ver" [ "$ver" = "shardtcp-httpd $(field Version)" ]

# systemd-analyze verify --root: the units as installed, the host's units
# beside them for sysinit.target, network-pre.target, dev-hugepages.mount...
if [[ -d /lib/systemd/system ]]; then
  mkdir -p "$R/lib/systemd"
  cp -a /lib/systemd/system "$R/lib/systemd/"
  for u in shardtcp-httpd@httpd.service shardtcp-echo@echo.service; do
    systemd-analyze verify --man=no --root="$R" "$u" >"$work/verify.log" 2>&1
    rc=$?
    check "systemd-analyze verify $u: exit 0, no warning" [ $rc -eq 0 -a ! -s "$work/verify.log" ] ||
      cat "$work/verify.log"
  done
  # The instance name selects the config and the DPDK file prefix.
  check "ExecStart: --config /etc/shardtcp/%i.toml, own file prefix" \
    grep -qE '^ExecStart=/usr/bin/shardtcp-httpd --config /etc/shardtcp/%i.toml --set eal.file_prefix=shardtcp-%i$' \
    "$R/usr/lib/systemd/system/shardtcp-httpd@.service"
else
  echo "SKIP: no /lib/systemd/system on this host: systemd-analyze verify not run"
fi

if [[ $(id -u) -eq 0 ]]; then
  sock=$work/memif.sock
  huge=()
  free_huge=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
  [[ ${free_huge:-0} -lt 256 ]] && huge=(--set eal.no_huge=true)
  "$R/usr/bin/shardtcp-httpd" --config "$R/etc/shardtcp/httpd.toml" "${huge[@]}" \
    --set "eal.vdevs=[\"net_memif0,role=server,socket=$sock,socket-abstract=no\"]" \
    --set eal.file_prefix=stcp-debtest --set eal.lcores=0 --set metrics.enabled=false \
    >"$work/httpd.out" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do [[ -S $sock ]] && break; kill -0 $pid 2>/dev/null || break; sleep 0.1; done
  # Running (the port is up) once the socket exists; then the unit's stop.
  check "installed shardtcp-httpd with /etc/shardtcp/httpd.toml starts" [ -S "$sock" ]
  kill -TERM $pid 2>/dev/null
  for _ in $(seq 1 600); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
  wait $pid
  rc=$?
  pid=""
  check "SIGTERM: exit 0" [ $rc -eq 0 ] || tail -5 "$work/httpd.out"
  check "SIGTERM: loops stopped, no mbuf in use" \
    grep -qE 'mbufs in use 0 of [0-9]+ after shutdown' "$work/httpd.out"
else
  echo "SKIP: not root: the installed server's start/SIGTERM check needs root (DPDK)"
fi
echo "$fails failed"
[[ $fails -eq 0 ]]
