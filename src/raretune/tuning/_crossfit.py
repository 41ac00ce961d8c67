"""Cross-fitting: K networks on K folds (stratified, grouped or time-blocked), trained as one
stacked model, scored out of fold.

For small tables every trial trains tower k of a stacked network on the rows outside fold
k (the remedy applied to those rows only), and is scored on the pooled out-of-fold
predictions, so every rare row counts in the choice between trials.
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd

from ..datasets import TabularData
from ._callbacks import EpochRelay, validation_logs
from ..resample import rebalance_arrays
from ._data import balanced_bag_rows

__all__ = ["CrossFitter", "fold_assignment"]


def fold_assignment(y, folds: int, *, random_state=None, groups=None, order=None) -> np.ndarray:
    """Cross-fitting fold ids (0 to ``folds`` - 1) of the rows with labels ``y``.

    Three layouts, by what is given:

    - neither ``groups`` nor ``order``: stratified K-fold; every class is spread over the
      folds as evenly as it can be, so each fold's held-out rows contain the rare class.
    - ``groups``: stratified group K-fold (scikit-learn's ``StratifiedGroupKFold``): no group
      (customer, card) has rows in two folds, so no network is scored on a customer it
      trained on; class shares per fold are as even as whole groups allow.
    - ``order`` (each row's time): blocked folds, ``folds`` contiguous blocks of about equal
      rows in time order; rows sharing a time share a block. With ``groups`` as well, each
      group is placed by its earliest row and kept whole.

    Why blocked and not forward chaining: cross-fitting scores every row by the network that
    did not train on it, and the trial is judged on all those out-of-fold scores. Forward
    chaining (train on blocks before k, score block k) leaves the first block with no
    network that has not seen it, so its rows, rare ones included, would get no score and the
    contract "every row has an out-of-fold score" would break. Blocked folds keep that
    contract and keep each held-out block contiguous in time (no neighbouring, near-duplicate
    rows on both sides of a fold); a network then trains on blocks after the one it scores.
    That is the price; the out-of-time guarantee comes from the split
    (:func:`raretune.datasets.time_split`), whose validation and test rows all come after
    training. ``random_state`` is ignored when ``order`` is given (blocks are fixed by time).

    Parameters
    ----------
    y : array-like of int, shape (n_rows,)
        Class index of each row.
    folds : int
        Number of folds, at least 2.
    random_state : int or None
        Seed of the shuffle (stratified and grouped folds).
    groups : array-like, shape (n_rows,), optional
        Each row's group; no missing values.
    order : array-like of numbers, shape (n_rows,), optional
        Each row's time (or any sortable position in time).

    Returns
    -------
    numpy.ndarray of int64, shape (n_rows,)

    Raises
    ------
    ValueError
        When ``folds`` is below 2 or above the smallest class count (rows, or groups holding
        the class), a length differs from ``y``'s, or a fold would hold no row of a class.

    Examples
    --------
    >>> ids = fold_assignment(np.r_[np.zeros(20, int), np.ones(5, int)], 5, random_state=0)
    >>> np.bincount(ids[20:]).tolist()
    [1, 1, 1, 1, 1]
    >>> fold_assignment([0, 1, 0, 1, 0, 1], 2, order=[5, 4, 3, 2, 1, 0]).tolist()
    [1, 1, 1, 0, 0, 0]
    """
    y = np.asarray(y)
    group_ids = None if groups is None else _codes(groups, y.size, "groups")
    if order is not None:
        order = np.asarray(order, dtype="float64")
        if order.shape != y.shape or np.isnan(order).any():
            raise ValueError(f"fold_assignment needs one time per row in order ({y.size}), none missing.")
    n_classes = int(y.max()) + 1 if y.size else 0
    if group_ids is None:
        smallest, unit = (int(np.bincount(y).min()) if y.size else 0), "class count"
    else:
        held = np.zeros((group_ids.max() + 1, n_classes), dtype=bool)
        held[group_ids, y] = True
        smallest, unit = int(held.sum(axis=0).min()), "number of groups holding a class"
    if folds < 2 or folds > smallest:
        raise ValueError(f"fold_assignment needs 2 <= folds <= the smallest {unit} ({smallest}); got {folds}.")
    if order is not None:
        ids = _blocked_folds(order, folds, group_ids)
    elif group_ids is not None:
        from sklearn.model_selection import StratifiedGroupKFold

        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=random_state)
        ids = _ids_of(splitter.split(np.zeros((y.size, 1)), y, group_ids), y.size)
    else:
        from sklearn.model_selection import StratifiedKFold

        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
        ids = _ids_of(splitter.split(np.zeros((y.size, 1)), y), y.size)
    for k in range(folds):
        present = np.bincount(y[ids == k], minlength=n_classes) > 0
        if not present.all():
            raise ValueError(f"Fold {k} holds no row of class {int(np.argmin(present))}; use fewer folds.")
    return ids


def _codes(values, n_rows: int, name: str) -> np.ndarray:
    """Integer codes 0..n-1 of ``values`` (one per row, none missing)."""
    codes, _ = pd.factorize(pd.Series(np.asarray(values, dtype=object)), sort=False)
    if codes.shape != (n_rows,) or (codes < 0).any():
        raise ValueError(f"fold_assignment needs one value per row in {name} ({n_rows}), none missing.")
    return codes


def _ids_of(splits, n_rows: int) -> np.ndarray:
    ids = np.empty(n_rows, dtype="int64")
    for k, (_, held_out) in enumerate(splits):
        ids[held_out] = k
    return ids


def _blocked_folds(order: np.ndarray, folds: int, group_ids) -> np.ndarray:
    """Fold ids of ``folds`` contiguous time blocks of about equal rows.

    The units placed are the groups (at their earliest time) or, without groups, the
    distinct times; a unit goes to the block its middle row falls in.
    """
    if group_ids is None:
        times, unit_of_row = np.unique(order, return_inverse=True)
    else:
        unit_of_row = group_ids
        times = np.full(group_ids.max() + 1, np.inf)
        np.minimum.at(times, group_ids, order)
    rows = np.bincount(unit_of_row, minlength=times.size)
    by_time = np.argsort(times, kind="stable")
    middle = np.cumsum(rows[by_time]) - rows[by_time] / 2
    block = np.empty(times.size, dtype="int64")
    block[by_time] = np.minimum((middle * folds / order.size).astype("int64"), folds - 1)
    return block[unit_of_row]


class CrossFitter:
    """The cross-fitting side of a tabular hypermodel.

    Parameters
    ----------
    hypermodel : TabularHyperModel
        For the schema, the folds, the seed, the remedy's training rows and labels.
    """

    def __init__(self, hypermodel):
        self.hypermodel = hypermodel
        self._folds = None     # (rows, ids, parts) of the last rows seen
        self._inputs = None    # (rows, model inputs)
        self._view = None      # (model, towers view)
        self._schemas = None   # (rows, per-fold schemas)

    def folds_of(self, train: TabularData):
        """``(fold ids, parts)`` of ``train``: part k holds the rows outside fold k.

        Seeded by the run's seed alone, so every trial sees the same folds (paired
        comparisons); kept for the last ``train`` seen.
        """
        if self._folds is None or self._folds[0] is not train:
            hm = self.hypermodel
            layout = hm.fold_layout if train is hm.rows else {}  # groups / time order of the search rows
            ids = fold_assignment(train.y, hm.folds, random_state=hm.random_state, **layout)
            self._folds = (train, ids, [train.take(np.flatnonzero(ids != k)) for k in range(hm.folds)])
        return self._folds[1], self._folds[2]

    def schemas(self, rows: TabularData) -> list:
        """One feature schema per tower, schema k learnt on the rows outside fold k of ``rows``."""
        from ..models import fold_schemas

        if getattr(self, "_schemas", None) is None or self._schemas[0] is not rows:
            ids, _ = self.folds_of(rows)
            self._schemas = (rows, fold_schemas(rows, ids))
        return self._schemas[1]

    def towers(self, model):
        """A model with every tower's output, ``(batch, towers, outputs)``, sharing ``model``'s layers."""
        if self._view is None or self._view[0] is not model:
            self._view = (model, keras.Model(model.inputs, model.get_layer("towers").output))
        return self._view[1]

    def out_of_fold(self, model, train: TabularData, *, batch_size: int = 4096) -> np.ndarray:
        """Each row's prediction by the tower that did not train on it.

        Returns shape (n,) for two classes, (n, K) otherwise, as float64.
        """
        ids, _ = self.folds_of(train)
        every = self.towers(model)
        if self._inputs is None or self._inputs[0] is not train:
            self._inputs = (train, self.hypermodel.schema.inputs(train.features))
        inputs = self._inputs[1]
        # cross-fitting is for small tables: an eager call per chunk, no predict function to trace
        chunks = []
        for start in range(0, len(ids), batch_size):
            chunk = {k: v[start:start + batch_size] for k, v in inputs.items()}
            chunks.append(keras.ops.convert_to_numpy(every(chunk, training=False)))
        outputs = np.concatenate(chunks).astype("float64")  # (rows, towers, outputs)
        proba = outputs[np.arange(len(ids)), ids]
        return proba[:, 0] if proba.shape[1] == 1 else proba

    def fit(self, model, train, settings, *, batch_size, seed, callbacks, epochs, initial_epoch):
        """Train tower k on the rows outside fold k; score the pooled out-of-fold predictions.

        The towers are one stacked network trained in one ``fit``: each row carries one
        sample weight per tower, zero for the towers that must not see it (its own fold's
        tower; for a resampled fold, every other tower), and batches are scaled so that each
        tower still gets about ``batch_size`` rows a step. The tuner's callbacks see the
        saved model and exact out-of-fold scores each epoch, as if ``model.fit`` had run.
        """
        ids, parts = self.folds_of(train)
        weight = self.hypermodel.weights_of(train)
        view = self.towers(model)
        view.compile(optimizer=keras.optimizers.Adam(learning_rate=float(model.optimizer.learning_rate)),
                     loss=model.loss)
        fold_seeds = [None if seed is None else (seed + 7919 * (k + 1)) % (2**31 - 1) for k in range(len(parts))]
        history = keras.callbacks.History()
        callback_list = keras.callbacks.CallbackList([*callbacks, history], model=model, epochs=epochs)
        objective = self.hypermodel.objective_

        def score(epoch):
            return validation_logs(objective, train.y, self.out_of_fold(model, train), epoch)

        relay = EpochRelay(callback_list, model, score)
        callback_list.on_train_begin()
        if settings["strategy"] == "balanced_bagging":  # fresh bags every epoch
            base = 0 if seed is None else seed
            for epoch in range(initial_epoch, epochs):
                dataset, steps = self._balanced_bags(train, ids, settings, batch_size, [base, epoch], weight)
                view.fit(dataset, epochs=epoch + 1, initial_epoch=epoch, steps_per_epoch=steps, callbacks=[relay],
                         verbose=0, shuffle=False)
                if model.stop_training:
                    break
        else:
            dataset, steps = self._fold_dataset(train, ids, parts, settings, batch_size=batch_size, seeds=fold_seeds,
                                                seed=seed, sample_weight=weight)
            view.fit(dataset, epochs=epochs, initial_epoch=initial_epoch, steps_per_epoch=steps, callbacks=[relay],
                     verbose=0, shuffle=False)
        callback_list.on_train_end()
        return history

    def _tower_labels(self, y, strategy, n_folds):
        """Labels repeated for every tower: (n, towers, 1), (n, towers) or one-hot (n, towers, K)."""
        labels = self.hypermodel.labels(y, strategy)
        if labels.ndim == 1:  # class indices (sparse multiclass)
            return np.repeat(labels[:, None], n_folds, axis=1)
        return np.repeat(labels[:, None, :], n_folds, axis=1)

    def _fold_dataset(self, train, ids, parts, settings, *, batch_size, seeds, seed, sample_weight=None):
        """``(dataset, steps per epoch)`` for all towers: rows with a per-tower sample weight.

        Without a sampler the rows are ``train``'s own, weighted 0 for their own fold's
        tower. With a sampler each fold's resampled rows are stacked, weighted only for
        that fold's tower (a synthetic row never reaches a tower whose held-out fold it
        was made from). Row weights (class weights) come from each tower's own rows;
        ``stream`` draws its minority share into every batch. ``sample_weight`` (of
        ``train``'s rows; resampled rows carry theirs) multiplies every tower's weights.
        """
        import tensorflow as tf

        from ..remedies import get_remedy

        hm = self.hypermodel
        n_folds = len(parts)
        strategy = settings["strategy"]
        remedy = get_remedy(strategy)
        if remedy.resamples:
            resampled = [hm.training_rows_weighted(part, settings, seed=s,
                                                   sample_weight=None if sample_weight is None else sample_weight[ids != k])
                         for k, (part, s) in enumerate(zip(parts, seeds))]
            tables = [t for t, _ in resampled]
            row_weight = None if sample_weight is None else np.concatenate([w for _, w in resampled])
            owner = np.concatenate([np.full(t.n_rows, k) for k, t in enumerate(tables)])
            rows = tables[0].with_rows(pd.concat([t.features for t in tables], ignore_index=True),
                                       np.concatenate([t.y for t in tables]))
            mask = owner[:, None] == np.arange(n_folds)[None, :]
            scale = n_folds
        else:
            rows, row_weight = train, sample_weight
            mask = ids[:, None] != np.arange(n_folds)[None, :]
            scale = n_folds / (n_folds - 1)
        per_tower = mask.astype("float32")
        for k in range(n_folds):  # each tower's weights from its own training rows
            per_tower[mask[:, k], k] *= remedy.row_weights(settings, rows.y[mask[:, k]], rows.n_classes)
        if row_weight is not None:
            per_tower *= row_weight.astype("float32")[:, None]
        inputs = hm.schema.inputs(rows.features)
        labels = self._tower_labels(rows.y, strategy, n_folds)
        if strategy == "stream":
            steps = -(-rows.n_rows // batch_size)
            return rebalance_arrays((inputs, labels, per_tower), rows.y, share=float(settings["stream_share"]),
                                    batch_size=batch_size, seed=seed).repeat(), steps
        total_batch = int(min(rows.n_rows, round(batch_size * scale)))
        # an endless reshuffled stream of full batches: one traced train step (no short last batch)
        dataset = tf.data.Dataset.from_tensor_slices((inputs, labels, per_tower)).shuffle(
            rows.n_rows, seed=seed, reshuffle_each_iteration=True)
        steps = -(-rows.n_rows // total_batch)
        return dataset.repeat().batch(total_batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE), steps

    def _balanced_bags(self, train, ids, settings, batch_size, seed, sample_weight=None):
        """One epoch of balanced bags, ``(dataset, steps)``: tower k's bag is every rare row
        outside fold k plus ``bagging_neg_ratio`` times as many other rows outside fold k,
        drawn afresh."""
        import tensorflow as tf

        n_folds = int(ids.max()) + 1
        rng = np.random.default_rng(seed)
        mask = np.zeros((train.n_rows, n_folds), dtype="float32")
        for k in range(n_folds):
            mask[balanced_bag_rows(train.y, ids != k, float(settings["bagging_neg_ratio"]), rng), k] = 1.0
        rows = np.flatnonzero(mask.any(axis=1))
        inputs = {name: v[rows] for name, v in self.hypermodel.schema.inputs(train.features).items()}
        labels = self._tower_labels(train.y[rows], "balanced_bagging", n_folds)
        bag_size = mask.sum(axis=0).mean()
        total_batch = int(min(rows.size, round(batch_size * rows.size / max(bag_size, 1))))
        weights = mask[rows] if sample_weight is None else mask[rows] * sample_weight[rows].astype("float32")[:, None]
        dataset = tf.data.Dataset.from_tensor_slices((inputs, labels, weights)).shuffle(rows.size,
                                                                                            seed=seed[0] + seed[1])
        return dataset.batch(total_batch, drop_remainder=True), max(1, rows.size // total_batch)
