"""The per-period stage: test metrics week by week (or month by month) of an out-of-time run.

A model scored once on the whole test span hides decay: fraud patterns move, and the last
weeks of the test can be much worse than the first. With ``time_column`` the test rows are the
latest ones; this stage cuts their span into calendar periods and scores each one at the
run's threshold, for ``metrics.json`` (``per_period``) and the report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["period_metrics", "periods_of"]

#: Numbers between these (1990-01-01 and 2100-01-01, in seconds since 1970) are read as dates:
#: load_data turns a date column into seconds since 1970, and so do many exports.
_EPOCH_SECONDS = (631_152_000, 4_102_444_800)
#: Shortest span cut into weeks, and into months (shorter spans are cut into days).
_WEEKS_FROM_DAYS, _MONTHS_FROM_DAYS = 14, 112
#: A span of plain numbers (not dates) is cut into this many equal intervals.
_NUMERIC_PERIODS = 8


def period_metrics(config, data, test_data, split, test_score, threshold) -> dict | None:
    """Test PR-AUC, recall, precision and alert rate per period of ``config.time_column``.

    Parameters
    ----------
    config : RunConfig
        ``time_column`` names the column; without it (or for a multiclass task) nothing is done.
    data, test_data : TabularData
        The loaded data (with the time column) and the fixed test set, if any.
    split : DataSplit
        Its ``indices["test"]`` are the test rows' positions in ``data``.
    test_score : numpy.ndarray
        Calibrated test scores, in the order of those rows.
    threshold : float
        The run's threshold.

    Returns
    -------
    dict or None
        ``{"column", "unit", "threshold", "periods": [...]}``; each period has ``label``,
        ``start``, ``end`` (in the column's units, seconds since 1970 for dates), ``rows``,
        ``positives``, ``positive_rate``, ``pr_auc``, ``recall``, ``precision`` and ``alert_rate``.
        ``pr_auc`` and ``recall`` are ``None`` (undefined) in a period without positives, and
        ``precision`` in one without alerts: no positives is no evidence, not a score of 0.
    """
    column = config.time_column
    if column is None or not data.is_binary or threshold is None:
        return None
    from ..datasets._time_split import _times  # the time split's own reading of the column

    if test_data is not None:
        if column not in test_data.features.columns:
            return None
        values, y = test_data.features[column], test_data.y
    else:
        rows = split.indices["test"]
        values, y = data.features[column].iloc[rows], data.y[rows]
    times, is_date = _times(values, column)
    return {"column": column, "threshold": float(threshold),
            **periods_of(times, np.asarray(y) == 1, test_score, threshold, dates=True if is_date else None)}


def periods_of(times, positive, score, threshold: float, *, dates: bool | None = None) -> dict:
    """Cut ``times`` into periods and score each: ``{"unit", "periods"}``.

    Dates are cut into calendar days, weeks (Monday to Sunday) or months: days for a span
    under 14 days, weeks under 112 days (16 weeks), months beyond. Other numbers are cut into
    8 equal intervals of the span.

    Parameters
    ----------
    times : array-like of float
        Dates as seconds since 1970, or plain numbers.
    positive : array-like of bool
    score : array-like of float
    threshold : float
        Rows scoring at least this are alerts.
    dates : bool or None
        Whether ``times`` are dates; ``None``: when every time lies between 1990 and 2100 as
        seconds since 1970 (what :func:`~raretune.datasets.load_data` makes of a date column,
        and how many exports write times).

    Examples
    --------
    >>> import numpy as np
    >>> day = 86_400
    >>> times = 1_767_225_600 + day * np.arange(60)          # 2026-01-01 to 2026-03-01
    >>> out = periods_of(times, np.arange(60) % 10 == 0, np.linspace(0, 1, 60), 0.5)
    >>> out["unit"], out["periods"][0]["label"], out["periods"][0]["rows"]
    ('week', '2025-12-29', 4)
    """
    times = np.asarray(times, dtype="float64")
    positive = np.asarray(positive, dtype=bool)
    score = np.asarray(score, dtype="float64")
    if dates is None:
        dates = bool(_EPOCH_SECONDS[0] <= times.min() and times.max() < _EPOCH_SECONDS[1])
    unit, bounds, labels = _cuts(times, dates)
    which = np.searchsorted(bounds, times, side="right") - 1
    periods = []
    for k, label in enumerate(labels):
        inside = which == k
        if inside.any():
            periods.append({"label": label, "start": float(bounds[k]), "end": float(bounds[k + 1]),
                            **_scores(positive[inside], score[inside], threshold)})
    return {"unit": unit, "periods": periods}


def _cuts(times: np.ndarray, dates: bool):
    """``(unit, period bounds, labels)``: the bounds start at or before the earliest time."""
    low, high = float(times.min()), float(times.max())
    if dates:
        first, last = pd.Timestamp(low, unit="s"), pd.Timestamp(high, unit="s")
        days = (last - first).total_seconds() / 86_400
        if days < _WEEKS_FROM_DAYS:
            unit, start, step, fmt = "day", first.floor("D"), pd.DateOffset(days=1), "%Y-%m-%d"
        elif days < _MONTHS_FROM_DAYS:
            start = first.floor("D") - pd.Timedelta(days=first.day_of_week)  # the Monday of its week
            unit, step, fmt = "week", pd.DateOffset(weeks=1), "%Y-%m-%d"
        else:
            unit, start, step, fmt = "month", first.floor("D").replace(day=1), pd.DateOffset(months=1), "%Y-%m"
        edges = [start]
        while edges[-1] <= last:
            edges.append(edges[-1] + step)
        bounds = np.array([e.value / 1e9 for e in edges])
        return unit, bounds, [e.strftime(fmt) for e in edges[:-1]]
    width = (high - low) / _NUMERIC_PERIODS if high > low else 1.0
    bounds = low + width * np.arange(_NUMERIC_PERIODS + 1)
    bounds[-1] = np.nextafter(high, np.inf)  # the latest time falls in the last interval
    return "interval", bounds, [f"{a:g} to {b:g}" for a, b in zip(bounds[:-1], bounds[1:])]


def _scores(positive: np.ndarray, score: np.ndarray, threshold: float) -> dict:
    from sklearn.metrics import average_precision_score

    alert = score >= threshold
    n_positive, n_alert = int(positive.sum()), int(alert.sum())
    return {
        "rows": int(positive.size),
        "positives": n_positive,
        "positive_rate": n_positive / positive.size,
        "pr_auc": float(average_precision_score(positive, score)) if n_positive else None,
        "recall": int((alert & positive).sum()) / n_positive if n_positive else None,
        "precision": int((alert & positive).sum()) / n_alert if n_alert else None,
        "alert_rate": n_alert / positive.size,
    }
