#!/usr/bin/python3
"""Embedding throughput of `coreclean embed` against Python's cv2.dnn, in one run, and how well
the embeddings separate the classes.

    /usr/bin/python3 bench/embed_throughput.py --cli BUILD/apps/cli/coreclean \
        [--data ../shared/data] [--coco ANN.json --images DIR] [--batch 32] [--repeats 3]
        [--no-separation] [--out RESULTS.json]

This is a benchmark, never a test: it asserts nothing, it reports. Every number is measured in
this run, on this machine.

What it does
------------
1. Embeds every box of BCCD (instances.json: 4,888 boxes, 364 images) with the shared
   MobileNetV2 (mobilenet_v2_nsfwjs.onnx, output "embedding", 1280 dimensions) twice per repeat,
   alternating the two sides so that load changes on a shared machine hit both alike:
     coreclean  `coreclean embed --swap-rb --batch B`, a child process; its own report of the
                embedding phase (decode + crop on a worker thread, overlapped with inference)
                and the whole process's wall time (model load, COCO read, writing the files).
     python     a child Python process doing the same work the plain way: per image imdecode,
                crop every box, cv2.dnn.blobFromImages of B crops, net.forward("embedding"),
                sequentially. Same OpenCV build (Debian's 4.6), same default thread count.
   Crops/s = boxes / seconds of the embedding phase; the ratio is coreclean / python (> 1:
   coreclean is faster). On a shared machine other jobs come and go within minutes, so each
   repeat's pair (run back to back) gives one ratio, and the median of those ratios is the
   headline; the ratio of the best runs and of CPU time (user + system of the child, less
   sensitive to other jobs than wall time) are reported beside it. Both sides' embeddings are
   compared (max abs difference). --coco/--images run another COCO set (e.g. a subset).
2. Class separation: 5-fold stratified cross-validated balanced accuracy of a logistic regression
   (scikit-learn, standardised features, class_weight="balanced", C = 1) on the 4,888 embeddings
   of the model and of the built-in features (`coreclean embed` without --model); also with
   folds grouped by image (GroupKFold), since boxes of one image share stain and lighting.
"""

import argparse
import datetime
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

SCRIPT = os.path.abspath(__file__)
REPO = os.path.dirname(os.path.dirname(SCRIPT))
sys.path.insert(0, os.path.dirname(SCRIPT))

PYTHON_SIDE = r"""
import json, math, sys, time
import cv2, numpy as np
spec = json.load(open(sys.argv[1]))
coco = json.load(open(spec["coco"]))
files = {im["id"]: im["file_name"] for im in coco["images"]}
boxes = [a for a in coco["annotations"] if not a.get("iscrowd", 0)]
net = cv2.dnn.readNet(spec["model"])
start = time.perf_counter()
rows, crops, cache = [], [], (None, None)
def flush():
    blob = cv2.dnn.blobFromImages(crops, 1 / 255, (224, 224), (0, 0, 0), True, False)
    net.setInput(blob, "input")
    rows.append(net.forward("embedding"))
    crops.clear()
for a in boxes:
    if cache[0] != a["image_id"]:
        raw = np.fromfile(spec["images"] + "/" + files[a["image_id"]], dtype=np.uint8)
        cache = (a["image_id"], cv2.imdecode(raw, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION))
    image = cache[1]
    x, y, w, h = a["bbox"]
    x0, y0 = max(0, math.floor(x)), max(0, math.floor(y))
    x1, y1 = min(image.shape[1], math.ceil(x + w)), min(image.shape[0], math.ceil(y + h))
    crops.append(image[y0:y1, x0:x1])
    if len(crops) == spec["batch"]:
        flush()
if crops:
    flush()
seconds = time.perf_counter() - start
x = np.concatenate(rows)
np.save(spec["out"], x)
print(json.dumps({"boxes": len(boxes), "seconds": seconds, "threads": cv2.getNumThreads()}))
"""


