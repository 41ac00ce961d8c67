"""The contract of the streaming rebalance: shares, originals once, segments, seeds."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from raretune import ConfigError, DataError  # noqa: E402
from raretune.resample import rebalance, rebalance_arrays  # noqa: E402
from raretune.resample._stream import shuffled_batches  # noqa: E402

N_ROWS, N_POSITIVE, N_FEATURES, K = 1200, 30, 3, 4


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N_ROWS, N_FEATURES)).astype(np.float32)
    y = np.zeros(N_ROWS, dtype=np.int64)
    y[rng.choice(N_ROWS, N_POSITIVE, replace=False)] = 1
    X[y == 1] += 2.0
    return X, y


def _source(data, batched):
    ds = tf.data.Dataset.from_tensor_slices(data)
    return ds.batch(100) if batched else ds


def _collect(ds, batched):
    rows = list(ds.as_numpy_iterator())
    if batched:
        return np.concatenate([r[0] for r in rows]), np.concatenate([r[1] for r in rows])
    return np.stack([r[0] for r in rows]), np.array([r[1] for r in rows])


def _split_originals(data, X_out, y_out):
    """Match output rows to input rows exactly; return (input index per original, synthetic rows)."""
    X, y = data
    index = {(row.tobytes(), int(label)): i for i, (row, label) in enumerate(zip(X, y))}
    matched = [index.get((row.tobytes(), int(label)), -1) for row, label in zip(X_out, y_out)]
    matched = np.array(matched)
    return matched[matched >= 0], X_out[matched < 0], y_out[matched < 0]


def _segment_check(positives, synthetic, k):
    """Every synthetic row lies on a segment from a positive to one of its k nearest positives."""
    d2 = ((positives[:, None, :] - positives[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    neighbours = np.argsort(d2, axis=1, kind="stable")[:, :k]  # brute force, no duplicates here
    a = positives[:, None, :]  # (n_pos, 1, d)
    b = positives[neighbours]  # (n_pos, k, d)
    for s in synthetic.astype(np.float64):
        ab = b - a
        t = np.clip(((s - a) * ab).sum(-1) / (ab * ab).sum(-1), 0.0, 1.0)
        gap = np.sqrt((((a + t[..., None] * ab) - s) ** 2).sum(-1)).min()
        assert gap < 1e-5, f"synthetic row {s} is {gap} away from every neighbour segment"


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("method", ["smote", "random"])
@pytest.mark.parametrize("ratio", [1.0, 0.25])
def test_oversampling_contract(data, batched, method, ratio):
    out = rebalance(_source(data, batched), method=method, ratio=ratio, k_neighbors=K, seed=0)
    assert out.element_spec[0].shape.rank == (2 if batched else 1)
    X_out, y_out = _collect(out, batched)
    originals, synthetic, synthetic_labels = _split_originals(data, X_out, y_out)
    if method == "smote":
        # Each input row exactly once; every other row is a new positive.
        np.testing.assert_array_equal(np.sort(originals), np.arange(N_ROWS))
        assert (synthetic_labels == 1).all()
    else:
        # Copies cannot be told from their original: negatives exactly once, every
        # positive at least once, the extra rows all positive copies.
        counts = np.bincount(originals, minlength=N_ROWS)
        assert (counts[data[1] == 0] == 1).all() and (counts[data[1] == 1] >= 1).all()
        assert len(synthetic) == 0
        synthetic = X_out[np.isin(originals, np.flatnonzero(data[1] == 1))][N_POSITIVE:]
    share = (y_out == 1).mean()
    target = ratio / (1 + ratio)
    n_negative = N_ROWS - N_POSITIVE
    # Exact count, spread over the batches (blocks when unbatched) by their negatives.
    assert (y_out == 1).sum() == round(ratio * n_negative)
    assert abs(share - target) < 1e-3
    positives = data[0][data[1] == 1]
    if method == "smote":
        _segment_check(positives, synthetic, K)
        assert len(np.unique(synthetic, axis=0)) > 0.9 * len(synthetic)
    else:  # copies of positive rows
        assert all((positives == s).all(axis=1).any() for s in synthetic)


def test_share_holds_batch_by_batch(data):
    out = rebalance(_source(data, True), ratio=1.0, k_neighbors=K, seed=3)
    for _, label in out.as_numpy_iterator():
        assert abs((label == 1).mean() - 0.5) < 0.06
    # Unbatched: the first 512 output rows hold about half positives, not a clump.
    _, labels = _collect(rebalance(_source(data, False), ratio=1.0, seed=3).take(512), False)
    assert 0.4 < labels.mean() < 0.6


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("method", ["smote", "undersample"])
def test_seeds_repeat_and_differ(data, batched, method):
    ratio = 1.0 if method == "smote" else 0.2

    def run(seed):
        return _collect(rebalance(_source(data, batched), method=method, ratio=ratio, seed=seed), batched)

    first, again, other = run(0), run(0), run(1)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert len(first[1]) != len(other[1]) or not np.array_equal(first[0], other[0])
    # The same dataset object gives the same rows on each pass, even unseeded.
    unseeded = rebalance(_source(data, batched), method=method, ratio=ratio)
    np.testing.assert_array_equal(_collect(unseeded, batched)[0], _collect(unseeded, batched)[0])


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
def test_undersample_keeps_positives_and_thins_negatives(data, batched):
    ratio = 0.25
    out = rebalance(_source(data, batched), method="undersample", ratio=ratio, seed=0)
    X_out, y_out = _collect(out, batched)
    originals, synthetic, _ = _split_originals(data, X_out, y_out)
    assert len(synthetic) == 0 and len(np.unique(originals)) == len(originals)
    assert (data[1][originals] == 1).sum() == N_POSITIVE
    expected_negatives = N_POSITIVE / ratio
    assert abs((y_out == 0).sum() - expected_negatives) < 4 * np.sqrt(expected_negatives)


def test_duplicated_positives_still_give_segments():
    X = np.repeat(np.eye(3, dtype=np.float32), 3, axis=0)  # 9 positives, each row 3 times
    X = np.concatenate([X, np.full((50, 3), 5.0, np.float32)])
    y = np.r_[np.ones(9, np.int64), np.zeros(50, np.int64)]
    out = rebalance(tf.data.Dataset.from_tensor_slices((X, y)).batch(16), k_neighbors=2, seed=0)
    X_out, y_out = _collect(out, True)
    synthetic = X_out[y_out == 1]
    # A row's 2 nearest others are its two copies: synthetic rows are the corners.
    assert np.isin(synthetic.round(6), [0.0, 1.0]).all()


def test_parameter_errors(data):
    ds = _source(data, True)
    with pytest.raises(ConfigError, match="The 'method' parameter of rebalance must be a str among"):
        rebalance(ds, method="adasyn")
    with pytest.raises(ConfigError, match=r"'ratio' parameter of rebalance must be a float in \(0, inf\)"):
        rebalance(ds, ratio=0)
    with pytest.raises(ConfigError, match="'k_neighbors' parameter of rebalance must be an int"):
        rebalance(ds, k_neighbors=0)
    with pytest.raises(ConfigError, match="'seed' parameter of rebalance"):
        rebalance(ds, seed=-1)


def test_data_errors(data):
    X, y = data
    few = np.r_[np.zeros(100, np.int64), np.ones(3, np.int64)]
    small = tf.data.Dataset.from_tensor_slices((X[:103], few))
    with pytest.raises(DataError, match=r"k_neighbors \+ 1 = 6 rows of class 1.*found 3"):
        rebalance(small, k_neighbors=5)
    rebalance(small, method="random", seed=0)  # works with any number of positives
    three = tf.data.Dataset.from_tensor_slices((X, y + (np.arange(N_ROWS) % 7 == 0)))
    with pytest.raises(DataError, match="binary labels"):
        rebalance(three)
    with pytest.raises(DataError, match="element_spec"):
        rebalance(tf.data.Dataset.from_tensor_slices(X))
    with pytest.raises(DataError, match="nothing to add"):
        rebalance(_source(data, True), ratio=0.01)


# -- rebalance_arrays: in-memory rows (the tuner's stream remedy) ---------------------------

#: 90 majority rows (class 0), 8 of class 1 and 5 of class 2: multiclass, minority 13/103.
Y_ARRAYS = np.r_[np.zeros(90, np.int64), np.ones(8, np.int64), np.full(5, 2, np.int64)]
TOWERS = 3


def _arrays(n=len(Y_ARRAYS)):
    """A nest as the stream remedy has it; every column encodes the row id to trace rows."""
    ids = np.arange(n)
    inputs = {
        "num": ids.astype(np.float32).reshape(-1, 1),
        "city": np.array([f"row{i}" for i in ids], dtype=object).reshape(-1, 1),
    }
    labels = np.repeat(ids.astype(np.float32)[:, None, None], TOWERS, axis=1)  # (n, towers, 1)
    weights = ids[:, None] + np.arange(TOWERS, dtype=np.float32) / 10  # (n, towers)
    return inputs, labels, weights.astype(np.float32)


def _epochs(ds, n_epochs=1):
    """The row ids of each batch, per epoch, after checking every column agrees with them."""
    epochs = []
    for _ in range(n_epochs):
        batches = []
        for inputs, labels, weights in ds.as_numpy_iterator():
            ids = inputs["num"][:, 0].astype(np.int64)
            assert [c.decode() for c in inputs["city"][:, 0]] == [f"row{i}" for i in ids]
            assert labels.shape[1:] == (TOWERS, 1) and weights.shape[1:] == (TOWERS,)
            np.testing.assert_array_equal(labels[:, :, 0], np.repeat(ids[:, None], TOWERS, axis=1))
            np.testing.assert_allclose(weights, ids[:, None] + np.arange(TOWERS) / 10, rtol=1e-6)
            batches.append(ids)
        epochs.append(batches)
    return epochs


@pytest.mark.parametrize(
    "share, batch_size, k",
    [(0.3, 10, 3), (0.0, 10, 1), (0.5, 16, 8), (0.99, 4, 3)],
    ids=["share", "natural-share", "half", "capped"],
)
def test_arrays_batch_composition(share, batch_size, k):
    ds = rebalance_arrays(_arrays(), Y_ARRAYS, share=share, batch_size=batch_size, seed=0)
    assert ds.element_spec[0]["city"].dtype == tf.string
    (batches,) = _epochs(ds)
    n_major = 90
    assert len(batches) == -(-n_major // (batch_size - k))
    majority_seen = []
    for ids in batches:
        # Majority rows first, then exactly k minority rows (any class but 0).
        assert (Y_ARRAYS[ids[-k:]] != 0).all()
        majority_seen.extend(ids[:-k])
    assert (Y_ARRAYS[majority_seen] == 0).all()
    np.testing.assert_array_equal(np.sort(majority_seen), np.arange(n_major))  # each once
    assert majority_seen != sorted(majority_seen)  # shuffled


def test_arrays_plain_label_shapes_pass_through():
    n = len(Y_ARRAYS)
    onehot = np.eye(3, dtype=np.float32)[Y_ARRAYS]
    nest = ({"x": np.arange(n, dtype=np.int64)}, Y_ARRAYS.astype(np.int32), np.ones(n, np.float32), onehot)
    ds = rebalance_arrays(nest, Y_ARRAYS, share=0.25, batch_size=8, seed=1)
    spec = ds.element_spec
    assert spec[1].shape.as_list() == [None] and spec[1].dtype == tf.int32
    assert spec[3].shape.as_list() == [None, 3]
    for x, labels, weights, hot in ds.as_numpy_iterator():
        np.testing.assert_array_equal(labels, Y_ARRAYS[x["x"]])
        np.testing.assert_array_equal(hot, onehot[x["x"]])
        assert weights.shape == labels.shape


def test_arrays_fresh_draws_every_epoch_and_cover_the_minority():
    ds = rebalance_arrays(_arrays(), Y_ARRAYS, share=0.3, batch_size=10, seed=5)
    first, second = _epochs(ds, 2)
    assert not all(np.array_equal(a, b) for a, b in zip(first, second))
    minority_first = np.concatenate([b[-3:] for b in first])
    minority_second = np.concatenate([b[-3:] for b in second])
    assert not np.array_equal(minority_first, minority_second)
    # .repeat() (as the cross-fitted towers use it) also starts a fresh epoch each time.
    repeated = [b[0]["num"][:, 0] for b in ds.repeat(2).as_numpy_iterator()]
    n_batches = len(first)
    assert not np.array_equal(np.concatenate(repeated[:n_batches]), np.concatenate(repeated[n_batches:]))
    # With replacement and at random: over a few epochs every minority row is drawn.
    drawn = np.concatenate([b[-3:] for epoch in _epochs(ds, 4) for b in epoch])
    np.testing.assert_array_equal(np.unique(drawn), np.flatnonzero(Y_ARRAYS != 0))


@pytest.mark.parametrize("seed", [0, 7])
def test_arrays_same_seed_same_stream(seed):
    def stream(s):
        return _epochs(rebalance_arrays(_arrays(), Y_ARRAYS, share=0.3, batch_size=10, seed=s), 2)

    first, again = stream(seed), stream(seed)
    for a, b in zip(first, again):  # epoch by epoch, rebuilt: the same rows in the same order
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
    other = stream(seed + 1)[0]
    assert not all(np.array_equal(x, y) for x, y in zip(first[0], other))
    # Seed 0 is a seed: two unseeded datasets differ where two seed-0 datasets agree.
    unseeded = [_epochs(rebalance_arrays(_arrays(), Y_ARRAYS, share=0.3, batch_size=10))[0] for _ in range(2)]
    assert not all(np.array_equal(x, y) for x, y in zip(*unseeded))


def test_shuffled_batches_every_row_once_reshuffled():
    ids = np.arange(1000)
    ds = shuffled_batches((ids, ids.astype(str)), batch_size=64, seed=0)
    epochs = [list(ds.as_numpy_iterator()) for _ in range(2)]
    for epoch in epochs:
        assert [len(b[0]) for b in epoch] == [64] * 15 + [40]
        rows = np.concatenate([b[0] for b in epoch])
        np.testing.assert_array_equal(np.sort(rows), ids)
        np.testing.assert_array_equal(np.concatenate([b[1] for b in epoch]).astype(int), rows)
    # Rows, not only batches, change places between epochs.
    assert not {tuple(sorted(b[0])) for b in epochs[0]} & {tuple(sorted(b[0])) for b in epochs[1]}


def test_arrays_errors():
    arrays = _arrays()
    with pytest.raises(ConfigError, match="'share' parameter of rebalance_arrays must be a float in \\[0, 1\\)"):
        rebalance_arrays(arrays, Y_ARRAYS, share=1.0, batch_size=10)
    with pytest.raises(ConfigError, match="'batch_size' parameter of rebalance_arrays must be an int"):
        rebalance_arrays(arrays, Y_ARRAYS, share=0.2, batch_size=1)
    with pytest.raises(ConfigError, match="'seed' parameter of rebalance_arrays"):
        rebalance_arrays(arrays, Y_ARRAYS, share=0.2, batch_size=10, seed=-1)
    with pytest.raises(DataError, match="at least two classes"):
        rebalance_arrays(arrays, np.zeros(len(Y_ARRAYS), np.int64), share=0.2, batch_size=10)
    with pytest.raises(DataError, match=r"row-aligned arrays of 102 rows"):
        rebalance_arrays(arrays, Y_ARRAYS[:-1], share=0.2, batch_size=10)
    with pytest.raises(DataError, match=r"shape \(n,\)"):
        rebalance_arrays(arrays, Y_ARRAYS[:, None], share=0.2, batch_size=10)
