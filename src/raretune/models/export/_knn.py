"""k-nearest neighbours over the stored fold training rows, as plain Keras layers.

A cross-fitted k-nearest-neighbours model is its training rows: :class:`NeighbourStore`
holds the search rows' design matrix (:func:`~raretune.models.export.linear_features`),
each row's class vote and fold, in fold order, and fold ``f``'s model answers from the
rows outside fold ``f``. :func:`neighbour_probabilities` is the reference in NumPy (float64), used for the
out-of-fold scores; :func:`knn_model` compiles the same store into built-in Keras layers, so
the saved ensemble stays one ``.keras`` file that plain Keras loads:

1. ``knn_rows``: a ``Dense`` layer whose kernel is ``2`` times the stored rows and whose
   bias is minus their squared norms; subtracting the query's squared norm gives every
   negated squared distance at once (``-(||a||^2 - 2 a.b + ||b||^2)``, one matrix product).
   The rows sit in one block per fold, padded to the largest fold (padding: a huge
   negative bias, never picked);
2. ``top_k`` within each block: every fold's own ``n_neighbors`` nearest rows;
3. ``knn_folds``: an ``EinsumDense`` copying those ``folds x n_neighbors`` candidates once
   per fold model and subtracting a huge constant from the model's held-out block; a
   second ``top_k`` then gives each fold model its ``n_neighbors`` nearest training rows
   (exact: they are among the nearest of each other block). Each predicted row holds one
   distance per stored row, not one per stored row and fold;
4. ``knn_votes``: an ``Embedding`` from stored row to its class votes; the votes are summed
   (weighted by ``1 / max(distance, DISTANCE_FLOOR)`` with ``weights="distance"``);
5. ``knn_balance``: each fold's class shares scaled by ``1 / (class total in its training
   rows)``, normalised, then averaged over folds as for every other candidate.

Balanced votes (step 5) make a neighbour of the rare class count as much as all the common
class's rows over the rare class's rows, the same uniform class prior as the balanced
regressions and forests; without them the scores equal scikit-learn's
``KNeighborsClassifier(algorithm="brute").predict_proba`` on the same features.

Ties in distance: the stored row that comes first (fold order, then search-row order) is
taken, in the graph (``top_k`` keeps the lower index first, within and across blocks) and
in the reference (a stable order); scikit-learn breaks such ties in
no documented order. The graph computes in float32: rows whose ``n_neighbors``-th and next
neighbours lie within float32 rounding (about 1e-6 times the squared norms) of each other
can be scored differently from the reference.

Size: the graph stores about ``n x (width + classes + 1)`` values (:func:`knn_values`) and,
per predicted row, holds ``n`` distances, which is what its memory and time grow with.
:func:`knn_over_cap` checks both against their caps.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._schema import FeatureSchema
from ._trees import ModelTooLarge

__all__ = ["DEFAULT_MAX_KNN_DISTANCES", "DEFAULT_MAX_KNN_VALUES", "DISTANCE_FLOOR", "NeighbourStore", "knn_model",
           "knn_over_cap", "knn_values", "neighbour_probabilities", "neighbour_store"]

#: Most values a compiled k-nearest-neighbours model stores by default: 500,000 float32
#: values, 2 MB (5,000 search rows of 95 features, 2,000 of 245).
DEFAULT_MAX_KNN_VALUES = 500_000

#: Most stored rows, hence distances per predicted row, of a compiled k-nearest-neighbours
#: model by default: 20 KB of float32 per predicted row in each of the graph's largest
#: tensors. Predicting 4,000 rows from 5,000 stored rows of 20 features (5 folds) took 1.0 s
#: on two cores shared with other jobs (2,000 stored rows: 0.55 s).
DEFAULT_MAX_KNN_DISTANCES = 5_000

#: Smallest distance a ``weights="distance"`` vote is divided by (standardised units): a
#: duplicate of a stored row gets weight 100, not infinity, and the graph's float32 rounding
#: of tiny distances (about 1e-3) does not change it.
DISTANCE_FLOOR = 1e-2

#: Added to the squared distances of a fold's held-out rows (subtracted from their negation)
#: so that its model never picks them.
_EXCLUDED = 1e30


class NeighbourStore(NamedTuple):
    """Cross-fitted k-nearest neighbours: the rows, their votes and folds, fold ``f`` answering
    from the rows outside fold ``f``.

    ``rows`` (n, width) is the design matrix; ``votes`` (n, classes) each row's one-hot label
    times its sample weight; ``fold_ids`` (n,) its fold, 0 .. K-1; ``class_scale`` (K,
    classes) what fold ``f``'s class sums are multiplied by (``1 / class total`` of its
    training rows when balanced, else 1); ``n_neighbors`` the neighbours per fold model;
    ``weights`` ``"uniform"`` or ``"distance"``.
    """

    rows: np.ndarray
    votes: np.ndarray
    fold_ids: np.ndarray
    class_scale: np.ndarray
    n_neighbors: int
    weights: str


def neighbour_store(rows, y, fold_ids, *, n_classes: int, n_neighbors: int, weights: str = "distance",
                    balanced: bool = True, sample_weight=None) -> NeighbourStore:
    """The :class:`NeighbourStore` of labelled rows split into folds.

    Parameters
    ----------
    rows : array-like of shape (n, width)
        The design matrix.
    y : array-like of int, shape (n,)
        Class indices, 0 .. n_classes - 1.
    fold_ids : array-like of int, shape (n,)
        Fold of each row, 0 .. K-1, K >= 2.
    n_classes : int
    n_neighbors : int
        Neighbours per fold model; at most the fewest training rows of a fold.
    weights : {"uniform", "distance"}, default="distance"
    balanced : bool, default=True
        Scale each fold's class sums by the inverse of the class's total vote in its training rows.
    sample_weight : array-like of shape (n,) or None
        Each row's vote (default 1).

    Returns
    -------
    NeighbourStore
        Rows in fold order (stable), which is the order ties in distance go by.
    """
    ids = np.asarray(fold_ids, dtype=int)
    order = np.argsort(ids, kind="stable")
    rows, y, ids = np.asarray(rows, dtype="float64")[order], np.asarray(y, dtype=int)[order], ids[order]
    k = int(ids.max()) + 1
    if weights not in ("uniform", "distance"):
        raise ValueError(f"Invalid `weights`. Expected 'uniform' or 'distance'. Received: weights={weights!r}")
    if k < 2:
        raise ValueError(f"Invalid `fold_ids`. Expected at least 2 folds. Received: {k} fold.")
    fewest = min(int(np.sum(ids != f)) for f in range(k))
    if not 1 <= n_neighbors <= fewest:
        raise ValueError(f"Invalid `n_neighbors`. Expected 1 to {fewest} (the fewest training rows of a fold). "
                         f"Received: n_neighbors={n_neighbors}")
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype="float64")[order]
    votes = np.zeros((len(y), n_classes))
    votes[np.arange(len(y)), y] = w
    scale = np.ones((k, n_classes))
    if balanced:  # a class absent from a fold's training rows gets no votes there: its scale does not matter
        totals = np.stack([votes[ids != f].sum(axis=0) for f in range(k)])
        scale = 1.0 / np.where(totals > 0, totals, 1.0)
    return NeighbourStore(rows, votes, ids, scale, int(n_neighbors), weights)


def _class_shares(store: NeighbourStore, fold: int, sums: np.ndarray) -> np.ndarray:
    """Fold ``fold``'s class sums scaled by its ``class_scale`` and normalised to probabilities."""
    scaled = sums * store.class_scale[fold]
    return scaled / np.maximum(scaled.sum(axis=1, keepdims=True), 1e-300)


