"""Converged candidates: scikit-learn models fitted per fold on the networks' design matrix.

A search trains linear models too (``layers`` = 0) but, under Hyperband's short budgets, by
a few epochs of Adam: on small, nearly linear tables they stop far from the optimum that a
second-order solver reaches in a second, and on many small tables boosted trees rank rare
rows better than any network a short search finds. These helpers cross-fit scikit-learn's
L-BFGS logistic regression and ``HistGradientBoostingClassifier`` on
:func:`raretune.models.export.linear_features`, one model per fold; ``raretune.models.export``
compiles the fitted models into plain Keras graphs.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..datasets import TabularData
from ..models import FeatureSchema
from ..models.export import linear_features

__all__ = ["LINEAR_C", "TREE_CONFIGS", "cross_fit", "cross_fit_logistic", "cross_fit_trees"]

#: Inverse regularisation strengths tried (scikit-learn's ``C``); each is one ensemble candidate.
LINEAR_C = (0.01, 0.1, 1.0, 10.0)

#: Boosting settings tried, each one ensemble candidate: scikit-learn's defaults, and
#: smaller trees with L2 shrinkage of leaf values for tables with a handful of rare rows.
TREE_CONFIGS = {
    "default": {},
    "small_leaves": {"max_leaf_nodes": 8, "min_samples_leaf": 5, "l2_regularization": 1.0},
}


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

    params = TREE_CONFIGS[config]

    def fit(X, y, w):
        model = HistGradientBoostingClassifier(class_weight=class_weight, random_state=random_state, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return model.fit(X, y, sample_weight=w)

    return cross_fit(schema, data, fold_ids, fit, sample_weight=sample_weight)
