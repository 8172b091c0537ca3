#!/usr/bin/python3
"""Whole-process speed and memory of `coreclean build` (+ `rank`) where users see it: the CLI
under /usr/bin/time -v, on synthetic features directories of two shapes, against the named
baseline measured in the same run.

A benchmark, never a test: it asserts nothing, it reports. Run with Debian's interpreter:

    /usr/bin/python3 bench/scale_build.py --cli BUILD/apps/cli/coreclean --shape seed
        # the seed's shape: 12,073 × 2048, two classes; ~1 min
    /usr/bin/python3 bench/scale_build.py --cli BUILD/apps/cli/coreclean --shape coco \\
        --data /big/disk/coco-shape          # COCO's shape: 847,970 × 2048, 80 classes, 6.9 GB
    /usr/bin/python3 bench/scale_build.py ... --generate-only   # just write the data

Shapes (data from bench_common.generate: overlapping Gaussian classes with low-rank structure,
float32, seeded; written block by block through a memory map, so the generator itself needs
little memory; kept in --data and reused when its meta.json matches):
- seed: 12,073 × 2048, two classes (58 / 42 %), as the reference article's experiment.
  Baseline: scikit-learn's 5-fold cross_val_predict(LogisticRegression(), method=
  'predict_proba') with every default, in its own process under /usr/bin/time -v, on the same
  arrays. Reported: coreclean (build + rank wall) and the ratio baseline / coreclean.
- coco: 847,970 × 2048, 80 classes with COCO-like imbalance (one class 31 %, the others
  ∝ k^-1.2, k = 1..79: 43,900 boxes for the second class, ~230 for the last, as in COCO 2017).
  Baseline: the size of X_train.npy (peak RSS / data) — no tool we know builds this in memory
  on one machine; also the time to read X once (`cat X_train.npy > /dev/null`, cold or warm as
  the page cache happens to be, reported) as the floor of any pass over the data.

With --processes 1,2,3 it measures `mpirun -np N coreclean build` instead (1 = the plain CLI):
wall, CPU %, the largest process's peak RSS and the wall time against one process, for the
scaling plan in docs/scaling.md. On this 2-core machine 3 processes oversubscribe the cores.

With --dask 1,2 it measures coreclean.dask.build on a LocalCluster of N worker processes (one
thread each) over the memory-mapped X (dask.array.from_array), against the one-process
CoresetTreeServiceLG(...).build in the same interpreter: wall time of each (cluster start-up
excluded), and whether the trees agree (largest score difference, same top 100 per class).

Every command runs --repeats times; the minimum wall and the maximum peak RSS are reported, all
runs are kept. Writes bench/results/scale_build-SHAPE-STAMP.json and prints a table.
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

from bench_common import generate, provenance, write_result

SHAPES = {
    "seed": {"rows": 12073, "dim": 2048, "classes": 2},
    "coco": {"rows": 847970, "dim": 2048, "classes": 80},
}


def coco_priors(classes):
    """One dominant class (31 %), the rest ∝ k^-1.2 (COCO 2017's boxes per category, roughly)."""
    rest = np.arange(1, classes, dtype=np.float64) ** -1.2
    return np.concatenate([[0.31], 0.69 * rest / rest.sum()])


def ensure_data(path, shape, seed):
    spec = dict(SHAPES[shape], seed=seed, version=1)
    meta_path = os.path.join(path, "meta.json")
    if os.path.exists(meta_path):
        with open(meta_path, encoding="utf-8") as f:
            if json.load(f).get("spec") == spec:
                return spec
    # Only a folder this script made (its meta.json) or a new, empty one is written into: never
    # replace someone's own features directory.
    if os.path.isdir(path) and os.listdir(path) and not os.path.exists(meta_path):
        raise SystemExit(f"{path} holds files this benchmark did not write; name a new folder")
    priors = [0.58, 0.42] if shape == "seed" else coco_priors(spec["classes"])
    t0 = time.perf_counter()
    print(f"generating {shape} data in {path} ...", flush=True)
    info = generate(path, spec["rows"], spec["dim"], spec["classes"], priors, seed,
                    x_name="X_train.npy", y_name="y_train.npy")
    info["seconds"] = time.perf_counter() - t0
    with open(meta_path, "w", encoding="utf-8") as f:
        json.dump({"spec": spec, "generator": info}, f)
    return spec


def timed(cmd, label, env=None):
    """Runs cmd under /usr/bin/time -v; wall seconds, CPU %, peak RSS (KB), and its stdout."""
    print(f"  [{time.strftime('%H:%M:%S')}] {label}", flush=True)
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    err = proc.stderr

    def field(name):
        m = re.search(rf"{re.escape(name)}: (.+)", err)
        return m.group(1).strip() if m else ""

    wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss)")
    parts = [float(p) for p in wall.split(":")]
    seconds = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    res = {"label": label, "wall_seconds": seconds,
           "cpu_percent": float(field("Percent of CPU this job got").rstrip("%") or "nan"),
           "peak_rss_kb": int(field("Maximum resident set size (kbytes)") or 0),
           "loadavg_after": os.getloadavg()[0]}
    print(f"      -> {seconds:.2f} s, {res['cpu_percent']:.0f} % CPU, "
          f"peak {res['peak_rss_kb'] / 1024:.0f} MB", flush=True)
    return res, proc.stdout


