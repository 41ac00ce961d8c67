"""The training data of a trial: memory checks, resampled-row cache, batch sizes, balanced bags.

Plain training shuffles with :func:`training_batches`; the ``stream`` remedy's batches come
from :func:`raretune.resample.rebalance_arrays`, the one streaming rebalancer.
"""

from __future__ import annotations

import json
import weakref
from collections import OrderedDict

import keras_tuner as kt
import numpy as np

from .._memory import available_memory
from ..datasets import TabularData

__all__ = ["RowsCache", "balanced_bag_rows", "batch_size_choices", "check_resampling_memory",
           "estimate_resampled_bytes", "resampled_origin", "resampled_weights", "training_batches"]


def estimate_resampled_bytes(train: TabularData, sampler) -> int:
    """Rough peak bytes of resampling ``train`` with ``sampler`` (see ``resample_table``).

    The sampler works on an encoded float64 matrix (numeric columns plus one-hot blocks),
    then the rows are decoded into a table and into model inputs: about three float copies
    of the output rows plus the strings of the categorical columns.
    """
    counts = np.bincount(train.y, minlength=train.n_classes)
    for strategy in (getattr(sampler, "sampling_strategy", None),
                     getattr(getattr(sampler, "smote", None), "sampling_strategy", None)):
        if isinstance(strategy, dict):
            counts = counts.copy()
            for k, n in strategy.items():
                counts[k] = max(counts[k], n)
    n_out = int(counts.sum())
    width = len(train.numeric) + sum(train.features[c].nunique() for c in train.categorical)
    return int(n_out * (3 * 8 * width + 64 * len(train.categorical)))


def check_resampling_memory(need: int, what: str, budget: int | None = None, *, advice: str) -> None:
    """Refuse, with the figure, a resampling whose result would not fit in memory.

    Raises
    ------
    keras_tuner.errors.FailedTrialError
        In a search this fails the trial (the search goes on with other remedies).
    """
    budget = available_memory() // 2 if budget is None else budget
    if need > budget:
        raise kt.errors.FailedTrialError(
            f"{what} would need about {need / 2**30:.1f} GiB, over the {budget / 2**30:.1f} GiB budget; {advice}")


class RowsCache:
    """Resampled training rows of the last few (rows, settings, seed) keys.

    Hyperband continues a trial in a later round with the same settings and seed; the cache
    spares it a second resampling. Entries hold a weak reference to the rows they were made
    from, so a new table that happens to reuse a dead one's ``id`` never hits.

    Parameters
    ----------
    size : int
        Entries kept (least recently used dropped first).
    """

    def __init__(self, size: int):
        self.size = size
        self._entries = OrderedDict()

    def get(self, rows, settings: dict, seed, compute):
        """``compute()``, or its cached result for the same rows object, settings and seed."""
        key = (id(rows), json.dumps(settings, sort_keys=True), seed)
        entry = self._entries.get(key)
        if entry is not None and entry[0]() is rows:
            self._entries.move_to_end(key)
            return entry[1]
        result = compute()
        self._entries[key] = (weakref.ref(rows), result)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return result


def batch_size_choices(n_rows: int, *, candidates=(32, 64, 128, 256, 512, 1024), min_steps: int = 16, keep: int = 3) -> list:
    """The batch sizes to search: the ``keep`` largest that still give ``min_steps`` steps an epoch.

    A fixed 256-1024 leaves a 200-row training set one gradient step per epoch; a fixed 32
    makes a 140,000-row epoch slow. The choice depends only on the training split's size, so
    it is the same in every trial of a run.

    Examples
    --------
    >>> batch_size_choices(140_000), batch_size_choices(5_000), batch_size_choices(300)
    ([256, 512, 1024], [64, 128, 256], [32])
    """
    fitting = [b for b in candidates if n_rows / b >= min_steps] or [candidates[0]]
    return fitting[-keep:]


def balanced_bag_rows(y, eligible, ratio: float, rng) -> np.ndarray:
    """One balanced bag among the ``eligible`` rows: every rare-class row plus ``ratio``
    times as many majority rows drawn without replacement (majority of all of ``y``)."""
    majority = int(np.argmax(np.bincount(y)))
    minority_rows = np.flatnonzero(eligible & (y != majority))
    majority_rows = np.flatnonzero(eligible & (y == majority))
    n_major = int(min(majority_rows.size, round(ratio * minority_rows.size)))
    return np.concatenate([minority_rows, rng.choice(majority_rows, size=n_major, replace=False)])


def resampled_origin(train: TabularData, rows: TabularData, sampler) -> np.ndarray:
    """For each resampled row, the position of the training row it copies, or -1 if synthetic.

    Under-samplers and random over-sampling say which rows they kept (``sample_indices_``);
    other over-samplers return the training rows first, unchanged, then synthetic ones.
    """
    indices = getattr(sampler, "sample_indices_", None)
    if indices is not None and len(indices) == rows.n_rows:
        return np.asarray(indices, dtype="int64")
    n = train.n_rows
    origin = np.full(rows.n_rows, -1, dtype="int64")
    if rows.n_rows >= n and np.array_equal(rows.y[:n], train.y) and rows.features.iloc[:n].reset_index(
            drop=True).equals(train.features.reset_index(drop=True)):
        origin[:n] = np.arange(n)
    return origin


def resampled_weights(sample_weight, y, origin, y_resampled) -> np.ndarray:
    """Sample weights of resampled rows: a copied row keeps its training row's weight, a
    synthetic row gets the mean weight of its class's training rows.

    Examples
    --------
    >>> resampled_weights([1.0, 3.0, 2.0, 4.0], [0, 0, 1, 1], [0, 2, 3, -1], [0, 1, 1, 1]).tolist()
    [1.0, 2.0, 4.0, 3.0]
    """
    sample_weight, y = np.asarray(sample_weight, dtype="float64"), np.asarray(y)
    origin, y_resampled = np.asarray(origin), np.asarray(y_resampled)
    class_mean = np.array([sample_weight[y == k].mean() if (y == k).any() else 1.0
                           for k in range(int(max(y.max(), y_resampled.max())) + 1)])
    return np.where(origin >= 0, sample_weight[np.maximum(origin, 0)], class_mean[y_resampled])


#: Up to this many rows tf.data shuffles rows in a buffer of all of them every epoch; above,
#: whole batches are gathered from a fresh permutation (no per-row work inside tf.data).
_ROW_SHUFFLE_MAX = 250_000


def training_batches(arrays, n: int, batch_size: int, seed):
    """Batches of ``arrays`` (a nest of row-aligned arrays) in a new random order every epoch."""
    import tensorflow as tf

    from ..resample._stream import shuffled_batches

    if n > _ROW_SHUFFLE_MAX:
        return shuffled_batches(arrays, batch_size=batch_size, seed=seed)
    dataset = tf.data.Dataset.from_tensor_slices(arrays).shuffle(n, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
