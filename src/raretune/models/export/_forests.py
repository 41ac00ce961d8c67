"""Random forests and extra trees compiled into plain Keras layers.

A forest's probability is the average of its trees' leaf class probabilities, so it is the
same graph as boosted trees (see :mod:`._trees`) with each leaf holding its class
probabilities divided by the number of trees, no baseline and no sigmoid; the fold models
are averaged as for every other candidate. The path table grows with leaves squared:
forests for raretune are grown to a fixed number of leaves (``max_leaf_nodes``) so that
five folds of them stay under :data:`~._trees.DEFAULT_MAX_TREE_PARAMS`.
"""

from __future__ import annotations

import numpy as np

from .._schema import FeatureSchema
from ._trees import DEFAULT_MAX_TREE_PARAMS, Tree, compile_trees

__all__ = ["forest_model"]


def _forest_tree(estimator, n_out: int, n_trees: int) -> Tree:
    """One fitted ``DecisionTreeClassifier`` as a :class:`Tree` whose leaves add probability / n_trees."""
    tree = estimator.tree_
    value = tree.value[:, 0, :].astype("float64")  # (nodes, classes): weighted class counts or fractions
    proba = value / np.maximum(value.sum(axis=1, keepdims=True), 1e-300)  # what predict_proba returns at a leaf
    leaf_values = (proba[:, 1:2] if n_out == 1 else proba) / n_trees
    is_leaf = tree.children_left < 0
    return Tree(is_leaf, tree.children_left, tree.children_right, np.maximum(tree.feature, 0),
                tree.threshold.astype("float64"), leaf_values)


def forest_model(schema: FeatureSchema, fitted, *, max_params: int | None = DEFAULT_MAX_TREE_PARAMS,
                 name: str = "raretune_forest"):
    """A Keras model averaging the probabilities of fitted random forests or extra trees.

    Parameters
    ----------
    schema : FeatureSchema
        The schema whose :func:`~raretune.models.export.linear_features` the forests were
        fitted on.
    fitted : list of sklearn.ensemble.RandomForestClassifier or ExtraTreesClassifier
        One per fold, each fitted on every class of ``schema``.
    max_params : int or None, default=DEFAULT_MAX_TREE_PARAMS
        Most parameters the compiled model may have (None: no cap).
    name : str
        Model name.

    Returns
    -------
    keras.Model
        Same inputs and output as the search's networks; its predictions match the forests'
        ``predict_proba`` within float32 rounding, except for rows within a hair (2e-6
        relative) above a split threshold.

    Raises
    ------
    ModelTooLarge
        When the compiled model would have more than ``max_params`` parameters.
    """
    n_out = 1 if schema.n_classes == 2 else schema.n_classes
    if any(len(m.classes_) != schema.n_classes for m in fitted):
        raise ValueError("Every forest must be fitted on every class.")
    models = [[_forest_tree(tree, n_out, len(m.estimators_)) for tree in m.estimators_] for m in fitted]
    return compile_trees(schema, models, np.zeros((len(fitted), n_out)), None, max_params=max_params, name=name,
                         what="forest")
