#!/usr/bin/python3
"""What the held-out models' row limit (`coreclean build --held-out-rows`, default 50,000) costs
in errors found and saves in time, on real data larger than the limit, in one run.

A benchmark, never a test: it asserts nothing, it reports. Run with Debian's interpreter:

    /usr/bin/python3 bench/held_out_rows.py --cli BUILD/apps/cli/coreclean   # ~5 min on 2 cores

Data: Fashion-MNIST, both splits (70,000 × 784 raw pixels scaled by 1/255, Debian's
dataset-fashion-mnist). Noise: for each seed (0, 1, 2), 10 % of every class's samples get the
label of that class's most confused partner (the largest off-diagonal cell of the row-normalised
confusion matrix of 5-fold out-of-fold predictions of scikit-learn's LogisticRegression on a
10,000-row subsample with clean labels): every class flipped into its own partner.
For each limit (50,000, the default; 0, every row) the CLI builds a tree under /usr/bin/time -v;
reported per limit: AUROC of the importance for the flipped samples over all samples, precision
among the top 7,000 (the number of errors), wall seconds and peak RSS; means over the seeds.
Writes bench/results/held_out_rows-STAMP.json.
"""

import argparse
import json
import os
import subprocess
import tempfile

import numpy as np

from bench_common import provenance, time_command, write_result
from coreset_effectiveness import load_fashion


def partners(x, y):
    """Each class's most confused other class (OOF LR on a 10,000-row subsample)."""
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import confusion_matrix
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    rows = np.random.default_rng(0).choice(len(y), 10000, replace=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pred = cross_val_predict(LogisticRegression(max_iter=200), x[rows], y[rows],
                                 cv=StratifiedKFold(5, shuffle=True, random_state=0))
    cm = confusion_matrix(y[rows], pred, normalize="true")
    np.fill_diagonal(cm, -1.0)
    return cm.argmax(axis=1)


def auroc(score, positive):
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(positive, score))


def timed_build(cli, features, tree, limit):
    return time_command([cli, "build", "--features", features, "--out", tree, "--held-out-rows",
                         str(limit)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--limits", default="50000,0")
    a = ap.parse_args()
    x, y, _ = load_fashion("all")
    partner = partners(x, y)
    work = tempfile.mkdtemp(prefix="coreclean-held-out-")
    rows = []
    for seed in [int(s) for s in a.seeds.split(",")]:
        rng = np.random.default_rng(seed)
        noisy = y.copy()
        flipped = np.zeros(len(y), dtype=bool)
        for c in np.unique(y):
            members = np.flatnonzero(y == c)
            pick = rng.choice(members, int(round(0.1 * len(members))), replace=False)
            noisy[pick] = partner[c]
            flipped[pick] = True
        features = os.path.join(work, f"features-{seed}")
        os.makedirs(features, exist_ok=True)
        np.save(os.path.join(features, "X_train.npy"), x)
        np.save(os.path.join(features, "y_train.npy"), noisy)
        for limit in [int(v) for v in a.limits.split(",")]:
            tree = os.path.join(work, f"tree-{seed}-{limit}.cct")
            seconds, rss = timed_build(a.cli, features, tree, limit)
            out = subprocess.run([a.cli, "rank", "--tree", tree, "--class", "all", "--top",
                                  str(len(y)), "--include-seen"], capture_output=True, text=True,
                                 check=True).stdout.splitlines()[1:]
            score = np.zeros(len(y))
            for line in out:
                sid, _, importance = line.split(",")[:3]
                score[int(sid)] = float(importance)
            top = np.argsort(-score)[: int(flipped.sum())]
            row = {"seed": seed, "limit": limit, "auroc": auroc(score, flipped),
                   "precision_at_errors": float(flipped[top].mean()), "wall_seconds": seconds,
                   "peak_rss_kb": rss}
            print(json.dumps(row), flush=True)
            rows.append(row)
    summary = {}
    for limit in sorted({r["limit"] for r in rows}):
        mine = [r for r in rows if r["limit"] == limit]
        summary[str(limit)] = {k: float(np.mean([r[k] for r in mine]))
                               for k in ("auroc", "precision_at_errors", "wall_seconds",
                                         "peak_rss_kb")}
    report = {"data": "fashion-mnist train+test 70,000 x 784, 10 % of each class into its partner",
              "partners": partner.tolist(), "rows": rows, "summary": summary,
              "provenance": provenance(a.cli)}
    write_result("held_out_rows", report, summary)


if __name__ == "__main__":
    main()
