"""Builds a demo features directory from scikit-learn's bundled digits (Debian python3-sklearn).

The digits are real handwritten data; 20 % of the 8s are relabelled 1 (seeded) so that the demo
has label errors to find. Writes X_train.npy, y_train.npy, X_test.npy, y_test.npy, ids.npy,
classes.json and truth.json (the ids whose label was changed, with the true label).
"""
import json
import pathlib
import sys

import numpy as np
from sklearn.datasets import load_digits

out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
digits = load_digits()
x = digits.data.astype(np.float32)
y = digits.target.astype(np.int64)
rng = np.random.default_rng(0)
order = rng.permutation(len(y))
test = order[: len(y) // 4]
train = order[len(y) // 4 :]
x_train, y_train = x[train], y[train].copy()
ids = (train + 1).astype(np.int64)
eights = np.flatnonzero(y_train == 8)
flipped = rng.choice(eights, size=len(eights) // 5, replace=False)
y_train[flipped] = 1
np.save(out / "X_train.npy", x_train)
np.save(out / "y_train.npy", y_train)
np.save(out / "X_test.npy", x[test])
np.save(out / "y_test.npy", y[test])
np.save(out / "ids.npy", ids)
(out / "classes.json").write_text(json.dumps({str(i): f"digit {i}" for i in range(10)}))
(out / "truth.json").write_text(
    json.dumps({str(int(ids[i])): {"label": 1, "true_label": 8} for i in sorted(flipped)})
)
print(f"{len(train)} train / {len(test)} test samples, {len(flipped)} of {len(eights)} 8s relabelled 1")
