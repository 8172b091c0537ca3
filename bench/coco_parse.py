#!/usr/bin/python3
"""COCO reading speed and memory of coreclean against Python's json.load, in one run.

    /usr/bin/python3 bench/coco_parse.py --tool BUILD/bench/coreclean_bench_coco \
        [--out bench/results/coco_parse.json] [--workdir /tmp/coreclean-bench-coco]

This is a benchmark, never a test: it asserts nothing, it reports. Every number is measured in
this run, on this machine.

What it does
------------
1. Generates (once per seed; --regenerate to make it again) a synthetic COCO file shaped like
   instances_train2017.json: 118,287 images, 80 categories with COCO's non-contiguous ids,
   860,001 annotations with polygon segmentations (about 1 % crowd annotations with uncompressed
   RLE counts instead), float bboxes with two decimals, areas in full float precision, Python's
   default separators on one line. About 445 MB (424 MiB); written to --workdir (default
   /tmp/coreclean-bench-coco), never into the repository. Seeded: the same file each time.
2. Reads the file once (so that both sides start from the page cache), then runs
   coreclean_bench_coco FILE --repeats times (read_coco: memory map + simdjson + index; best and
   all times reported) and once more with --check --write (box checks, and a corrected copy with
   1,000 edits), each in its own child process.
3. Runs json.load(open(FILE)) in a child Python process (--python-repeats times), which reports
   its own time and peak memory, plus a child that only starts the interpreter (its baseline).

Peak memory is each child's VmHWM (/proc/self/status), read by the child itself: the high-water
mark of its resident set since exec, including the touched pages of a memory-mapped file. Not
getrusage of the parent, which on Linux folds the forking process's size into the child's.
Ratios are python / coreclean (> 1: coreclean is faster or smaller). Every *_mb figure is in
MiB (2^20 bytes).
"""

import argparse
import datetime
import json
import os
import random
import subprocess
import sys
import time

SCRIPT = os.path.abspath(__file__)
REPO = os.path.dirname(os.path.dirname(SCRIPT))
sys.path.insert(0, os.path.dirname(SCRIPT))

N_IMAGES = 118287
N_ANNOTATIONS = 860001
# COCO's 80 category ids (1..90 with gaps).
CATEGORY_IDS = [i for i in range(1, 91) if i not in
                (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]
SUPERCATEGORIES = ["person", "vehicle", "outdoor", "animal", "accessory", "sports", "kitchen",
                   "food", "furniture", "electronic", "appliance", "indoor"]
SIZES = [(640, 480), (480, 640), (640, 427), (427, 640), (640, 426), (640, 360), (500, 375),
         (612, 612), (640, 640), (375, 500)]


def _vmhwm_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return -1.0


def worker_json(path):
    """Child: json.load the file and report time, peak memory and counts."""
    start = time.perf_counter()
    with open(path) as f:
        data = json.load(f)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_rss_mb": _vmhwm_mb(),
                      "images": len(data["images"]), "annotations": len(data["annotations"]),
                      "categories": len(data["categories"])}))


def worker_baseline():
    """Child: the interpreter alone (what json.load's figure includes besides the data)."""
    print(json.dumps({"peak_rss_mb": _vmhwm_mb()}))


def generate(path, seed):
    """Writes the synthetic train2017-sized file; streams, so the generator stays small."""
    rng = random.Random(seed)
    image_ids = rng.sample(range(1, 600000), N_IMAGES)
    image_sizes = {}
    tmp = path + ".partial"
    with open(tmp, "w") as out:
        out.write('{"info": ' + json.dumps({
            "description": "synthetic COCO train2017-sized file (coreclean benchmark)",
            "url": "http://cocodataset.org", "version": "1.0", "year": 2017,
            "contributor": "coreclean", "date_created": "2017/09/01"}))
        out.write(', "licenses": ' + json.dumps([
            {"url": f"http://creativecommons.org/licenses/by-nc-sa/2.0/{k}", "id": k,
             "name": f"Attribution-NonCommercial-ShareAlike License {k}"} for k in range(1, 9)]))
        out.write(', "images": [')
        for k, image_id in enumerate(image_ids):
            w, h = rng.choice(SIZES)
            image_sizes[image_id] = (w, h)
            name = f"{image_id:012d}.jpg"
            out.write((", " if k else "") + json.dumps({
                "license": rng.randint(1, 8), "file_name": name,
                "coco_url": f"http://images.cocodataset.org/train2017/{name}",
                "height": h, "width": w,
                "date_captured": f"2013-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
                                 f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:"
                                 f"{rng.randint(0, 59):02d}",
                "flickr_url": f"http://farm{rng.randint(1, 9)}.staticflickr.com/"
                              f"{rng.randint(1000, 9999)}/{rng.randint(10**9, 10**10 - 1)}_"
                              f"{rng.getrandbits(40):010x}_z.jpg",
                "id": image_id}))
        out.write('], "annotations": [')
        annotation_ids = rng.sample(range(1, 2300000), N_ANNOTATIONS)
        for k in range(N_ANNOTATIONS):
            image_id = image_ids[rng.randrange(N_IMAGES)]
            w, h = image_sizes[image_id]
            bw = round(rng.uniform(2, w * 0.6), 2)
            bh = round(rng.uniform(2, h * 0.6), 2)
            x = round(rng.uniform(0, w - bw), 2)
            y = round(rng.uniform(0, h - bh), 2)
            crowd = rng.random() < 0.01
            if crowd:
                counts = [rng.randint(1, 400) for _ in range(rng.randint(40, 400))]
                segmentation = {"counts": counts, "size": [h, w]}
                ann_id = 900100000000 + annotation_ids[k]
            else:
                polygons = []
                for _ in range(1 if rng.random() < 0.85 else 2):
                    points = rng.randint(5, 30)
                    polygon = []
                    for _ in range(points):
                        polygon.append(round(x + rng.random() * bw, 2))
                        polygon.append(round(y + rng.random() * bh, 2))
                    polygons.append(polygon)
                segmentation = polygons
                ann_id = annotation_ids[k]
            out.write((", " if k else "") + json.dumps({
                "segmentation": segmentation, "area": bw * bh * rng.uniform(0.4, 0.9),
                "iscrowd": 1 if crowd else 0, "image_id": image_id, "bbox": [x, y, bw, bh],
                "category_id": rng.choice(CATEGORY_IDS), "id": ann_id}))
        out.write('], "categories": ' + json.dumps([
            {"supercategory": SUPERCATEGORIES[k % len(SUPERCATEGORIES)], "id": c,
             "name": f"category {c}"} for k, c in enumerate(CATEGORY_IDS)]))
        out.write("}")
    os.replace(tmp, path)