def neighbour_probabilities(store: NeighbourStore, X, fold: int, *, batch_size: int = 2048) -> np.ndarray:
    """Class probabilities of ``X`` from fold ``fold``'s model (the rows outside fold ``fold``).

    The NumPy reference of :func:`knn_model` (in float64); ties in distance go to the
    stored row that comes first.

    Returns
    -------
    ndarray of shape (n_queries, n_classes)
    """
    X = np.asarray(X, dtype="float64")
    k = store.n_neighbors
    train = np.flatnonzero(store.fold_ids != fold)
    rows, votes = store.rows[train], store.votes[train]
    norms = np.sum(rows ** 2, axis=1)
    out = np.zeros((len(X), votes.shape[1]))
    for start in range(0, len(X), batch_size):
        a = X[start:start + batch_size]
        squared = np.maximum(np.sum(a ** 2, axis=1)[:, None] - 2.0 * a @ rows.T + norms[None, :], 0.0)
        # the k nearest, ties to the lower stored index: every row closer than the k-th
        # distance, then the first rows at exactly that distance
        kth = np.partition(squared, k - 1, axis=1)[:, k - 1:k]
        closer = squared < kth
        at = squared == kth
        chosen = closer | (at & (np.cumsum(at, axis=1) <= k - closer.sum(axis=1, keepdims=True)))
        weight = chosen.astype("float64")
        if store.weights == "distance":
            weight /= np.maximum(np.sqrt(squared), DISTANCE_FLOOR)
        out[start:start + batch_size] = _class_shares(store, fold, weight @ votes)
    return out


