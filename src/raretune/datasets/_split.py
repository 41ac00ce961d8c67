"""Stratified train / validation / test split."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._errors import DataError
from .._validation import check_number
from ._table import TabularData

__all__ = ["DataSplit", "stratified_split"]


class DataSplit(NamedTuple):
    """The three parts of a split; ``test`` may come from a fixed test set."""

    train: TabularData  # or ImageData, like the data split
    validation: TabularData
    test: TabularData


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

    Raises
    ------
    DataError
        When a class has too few rows to appear in every part.

    Examples
    --------
    >>> import numpy as np
    >>> from raretune.datasets import load_data, stratified_split
    >>> X = np.arange(200, dtype=float).reshape(100, 2)
    >>> y = np.r_[np.zeros(90), np.ones(10)]
    >>> parts = stratified_split(load_data((X, y)), random_state=0)
    >>> [int(p.y.sum()) for p in parts]
    [7, 2, 1]
    """
    check_number(validation_size, "validation_size", "stratified_split", low=0, high=1, closed="neither")
    if test is None:
        check_number(test_size, "test_size", "stratified_split", low=0, high=1, closed="neither")
        if validation_size + test_size >= 1:
            raise DataError(
                f"validation_size + test_size must be below 1; got {validation_size + test_size:g}."
            )
        sizes = (1.0 - validation_size - test_size, validation_size, test_size)
    else:
        sizes = (1.0 - validation_size, validation_size)
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
        counts = _allocate(rows.size, sizes)
        start = 0
        for part, count in zip(parts, counts):
            part.append(rows[start : start + count])
            start += count
    # shuffle each part so classes are interleaved, then restore a stable order
    indices = [np.sort(np.concatenate(p)) for p in parts]
    train, validation = data.take(indices[0]), data.take(indices[1])
    if test is None:
        test = data.take(indices[2])
    return DataSplit(train, validation, test)


def _allocate(n: int, sizes) -> list:
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
