#!/usr/bin/python3
"""Finding label errors: coreclean's fused views against the single-signal baselines, same run.

A benchmark, never a test: it reports (targets as pass/fail), asserts nothing. Debian's
interpreter (numpy + scikit-learn):

    /usr/bin/python3 bench/finding_errors.py --tool BUILD/bench/coreclean_bench_coreset
    # quick look: --datasets digits --seeds 0; rankings only (no review simulation):
    #   --review-iterations 0

Writes bench/results/finding_errors-STAMP.json and prints one table row per data set, features,
noise and method (means over seeds).

Data and noise
--------------
digits (1,797 × 64, pixels / 16), Fashion-MNIST (Debian's dataset-fashion-mnist; the 10k
test split by default, --fashion-split all for both splits, 70,000 × 784, pixels / 255) and, with
--datasets demo, the demo's boxes (`coreclean make-demo --error-rate 0`, 2,000 scenes, embedded
with the built-in features: ~10,000 × 1892), each as the features themselves ("raw") and as
their PCA (32 / 64 components, fitted without labels). Noise, per seed:
  * asym 10 % / 20 %: that share of the most confused class A (5-fold out-of-fold logistic
    regression on clean raw pixels, confusion normalised by true class) relabelled C; the scored
    set is every sample labelled C;
  * multi 10 %: every class loses 10 % of its samples to its own most confused partner; the
    scored set is every sample.

Methods (scores; higher = more suspect)
---------------------------------------
  * coreclean: the tree's importance (default parameters: ridge, held-out and neighbour views
    fused with weights fitted to the labels, plus 0.01 · atypicality); also each view alone
    (ridge, held_out, neighbour) and the fused misfit, for context;
  * CV self-confidence: 1 − p̂_oof(label), 5-fold multinomial logistic regression (C = 1; the
    benchmark tool's solver, which is what cross_val_predict_proba computes);
  * confident learning, as cleanlab's find_label_issues defaults (filter_by=
    'prune_by_noise_rate', ranked by self-confidence) on the same out-of-fold probabilities:
    per-class thresholds t_j = mean p̂_j over samples labelled j, the confident joint calibrated
    to the class counts, and for every pair (i, j) the C_ij samples labelled i with the largest
    margin p̂_j − p̂_i flagged (not those whose argmax is their label); score = flagged +
    self-confidence loss (flagged first, each part ordered by self-confidence);
  * neighbour disagreement: the share of the sample's k = 10 nearest neighbours (cosine, the
    given features, scikit-learn brute force) labelled otherwise — the same k as coreclean's;
  * in-sample loss: 1 − p(label) of a logistic regression (C = 1) fitted on every sample;
  * random (the expectation over 200 draws).
Metrics within the scored set: AUROC, precision at k (k = number of errors), recall at a 10 %
review budget. Review simulation (asym rows; --review-iterations, default 10, 0 = none): 10
iterations of the budget / 10 most important unseen samples of C, fixes applied by update +
refresh between them, the fusion weights fixed
(the tool's "coreclean") or learned from the reviewer's verdicts after every iteration
("coreclean_learning"); CV self-confidence refitted between them; errors found against random
review.

Targets (issue "finding errors, round 2"): coreclean's AUROC ≥ the best baseline's − 0.01 and
precision at k ≥ the best baseline's − 0.02 on every row; review with the learning fusion ≥ with
the fixed fusion, and ≥ 5 × random.
"""

import argparse
import datetime
import json
import os
import tempfile
import time

import numpy as np

from bench_common import provenance, result_path, write_effect_inputs
from coreset_effectiveness import (load_digits, load_fashion, loadavg, ranking_metrics,
                                   review_summary, run_tool)

SCRIPT = os.path.abspath(__file__)
REPO = os.path.dirname(os.path.dirname(SCRIPT))
K_NEIGHBOURS = 10


