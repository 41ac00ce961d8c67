"""The contract of the streaming rebalance: shares, originals once, segments, seeds."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from raretune import ConfigError, DataError  # noqa: E402
from raretune.resample import rebalance  # noqa: E402

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
