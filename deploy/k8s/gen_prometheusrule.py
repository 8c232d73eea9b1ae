#!/usr/bin/env python3
"""Prints deploy/k8s/base/prometheusrule.yaml: the groups of
deploy/prometheus/shardtcp-rules.yml as a PrometheusRule object.
    python3 deploy/k8s/gen_prometheusrule.py > deploy/k8s/base/prometheusrule.yaml
tests/deploy/test_k8s.sh checks the committed file against this output."""
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))


class Dumper(yaml.SafeDumper):
    pass


def _str(d, s):
    return d.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None)


Dumper.add_representer(str, _str)

with open(os.path.join(HERE, "..", "prometheus", "shardtcp-rules.yml")) as f:
    rules = yaml.safe_load(f)
doc = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
       "metadata": {"name": "shardtcp", "labels": {"role": "alert-rules"}},
       "spec": {"groups": rules["groups"]}}
sys.stdout.write(
    "# The recording and alerting rules of deploy/prometheus/shardtcp-rules.yml\n"
    "# (unit-tested there with promtool) for the Prometheus Operator. Generated:\n"
    "#   python3 deploy/k8s/gen_prometheusrule.py > deploy/k8s/base/prometheusrule.yaml\n"
    "# tests/deploy/test_k8s.sh fails when the two differ.\n")
sys.stdout.write(yaml.dump(doc, Dumper=Dumper, sort_keys=False, width=100))
