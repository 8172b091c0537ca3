#!/usr/bin/python3
"""The neighbour view's approximate search: recall@10 against the exact search, and what the
view costs `coreclean build` at COCO's shape.

A benchmark, never a test: it reports, asserts nothing. Debian's interpreter (numpy):

    PYTHONPATH=BUILD/python /usr/bin/python3 bench/neighbour_recall.py --cli BUILD/apps/cli/coreclean
    # quick look: --datasets fashion

Up to 50,000 samples the tree searches its neighbours exactly; beyond, approximately (cells of
spherical k-means, each searched among the 24–32 cells nearest it, as many as 500 calibration
rows say the data needs for recall 0.97; src/coreset/neighbours.h). For each data set the tree
is built in this process (CoresetTreeServiceLG, default parameters), and for 1,000 samples drawn
with seed 0 their lists are compared with the exact 10 nearest by cosine over the same columns
the tree searches (the 64 leading columns of its PCA sketch φ when the features are wider than
256, else all of φ = x − μ; numpy, float64): recall@10 = |tree's ∩ exact| / 10, averaged.

Data:
  * fashion: Fashion-MNIST, both splits (Debian's dataset-fashion-mnist), 70,000 × 784 raw
    pixels / 255 — real images, just above the exact search's limit;
  * synthetic200k: 200,000 × 256, 80 classes (bench_common.generate: overlapping Gaussian
    classes with low-rank structure, COCO-like class priors);
  * coco256: 847,970 × 256, the same generator — COCO 2017's box count with embeddings reduced
    to 256 columns. Also the whole-process `coreclean build` under /usr/bin/time with
    --neighbours 10 against --neighbours 0 (the named baseline), same data, same run.

Writes bench/results/neighbour_recall-STAMP.json and prints a table.
"""

import argparse
import json
import os
import tempfile
import time

import numpy as np

from bench_common import generate, provenance, result_path, time_command
from coreset_effectiveness import load_fashion, loadavg

SCRIPT = os.path.abspath(__file__)
REPO = os.path.dirname(os.path.dirname(SCRIPT))
QUERIES = 1000
K = 10
SEARCH_DIMS = 64
SKETCH_DIM = 256  # the tree's default: wider features are sketched by PCA


def coco_priors(classes):
    # One class 31 %, the others ∝ k^-1.2 (COCO 2017's box counts per class, roughly).
    rest = np.arange(1, classes) ** -1.2
    return np.concatenate([[0.31], 0.69 * rest / rest.sum()])


def recall_at_k(tree, phi, sketched, rng):
    """Mean recall@K of the tree's lists for QUERIES random samples, against numpy's exact
    search over the columns the tree searches: the leading SEARCH_DIMS of a PCA sketch, all of
    φ = x − μ otherwise."""
    q = (phi[:, :SEARCH_DIMS] if sketched else phi).astype(np.float64)
    norms = np.linalg.norm(q, axis=1)
    q /= np.where(norms > 0, norms, 1.0)[:, None]
    picks = rng.choice(len(q), QUERIES, replace=False)
    hits = []
    for start in range(0, QUERIES, 250):
        rows = picks[start:start + 250]
        sim = q[rows] @ q.T
        sim[np.arange(len(rows)), rows] = -np.inf           # not itself
        exact = np.argpartition(-sim, K, axis=1)[:, :K]
        for j, i in enumerate(rows):
            got, _ = tree.neighbours(int(i))
            hits.append(len(set(got.tolist()) & set(exact[j].tolist())) / K)
    return float(np.mean(hits))


def timed_build(cli, features, tree_file, neighbours):
    """Whole-process `coreclean build`: wall seconds, peak RSS (GiB)."""
    seconds, rss = time_command([cli, "-q", "build", "--features", features, "--out", tree_file,
                                 "--neighbours", str(neighbours)])
    return {"seconds": seconds, "peak_rss_gib": rss / 2 ** 20}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", default=os.path.join(REPO, "build", "apps", "cli", "coreclean"))
    ap.add_argument("--datasets", default="fashion,synthetic200k,coco256")
    ap.add_argument("--data", default=None, help="folder for the generated data (default: a temporary one)")
    ap.add_argument("--repeats", type=int, default=2, help="CLI builds per setting (minimum wall kept)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    import coreclean

    stamp, out_path = result_path(a.out, "neighbour_recall")
    report = {"started": stamp, "loadavg_start": loadavg(), "protocol": __doc__, "runs": []}
    report.update(provenance(a.cli))
    with tempfile.TemporaryDirectory(prefix="coreclean-neighbours-") as tmp:
        data_root = a.data or tmp
        for name in a.datasets.split(","):
            rng = np.random.default_rng(0)
            if name == "fashion":
                x, y, _ = load_fashion("all")
                folder = None
            else:
                n = 200000 if name == "synthetic200k" else 847970
                folder = os.path.join(data_root, name)
                if not os.path.exists(os.path.join(folder, "X_train.npy")):
                    generate(folder, n, 256, 80, coco_priors(80), seed=5, x_name="X_train.npy",
                             y_name="y_train.npy")
                x = np.load(os.path.join(folder, "X_train.npy"), mmap_mode="r")
                y = np.load(os.path.join(folder, "y_train.npy"))
            svc = coreclean.CoresetTreeServiceLG(optimized_for="cleaning", random_state=0)
            t0 = time.perf_counter()
            svc.build(x, y)
            build_seconds = time.perf_counter() - t0
            tree = svc._tree
            phi = np.asarray(tree.features())
            recall = recall_at_k(tree, phi, x.shape[1] > SKETCH_DIM, rng)
            run = {"dataset": name, "n": int(len(y)), "d": int(x.shape[1]),
                   "recall_at_10": recall, "python_build_seconds": build_seconds}
            print(f"{name}: {len(y)} x {x.shape[1]}  recall@10 {recall:.4f}  "
                  f"(in-process build {build_seconds:.1f} s)", flush=True)
            if name == "coco256":
                tree_file = os.path.join(tmp, "coco256.tree")
                cli = {}
                for k in (0, 10):
                    runs = [timed_build(a.cli, folder, tree_file, k) for _ in range(a.repeats)]
                    cli[k] = {"seconds": min(r["seconds"] for r in runs),
                              "peak_rss_gib": max(r["peak_rss_gib"] for r in runs), "runs": runs}
                    os.remove(tree_file)
                run["cli_build"] = {"neighbours_0": cli[0], "neighbours_10": cli[10],
                                    "ratio_10_over_0": cli[10]["seconds"] / cli[0]["seconds"]}
                print(f"  coreclean build: --neighbours 10 {cli[10]['seconds']:.1f} s "
                      f"({cli[10]['peak_rss_gib']:.2f} GiB) against --neighbours 0 "
                      f"{cli[0]['seconds']:.1f} s ({cli[0]['peak_rss_gib']:.2f} GiB): "
                      f"{cli[10]['seconds'] / cli[0]['seconds']:.2f} x", flush=True)
            report["runs"].append(run)
    report["loadavg_end"] = loadavg()
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
