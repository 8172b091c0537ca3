#!/usr/bin/python3
"""Speed of the coreset tree against numpy / scikit-learn baselines, measured in one run.

A benchmark, never a test: it asserts nothing, it reports. Run with Debian's interpreter
(numpy + scikit-learn 1.2.1):

    /usr/bin/python3 bench/coreset_speed.py --tool BUILD/bench/coreclean_bench_coreset
        # ~5-10 min on 2 cores; quick look: --scale-sizes 20000,40000 --scale-classes 10

Writes bench/results/coreset_speed-STAMP.json (and prints the tables).

1. The seed's job shape: 12,073 × 2048 float32, two classes (synthetic, seeded): two
   overlapping Gaussian classes (≈ 58 / 42 %) with low-rank structure — a shared rank-64 latent
   factor with a decaying spectrum in a random basis, isotropic noise, an offset — and class
   means apart by 2 standard deviations of the data along the separating direction (so a
   linear rule gets ≈ 84 % right, as overlapping embeddings do).
   * coreclean (child process `coreclean_bench_coreset speed`, Context.seed = 0): build, then
     one query important_samples({class 1: 60}) (first call; median of 5 also reported);
     60-edit update_targets, median over 10 rounds (part of the drift experiment below).
   * numpy exact per-class leverage: for each class, np.linalg.svd of the class's rows
     (float64, [X_c, 1], full_matrices=False), leverage = row sums of U² (its own child process).
   * scikit-learn: cross_val_predict(LogisticRegression(), X, y, cv=5, method='predict_proba')
     with every default (lbfgs, max_iter=100; convergence warnings recorded), its own child.
   Ratios = baseline seconds / coreclean (build + first query) seconds (> 1: coreclean faster).
   Also, for context: Spearman correlation of the tree's `atypical` with numpy's exact leverage
   and of the tree's importance with scikit-learn's 1 − p̂_oof(label).
2. Drift of lazy updates on the same data: after 10 rounds of 60 update_targets edits (each a
   random sample moved to the other class), the importances left by the lazy updates are compared
   with a fresh build over the same X and current labels (same seed): Spearman correlation over
   all samples, and the overlap of class 1's top-60 ranking (targets: Spearman ≥ 0.99, overlap
   ≥ 90 %). Variant "random" draws the edits over the whole data (the protocol); variant
   "one_leaf" puts each round's edits in one leaf (another locality of the edits, for context).
   The lazy tree after refresh() is compared too (should be exact). Because a build / refresh()
   re-selects the misfit ridge while updates keep the build's, the tool also identifies the
   ridge each build chose and compares with a fresh build restricted to the original ridge,
   splitting the drift into stale scores and ridge re-selection.
3. Scaling: 200,000 × 2048 float32, 10 classes (same generator, 10 class means), built at
   --scale-sizes (default 50k, 100k, 200k; each size its own file and child process): build
   seconds and peak memory (VmHWM of the child, which holds X in memory: rss_after_load_mb is the
   data's share). Estimate for 847,970 × 2048 from a power-law fit t = a·n^b over the measured
   sizes (and, for comparison, a straight line through the two largest); peak memory estimated
   by a straight line through the two largest sizes.

The machine may be shared: the job build and each baseline run --repeats times (interleaved),
each scaling size --scale-repeats times, and the minimum is reported (all runs are kept in the
JSON); load averages at start and end (and around each timed step) are recorded. BLAS environment variables are passed through unchanged and recorded.
"""

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

from bench_common import generate, provenance, result_path

SCRIPT = os.path.abspath(__file__)
REPO = os.path.dirname(os.path.dirname(SCRIPT))


def loadavg():
    with open("/proc/loadavg", encoding="ascii") as f:
        return [float(v) for v in f.read().split()[:3]]


def self_peak_rss_mb():
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


# ---------------------------------------------------------------------------------------------
# Baseline workers (child processes): coreset_speed.py --worker KIND DIR
# ---------------------------------------------------------------------------------------------

