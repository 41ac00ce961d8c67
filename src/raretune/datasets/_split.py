"""Train / validation / test splits: stratified (random), out-of-time, grouped; the split's record.

Every split returns a :class:`DataSplit` whose ``indices`` say which input rows went to which
part, and :func:`split_record` turns those into one row per input row (for ``split.parquet``).
Out-of-time and grouped splits live in ``_time_split`` and ``_group_split``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import NamedTuple

import numpy as np
import pandas as pd

from .._errors import ConfigError, DataError
from .._validation import check_number
from ._labels import list_names
from ._table import TabularData

__all__ = ["DataSplit", "PARTS", "split_record", "stratified_split"]

#: The parts of a split, in time order for an out-of-time split.
PARTS = ("train", "validation", "test")


class _Parts(NamedTuple):
    train: TabularData  # or ImageData, like the data split
    validation: TabularData
    test: TabularData


class DataSplit(_Parts):
    """The three parts of a split; ``test`` may come from a fixed test set.

    A named tuple of three, so ``train, validation, test = split`` keeps working; ``indices``
    rides along as an attribute rather than a fourth field for that reason.

    Parameters
    ----------
    train, validation, test : TabularData or ImageData
        The parts.
    indices : dict or None
        Part name (``"train"``, ``"validation"``, ``"test"``) to the sorted positions of its
        rows in the table that was split. ``"test"`` is absent when the test set was given
        whole; rows that no part holds (an out-of-time split's gaps) are in no entry. ``None``
        when the parts were assembled by hand.
    """

    indices: dict | None = None  # class default: copies made by ``_replace`` have no indices

    def __new__(cls, train, validation, test, indices: Mapping | None = None):
        self = super().__new__(cls, train, validation, test)
        if indices is not None:
            self.indices = {str(k): np.asarray(v, dtype="int64") for k, v in indices.items()}
        return self


def stratified_split(
    data: TabularData,
    *,
    validation_size: float = 0.15,
    test_size: float = 0.15,
    test: TabularData | None = None,
    random_state: int | None = None,
) -> DataSplit:
    """Split a table into train, validation and test parts with the same class shares.

    Every class keeps its share in each part (up to rounding), and every class has at least
    one row in each part, so validation and test scores exist for the rare class. The parts
    never share a row.

    Parameters
    ----------
    data : TabularData or ImageData
        The table (or image set) to split; only ``y``, ``classes`` and ``take`` are used.
    validation_size, test_size : float
        Fractions of the rows, each in (0, 1), together below 1. ``test_size`` is ignored
        when ``test`` is given.
    test : TabularData or ImageData, optional
        A fixed test set; then ``data`` is split into train and validation only.
    random_state : int or None
        Seed of the shuffle; ``None`` gives a different split each call.

    Returns
    -------
    DataSplit
        With ``indices`` filled.

    Raises
    ------
    DataError
        When a class has too few rows to appear in every part.
    ConfigError
        When a size is out of range, or the sizes add up to 1 or more.

    Examples
    --------
    >>> import numpy as np
    >>> from raretune.datasets import load_data, stratified_split
    >>> X = np.arange(200, dtype=float).reshape(100, 2)
    >>> y = np.r_[np.zeros(90), np.ones(10)]
    >>> parts = stratified_split(load_data((X, y), keep=("x0", "x1")), random_state=0)
    >>> [int(p.y.sum()) for p in parts]
    [7, 2, 1]
    """
    sizes = part_sizes(validation_size, test_size, test, "stratified_split")
    rng = np.random.default_rng(random_state)
    parts = [[] for _ in sizes]
    for k, name in enumerate(data.classes):
        rows = np.flatnonzero(data.y == k)
        if rows.size < len(sizes):
            raise DataError(
                f"Class {name!r} has {rows.size} rows; a stratified split needs at least "
                f"{len(sizes)} (one per part)."
            )
        rows = rng.permutation(rows)
        counts = allocate_counts(rows.size, sizes)
        start = 0
        for part, count in zip(parts, counts):
            part.append(rows[start : start + count])
            start += count
    # shuffle each part so classes are interleaved, then restore a stable order
    indices = [np.sort(np.concatenate(p)) for p in parts]
    return split_parts(data, indices, test)


def part_sizes(validation_size, test_size, test, owner: str) -> tuple:
    """The fractions of the parts cut from the data (two when ``test`` is given whole)."""
    check_number(validation_size, "validation_size", owner, low=0, high=1, closed="neither")
    if test is not None:
        return (1.0 - validation_size, validation_size)
    check_number(test_size, "test_size", owner, low=0, high=1, closed="neither")
    if validation_size + test_size >= 1:
        raise ConfigError(f"validation_size + test_size must be below 1; got {validation_size + test_size:g}.")
    return (1.0 - validation_size - test_size, validation_size, test_size)


def split_parts(data, indices, test=None) -> DataSplit:
    """The :class:`DataSplit` of ``data`` with the rows ``indices`` (one array per part, in
    :data:`PARTS` order; two when ``test`` is given whole)."""
    named = dict(zip(PARTS, indices))
    train, validation = data.take(named["train"]), data.take(named["validation"])
    if test is None:
        test = data.take(named["test"])
    return DataSplit(train, validation, test, indices=named)


def split_record(n_rows: int, split_indices: Mapping, fold_ids=None, ids=None) -> pd.DataFrame:
    """Every input row's part (and cross-fitting fold), one row per input row.

    Parameters
    ----------
    n_rows : int
        Rows of the table that was split.
    split_indices : mapping
        Part name to input row positions, as in :attr:`DataSplit.indices`. Positions must lie
        in ``[0, n_rows)`` and no row may be in two parts.
    fold_ids : mapping or array-like, optional
        Cross-fitting fold of the rows: either a mapping part -> fold ids aligned with
        ``split_indices[part]`` (parts left out have no fold), or one id per input row
        (length ``n_rows``). ``-1`` means "in no fold".
    ids : array-like, optional
        An identifier per input row (length ``n_rows``), written as column ``id``.

    Returns
    -------
    pandas.DataFrame
        Columns ``row`` (position in the input), ``id`` (only with ``ids``), ``part``
        (categorical: ``"train"``, ``"validation"``, ``"test"``, or ``"gap"`` for rows no
        part holds, such as the rows an out-of-time split leaves out) and ``fold`` (``-1``
        when none).

    Raises
    ------
    DataError
        When a position is out of range, a row is in two parts, or a length does not match.

    Examples
    --------
    >>> split_record(5, {"train": [0, 3], "test": [4]}, fold_ids={"train": [1, 0]})
       row   part  fold
    0    0  train     1
    1    1    gap    -1
    2    2    gap    -1
    3    3  train     0
    4    4   test    -1
    """
    n_rows = check_number(n_rows, "n_rows", "split_record", kind=int, low=0)
    names = [*PARTS, *(str(k) for k in split_indices if str(k) not in PARTS), "gap"]
    code = np.full(n_rows, len(names) - 1, dtype="int64")  # "gap" until a part claims the row
    seen = np.zeros(n_rows, dtype=bool)
    for name, rows in split_indices.items():
        rows = np.asarray(rows, dtype="int64")
        if rows.size and (rows.min() < 0 or rows.max() >= n_rows):
            raise DataError(f"Part {name!r} names row {int(rows.max())}, outside the {n_rows} rows split.")
        if rows.size and np.bincount(rows).max() > 1:
            raise DataError(f"Part {name!r} names a row twice.")
        if seen[rows].any():
            raise DataError(f"Row {int(rows[seen[rows]][0])} is in part {name!r} and in another part.")
        seen[rows] = True
        code[rows] = names.index(str(name))
    fold = np.full(n_rows, -1, dtype="int64")
    if isinstance(fold_ids, Mapping):
        for name, folds in fold_ids.items():
            rows = np.asarray(split_indices.get(name, ()), dtype="int64")
            folds = np.asarray(folds, dtype="int64")
            if folds.shape != rows.shape:
                raise DataError(f"fold_ids[{name!r}] has {folds.size} ids for the {rows.size} rows of part {name!r}.")
            fold[rows] = folds
    elif fold_ids is not None:
        fold = np.asarray(fold_ids, dtype="int64")
        if fold.shape != (n_rows,):
            raise DataError(f"fold_ids has {fold.size} ids for {n_rows} rows; give one per input row.")
    columns = {"row": np.arange(n_rows, dtype="int64")}
    if ids is not None:
        ids = np.asarray(ids)
        if ids.shape[:1] != (n_rows,):
            raise DataError(f"ids has {len(ids)} values for {n_rows} rows; give one per input row.")
        columns["id"] = ids
    # categorical: small in memory and stored as a dictionary column in parquet
    columns["part"] = pd.Categorical.from_codes(code, categories=names)
    columns["fold"] = fold
    return pd.DataFrame(columns)


def split_column(data, column: str, role: str, owner: str) -> pd.Series:
    """The feature column ``column`` of ``data`` that a split is keyed on, without missing values.

    ``role`` ("time", "group") and ``owner`` (the function) are for the messages.
    """
    features = getattr(data, "features", None)
    if features is None:
        raise DataError(f"{owner} needs a table with a {role} column; {type(data).__name__} has no columns.")
    if column not in features.columns:
        if column in getattr(data, "dropped", ()):
            raise DataError(f"The {role} column {column!r} was left out as an identifier when loading; "
                            f"load it with keep={column!r} (--keep {column}).")
        if column == getattr(data, "target", None):
            raise DataError(f"The {role} column {column!r} is the label column; name another column.")
        raise DataError(f"Unknown {role} column {column!r}; columns: {list_names(features.columns)}.")
    values = features[column]
    n_missing = int(values.isna().sum())
    if n_missing:
        raise DataError(f"The {role} column {column!r} has {n_missing} missing values; fill them or drop those rows.")
    return values


def without_columns(data, columns, owner: str):
    """``data`` (a table) with ``columns`` no longer among its features; the others unchanged."""
    columns = [c for c in columns if c in data.features.columns]
    if not columns:
        return data
    if set(data.columns) <= set(columns):
        raise DataError(f"{owner} would leave no feature column once {list_names(columns)} is dropped; "
                        "keep it with keep_columns=True.")
    return replace(
        data,
        features=data.features.drop(columns=columns),
        numeric=tuple(c for c in data.numeric if c not in columns),
        categorical=tuple(c for c in data.categorical if c not in columns),
    )


def check_classes(data, indices, how: str, advice: Mapping) -> None:
    """Raise :class:`DataError` naming the first part (of ``indices``, one array per part in
    :data:`PARTS` order) without rows of some class; ``how`` names the split and ``advice``
    (part -> what to change) ends the message."""
    for name, rows in zip(PARTS, indices):
        present = np.bincount(data.y[rows], minlength=data.n_classes) > 0
        if not present.all():
            label = data.classes[int(np.argmin(present))]
            what = "rows" if rows.size == 0 else f"rows of class {label!r}"
            raise DataError(f"The {name} part of the {how} has no {what}; {advice[name]}.")


def allocate_counts(n: int, sizes) -> list:
    """Split ``n`` rows by ``sizes``, at least one row per part, largest remainders first."""
    n_parts = len(sizes)
    raw = np.asarray(sizes) * n
    counts = np.maximum(np.floor(raw).astype(int), 1)
    # give or take rows from the first (training) part to match n exactly
    while counts.sum() > n:
        j = int(np.argmax(counts))
        counts[j] -= 1
    remainder = raw - np.floor(raw)
    order = np.argsort(-remainder, kind="stable")
    i = 0
    while counts.sum() < n:
        counts[order[i % n_parts]] += 1
        i += 1
    return counts.tolist()
