"""Summarises the demo: errors the review found against random review of the same budget.

    demo_summary.py DEMO_OUT CLI

Reads DEMO_OUT/session (status), DEMO_OUT/features and DEMO_OUT/data/truth.json; writes
DEMO_OUT/summary.json and prints it.
"""
import json
import pathlib
import subprocess
import sys

import numpy as np

out = pathlib.Path(sys.argv[1])
cli = sys.argv[2]
status = json.loads(subprocess.run([cli, "status", str(out / "session"), "--json"],
                                   check=True, capture_output=True, text=True).stdout)
errors = json.load(open(out / "data" / "truth.json"))["errors"]
ids = np.load(out / "features" / "ids.npy")
y = np.load(out / "features" / "y_train.npy")
interest = status["class_of_interest"]["id"]
in_class = {int(i) for i, label in zip(ids, y) if label == interest}
injected = sum(1 for k in errors if int(k) in in_class)
budget = sum(it["reviewed"] for it in status["iterations"])
found = status["relabelled"] + status["deleted"]
summary = {
    "class_of_interest": status["class_of_interest"]["name"],
    "class_size": len(in_class),
    "injected_errors": injected,
    "budget": budget,
    "coreclean_found": found,
    "random_expected": round(budget * injected / max(len(in_class), 1), 1),
    "auc_start": round(status["iterations"][0]["auc"], 4),
    "auc_end": round(status["iterations"][-1]["auc"], 4),
}
(out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
print(f"\nreviewed {budget} of {len(in_class)} '{summary['class_of_interest']}' boxes: coreclean "
      f"found {found} of the {injected} injected errors in the class; random review of the same "
      f"budget would expect {summary['random_expected']}. AUC {summary['auc_start']} → "
      f"{summary['auc_end']}. Corrected COCO: {out / 'corrected.json'}")
