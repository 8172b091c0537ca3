#!/usr/bin/python3
"""Effectiveness of the coreset tree at finding label errors, on real data, in one run.

A benchmark, never a test: it asserts nothing, it reports (targets are shown as pass/fail).
Run with Debian's interpreter (numpy + scikit-learn 1.2.1):

    /usr/bin/python3 bench/coreset_effectiveness.py \
        --tool BUILD/bench/coreclean_bench_coreset          # ~5-10 min on 2 cores
    # quick look: --datasets digits --seeds 0

Writes bench/results/coreset_effectiveness-STAMP.json (and prints the tables).

Data
----
* digits: /work/shared/data/digits/{X,y}.npy (1,797 × 64, pixels 0..16), scaled by 1/16.
* fashion: Fashion-MNIST's 10k test set from Debian's dataset-fashion-mnist
  (/usr/share/datasets/fashion-mnist/t10k-*.gz, 10,000 × 784, pixels 0..255), scaled by 1/255.
  (The tree is invariant to a global scale; the scale only matters for the logistic regressions.)
Feature sets: raw pixels, and PCA of the (scaled) pixels fitted on all samples without labels
(scikit-learn PCA, svd_solver='full'): 32 components for digits, 64 for fashion.

Protocol
--------
1. The confused pair (A, C), once per dataset, on raw pixels with clean labels: 5-fold
   out-of-fold predictions (StratifiedKFold(5, shuffle, random_state=0)) of scikit-learn
   LogisticRegression(C=1, max_iter=200); A → C is the largest off-diagonal entry of the
   confusion matrix normalised by true class. The same pair is used for both feature sets.
2. For each rate (10 %, 20 %) and seed (0, 1, 2): round(rate · |A|) random samples of A are
   relabelled C (the same samples for both feature sets). C is the class of interest; the
   scored set is every sample currently labelled C (clean C + injected errors).
3. Methods, side by side on the same data (the C++ tool runs the coreclean ones):
   * coreclean: CoresetTree importance (cleaning mode, default CoresetTreeParams,
     Context.seed = 0);
   * random: uniform random scores (metrics averaged over --random-draws draws, i.e. the
     expectation);
   * leverage only: the tree's `atypical` component (per-class ridge leverage);
   * CV self-confidence: 1 − p̂_oof(label), p̂ from coreclean's multinomial LogisticRegression
     (C = 1, tol 1e-3, 5 folds from stratified_kfold(y, 5, seed 0)); one model per fold, which is
     what cross_val_predict_proba computes (--check-cvp runs that too and reports the largest
     difference). coreclean's solver, not scikit-learn's: scikit-learn's lbfgs does not converge
     on raw Fashion pixels within hundreds of iterations, and the review loop below refits
     5 folds × 10 iterations per run. tol 1e-3 rather than 1e-4 halves the time; on Fashion raw
     10 % seed 0 it changed the static AUROC by 0.0005 and the review result not at all. With
     --sklearn-cv, scikit-learn's LogisticRegression(C=1, max_iter=1000) cross_val_predict
     score is added as an extra static column (slow on Fashion raw).
   * extra, for context: misfit only (the tree's `misfit` component).
   Metrics within class C: AUROC (errors vs clean), precision@k with k = number of injected
   errors, recall at a 10 % review budget (top ⌈0.1 · |C|⌉). Ties are broken by sample order.
4. Review simulation of class C: total budget B = number of injected errors, 10 iterations of
   ⌈B/10⌉ samples (the last iterations smaller or empty once B is spent); the simulated reviewer
   sets every reviewed true error back to A.
   * coreclean: important_samples({C: ⌈B/10⌉}, mark_seen), then update_targets of the fixes
     and refresh() (what `coreclean update` does by default: the exact incremental update, then
     the cross-fitted models refitted on the corrected labels); never rebuilt;
   * coreclean lazy (extra): update_targets only (`coreclean update --no-refresh`), the
     cross-fitted part of the scores stays stale;
   * CV self-confidence: 5-fold OOF refit on the corrected labels every iteration (fold
     assignment fixed, fold models warm-started — same optimum), top unseen samples of C;
   * random: B samples of C drawn without replacement (expectation B · errors / |C|, reported
     exactly).
   Reported: errors found and share of the reviewed samples that were errors.

Targets (from the product issue, reported honestly, not tuned for):
  AUROC(coreclean) ≥ AUROC(CV self-confidence) − 0.01 and precision@k(coreclean) ≥
  1.5 × precision@k(leverage only) on every dataset / feature set / rate (means over seeds);
  review share(coreclean) ≥ share(CV self-confidence), and on digits ≥ 5 × share(random).
"""

