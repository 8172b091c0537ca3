#!/usr/bin/python3
"""Near-duplicate boxes: which rule separates copies of one object from distinct objects.

    /usr/bin/python3 bench/near_duplicates.py [--tool BUILD/apps/cli/coreclean]
        [--shared ../shared] [--work SCRATCH] [--out RESULTS.json]

This is a benchmark, never a test: it asserts nothing, it reports. Every number is measured in
this run, on this machine.

Why
---
`coreclean check --features` (and the findings a session offers for review) calls two boxes of
different images near-duplicates when their cosine distance is small *relative to the
embedding*: 1 - cos < 0.2 x the median distance of a box to its nearest other box (--share;
--min-cosine is the absolute alternative). An absolute cosine threshold does not carry over
between embeddings: a CNN with non-negative (post-ReLU) features squeezes every cosine towards
1. This benchmark measures both kinds of rule on copies whose truth is known, for two
embeddings, and runs the product's own check on the same data.

Protocol
--------
1. Data (WORK/data): every image and box of BCCD (364 images, 4,888 boxes), plus copies of 40
   images chosen with numpy.random.default_rng(0).choice(364, 40, replace=False) over the
   images sorted by id. The k-th chosen image (k = 0..39) becomes copy kind "abc"[k % 3]:
     a  JPEG quality 85 re-encode;
     b  brightness, then contrast, each multiplied by 1 +/- U(0.03, 0.05) (sign and size drawn
        from the same generator, in that order), then JPEG 85;
     c  bilinear resize to 90 % and back to full size, then JPEG 85.
   Each copy gets new image and annotation ids and keeps every box of its original, so each
   copied box and its original form one planted pair: 404 images, 5,471 boxes, 583 pairs
   (a 225, b 180, c 178). All copies look identical to the eye.
2. Embeddings: `coreclean -q embed` twice, with the shared MobileNetV2 ONNX
   (mobilenet_v2_nsfwjs.onnx, --swap-rb, 1280 dimensions) and with the built-in colour + shape
   features (no --model).
3. Per embedding, plain cosine of the rows, counting only pairs of boxes of different images
   (14.9 M pairs), every pair evaluated:
   - cosine of the planted pairs (quantiles, overall and per kind);
   - per box, the cosine of its nearest distinct object: the most similar box of another
     image that is not its planted partner;
   - pairs flagged, planted pairs among them (precision) and the share of planted pairs
     flagged (recall), for absolute thresholds cos >= t and for the relative rule
     1 - cos < f x (median over boxes of 1 - cos to the nearest other box, any image), with
     f = 0.2 the product's default;
   - the product itself: `coreclean check --features FEAT --coco WORK/data/instances.json
     --json` with its defaults; its near-duplicate findings (entries with a "cosine") name a
     pair (annotation_id, other_annotation_id); their precision and recall against the planted
     pairs, the lowest flagged cosine and the command's wall time. The product takes the
     median over 2,000 sampled boxes, so its count can differ slightly from the f = 0.2 row
     above, which takes it over all boxes.
--work keeps the derived data and the features directories (default: a temporary folder,
removed at the end). Prints a compact table per embedding and writes every number to --out
(default bench/results/near_duplicates-<UTC stamp>.json). Takes a few minutes, most of it the
CNN embedding. When the shared data is missing it says so and exits 0.
"""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image, ImageEnhance

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 0
N_COPIED = 40
KINDS = "abc"
THRESHOLDS = [0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998, 0.999]
SHARES = [0.05, 0.1, 0.13, 0.2, 0.3]
PRODUCT_SHARE = 0.2          # the default of `check --share`


def derive(src_json, src_images, out):
    """Writes OUT/instances.json and OUT/images/ (BCCD + copies); returns the planted pairs as
    (copy annotation id, original annotation id, kind)."""
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    with open(src_json, encoding="utf-8") as f:
        coco = json.load(f)
    rng = np.random.default_rng(SEED)
    images = sorted(coco["images"], key=lambda im: im["id"])
    chosen = rng.choice(len(images), N_COPIED, replace=False)
    anns_of = {}
    for a in coco["annotations"]:
        anns_of.setdefault(a["image_id"], []).append(a)
    for im in images:
        shutil.copyfile(os.path.join(src_images, im["file_name"]),
                        os.path.join(out, "images", im["file_name"]))
    new_images, new_anns, pairs = list(coco["images"]), list(coco["annotations"]), []
    next_img = max(im["id"] for im in images) + 1
    next_ann = max(a["id"] for a in coco["annotations"]) + 1
    for k, idx in enumerate(chosen):
        im = images[idx]
        kind = KINDS[k % 3]
        pil = Image.open(os.path.join(src_images, im["file_name"])).convert("RGB")
        if kind == "b":
            fb = 1 + rng.choice([-1, 1]) * rng.uniform(0.03, 0.05)
            fc = 1 + rng.choice([-1, 1]) * rng.uniform(0.03, 0.05)
            pil = ImageEnhance.Contrast(ImageEnhance.Brightness(pil).enhance(fb)).enhance(fc)
        elif kind == "c":
            w, h = pil.size
            pil = pil.resize((round(w * 0.9), round(h * 0.9)), Image.BILINEAR)
            pil = pil.resize((w, h), Image.BILINEAR)
        name = f"dup_{kind}_{im['file_name']}"
        pil.save(os.path.join(out, "images", name), "JPEG", quality=85)
        new_images.append(dict(im, id=next_img, file_name=name))
        for a in anns_of.get(im["id"], []):
            new_anns.append(dict(a, id=next_ann, image_id=next_img))
            pairs.append((next_ann, a["id"], kind))
            next_ann += 1
        next_img += 1
    with open(os.path.join(out, "instances.json"), "w", encoding="utf-8") as f:
        json.dump(dict(coco, images=new_images, annotations=new_anns), f)
    return pairs


