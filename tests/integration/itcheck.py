"""PASS/FAIL lines and the RESULT summary shared by the python integration
tests (imported from the test's own directory)."""
import sys

fails = 0


def check(ok, what):
    global fails
    print(("PASS: " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        fails += 1


def win_probes():
    """TcpExt TCPWinProbe of this network namespace: zero-window probes the
    kernel's TCP sent (proof that a server's receive window closed)."""
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            return dict(zip(names.split()[1:], map(int, values.split()[1:]))).get("TCPWinProbe")
    return None


def finish():
    print("RESULT: " + ("all checks passed" if fails == 0 else f"{fails} check(s) failed"))
    sys.exit(1 if fails else 0)
