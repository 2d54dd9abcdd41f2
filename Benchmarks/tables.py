#!/usr/bin/env python3
"""Prints the figures of a harness run (Benchmarks/results/latest.json by default) as the
markdown tables BENCHMARKS.md shows: per workload, each contender's median, its range over the
rounds, its cost per operation relative to the workload's baseline (time per operation, or the
baseline's rate over the contender's: 1.25× is a quarter more time, or 0.8 of the rate) and the
target on that ratio. Standard library only.

    python3 Benchmarks/tables.py [Benchmarks/results/latest.json]
"""
import json
import math
import os
import sys

path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "results", "latest.json")
report = json.load(open(path))


def number(value):
    if isinstance(value, str) or value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.1f}"
    return f"{value:.3g}" if value < 10 else f"{value:.2f}"


machine = report["machine"]
print(f"Run of {report['date']} ({'quick' if report['quick'] else 'full'}, {report['rounds']} rounds): "
      f"{machine['cpus']} × {machine['model']}, {machine['memoryGiB']} GiB, Linux {machine['kernel']}.")
print("Versions: " + "; ".join(f"{k} {v}" for k, v in sorted(report["versions"].items())) + ".")
workloads = []
for figure in report["figures"]:
    if figure["workload"] not in workloads:
        workloads.append(figure["workload"])
for workload in workloads:
    rows = [f for f in report["figures"] if f["workload"] == workload]
    baseline = next((f.get("baseline") for f in rows if f.get("baseline")), None)
    print(f"\n**{workload}**\n")
    print(f"| contender | median | min – max | {'cost × ' + baseline if baseline else 'ratio'} | target |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for f in rows:
        if f["samples"] == 0:
            print(f"| {f['contender']} | — | — | — | {f.get('note', '')} |")
            continue
        ratio = f.get("ratio")
        target = f.get("target")
        unit = f["unit"]
        print(f"| {f['contender']} | {number(f['median'])} {unit} | {number(f['min'])} – {number(f['max'])} | "
              f"{'' if ratio is None else f'{ratio:.2f}×'} | {'' if target is None else f'≤ {target:.2f}×'} |")
