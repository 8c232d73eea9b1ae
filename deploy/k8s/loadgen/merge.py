#!/usr/bin/env python3
"""Merge the --json summaries of N shardtcp-loadgen generators into one report.

    merge.py [-o merged.json] [--quiet] SUMMARY.json [SUMMARY.json ...]
    merge.py [-o merged.json] DIR            (every *.json in DIR)
    merge.py [-o merged.json] --from-logs LOG [LOG ...]   (pod logs of run-generator.sh)

The generators of a distributed load test (deploy/k8s/loadgen: an Indexed Job)
run at the same time against the same servers, each from its own slice of
source addresses and ports, so:
  - counts (connections, requests, responses, bytes, errors by kind) add up;
  - rates (connections_per_s, requests_per_s, opened_per_s) add up: each is
    the generator's own count over its own run, and the runs overlap;
  - duration_s is the longest generator's;
  - latency percentiles come from the merged histograms (histograms_us: the
    HdrHistogram-layout buckets of app/loadgen/latency_histogram.h), computed
    exactly as shardtcp-loadgen computes them. Percentiles of a merged run
    cannot be derived from the parts' percentiles, so a summary without
    histograms_us (an older loadgen) is refused.
The result has the layout of app/loadgen/summary.schema.json plus
"generators": N. Prints a short report unless --quiet. Exit 0, or 2 with one
line naming the file and the problem.
"""
import argparse
import json
import math
import os
import re
import sys

PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9))
COUNTS = ("connections", "connections_ok", "requests", "responses", "body_bytes")
RATES = ("connections_per_s", "requests_per_s", "opened_per_s")
KINDS = ("connect", "ttfb", "total")


class MergeError(Exception):
    pass


def highest_of(i, sub_bits):
    """Largest value in bucket i (LatencyHistogram::highest_of)."""
    sub_count = 1 << sub_bits
    half = sub_count >> 1
    if i < sub_count:
        return i
    b = (i - sub_count) // half + 1
    sub = (i - sub_count) % half + half
    return ((sub + 1) << b) - 1


def percentile(counts, total, maxv, sub_bits, p):
    """HistogramSnapshot::percentile: the smallest bucket whose cumulative
    count reaches ceil(p% of total), reported as its highest value but never
    above the recorded maximum."""
    if total == 0:
        return 0
    want = int(p / 100.0 * total + 0.999999)
    want = min(max(want, 1), total)
    seen = 0
    for i in sorted(counts):
        seen += counts[i]
        if seen >= want:
            h = highest_of(i, sub_bits)
            return min(h, maxv) if maxv != 0 else h
    return maxv


def load(path):
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        raise MergeError(f"{path}: {e}")
    return check(d, path)


BEGIN = re.compile(r"^--- shardtcp-loadgen summary (\d+) begin ---$")
END = re.compile(r"^--- shardtcp-loadgen summary (\d+) end ---$")


def from_logs(paths):
    """The summaries that run-generator.sh printed between its marker lines
    (kubectl logs of each pod, concatenated or one file per pod). Returns
    [(name, summary)], one per generator index; a cut-off block or an index
    seen twice is an error."""
    found = {}
    for path in paths:
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise MergeError(f"{path}: {e}")
        idx, body = None, []
        for n, line in enumerate(lines, 1):
            m = BEGIN.match(line)
            if m:
                if idx is not None:
                    raise MergeError(f"{path}:{n}: summary {idx} has no end line")
                idx, body = int(m.group(1)), []
                continue
            m = END.match(line)
            if m:
                if idx is None or int(m.group(1)) != idx:
                    raise MergeError(f"{path}:{n}: end line without its begin line")
                name = f"{path}: summary {idx}"
                if idx in found:
                    raise MergeError(f"{name}: index {idx} seen twice")
                try:
                    found[idx] = (name, json.loads("\n".join(body)))
                except ValueError as e:
                    raise MergeError(f"{name}: {e}")
                idx = None
                continue
            if idx is not None:
                body.append(line)
        if idx is not None:
            raise MergeError(f"{path}: summary {idx} has no end line (log cut off?)")
    if not found:
        raise MergeError("no summaries in the logs")
    return [found[i] for i in sorted(found)]