def knn_values(n_rows: int, width: int, n_folds: int, n_classes: int, n_neighbors: int) -> int:
    """Values stored by :func:`knn_model` over ``n_rows`` stored rows (padding included):
    rows and their norms, votes, the candidates' fold masks, class scales."""
    n_candidates = n_folds * min(n_neighbors, n_rows // n_folds)
    return n_rows * (width + 1 + n_classes) + n_folds * (1 + n_candidates) + n_folds * n_classes


def knn_over_cap(n_rows: int, width: int, n_folds: int, n_classes: int, n_neighbors: int, *,
                 max_values: int | None = DEFAULT_MAX_KNN_VALUES,
                 max_distances: int | None = DEFAULT_MAX_KNN_DISTANCES) -> str | None:
    """Why k-nearest neighbours over ``n_rows`` stored rows would be too large, or ``None``.

    ``max_values`` caps the stored values (:func:`knn_values`), ``max_distances`` the
    distances per predicted row (one per stored row); ``None``: no cap.
    """
    n_values = knn_values(n_rows, width, n_folds, n_classes, n_neighbors)
    if max_values is not None and n_values > max_values:
        return f"k-nearest neighbours would store {n_values:,} values, over the cap of {max_values:,} (max_values)."
    if max_distances is not None and n_rows > max_distances:
        return (f"k-nearest neighbours would compute {n_rows:,} distances per row, over the cap of "
                f"{max_distances:,} (max_distances).")
    return None


def knn_model(schema: FeatureSchema, store: NeighbourStore, *, max_values: int | None = DEFAULT_MAX_KNN_VALUES,
              max_distances: int | None = DEFAULT_MAX_KNN_DISTANCES, name: str = "raretune_knn"):
    """A Keras model averaging the fold models of a :class:`NeighbourStore`.

    Parameters
    ----------
    schema : FeatureSchema
        The schema whose :func:`~raretune.models.export.linear_features` the store holds.
    store : NeighbourStore
    max_values : int or None, default=DEFAULT_MAX_KNN_VALUES
        Most values the model may store (None: no cap); checked before any layer is built.
    max_distances : int or None, default=DEFAULT_MAX_KNN_DISTANCES
        Most distances (stored rows, padding included) per predicted row (None: no cap).
    name : str
        Model name.

    Returns
    -------
    keras.Model
        Same inputs and output as the search's networks; its predictions are the average
        over folds of :func:`neighbour_probabilities` within float32 rounding (see the
        module's note on ties).

    Raises
    ------
    ModelTooLarge
        When the model would be over either cap (:func:`knn_over_cap`).
    """
    import keras
    from keras import ops

    from .._inputs import encoded_inputs

    n, width = store.rows.shape
    n_folds, n_classes = store.class_scale.shape
    k = store.n_neighbors
    block = int(np.bincount(store.fold_ids, minlength=n_folds).max())  # rows per fold block, padded
    k_block = min(k, block)
    problem = knn_over_cap(n_folds * block, width, n_folds, n_classes, k, max_values=max_values,
                           max_distances=max_distances)
    if problem is not None:
        raise ModelTooLarge(problem)
    if n_classes != schema.n_classes:
        raise ValueError("The store's votes must have one column per class of the schema.")

    inputs, features = encoded_inputs(schema, None, one_hot=True)
    if schema.vocabularies:  # the graph's indicators start with an out-of-vocabulary slot the design matrix lacks
        column, offset = list(range(len(schema.numeric))), len(schema.numeric)
        for vocabulary in schema.vocabularies:
            column += list(range(offset + 1, offset + 1 + len(vocabulary)))
            offset += len(vocabulary) + 1
        features = ops.take(features, np.asarray(column, dtype="int32"), axis=1)
    # negated squared distances throughout: top_k takes the largest
    query_norm = ops.sum(ops.square(features), axis=-1, keepdims=True)
    closeness = ops.subtract(keras.layers.Dense(n_folds * block, trainable=False, name="knn_rows")(features),
                             query_norm)
    blocks = keras.layers.Reshape((n_folds, block), name="knn_blocks")(closeness)
    best, within = ops.top_k(blocks, k_block)  # (batch, folds, k_block): each block's nearest, lower index first
    candidates = keras.layers.Reshape((n_folds * k_block,), name="knn_candidates")(best)
    slot = ops.reshape(ops.add(within, (np.arange(n_folds, dtype="int32") * block)[:, None]), (-1, n_folds * k_block))
    per_fold = keras.layers.EinsumDense("bm,f->bfm", output_shape=(n_folds, n_folds * k_block), bias_axes="fm",
                                        trainable=False, name="knn_folds")(candidates)
    nearest, position = ops.top_k(per_fold, k)  # (batch, folds, k); ties: lower block, then lower index
    index = ops.take_along_axis(ops.repeat(ops.expand_dims(slot, 1), n_folds, axis=1), position, axis=-1)
    votes = keras.layers.Embedding(n_folds * block, n_classes, trainable=False, name="knn_votes")(index)
    if store.weights == "distance":
        distance = ops.sqrt(ops.maximum(ops.negative(nearest), 0.0))
        votes = ops.multiply(votes, ops.expand_dims(ops.divide(1.0, ops.maximum(distance, DISTANCE_FLOOR)), -1))
    sums = keras.layers.EinsumDense("bfc,fc->bfc", output_shape=(n_folds, n_classes), trainable=False,
                                    name="knn_balance")(ops.sum(votes, axis=2))
    shares = ops.divide(sums, ops.maximum(ops.sum(sums, axis=-1, keepdims=True), 1e-30))
    if n_classes == 2:
        shares = shares[:, :, 1:]
    probability = keras.layers.GlobalAveragePooling1D(name="probability")(shares)
    model = keras.Model(inputs, probability, name=name)
    # fold f's rows go to slots f * block ...; the rest of its block is padding
    slots = np.concatenate([f * block + np.arange(np.sum(store.fold_ids == f)) for f in range(n_folds)])
    kernel = np.zeros((width, n_folds * block))
    kernel[:, slots] = 2.0 * store.rows.T
    bias = np.full(n_folds * block, -_EXCLUDED)
    bias[slots] = -np.sum(store.rows ** 2, axis=1)
    votes = np.zeros((n_folds * block, n_classes))
    votes[slots] = store.votes
    held_out = np.repeat(np.arange(n_folds), k_block)[None, :] == np.arange(n_folds)[:, None]  # (fold model, candidate)
    model.get_layer("knn_rows").set_weights([kernel.astype("float32"), bias.astype("float32")])
    model.get_layer("knn_folds").set_weights([np.ones(n_folds, dtype="float32"),
                                              np.where(held_out, -_EXCLUDED, 0.0).astype("float32")])
    model.get_layer("knn_votes").set_weights([votes.astype("float32")])
    model.get_layer("knn_balance").set_weights([store.class_scale.astype("float32")])
    return model
