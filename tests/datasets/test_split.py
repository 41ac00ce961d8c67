import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from raretune import DataError
from raretune.datasets import load_data, split_record, stratified_split


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


def test_indices_name_the_input_rows_of_each_part_and_unpacking_still_works():
    data = _table(120, 12)
    split = stratified_split(data, random_state=3)
    train, validation, test = split  # still a tuple of three parts
    for name, part in zip(("train", "validation", "test"), (train, validation, test)):
        np.testing.assert_array_equal(data.features["x0"].to_numpy()[split.indices[name]], part.features["x0"])
        np.testing.assert_array_equal(data.y[split.indices[name]], part.y)
    assert sorted(np.concatenate(list(split.indices.values())).tolist()) == list(range(132))
    assert split._replace(test=train).indices is None  # a hand-made copy claims no rows


def test_fixed_test_set_has_no_test_indices():
    split = stratified_split(_table(100, 10), test=_table(30, 3), random_state=0)
    assert set(split.indices) == {"train", "validation"}


def test_split_record_lists_every_row_once():
    indices = {"train": [4, 0, 2], "validation": [5], "test": [1]}
    record = split_record(7, indices, fold_ids={"train": [1, 0, 1]}, ids=list("abcdefg"))
    assert record.columns.tolist() == ["row", "id", "part", "fold"]
    assert record["part"].tolist() == ["train", "test", "train", "gap", "train", "validation", "gap"]
    assert record["fold"].tolist() == [0, -1, 1, -1, 1, -1, -1]
    assert record["id"].tolist() == list("abcdefg")
    by_row = split_record(3, {"train": [0, 1, 2]}, fold_ids=[2, 0, 1])
    assert by_row["fold"].tolist() == [2, 0, 1] and "id" not in by_row


@pytest.mark.parametrize(
    ("indices", "folds", "message"),
    [
        ({"train": [0, 1], "test": [1]}, None, "Row 1 is in part 'test' and in another part"),
        ({"train": [0, 9]}, None, "names row 9, outside the 3 rows"),
        ({"train": [0, 0]}, None, "names a row twice"),
        ({"train": [0, 1]}, {"train": [0]}, r"fold_ids\['train'\] has 1 ids for the 2 rows"),
        ({"train": [0, 1]}, [0, 1], "fold_ids has 2 ids for 3 rows"),
    ],
)
def test_split_record_refuses_inconsistent_indices(indices, folds, message):
    with pytest.raises(DataError, match=message) as caught:
        split_record(3, indices, fold_ids=folds)
    assert "\n" not in str(caught.value)
