#!/usr/bin/env python3
"""Summarises table_bench JSON outputs of several runs as Markdown tables.

    bench/table_summary.py run1.json run2.json run3.json

Each run's number for a benchmark is the median of its repetitions (run
table_bench with --benchmark_repetitions=3); this prints, per workload, the
median over the runs of each structure's throughput and of the ratios
Freshet / libcuckoo and direct / libcuckoo taken within each run (so that a
ratio compares structures measured minutes apart, not hours), then the
bytes per row.
"""

import json
import re
import statistics
import sys

NAME = re.compile(
    r"^(lookup|apply|insert)/(\w+)/(\d+)/dim(\d+)/.*threads:(\d+)_median$")
STRUCTURES = ["freshet", "libcuckoo", "absl_mutex", "direct"]


def load(path):
    """Returns {(workload, keys, dim, threads): {structure: benchmark}}."""
    with open(path) as f:
        doc = json.load(f)
    out = {}
    for b in doc["benchmarks"]:
        m = NAME.match(b["name"])
        if not m:
            continue
        workload, structure, keys, dim, threads = m.groups()
        key = (workload, int(keys), int(dim), int(threads))
        out.setdefault(key, {})[structure] = b
    return out


def keys_label(n):
    return f"{n // 1000000}M" if n % 1000000 == 0 else str(n)


def main(paths):
    runs = [load(p) for p in paths]
    order = {"lookup": 0, "apply": 1, "insert": 2}
    cases = sorted(set().union(*runs),
                   key=lambda k: (k[0] == "insert", k[1], k[2], order[k[0]],
                                  k[3]))
    print(f"Median of {len(runs)} runs, million keys per second, all threads:")
    print()
    print("| workload | keys | dim | threads | Freshet | libcuckoo | "
          "absl+mutex | direct | Freshet / libcuckoo (per run) | "
          "direct / libcuckoo |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for case in cases:
        cells = []
        for s in STRUCTURES:
            values = [r[case][s]["items_per_second"] / 1e6 for r in runs
                      if s in r.get(case, {})]
            cells.append(f"{statistics.median(values):.2f}" if values else "–")
        ratios, ceilings = [], []
        for r in runs:
            c = r.get(case, {})
            if "freshet" in c and "libcuckoo" in c:
                base = c["libcuckoo"]["items_per_second"]
                ratios.append(c["freshet"]["items_per_second"] / base)
                if "direct" in c:
                    ceilings.append(c["direct"]["items_per_second"] / base)
        ratio = (f"**{statistics.median(ratios):.2f}x** (" +
                 ", ".join(f"{x:.2f}" for x in ratios) + ")") if ratios else "–"
        ceiling = f"{statistics.median(ceilings):.2f}x" if ceilings else "–"
        workload, n, dim, threads = case
        print(f"| {workload} | {keys_label(n)} | {dim} | {threads} | " +
              " | ".join(cells) + f" | {ratio} | {ceiling} |")
    print()
    print("Bytes per row (first run; Freshet's index in brackets):")
    print()
    print("| workload | keys | dim | rows | Freshet (index) | libcuckoo | "
          "absl+mutex |")
    print("|---|---|---|---|---|---|---|")
    for case in cases:
        workload, n, dim, threads = case
        if threads != 1 or workload == "lookup":
            continue
        c = runs[0].get(case, {})
        if "freshet" not in c:
            continue
        f = c["freshet"]
        cells = [f"{f['bytes_per_row']:.1f} ({f['index_bytes_per_row']:.1f})"]
        for s in ["libcuckoo", "absl_mutex"]:
            cells.append(f"{c[s]['bytes_per_row']:.1f}" if s in c else "–")
        print(f"| {workload} | {keys_label(n)} | {dim} | {int(f['rows']):,} | " +
              " | ".join(cells) + " |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