def worker_main(argv):
    kind, data = argv[0], argv[1]
    import warnings
    x = np.load(os.path.join(data, "X.npy"))
    y = np.load(os.path.join(data, "y.npy"))
    out = {"kind": kind}
    if kind == "leverage":
        t0 = time.perf_counter()
        lev = np.zeros(len(y))
        for c in np.unique(y):
            rows = np.flatnonzero(y == c)
            a = np.hstack([x[rows].astype(np.float64), np.ones((len(rows), 1))])
            u, _, _ = np.linalg.svd(a, full_matrices=False)
            lev[rows] = np.einsum("ij,ij->i", u, u)
        out["seconds"] = time.perf_counter() - t0
        np.save(os.path.join(data, "numpy_leverage.npy"), lev)
    elif kind == "cvp":
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import cross_val_predict
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            t0 = time.perf_counter()
            p = cross_val_predict(LogisticRegression(), x, y, cv=5, method="predict_proba")
            out["seconds"] = time.perf_counter() - t0
        out["convergence_warnings"] = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
        classes = np.unique(y)
        np.save(os.path.join(data, "sklearn_self_conf.npy"),
                1.0 - p[np.arange(len(y)), np.searchsorted(classes, y)])
    out["peak_rss_mb"] = self_peak_rss_mb()
    print(json.dumps(out), flush=True)


def run_child(cmd, label):
    print(f"  [{time.strftime('%H:%M:%S')}] {label} (load {loadavg()[0]:.2f})", flush=True)
    la = loadavg()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    res = json.loads(lines[-1])
    res["wall_seconds"] = wall
    res["loadavg_before"] = la
    res["loadavg_after"] = loadavg()
    if "seconds" in res:
        print(f"      -> {res['seconds']:.2f} s", flush=True)
    elif "build_seconds" in res:
        print(f"      -> build {res['build_seconds']:.2f} s, peak {res['peak_rss_mb']:.0f} MB",
              flush=True)
    return res


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

