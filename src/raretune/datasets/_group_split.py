"""Grouped split: every customer (card, device) lies wholly in one part."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._errors import DataError
from ._split import PARTS, DataSplit, check_classes, part_sizes, split_column, split_parts, without_columns
from ._table import TabularData

__all__ = ["group_split"]

_OWNER = "group_split"


def group_split(
    data: TabularData,
    *,
    group_column: str,
    validation_size: float = 0.15,
    test_size: float = 0.15,
    random_state: int | None = None,
    test: TabularData | None = None,
    keep_columns: bool = False,
) -> DataSplit:
    """Split a table so that no group (customer, card) appears in more than one part.

    A fraud model scored on customers it has trained on looks better than it will be on new
    customers; here every group lies wholly in train, validation or test.

    How the fractions are approximated: groups are dealt out one at a time, in a random
    order (seeded by ``random_state``) that puts the groups holding the rarest class first.
    Each group goes to the part where it most reduces the squared gap between each class's
    share in the part and the part's fraction, summed over classes and parts; while a part
    lacks a class the group holds, it goes to such a part. So every class's share in every
    part is close to the fraction, within about one group's rows: exact shares are
    impossible when groups are large (a part's rows come in whole groups).

    Parameters
    ----------
    data : TabularData
        The table; ``group_column`` must be one of its feature columns, without missing values.
    group_column : str
        The column naming each row's group.
    validation_size, test_size : float
        Fractions of the rows, each in (0, 1), together below 1. ``test_size`` is ignored
        when ``test`` is given.
    random_state : int or None
        Seed of the order groups are dealt in; ``None`` gives a different split each call.
    test : TabularData, optional
        A fixed test set; then ``data`` is split into train and validation only. When it has
        ``group_column``, none of its groups may appear in ``data``.
    keep_columns : bool
        Keep ``group_column`` among the parts' features. By default it is left out: the
        groups of the test part are never seen in training, so their ids only invite the model
        to memorize the training groups.

    Returns
    -------
    DataSplit
        With ``indices``: each part's input row positions.

    Raises
    ------
    DataError
        When the column is missing or has missing values, a class is held by fewer groups
        than there are parts, or a part ends up without a class (the message names both).
    ConfigError
        When a size is out of range, or the sizes add up to 1 or more.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from raretune.datasets import load_data, group_split
    >>> frame = pd.DataFrame({"card": np.repeat(list("abcdefghijklmnopqrst"), 5),
    ...                       "x": np.linspace(0, 1, 100) ** 2, "y": np.tile([0, 0, 0, 0, 1], 20)})
    >>> parts = group_split(load_data(frame, target="y"), group_column="card", random_state=0)
    >>> [int(parts.indices[p].size) for p in ("train", "validation", "test")]
    [70, 15, 15]
    """
    sizes = np.array(part_sizes(validation_size, test_size, test, _OWNER))
    values = split_column(data, group_column, "group", _OWNER)
    groups, names = pd.factorize(values, sort=False)
    counts = np.zeros((names.size, data.n_classes), dtype="int64")
    np.add.at(counts, (groups, data.y), 1)
    held = (counts > 0).sum(axis=0)
    for k in np.flatnonzero(held < sizes.size):
        raise DataError(f"Class {data.classes[k]!r} appears in {int(held[k])} groups of {group_column!r}; "
                        f"a grouped split needs at least {sizes.size} (one per part).")
    part_of_group = _deal_groups(counts, sizes, np.random.default_rng(random_state))
    indices = [np.flatnonzero(part_of_group[groups] == p) for p in range(sizes.size)]
    check_classes(data, indices, "grouped split", _ADVICE)
    if test is not None and group_column in test.features.columns:
        shared = pd.Index(names).intersection(pd.Index(test.features[group_column].dropna().unique()))
        if shared.size:
            first = shared[0].item() if hasattr(shared[0], "item") else shared[0]  # 3, not np.int64(3)
            raise DataError(f"Group {first!r} of {group_column!r} is in both the data and the fixed test set "
                            f"({shared.size} such groups); a grouped split keeps groups apart.")
    if not keep_columns:
        data = without_columns(data, [group_column], _OWNER)
        if test is not None:
            test = without_columns(test, [group_column], _OWNER)
    return split_parts(data, indices, test)


_ADVICE = {p: "too few groups hold that class; raise validation_size/test_size or try another random_state"
           for p in PARTS}


def _deal_groups(counts: np.ndarray, sizes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The part of each group (rows of ``counts``: rows per class), dealt greedily."""
    n_groups, n_classes = counts.shape
    totals = np.maximum(counts.sum(axis=0), 1).astype("float64")
    held = counts > 0
    # rarity of a class: how few groups hold it; a group is as urgent as its rarest class
    rarity = held.sum(axis=0)
    urgency = np.where(held, rarity, np.iinfo("int64").max).min(axis=1)
    order = rng.permutation(n_groups)
    order = order[np.argsort(urgency[order], kind="stable")]
    classes_by_rarity = np.argsort(rarity, kind="stable")
    shares = np.zeros((sizes.size, n_classes))  # share of each class dealt to each part so far
    part_of_group = np.full(n_groups, -1, dtype="int64")
    covered = False  # whether every part holds every class
    for g in order:
        if covered and held[g].sum() == 1:
            continue  # single-class groups are dealt in bulk below
        share = counts[g] / totals
        candidates = np.arange(sizes.size)
        for k in classes_by_rarity:
            # a part that still lacks a class this group holds gets it first
            if held[g, k] and (shares[:, k] == 0).any():
                candidates = np.flatnonzero(shares[:, k] == 0)
                break
        best = candidates[int(np.argmin([_imbalance(shares, sizes, p, share) for p in candidates]))]
        part_of_group[g] = best
        shares[best] += share
        covered = covered or bool((shares > 0).all())
    _deal_single_class(counts, sizes, shares, part_of_group, order)
    return part_of_group


def _imbalance(shares: np.ndarray, sizes: np.ndarray, part: int, share: np.ndarray) -> float:
    """Sum over parts and classes of (share - fraction of the class dealt so far)^2, were
    ``share`` added to ``part``. Measured against what has been dealt, not the final totals,
    so that classes still mostly undealt do not pull every group toward the largest part."""
    after = shares.copy()
    after[part] += share
    return float(((after - sizes[:, None] * after.sum(axis=0)) ** 2).sum())


def _deal_single_class(counts, sizes, shares, part_of_group, order) -> None:
    """Deal the groups left (each holds one class) in ``order``, filling each part's shortfall.

    For a group of one class the greedy choice only weighs that class, so cutting the groups'
    running row count at the parts' remaining needs makes the same choices at once.
    """
    left = order[part_of_group[order] < 0]
    if left.size == 0:
        return
    label = counts[left].argmax(axis=1)
    totals = counts.sum(axis=0)
    for k in np.unique(label):
        groups = left[label == k]
        rows = counts[groups, k].astype("float64")
        need = np.maximum(sizes - shares[:, k], 0) * totals[k]
        if need.sum() == 0:
            need = sizes * totals[k]
        bounds = np.cumsum(need) / need.sum() * rows.sum()
        middle = np.cumsum(rows) - rows / 2
        part_of_group[groups] = np.minimum(np.searchsorted(bounds, middle, side="right"), sizes.size - 1)