def check(d, name):
    if not isinstance(d, dict):
        raise MergeError(f"{name}: not a loadgen summary (not an object)")
    for k in COUNTS + RATES + ("duration_s", "errors"):
        if k not in d:
            raise MergeError(f"{name}: not a loadgen summary (no {k})")
    if "histograms_us" not in d:
        raise MergeError(f"{name}: no histograms_us (a loadgen older than issue 16): "
                         "percentiles cannot be merged")
    return d


def merge(summaries, names):
    out = {}
    for k in RATES:
        out[k] = sum(float(d[k]) for d in summaries)
    out["duration_s"] = max(float(d["duration_s"]) for d in summaries)
    for k in COUNTS:
        out[k] = sum(int(d[k]) for d in summaries)
    errors = {}
    for d in summaries:
        for kind, n in d["errors"].items():
            errors[kind] = errors.get(kind, 0) + int(n)
    out["errors"] = errors
    hists = {}
    for kind in KINDS:
        counts, total, maxv, sub_bits = {}, 0, 0, None
        for d, name in zip(summaries, names):
            h = d["histograms_us"].get(kind)
            if h is None:
                raise MergeError(f"{name}: histograms_us has no {kind}")
            if sub_bits is None:
                sub_bits = int(h["sub_bits"])
            elif int(h["sub_bits"]) != sub_bits:
                raise MergeError(f"{name}: histograms_us.{kind}.sub_bits {h['sub_bits']} "
                                 f"differs from the others' {sub_bits}")
            seen = 0
            for i, c in h["buckets"]:
                counts[int(i)] = counts.get(int(i), 0) + int(c)
                seen += int(c)
            if seen != int(h["total"]):
                raise MergeError(f"{name}: histograms_us.{kind}: buckets add up to {seen}, "
                                 f"total says {h['total']}")
            total += int(h["total"])
            maxv = max(maxv, int(h["max"]))
        hists[kind] = (counts, total, maxv, sub_bits)
    out["latency_us"] = {}
    for kind, (counts, total, maxv, sub_bits) in hists.items():
        lat = {name: percentile(counts, total, maxv, sub_bits, p) for name, p in PERCENTILES}
        lat["max"] = maxv
        out["latency_us"][kind] = lat
    out["histograms_us"] = {
        kind: {"sub_bits": sub_bits, "total": total, "max": maxv,
               "buckets": [[i, counts[i]] for i in sorted(counts)]}
        for kind, (counts, total, maxv, sub_bits) in hists.items()}
    out["generators"] = len(summaries)
    return out


def report(m):
    lines = [
        f"merged {m['generators']} generators over {m['duration_s']:.2f} s: "
        f"{m['connections_per_s']:.0f} conn/s, {m['requests_per_s']:.0f} req/s, "
        f"{m['opened_per_s']:.0f} opened/s",
        f"connections {m['connections']} ({m['connections_ok']} ok), requests {m['requests']}, "
        f"responses {m['responses']}, body bytes {m['body_bytes']}",
    ]
    for kind in KINDS:
        lat = m["latency_us"][kind]
        lines.append(f"latency {kind:<7} (us, {m['histograms_us'][kind]['total']} samples): " +
                     " ".join(f"{k} {lat[k]}" for k in ("p50", "p90", "p99", "p999", "max")))
    bad = {k: v for k, v in m["errors"].items() if v}
    lines.append("errors: " + (", ".join(f"{k} {v}" for k, v in sorted(bad.items())) or "none"))
    return "\n".join(lines)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", help="summary files, or one directory of them")
    ap.add_argument("--from-logs", action="store_true",
                    help="the inputs are pod logs of run-generator.sh (kubectl logs)")
    ap.add_argument("-o", "--output", help="write the merged summary (JSON) here")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    paths = a.inputs
    if not a.from_logs and len(paths) == 1 and os.path.isdir(paths[0]):
        d = paths[0]
        paths = sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".json"))
        if not paths:
            print(f"merge: {d}: no *.json summaries", file=sys.stderr)
            return 2
    try:
        if a.from_logs:
            named = [(name, check(d, name)) for name, d in from_logs(paths)]
            m = merge([d for _, d in named], [name for name, _ in named])
        else:
            m = merge([load(p) for p in paths], paths)
    except MergeError as e:
        print(f"merge: {e}", file=sys.stderr)
        return 2
    if not all(math.isfinite(m[k]) for k in RATES):
        print("merge: a rate is not a finite number", file=sys.stderr)
        return 2
    if a.output:
        with open(a.output, "w") as f:
            json.dump(m, f, indent=2)
            f.write("\n")
    if not a.quiet:
        print(report(m))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