def spearman(a, b):
    from scipy.stats import spearmanr
    return float(spearmanr(a, b).correlation)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        return worker_main(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tool", default=os.path.join(REPO, "build-cbench", "bench",
                                                   "coreclean_bench_coreset"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--rows", type=int, default=12073)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--top", type=int, default=60)
    ap.add_argument("--edits", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0, help="Context.seed and data seed")
    ap.add_argument("--scale-sizes", default="50000,100000,200000")
    ap.add_argument("--scale-classes", type=int, default=10)
    ap.add_argument("--target-rows", type=int, default=847970)
    ap.add_argument("--repeats", type=int, default=3,
                    help="runs of the job build and of each baseline (minimum reported)")
    ap.add_argument("--scale-repeats", type=int, default=2,
                    help="builds per scaling size (minimum reported)")
    ap.add_argument("--skip-baselines", action="store_true")
    ap.add_argument("--skip-scaling", action="store_true")
    a = ap.parse_args()
    stamp, out_path = result_path(a.out, "coreset_speed")

    import sklearn
    report = {"started": stamp, "loadavg_start": loadavg(), "host": platform.node(),
              "nproc": os.cpu_count(), "python": sys.version.split()[0],
              "numpy": np.__version__, "sklearn": sklearn.__version__, "tool": a.tool,
              "blas_env": {k: v for k, v in os.environ.items()
                           if k.startswith(("OPENBLAS", "OMP_", "GOTO"))},
              "protocol": __doc__}
    report.update(provenance(a.tool))
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="coreclean-coreset-speed-") as tmp:
        # ---- 1 + 2: the job shape ----
        job = os.path.join(tmp, "job")
        print(f"== {a.rows} × {a.dim}, 2 classes", flush=True)
        t0 = time.perf_counter()
        report["job_data"] = generate(job, a.rows, a.dim, 2, [0.58, 0.42], a.seed)
        report["job_data"]["generate_seconds"] = time.perf_counter() - t0
        out = os.path.join(tmp, "job_out")
        cc = run_child([a.tool, "speed", job, out, "--class", "1", "--top", str(a.top),
                        "--edits", str(a.edits), "--rounds", str(a.rounds), "--seed",
                        str(a.seed)], "coreclean build + query + drift")
        report["job_coreclean"] = cc
        # Repetitions, interleaved so that a busy spell of the shared machine hits all methods;
        # the minimum over repetitions is the figure (the least disturbed run).
        builds = [cc["build_seconds"]]
        runs = {"numpy_leverage": [], "sklearn_cvp": []}
        for r in range(a.repeats):
            if r > 0:
                extra = run_child([a.tool, "speed", job, os.path.join(tmp, "job_build_only"),
                                   "--class", "1", "--top", str(a.top), "--seed", str(a.seed),
                                   "--build-only"], f"coreclean build (repeat {r + 1})")
                builds.append(extra["build_seconds"])
            if not a.skip_baselines:
                runs["numpy_leverage"].append(run_child(
                    [sys.executable, SCRIPT, "--worker", "leverage", job],
                    f"numpy exact per-class leverage (repeat {r + 1})"))
                runs["sklearn_cvp"].append(run_child(
                    [sys.executable, SCRIPT, "--worker", "cvp", job],
                    f"sklearn cross_val_predict LR (repeat {r + 1})"))
        report["job_build_seconds_all"] = builds
        base = {}
        for k, rs in runs.items():
            if rs:
                base[k] = dict(min(rs, key=lambda x: x["seconds"]))
                base[k]["seconds_all"] = [x["seconds"] for x in rs]
        report["job_baselines"] = base
        y = np.load(os.path.join(job, "y.npy"))
        ctx = {}
        imp = np.load(os.path.join(out, "importance.npy"))
        aty = np.load(os.path.join(out, "atypical.npy"))
        if base:
            lev = np.load(os.path.join(job, "numpy_leverage.npy"))
            skc = np.load(os.path.join(job, "sklearn_self_conf.npy"))
            ctx["spearman_atypical_vs_numpy_leverage"] = spearman(aty, lev)
            ctx["spearman_importance_vs_sklearn_cv_self_conf"] = spearman(imp, skc)
            top_tree = set(np.flatnonzero(y == 1)[np.argsort(-imp[y == 1], kind="stable")[:a.top]])
            top_sk = set(np.flatnonzero(y == 1)[np.argsort(-skc[y == 1], kind="stable")[:a.top]])
            ctx["top_overlap_tree_vs_sklearn_cv"] = len(top_tree & top_sk) / a.top
        report["job_context"] = ctx
        drift = []
        for d in cc["drift"]:
            v = d["variant"]
            lazy = np.load(os.path.join(out, f"{v}_lazy.npy"))
            fresh = np.load(os.path.join(out, f"{v}_fresh.npy"))
            refreshed = np.load(os.path.join(out, f"{v}_refreshed.npy"))
            rescored = [r["samples_rescored"] for r in d["update_reports"]]
            drift.append({"variant": v, "spearman_lazy_vs_fresh": spearman(lazy, fresh),
                          "spearman_refreshed_vs_fresh": spearman(refreshed, fresh),
                          "max_abs_diff_refreshed_vs_fresh": float(np.max(np.abs(refreshed - fresh))),
                          "top_overlap_lazy_vs_fresh": d["top_overlap_lazy_vs_fresh"],
                          "top_overlap_refreshed_vs_fresh": d["top_overlap_refreshed_vs_fresh"],
                          "mean_samples_rescored_per_round": float(np.mean(rescored)),
                          "update_seconds_median": d["update_seconds_median"],
                          "refresh_seconds": d["refresh_seconds"],
                          "fresh_build_seconds": d["fresh_build_seconds"],
                          "stale_updates": d["stale_updates"]})
            ff = os.path.join(out, f"{v}_fresh_fixed_ridge.npy")
            if os.path.exists(ff):
                ff = np.load(ff)
                drift[-1].update({
                    "spearman_lazy_vs_fresh_fixed_ridge": spearman(lazy, ff),
                    "top_overlap_lazy_vs_fresh_fixed_ridge": d["top_overlap_lazy_vs_fresh_fixed_ridge"],
                    "spearman_fresh_fixed_ridge_vs_fresh": spearman(ff, fresh),
                    "fresh_same_ridge_as_build": d["fresh_same_ridge_as_build"],
                    "fresh_misfit_ridge": d.get("fresh_misfit_ridge")})
        report["drift"] = drift

        # ---- 3: scaling ----
        scaling = []
        if not a.skip_scaling:
            sizes = [int(s) for s in a.scale_sizes.split(",")]
            priors = np.full(a.scale_classes, 1.0 / a.scale_classes)
            for n in sizes:
                path = os.path.join(tmp, f"scale{n}")
                t0 = time.perf_counter()
                meta = generate(path, n, a.dim, a.scale_classes, priors, a.seed + 1)
                gen = time.perf_counter() - t0
                reps = [run_child([a.tool, "speed", path, os.path.join(tmp, f"scale{n}_out"),
                                   "--top", str(a.top), "--seed", str(a.seed), "--build-only",
                                   "--query-repeats", "1"],
                                  f"coreclean build {n} × {a.dim} (repeat {r + 1})")
                        for r in range(a.scale_repeats)]
                res = dict(min(reps, key=lambda x: x["build_seconds"]))
                res["build_seconds_all"] = [x["build_seconds"] for x in reps]
                res["peak_rss_mb_all"] = [x["peak_rss_mb"] for x in reps]
                res["generate_seconds"] = gen
                res["data"] = meta
                scaling.append(res)
                os.remove(os.path.join(path, "X.npy"))
        report["scaling"] = scaling

    # ---- summary ----
    summary = {}
    build_query = min(builds) + cc["query_first_seconds"]
    summary["job"] = {"build_seconds": min(builds), "build_seconds_all": builds,
                      "query_first_seconds": cc["query_first_seconds"],
                      "query_median_seconds": cc["query_median_seconds"],
                      "build_plus_query_seconds": build_query,
                      "update_60_median_seconds": cc["drift"][0]["update_seconds_median"],
                      "peak_rss_mb": cc["peak_rss_mb"]}
    if base:
        summary["ratios"] = {
            "numpy_leverage_over_coreclean": base["numpy_leverage"]["seconds"] / build_query,
            "sklearn_cvp_over_coreclean": base["sklearn_cvp"]["seconds"] / build_query,
            "coreclean_build_over_update_60": min(builds) / cc["drift"][0]["update_seconds_median"],
        }
    if len(scaling) >= 2:
        n = np.array([s["rows"] for s in scaling], float)
        t = np.array([s["build_seconds"] for s in scaling])
        m = np.array([s["peak_rss_mb"] for s in scaling])
        b, loga = np.polyfit(np.log(n), np.log(t), 1)
        est_pow = math.exp(loga) * a.target_rows ** b
        slope = (t[-1] - t[-2]) / (n[-1] - n[-2])
        est_lin = t[-1] + slope * (a.target_rows - n[-1])
        mslope = (m[-1] - m[-2]) / (n[-1] - n[-2])
        est_mem = m[-1] + mslope * (a.target_rows - n[-1])
        summary["scaling"] = {"sizes": n.tolist(), "build_seconds": t.tolist(),
                              "peak_rss_mb": m.tolist(),
                              "data_mb": [s["data_mb"] for s in scaling],
                              "power_law_exponent": float(b),
                              "estimate_rows": a.target_rows,
                              "estimate_build_seconds_power_law": float(est_pow),
                              "estimate_build_seconds_linear": float(est_lin),
                              "estimate_peak_rss_mb_linear": float(est_mem),
                              "estimate_data_mb": a.target_rows * a.dim * 4 / 2 ** 20}
    report["summary"] = summary
    report["total_seconds"] = time.perf_counter() - t_start
    report["loadavg_end"] = loadavg()
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)

    # ---- tables ----
    print(f"\nJob shape {cc['rows']} × {cc['cols']}, 2 classes (tree: r = {cc['feature_dim']}, "
          f"{cc['num_leaves']} leaves of {cc['chunk_size']}, {cc['threads']} threads)")
    print(f"  {'step':48} {'seconds':>9} {'peak MB':>9}")
    print(f"  {'coreclean build (min of ' + str(len(builds)) + ')':48} {min(builds):9.3f} "
          f"{cc['peak_rss_mb']:9.0f}   (all: {', '.join(f'{b:.2f}' for b in builds)})")
    for st in cc["build_stages"]:
        print(f"    stage mark '{st['what']}' {st['done']}/{st['total']} at {st['t']:.3f} s")
    print(f"  {'coreclean query top-60 of class 1 (first)':48} {cc['query_first_seconds']:9.4f}")
    print(f"  {'coreclean query (median of repeats)':48} {cc['query_median_seconds']:9.4f}")
    print(f"  {'coreclean update_targets 60 edits (median of 10)':48} "
          f"{summary['job']['update_60_median_seconds']:9.4f}")
    if base:
        print(f"  {'numpy exact per-class leverage (SVD, min)':48} "
              f"{base['numpy_leverage']['seconds']:9.3f} {base['numpy_leverage']['peak_rss_mb']:9.0f}"
              f"   (all: {', '.join(f'{b:.2f}' for b in base['numpy_leverage']['seconds_all'])})")
        print(f"  {'sklearn 5-fold cross_val_predict LR proba (min)':48} "
              f"{base['sklearn_cvp']['seconds']:9.3f} {base['sklearn_cvp']['peak_rss_mb']:9.0f}"
              f"   (all: {', '.join(f'{b:.2f}' for b in base['sklearn_cvp']['seconds_all'])}; "
              f"{base['sklearn_cvp']['convergence_warnings']} convergence warnings)")
        r = summary["ratios"]
        print(f"  ratio numpy leverage / coreclean (build + query): {r['numpy_leverage_over_coreclean']:.2f}x")
        print(f"  ratio sklearn CV / coreclean (build + query):     {r['sklearn_cvp_over_coreclean']:.2f}x")
        print(f"  ratio coreclean build / 60-edit update:           {r['coreclean_build_over_update_60']:.1f}x")
        for k, v in ctx.items():
            print(f"  context: {k} = {v:.3f}")
    print("\nDrift of lazy updates (10 rounds × 60 update_targets edits, vs a fresh build)")
    print(f"  {'variant':9} {'Spearman':>9} {'top-60 overlap':>15} {'rescored/round':>15} "
          f"{'refreshed: Spearman, overlap, max|Δ|':>40}")
    for d in drift:
        print(f"  {d['variant']:9} {d['spearman_lazy_vs_fresh']:9.4f} "
              f"{d['top_overlap_lazy_vs_fresh']:15.3f} {d['mean_samples_rescored_per_round']:15.0f} "
              f"{d['spearman_refreshed_vs_fresh']:14.6f}, {d['top_overlap_refreshed_vs_fresh']:.3f}, "
              f"{d['max_abs_diff_refreshed_vs_fresh']:.2e}")
    print("  targets: Spearman >= 0.99, overlap >= 0.90 ('random' is the protocol; 'one_leaf' "
          "is another locality of the edits, for context)")
    print(f"  build chose misfit ridge {cc.get('build_misfit_ridge')} (relative); split of the "
          "drift with a fresh build restricted to that ridge:")
    for d in drift:
        if "spearman_lazy_vs_fresh_fixed_ridge" in d:
            print(f"  {d['variant']:9} lazy vs fresh(same ridge): Spearman "
                  f"{d['spearman_lazy_vs_fresh_fixed_ridge']:.4f}, top-60 overlap "
                  f"{d['top_overlap_lazy_vs_fresh_fixed_ridge']:.3f} | fresh(same ridge) vs fresh: "
                  f"Spearman {d['spearman_fresh_fixed_ridge_vs_fresh']:.4f} (fresh build chose "
                  f"ridge {d['fresh_misfit_ridge']}); stale_updates() = {d['stale_updates']}")
    if "scaling" in summary:
        s = summary["scaling"]
        print(f"\nScaling ({a.scale_classes} classes × {a.dim})")
        print(f"  {'rows':>9} {'build s':>9} {'peak MB':>9} {'data MB':>9}   build s, all runs")
        for n_, t_, m_, d_, sc in zip(s["sizes"], s["build_seconds"], s["peak_rss_mb"],
                                      s["data_mb"], scaling):
            print(f"  {n_:9.0f} {t_:9.2f} {m_:9.0f} {d_:9.0f}   "
                  f"{', '.join(f'{b:.2f}' for b in sc['build_seconds_all'])}")
        print(f"  estimate for {s['estimate_rows']} rows: build {s['estimate_build_seconds_power_law']:.0f} s "
              f"(power law, exponent {s['power_law_exponent']:.2f}) / "
              f"{s['estimate_build_seconds_linear']:.0f} s (linear through the two largest); "
              f"peak ≈ {s['estimate_peak_rss_mb_linear']:.0f} MB "
              f"(of which data {s['estimate_data_mb']:.0f} MB)")
    print(f"\nload average start {report['loadavg_start']} end {report['loadavg_end']}; total "
          f"{report['total_seconds']:.0f} s; results written to {out_path}")


if __name__ == "__main__":
    main()
