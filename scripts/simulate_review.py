"""A simulated reviewer for the demo: fills in a batch's review.csv from the demo's truth.json.

    simulate_review.py REVIEW_CSV TRUTH_JSON OUT_CSV

Every box the demo generator corrupted gets its true fix (a flipped label is relabelled to its
true class; a box that misses its object, spans two objects or duplicates another is deleted);
every other box is kept. Prints one line: how many of the batch were injected errors.
"""
import csv
import json
import sys

review_csv, truth_json, out_csv = sys.argv[1:4]
errors = json.load(open(truth_json))["errors"]
rows = list(csv.DictReader(open(review_csv)))
found = {"relabel": 0, "delete": 0}
for row in rows:
    err = errors.get(row["id"])
    if err is None:
        row["decision"], row["new_label"] = "keep", ""
    elif err["fix"] == "relabel":
        row["decision"], row["new_label"] = "relabel", str(err["true_category_id"])
        found["relabel"] += 1
    else:
        row["decision"], row["new_label"] = "delete", ""
        found["delete"] += 1
with open(out_csv, "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()) if rows else ["id", "decision", "new_label"])
    writer.writeheader()
    writer.writerows(rows)
print(f"reviewer: {len(rows)} boxes, {found['relabel']} wrong labels fixed, "
      f"{found['delete']} faulty boxes deleted")
