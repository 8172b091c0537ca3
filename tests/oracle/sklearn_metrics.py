"""Oracle: scikit-learn's metrics on arrays written by a test.

Reads DIR/scores.npy (n or n × K float64), DIR/y.npy (n int64), optional DIR/w.npy and
DIR/pred.npy; prints one JSON object with the binary or one-vs-rest AUCs and, when pred.npy
exists, the confusion matrix normalised by true class. Runs with Debian's python3.
"""
import json
import pathlib
import sys

import numpy as np
from sklearn.metrics import confusion_matrix, roc_auc_score

d = pathlib.Path(sys.argv[1])
scores = np.load(d / "scores.npy")
y = np.load(d / "y.npy")
w = np.load(d / "w.npy") if (d / "w.npy").exists() else None
out = {}
if scores.ndim == 1:
    out["auc"] = roc_auc_score(y, scores, sample_weight=w)
else:
    for avg in ("macro", "weighted"):
        out["auc_" + avg] = roc_auc_score(y, scores, multi_class="ovr", average=avg, sample_weight=w)
if (d / "pred.npy").exists():
    pred = np.load(d / "pred.npy")
    out["confusion"] = confusion_matrix(y, pred, normalize="true").tolist()
print(json.dumps(out))
