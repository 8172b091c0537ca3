"""Shared by the coreset benchmark drivers: where a result came from, and the synthetic data."""
import datetime
import math
import os
import re
import subprocess

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def result_path(out, name):
    """(stamp, path): the run's UTC stamp, and `out` or bench/results/NAME-STAMP.json (its folder
    created)."""
    stamp = datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
    path = out or os.path.join(REPO, "bench", "results", f"{name}-{stamp}.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return stamp, path


def write_effect_inputs(folder, x, y_noisy, y_clean):
    """The inputs of `coreclean_bench_coreset effect` in FOLDER: X.npy (float32), y.npy (the
    labels with the injected errors), y_true.npy."""
    os.makedirs(folder, exist_ok=True)
    np.save(os.path.join(folder, "X.npy"), np.ascontiguousarray(x, np.float32))
    np.save(os.path.join(folder, "y.npy"), y_noisy)
    np.save(os.path.join(folder, "y_true.npy"), y_clean)


def write_result(name, report, summary):
    """Writes report to bench/results/NAME-STAMP.json, prints summary and the path."""
    import json
    results = os.path.join(REPO, "bench", "results")
    os.makedirs(results, exist_ok=True)
    stamp = datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
    path = os.path.join(results, f"{name}-{stamp}.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(summary, indent=1))
    print(f"wrote {path}")
    return path


def provenance(tool):
    """Read-only: HEAD, uncommitted changes, and the tool binary's build time."""
    out = {}
    try:
        git = lambda *args: subprocess.run(["git", "-C", REPO, *args], capture_output=True,
                                           text=True).stdout.strip()
        out["commit"] = git("rev-parse", "HEAD")
        out["git_status"] = git("status", "--porcelain").splitlines()
    except OSError:
        pass
    try:
        mtime = os.path.getmtime(tool)
        out["tool_mtime"] = datetime.datetime.utcfromtimestamp(mtime).isoformat()
        # The library inside the (statically linked) tool: the last commit before it was built,
        # valid when git_status shows no change under src/ or include/ at build time.
        out["commit_at_tool_build"] = subprocess.run(
            ["git", "-C", REPO, "log", "-1", "--format=%H", f"--before=@{int(mtime)}"],
            capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return out


def generate(path, n, d, classes, priors, seed, rank=64, chunk=20000, x_name="X.npy",
             y_name="y.npy"):
    """Writes path/X.npy (float32 n × d, memory-mapped: never all in memory) and path/y.npy
    (int64): samples of `classes` Gaussian classes drawn with `priors`, with low-rank structure —
    a shared rank-`rank` latent factor with a decaying spectrum in a random basis, isotropic
    noise, an offset — and class means two standard deviations of the data apart along the line
    joining classes 0 and 1 (other pairs are alike), so that overlapping classes look like
    embeddings. Seeded: the same arguments give the same files."""
    os.makedirs(path, exist_ok=True)
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((d, rank)))          # d × rank, orthonormal
    scales = 3.0 * (np.arange(1, rank + 1) ** -0.5)                   # decaying latent spectrum
    noise = 0.5
    offset = rng.standard_normal(d).astype(np.float32)
    # Class means δ · (random unit vectors); δ puts the means of classes 0 and 1 two standard
    # deviations of the data apart along the line joining them (other pairs are alike).
    dirs = rng.standard_normal((classes, d))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    u = dirs[1] - dirs[0]
    u /= np.linalg.norm(u)
    sd = math.sqrt(np.sum((basis.T @ u) ** 2 * scales ** 2) + noise ** 2)
    delta = 2.0 * sd / np.linalg.norm(dirs[1] - dirs[0])
    means = (delta * dirs).astype(np.float32)
    y = rng.choice(classes, size=n, p=priors).astype(np.int64)
    x = np.lib.format.open_memmap(os.path.join(path, x_name), mode="w+", dtype=np.float32,
                                  shape=(n, d))
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        z = rng.standard_normal((e - s, rank)) * scales
        block = (z @ basis.T).astype(np.float32)
        block += noise * rng.standard_normal((e - s, d), dtype=np.float32)
        block += offset + means[y[s:e]]
        x[s:e] = block
    x.flush()
    del x
    np.save(os.path.join(path, y_name), y)
    return {"n": n, "d": d, "classes": classes, "priors": list(map(float, priors)), "seed": seed,
            "rank": rank, "noise": noise, "mean_separation_sd": 2.0}


def time_command(cmd):
    """Runs cmd under /usr/bin/time -v: (wall seconds, peak RSS in KiB). Raises RuntimeError with
    the end of its error output when it fails."""
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", proc.stderr).group(1)
    seconds = sum(float(p) * 60 ** i for i, p in enumerate(reversed(wall.split(":"))))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    return seconds, rss
