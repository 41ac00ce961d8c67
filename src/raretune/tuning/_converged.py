"""Converged candidates: scikit-learn models fitted per fold on the networks' design matrix.

A search trains linear models too (``layers`` = 0) but, under Hyperband's short budgets, by
a few epochs of Adam: on small, nearly linear tables they stop far from the optimum that a
second-order solver reaches in a second, and on many small tables boosted trees rank rare
rows better than any network a short search finds. These helpers cross-fit scikit-learn's
L-BFGS logistic regression (also after SMOTE), ``HistGradientBoostingClassifier``, random
forests, extra trees and k-nearest neighbours (small tables only) on
:func:`raretune.models.export.linear_features`, one model per fold; ``raretune.models.export``
compiles the fitted models into plain Keras graphs.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..datasets import TabularData
from ..models import FeatureSchema
from ..models.export import linear_features

__all__ = ["FOREST_CONFIGS", "KNN_NEIGHBORS", "LINEAR_C", "SMOTE_C", "TREE_CONFIGS", "cross_fit", "cross_fit_forest",
           "cross_fit_knn", "cross_fit_logistic", "cross_fit_smote_logistic", "cross_fit_trees"]

#: Inverse regularisation strengths tried (scikit-learn's ``C``); each is one ensemble candidate.
LINEAR_C = (0.01, 0.1, 1.0, 10.0)

#: Boosting settings tried, each one ensemble candidate: scikit-learn's defaults; smaller
#: trees with L2 shrinkage of leaf values for tables with a handful of rare rows; and a
#: slower, shrunk setting that stops early on a stratified fifth of the fold's own training
#: rows (scikit-learn's ``early_stopping``, on the loss), so it is not left to a fixed count.
TREE_CONFIGS = {
    "default": {},
    "small_leaves": {"max_leaf_nodes": 8, "min_samples_leaf": 5, "l2_regularization": 1.0},
    "early_stopped": {"learning_rate": 0.05, "max_iter": 300, "max_leaf_nodes": 15, "min_samples_leaf": 10,
                      "l2_regularization": 0.5, "early_stopping": True, "validation_fraction": 0.2,
                      "n_iter_no_change": 15},
}

#: Rows of each class the ``early_stopped`` setting needs in a fold's training rows to hold a
#: fifth of them out for its stopping rule; with fewer it trains 100 rounds without stopping.
_EARLY_STOP_MIN_CLASS = 10


#: Forests tried, each one ensemble candidate, with balanced class weights per bootstrap
#: sample. Trees are grown to at most 32 leaves: the compiled path table grows with leaves
#: squared, and five folds of 100 such trees on a binary table compile to about 0.56 million
#: parameters, well under ``raretune.models.export.DEFAULT_MAX_TREE_PARAMS``.
FOREST_CONFIGS = {
    "random_forest": {"n_estimators": 100, "max_leaf_nodes": 32, "min_samples_leaf": 2},
    "extra_trees": {"n_estimators": 100, "max_leaf_nodes": 32, "min_samples_leaf": 2},
}

#: Inverse regularisation strength of the logistic regression fitted after SMOTE
#: (scikit-learn's default, as in the common recipe).
SMOTE_C = 1.0

#: Neighbours of the k-nearest-neighbours candidate, fixed rather than tuned: with votes
#: weighted by inverse distance its out-of-fold PR-AUC moves little between 15 and 31 on
#: small KEEL tables (means 0.625 and 0.624 over 7 tables, 5 neighbours 0.613), and one
#: fixed k adds no selection on the out-of-fold scores the ensemble is chosen on.
KNN_NEIGHBORS = 15


def _fit(X, y, sample_weight=None, *, C: float, class_weight, random_state):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, class_weight=class_weight, max_iter=1000, random_state=random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, sample_weight=sample_weight)


def cross_fit_logistic(schema: FeatureSchema, data: TabularData, fold_ids, *, C: float, class_weight="balanced", random_state=None,
                       sample_weight=None):
    """One logistic regression per fold, each fitted on the rows outside its fold.

    Parameters
    ----------
    schema : FeatureSchema
    data : TabularData
        The rows to cross-fit.
    fold_ids : array-like of int
        Fold of each row, 0 .. K-1.
    C : float
        Inverse regularisation strength.
    class_weight : {"balanced"} or None, default="balanced"
    random_state : int or None

    Returns
    -------
    out_of_fold : ndarray
        Each row's probability from the regression that did not see it: shape (n,) for two
        classes, (n, n_classes) otherwise.
    fitted : list of sklearn.linear_model.LogisticRegression
        One per fold, in fold order.
    """
    return cross_fit(schema, data, fold_ids,
                     lambda X, y, w: _fit(X, y, w, C=C, class_weight=class_weight, random_state=random_state),
                     sample_weight=sample_weight)


def cross_fit(schema: FeatureSchema, data: TabularData, fold_ids, fit, sample_weight=None):
    """``(out-of-fold probabilities, fitted models)``: ``fit(X, y, w)`` on the rows outside each fold.

    ``X`` is :func:`linear_features`; ``w`` their ``sample_weight`` (``None`` without); the
    models need ``classes_`` and ``predict_proba``.
    """
    X = linear_features(schema, data.features)
    ids = np.asarray(fold_ids)
    out = np.zeros((data.n_rows, data.n_classes))
    fitted = []
    for k in range(int(ids.max()) + 1):
        inside = ids == k
        model = fit(X[~inside], data.y[~inside], None if sample_weight is None else np.asarray(sample_weight)[~inside])
        out[np.ix_(inside, model.classes_)] = model.predict_proba(X[inside])
        fitted.append(model)
    return (out[:, 1] if data.n_classes == 2 else out), fitted


def cross_fit_trees(schema: FeatureSchema, data: TabularData, fold_ids, *, config: str = "default",
                    class_weight="balanced", random_state=None, sample_weight=None):
    """One boosted-trees model per fold, each fitted on the rows outside its fold.

    Parameters
    ----------
    schema : FeatureSchema
    data : TabularData
        The rows to cross-fit.
    fold_ids : array-like of int
        Fold of each row, 0 .. K-1.
    config : str, default="default"
        A key of ``TREE_CONFIGS``.
    class_weight : {"balanced"} or None, default="balanced"
    random_state : int or None

    Returns
    -------
    out_of_fold : ndarray
        Each row's probability from the model that did not see it: shape (n,) for two
        classes, (n, n_classes) otherwise.
    fitted : list of sklearn.ensemble.HistGradientBoostingClassifier
        One per fold, in fold order.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    def fit(X, y, w):
        params = dict(TREE_CONFIGS[config])
        if params.get("early_stopping") and np.bincount(y).min() < _EARLY_STOP_MIN_CLASS:
            params.update(early_stopping=False, max_iter=100)  # too few rows of a class to hold some out
        model = HistGradientBoostingClassifier(class_weight=class_weight, random_state=random_state, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return model.fit(X, y, sample_weight=w)

    return cross_fit(schema, data, fold_ids, fit, sample_weight=sample_weight)


def cross_fit_forest(schema: FeatureSchema, data: TabularData, fold_ids, *, config: str = "random_forest",
                     random_state=None, sample_weight=None):
    """One random forest or extra-trees model per fold, each fitted on the rows outside its fold.

    Parameters
    ----------
    schema : FeatureSchema
    data : TabularData
        The rows to cross-fit.
    fold_ids : array-like of int
        Fold of each row, 0 .. K-1.
    config : {"random_forest", "extra_trees"}, default="random_forest"
        A key of ``FOREST_CONFIGS``; the class weights are ``"balanced_subsample"``.
    random_state : int or None

    Returns
    -------
    out_of_fold : ndarray
        Each row's probability from the forest that did not see it: shape (n,) for two
        classes, (n, n_classes) otherwise.
    fitted : list of sklearn.ensemble.RandomForestClassifier or ExtraTreesClassifier
        One per fold, in fold order.
    """
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

    kind = {"random_forest": RandomForestClassifier, "extra_trees": ExtraTreesClassifier}[config]

    def fit(X, y, w):
        # one thread: the run's other stages and other runs share the cores
        return kind(class_weight="balanced_subsample", random_state=random_state, n_jobs=1,
                    **FOREST_CONFIGS[config]).fit(X, y, sample_weight=w)

    return cross_fit(schema, data, fold_ids, fit, sample_weight=sample_weight)


def cross_fit_smote_logistic(schema: FeatureSchema, data: TabularData, fold_ids, *, C: float = SMOTE_C,
                             random_state=None, sample_weight=None):
    """SMOTE, then a logistic regression, per fold, each on the rows outside its fold.

    SMOTE runs on the design matrix of the fold's own training rows (never on the rows it
    scores), up to as many rows per class as the largest class; the regression is then
    fitted without class weights. A fold whose rarest class has a single row cannot be
    interpolated; its regression is fitted with balanced class weights instead (the same
    class prior).

    Parameters
    ----------
    schema : FeatureSchema
    data : TabularData
        The rows to cross-fit.
    fold_ids : array-like of int
        Fold of each row, 0 .. K-1.
    C : float, default=SMOTE_C
        Inverse regularisation strength.
    random_state : int or None

    Returns
    -------
    out_of_fold : ndarray
        Each row's probability from the regression that did not see it.
    fitted : list of sklearn.linear_model.LogisticRegression
        One per fold, in fold order.
    """
    from imblearn.over_sampling import SMOTE

    def fit(X, y, w):
        rarest = int(np.bincount(y).min())
        if rarest < 2:
            return _fit(X, y, w, C=C, class_weight="balanced", random_state=random_state)
        X_res, y_res = SMOTE(k_neighbors=min(5, rarest - 1), random_state=random_state).fit_resample(X, y)
        if w is not None:  # SMOTE appends its new rows after the originals: each gets its class's mean weight
            means = {c: float(np.mean(w[y == c])) for c in np.unique(y)}
            w = np.concatenate([w, [means[c] for c in y_res[len(y):]]])
        return _fit(X_res, y_res, w, C=C, class_weight=None, random_state=random_state)

    return cross_fit(schema, data, fold_ids, fit, sample_weight=sample_weight)


def cross_fit_knn(schema: FeatureSchema, data: TabularData, fold_ids, *, n_neighbors: int = KNN_NEIGHBORS,
                  weights: str = "distance", balanced: bool = True, sample_weight=None):
    """k-nearest neighbours per fold, each answering from the rows outside its fold.

    Parameters
    ----------
    schema : FeatureSchema
    data : TabularData
        The rows to cross-fit.
    fold_ids : array-like of int
        Fold of each row, 0 .. K-1.
    n_neighbors : int, default=KNN_NEIGHBORS
        Lowered to the fewest training rows of a fold on tiny tables.
    weights : {"distance", "uniform"}, default="distance"
        Votes weighted by inverse distance (higher out-of-fold PR-AUC on all of 7 small KEEL
        tables tried) or equal.
    balanced : bool, default=True
        Each class's votes divided by its total in the fold's training rows: the uniform
        class prior of the other converged candidates.
    sample_weight : array-like or None
        Each row's vote.

    Returns
    -------
    out_of_fold : ndarray
        Each row's probability from the fold model that did not see it: shape (n,) for two
        classes, (n, n_classes) otherwise.
    store : raretune.models.export.NeighbourStore
        The rows and votes the fold models answer from (:func:`raretune.models.export.knn_model`).
    """
    from ..models.export import neighbour_probabilities, neighbour_store

    X, ids = linear_features(schema, data.features), np.asarray(fold_ids)
    fewest = min(int(np.sum(ids != f)) for f in range(int(ids.max()) + 1))
    store = neighbour_store(X, data.y, ids, n_classes=data.n_classes, n_neighbors=min(n_neighbors, fewest),
                            weights=weights, balanced=balanced, sample_weight=sample_weight)
    out = np.zeros((data.n_rows, data.n_classes))
    for f in range(int(ids.max()) + 1):
        out[ids == f] = neighbour_probabilities(store, X[ids == f], f)
    return (out[:, 1] if data.n_classes == 2 else out), store
