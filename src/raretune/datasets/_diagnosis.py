"""An honest description of a table's imbalance."""

from __future__ import annotations

import numpy as np

from ._table import TabularData

__all__ = ["describe_imbalance"]


def describe_imbalance(data: TabularData, counts=None) -> dict:
    """Describe the class balance of a table.

    Parameters
    ----------
    data : TabularData
    counts : array-like of int, optional
        Rows per class (in ``data.classes`` order) of the whole data when ``data`` is a
        sample of it (a streamed run's sample keeps every rare row: its own balance is not
        the data's); default: ``data``'s own.

    Returns
    -------
    dict
        ``n_rows``, ``class_counts`` (name -> rows), ``positive_rate`` (binary: share of the
        positive class; multiclass: share of the rarest class), ``imbalance_ratio`` (largest
        over smallest class), ``minority`` (name of the rarest class), and ``warnings``:
        plain sentences about what will make the task hard (very few minority rows, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from raretune.datasets import load_data, describe_imbalance
    >>> d = describe_imbalance(load_data((np.zeros((100, 1)), np.r_[np.zeros(95), np.ones(5)])))
    >>> d["positive_rate"], d["imbalance_ratio"]
    (0.05, 19.0)
    """
    counts = data.class_counts if counts is None else np.asarray(counts, dtype=np.int64)
    n = int(counts.sum())
    rare = int(np.argmin(counts))
    rate = counts[1] / n if data.is_binary else counts[rare] / n
    warnings = []
    if counts[rare] < 50:
        warnings.append(
            f"class {data.classes[rare]!r} has only {int(counts[rare])} rows: validation and test "
            "scores will be noisy (see the bootstrap intervals)"
        )
    if counts[rare] < 6:
        warnings.append(
            f"class {data.classes[rare]!r} has fewer than 6 rows: SMOTE-like remedies need "
            "k_neighbors below its training count"
        )
    return {
        "n_rows": n,
        "class_counts": {name: int(c) for name, c in zip(data.classes, counts)},
        "positive_rate": float(rate),
        "imbalance_ratio": float(counts.max() / max(counts.min(), 1)),
        "minority": data.classes[rare],
        "warnings": warnings,
    }
