"""The linear models and metrics the workflow uses, with the package's argument checks: the pick
of the class to clean, the k-fold AUC of the article's loop, stratified folds, and a weighted
logistic regression (scikit-learn's C)."""

from __future__ import annotations

import numpy as np

from . import _arrays, _progress
from . import _coreclean as _engine
from ._coreclean import InvalidArgumentError


def select_class_to_clean(X, y, X_test=None, y_test=None, *, pca_components=256, folds=5,
                          random_state=0, progress=False):
    """The class to clean: a multinomial logistic regression on PCA-reduced features, its
    normalised confusion matrix on the test split (or out-of-fold predictions without one); the
    largest off-diagonal cell names the class (predicted) and the class it is confused with
    (true). Returns {class_of_interest, confused_with, confusion, classes,
    normalized_confusion, used_test_split}."""
    x = _arrays.features(X, "X")
    labels = _arrays.int_vector(y, "y", x.shape[0])
    if (X_test is None) != (y_test is None):
        raise InvalidArgumentError("X_test and y_test go together: give both or neither")
    x_test = y_test_ = None
    if X_test is not None:
        x_test = _arrays.features(X_test, "X_test")
        y_test_ = _arrays.int_vector(y_test, "y_test", x_test.shape[0])
        if x_test.shape[1] != x.shape[1]:
            raise InvalidArgumentError(f"X_test has {x_test.shape[1]} columns, X has {x.shape[1]}")
    return _engine.select_class_to_clean(x, labels, x_test, y_test_, int(pca_components),
                                         int(folds), int(random_state), _progress.resolve(progress))


def cross_val_auc(X, y, sample_weight=None, *, folds=5, C=1.0, random_state=0):
    """k-fold cross-validated macro one-vs-rest AUC of a logistic regression on (X, y); samples
    of weight 0 (deleted) take no part — the AUC the article tracks per iteration."""
    x = _arrays.features(X, "X")
    labels = _arrays.int_vector(y, "y", x.shape[0])
    w = _arrays.weights(sample_weight, "sample_weight", x.shape[0])
    folds = _arrays.positive_int(folds, "folds")
    return _engine.cross_val_auc(x, labels, w, folds, float(C), int(random_state))


def stratified_kfold(y, k, *, random_state=0):
    """A fold index in [0, k) per sample, each class dealt evenly over the folds (seeded)."""
    return _engine.stratified_kfold(_arrays.int_vector(y, "y"), _arrays.positive_int(k, "k"),
                                    int(random_state))


class LogisticRegression:
    """L2-regularised logistic regression (binary or multinomial) with sample weights, solved by
    Newton-CG; C, fit_intercept and class_weight as in scikit-learn."""

    def __init__(self, C=1.0, *, fit_intercept=True, class_weight=None, max_iter=100, tol=1e-4):
        if class_weight not in (None, "balanced"):
            raise InvalidArgumentError(f"class_weight = {class_weight!r} (must be None or 'balanced')")
        self._model = _engine.LogisticRegression(float(C), bool(fit_intercept),
                                                 class_weight or "none", int(max_iter), float(tol))

    def fit(self, X, y, sample_weight=None):
        x = _arrays.features(X, "X")
        labels = _arrays.int_vector(y, "y", x.shape[0])
        self.fit_report_ = self._model.fit(x, labels, _arrays.weights(sample_weight, "sample_weight", x.shape[0]))
        return self

    def predict_proba(self, X):
        return self._model.predict_proba(_arrays.features(X, "X"))

    def predict(self, X):
        return self._model.predict(_arrays.features(X, "X"))

    def decision_function(self, X):
        return self._model.decision_function(_arrays.features(X, "X"))

    @property
    def classes_(self):
        return self._model.classes_

    @property
    def coef_(self):
        return self._model.coef_

    @property
    def intercept_(self):
        return self._model.intercept_
