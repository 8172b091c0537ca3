#!/usr/bin/env python3
"""The reference article's cleaning loop, in Python, on coreclean.

Article: pick the class a classifier confuses most, build the coreset service once, then per
iteration export the 60 most important unseen samples of the class, have them reviewed
(relabel or delete), update the service with the corrections, and track the k-fold AUC until it
plateaus. Here the reviewer is simulated from the demo data's truth file, so the script runs
unattended and tells how many of the injected errors each iteration found.

    coreclean make-demo --out demo-data
    coreclean embed --coco demo-data/annotations.json --images demo-data/images --out demo-features
    PYTHONPATH=build/python /usr/bin/python3 examples/seed_workflow.py \\
        --data demo-data --features demo-features --out seed-output

Writes seed-output/importance_histogram.png and auc.png (when matplotlib is installed) and
seed-output/iterations.json.
"""

import argparse
import json
import pathlib

import numpy as np

import coreclean  # the article: from dataheroes import CoresetTreeServiceLG


def load_features(folder):
    folder = pathlib.Path(folder)
    x = np.load(folder / "X_train.npy")  # float32, read in place by the service
    y = np.load(folder / "y_train.npy")
    ids = np.load(folder / "ids.npy")    # COCO annotation ids
    return x, y, ids


def simulated_reviewer(truth_file):
    """The article's manual step, answered from the truth the demo generator wrote: a flipped
    label is corrected to its true class (or deleted when that class is not among the cleaned
    ones), a faulty box is deleted, every other box is kept."""
    errors = json.loads(pathlib.Path(truth_file).read_text())["errors"]
    return {int(k): v for k, v in errors.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="folder written by `coreclean make-demo`")
    parser.add_argument("--features", required=True, help="folder written by `coreclean embed`")
    parser.add_argument("--out", required=True, help="folder for the plots and iterations.json")
    parser.add_argument("--export-n", type=int, default=60, help="samples reviewed per iteration")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--folds", type=int, default=5, help="folds of the AUC")
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    x, y, ids = load_features(args.features)
    truth = simulated_reviewer(pathlib.Path(args.data) / "truth.json")

    # 2. Pick a class to clean: the largest off-diagonal cell of the normalised confusion matrix.
    pick = coreclean.select_class_to_clean(x, y)
    of_interest, confused_with = pick["class_of_interest"], pick["confused_with"]
    slim = np.isin(y, [of_interest, confused_with])
    x_slim, ids_slim = np.ascontiguousarray(x[slim]), ids[slim]
    y_fixed = y[slim].copy()                   # y_train_slim_fixed
    weights = np.ones(len(y_fixed))            # sample_weights_fixed: 0 = deleted
    print(f"class of interest {of_interest}, confused with {confused_with}: "
          f"{slim.sum()} samples")

    # 3. Build the coreset service once; afterwards only update it.
    service = coreclean.CoresetTreeServiceLG(optimized_for="cleaning", random_state=0,
                                             progress=False)
    service.build(x_slim, y_fixed, indices=ids_slim)
    row_of = {int(i): r for r, i in enumerate(ids_slim)}
    first_importance = service.scores()["importance"][y_fixed == of_interest]

    auc = [coreclean.cross_val_auc(x_slim, y_fixed, weights, folds=args.folds)]
    iterations = []
    for it in range(args.iterations):
        # Steps 1 & 2: the export_n most important samples of the class not seen so far.
        result = service.get_cleaning_samples(class_size={of_interest: args.export_n})
        if len(result["idx"]) == 0:
            break
        # Step 3: review. Steps 4 & 5: corrections into the labels and weights, then the AUC.
        relabel_ids, relabel_to, delete_ids = [], [], []
        for sample_id in result["idx"]:
            error = truth.get(int(sample_id))
            if error is None:
                continue
            true_class = error.get("true_category_id")
            if error.get("kind") == "flip" and true_class in (of_interest, confused_with):
                relabel_ids.append(sample_id)
                relabel_to.append(true_class)
                y_fixed[row_of[int(sample_id)]] = true_class
            else:
                delete_ids.append(sample_id)
                weights[row_of[int(sample_id)]] = 0.0
        if relabel_ids:
            service.update_targets(relabel_ids, relabel_to)
        if delete_ids:
            service.remove_samples(delete_ids)
        auc.append(coreclean.cross_val_auc(x_slim, y_fixed, weights, folds=args.folds))
        iterations.append({"iteration": it + 1, "reviewed": len(result["idx"]),
                           "relabelled": len(relabel_ids), "deleted": len(delete_ids),
                           "auc": auc[-1]})
        print(f"iteration {it + 1}: {len(result['idx'])} reviewed, {len(relabel_ids)} relabelled, "
              f"{len(delete_ids)} deleted; AUC {auc[-1]:.4f}")

    fixed = sum(i["relabelled"] + i["deleted"] for i in iterations)
    reviewed = sum(i["reviewed"] for i in iterations)
    in_class = [i for i, e in truth.items() if i in row_of and y[slim][row_of[i]] == of_interest]
    summary = {"class_of_interest": int(of_interest), "confused_with": int(confused_with),
               "class_size": int((y[slim] == of_interest).sum()), "reviewed": reviewed,
               "fixed": fixed, "errors_in_class": len(in_class),
               "random_expected": reviewed * len(in_class) / max(1, int((y[slim] == of_interest).sum())),
               "auc": auc, "iterations": iterations}
    (out / "iterations.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"reviewed {reviewed}: fixed {fixed} (random review would expect "
          f"{summary['random_expected']:.1f}); AUC {auc[0]:.4f} → {auc[-1]:.4f}")

    # 4. Visualise: the importance histogram of the first iteration and the AUC curve.
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plots")
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(first_importance, bins=40)
    ax.set(xlabel="importance", ylabel="samples", title="Importance of the class's samples")
    fig.tight_layout()
    fig.savefig(out / "importance_histogram.png", dpi=100)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(len(auc)), auc, marker="o")
    ax.set_xticks(range(len(auc)))
    ax.set(xlabel="iteration", ylabel=f"{args.folds}-fold AUC", title="AUC across iterations")
    fig.tight_layout()
    fig.savefig(out / "auc.png", dpi=100)


if __name__ == "__main__":
    main()
