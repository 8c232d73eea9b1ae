#!/usr/bin/env bash
# 404 for unknown paths, 400 for malformed requests.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
require_server

code=$(http_code "$BASE_URL/no/such/path")
check "GET /no/such/path -> 404 (got $code)" test "$code" = 404
code=$(http_code "$BASE_URL/bytes/notanumber")
check "GET /bytes/notanumber -> 400 or 404 (got $code)" test "$code" = 400 -o "$code" = 404
code=$(http_code "$BASE_URL/" -X BREW)
# RFC 9110 §15.6.2: 501 is the right answer to an unknown method; 400/405 too.
check "BREW / -> 4xx or 501 (got $code)" test "${code:0:1}" = 4 -o "$code" = 501

# A request line that is not HTTP at all -> 400, and the server closes.
reply=$(peer "$PY" - "$SERVER_IP" "$SERVER_PORT" <<'PYEOF'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
data = b""
try:
    while len(data) < 65536:
        d = s.recv(4096)
        if not d:
            break
        data += d
except socket.timeout:
    print("TIMEOUT")
print(data.split(b"\r\n", 1)[0].decode(errors="replace"))
PYEOF
)
check "garbage request line -> 400 and close (got: $(echo "$reply" | tr '\n' '|'))" \
  starts_with "$reply" "HTTP/1.1 400"

# After a 404 the keep-alive connection still serves the next request.
codes=$(peer curl -s --max-time 10 -o /dev/null -o /dev/null -w '%{http_code} ' \
  "$BASE_URL/missing" "$BASE_URL/")
check "404 then 200 on one connection (got $codes)" test "$codes" = "404 200 "
finish
