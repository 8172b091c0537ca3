"""Oracle: scikit-learn's LogisticRegression on a folder of .npy files.

Reads DIR/X.npy, DIR/y.npy and optionally DIR/w.npy. Fits with lbfgs and with newton-cg (both
tol=1e-10) and keeps the fit with the lower objective — on ill-conditioned data (raw digit
pixels) lbfgs stops measurably short of the optimum whatever its tol, newton-cg does not.
The objective is f = ½‖W‖² + C Σ_i s_i ℓ_i (intercept not penalised; s_i = sample weight times
class weight), computed here with numpy.

Writes DIR/sk_coef.npy (1 × d for two classes, K × d otherwise), DIR/sk_intercept.npy,
DIR/sk_proba.npy (predict_proba on X); prints JSON with both solvers' objectives.
Runs with Debian's python3.
"""
import argparse
import json
import pathlib
import warnings

import numpy as np
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.utils.class_weight import compute_class_weight


def objective(clf, x, y, s, c):
    z = x @ clf.coef_.T + clf.intercept_
    classes = clf.classes_
    idx = np.searchsorted(classes, y)
    if len(classes) == 2:
        sign = np.where(idx == 1, 1.0, -1.0)
        loss = np.logaddexp(0.0, -sign * z[:, 0])
    else:
        loss = logsumexp(z, axis=1) - z[np.arange(len(y)), idx]
    return 0.5 * np.sum(clf.coef_ ** 2) + c * np.sum(s * loss)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", type=pathlib.Path)
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--class-weight", choices=["none", "balanced"], default="none")
    args = ap.parse_args()
    x = np.load(args.dir / "X.npy").astype(np.float64)
    y = np.load(args.dir / "y.npy")
    w_path = args.dir / "w.npy"
    w = np.load(w_path) if w_path.exists() else None
    classes = np.unique(y)
    s = np.ones(len(y)) if w is None else w.astype(np.float64).copy()
    if args.class_weight == "balanced":
        s *= compute_class_weight("balanced", classes=classes, y=y)[np.searchsorted(classes, y)]
    fits = {}
    for solver in ("lbfgs", "newton-cg"):
        clf = LogisticRegression(
            C=args.C,
            class_weight=None if args.class_weight == "none" else "balanced",
            solver=solver,
            tol=1e-10,
            # newton-cg converges in tens of iterations or never: when round-off stalls its
            # line search it would otherwise spin to max_iter.
            max_iter=100000 if solver == "lbfgs" else 300,
            multi_class="multinomial" if len(classes) > 2 else "auto",
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # line-search round-off notes; judged by objective
            clf.fit(x, y, sample_weight=w)
        fits[solver] = (objective(clf, x, y, s, args.C), clf)
    best = min(fits, key=lambda k: fits[k][0])
    clf = fits[best][1]
    np.save(args.dir / "sk_coef.npy", np.ascontiguousarray(clf.coef_, dtype=np.float64))
    np.save(args.dir / "sk_intercept.npy", np.atleast_1d(clf.intercept_).astype(np.float64))
    np.save(args.dir / "sk_proba.npy", np.ascontiguousarray(clf.predict_proba(x)))
    print(json.dumps({k: v[0] for k, v in fits.items()} | {"best": best}))


if __name__ == "__main__":
    main()
