"""Columns left out: identifiers (unless kept), columns the user drops, and what is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raretune import ConfigError, DataError
from raretune.datasets import load_data, read_rows, table_from_frame

N = 40


def _frame(**extra):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "amount": np.round(rng.lognormal(3, 1, N), 2),  # continuous, distinct on every row
        "kind": rng.choice(["a", "b"], N),
        "label": np.r_[np.zeros(N - 6, int), np.ones(6, int)],
    })
    return frame.assign(**extra)


@pytest.mark.parametrize(
    ("column", "reason"),
    [
        (np.arange(N), "distinct whole numbers in row order"),  # a row number
        (1000.0 + 7 * np.arange(N)[::-1], "distinct whole numbers in row order"),  # falling, as floats
        ([f"T{i:05d}" for i in np.random.default_rng(1).permutation(N)], "unique per row"),  # text, any order
    ],
)
def test_identifiers_are_dropped_with_a_note(column, reason):
    data = load_data(_frame(txn_id=column), target="label")
    assert data.columns == ("amount", "kind") and data.dropped == ("txn_id",)
    assert f"column 'txn_id' dropped: {reason}, an identifier; keep it with --keep txn_id" in data.notes
    # the schema (and so the model) never sees it, and rows to score need not have it
    assert read_rows(_frame().drop(columns="label"), data).features.columns.tolist() == ["amount", "kind"]


@pytest.mark.parametrize(
    "column",
    [
        np.random.default_rng(2).permutation(N),  # distinct whole numbers, shuffled: a feature
        np.r_[np.arange(N - 1), N - 2],  # rising but one repeat
        np.arange(N) + 0.5,  # not whole numbers
        pd.date_range("2024-01-01", periods=N, freq="h"),  # times in order are a feature
        ["x"] * (N - 1) + ["y"],  # text, repeated
        [f"T{i}" for i in range(N - 1)] + [None],  # text, unique but one missing
    ],
)
def test_features_that_look_alike_are_kept(column):
    data = load_data(_frame(other=column), target="label")
    assert "other" in data.columns and data.dropped == ()
    assert "amount" in data.numeric  # continuous amounts, unique per row, are a feature


def test_small_tables_keep_every_column():
    frame = pd.DataFrame({"row": range(10), "name": [f"n{i}" for i in range(10)], "y": [0] * 8 + [1] * 2})
    assert load_data(frame, target="y").columns == ("row", "name")


def test_keep_and_drop():
    frame = _frame(txn_id=np.arange(N), note=[f"n{i}" for i in range(N)])
    kept = load_data(frame, target="label", keep=["txn_id"])
    assert kept.columns == ("amount", "txn_id", "kind") and kept.dropped == ("note",)
    assert not any("'txn_id' dropped" in n for n in kept.notes)
    np.testing.assert_array_equal(kept.features["txn_id"], np.arange(N))
    dropped = load_data(frame, target="label", keep="txn_id", drop="kind")
    assert dropped.columns == ("amount", "txn_id") and dropped.dropped == ("note",)
    direct = table_from_frame(frame, target="label", drop=("amount",))
    assert direct.columns == ("kind",) and direct.dropped == ("txn_id", "note")


def test_keep_and_drop_errors():
    frame = _frame(txn_id=np.arange(N))
    with pytest.raises(DataError, match=r"^Unknown column 'txn' in keep; columns: amount, kind, txn_id, label\.$"):
        load_data(frame, target="label", keep=["txn"])
    with pytest.raises(DataError, match="Unknown column 'nope' in drop; columns: amount"):
        load_data(frame, target="label", drop="nope")
    with pytest.raises(DataError, match="^Cannot drop the target column 'label'.$"):
        load_data(frame, target="label", drop=["label"])
    with pytest.raises(DataError, match=r"No feature column is left besides 'label' once amount, kind, txn_id"):
        load_data(frame, target="label", drop=["amount", "kind"])
    with pytest.raises(ConfigError, match="'kind' is named in both keep and drop"):
        load_data(frame, target="label", keep="kind", drop="kind")


def test_default_data_loses_no_column():
    from tests.conftest import make_frame

    for frame in (make_frame(), make_frame(n=200, seed=3, categorical=False, label_text=False)):
        data = load_data(frame, target="label")
        assert data.columns == tuple(c for c in frame.columns if c != "label") and data.dropped == ()
