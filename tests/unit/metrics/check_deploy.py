#!/usr/bin/env python3
"""Checks deploy/prometheus against the metrics reference.

- grafana-dashboard.json parses, every panel has targets, and every PromQL
  expression parses (promtool check rules on a temporary rules file, with the
  dashboard variables substituted);
- every shardtcp_* metric named in the dashboard and the alert rules is
  documented in METRICS.md (the exporter test checks METRICS.md against the
  exporter's real output), so a renamed metric cannot silently blank a panel
  or disarm an alert.
Usage: check_deploy.py DEPLOY_PROMETHEUS_DIR PROMTOOL
"""
import json
import os
import re
import subprocess
import sys
import tempfile

deploy, promtool = sys.argv[1], sys.argv[2]
errors = []

# The lead may merge METRICS.md into README.md; read wherever the table is.
metrics_md = os.path.join(deploy, "METRICS.md")
if not os.path.exists(metrics_md):
    metrics_md = os.path.join(deploy, "..", "..", "README.md")
with open(metrics_md) as f:
    documented = set(re.findall(r"^\| `(shardtcp_[a-z0-9_]+)`", f.read(), re.M))
if len(documented) < 50:
    errors.append(f"METRICS.md documents only {len(documented)} metrics")

with open(os.path.join(deploy, "grafana-dashboard.json")) as f:
    dash = json.load(f)
exprs = []
for p in dash["panels"]:
    if p["type"] == "row":
        continue
    if not p.get("targets"):
        errors.append(f"panel {p['title']!r} has no targets")
    for t in p.get("targets", []):
        exprs.append((p["title"], t["expr"]))

with open(os.path.join(deploy, "shardtcp-rules.yml")) as f:
    rules_text = f.read()

def metric_names(text):
    # Recording-rule names (shardtcp:...) are not exporter metrics.
    return set(re.findall(r"(?<![:\w])(shardtcp_[a-z0-9_]+)", text))

for title, e in exprs:
    for m in metric_names(e) - documented:
        errors.append(f"dashboard panel {title!r} uses undocumented metric {m}")
for m in metric_names(rules_text) - documented:
    errors.append(f"rules use undocumented metric {m}")

# PromQL syntax of every dashboard expression.
with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as tmp:
    tmp.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, (_, e) in enumerate(exprs):
        e = e.replace("$instance", ".*").replace("$core", ".*")
        tmp.write(f"      - record: dashboard:expr{i}\n        expr: {json.dumps(e)}\n")
    path = tmp.name
r = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True)
os.unlink(path)
if r.returncode != 0:
    errors.append("dashboard PromQL does not parse:\n" + r.stdout + r.stderr)

for e in errors:
    print("ERROR:", e)
print(f"{len(exprs)} dashboard expressions, {len(documented)} documented metrics, "
      f"{len(errors)} problems")
sys.exit(1 if errors else 0)