def timed(cmd):
    """Runs a child; returns (result, wall seconds, CPU seconds of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return r, wall, cpu


def run_coreclean(cli, data, coco, images, batch, out, model=True):
    cmd = [cli, "embed", "--coco", coco, "--images", images, "--batch", str(batch), "--out", out]
    if model:
        cmd += ["--model", f"{data}/models/mobilenet_v2_nsfwjs.onnx", "--swap-rb"]
    r, wall, cpu = timed(cmd)
    if r.returncode != 0:
        raise SystemExit(f"coreclean embed failed ({r.returncode}): {r.stderr}{r.stdout}")
    m = re.search(r"this run: (\d+) boxes in ([0-9.]+) s", r.stdout)
    boxes, seconds = int(m.group(1)), float(m.group(2))
    return {"boxes": boxes, "seconds": seconds, "crops_per_s": boxes / seconds, "wall_s": wall,
            "crops_per_s_wall": boxes / wall, "cpu_s": cpu, "crops_per_cpu_s": boxes / cpu,
            "stdout": r.stdout}


def run_python(data, coco, images, batch, work):
    spec = {"coco": coco, "images": images,
            "model": f"{data}/models/mobilenet_v2_nsfwjs.onnx", "batch": batch,
            "out": os.path.join(work, "python.npy")}
    with open(os.path.join(work, "spec.json"), "w") as f:
        json.dump(spec, f)
    with open(os.path.join(work, "side.py"), "w") as f:
        f.write(PYTHON_SIDE)
    r, wall, cpu = timed([sys.executable, os.path.join(work, "side.py"),
                          os.path.join(work, "spec.json")])
    if r.returncode != 0:
        raise SystemExit(f"python side failed: {r.stderr}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out.update(crops_per_s=out["boxes"] / out["seconds"], wall_s=wall,
               crops_per_s_wall=out["boxes"] / wall, cpu_s=cpu, crops_per_cpu_s=out["boxes"] / cpu)
    return out


def separation(features_dir, coco_path):
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.load(os.path.join(features_dir, "X_train.npy"))
    y = np.load(os.path.join(features_dir, "y_train.npy"))
    ids = np.load(os.path.join(features_dir, "ids.npy"))
    coco = json.load(open(coco_path))
    image_of = {a["id"]: a["image_id"] for a in coco["annotations"]}
    groups = np.array([image_of[int(i)] for i in ids])
    model = make_pipeline(StandardScaler(),
                          LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000))
    strat = cross_val_score(model, x, y, cv=StratifiedKFold(5, shuffle=True, random_state=0),
                            scoring="balanced_accuracy")
    grouped = cross_val_score(model, x, y, cv=GroupKFold(5), groups=groups,
                              scoring="balanced_accuracy")
    return {"n": int(x.shape[0]), "d": int(x.shape[1]),
            "balanced_accuracy_5fold": float(strat.mean()), "fold_std": float(strat.std()),
            "balanced_accuracy_5fold_by_image": float(grouped.mean()),
            "fold_std_by_image": float(grouped.std())}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cli", required=True, help="the coreclean executable")
    p.add_argument("--data", default=os.path.join(os.path.dirname(REPO), "shared", "data"))
    p.add_argument("--coco", default=None, help="COCO file (default: DATA/bccd/instances.json)")
    p.add_argument("--images", default=None, help="images folder (default: DATA/bccd/images)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-separation", action="store_true", help="skip the accuracy part")
    p.add_argument("--out", default=None, help="JSON file for the results")
    args = p.parse_args()
    import numpy as np
    coco = args.coco or os.path.join(args.data, "bccd", "instances.json")
    images = args.images or os.path.join(args.data, "bccd", "images")

    results = {"date": datetime.datetime.utcnow().isoformat() + "Z", "batch": args.batch,
               "coco": os.path.abspath(coco),
               "load_average_start": os.getloadavg(), "coreclean": [], "python": []}
    try:
        from bench_common import provenance
        results["provenance"] = provenance(args.cli)
    except ImportError:
        pass
    with tempfile.TemporaryDirectory(prefix="coreclean-bench-embed-") as work:
        features = os.path.join(work, "features")
        for r in range(args.repeats):
            sides = ["coreclean", "python"] if r % 2 == 0 else ["python", "coreclean"]
            for side in sides:
                if side == "coreclean":
                    res = run_coreclean(args.cli, args.data, coco, images, args.batch, features)
                else:
                    res = run_python(args.data, coco, images, args.batch, work)
                res.pop("stdout", None)
                res["load_average_1min"] = os.getloadavg()[0]
                results[side].append(res)
                print(f"repeat {r} {side:9s}: {res['boxes']} boxes, embedding {res['seconds']:.1f} s "
                      f"= {res['crops_per_s']:.1f} crops/s; process {res['wall_s']:.1f} s, "
                      f"CPU {res['cpu_s']:.1f} s; load {res['load_average_1min']:.1f}", flush=True)
        a = np.load(os.path.join(features, "X_train.npy"))
        b = np.load(os.path.join(work, "python.npy"))
        results["max_abs_diff_coreclean_vs_python"] = float(np.abs(a - b).max())
        best = {s: max(x["crops_per_s"] for x in results[s]) for s in ("coreclean", "python")}
        best_wall = {s: max(x["crops_per_s_wall"] for x in results[s]) for s in ("coreclean", "python")}
        pairs = [c["crops_per_s"] / p["crops_per_s"]
                 for c, p in zip(results["coreclean"], results["python"])]
        cpu = {s: sum(x["cpu_s"] for x in results[s]) / sum(x["boxes"] for x in results[s])
               for s in ("coreclean", "python")}
        results["pair_ratios"] = pairs
        results["median_pair_ratio"] = statistics.median(pairs)
        results["best_crops_per_s"] = best
        results["ratio_best_coreclean_over_python"] = best["coreclean"] / best["python"]
        results["ratio_wall_coreclean_over_python"] = best_wall["coreclean"] / best_wall["python"]
        results["cpu_ms_per_crop"] = {s: 1000 * v for s, v in cpu.items()}
        if not args.no_separation:
            results["separation_mobilenet"] = separation(features, coco)
            builtin = os.path.join(work, "builtin")
            results["builtin_run"] = run_coreclean(args.cli, args.data, coco, images, args.batch,
                                                   builtin, model=False)
            results["builtin_run"].pop("stdout", None)
            results["separation_builtin"] = separation(builtin, coco)
    results["load_average_end"] = os.getloadavg()

    print(f"\ncrops/s ratio coreclean / python cv2.dnn per repeat: "
          f"{', '.join(f'{x:.2f}' for x in pairs)}; median {results['median_pair_ratio']:.2f}")
    print(f"best crops/s: coreclean {best['coreclean']:.1f}, python cv2.dnn {best['python']:.1f}, "
          f"ratio {results['ratio_best_coreclean_over_python']:.2f} "
          f"(whole process: {results['ratio_wall_coreclean_over_python']:.2f})")
    print(f"CPU time per crop: coreclean {results['cpu_ms_per_crop']['coreclean']:.1f} ms, "
          f"python {results['cpu_ms_per_crop']['python']:.1f} ms")
    print(f"max |coreclean − python| over all embeddings: {results['max_abs_diff_coreclean_vs_python']:.2e}")
    for name in ("mobilenet", "builtin") if not args.no_separation else ():
        s = results[f"separation_{name}"]
        print(f"{name:9s} {s['n']} × {s['d']}: 5-fold balanced accuracy {s['balanced_accuracy_5fold']:.3f} "
              f"± {s['fold_std']:.3f}; folds by image {s['balanced_accuracy_5fold_by_image']:.3f} "
              f"± {s['fold_std_by_image']:.3f}")
    print(f"load average: start {results['load_average_start']}, end {results['load_average_end']}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
