#!/usr/bin/env bash
# Issue 16, part 1: a library others build on.
#   test_install.sh BUILD_DIR SOURCE_DIR
# `cmake --install` of the (already built) tree into a scratch prefix; the
# out-of-tree echo example (deploy/example/echo, the README's API example)
# configures with find_package(shardtcp) against it and builds; the same
# source builds with `pkg-config --cflags --libs shardtcp` alone; the
# installed headers compile with no source-tree path.
# Needs no network and no root.
set -uo pipefail
BUILD=$1
SRC=$2
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
P=$work/root/usr
# ccache (shared cache) when there: the same example compiles on every run.
CXX=(g++)
launcher=()
if command -v ccache >/dev/null; then CXX=(ccache g++); launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi

cmake --install "$BUILD" --prefix "$P" >"$work/install.log" 2>&1
check "cmake --install into a scratch prefix" [ $? -eq 0 ]
for f in lib/cmake/shardtcp/shardtcpConfig.cmake lib/cmake/shardtcp/shardtcpConfigVersion.cmake \
  lib/cmake/shardtcp/shardtcpTargets.cmake lib/pkgconfig/shardtcp.pc lib/libshardtcp_tcp.a \
  lib/libshardtcp_config.a include/shardtcp/tcp/stack.h include/shardtcp/config/config.h; do
  check "installed $f" [ -f "$P/$f" ]
done
# No installed file may point back into the source or build tree.
check "no source/build paths in the CMake package or .pc" \
  bash -c "! grep -rlF -e '$SRC' -e '$BUILD' '$P/lib/cmake' '$P/lib/pkgconfig'"

# One translation unit including every installed header: a public header
# that includes a private or source-tree file fails here. (Once, not one
# compile per header: on the shared 2-core machine that took ~40 s.)
find "$P/include" -name '*.h' | sort | sed "s|^$P/include/|#include \"|; s|\$|\"|" >"$work/all.cc"
"${CXX[@]}" -std=c++20 -fsyntax-only -I"$P/include" "$work/all.cc" 2>"$work/hdr.err"
check "all $(wc -l <"$work/all.cc") installed headers compile with only -I<prefix>/include" [ $? -eq 0 ] ||
  head -10 "$work/hdr.err"

if [[ -f $P/lib/libshardtcp_dataplane.a ]]; then
  ex=$work/example
  cmake -S "$SRC/deploy/example/echo" -B "$ex" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$P" "${launcher[@]}" >"$work/ex-cfg.log" 2>&1
  check "example: find_package(shardtcp) configures" [ $? -eq 0 ] || cat "$work/ex-cfg.log"
  cmake --build "$ex" >"$work/ex-build.log" 2>&1
  check "example: builds and links against shardtcp::dataplane" [ -x "$ex/echo-example" ] ||
    tail -30 "$work/ex-build.log"
  # A bad override is reported in one line naming the key, exit 2 (the
  # installed library's config validation, before any EAL start).
  "$ex/echo-example" "$P/../etc/shardtcp/echo.toml" tcp.max_connections=lots >"$work/ex.out" 2>&1
  rc=$?
  check "example: bad key -> exit 2, one line naming it" \
    bash -c "[ $rc -eq 2 ] && [ \$(wc -l <'$work/ex.out') -eq 1 ] && grep -q tcp.max_connections '$work/ex.out'"
  # pkg-config alone (no CMake): compile and link the same source.
  PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config --exists shardtcp
  check "pkg-config finds shardtcp $(PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config --modversion shardtcp)" [ $? -eq 0 ]
  # shellcheck disable=SC2046
  "${CXX[@]}" -O1 -o "$work/echo-pc" "$SRC/deploy/example/echo/main.cc" \
    $(PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config --cflags --libs shardtcp) >"$work/pc.log" 2>&1
  check "example: builds with pkg-config --cflags --libs shardtcp" [ -x "$work/echo-pc" ] ||
    tail -20 "$work/pc.log"
else
  echo "SKIP: built without DPDK: no shardtcp::dataplane to build the example against"
fi
echo "$fails failed"
[[ $fails -eq 0 ]]