def run(cmd):
    """(stdout, wall seconds) of a child process; stops with its stderr when it fails."""
    start = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr}")
    return p.stdout, seconds


def quantiles(v, ps):
    return {str(p): float(np.quantile(v, p)) for p in ps}


def scores(flagged, kinds, pairs):
    """A rule that flags `pairs` pairs, among them the planted pairs where `flagged` is true:
    its precision and recall (overall and per copy kind)."""
    return {"pairs": int(pairs), "true": int(flagged.sum()),
            "precision": float(flagged.sum() / pairs) if pairs else None,
            "recall": float(flagged.mean()),
            "recall_by_kind": {k: float(flagged[kinds == k].mean()) for k in KINDS}}


def separation(feat, planted):
    """Planted-pair and nearest-distinct cosines, and precision/recall of every rule, over the
    pairs of boxes of different images (plain cosine)."""
    x = np.load(os.path.join(feat, "X_train.npy")).astype(np.float64)
    ids = np.load(os.path.join(feat, "ids.npy"))
    img = np.load(os.path.join(feat, "boxes.npy"))[:, 0].astype(np.int64)
    n = len(ids)
    row = {int(a): i for i, a in enumerate(ids)}
    p = np.array([(row[c], row[o]) for c, o, _ in planted])
    kinds = np.array([k for _, _, k in planted])
    partner = np.full(n, -1)
    partner[p[:, 0]], partner[p[:, 1]] = p[:, 1], p[:, 0]

    z = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = z @ z.T
    np.fill_diagonal(s, -np.inf)
    true_cos = s[p[:, 0], p[:, 1]]
    median_nn = float(np.median(1 - s.max(1)))
    radii = [f * median_nn for f in SHARES]

    nearest_distinct = np.empty(n)
    over_t = np.zeros(len(THRESHOLDS), np.int64)
    within_r = np.zeros(len(SHARES), np.int64)
    cols = np.arange(n)
    for start in range(0, n, 512):
        rows = np.arange(start, min(n, start + 512))
        block = s[rows]
        cross = img[rows, None] != img[None, :]
        distinct = np.where(cross, block, -np.inf)
        has = partner[rows] >= 0
        distinct[np.nonzero(has)[0], partner[rows][has]] = -np.inf
        nearest_distinct[rows] = distinct.max(1)
        vals = block[cross & (cols[None, :] > rows[:, None])]       # each cross-image pair once
        over_t += [(vals >= t).sum() for t in THRESHOLDS]
        within_r += [((1 - vals) < r).sum() for r in radii]

    absolute = [dict(t=t, **scores(true_cos >= t, kinds, c))
                for t, c in zip(THRESHOLDS, over_t)]
    relative = [dict(share=f, radius=r, cos_equiv=1 - r,
                     **scores((1 - true_cos) < r, kinds, c))
                for f, r, c in zip(SHARES, radii, within_r)]
    return {
        "boxes": n, "dimensions": int(x.shape[1]),
        "planted_cosine": quantiles(true_cos, [0, 0.01, 0.05, 0.5]),
        "planted_cosine_by_kind": {k: quantiles(true_cos[kinds == k], [0, 0.05, 0.5])
                                   for k in KINDS},
        "nearest_distinct_cosine": quantiles(nearest_distinct, [0.5, 0.9, 0.99, 0.999, 1.0]),
        "median_nn_distance": median_nn,
        "absolute": absolute, "relative": relative}


