"""Out-of-time split: train on the past, validate on what came next, test on the latest rows."""

from __future__ import annotations

import datetime
import numbers
import re

import numpy as np
import pandas as pd

from .._errors import ConfigError, DataError
from .._validation import check_number
from ._split import (PARTS, DataSplit, allocate_counts, check_classes, part_sizes, split_column, split_parts,
                     without_columns)
from ._table import TabularData

__all__ = ["time_split"]

_OWNER = "time_split"


def time_split(
    data: TabularData,
    *,
    time_column: str,
    validation_size: float = 0.15,
    test_size: float = 0.15,
    gap=None,
    test: TabularData | None = None,
    group_column: str | None = None,
    keep_columns: bool = False,
) -> DataSplit:
    """Split a table by time: train on the earliest rows, validate next, test on the latest.

    Fraud is scored on transactions that happen after the model was trained; a random split
    lets the model learn from the future of its own test rows. Here the rows are ordered by
    ``time_column``; the test part is the latest ``test_size`` of the rows, the validation
    part the ``validation_size`` before it, and training gets the rest. Rows sharing a
    timestamp never straddle two parts (the boundary moves to whichever side of the tie is
    nearer the asked fraction), so each part's share is exact up to ties.

    ``gap`` leaves out the rows within ``gap`` before the start of validation and before the
    start of test (labels mature: a chargeback arrives weeks after the payment, so the last
    rows before a cut-off are not yet labelled in practice). Those rows are in no part; their
    share is taken from training, so validation and test keep their sizes. Afterwards, every
    validation timestamp is strictly later than every training timestamp plus ``gap``, and
    every test timestamp strictly later than every validation (and training) timestamp plus ``gap``.

    Parameters
    ----------
    data : TabularData
        The table; ``time_column`` must be one of its feature columns, without missing values.
        Numbers, datetimes, or text that pandas reads as dates. :func:`load_data` stores a
        date column as seconds since 1970, and leaves out a column of whole numbers rising in
        row order as an identifier unless it is named in ``keep``.
    time_column : str
        The column that orders the rows.
    validation_size, test_size : float
        Fractions of the rows, each in (0, 1), together below 1. ``test_size`` is ignored
        when ``test`` is given.
    gap : pandas.Timedelta, datetime.timedelta, str, number or None
        Time left out before validation and before test. A duration ("30d", "12h",
        ``pandas.Timedelta``) is read in seconds when the column holds numbers (the unit
        :func:`load_data` gives dates); a plain number (or a string of one, as from a command
        line) is in the column's own units and needs a numeric column. ``None`` is no gap.
    test : TabularData, optional
        A fixed test set; then ``data`` is split into train and validation only. When it has
        ``time_column``, its rows must all be later than training plus ``gap``.
    group_column : str, optional
        A column naming who a row belongs to (customer, card). The time split does not keep
        groups whole: a customer's later rows rightly land in test. Naming it here checks it
        and, unless ``keep_columns``, leaves it out of the features; cross-fitting folds keep
        groups whole (``fold_assignment(..., groups=...)``, with the groups of the rows
        ``indices`` names).
    keep_columns : bool
        Keep ``time_column`` (and ``group_column``) among the parts' features. By default they
        are left out: a timestamp of the past never recurs in the rows to score, so a model
        that leans on it extrapolates, and a group id only lets it memorize groups.

    Returns
    -------
    DataSplit
        With ``indices``: each part's input row positions (rows in a gap are in none).

    Raises
    ------
    DataError
        When the column is missing or has missing values, the gap leaves a part without rows,
        or a part lacks a class (the message names the part and the class).
    ConfigError
        When a size or the gap is invalid.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from raretune.datasets import load_data, time_split
    >>> frame = pd.DataFrame({"day": np.arange(20) % 10 * 1.5, "x": np.linspace(0, 1, 20) ** 2,
    ...                       "y": [0, 1] * 10})
    >>> parts = time_split(load_data(frame, target="y"), time_column="day", validation_size=0.2,
    ...                    test_size=0.2, gap=2)
    >>> [parts.indices[p].size for p in ("train", "validation", "test")]
    [8, 4, 4]
    """
    sizes = part_sizes(validation_size, test_size, test, _OWNER)
    times, is_date = _times(split_column(data, time_column, "time", _OWNER), time_column)
    if group_column is not None:
        split_column(data, group_column, "group", _OWNER)
    gap_value = _gap(gap, is_date)
    indices = _time_parts(times, allocate_counts(times.size, sizes), gap_value, time_column)
    check_classes(data, indices, "time split", _ADVICE)
    if test is not None and time_column in test.features.columns:
        test_times, _ = _times(split_column(test, time_column, "time", _OWNER), time_column)
        train_end = times[indices[0]].max()
        if not (test_times.min() > train_end + gap_value):
            raise DataError(f"The fixed test set starts at {_show(test_times.min(), is_date)}, not after the end of "
                            f"training ({_show(train_end, is_date)}) plus the gap; an out-of-time test must come later.")
    if not keep_columns:
        dropped = [time_column] + ([] if group_column is None else [group_column])
        data = without_columns(data, dropped, _OWNER)
        if test is not None:
            test = without_columns(test, dropped, _OWNER)
    return split_parts(data, indices, test)