def confident_learning(p, y):
    """cleanlab's find_label_issues defaults (prune_by_noise_rate), by hand; returns the score."""
    n, k = p.shape
    counts = np.bincount(y, minlength=k)
    thresholds = np.array([p[y == j, j].mean() if counts[j] else 1.0 for j in range(k)])
    above = p >= thresholds[None, :] - 1e-6
    has = above.any(axis=1)
    jstar = np.where(above, p, -np.inf).argmax(axis=1)
    joint = np.zeros((k, k))
    np.add.at(joint, (y[has], jstar[has]), 1.0)
    rows = joint.sum(axis=1)
    joint = joint * (counts / np.maximum(rows, 1.0))[:, None]  # calibrated to the class counts
    joint = np.round(joint).astype(np.int64)
    flagged = np.zeros(n, bool)
    for i in range(k):
        members = np.flatnonzero(y == i)
        for j in range(k):
            if i == j or joint[i, j] == 0:
                continue
            margin = p[members, j] - p[members, i]
            flagged[members[np.argsort(-margin, kind="stable")[:joint[i, j]]]] = True
    flagged &= p.argmax(axis=1) != y
    return flagged.astype(np.float64) + (1.0 - p[np.arange(n), y])


def neighbour_disagreement(x, y, k=K_NEIGHBOURS):
    from sklearn.neighbors import NearestNeighbors
    nn = NearestNeighbors(n_neighbors=k + 1, metric="cosine", algorithm="brute").fit(x)
    _, idx = nn.kneighbors(x)
    out = np.empty(len(y))
    for i in range(len(y)):
        others = [j for j in idx[i] if j != i][:k]
        out[i] = np.mean(y[others] != y[i])
    return out


def in_sample_loss(x, y):
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        p = LogisticRegression(C=1.0, max_iter=300).fit(x, y).predict_proba(x)
    return 1.0 - p[np.arange(len(y)), np.searchsorted(np.unique(y), y)]


def confusion(x, y, k):
    """From one 5-fold out-of-fold logistic regression on clean labels (the folds and model of
    coreset_effectiveness.confused_pair): the most confused pair (A, C) — the largest
    off-diagonal cell of the confusion normalised by true class —, each class's most confused
    partner, and the out-of-fold accuracy."""
    import warnings
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = cross_val_predict(LogisticRegression(C=1.0, max_iter=200), x, y,
                                 cv=StratifiedKFold(5, shuffle=True, random_state=0))
    cm = np.zeros((k, k))
    np.add.at(cm, (y, pred), 1.0)
    cm /= np.maximum(cm.sum(axis=1, keepdims=True), 1.0)
    np.fill_diagonal(cm, -1.0)
    src, tgt = np.unravel_index(int(cm.argmax()), cm.shape)
    return int(src), int(tgt), cm.argmax(axis=1), float((pred == y).mean())


def load_demo(cli, work, images):
    """The demo's data with clean labels: `coreclean make-demo --error-rate 0` (Fashion-MNIST
    items composed into scenes, seed 7) embedded with the built-in colour + shape features
    (`coreclean embed` without a model) — the crops and features a user of the demo sees.
    Labels are the category ids renumbered 0..K-1."""
    import subprocess
    scenes, feat = os.path.join(work, "demo"), os.path.join(work, "demo-features")
    subprocess.run([cli, "-q", "make-demo", "--out", scenes, "--images", str(images),
                    "--error-rate", "0", "--seed", "7"], check=True)
    subprocess.run([cli, "-q", "embed", "--coco", os.path.join(scenes, "annotations.json"),
                    "--images", os.path.join(scenes, "images"), "--out", feat], check=True)
    x = np.load(os.path.join(feat, "X_train.npy"))
    categories, y = np.unique(np.load(os.path.join(feat, "y_train.npy")), return_inverse=True)
    with open(os.path.join(feat, "classes.json"), encoding="utf-8") as f:
        names = json.load(f)
    return x.astype(np.float32), y.astype(np.int64), [names.get(str(c), str(c)) for c in categories]


