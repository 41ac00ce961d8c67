"""Feature columns: their kinds (numeric or categorical), coercion, and the columns to leave out.

A column is left out when every value is missing, when it is an identifier (see
:func:`id_like_reason`), or when the user drops it; a copy of the label is refused.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._errors import ConfigError, DataError
from ._labels import label_names, list_names

__all__ = ["MISSING_CATEGORY", "coerce_columns", "id_like_reason", "refuse_label_copies", "select_columns",
           "type_columns"]

#: Category that stands for a missing value in a categorical column.
MISSING_CATEGORY = "(missing)"

# Below this many rows, distinct values (or a run of whole numbers) are common by chance and
# say nothing about a column being an identifier.
_MIN_ID_ROWS = 20
_HEAD_ROWS = 256


def refuse_label_copies(features: pd.DataFrame, labels: pd.Series, target: str) -> None:
    """A feature equal to the label (pandas names a repeated CSV header ``label.1``) is a target leak."""
    labels = labels.reset_index(drop=True)
    head = labels.iloc[:_HEAD_ROWS].astype(str).to_numpy()
    label_text = None
    for name in features.columns:
        column = features[name].reset_index(drop=True)
        # compare the first rows first: most columns differ there, and text copies are costly
        if not np.array_equal(column.iloc[:_HEAD_ROWS].astype(str).to_numpy(), head):
            continue
        if label_text is None:
            label_text = labels.astype(str).to_numpy()
        if np.array_equal(column.astype(str).to_numpy(), label_text):
            raise DataError(f"Column {name!r} repeats the label {target!r} (a target leak); drop it.")


def type_columns(features: pd.DataFrame):
    numeric, categorical, notes = [], [], []
    for name in list(features.columns):
        column = features[name]
        if column.isna().all():
            notes.append(f"column {name!r} dropped: every value is missing")
            features = features.drop(columns=[name])
            continue
        if pd.api.types.is_bool_dtype(column):
            categorical.append(name)
        elif pd.api.types.is_datetime64_any_dtype(column):
            numeric.append(name)
            notes.append(f"column {name!r}: dates used as seconds since 1970")
        elif pd.api.types.is_numeric_dtype(column):
            numeric.append(name)
        else:
            categorical.append(name)
    features, coerce_notes = coerce_columns(features, tuple(numeric), tuple(categorical))
    return tuple(numeric), tuple(categorical), features, notes + coerce_notes


def coerce_columns(features: pd.DataFrame, numeric, categorical):
    notes = []
    out = {}
    for name in numeric:
        column = features[name]
        if pd.api.types.is_datetime64_any_dtype(column):
            # pandas 3 reads dates in microseconds: count nanoseconds whatever the column's unit
            values = column.dt.as_unit("ns").astype("int64").to_numpy(dtype="float64") / 1e9
            values[column.isna().to_numpy()] = np.nan
        else:
            values = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64")
            bad = np.isnan(values) & column.notna().to_numpy()
            if bad.any():
                example = column[bad].iloc[0]
                raise DataError(
                    f"Column {name!r} should be numeric but holds {example!r} "
                    f"({int(bad.sum())} such values)."
                )
        n_inf = int(np.isinf(values).sum())
        if n_inf:
            raise DataError(
                f"Column {name!r} holds {n_inf} infinite values; replace them (or mark them "
                "missing) before training."
            )
        n_missing = int(np.isnan(values).sum())
        if n_missing:
            notes.append(
                f"column {name!r}: {n_missing} missing values, imputed with the training median"
            )
        out[name] = values
    for name in categorical:
        column = features[name]
        n_missing = int(column.isna().sum())
        values = label_names(column)
        if n_missing:
            values[column.isna().to_numpy()] = MISSING_CATEGORY
            notes.append(f"column {name!r}: {n_missing} missing values, kept as category {MISSING_CATEGORY!r}")
        # object from the start: a plain array would be stored as pandas' string dtype, then converted back
        out[name] = pd.Series(values, dtype=object, index=range(features.shape[0]))
    frame = pd.DataFrame(out, index=range(features.shape[0]))
    return frame, notes


def id_like_reason(column: pd.Series) -> str | None:
    """Why ``column`` looks like an identifier, or None when it looks like a feature.

    An identifier is a text column with a different value on every row, or a column of whole
    numbers, all distinct and strictly rising (or falling) in row order: a row number or a
    sequential transaction id. Such a column cannot carry over to new rows. Continuous
    numbers that happen to be distinct (amounts) are features, and so are dates.
    """
    n = len(column)
    if n < _MIN_ID_ROWS or column.isna().any():
        return None
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
        return None
    if pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype="float64")
        if not np.array_equal(values, np.round(values)):
            return None
        steps = np.diff(values)
        if (steps > 0).all() or (steps < 0).all():
            return "distinct whole numbers in row order"
        return None
    if column.nunique() == n:
        return "unique per row"
    return None


def select_columns(features: pd.DataFrame, target: str, *, keep=(), drop=()):
    """Leave out the columns named in ``drop`` and the identifiers not named in ``keep``.

    Returns
    -------
    features : pandas.DataFrame
        The columns kept.
    dropped : tuple of str
        The identifiers left out (not the columns of ``drop``).
    notes : list of str
        One line per identifier left out, saying how to keep it.
    """
    keep, drop = _names(keep, "keep"), _names(drop, "drop")
    known = set(features.columns)
    for option, names in (("keep", keep), ("drop", drop)):
        if target in names:
            if option == "drop":
                raise DataError(f"Cannot drop the target column {target!r}.")
            continue  # the target is never a feature: keeping it changes nothing
        unknown = [n for n in names if n not in known]
        if unknown:
            raise DataError(
                f"Unknown column {unknown[0]!r} in {option}; columns: {list_names([*features.columns, target])}."
            )
    both = sorted(set(keep) & set(drop))
    if both:
        raise ConfigError(f"Column {both[0]!r} is named in both keep and drop.")
    dropped, notes = [], []
    for name in features.columns:
        if name in keep or name in drop:
            continue
        reason = id_like_reason(features[name])
        if reason is not None:
            dropped.append(name)
            notes.append(f"column {name!r} dropped: {reason}, an identifier; keep it with --keep {name}")
    features = features.drop(columns=[*drop, *dropped])
    if features.shape[1] == 0 and (drop or dropped):
        raise DataError(
            f"No feature column is left besides {target!r} once {list_names([*drop, *dropped])} are dropped."
        )
    return features, tuple(dropped), notes


def _names(value, option: str) -> tuple:
    """A column name or a sequence of them, as a tuple of str."""
    if isinstance(value, str):
        return (value,)
    try:
        return tuple(str(v) for v in value)
    except TypeError:
        raise ConfigError(f"The {option!r} parameter must be a column name or a list of them. Got {value!r} instead.") from None
