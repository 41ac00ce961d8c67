"""Gradient-boosted trees, cross-fitted, compiled into plain Keras layers.

On many small tables boosted trees rank rare rows better than any network a short search
finds (axis-aligned thresholds, interactions for free). :func:`trees_model` compiles
scikit-learn ``HistGradientBoostingClassifier`` models fitted on the design matrix of
:func:`~raretune.models.export.linear_features` (one per fold, see
``raretune.tuning.cross_fit_trees``) into three built-in Keras layers, so the ensemble that holds them is still one ``.keras``
file that plain Keras loads and TensorFlow Serving runs:

1. ``tree_splits``: one ``Dense`` unit per split node, ``hard_sigmoid`` of a steep ramp:
   1 when the row goes left (value <= threshold), 0 when it goes right (see ``_MARGIN``);
2. ``tree_leaves``: per tree, an ``EinsumDense`` whose leaf unit sums its path's split
   indicators (+1 for a left turn, -1 for a right one) and passes ``relu`` of that sum
   minus the left turns plus one: exactly 1 for the row's leaf, 0 for every other;
3. ``tree_sums``: the leaves' values summed per fold model plus its baseline, then the
   sigmoid (softmax) and the average over folds, as for the search's networks.
"""

from __future__ import annotations

import numpy as np

from .._schema import FeatureSchema

__all__ = ["trees_model"]

#: Width of a split's ramp, relative to its threshold (in standardised units, at least 1).
#: A split sends a row left when its value is at most ``threshold + margin``, right from
#: ``threshold + 2 margin``, with ``margin = _MARGIN * max(1, |threshold|)``: rows exactly at
#: a threshold (an imputed median often is one) go left as in scikit-learn, with room to
#: spare for float32 rounding (about 1e-7 relative); only values within two margins above a
#: threshold can be scored differently.
_MARGIN = 1e-6


def _paths(nodes) -> tuple:
    """``(split node indices, [(leaf index, [(split position, went_left)]), ...])`` of one tree."""
    splits = [i for i in range(len(nodes)) if not nodes["is_leaf"][i]]
    position = {node: p for p, node in enumerate(splits)}
    leaves, stack = [], [(0, [])]
    while stack:
        node, path = stack.pop()
        if nodes["is_leaf"][node]:
            leaves.append((node, path))
        else:
            stack.append((int(nodes["left"][node]), path + [(position[node], True)]))
            stack.append((int(nodes["right"][node]), path + [(position[node], False)]))
    return splits, leaves


def trees_model(schema: FeatureSchema, fitted, *, name: str = "raretune_trees"):
    """A Keras model averaging the probabilities of fitted boosted-trees models.

    Parameters
    ----------
    schema : FeatureSchema
        The schema whose :func:`~raretune.models.export.linear_features` the models were fitted on.
    fitted : list of sklearn.ensemble.HistGradientBoostingClassifier
        Fitted on every class of ``schema``, on numeric features only (the design matrix).

    Returns
    -------
    keras.Model
        Same inputs and output as the search's networks; its predictions match the models'
        ``predict_proba`` up to float32 rounding, except for rows within a hair (2e-6
        relative, see ``_MARGIN``) above a split threshold.
    """
    import keras

    from .._inputs import encoded_inputs

    k = len(fitted)
    n_out = 1 if schema.n_classes == 2 else schema.n_classes
    if any(len(m.classes_) != schema.n_classes for m in fitted):
        raise ValueError("Every model must be fitted on every class.")
    forests = [[(predictor.nodes, j) for iteration in m._predictors for j, predictor in enumerate(iteration)]
               for m in fitted]
    parsed = [[(_paths(nodes), nodes, j) for nodes, j in forest] for forest in forests]
    n_trees = max(len(f) for f in parsed)
    n_splits = max([1] + [len(p[0][0]) for f in parsed for p in f])
    n_leaves = max([1] + [len(p[0][1]) for f in parsed for p in f])

    # graph columns of the design matrix: numbers, then each category's one-hot (OOV slot first)
    n_numeric = len(schema.numeric)
    column = list(range(n_numeric))
    width = n_numeric
    for vocabulary in schema.vocabularies:
        column += list(range(width + 1, width + 1 + len(vocabulary)))
        width += len(vocabulary) + 1

    split_kernel = np.zeros((width, k * n_trees * n_splits), dtype="float64")
    split_bias = np.zeros(k * n_trees * n_splits, dtype="float64")
    leaf_kernel = np.zeros((k * n_trees, n_splits, n_leaves))
    leaf_bias = np.zeros((k * n_trees, n_leaves))
    values = np.zeros((k, n_trees * n_leaves, n_out))
    baseline = np.stack([np.asarray(m._baseline_prediction, dtype="float64").reshape(-1) for m in fitted])
    for f, forest in enumerate(parsed):
        for t, ((splits, leaves), nodes, out_index) in enumerate(forest):
            tree = f * n_trees + t
            for p, node in enumerate(splits):  # hard_sigmoid(6s(thr - x) + 9) = clip(s(thr - x) + 2, 0, 1)
                unit = tree * n_splits + p
                threshold = float(nodes["num_threshold"][node])
                sharpness = 1.0 / (_MARGIN * max(1.0, abs(threshold)))
                split_kernel[column[int(nodes["feature_idx"][node])], unit] = -6.0 * sharpness
                split_bias[unit] = 6.0 * sharpness * threshold + 9.0
            for slot, (leaf, path) in enumerate(leaves):
                for p, left in path:
                    leaf_kernel[tree, p, slot] = 1.0 if left else -1.0
                leaf_bias[tree, slot] = 1.0 - sum(1 for _, left in path if left)
                values[f, t * n_leaves + slot, out_index] = float(nodes["value"][leaf])

    inputs, features = encoded_inputs(schema, None, one_hot=True)
    splits = keras.layers.Dense(k * n_trees * n_splits, activation="hard_sigmoid", name="tree_splits")(features)
    splits = keras.layers.Reshape((k * n_trees, n_splits), name="splits_per_tree")(splits)
    leaves = keras.layers.EinsumDense("btn,tnl->btl", output_shape=(k * n_trees, n_leaves), bias_axes="tl",
                                      activation="relu", name="tree_leaves")(splits)
    leaves = keras.layers.Reshape((k, n_trees * n_leaves), name="leaves_per_model")(leaves)
    logits = keras.layers.EinsumDense("bkm,kmo->bko", output_shape=(k, n_out), bias_axes="ko", name="tree_sums")(leaves)
    towers = keras.layers.Activation("sigmoid" if n_out == 1 else "softmax", name="towers")(logits)
    probability = keras.layers.GlobalAveragePooling1D(name="probability")(towers)
    model = keras.Model(inputs, probability, name=name)
    model.get_layer("tree_splits").set_weights([split_kernel.astype("float32"), split_bias.astype("float32")])
    model.get_layer("tree_leaves").set_weights([leaf_kernel.astype("float32"), leaf_bias.astype("float32")])
    model.get_layer("tree_sums").set_weights([values.astype("float32"), baseline.astype("float32")])
    return model