import argparse
import gzip
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

from bench_common import provenance, result_path, write_effect_inputs

SCRIPT = os.path.abspath(__file__)
REPO = os.path.dirname(os.path.dirname(SCRIPT))
DIGITS = "/work/shared/data/digits"
FASHION = "/usr/share/datasets/fashion-mnist"
FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot"]


def load_digits():
    x = np.load(os.path.join(DIGITS, "X.npy")).astype(np.float32) / np.float32(16.0)
    y = np.load(os.path.join(DIGITS, "y.npy")).astype(np.int64)
    return x, y, [str(i) for i in range(10)]


def load_fashion(split="test"):
    """Fashion-MNIST from Debian's package: the 10k test split, or both splits ("all", 70,000
    rows); pixels / 255 as float32, labels, class names."""
    xs, ys = [], []
    for part in ["t10k"] if split == "test" else ["train", "t10k"]:
        with gzip.open(os.path.join(FASHION, f"{part}-images-idx3-ubyte.gz")) as f:
            xs.append(np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784))
        with gzip.open(os.path.join(FASHION, f"{part}-labels-idx1-ubyte.gz")) as f:
            ys.append(np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64))
    return np.vstack(xs).astype(np.float32) / np.float32(255.0), np.concatenate(ys), FASHION_NAMES


DATASETS = {"digits": (load_digits, 32), "fashion": (load_fashion, 64)}


def loadavg():
    with open("/proc/loadavg", encoding="ascii") as f:
        return f.read().split()[:3]