def run_json(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tool", required=True, help="path of coreclean_bench_coco")
    ap.add_argument("--workdir", default="/tmp/coreclean-bench-coco")
    ap.add_argument("--out", default=None, help="result JSON (default bench/results/coco_parse-STAMP.json)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3, help="coreclean runs (best is reported)")
    ap.add_argument("--python-repeats", type=int, default=1)
    ap.add_argument("--regenerate", action="store_true")
    args = ap.parse_args()

    os.makedirs(args.workdir, exist_ok=True)
    path = os.path.join(args.workdir, f"train2017_synthetic_seed{args.seed}.json")
    if args.regenerate or not os.path.exists(path):
        start = time.perf_counter()
        generate(path, args.seed)
        print(f"generated {path} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    file_mb = os.path.getsize(path) / 2**20
    with open(path, "rb") as f:  # into the page cache, for both sides alike
        while f.read(1 << 24):
            pass

    load_start = os.getloadavg()
    tool_runs = [run_json([args.tool, path]) for _ in range(args.repeats)]
    best = min(tool_runs, key=lambda r: r["seconds"])
    extra = run_json([args.tool, path, "--check", "--write",
                      os.path.join(args.workdir, "corrected.json"), "--edits", "1000"])
    python_runs = [run_json([sys.executable, SCRIPT, "--worker-json", path])
                   for _ in range(args.python_repeats)]
    python_best = min(python_runs, key=lambda r: r["seconds"])
    baseline = run_json([sys.executable, SCRIPT, "--worker-baseline"])

    counts_agree = all(best[k] == python_best[k] for k in ("images", "annotations", "categories"))
    result = {
        "file": path, "file_mb": file_mb,
        "coreclean": {"seconds": best["seconds"], "peak_rss_mb": best["peak_rss_mb"],
                      "all_seconds": [r["seconds"] for r in tool_runs],
                      "peak_rss_over_file_size": best["peak_rss_mb"] / file_mb,
                      "check_seconds": extra.get("check_seconds"),
                      "findings": extra.get("findings"),
                      "write_seconds": extra.get("write_seconds"), "edits": extra.get("edits"),
                      "counts": {k: best[k] for k in ("images", "annotations", "categories",
                                                      "crowd")}},
        "python_json_load": {"seconds": python_best["seconds"],
                             "peak_rss_mb": python_best["peak_rss_mb"],
                             "all_seconds": [r["seconds"] for r in python_runs],
                             "interpreter_baseline_mb": baseline["peak_rss_mb"],
                             "python": sys.version.split()[0]},
        "ratios_python_over_coreclean": {
            "seconds": python_best["seconds"] / best["seconds"],
            "peak_rss_mb": python_best["peak_rss_mb"] / best["peak_rss_mb"]},
        "counts_agree": counts_agree,
        "load_average": {"start": load_start, "end": os.getloadavg()},
        "cpu_count": os.cpu_count(),
        "date": datetime.datetime.utcnow().isoformat() + "Z",
    }
    try:
        from bench_common import provenance
        result["provenance"] = provenance(args.tool)
    except ImportError:
        pass
    out = args.out or os.path.join(
        REPO, "bench", "results",
        f"coco_parse-{datetime.datetime.utcnow().strftime('%Y%m%dT%H%M%SZ')}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker-json":
        worker_json(sys.argv[2])
    elif len(sys.argv) == 2 and sys.argv[1] == "--worker-baseline":
        worker_baseline()
    else:
        main()
