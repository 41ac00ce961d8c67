"""Rebalance a ``tf.data`` stream of ``(features, label)`` without materialising it.

One pass counts the classes and keeps the positive rows (they are rare); their neighbours
are found once; then the data stream: negative rows flow through untouched, synthetic
positives are made inside the pipeline and mixed in. TensorFlow is imported on the first
call, so importing :mod:`raretune.resample` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._errors import DataError
from .._validation import check_number, check_option

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["rebalance"]

_METHODS = ("smote", "random", "undersample")
_SCAN_BATCH = 8192  # rows per step of the counting pass over an unbatched source
_BLOCK = 256  # an unbatched stream is worked on in blocks of this many rows


def rebalance(
    dataset: tf.data.Dataset,
    *,
    method: str = "smote",
    ratio: float = 1.0,
    k_neighbors: int = 5,
    seed: int | None = None,
) -> tf.data.Dataset:
    """Rebalance a binary ``(features, label)`` dataset as it streams.

    One pass over ``dataset`` counts the labels and keeps the positive rows (label 1, the
    rare class); their ``k_neighbors`` nearest positive neighbours are found once. The
    returned dataset then streams: negative rows pass through untouched and are never
    gathered in memory, and positives make ``ratio / (1 + ratio)`` of the output.

    Parameters
    ----------
    dataset : tf.data.Dataset
        Elements ``(features, label)``: a float feature vector of shape ``(n_features,)``
        and a scalar label in {0, 1} (unbatched, as ``tfds.load(..., as_supervised=True)``
        gives), or the batched form, shapes ``(batch, n_features)`` and ``(batch,)``.
        It must be finite and give the same rows on each iteration (the order may change).
    method : {"smote", "random", "undersample"}, default="smote"
        ``"smote"`` adds synthetic positives on segments between a positive row and one of
        its ``k_neighbors`` nearest positive rows; ``"random"`` adds copies of random
        positive rows; ``"undersample"`` keeps every positive and a random share of the
        negatives instead.
    ratio : float, default=1.0
        Wanted number of positives per negative in the output; positives then make
        ``ratio / (1 + ratio)`` of it. Must exceed the input's ratio (for
        ``"undersample"``: the negatives must be too many for it).
    k_neighbors : int, default=5
        Neighbours per positive row for ``"smote"``.
    seed : int or None, default=None
        ``None`` draws a fresh seed now; any int (``0`` included) gives the same output
        every time. The returned dataset gives the same rows on every iteration either way.

    Returns
    -------
    tf.data.Dataset
        Same element form as ``dataset`` (unbatched, or batched with batches that grow by
        the synthetic rows they receive). For ``"smote"`` and ``"random"`` every input row
        appears exactly once per pass, and exactly ``round(ratio * n_negative) - n_positive``
        synthetic rows are added, spread over the batches in proportion to their negatives
        (so the positive share holds batch by batch); each output batch is shuffled. An
        unbatched stream is handled the same way in blocks of 256 rows, then unbatched.
        ``"undersample"`` keeps each negative with probability ``n_positive / (ratio *
        n_negative)`` (the share holds in expectation) and the order of the rows.

    Raises
    ------
    ConfigError
        For a parameter outside its range.
    DataError
        For elements that are not ``(float vector, label)``, labels other than 0 and 1
        (more than two classes are not supported: use the samplers of
        :mod:`raretune.resample` on arrays), a class without rows, fewer than
        ``k_neighbors + 1`` positive rows for ``"smote"``, or a ``ratio`` the input already
        meets.

    Notes
    -----
    Memory holds the positive rows and their neighbour table (``n_pos * (n_features +
    k_neighbors)`` numbers), never the negatives. The synthetic rows depend only on the
    seed and the position of the batch in the stream, so every epoch sees the same ones
    (rebuild the dataset with another seed for fresh ones). The input is read twice: once
    to count and keep the positives (at call time), then once per iteration.

    Examples
    --------
    >>> import numpy as np, tensorflow as tf
    >>> from raretune.resample import rebalance
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 4)).astype("float32")
    >>> y = (np.arange(1000) % 50 == 0).astype("int64")
    >>> ds = tf.data.Dataset.from_tensor_slices((X, y)).batch(100)
    >>> out = rebalance(ds, ratio=1.0, seed=0)
    >>> labels = np.concatenate([b.numpy() for _, b in out])
    >>> int((labels == 0).sum()), int((labels == 1).sum())
    (980, 980)
    """
    import tensorflow as tf

    owner = "rebalance"
    check_option(method, "method", owner, _METHODS)
    check_number(ratio, "ratio", owner, kind=float, low=0, closed="neither")
    check_number(k_neighbors, "k_neighbors", owner, kind=int, low=1)
    if seed is not None:
        check_number(seed, "seed", owner, kind=int, low=0, high=2**63 - 1)
    else:
        seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))

    batched, feature_dtype = _check_element_spec(dataset)
    scan = dataset if batched else dataset.batch(_SCAN_BATCH)
    n_negative, positives = _count_and_keep_positives(scan)
    n_positive = len(positives)
    if n_negative == 0 or n_positive == 0:
        raise DataError(
            f"rebalance needs rows of both classes; found {n_negative} with label 0 and "
            f"{n_positive} with label 1."
        )
    wanted_positives = ratio * n_negative

    if method == "undersample":
        keep_share = n_positive / (ratio * n_negative)
        if keep_share >= 1:
            raise DataError(
                f"The data already has {n_positive} positives for {n_negative} negatives "
                f"(ratio {n_positive / n_negative:.4g}), at least ratio={ratio}; undersampling "
                "would drop nothing. Ask for a larger ratio."
            )
        if batched:
            return _undersample(dataset, keep_share, seed)
        return _undersample(dataset.batch(_BLOCK), keep_share, seed).unbatch()

    n_synthetic = int(round(wanted_positives)) - n_positive
    if n_synthetic <= 0:
        raise DataError(
            f"The data already has {n_positive} positives for {n_negative} negatives "
            f"(ratio {n_positive / n_negative:.4g}), at least ratio={ratio}; there is nothing "
            "to add. Ask for a larger ratio, or use method='undersample'."
        )
    if method == "smote":
        if n_positive < k_neighbors + 1:
            raise DataError(
                f"method='smote' needs at least k_neighbors + 1 = {k_neighbors + 1} rows of "
                f"class 1 to find {k_neighbors} neighbours each; found {n_positive}. Lower "
                "k_neighbors, use method='random', or gather more positive rows."
            )
        neighbours = _positive_neighbours(positives, k_neighbors)
    else:
        neighbours = np.arange(n_positive, dtype=np.int64)[:, None]  # the row itself

    make_synthetic = _synthetic_maker(
        tf.constant(positives, dtype=feature_dtype),
        tf.constant(neighbours, dtype=tf.int64),
        interpolate=method == "smote",
    )
    if batched:
        return _oversample_batched(dataset, make_synthetic, n_synthetic, n_negative, seed)
    # Per-element work in tf.data costs more than the vectorised work on small blocks.
    blocks = _oversample_batched(dataset.batch(_BLOCK), make_synthetic, n_synthetic, n_negative, seed)
    return blocks.unbatch()


def _check_element_spec(dataset) -> tuple[bool, object]:
    """Return (batched, feature dtype) or raise DataError for an unusable element form."""
    import tensorflow as tf

    if not isinstance(dataset, tf.data.Dataset):
        raise DataError(f"rebalance needs a tf.data.Dataset; got {type(dataset).__name__}.")
    spec = dataset.element_spec
    ok = isinstance(spec, tuple) and len(spec) == 2
    ok = ok and all(isinstance(s, tf.TensorSpec) for s in spec)
    if ok:
        features, label = spec
        rank = features.shape.rank
        ok = (
            rank in (1, 2)
            and features.dtype.is_floating
            and features.shape[-1] is not None
            and label.shape.rank == rank - 1
            and (label.dtype.is_integer or label.dtype.is_floating or label.dtype.is_bool)
        )
    if not ok:
        raise DataError(
            "rebalance needs elements (features, label): a float vector and a scalar label, "
            f"or their batched form; got element_spec={spec!r}. Use "
            "tfds.load(..., as_supervised=True) or map the elements to (features, label)."
        )
    return rank == 2, features.dtype


def _count_and_keep_positives(batches) -> tuple[int, np.ndarray]:
    """One pass: count label-0 rows, keep label-1 rows; reject any other label."""
    n_negative = 0
    kept = []
    for features, label in batches.as_numpy_iterator():
        label = np.asarray(label)
        is_positive = label == 1
        is_negative = label == 0
        if not (is_positive | is_negative).all():
            others = np.unique(label[~(is_positive | is_negative)])[:5]
            raise DataError(
                "rebalance handles binary labels 0 (negative) and 1 (positive); found label "
                f"values {others.tolist()}. For more classes, load the arrays and use the "
                "samplers of raretune.resample."
            )
        n_negative += int(is_negative.sum())
        if is_positive.any():
            kept.append(np.asarray(features)[is_positive])
    positives = np.concatenate(kept) if kept else np.empty((0, 0))
    return n_negative, positives


def _positive_neighbours(positives: np.ndarray, k: int) -> np.ndarray:
    """Indices of each positive row's k nearest other positive rows."""
    from sklearn.neighbors import NearestNeighbors

    search = NearestNeighbors(n_neighbors=k + 1).fit(positives)
    nearest = search.kneighbors(positives, return_distance=False)
    # Drop the row itself (not always column 0 when rows are duplicated).
    rows = np.arange(len(positives))[:, None]
    not_self = nearest != rows
    first_k = np.argsort(~not_self, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(nearest, first_k, axis=1).astype(np.int64)


def _synthetic_maker(positives, neighbours, *, interpolate: bool):
    """A function (count, seed[2]) -> synthetic rows, made with stateless random ops."""
    import tensorflow as tf

    n_positive = tf.shape(positives, out_type=tf.int64)[0]
    k = tf.shape(neighbours, out_type=tf.int64)[1]

    def make(count, seed):
        seed = tf.cast(seed, tf.int64)
        base = tf.random.stateless_uniform(
            [count], seed=seed, minval=0, maxval=n_positive, dtype=tf.int64
        )
        start = tf.gather(positives, base)
        if not interpolate:
            return start
        column = tf.random.stateless_uniform(
            [count], seed=seed + [0, 1], minval=0, maxval=k, dtype=tf.int64
        )
        end = tf.gather(positives, tf.gather_nd(neighbours, tf.stack([base, column], axis=1)))
        step = tf.random.stateless_uniform([count, 1], seed=seed + [0, 2], dtype=positives.dtype)
        return start + step * (end - start)

    return make


def _oversample_batched(dataset, make_synthetic, n_synthetic: int, n_negative: int, seed: int):
    """Append to each batch its share of synthetic rows (by its negatives), then shuffle it."""
    import tensorflow as tf

    def count_synthetic(state, element):
        batch_index, negatives_before = state
        features, label = element
        negatives_after = negatives_before + tf.reduce_sum(tf.cast(label == 0, tf.int64))
        # Synthetic rows owed after this batch, minus those owed before it: the total is
        # exactly n_synthetic, spread in proportion to the negatives.
        count = (n_synthetic * negatives_after) // n_negative - (
            n_synthetic * negatives_before
        ) // n_negative
        return (batch_index + 1, negatives_after), (features, label, batch_index, count)

    def add_synthetic(features, label, batch_index, count):
        seeds = tf.stack([tf.constant(seed, tf.int64), 4 * batch_index])
        synthetic = make_synthetic(count, seeds)
        features = tf.concat([features, synthetic], axis=0)
        label = tf.concat([label, tf.ones([count], dtype=label.dtype)], axis=0)
        order = tf.random.experimental.stateless_shuffle(
            tf.range(tf.shape(label)[0]), seed=seeds + [0, 3]
        )
        return tf.gather(features, order), tf.gather(label, order)

    initial = (tf.constant(0, tf.int64), tf.constant(0, tf.int64))
    return dataset.scan(initial, count_synthetic).map(
        add_synthetic, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )


def _undersample(batches, keep_share: float, seed: int):
    """Keep every positive and each negative with probability ``keep_share``."""
    import tensorflow as tf

    def thin(index, element):
        features, label = element
        draw = tf.random.stateless_uniform(
            tf.shape(label), seed=tf.stack([tf.constant(seed, tf.int64), index]), dtype=tf.float64
        )
        keep = (label == 1) | (draw < keep_share)
        return tf.boolean_mask(features, keep), tf.boolean_mask(label, keep)

    return batches.enumerate().map(thin, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