def confused_pair(x, y, names):
    """(A, C, normalised confusion, top pairs) from 5-fold OOF LR predictions on clean labels."""
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import confusion_matrix
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pred = cross_val_predict(LogisticRegression(C=1.0, max_iter=200), x, y,
                                 cv=StratifiedKFold(5, shuffle=True, random_state=0))
    cm = confusion_matrix(y, pred, normalize="true")
    off = cm.copy()
    np.fill_diagonal(off, -1.0)
    order = np.argsort(-off, axis=None)[:5]
    top = [{"A": int(i // cm.shape[1]), "C": int(i % cm.shape[1]),
            "A_name": names[i // cm.shape[1]], "C_name": names[i % cm.shape[1]],
            "rate": float(off.flat[i])} for i in order]
    return top[0]["A"], top[0]["C"], float((pred == y).mean()), top


def sklearn_cv_self_conf(x, y):
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        p = cross_val_predict(LogisticRegression(C=1.0, max_iter=1000), x, y,
                              cv=StratifiedKFold(5, shuffle=True, random_state=0),
                              method="predict_proba")
    classes = np.unique(y)
    return 1.0 - p[np.arange(len(y)), np.searchsorted(classes, y)]


def ranking_metrics(score, is_err, rng=None, draws=1):
    """AUROC, precision@k (k = #errors), recall at the top 10 % — within the scored set."""
    from sklearn.metrics import roc_auc_score
    k = int(is_err.sum())
    top10 = int(math.ceil(0.1 * len(is_err)))
    out = {"auroc": [], "precision_at_k": [], "recall_at_10pct": []}
    for _ in range(draws):
        s = score if rng is None else rng.random(len(is_err))
        order = np.argsort(-s, kind="stable")
        out["auroc"].append(roc_auc_score(is_err, s))
        out["precision_at_k"].append(is_err[order[:k]].sum() / k)
        out["recall_at_10pct"].append(is_err[order[:top10]].sum() / k)
    return {m: float(np.mean(v)) for m, v in out.items()}


def run_tool(tool, data_dir, out_dir, target, source, budget, seed, extra=()):
    """Runs `coreclean_bench_coreset effect`, returns its JSON (plus wall_seconds)."""
    cmd = [tool, "effect", data_dir, out_dir, "--target", str(target), "--source", str(source),
           "--budget", str(budget), "--seed", str(seed), *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    res = json.loads(lines[-1])
    res["wall_seconds"] = time.perf_counter() - t0
    return res


def review_summary(iters, budget):
    found = sum(it["errors_found"] for it in iters)
    reviewed = sum(len(it["reviewed"]) for it in iters)
    return {"found": found, "reviewed": reviewed, "share": found / reviewed if reviewed else 0.0,
            "found_per_iteration": [it["errors_found"] for it in iters]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tool", default=os.path.join(REPO, "build-cbench", "bench",
                                                   "coreclean_bench_coreset"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--datasets", default="digits,fashion")
    ap.add_argument("--rates", default="0.1,0.2")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--tree-seed", type=int, default=0, help="Context.seed of the tree and folds")
    ap.add_argument("--random-draws", type=int, default=200)
    ap.add_argument("--cv-tol", type=float, default=1e-3, help="tol of coreclean's CV LR")
    ap.add_argument("--check-cvp", action="store_true",
                    help="also run cross_val_predict_proba and record its largest difference")
    ap.add_argument("--sklearn-cv", action="store_true",
                    help="add scikit-learn's CV self-confidence as an extra static column")
    a = ap.parse_args()
    stamp, out_path = result_path(a.out, "coreset_effectiveness")
    rates = [float(r) for r in a.rates.split(",")]
    seeds = [int(s) for s in a.seeds.split(",")]

    import sklearn
    from sklearn.decomposition import PCA
    report = {"started": stamp, "loadavg_start": loadavg(), "host": platform.node(),
              "python": sys.version.split()[0], "numpy": np.__version__,
              "sklearn": sklearn.__version__, "tool": a.tool,
              "blas_env": {k: v for k, v in os.environ.items()
                           if k.startswith(("OPENBLAS", "OMP_", "GOTO"))},
              "protocol": __doc__, "datasets": {}, "runs": []}
    report.update(provenance(a.tool))
    t_start = time.perf_counter()
    rows = []  # aggregated
    with tempfile.TemporaryDirectory(prefix="coreclean-coreset-eff-") as tmp:
        for ds in a.datasets.split(","):
            loader, n_pca = DATASETS[ds]
            x_raw, y_clean, names = loader()
            t0 = time.perf_counter()
            src, tgt, oof_acc, top_pairs = confused_pair(x_raw, y_clean, names)
            pair_seconds = time.perf_counter() - t0
            pca = PCA(n_components=n_pca, svd_solver="full").fit(x_raw)
            x_pca = pca.transform(x_raw).astype(np.float32)
            feats = {"raw": x_raw, f"pca{n_pca}": x_pca}
            report["datasets"][ds] = {
                "n": int(len(y_clean)), "d": int(x_raw.shape[1]), "A": src, "C": tgt,
                "A_name": names[src], "C_name": names[tgt], "oof_accuracy_clean": oof_acc,
                "top_confused_pairs": top_pairs, "pair_seconds": pair_seconds,
                "pca_components": n_pca,
                "pca_explained_variance": float(pca.explained_variance_ratio_.sum())}
            print(f"\n== {ds}: n = {len(y_clean)}, d = {x_raw.shape[1]}; clean 5-fold OOF LR "
                  f"accuracy {oof_acc:.3f}; most confused A → C = {src} ({names[src]}) → "
                  f"{tgt} ({names[tgt]}) at {top_pairs[0]['rate']:.3f}", flush=True)
            for rate in rates:
                for seed in seeds:
                    rng = np.random.default_rng([seed, int(round(rate * 1000)), len(y_clean)])
                    a_idx = np.flatnonzero(y_clean == src)
                    n_flip = int(round(rate * len(a_idx)))
                    flip = rng.choice(a_idx, n_flip, replace=False)
                    y_noisy = y_clean.copy()
                    y_noisy[flip] = tgt
                    in_c = np.flatnonzero(y_noisy == tgt)
                    is_err = (y_clean[in_c] != tgt).astype(np.int64)
                    for fname, x in feats.items():
                        ddir = os.path.join(tmp, f"{ds}-{fname}-{rate}-{seed}")
                        write_effect_inputs(ddir, x, y_noisy, y_clean)
                        odir = os.path.join(ddir, "out")
                        extra = (["--cv-tol", str(a.cv_tol)] + (["--check-cvp"] if a.check_cvp else [])
)
                        res = run_tool(a.tool, ddir, odir, tgt, src, n_flip, a.tree_seed, extra)
                        ld = lambda name: np.load(os.path.join(odir, name))
                        scores = {"coreclean": ld("importance.npy")[in_c],
                                  "leverage_only": ld("atypical.npy")[in_c],
                                  "cv_self_confidence": ld("cv_self_conf.npy")[in_c],
                                  "misfit_only": ld("misfit.npy")[in_c]}
                        if a.sklearn_cv:
                            t0 = time.perf_counter()
                            scores["sklearn_cv_self_confidence"] = sklearn_cv_self_conf(
                                x, y_noisy)[in_c]
                            res["sklearn_cv_seconds"] = time.perf_counter() - t0
                        metrics = {m: ranking_metrics(s, is_err) for m, s in scores.items()}
                        metrics["random"] = ranking_metrics(
                            None, is_err, rng=np.random.default_rng([seed, 7]), draws=a.random_draws)
                        budget = n_flip
                        review = {
                            "coreclean": review_summary(res["review_coreclean"], budget),
                            "cv_self_confidence": review_summary(res["review_cv"], budget),
                        }
                        review["coreclean_lazy"] = review_summary(res["review_coreclean_lazy"], budget)
                        exp_random = budget * is_err.sum() / len(in_c)
                        review["random"] = {"found": float(exp_random), "reviewed": budget,
                                            "share": float(exp_random / budget)}
                        cv_iters = [sum(f["iterations"] for f in it) for it in res["review_cv_fits"]]
                        run = {"dataset": ds, "features": fname, "rate": rate, "seed": seed,
                               "n_errors": n_flip, "class_size": int(len(in_c)),
                               "metrics": metrics, "review": review,
                               "seconds": {"tool_wall": res["wall_seconds"],
                                           "build": res["build_seconds"],
                                           "cv": res.get("cv_seconds"),
                                           "review_coreclean": res["review_coreclean_seconds"],
                                           "review_cv": res.get("review_cv_seconds"),
                                           "sklearn_cv": res.get("sklearn_cv_seconds")},
                               "cvp_max_abs_diff": res.get("cvp_max_abs_diff"),
                               "tree": {"feature_dim": res["feature_dim"],
                                        "chunk_size": res["chunk_size"],
                                        "num_leaves": res["num_leaves"]},
                               "review_cv_newton_iterations": cv_iters,
                               "review_coreclean_iterations": res["review_coreclean"],
                               "tool_warnings": res.get("warnings", [])}
                        report["runs"].append(run)
                        print(f"  [{time.strftime('%H:%M:%S')}] {ds} {fname} rate {rate} seed "
                              f"{seed}: errors {n_flip}/{len(in_c)}; AUROC cc "
                              f"{metrics['coreclean']['auroc']:.3f} cv "
                              f"{metrics['cv_self_confidence']['auroc']:.3f} lev "
                              f"{metrics['leverage_only']['auroc']:.3f}; review found cc "
                              f"{review['coreclean']['found']} cv "
                              f"{review['cv_self_confidence']['found']} rnd {exp_random:.1f} "
                              f"(tool {res['wall_seconds']:.1f} s, build "
                              f"{res['build_seconds']:.2f} s)", flush=True)

    # ---- aggregate over seeds ----
    methods = ["coreclean", "random", "leverage_only", "cv_self_confidence", "misfit_only"]
    if a.sklearn_cv:
        methods.append("sklearn_cv_self_confidence")
    review_methods = ["coreclean", "random", "cv_self_confidence", "coreclean_lazy"]
    agg = []
    keys = sorted({(r["dataset"], r["features"], r["rate"]) for r in report["runs"]},
                  key=lambda k: (list(DATASETS).index(k[0]), k[1] != "raw", k[2]))
    for key in keys:
        runs = [r for r in report["runs"] if (r["dataset"], r["features"], r["rate"]) == key]
        entry = {"dataset": key[0], "features": key[1], "rate": key[2], "seeds": len(runs),
                 "n_errors": float(np.mean([r["n_errors"] for r in runs])),
                 "class_size": float(np.mean([r["class_size"] for r in runs])),
                 "metrics": {}, "review": {}}
        for m in methods:
            entry["metrics"][m] = {k: float(np.mean([r["metrics"][m][k] for r in runs]))
                                   for k in ("auroc", "precision_at_k", "recall_at_10pct")}
            entry["metrics"][m]["auroc_std"] = float(np.std([r["metrics"][m]["auroc"] for r in runs]))
        for m in review_methods:
            entry["review"][m] = {k: float(np.mean([r["review"][m][k] for r in runs]))
                                  for k in ("found", "reviewed", "share")}
        mt, rv = entry["metrics"], entry["review"]
        entry["targets"] = {
            "auroc_ge_cv_minus_0.01": mt["coreclean"]["auroc"] >= mt["cv_self_confidence"]["auroc"] - 0.01,
            "p_at_k_ge_1.5x_leverage": mt["coreclean"]["precision_at_k"] >= 1.5 * mt["leverage_only"]["precision_at_k"],
            "review_share_ge_cv": rv["coreclean"]["share"] >= rv["cv_self_confidence"]["share"],
        }
        if key[0] == "digits":
            entry["targets"]["review_share_ge_5x_random"] = rv["coreclean"]["share"] >= 5 * rv["random"]["share"]
        agg.append(entry)
    report["aggregate"] = agg
    report["total_seconds"] = time.perf_counter() - t_start
    report["loadavg_end"] = loadavg()
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)

    # ---- tables ----
    print(f"\nEffectiveness (means over seeds {a.seeds}); scored set = samples labelled C")
    for ds, info in report["datasets"].items():
        print(f"  {ds}: A = {info['A']} ({info['A_name']}) relabelled as C = {info['C']} "
              f"({info['C_name']}); clean OOF accuracy {info['oof_accuracy_clean']:.3f}")
    hdr = f"{'dataset':8} {'features':8} {'rate':>4} {'err/|C|':>10}  {'method':34} {'AUROC':>6} {'P@k':>6} {'R@10%':>6}"
    print(hdr)
    print("-" * len(hdr))
    for e in agg:
        for i, m in enumerate(methods):
            lead = (f"{e['dataset']:8} {e['features']:8} {e['rate']:4.2f} "
                    f"{e['n_errors']:4.0f}/{e['class_size']:<5.0f}") if i == 0 else " " * 33
            mm = e["metrics"][m]
            name = m + (" (extra)" if m in ("misfit_only", "sklearn_cv_self_confidence") else "")
            print(f"{lead}  {name:34} {mm['auroc']:6.3f} {mm['precision_at_k']:6.3f} "
                  f"{mm['recall_at_10pct']:6.3f}")
    print("\nReview simulation: budget B = injected errors, 10 iterations of ⌈B/10⌉; errors found "
          "(share of reviewed)")
    hdr = (f"{'dataset':8} {'features':8} {'rate':>4} {'B':>4}  {'coreclean':>14} {'CV self-conf':>14} "
           f"{'random (exp.)':>14} {'cc lazy*':>14}")
    print(hdr)
    print("-" * len(hdr))
    for e in agg:
        rv = e["review"]
        cells = [f"{rv[m]['found']:5.1f} ({rv[m]['share']:.2f})" for m in
                 ("coreclean", "cv_self_confidence", "random", "coreclean_lazy") if m in rv]
        print(f"{e['dataset']:8} {e['features']:8} {e['rate']:4.2f} {e['n_errors']:4.0f}  " +
              " ".join(f"{c:>14}" for c in cells))
    print("  * extra: update_targets only between iterations (`update --no-refresh`); coreclean "
          "refreshes after each update, as `coreclean update` does by default")
    print("\nTargets (pass/fail):")
    for e in agg:
        t = ", ".join(f"{k} {'PASS' if v else 'FAIL'}" for k, v in e["targets"].items())
        print(f"  {e['dataset']:8} {e['features']:8} {e['rate']:4.2f}: {t}")
    print(f"\nload average start {report['loadavg_start']} end {report['loadavg_end']}; "
          f"total {report['total_seconds']:.0f} s; results written to {out_path}")


if __name__ == "__main__":
    main()
