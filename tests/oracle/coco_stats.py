#!/usr/bin/python3
"""Oracle for the COCO reader and writer: Python's json module only (what pycocotools uses).

    coco_stats.py stats FILE
        {"images", "annotations", "categories": counts,
         "per_category": {"<category_id>": boxes}, "crowd": count of iscrowd true (absent = 0),
         "bbox_checksum": sum over annotations (file order) and j = 0..3 of (j + 1) * bbox[j],
         finite values only, "nonfinite": count of NaN/infinite bbox values,
         "image_ids_sum", "annotation_ids_sum"}
    coco_stats.py error FILE
        {"ok": true} when json.load accepts the file, else {"ok": false, "line", "column",
        "offset", "message"} from json.JSONDecodeError (offset in characters). The file is read
        as pycocotools reads it: text mode, UTF-8, universal newlines.
    coco_stats.py errors FILE...
        A JSON list with the verdict of `error` for each file.
    coco_stats.py edited IN OUT EDITS
        EDITS is a JSON list of {"id", "delete": true} or {"id", "category_id"}. Prints
        {"equal": true} when OUT, parsed, equals IN parsed with the edits applied, comparing
        objects as ordered lists of (key, value) pairs (so key order counts); otherwise
        {"equal": false, "difference": "..."}.
"""
import json
import math
import sys


def number_key(value):
    """A category id as text; 2.0 counts as 2, as Python's dict lookups treat it."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def stats(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    per_category = {}
    crowd = 0
    checksum = 0.0
    nonfinite = 0
    for a in data["annotations"]:
        key = number_key(a["category_id"])
        per_category[key] = per_category.get(key, 0) + 1
        crowd += 1 if a.get("iscrowd", 0) else 0
        for j, v in enumerate(a["bbox"]):
            if math.isfinite(v):
                checksum += (j + 1) * v
            else:
                nonfinite += 1
    return {
        "images": len(data["images"]),
        "annotations": len(data["annotations"]),
        "categories": len(data["categories"]),
        "per_category": per_category,
        "crowd": crowd,
        "bbox_checksum": checksum,
        "nonfinite": nonfinite,
        "image_ids_sum": sum(int(i["id"]) for i in data["images"]),
        "annotation_ids_sum": sum(int(a["id"]) for a in data["annotations"]),
    }


def error(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        return {"ok": False, "line": e.lineno, "column": e.colno, "offset": e.pos,
                "message": e.msg}
    return {"ok": True}


def load_pairs(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f, object_pairs_hook=list)


def edited(path_in, path_out, path_edits):
    original = load_pairs(path_in)
    result = load_pairs(path_out)
    with open(path_edits, encoding="utf-8") as f:
        edits = {e["id"]: e for e in json.load(f)}
    expected = []
    for key, value in original:
        if key == "annotations":
            kept = []
            for annotation in value:
                fields = dict(annotation)
                edit = edits.get(fields["id"])
                if edit is None:
                    kept.append(annotation)
                elif not edit.get("delete", False):
                    kept.append([(k, edit["category_id"] if k == "category_id" else v)
                                 for k, v in annotation])
            value = kept
        expected.append((key, value))
    expected = [[k, v] for k, v in expected]
    result = [[k, v] for k, v in result]
    if expected == result:
        return {"equal": True}
    for (ke, ve), (kr, vr) in zip(expected, result):
        if ke != kr or ve != vr:
            return {"equal": False, "difference": f"top-level key {ke!r} / {kr!r} differs"}
    return {"equal": False, "difference": "different number of top-level keys"}


def main():
    command = sys.argv[1]
    if command == "stats":
        out = stats(sys.argv[2])
    elif command == "error":
        out = error(sys.argv[2])
    elif command == "errors":
        out = [error(path) for path in sys.argv[2:]]
    elif command == "edited":
        out = edited(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
