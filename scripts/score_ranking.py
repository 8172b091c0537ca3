"""Prints a ranked CSV (from coreclean rank) next to the demo's ground truth."""
import csv
import json
import pathlib
import sys

import numpy as np

ranked = list(csv.DictReader(open(sys.argv[1])))
truth = json.load(open(sys.argv[2]))
hits = 0
print(f"{'rank':>4} {'id':>6} {'label':>5} {'importance':>10} {'suggested':>9}  truth")
for i, row in enumerate(ranked, 1):
    err = truth.get(row["id"])
    hits += err is not None
    verdict = f"injected error (true label {err['true_label']})" if err else "clean"
    print(f"{i:>4} {row['id']:>6} {row['label']:>5} {float(row['importance']):>10.3f} "
          f"{row['suggested_label']:>9}  {verdict}")
total = len(truth)
y = np.load(pathlib.Path(sys.argv[2]).parent / "y_train.npy")
class_size = int((y == int(ranked[0]["label"])).sum()) if ranked else 1
print(f"\n{hits} of the top {len(ranked)} are injected label errors; {total} were injected "
      f"into a class of {class_size}, so random review would expect "
      f"{len(ranked) * total / class_size:.1f}.")