_ADVICE = {
    "train": "the class only appears late; lower validation_size, test_size or the gap",
    "validation": "raise validation_size or lower the gap",
    "test": "raise test_size or lower the gap",
}


def _time_parts(times: np.ndarray, counts, gap: float, column: str) -> list:
    """Row positions of each part, earliest part first; the latest parts are cut first."""
    order = np.argsort(times, kind="stable")
    ordered = times[order]
    names = PARTS[: len(counts)]
    parts = []
    end = times.size  # parts are carved from the end: test, then validation; training takes the rest
    for k in range(len(counts) - 1, 0, -1):
        start = _nearest_cut(ordered, end - counts[k], end) if end - counts[k] > 0 else 0
        parts.append(order[start:end])
        # rows within the gap before this part belong to no part
        end = int(np.searchsorted(ordered + gap, ordered[start], side="left"))
        if end == 0:
            raise DataError(f"No row of {column!r} is early enough for the {names[k - 1]} part before the "
                            f"{names[k]} part starts; lower the gap or the sizes of the later parts.")
    parts.append(order[:end])
    return [np.sort(p) for p in reversed(parts)]


def _nearest_cut(ordered: np.ndarray, target: int, end: int) -> int:
    """The cut position nearest ``target`` that does not split a run of equal times, leaving
    the part ``[cut, end)`` at least one row."""
    left = int(np.searchsorted(ordered, ordered[target], side="left"))
    right = int(np.searchsorted(ordered, ordered[target], side="right"))
    if right >= end or target - left <= right - target:
        return left
    return right


def _times(values: pd.Series, column: str):
    """``(times as float64, whether they are dates)``; dates become seconds since 1970."""
    if pd.api.types.is_bool_dtype(values):
        raise DataError(f"The time column {column!r} holds booleans, not times.")
    if pd.api.types.is_numeric_dtype(values):
        times = values.to_numpy(dtype="float64")
        if not np.isfinite(times).all():
            raise DataError(f"The time column {column!r} holds infinite values.")
        return times, False
    if not pd.api.types.is_datetime64_any_dtype(values):
        try:
            values = pd.to_datetime(values, format="ISO8601")
        except (ValueError, TypeError):
            example = values.iloc[0]
            raise DataError(f"The time column {column!r} holds {example!r}, neither a number nor a date.") from None
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    # the same seconds since 1970 that load_data gives a date column
    return values.astype("datetime64[ns]").astype("int64").to_numpy(dtype="float64") / 1e9, True


def _gap(gap, is_date: bool) -> float:
    """The gap in the units of the times (seconds for dates)."""
    if gap is None:
        return 0.0
    if isinstance(gap, str) and re.fullmatch(r"\s*[0-9.]+(e[+-]?[0-9]+)?\s*", gap, flags=re.IGNORECASE):
        try:
            gap = float(gap)  # "3600" from a command line: a number in the column's units
        except ValueError:
            pass
    if isinstance(gap, numbers.Real) and not isinstance(gap, bool):
        if is_date:
            raise ConfigError(f"The 'gap' parameter of {_OWNER} must be a duration such as '30d' for a date "
                              f"column. Got {gap!r} instead.")
        return float(check_number(gap, "gap", _OWNER, low=0))
    if isinstance(gap, (str, datetime.timedelta, np.timedelta64, pd.Timedelta)):
        if isinstance(gap, str):
            # "30d" is the natural spelling; pandas 3 deprecates the lower-case day unit
            gap = re.sub(r"(\d)\s*d\b", r"\1D", gap.strip())
        try:
            seconds = pd.Timedelta(gap).total_seconds()
        except (ValueError, TypeError):
            seconds = float("nan")
        if seconds >= 0:
            return seconds
    raise ConfigError(f"The 'gap' parameter of {_OWNER} must be a non-negative duration such as '30d' or '12h' "
                      f"(or a number). Got {gap!r} instead.")


def _show(value: float, is_date: bool) -> str:
    return str(pd.Timestamp(value, unit="s")) if is_date else f"{value:g}"
