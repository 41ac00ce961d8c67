"""Gradient-boosted trees compiled into plain Keras layers.

On many small tables boosted trees rank rare rows better than any network a short search
finds (axis-aligned thresholds, interactions for free). :func:`trees_model` compiles
scikit-learn ``HistGradientBoostingClassifier`` models fitted on the design matrix of
:func:`~raretune.models.export.linear_features` (one per fold, see
``raretune.tuning.cross_fit_trees``) into built-in Keras layers, so the ensemble that holds
them is still one ``.keras`` file that plain Keras loads and TensorFlow Serving runs:

1. ``tree_inputs``: a fixed gather (``keras.ops.take``) of the one feature column each
   split node tests; columns no tree splits on are never read, and the split layer needs
   two weights per split instead of one per split and feature;
2. ``tree_splits``: one unit per split node (an elementwise ``EinsumDense``),
   ``hard_sigmoid`` of a steep ramp: 1 when the row goes left (value <= threshold), 0 when
   it goes right (see ``_MARGIN``);
3. ``tree_leaves``: per tree, an ``EinsumDense`` whose leaf unit sums its path's split
   indicators (+1 for a left turn, -1 for a right one) and passes ``relu`` of that sum
   minus the left turns plus one: 1 for the row's leaf, 0 for every other;
4. ``tree_sums``: the leaves' values summed per fold model plus its baseline, then the
   sigmoid (softmax) and the average over folds, as for the search's networks.

:func:`compile_trees` builds these layers from :class:`Tree` node arrays, whatever fitted
them; random forests and extra trees (:mod:`._forests`) use it with no baseline and no
sigmoid.

The model matches scikit-learn's ``predict_proba`` within float32 rounding (not exactly:
the graph computes in float32). Its size grows with folds x trees x leaves squared;
``max_params`` refuses, with :class:`ModelTooLarge`, a compilation over the cap.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._schema import FeatureSchema

__all__ = ["DEFAULT_MAX_TREE_PARAMS", "ModelTooLarge", "Tree", "compile_trees", "trees_model"]

#: Largest compiled trees model :func:`trees_model` builds by default: 4,000,000 parameters,
#: about 16 MB of float32 weights (five folds of 100 default trees of 31 leaves on a binary
#: table need about 0.5 million).
DEFAULT_MAX_TREE_PARAMS = 4_000_000


class ModelTooLarge(ValueError):
    """The compiled model would have more parameters than allowed."""


#: Width of a split's ramp, relative to its threshold (in standardised units, at least 1).
#: A split sends a row left when its value is at most ``threshold + margin``, right from
#: ``threshold + 2 margin``, with ``margin = _MARGIN * max(1, |threshold|)``: rows exactly at
#: a threshold (an imputed median often is one) go left as in scikit-learn, with room to
#: spare for float32 rounding (about 1e-7 relative); only values within two margins above a
#: threshold can be scored differently.
_MARGIN = 1e-6


def _paths(is_leaf, left, right) -> tuple:
    """``(split node indices, [(leaf index, [(split position, went_left)]), ...])`` of one tree."""
    splits = [i for i in range(len(is_leaf)) if not is_leaf[i]]
    position = {node: p for p, node in enumerate(splits)}
    leaves, stack = [], [(0, [])]
    while stack:
        node, path = stack.pop()
        if is_leaf[node]:
            leaves.append((node, path))
        else:
            stack.append((int(left[node]), path + [(position[node], True)]))
            stack.append((int(right[node]), path + [(position[node], False)]))
    return splits, leaves


class Tree(NamedTuple):
    """One fitted tree in the compiler's terms (node arrays; rows with value <= threshold go left).

    ``leaf_values`` has one row per node and one column per output: what the leaf adds to
    its model's sum (a boosted tree's value in its class's column; a forest tree's class
    probabilities divided by the number of trees).
    """

    is_leaf: np.ndarray
    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    leaf_values: np.ndarray


def compiled_tree_params(n_models: int, n_trees: int, n_splits: int, n_leaves: int, n_out: int) -> int:
    """Parameters of the compiled graph: two per split, a path table and a value per leaf, baselines."""
    units = n_models * n_trees
    return (2 * units * n_splits + units * n_splits * n_leaves + units * n_leaves
            + units * n_leaves * n_out + n_models * n_out)


def trees_model(schema: FeatureSchema, fitted, *, max_params: int | None = DEFAULT_MAX_TREE_PARAMS,
                name: str = "raretune_trees"):
    """A Keras model averaging the probabilities of fitted boosted-trees models.

    Parameters
    ----------
    schema : FeatureSchema
        The schema whose :func:`~raretune.models.export.linear_features` the models were fitted on.
    fitted : list of sklearn.ensemble.HistGradientBoostingClassifier
        Fitted on every class of ``schema``, on numeric features only (the design matrix).
    max_params : int or None, default=DEFAULT_MAX_TREE_PARAMS
        Most parameters the compiled model may have (None: no cap).
    name : str
        Model name.

    Returns
    -------
    keras.Model
        Same inputs and output as the search's networks; its predictions match the models'
        ``predict_proba`` within float32 rounding, except for rows within a hair (2e-6
        relative, see ``_MARGIN``) above a split threshold.

    Raises
    ------
    ModelTooLarge
        When the compiled model would have more than ``max_params`` parameters (checked
        before any layer is built).
    """
    n_out = 1 if schema.n_classes == 2 else schema.n_classes
    if any(len(m.classes_) != schema.n_classes for m in fitted):
        raise ValueError("Every model must be fitted on every class.")
    models = [[_boosted_tree(predictor.nodes, j, n_out) for iteration in m._predictors
               for j, predictor in enumerate(iteration)] for m in fitted]
    baseline = np.stack([np.asarray(m._baseline_prediction, dtype="float64").reshape(-1) for m in fitted])
    return compile_trees(schema, models, baseline, "sigmoid" if n_out == 1 else "softmax", max_params=max_params,
                         name=name, what="boosted trees")


def _boosted_tree(nodes, out_index: int, n_out: int) -> Tree:
    """A ``HistGradientBoostingClassifier`` predictor's nodes; its value feeds output ``out_index``."""
    values = np.zeros((len(nodes), n_out))
    values[:, out_index] = nodes["value"]
    return Tree(nodes["is_leaf"].astype(bool), nodes["left"], nodes["right"], nodes["feature_idx"],
                nodes["num_threshold"].astype("float64"), values)