def product_check(tool, feat, coco, planted):
    """`check --features` with its defaults: its near-duplicate pairs against the planted ones."""
    out, seconds = run([tool, "-q", "check", "--features", feat, "--coco", coco, "--json"])
    found = [e for e in json.loads(out) if "cosine" in e]
    kind_of = {frozenset((c, o)): k for c, o, k in planted}
    hits = {frozenset((e["annotation_id"], e["other_annotation_id"])) for e in found} \
        & kind_of.keys()
    flagged = np.array([frozenset((c, o)) in hits for c, o, _ in planted])
    kinds = np.array([k for _, _, k in planted])
    by_check = {}
    for e in found:
        by_check[e["check"]] = by_check.get(e["check"], 0) + 1
    return dict(share=PRODUCT_SHARE, seconds=seconds, by_check=by_check,
                lowest_cosine=min((e["cosine"] for e in found), default=None),
                **scores(flagged, kinds, len(found)))


def print_table(title, r, embed_seconds):
    q, nd = r["planted_cosine"], r["nearest_distinct_cosine"]
    print(f"\n== {title}: {r['dimensions']}-d, {r['boxes']} boxes, embedded in "
          f"{embed_seconds:.0f} s")
    print("planted pairs cos:    " + " | ".join(
        f"{name} {v:.4f}" for name, v in zip(["min", "1%", "5%", "median"], q.values())))
    print("  min by kind:        " + " | ".join(
        f"{k} {v['0']:.4f}" for k, v in r["planted_cosine_by_kind"].items()))
    print("nearest distinct cos: " + " | ".join(
        (f"{float(p) * 100:g}%" if p != "1.0" else "max") + f" {v:.4f}" for p, v in nd.items()))
    print(f"median NN distance:   {r['median_nn_distance']:.4g}   (relative: 1-cos < f x this)")
    print(f"{'rule':<40}{'pairs':>9}{'true':>6}{'prec':>7}{'recall':>8}  a/b/c")
    rows = [(f"cos >= {x['t']}", x) for x in r["absolute"]]
    rows += [(f"relative f={x['share']} (cos>={x['cos_equiv']:.5f})", x)
             for x in r["relative"]]
    c = r["check"]
    low = "" if c["lowest_cosine"] is None else f"lowest {c['lowest_cosine']:.5f}, "
    rows.append((f"check --features ({low}{c['seconds']:.1f} s)", c))
    for name, x in rows:
        prec = "   -" if x["precision"] is None else f"{x['precision']:.3f}"
        print(f"{name:<40}{x['pairs']:>9}{x['true']:>6}{prec:>7}{x['recall']:>8.3f}  "
              + "/".join(f"{x['recall_by_kind'][k]:.2f}" for k in KINDS))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tool", default=os.path.join(REPO, "build", "apps", "cli", "coreclean"),
                    help="the coreclean CLI")
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(REPO), "shared"),
                    help="folder with data/bccd/ and data/models/")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--out", default=None, help="JSON file for the results")
    args = ap.parse_args()

    bccd = os.path.join(args.shared, "data", "bccd")
    model = os.path.join(args.shared, "data", "models", "mobilenet_v2_nsfwjs.onnx")
    needed = [os.path.join(bccd, "instances.json"), os.path.join(bccd, "images"), model]
    missing = [p for p in needed if not os.path.exists(p)]
    if missing:
        print("near_duplicates: shared data not found, nothing measured: " + ", ".join(missing))
        return
    if not os.access(args.tool, os.X_OK):
        sys.exit(f"near_duplicates: no coreclean executable at {args.tool} (see --tool)")

    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or os.path.join(REPO, "bench", "results", f"near_duplicates-{stamp}.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or tmp
        data = os.path.join(work, "data")
        coco = os.path.join(data, "instances.json")
        planted = derive(needed[0], needed[1], data)
        print(f"derived {coco}: {len(planted)} planted pairs "
              + "(" + ", ".join(f"{k} {sum(x[2] == k for x in planted)}" for k in KINDS) + ")")
        report = {"stamp": stamp, "tool": os.path.abspath(args.tool), "seed": SEED,
                  "copied_images": N_COPIED, "planted_pairs": len(planted),
                  "planted_by_kind": {k: sum(x[2] == k for x in planted) for k in KINDS},
                  "embeddings": {}}
        for key, title, extra in [
                ("cnn", "MobileNetV2 (ONNX)", ["--model", model, "--swap-rb"]),
                ("builtin", "built-in colour + shape", [])]:
            feat = os.path.join(work, "feat_" + key)
            _, embed_seconds = run([args.tool, "-q", "embed", "--coco", coco, "--images",
                                    os.path.join(data, "images"), "--out", feat, *extra])
            r = separation(feat, planted)
            r["embed_seconds"] = embed_seconds
            r["check"] = product_check(args.tool, feat, coco, planted)
            report["embeddings"][key] = dict(title=title, **r)
            print_table(title, r, embed_seconds)

    with open(out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
