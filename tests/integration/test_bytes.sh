#!/usr/bin/env bash
# GET /bytes/N returns exactly N body bytes, across MSS boundaries
# (1460 = one full segment, 1461 = one byte into the second) up to 10 MiB,
# and the bytes are the right ones: 'a'..'z' repeating from the first byte.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
require_server
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for n in 0 1 1460 1461 100000 10485760; do
  rm -f "$out/body" "$out/hdr"
  meta=$(peer curl -s --max-time 60 -D "$out/hdr" -o "$out/body" \
    -w '%{http_code} %{size_download}' "$BASE_URL/bytes/$n")
  rc=$?
  code=${meta%% *}
  got=$(stat -c %s "$out/body" 2>/dev/null || echo missing)
  clen=$(tr -d '\r' <"$out/hdr" 2>/dev/null | awk -F': *' 'tolower($1) == "content-length" {print $2}')
  check "/bytes/$n: curl rc=0 and 200 (rc=$rc code=$code)" test "$rc" -eq 0 -a "$code" = 200
  check "/bytes/$n: exactly $n body bytes (got $got)" test "$got" = "$n"
  check "/bytes/$n: Content-Length $n (got ${clen:-none})" test "${clen:-none}" = "$n"
  check "/bytes/$n: content is 'a'..'z' repeating" "$PY" -c '
import sys
data = open(sys.argv[1], "rb").read()
n = len(data)
sys.exit(data != (b"abcdefghijklmnopqrstuvwxyz" * (n // 26 + 1))[:n])' "$out/body"
done

# Several large bodies over one keep-alive connection: the stream stays
# framed (each response exactly its Content-Length).
peer curl -s --max-time 60 -w '%{size_download}\n' -o /dev/null "$BASE_URL/bytes/300000" \
  -o /dev/null "$BASE_URL/bytes/1461" -o /dev/null "$BASE_URL/bytes/0" >"$out/sizes"
check "keep-alive sequence 300000,1461,0 framed exactly (got $(tr '\n' ' ' <"$out/sizes"))" \
  test "$(tr '\n' ' ' <"$out/sizes")" = "300000 1461 0 "
finish