def compile_trees(schema: FeatureSchema, models, baseline, activation: str | None, *,
                  max_params: int | None = DEFAULT_MAX_TREE_PARAMS, name: str = "raretune_trees",
                  what: str = "trees"):
    """A Keras model: per model the sum of its trees' leaf values plus a baseline, ``activation``, averaged.

    Parameters
    ----------
    schema : FeatureSchema
        The schema whose design matrix the trees split on.
    models : list of list of Tree
        One list of trees per fitted model (fold).
    baseline : array-like of shape (n_models, n_out)
        Added to each model's sum.
    activation : {"sigmoid", "softmax"} or None
        Turns each model's sum into probabilities; ``None`` when the sum already is one
        (a forest's average).
    max_params : int or None
        Most parameters allowed (None: no cap); checked before any layer is built.
    name : str
        Model name.
    what : str
        The models' name in the :class:`ModelTooLarge` message.

    Returns
    -------
    keras.Model
    """
    import keras
    from keras import ops

    from .._inputs import encoded_inputs

    k = len(models)
    n_out = np.asarray(baseline).shape[1]
    parsed = [[(_paths(tree.is_leaf, tree.left, tree.right), tree) for tree in trees] for trees in models]
    n_trees = max(len(f) for f in parsed)
    n_splits = max([1] + [len(p[0][0]) for f in parsed for p in f])
    n_leaves = max([1] + [len(p[0][1]) for f in parsed for p in f])
    n_params = compiled_tree_params(k, n_trees, n_splits, n_leaves, n_out)
    if max_params is not None and n_params > max_params:
        raise ModelTooLarge(f"Compiled {what} would have {n_params:,} parameters, over the cap of "
                            f"{max_params:,} (max_params).")

    # graph columns of the design matrix: numbers, then each category's one-hot (OOV slot first)
    n_numeric = len(schema.numeric)
    column = list(range(n_numeric))
    width = n_numeric
    for vocabulary in schema.vocabularies:
        column += list(range(width + 1, width + 1 + len(vocabulary)))
        width += len(vocabulary) + 1

    units = k * n_trees * n_splits
    split_column = np.zeros(units, dtype="int32")  # padding units read column 0, output 0, lead nowhere
    split_scale = np.zeros(units, dtype="float64")
    split_bias = np.full(units, -3.0)  # hard_sigmoid(-3) = 0
    leaf_kernel = np.zeros((k * n_trees, n_splits, n_leaves))
    leaf_bias = np.zeros((k * n_trees, n_leaves))
    values = np.zeros((k, n_trees * n_leaves, n_out))
    for f, forest in enumerate(parsed):
        for t, ((splits, leaves), fitted_tree) in enumerate(forest):
            tree = f * n_trees + t
            for p, node in enumerate(splits):  # hard_sigmoid(6s(thr - x) + 9) = clip(s(thr - x) + 2, 0, 1)
                unit = tree * n_splits + p
                threshold = float(fitted_tree.threshold[node])
                sharpness = 1.0 / (_MARGIN * max(1.0, abs(threshold)))
                split_column[unit] = column[int(fitted_tree.feature[node])]
                split_scale[unit] = -6.0 * sharpness
                split_bias[unit] = 6.0 * sharpness * threshold + 9.0
            for slot, (leaf, path) in enumerate(leaves):
                for p, left in path:
                    leaf_kernel[tree, p, slot] = 1.0 if left else -1.0
                leaf_bias[tree, slot] = 1.0 - sum(1 for _, left in path if left)
                values[f, t * n_leaves + slot, :] = fitted_tree.leaf_values[leaf]

    inputs, features = encoded_inputs(schema, None, one_hot=True)
    tested = ops.take(features, split_column, axis=1)  # (batch, units): the value each split node tests
    splits = keras.layers.EinsumDense("bu,u->bu", output_shape=(units,), bias_axes="u", activation="hard_sigmoid",
                                      name="tree_splits")(tested)
    splits = keras.layers.Reshape((k * n_trees, n_splits), name="splits_per_tree")(splits)
    leaves = keras.layers.EinsumDense("btn,tnl->btl", output_shape=(k * n_trees, n_leaves), bias_axes="tl",
                                      activation="relu", name="tree_leaves")(splits)
    leaves = keras.layers.Reshape((k, n_trees * n_leaves), name="leaves_per_model")(leaves)
    logits = keras.layers.EinsumDense("bkm,kmo->bko", output_shape=(k, n_out), bias_axes="ko", name="tree_sums")(leaves)
    towers = keras.layers.Activation(activation or "linear", name="towers")(logits)
    probability = keras.layers.GlobalAveragePooling1D(name="probability")(towers)
    model = keras.Model(inputs, probability, name=name)
    model.get_layer("tree_splits").set_weights([split_scale.astype("float32"), split_bias.astype("float32")])
    model.get_layer("tree_leaves").set_weights([leaf_kernel.astype("float32"), leaf_bias.astype("float32")])
    model.get_layer("tree_sums").set_weights([values.astype("float32"), np.asarray(baseline, dtype="float32")])
    return model
