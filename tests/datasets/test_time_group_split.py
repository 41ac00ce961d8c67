"""Out-of-time and grouped splits, and the folds that go with them (issue 20)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from raretune import ConfigError, DataError
from raretune.datasets import TabularData, group_split, load_data, split_record, time_split
from raretune.tuning import fold_assignment

PARTS = ("train", "validation", "test")


def _table(columns: dict, y) -> TabularData:
    """A table with exactly these feature columns (numbers, or text), labels 0/1."""
    frame = pd.DataFrame(columns)
    numeric = tuple(c for c in frame if pd.api.types.is_numeric_dtype(frame[c]))
    categorical = tuple(c for c in frame if c not in numeric)
    return TabularData(features=frame, y=np.asarray(y, dtype="int64"), classes=("0", "1"), target="label",
                       numeric=numeric, categorical=categorical)


def _check_partition(split, n_rows):
    rows = np.concatenate([split.indices[p] for p in split.indices])
    assert np.unique(rows).size == rows.size, "a row is in two parts"
    assert rows.min() >= 0 and rows.max() < n_rows
    for name, part in zip(PARTS, split):
        if name in split.indices:
            assert part.n_rows == split.indices[name].size
            assert np.all(np.diff(split.indices[name]) > 0)


# --- out of time ---------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(40, 300),
    distinct=st.integers(5, 300),
    gap_share=st.floats(0, 0.2),
    every=st.integers(2, 6),
    seed=st.integers(0, 2**16),
)
def test_time_split_puts_every_later_part_after_training_plus_the_gap(n, distinct, gap_share, every, seed):
    rng = np.random.default_rng(seed)
    times = rng.integers(0, distinct, n).astype(float)  # few distinct values: many ties
    rank = np.argsort(np.argsort(times, kind="stable"), kind="stable")
    y = (rank % every == 0).astype(int)  # positives spread through time
    gap = gap_share * distinct
    data = _table({"t": times, "x": rng.normal(size=n)}, y)
    try:
        split = time_split(data, time_column="t", gap=gap)
    except DataError as error:
        assert "\n" not in str(error)
        assert "part" in str(error)
        return
    _check_partition(split, n)
    t = {p: times[split.indices[p]] for p in PARTS}
    assert t["validation"].min() > t["train"].max() + gap
    assert t["test"].min() > t["validation"].max() + gap
    for name, part in zip(PARTS, split):
        assert set(part.y.tolist()) == {0, 1}, name
        assert "t" not in part.features.columns and part.columns == ("x",)
    # rows left out are exactly those within the gap before a later part
    left_out = np.setdiff1d(np.arange(n), np.concatenate(list(split.indices.values())))
    assert (gap > 0) or left_out.size == 0
    for row in left_out:
        assert (times[row] + gap >= t["validation"].min() and times[row] < t["validation"].min()) or (
            times[row] + gap >= t["test"].min() and times[row] < t["test"].min())


def test_time_split_takes_the_latest_rows_for_test_and_is_exact_without_ties():
    times = np.arange(100.0)[::-1]  # latest rows first in the input
    y = np.arange(100) % 5 == 0
    split = time_split(_table({"t": times, "x": np.sqrt(times)}, y), time_column="t")
    assert [split.indices[p].size for p in PARTS] == [70, 15, 15]
    np.testing.assert_array_equal(split.indices["test"], np.arange(15))  # times 99 .. 85
    np.testing.assert_array_equal(split.test.features["x"], np.sqrt(times[:15]))


def test_ties_stay_in_one_part_on_the_nearer_side():
    times = np.repeat(np.arange(10.0), 10)  # ten rows per time
    y = np.tile([0, 0, 0, 0, 1], 20)
    split = time_split(_table({"t": times, "x": np.arange(100.0) ** 0.5}, y), time_column="t",
                       validation_size=0.12, test_size=0.18)
    # test wants 18 rows: the cut at 80 (20 rows) is nearer than at 90 (10); validation 12 -> 10
    assert [split.indices[p].size for p in PARTS] == [70, 10, 20]


def test_dates_and_a_gap_in_days():
    days = np.repeat(pd.date_range("2024-01-01", periods=60, freq="D"), 5)
    data = _table({"when": days, "amount": np.linspace(1, 2, 300) ** 3}, np.tile([0, 0, 0, 0, 1], 60))
    split = time_split(data, time_column="when", gap="7d", keep_columns=True)
    when = {p: getattr(split, p).features["when"] for p in PARTS}
    week = pd.Timedelta(days=7)
    assert when["validation"].min() - when["train"].max() > week
    assert when["test"].min() - when["validation"].max() > week
    # validation and test keep 9 days of 5 rows; training loses the 7 days before validation
    assert [split.indices[p].size for p in PARTS] == [140, 45, 45]
    for gap in (pd.Timedelta(days=7), "7 days", "168h"):
        same = time_split(data, time_column="when", gap=gap)
        np.testing.assert_array_equal(same.indices["train"], split.indices["train"])


def test_dates_loaded_by_load_data_take_a_gap_in_days():
    frame = pd.DataFrame({"when": np.repeat(pd.date_range("2024-01-01", periods=60, freq="D"), 5),
                          "amount": np.linspace(1, 2, 300) ** 3, "label": np.tile([0, 0, 0, 0, 1], 60)})
    split = time_split(load_data(frame, target="label"), time_column="when", gap="7d")
    assert [split.indices[p].size for p in PARTS] == [140, 45, 45]


def test_text_dates_and_keeping_columns():
    dates = np.repeat(pd.date_range("2024-03-01", periods=20, freq="h").strftime("%Y-%m-%dT%H:%M"), 3)
    data = _table({"stamp": dates, "card": np.tile(list("abc"), 20), "x": np.arange(60.0) ** 2},
                  np.tile([0, 1, 0], 20))
    split = time_split(data, time_column="stamp", group_column="card", gap="1h")
    assert split.train.columns == ("x",)
    assert split.train.numeric == ("x",) and split.train.categorical == ()
    kept = time_split(data, time_column="stamp", group_column="card", gap="1h", keep_columns=True)
    assert set(kept.train.columns) == {"x", "stamp", "card"}
    assert kept.validation.features["stamp"].min() > kept.train.features["stamp"].max()
    # the time split does not keep groups whole: the same cards are in train and test
    assert set(kept.train.features["card"]) == set(kept.test.features["card"]) == {"a", "b", "c"}


def test_fixed_test_set_must_come_after_training():
    data = _table({"t": np.arange(50.0), "x": np.arange(50.0) ** 2}, np.arange(50) % 3 == 0)
    later = _table({"t": np.arange(60.0, 70.0), "x": np.ones(10)}, np.arange(10) % 2)
    split = time_split(data, time_column="t", test=later, validation_size=0.2, gap=5)
    assert split.test.columns == ("x",) and set(split.indices) == {"train", "validation"}
    assert split.indices["validation"].size == 10 and split.indices["train"].max() < 35
    as_text = time_split(data, time_column="t", test=later, validation_size=0.2, gap="5")  # a command line's gap
    np.testing.assert_array_equal(as_text.indices["train"], split.indices["train"])
    earlier = _table({"t": np.arange(10.0), "x": np.ones(10)}, np.arange(10) % 2)
    with pytest.raises(DataError, match="The fixed test set starts at 0, not after the end of training"):
        time_split(data, time_column="t", test=earlier)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"time_column": "when"}, DataError, "Unknown time column 'when'; columns: t, x, g"),
        ({"time_column": "t", "group_column": "who"}, DataError, "Unknown group column 'who'"),
        ({"time_column": "t", "gap": 1000}, DataError, "No row of 't' is early enough for the validation part"),
        ({"time_column": "t", "gap": -1}, ConfigError, "The 'gap' parameter of time_split must be a float in"),
        ({"time_column": "t", "gap": "soon"}, ConfigError, "must be a non-negative duration such as '30d'"),
        ({"time_column": "t", "gap": "-3"}, ConfigError, "must be a non-negative duration such as '30d'"),
        ({"time_column": "t", "test_size": 0.9}, ConfigError, "validation_size \\+ test_size must be below 1"),
    ],
)
def test_time_split_errors_are_one_line(kwargs, error, message):
    data = _table({"t": np.arange(100.0), "x": np.ones(100), "g": np.arange(100) % 7}, np.arange(100) % 4 == 0)
    with pytest.raises(error, match=message) as caught:
        time_split(data, **kwargs)
    assert "\n" not in str(caught.value)


def test_a_class_missing_from_a_part_is_named():
    y = np.r_[np.zeros(90), np.ones(10)]  # the positives are all early
    data = _table({"t": np.arange(100.0), "x": np.ones(100)}, y[::-1])
    with pytest.raises(DataError, match="The validation part of the time split has no rows of class '1'"):
        time_split(data, time_column="t")
    with pytest.raises(DataError, match="The train part of the time split has no rows of class '1'"):
        time_split(_table({"t": np.arange(100.0), "x": np.ones(100)}, y), time_column="t")


def test_time_column_problems():
    missing = _table({"t": np.r_[np.nan, np.arange(99.0)], "x": np.ones(100)}, np.arange(100) % 4 == 0)
    with pytest.raises(DataError, match="The time column 't' has 1 missing values"):
        time_split(missing, time_column="t")
    text = _table({"t": ["soon"] * 100, "x": np.ones(100)}, np.arange(100) % 4 == 0)
    with pytest.raises(DataError, match="The time column 't' holds 'soon', neither a number nor a date"):
        time_split(text, time_column="t")
    dates = load_data(pd.DataFrame({"d": pd.date_range("2024-01-01", periods=40, freq="D").astype(str),
                                    "x": np.linspace(0, 1, 40) ** 2, "y": np.arange(40) % 4 == 0}), target="y")
    with pytest.raises(DataError, match="'d' was left out as an identifier when loading; load it with keep='d'"):
        time_split(dates, time_column="d")
    days = _table({"d": pd.date_range("2024-01-01", periods=40, freq="D"), "x": np.ones(40)}, np.arange(40) % 4 == 0)
    with pytest.raises(ConfigError, match="must be a duration such as '30d' for a date column. Got 3 instead"):
        time_split(days, time_column="d", gap=3)


# --- grouped -------------------------------------------------------------------------------

@st.composite
def _group_layouts(draw):
    """Groups of 1 to 12 rows; a group is fraudulent with some chance, then some of its rows are."""
    n_groups = draw(st.integers(8, 80))
    sizes = draw(st.lists(st.integers(1, 12), min_size=n_groups, max_size=n_groups))
    bad = draw(st.lists(st.booleans(), min_size=n_groups, max_size=n_groups))
    groups = np.repeat(np.arange(n_groups), sizes)
    y = np.zeros(groups.size, dtype=int)
    for g in np.flatnonzero(bad):
        rows = np.flatnonzero(groups == g)
        y[rows[: draw(st.integers(1, rows.size))]] = 1
    seed = draw(st.integers(0, 2**16))
    order = np.random.default_rng(seed).permutation(groups.size)  # rows of a group are scattered
    return groups[order], y[order], seed


@settings(max_examples=60, deadline=None)
@given(layout=_group_layouts())
def test_no_group_straddles_two_parts(layout):
    groups, y, seed = layout
    data = _table({"card": [f"c{g}" for g in groups], "x": np.arange(y.size) ** 0.5}, y)
    held = {k: np.unique(groups[y == k]).size for k in (0, 1)}
    try:
        split = group_split(data, group_column="card", random_state=seed)
    except DataError as error:
        assert "\n" not in str(error)
        assert min(held.values()) < 3 or "part of the grouped split has no rows" in str(error)
        return
    assert min(held.values()) >= 3
    _check_partition(split, y.size)
    assert sum(split.indices[p].size for p in PARTS) == y.size
    seen = [set(groups[split.indices[p]]) for p in PARTS]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    for name, part in zip(PARTS, split):
        assert set(part.y.tolist()) == {0, 1}, name
        assert part.columns == ("x",)
    again = group_split(data, group_column="card", random_state=seed)
    np.testing.assert_array_equal(again.indices["test"], split.indices["test"])


def test_group_split_approximates_the_fractions_per_class():
    rng = np.random.default_rng(4)
    groups = rng.integers(0, 3000, 20000)
    y = (rng.random(20000) < 0.02).astype(int)
    split = group_split(_table({"g": groups, "x": rng.normal(size=20000)}, y), group_column="g", random_state=0)
    for name, share in zip(PARTS, (0.7, 0.15, 0.15)):
        rows = split.indices[name]
        assert abs(np.sum(y[rows] == 1) / y.sum() - share) < 0.01, name
        assert abs(np.sum(y[rows] == 0) / np.sum(y == 0) - share) < 0.01, name
    other = group_split(_table({"g": groups, "x": rng.normal(size=20000)}, y), group_column="g", random_state=1)
    assert not np.array_equal(other.indices["test"], split.indices["test"])


def test_group_split_errors():
    groups = np.repeat(np.arange(20), 5)
    y = np.isin(groups, [0, 1]).astype(int)  # only two cards ever see fraud
    with pytest.raises(DataError, match="Class '1' appears in 2 groups of 'card'; a grouped split needs at least 3"):
        group_split(_table({"card": groups, "x": np.ones(100)}, y), group_column="card")
    ok = np.isin(groups, [0, 1, 2, 3]).astype(int)
    test = _table({"card": [3, 30, 31], "x": np.ones(3)}, [1, 0, 0])
    with pytest.raises(DataError, match="Group 3 of 'card' is in both the data and the fixed test set"):
        group_split(_table({"card": groups, "x": np.ones(100)}, ok), group_column="card", test=test)
    apart = _table({"card": [30, 31, 32], "x": np.ones(3)}, [1, 0, 0])
    split = group_split(_table({"card": groups, "x": np.ones(100)}, ok), group_column="card", test=apart,
                        random_state=0)
    assert split.test.columns == ("x",) and set(split.indices) == {"train", "validation"}
    with pytest.raises(DataError, match="group_split would leave no feature column once card is dropped"):
        group_split(_table({"card": groups}, ok), group_column="card")


def test_split_record_of_a_grouped_split_with_grouped_folds():
    groups = np.repeat(np.arange(40), 3)
    y = (np.arange(120) % 6 == 0).astype(int)
    data = _table({"card": groups, "x": np.arange(120.0) ** 2}, y)
    split = group_split(data, group_column="card", random_state=0)
    fit_rows = np.concatenate([split.indices["train"], split.indices["validation"]])
    folds = fold_assignment(y[fit_rows], 3, random_state=0, groups=groups[fit_rows])
    n_train = split.indices["train"].size
    record = split_record(120, split.indices, fold_ids={"train": folds[:n_train], "validation": folds[n_train:]},
                          ids=groups)
    assert (record.loc[record["part"] == "test", "fold"] == -1).all()
    assert (record.loc[record["part"] != "test", "fold"] >= 0).all()
    assert record.groupby("id")["part"].nunique().max() == 1
    assert record.groupby("id")["fold"].nunique().max() == 1


# --- folds ---------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(layout=_group_layouts(), folds=st.integers(2, 4), timed=st.booleans())
def test_folds_keep_groups_whole(layout, folds, timed):
    groups, y, seed = layout
    order = np.random.default_rng(seed).random(y.size) if timed else None
    try:
        ids = fold_assignment(y, folds, random_state=seed, groups=groups, order=order)
    except ValueError as error:
        assert "\n" not in str(error)
        return
    assert ids.shape == y.shape and set(ids.tolist()) == set(range(folds))
    assert pd.Series(ids).groupby(groups).nunique().max() == 1
    for k in range(folds):
        assert set(y[ids == k].tolist()) == set(y.tolist())
    if timed:
        # a group's fold follows its earliest row: later groups never go to earlier folds
        first = pd.Series(order).groupby(groups).min()
        fold = pd.Series(ids).groupby(groups).first()
        assert np.all(np.diff(fold[first.sort_values().index].to_numpy()) >= 0)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(20, 200), distinct=st.integers(10, 200), folds=st.integers(2, 5), seed=st.integers(0, 2**16))
def test_time_blocked_folds_are_contiguous_and_cover_every_row(n, distinct, folds, seed):
    rng = np.random.default_rng(seed)
    order = rng.integers(0, distinct, n).astype(float)
    y = (rng.random(n) < 0.3).astype(int)
    assume(0 < y.sum() < n)
    try:
        ids = fold_assignment(y, folds, order=order)
    except ValueError as error:
        assert "\n" not in str(error) and ("Fold" in str(error) or "smallest" in str(error))
        return
    assert ids.min() == 0 and ids.max() == folds - 1  # every row has a fold: every row gets scored
    for k in range(folds - 1):
        assert order[ids == k].max() < order[ids == k + 1].min()  # blocks in time order, ties together


def test_blocked_folds_are_about_equal():
    y = np.arange(100) % 4 == 0
    ids = fold_assignment(y.astype(int), 4, order=np.arange(100.0)[::-1], random_state=3)
    assert np.bincount(ids).tolist() == [25, 25, 25, 25]
    np.testing.assert_array_equal(ids[:25], 3)  # the latest rows are the last block


def test_fold_errors_are_one_line():
    y = np.r_[np.zeros(20, int), np.ones(6, int)]
    with pytest.raises(ValueError, match="smallest number of groups holding a class \\(2\\)"):
        fold_assignment(y, 3, groups=np.r_[np.arange(20), [20, 20, 20, 21, 21, 21]])
    with pytest.raises(ValueError, match="Fold 0 holds no row of class 1"):
        fold_assignment(y, 2, order=np.arange(26.0))  # the positives are all late
    with pytest.raises(ValueError, match="one value per row in groups"):
        fold_assignment(y, 2, groups=np.arange(5))
    with pytest.raises(ValueError, match="one time per row in order"):
        fold_assignment(y, 2, order=np.r_[np.nan, np.arange(25.0)])
