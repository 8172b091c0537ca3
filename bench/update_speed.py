#!/usr/bin/python3
"""A 60-decision update of a cleaning tree at the reference article's shape (12,073 × 2048, two
classes), against rebuilding the tree — the named baseline — in the same run.

A benchmark, never a test: it reports, asserts nothing. Debian's interpreter:

    PYTHONPATH=BUILD/python /usr/bin/python3 bench/update_speed.py --cli BUILD/apps/cli/coreclean

In process (CoresetTreeServiceLG, default parameters: ridge, held-out and neighbour views):
30 updates of 60 decisions each — 50 relabels and 10 removals of samples drawn with seed 0, one
apply_review call each, as a session's apply makes it — timed one by one, without the refresh
that refits the held-out models (the session's `apply` refreshes after; `update --no-refresh` is
this step alone). The
median against one build of the same tree. Whole process: `coreclean update --no-refresh` of a
60-row decision CSV under /usr/bin/time -v (reading and writing the tree file included), against
`coreclean build` of the same features directory.

Writes bench/results/update_speed-STAMP.json and prints both ratios.
"""

import argparse
import json
import os
import tempfile
import time

import numpy as np

from bench_common import generate, provenance, result_path, time_command
from coreset_effectiveness import loadavg

SCRIPT = os.path.abspath(__file__)
REPO = os.path.dirname(os.path.dirname(SCRIPT))
UPDATES = 30


def wall_and_rss(cmd):
    seconds, rss = time_command(cmd)
    return seconds, rss / 2 ** 20


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", default=os.path.join(REPO, "build", "apps", "cli", "coreclean"))
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    import coreclean

    stamp, out_path = result_path(a.out, "update_speed")
    report = {"started": stamp, "loadavg_start": loadavg(), "protocol": __doc__}
    report.update(provenance(a.cli))
    with tempfile.TemporaryDirectory(prefix="coreclean-update-") as tmp:
        feat = os.path.join(tmp, "features")
        generate(feat, 12073, 2048, 2, [0.58, 0.42], seed=3, x_name="X_train.npy", y_name="y_train.npy")
        x = np.load(os.path.join(feat, "X_train.npy"), mmap_mode="r")
        y_file = np.load(os.path.join(feat, "y_train.npy"))
        y = y_file.copy()

        svc = coreclean.CoresetTreeServiceLG(optimized_for="cleaning", random_state=0)
        t0 = time.perf_counter()
        svc.build(x, y)
        build = time.perf_counter() - t0
        rng = np.random.default_rng(0)
        times = []
        alive = np.arange(len(y))
        for _ in range(UPDATES):
            pick = rng.choice(alive, 60, replace=False)
            relabel, remove = pick[:50], pick[50:]
            t0 = time.perf_counter()
            svc._tree.apply_review(relabel, 1 - y[relabel], remove)
            times.append(time.perf_counter() - t0)
            y[relabel] = 1 - y[relabel]
            alive = np.setdiff1d(alive, remove)
        median = float(np.median(times))
        report["in_process"] = {"build_seconds": build, "update_seconds": times,
                                "update_median_seconds": median, "build_over_update": build / median}
        print(f"in process: 60-decision update median {median * 1e3:.1f} ms "
              f"(min {min(times) * 1e3:.1f}, max {max(times) * 1e3:.1f}); build {build:.2f} s: "
              f"{build / median:.0f} x", flush=True)

        tree = os.path.join(tmp, "tree.bin")
        build_cli, build_rss = wall_and_rss([a.cli, "-q", "build", "--features", feat, "--out", tree])
        ids = np.random.default_rng(1).choice(12073, 60, replace=False)
        csv = os.path.join(tmp, "decisions.csv")
        with open(csv, "w", encoding="utf-8") as f:
            f.write("id,decision,new_label\n")
            for j, i in enumerate(ids):
                f.write(f"{i},delete,\n" if j >= 50 else f"{i},relabel,{1 - y_file[i]}\n")
        update_cli, update_rss = wall_and_rss(
            [a.cli, "-q", "update", "--tree", tree, "--decisions", csv, "--no-refresh"])
        report["cli"] = {"build_seconds": build_cli, "build_peak_rss_gib": build_rss,
                         "update_seconds": update_cli, "update_peak_rss_gib": update_rss,
                         "build_over_update": build_cli / update_cli,
                         "tree_bytes": os.path.getsize(tree)}
        print(f"whole process: coreclean update --no-refresh (60 decisions) {update_cli:.2f} s, "
              f"{update_rss:.2f} GiB; coreclean build {build_cli:.2f} s: "
              f"{build_cli / update_cli:.1f} x", flush=True)
    report["loadavg_end"] = loadavg()
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
