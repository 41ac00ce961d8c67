"""Streaming rebalance with ``tf.data``: the minority share is made inside the pipeline.

Two entry points, one per kind of source; they share the seeded random draw of minority rows
for each batch (:func:`_draw_rows`):

* :func:`rebalance` takes a ``tf.data.Dataset`` of ``(float features, binary label)`` that
  does not fit in memory (a TFRecord file, ``tfds``). One pass counts the classes and keeps
  the positive rows (they are rare); their neighbours are found once; then the data streams:
  negative rows flow through untouched, synthetic positives (SMOTE or copies) are made per
  batch and mixed in.
* :func:`rebalance_arrays` takes in-memory arrays of any form (a nest of float, int or string
  columns, per-row labels and weights of any trailing shape; binary or multiclass), as the
  ``stream`` remedy of the tuner has them: majority rows pass once per epoch in shuffled
  batches, and each batch is topped up with minority rows drawn at random, afresh every epoch.

:func:`shuffled_batches` is the shuffled batching of in-memory arrays that
:func:`rebalance_arrays` uses for its majority rows (without the minority top-up). Neither
in-memory path does per-row Python or per-element ``tf.data`` work: each batch is one
``tf.gather`` of row indices. TensorFlow is imported on the first call, so importing
:mod:`raretune.resample` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._errors import DataError
from .._validation import check_number, check_option

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["rebalance", "rebalance_arrays", "shuffled_batches"]

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
        (more than two classes are not supported: use :func:`rebalance_arrays` or the
        samplers of :mod:`raretune.resample` on arrays), a class without rows, fewer than
        ``k_neighbors + 1`` positive rows for ``"smote"``, or a ``ratio`` the input already
        meets.

    See Also
    --------
    rebalance_arrays : the same idea for rows already in memory (any columns, any classes).

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
    seed = _resolve_seed(seed, owner)

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


def rebalance_arrays(
    arrays,
    y,
    *,
    share: float,
    batch_size: int,
    seed: int | None = None,
) -> tf.data.Dataset:
    """Batches of in-memory rows in which the minority classes hold at least ``share``.

    The majority class (the most frequent value of ``y``) passes once per epoch, in
    shuffled batches of ``batch_size - k`` rows; every batch is topped up with ``k``
    minority rows (all rows of the other classes) drawn at random with replacement, afresh
    every epoch, where ``k = min(batch_size - 1, max(1, round(batch_size * max(share,
    natural))))`` and ``natural`` is the minority share of ``y``.

    Parameters
    ----------
    arrays : nest of array-like
        A dict, tuple or list (nested at will) of row-aligned arrays: float, int, bool or
        string (``str``/``bytes``/object) columns of any trailing shape, e.g. ``(inputs,
        labels, sample_weights)`` with per-tower labels of shape ``(n, towers, 1)``.
    y : array-like of shape (n,)
        Class of each row (binary or multiclass); it decides which rows are minority.
    share : float
        Wanted minority share of each batch, in ``[0, 1)``. The data's own minority share is
        used when it is larger (the stream never thins the minority).
    batch_size : int
        Rows per batch (at least 2); the last batch of an epoch has fewer majority rows.
    seed : int or None, default=None
        ``None`` draws a fresh seed now; any int (``0`` included) gives the same stream of
        epochs every time. Each epoch differs from the last either way.

    Returns
    -------
    tf.data.Dataset
        One epoch per iteration (use ``.repeat()`` for more): ``ceil(n_majority / (batch_size
        - k))`` batches with the structure and dtypes of ``arrays``; each batch holds its
        majority rows first, then its ``k`` minority rows.

    Raises
    ------
    ConfigError
        For ``share``, ``batch_size`` or ``seed`` outside its range.
    DataError
        For arrays that are not row-aligned with ``y``, or a ``y`` with one class only.

    See Also
    --------
    rebalance : for a ``tf.data.Dataset`` too large for memory (adds SMOTE rows).

    Notes
    -----
    Each batch is one ``tf.gather`` per array on row indices (majority rows from a
    permutation made once per epoch, minority rows from :func:`_draw_rows`): no per-row
    Python and no per-element ``tf.data`` work. Memory holds ``arrays`` once, as tensors.
    The stream depends on ``seed`` and on TensorFlow's global seed (as every seeded
    ``tf.data`` shuffle does), not on other datasets built in the process.

    Examples
    --------
    >>> import numpy as np
    >>> from raretune.resample import rebalance_arrays
    >>> y = (np.arange(1000) % 50 == 0).astype("int64")
    >>> inputs = {"x": np.ones((1000, 3), "float32"), "city": np.full((1000, 1), "Oslo")}
    >>> ds = rebalance_arrays((inputs, y), y, share=0.25, batch_size=100, seed=0)
    >>> labels = [batch[1] for batch in ds.as_numpy_iterator()]
    >>> len(labels), int(labels[0].sum()), int(sum(b.size for b in labels) - sum(b.sum() for b in labels))
    (14, 25, 980)
    """
    import tensorflow as tf

    owner = "rebalance_arrays"
    check_number(share, "share", owner, kind=float, low=0, high=1, closed="left")
    check_number(batch_size, "batch_size", owner, kind=int, low=2)
    seed = _resolve_seed(seed, owner)
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"{owner} needs y with one class per row, shape (n,); got shape {y.shape}.")
    tensors = _row_tensors(arrays, y.size, owner)
    classes, counts = np.unique(y, return_counts=True)
    is_majority = y == classes[np.argmax(counts)]
    minority_rows = np.flatnonzero(~is_majority)
    if minority_rows.size == 0:
        raise DataError(f"{owner} needs rows of at least two classes; y holds class {classes[0]!r} only.")
    natural = minority_rows.size / y.size
    k = int(min(batch_size - 1, max(1, round(batch_size * max(share, natural)))))
    minority = tf.constant(minority_rows, tf.int64)

    def draw_minority(pair):
        return tf.gather(minority, _draw_rows(k, minority.shape[0], pair))

    return _gathered_batches(tensors, np.flatnonzero(is_majority), batch_size - k, seed, draw_minority)


def shuffled_batches(arrays, *, batch_size: int, seed: int | None = None) -> tf.data.Dataset:
    """Batches of in-memory rows in a fresh random order every epoch, no rows added.

    Parameters
    ----------
    arrays : nest of array-like
        Row-aligned arrays, as for :func:`rebalance_arrays`.
    batch_size : int
        Rows per batch; the last batch of an epoch holds the rest.
    seed : int or None, default=None
        ``None`` draws a fresh seed now; any int (``0`` included) repeats the stream.

    Returns
    -------
    tf.data.Dataset
        One epoch per iteration; every row exactly once per epoch.
    """
    owner = "shuffled_batches"
    check_number(batch_size, "batch_size", owner, kind=int, low=1)
    seed = _resolve_seed(seed, owner)
    n = int(np.shape(_flat_leaves(arrays, owner)[0])[0])
    tensors = _row_tensors(arrays, n, owner)
    return _gathered_batches(tensors, np.arange(n), batch_size, seed, None)


def _flat_leaves(arrays, owner: str) -> list:
    import tensorflow as tf

    leaves = tf.nest.flatten(arrays)
    if not leaves or any(np.ndim(a) == 0 for a in leaves):
        raise DataError(f"{owner} needs a nest of arrays with one row per sample; got {type(arrays).__name__}.")
    return leaves


def _row_tensors(arrays, n_rows: int, owner: str):
    """``arrays`` as a nest of tensors, once checked to hold ``n_rows`` rows each."""
    import tensorflow as tf

    lengths = {int(np.shape(a)[0]) for a in _flat_leaves(arrays, owner)}
    if lengths != {n_rows}:
        raise DataError(
            f"{owner} needs row-aligned arrays of {n_rows} rows (one per entry of y); got arrays "
            f"of {sorted(lengths)} rows."
        )
    return tf.nest.map_structure(tf.constant, arrays)


def _gathered_batches(tensors, rows: np.ndarray, per_batch: int, seed: int, add_rows):
    """One epoch per iteration: ``rows`` in a new random order, ``per_batch`` at a time, each
    batch extended by ``add_rows(seed pair)`` (row indices) when given, then gathered."""
    import tensorflow as tf

    n = rows.size
    rows = tf.constant(rows, tf.int64)

    def epoch(draw):
        # One permutation per epoch; batches are slices of it (no per-row work in tf.data).
        order = tf.random.experimental.stateless_shuffle(rows, seed=tf.stack([draw, tf.constant(-1, tf.int64)]))

        def batch(i):
            index = order[i * per_batch : tf.minimum((i + 1) * per_batch, n)]
            if add_rows is not None:
                index = tf.concat([index, add_rows(tf.stack([draw, i]))], axis=0)
            return tf.nest.map_structure(lambda t: tf.gather(t, index), tensors)

        n_batches = -(-n // per_batch)
        return tf.data.Dataset.range(n_batches).map(batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    return _epoch_keys(seed).flat_map(epoch).prefetch(tf.data.AUTOTUNE)


def _epoch_keys(seed: int):
    """A dataset of one int64 key, a new one on every iteration (a ``repeat`` included), the
    same sequence of keys for the same seed in any process."""
    import tensorflow as tf

    # Dataset.random(rerandomize_each_iteration=True) would be simpler, but datasets with the
    # same seed share its generator within a process, so a rebuilt dataset would continue the
    # old sequence. A shuffle owns its generator: the key is read off a shuffled range (64
    # elements per epoch, 48 random bits).
    digits = tf.constant([64**j for j in range(8)], tf.int64)

    def key(permutation):
        return tf.reduce_sum(permutation[:8] * digits)

    shuffled = tf.data.Dataset.range(64).shuffle(64, seed=seed, reshuffle_each_iteration=True)
    return shuffled.batch(64).map(key)


def _resolve_seed(seed, owner: str) -> int:
    """Check an int seed (``0`` is a seed like any other); draw a fresh one for ``None``."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))
    return check_number(seed, "seed", owner, kind=int, low=0, high=2**63 - 1)


def _draw_rows(count, n_rows, seed):
    """``count`` row indices in ``[0, n_rows)`` drawn with replacement, stateless from ``seed``
    (an int64 pair): the random draw of minority rows for one batch, in both entry points."""
    import tensorflow as tf

    return tf.random.stateless_uniform([count], seed=seed, minval=0, maxval=n_rows, dtype=tf.int64)


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
        base = _draw_rows(count, n_positive, seed)
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