def sklearn_worker(data):
    """Child: the baseline on the features directory; prints nothing but its own timing."""
    import warnings
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    x = np.load(os.path.join(data, "X_train.npy"))
    y = np.load(os.path.join(data, "y_train.npy"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        cross_val_predict(LogisticRegression(), x, y, cv=5, method="predict_proba")
    print(json.dumps({"seconds": time.perf_counter() - t0}))


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--sklearn-worker":
        sklearn_worker(sys.argv[2])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", help="the coreclean binary")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="seed")
    ap.add_argument("--data", help="data folder (default: a folder under /tmp per shape)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--generate-only", action="store_true")
    ap.add_argument("--build-args", default="", help="extra arguments for coreclean build")
    ap.add_argument("--processes", default="",
                    help="comma-separated MPI process counts to measure build with (e.g. 1,2,3)")
    ap.add_argument("--dask", default="",
                    help="comma-separated Dask worker counts to measure coreclean.dask.build with")
    a = ap.parse_args()
    data = a.data or os.path.join(tempfile.gettempdir(), f"coreclean-scale-{a.shape}")
    spec = ensure_data(data, a.shape, a.seed)
    if a.generate_only:
        return
    if not a.cli:
        ap.error("--cli is required unless --generate-only")
    x_bytes = os.path.getsize(os.path.join(data, "X_train.npy"))
    report = {"shape": a.shape, "spec": spec, "data": data, "x_bytes": x_bytes,
              "started": datetime.datetime.utcnow().isoformat() + "Z",
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "loadavg": os.getloadavg()},
              "blas_env": {k: v for k, v in os.environ.items()
                           if k.startswith(("OPENBLAS", "OMP_", "GOTO"))},
              "provenance": provenance(a.cli), "runs": []}
    work = tempfile.mkdtemp(prefix="coreclean-scale-")
    tree = os.path.join(work, "tree.cct")
    if a.processes:
        measure_processes(a, data, tree, x_bytes, report)
        return
    if a.dask:
        measure_dask(a, data, report)
        return
    builds, ranks, baselines = [], [], []
    for rep in range(a.repeats):
        if a.shape == "coco":
            t0 = time.perf_counter()
            subprocess.run(["cat", os.path.join(data, "X_train.npy")], stdout=subprocess.DEVNULL,
                           check=True)
            report["runs"].append({"label": "read X once", "wall_seconds": time.perf_counter() - t0})
            baselines.append(report["runs"][-1])
        if os.path.exists(tree):
            os.remove(tree)
        res, _ = timed([a.cli, "build", "--features", data, "--out", tree, *a.build_args.split()],
                       f"coreclean build (run {rep + 1})")
        builds.append(res)
        res, _ = timed([a.cli, "rank", "--tree", tree, "--class", "1", "--top", "60"],
                       f"coreclean rank (run {rep + 1})")
        ranks.append(res)
        if a.shape == "seed":
            res, out = timed([sys.executable, os.path.abspath(__file__), "--sklearn-worker", data],
                             f"scikit-learn cross_val_predict (run {rep + 1})")
            res["inner_seconds"] = json.loads(out.strip().splitlines()[-1])["seconds"]
            baselines.append(res)
        report["runs"] += [builds[-1], ranks[-1]] + ([baselines[-1]] if a.shape == "seed" else [])
    report["tree_bytes"] = os.path.getsize(tree)
    best_build = min(builds, key=lambda r: r["wall_seconds"])
    best_rank = min(ranks, key=lambda r: r["wall_seconds"])
    summary = {"build_wall_seconds": best_build["wall_seconds"],
               "build_cpu_percent": best_build["cpu_percent"],
               "build_peak_rss_mb": max(r["peak_rss_kb"] for r in builds) / 1024,
               "rank_wall_seconds": best_rank["wall_seconds"],
               "build_plus_rank_seconds": best_build["wall_seconds"] + best_rank["wall_seconds"],
               "peak_rss_over_data": max(r["peak_rss_kb"] for r in builds) * 1024 / x_bytes,
               "tree_mb": report["tree_bytes"] / 2**20}
    if a.shape == "seed":
        base = min(r["wall_seconds"] for r in baselines)
        summary["sklearn_cvp_wall_seconds"] = base
        summary["speedup_vs_sklearn"] = base / summary["build_plus_rank_seconds"]
    else:
        summary["read_x_once_seconds"] = min(r["wall_seconds"] for r in baselines)
        summary["build_over_read_x"] = summary["build_wall_seconds"] / summary["read_x_once_seconds"]
    report["summary"] = summary
    write_result(f"scale_build-{a.shape}", report, summary)


def measure_dask(a, data, report):
    """coreclean.dask.build on LocalClusters against the one-process service build."""
    import dask.array as da
    import distributed
    import coreclean
    import coreclean.dask
    x = np.load(os.path.join(data, "X_train.npy"), mmap_mode="r")
    y = np.load(os.path.join(data, "y_train.npy"))
    t0 = time.perf_counter()
    one = coreclean.CoresetTreeServiceLG(random_state=0, progress=False, threads=os.cpu_count())
    one.build(x, y)
    base = time.perf_counter() - t0
    print(f"  one process: {base:.2f} s", flush=True)
    a_scores = one._tree.scores()
    summary = {"one_process_seconds": base}
    for workers in [int(c) for c in a.dask.split(",")]:
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      dashboard_address=None, silence_logs=40) as cluster, \
                distributed.Client(cluster) as client:
            best = None
            for rep in range(a.repeats):
                t0 = time.perf_counter()
                many = coreclean.dask.build(da.from_array(x, chunks=(20000, x.shape[1])), y,
                                            client=client, random_state=0)
                seconds = time.perf_counter() - t0
                best = seconds if best is None else min(best, seconds)
                report["runs"].append({"label": f"dask {workers} workers", "wall_seconds": seconds})
                print(f"  dask, {workers} worker(s): {seconds:.2f} s", flush=True)
        b_scores = many._tree.scores()
        same_top = all(
            np.array_equal(*(np.argsort(-s["importance"][s["label"] == c], kind="stable")[:100]
                             for s in (a_scores, b_scores)))
            for c in np.unique(a_scores["label"]))
        summary[f"dask{workers}"] = {
            "build_wall_seconds": best, "wall_over_one_process": best / base,
            "largest_score_difference": float(np.max(np.abs(a_scores["importance"] - b_scores["importance"]))),
            "same_top_100_per_class": bool(same_top)}
    report["summary"] = summary
    write_result(f"scale_build-{a.shape}-dask", report, summary)


