#!/usr/bin/env python3
"""Fails when an alert in the Prometheus rules file has no section in the runbook.

usage: check_runbook.py RULES_YML RUNBOOK_MD

Every `- alert: NAME` in the rules file must have a Markdown heading in the
runbook whose text is exactly NAME (e.g. "## ShardtcpDown"), so an operator
paged by an alert always finds what it means and what to do. Headings for
alerts that no longer exist are reported too (stale runbook).
"""
import re
import sys


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    rules_path, runbook_path = sys.argv[1], sys.argv[2]
    with open(rules_path, encoding="utf-8") as f:
        alerts = re.findall(r"^\s*-\s*alert:\s*([A-Za-z0-9_:]+)\s*$", f.read(), re.M)
    with open(runbook_path, encoding="utf-8") as f:
        headings = {m.strip() for m in re.findall(r"^#{2,4}\s+`?([A-Za-z0-9_:]+)`?\s*$",
                                                  f.read(), re.M)}
    if not alerts:
        print(f"{rules_path}: no alerts found", file=sys.stderr)
        return 1
    missing = [a for a in alerts if a not in headings]
    stale = sorted(h for h in headings if h.startswith("Shardtcp") and h not in alerts)
    for a in missing:
        print(f"{runbook_path}: no section for alert {a} (add a heading '### {a}')",
              file=sys.stderr)
    for h in stale:
        print(f"{runbook_path}: section {h} names no alert in {rules_path}", file=sys.stderr)
    if missing or stale:
        return 1
    print(f"{len(alerts)} alerts, each with a runbook section")
    return 0


if __name__ == "__main__":
    sys.exit(main())
