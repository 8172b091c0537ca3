"""Training-coreset benchmark driver (run with Debian's /usr/bin/python3).

Prepares digits (../shared/data/digits, 75/25 split) and Fashion-MNIST (Debian package
dataset-fashion-mnist: 60k train / 10k test, pixels / 255), then runs coreclean_bench_training at
5 % and 10 % root-coreset size over 5 seeds and prints median relative training-objective error
F(β)/F(β_full) − 1 and test-accuracy delta for the coreset, uniform and class-stratified uniform
samples of equal size.

    bench/training_coreset.py BUILD_DIR [--out results.json]
"""
import argparse
import gzip
import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
FASHION = pathlib.Path("/usr/share/datasets/fashion-mnist")


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def write(d, xtr, ytr, xte, yte):
    d.mkdir(parents=True, exist_ok=True)
    np.save(d / "X_train.npy", np.ascontiguousarray(xtr, dtype=np.float32))
    np.save(d / "y_train.npy", ytr.astype(np.int64))
    np.save(d / "X_test.npy", np.ascontiguousarray(xte, dtype=np.float32))
    np.save(d / "y_test.npy", yte.astype(np.int64))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir", type=pathlib.Path)
    ap.add_argument("--out", type=pathlib.Path)
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    tool = args.build_dir / "bench" / "coreclean_bench_training"
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="coreclean-training-"))
    sets = {}
    digits = HERE.parent.parent / "shared" / "data" / "digits"
    if (digits / "X.npy").exists():
        x, y = np.load(digits / "X.npy") / 16.0, np.load(digits / "y.npy")
        order = np.random.default_rng(0).permutation(len(y))
        cut = len(y) * 3 // 4
        write(tmp / "digits", x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]])
        sets["digits"] = tmp / "digits"
    else:
        print("digits: ../shared/data/digits is absent; skipped", file=sys.stderr)
    if FASHION.exists():
        xtr = idx(FASHION / "train-images-idx3-ubyte.gz").reshape(-1, 784) / 255.0
        ytr = idx(FASHION / "train-labels-idx1-ubyte.gz")
        xte = idx(FASHION / "t10k-images-idx3-ubyte.gz").reshape(-1, 784) / 255.0
        yte = idx(FASHION / "t10k-labels-idx1-ubyte.gz")
        write(tmp / "fashion", xtr, ytr, xte, yte)
        sets["fashion-mnist"] = tmp / "fashion"
    else:
        print("fashion-mnist: apt-get install dataset-fashion-mnist; skipped", file=sys.stderr)
    results = []
    print(f"{'data':<14} {'size':>5} {'method':<11} {'objective excess':>17} {'test acc delta':>15}")
    for name, d in sets.items():
        for frac in (0.05, 0.10):
            out = subprocess.run([str(tool), str(d), "--fraction", str(frac), "--seeds",
                                  str(args.seeds)], check=True, capture_output=True, text=True)
            r = json.loads(out.stdout)
            r["data"] = name
            results.append(r)
            for method in ("coreset", "uniform", "stratified"):
                med = r["median"].get(method)
                if med:
                    print(f"{name:<14} {frac:>5.0%} {method:<11} {med['objective_excess']:>17.4f} "
                          f"{med['test_accuracy_delta']:>+15.4f}")
            print(f"{'':<14} full-data test accuracy {r['full_test_accuracy']:.4f}, "
                  f"n = {r['n']}, sample = {r['sample_size']}, build {r['mean_build_seconds']:.2f} s")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