def measure_processes(a, data, tree, x_bytes, report):
    """`mpirun -np N coreclean build` for each N of --processes; N = 1 is the plain CLI."""
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    by_count = {}
    for count in [int(c) for c in a.processes.split(",")]:
        for rep in range(a.repeats):
            if os.path.exists(tree):
                os.remove(tree)
            build = [a.cli, "build", "--features", data, "--out", tree, *a.build_args.split()]
            cmd = build if count == 1 else ["mpirun", "--oversubscribe", "-np", str(count), *build]
            res, _ = timed(cmd, f"{count} process(es): coreclean build (run {rep + 1})", env=env)
            res["processes"] = count
            report["runs"].append(res)
            by_count.setdefault(count, []).append(res)
    one = min(r["wall_seconds"] for r in by_count[min(by_count)])
    summary = {}
    for count, runs in sorted(by_count.items()):
        best = min(runs, key=lambda r: r["wall_seconds"])
        summary[f"np{count}"] = {
            "build_wall_seconds": best["wall_seconds"], "cpu_percent": best["cpu_percent"],
            "largest_process_peak_rss_mb": max(r["peak_rss_kb"] for r in runs) / 1024,
            "peak_rss_over_data": max(r["peak_rss_kb"] for r in runs) * 1024 / x_bytes,
            "wall_over_one_process": best["wall_seconds"] / one}
    report["summary"] = summary
    write_result(f"scale_build-{a.shape}-processes", report, summary)


if __name__ == "__main__":
    main()