BASELINES = ["cv_self_confidence", "confident_learning", "neighbour_disagreement", "in_sample_loss"]
OURS = ["coreclean", "fused_misfit", "ridge_view", "held_out_view", "neighbour_view"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tool", default=os.path.join(REPO, "build", "bench", "coreclean_bench_coreset"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--datasets", default="digits,fashion",
                    help="comma-separated: digits, fashion, demo")
    ap.add_argument("--cli", default=os.path.join(REPO, "build", "apps", "cli", "coreclean"),
                    help="the coreclean CLI (makes and embeds the demo's data)")
    ap.add_argument("--demo-images", type=int, default=2000, help="demo scenes (about 5 boxes each)")
    ap.add_argument("--fashion-split", choices=["test", "all"], default="test")
    ap.add_argument("--noise", default="asym0.1,asym0.2,multi0.1")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--review-iterations", type=int, default=10,
                    help="iterations of the review simulation (0 = rankings only, much faster)")
    a = ap.parse_args()
    if a.review_iterations < 0:
        ap.error("--review-iterations must be >= 0")
    stamp, out_path = result_path(a.out, "finding_errors")
    from sklearn.decomposition import PCA
    report = {"started": stamp, "loadavg_start": loadavg(), "protocol": __doc__, "runs": [],
              "datasets": {}, "review_iterations": a.review_iterations}
    report.update(provenance(a.tool))
    with tempfile.TemporaryDirectory(prefix="coreclean-finding-") as tmp:
        loaders = {"digits": (load_digits, 32),
                   "fashion": (lambda: load_fashion(a.fashion_split), 64),
                   "demo": (lambda: load_demo(a.cli, tmp, a.demo_images), 64)}
        for ds in a.datasets.split(","):
            loader, n_pca = loaders[ds]
            x_raw, y_clean, names = loader()
            k = int(y_clean.max()) + 1
            src, tgt, partner, oof_acc = confusion(x_raw, y_clean, k)
            x_pca = PCA(n_components=n_pca, svd_solver="full").fit_transform(x_raw).astype(np.float32)
            feats = {"raw": x_raw, f"pca{n_pca}": x_pca}
            report["datasets"][ds] = {"n": int(len(y_clean)), "d": int(x_raw.shape[1]), "A": int(src),
                                      "C": int(tgt), "partner": partner.tolist(),
                                      "oof_accuracy_clean": oof_acc}
            print(f"== {ds}: n {len(y_clean)}, d {x_raw.shape[1]}, A→C {src}→{tgt}", flush=True)
            for noise in a.noise.split(","):
                kind = "asym" if noise.startswith("asym") else "multi"
                rate = float(noise[len(kind):])
                for seed in [int(s) for s in a.seeds.split(",")]:
                    rng = np.random.default_rng([seed, int(round(rate * 1000)), len(y_clean), 11])
                    y_noisy = y_clean.copy()
                    if kind == "asym":
                        members = np.flatnonzero(y_clean == src)
                        flip = rng.choice(members, int(round(rate * len(members))), replace=False)
                        y_noisy[flip] = tgt
                        scored = np.flatnonzero(y_noisy == tgt)
                    else:
                        for c in range(k):
                            members = np.flatnonzero(y_clean == c)
                            flip = rng.choice(members, int(round(rate * len(members))), replace=False)
                            y_noisy[flip] = partner[c]
                        scored = np.arange(len(y_clean))
                    is_err = (y_noisy != y_clean)[scored].astype(np.int64)
                    review_target = tgt
                    review_source = src
                    budget = int(((y_noisy == tgt) & (y_clean != tgt)).sum())
                    for fname, x in feats.items():
                        ddir = os.path.join(tmp, f"{ds}-{fname}-{noise}-{seed}")
                        write_effect_inputs(ddir, x, y_noisy, y_clean)
                        odir = os.path.join(ddir, "out")
                        t0 = time.perf_counter()
                        res = run_tool(a.tool, ddir, odir, review_target, review_source,
                                       max(budget, 1), 0,
                                       ["--iterations", str(a.review_iterations)])
                        ld = lambda name: np.load(os.path.join(odir, name))
                        proba = ld("cv_proba.npy")
                        scores = {
                            "coreclean": ld("importance.npy"),
                            "fused_misfit": ld("misfit.npy"),
                            "ridge_view": ld("ridge.npy"),
                            "held_out_view": ld("held_out.npy"),
                            "neighbour_view": ld("neighbour.npy"),
                            "cv_self_confidence": ld("cv_self_conf.npy"),
                            "confident_learning": confident_learning(proba, y_noisy),
                            "neighbour_disagreement": neighbour_disagreement(x, y_noisy),
                            "in_sample_loss": in_sample_loss(x, y_noisy),
                        }
                        metrics = {m: ranking_metrics(s[scored], is_err) for m, s in scores.items()}
                        metrics["random"] = ranking_metrics(
                            None, is_err, rng=np.random.default_rng([seed, 7]), draws=200)
                        in_c = np.flatnonzero(y_noisy == tgt)
                        c_err = (y_clean[in_c] != tgt).sum()
                        review = None if a.review_iterations == 0 else {
                                  "coreclean": review_summary(res["review_coreclean"], budget),
                                  "coreclean_learning": review_summary(
                                      res["review_coreclean_learning"], budget),
                                  "cv_self_confidence": review_summary(res["review_cv"], budget),
                                  "random": {"share": float(c_err / len(in_c))}}
                        run = {"dataset": ds, "features": fname, "noise": noise, "seed": seed,
                               "n_errors": int(is_err.sum()), "scored": int(len(scored)),
                               "metrics": metrics, "review": review,
                               "fusion_weights": res.get("fusion_weights"),
                               "build_seconds": res["build_seconds"],
                               "seconds": time.perf_counter() - t0}
                        report["runs"].append(run)
                        best = max(BASELINES, key=lambda m: metrics[m]["auroc"])
                        print(f"  {ds} {fname} {noise} seed {seed}: errors {int(is_err.sum())}/"
                              f"{len(scored)}  coreclean AUROC {metrics['coreclean']['auroc']:.3f} "
                              f"P@k {metrics['coreclean']['precision_at_k']:.3f}; best baseline "
                              f"{best} {metrics[best]['auroc']:.3f} / "
                              f"{max(metrics[m]['precision_at_k'] for m in BASELINES):.3f}; "
                              f"weights {res.get('fusion_weights')}", flush=True)

    # Means over seeds, targets per row.
    rows = []
    for key in sorted({(r["dataset"], r["features"], r["noise"]) for r in report["runs"]}):
        runs = [r for r in report["runs"] if (r["dataset"], r["features"], r["noise"]) == key]
        mean = {m: {q: float(np.mean([r["metrics"][m][q] for r in runs]))
                    for q in ("auroc", "precision_at_k", "recall_at_10pct")}
                for m in OURS + BASELINES + ["random"]}
        reviewed = all(r["review"] is not None for r in runs)
        share = {m: float(np.mean([r["review"][m]["share"] for r in runs]))
                 for m in ("coreclean", "coreclean_learning", "cv_self_confidence", "random")
                 } if reviewed else None
        best_auroc = max(mean[m]["auroc"] for m in BASELINES)
        best_pk = max(mean[m]["precision_at_k"] for m in BASELINES)
        targets = {"auroc": mean["coreclean"]["auroc"] >= best_auroc - 0.01,
                   "precision_at_k": mean["coreclean"]["precision_at_k"] >= best_pk - 0.02}
        if key[2].startswith("asym") and reviewed:  # the simulated reviewer fixes A → C errors only
            targets["review_5x_random"] = share["coreclean_learning"] >= 5 * share["random"]
            targets["learning_at_least_fixed"] = share["coreclean_learning"] >= share["coreclean"]
        rows.append({"dataset": key[0], "features": key[1], "noise": key[2], "seeds": len(runs),
                     "metrics": mean, "review_share": share, "targets": targets,
                     "best_baseline_auroc": best_auroc, "best_baseline_precision_at_k": best_pk})
    report["rows"] = rows
    report["finished"] = datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    print(f"\n{'data':8s} {'feat':6s} {'noise':9s} {'method':24s} {'AUROC':>6s} {'P@k':>6s} {'R@10%':>6s}")
    for row in rows:
        for m in OURS + BASELINES + ["random"]:
            q = row["metrics"][m]
            print(f"{row['dataset']:8s} {row['features']:6s} {row['noise']:9s} {m:24s} "
                  f"{q['auroc']:6.3f} {q['precision_at_k']:6.3f} {q['recall_at_10pct']:6.3f}")
        if row["noise"].startswith("asym") and row["review_share"]:
            print(f"{'':25s} review share: coreclean learning "
                  f"{row['review_share']['coreclean_learning']:.3f}, fixed "
                  f"{row['review_share']['coreclean']:.3f}, CV "
                  f"{row['review_share']['cv_self_confidence']:.3f}, random "
                  f"{row['review_share']['random']:.3f}")
        print(f"{'':25s} targets {row['targets']}")
    print(f"\nwrote {out_path}")


if __name__ == "__main__":
    main()
