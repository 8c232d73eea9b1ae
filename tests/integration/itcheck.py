"""PASS/FAIL lines and the RESULT summary shared by the python integration
tests (imported from the test's own directory)."""
import sys

fails = 0


def check(ok, what):
    global fails
    print(("PASS: " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        fails += 1


def finish():
    print("RESULT: " + ("all checks passed" if fails == 0 else f"{fails} check(s) failed"))
    sys.exit(1 if fails else 0)
