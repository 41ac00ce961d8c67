import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from raretune import DataError
from raretune.datasets import load_data, stratified_split


def _table(n_neg, n_pos):
    X = np.arange(2 * (n_neg + n_pos), dtype=float).reshape(-1, 2)
    # the columns number the rows (to check the parts are disjoint): keep them
    return load_data((X, np.r_[np.zeros(n_neg), np.ones(n_pos)]), keep=("x0", "x1"))


@settings(max_examples=40, deadline=None)
@given(n_neg=st.integers(30, 400), n_pos=st.integers(3, 40), seed=st.integers(0, 2**16))
def test_parts_are_disjoint_cover_everything_and_keep_class_shares(n_neg, n_pos, seed):
    assume(n_pos < n_neg)  # the rarer class is the positive one
    data = _table(n_neg, n_pos)
    parts = stratified_split(data, random_state=seed)
    ids = [set(p.features["x0"]) for p in parts]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert set.union(*ids) == set(data.features["x0"])
    for part, share in zip(parts, (0.7, 0.15, 0.15)):
        assert part.y.sum() >= 1
        # each class is split to within one row of its exact share (at least one row each)
        assert abs(part.y.sum() - max(1, share * n_pos)) <= 1.5
        assert abs((part.y == 0).sum() - share * n_neg) <= 1.5


def test_same_seed_same_split_and_seed_zero_is_a_seed():
    data = _table(200, 20)
    a = stratified_split(data, random_state=0)
    b = stratified_split(data, random_state=0)
    c = stratified_split(data, random_state=1)
    np.testing.assert_array_equal(a.test.features["x0"], b.test.features["x0"])
    assert not np.array_equal(a.test.features["x0"], c.test.features["x0"])


def test_fixed_test_set_is_kept_whole():
    data, test = _table(100, 10), _table(30, 3)
    parts = stratified_split(data, test=test, random_state=0)
    assert parts.test is test
    assert parts.train.n_rows + parts.validation.n_rows == 110


def test_too_few_rows_in_a_class():
    with pytest.raises(DataError, match="Class '1' has 2 rows"):
        stratified_split(_table(50, 2), random_state=0)
