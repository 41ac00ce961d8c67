"""Categorical values are named once per distinct value, with the names row-by-row naming gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from raretune.datasets._columns import coerce_columns
from raretune.datasets._labels import label_name

_VALUES = st.one_of(st.text(max_size=3), st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=False, width=32),
                    st.booleans(), st.none(), st.binary(max_size=2))


def _row_by_row(column: pd.Series) -> list:
    names = [label_name(v) for v in column.to_numpy(dtype=object)]
    return ["__missing__" if missing else name for name, missing in zip(names, column.isna())]


@settings(max_examples=150, deadline=None)
@given(values=st.lists(_VALUES, min_size=1, max_size=30), kind=st.sampled_from(["object", "same", "category"]))
def test_names_equal_row_by_row_naming(values, kind):
    if kind == "same":  # one kind of value per column, the usual case
        values = [v if isinstance(v, type(values[0])) or v is None else values[0] for v in values]
    column = pd.Series(values, dtype="category" if kind == "category" and len({type(v) for v in values}) == 1
                       else object)
    frame, _ = coerce_columns(pd.DataFrame({"c": column}), (), ("c",))
    expected = _row_by_row(column)
    got = ["__missing__" if missing else name for name, missing in zip(frame["c"], column.isna())]
    assert got == expected


def test_true_and_one_stay_two_categories():
    frame, _ = coerce_columns(pd.DataFrame({"c": pd.Series([True, 1, 1.0, False, 0], dtype=object)}), (), ("c",))
    assert frame["c"].tolist() == ["True", "1", "1", "False", "0"]


def test_a_million_rows_of_text_are_named_by_value():
    column = pd.Series(np.array(["online", "pos", "atm"], dtype=object)[np.arange(1_000_000) % 3])
    frame, _ = coerce_columns(pd.DataFrame({"c": column}), (), ("c",))
    assert frame["c"].iloc[:4].tolist() == ["online", "pos", "atm", "online"] and frame["c"].dtype == object


@settings(max_examples=150, deadline=None)
@given(values=st.lists(_VALUES, min_size=1, max_size=30))
def test_label_names_equal_row_by_row_naming_missing_values_included(values):
    from raretune.datasets._labels import encode_known_labels, label_names

    column = np.array(values + [None], dtype=object)[:-1]  # an object array, whatever the values
    expected = [label_name(v) for v in column]
    assert label_names(column).tolist() == expected  # None is "None", NaN is "nan", as one by one
    classes = tuple(dict.fromkeys(expected))[:2] + ("absent",)
    index = {name: i for i, name in enumerate(classes)}
    assert encode_known_labels(column, classes).tolist() == [index.get(name, -1) for name in expected]
