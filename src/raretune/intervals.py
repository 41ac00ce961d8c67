"""How sure we are at the decision, and what it costs: Wilson intervals and money intervals.

:func:`raretune.thresholds.select_threshold` picks one threshold and
:mod:`raretune.operating` describes what it does; this module says how far its figures can
be trusted: Wilson intervals of the precision, recall and alert rate at the decision
(:func:`decision_intervals`), and the money it loses and saves with stratified bootstrap
intervals (:func:`cost_summary`).

Every count is exact (:mod:`raretune._threshold_counts`); a row is flagged when
``score >= threshold``. This module sits below ``operating``, which re-exports its names.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from ._threshold_counts import _counts, _counts_at, _labels_and_scores, _number, _ratio
from ._validation import check_number
from .metrics import cost_at_threshold, row_costs

__all__ = ["cost_summary", "decision_intervals", "wilson_interval"]


def wilson_interval(successes: int, trials: int, *, level: float = 0.95) -> tuple:
    """Wilson score interval of a proportion.

    Parameters
    ----------
    successes, trials : int
    level : float, default=0.95

    Returns
    -------
    (low, high) : tuple of float
        ``(nan, nan)`` when ``trials`` is 0.

    Examples
    --------
    >>> tuple(round(v, 3) for v in wilson_interval(8, 10))
    (0.49, 0.943)
    """
    check_number(level, "level", "wilson_interval", low=0, high=1, closed="neither")
    if trials <= 0:
        return math.nan, math.nan
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    # at p = 0 or 1 the interval touches the bound exactly; do not leave rounding error there
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= trials else min(1.0, centre + half)
    return low, high


def decision_intervals(y_true, score, threshold: float, *, level: float = 0.95, sample_weight=None) -> dict:
    """Wilson intervals for precision, recall and alert rate at one threshold.

    Parameters
    ----------
    y_true : array-like of {0, 1}
    score : array-like of float
    threshold : float
    level : float, default=0.95
    sample_weight : array-like of float, optional
        Row weights. Precision and recall become weighted shares, and each interval is the
        Wilson interval of that share over the Kish effective sample size of the weights in
        its denominator, ``(sum w) ** 2 / sum w ** 2`` over the flagged rows (precision) or the
        positives (recall): as many equally weighted rows as carry the same information, so
        a few heavy rows widen the interval. The alert rate counts rows, as the ``"alerts"``
        rule does (an analyst reviews rows), so it stays unweighted.

    Returns
    -------
    dict
        ``level`` and, for each of ``precision`` (successes: true alarms among flagged
        rows), ``recall`` (caught among positives) and ``alert_rate`` (flagged among all
        rows), a dict ``{"value", "low", "high", "successes", "trials"}``. Each interval
        treats its denominator as fixed; NaN where the denominator is 0. With
        ``sample_weight``, precision's and recall's ``successes`` and ``trials`` are sums of
        weights and they add ``effective_trials`` (the Kish size the interval used).

    Examples
    --------
    >>> iv = decision_intervals([1, 1, 0, 1], [0.9, 0.8, 0.7, 0.2], 0.5, sample_weight=[1, 1, 2, 4])
    >>> iv["precision"]["value"], round(iv["recall"]["value"], 3), iv["recall"]["effective_trials"]
    (0.5, 0.333, 2.0)
    """
    y_true, score = _labels_and_scores(y_true, score, "decision_intervals")
    check_number(threshold, "threshold", "decision_intervals")
    c = _counts(y_true, score, threshold) if math.isnan(float(threshold)) else _counts_at(y_true, score, float(threshold))
    tp, fp = int(c["tp"][0]), int(c["fp"][0])
    out = {"level": level}
    for name, successes, trials in (
        ("precision", tp, tp + fp),
        ("recall", tp, c["n_pos"]),
        ("alert_rate", tp + fp, c["n"]),
    ):
        low, high = wilson_interval(successes, trials, level=level)
        out[name] = {"value": _ratio(successes, trials), "low": low, "high": high,
                     "successes": successes, "trials": trials}
    if sample_weight is not None:
        weight = np.asarray(sample_weight, dtype=float)
        flagged, positive = score >= threshold, y_true == 1
        for name, among in (("precision", flagged), ("recall", positive)):
            out[name] = _weighted_wilson(weight[among], (flagged & positive)[among], level)
    return out


def _weighted_wilson(weight, success, level: float) -> dict:
    """The Wilson interval of a weighted share, over the Kish effective size of ``weight``."""
    trials, successes = float(weight.sum()), float(weight[success].sum())
    effective = trials ** 2 / float(np.sum(weight ** 2)) if trials > 0 else 0.0
    share = _ratio(successes, trials)
    low, high = wilson_interval(share * effective if trials > 0 else 0.0, effective, level=level)
    return {"value": share, "low": low, "high": high, "successes": successes, "trials": trials,
            "effective_trials": effective}


def cost_summary(
    y_true,
    score,
    threshold: float,
    cost_fn: float,
    cost_fp: float,
    *,
    cost=None,
    sample_weight=None,
    n_resamples: int = 1000,
    level: float = 0.95,
    random_state: int | None = 0,
) -> dict:
    """The money a threshold loses and saves, beside the two trivial policies.

    Parameters
    ----------
    y_true : array-like of {0, 1}
    score : array-like of float
    threshold : float
    cost_fn, cost_fp : float
        Cost of a missed positive and of a false alarm (same unit, e.g. euros).
    cost : array-like of float, optional
        Each row's cost of being missed (e.g. the amount); replaces ``cost_fn``.
    sample_weight : array-like of float, optional
        Row weights.
    n_resamples : int, default=1000
        Bootstrap resamples for the intervals (0: none). Positives and negatives are drawn
        with replacement separately, as for the report's PR-AUC interval.
    level : float, default=0.95
    random_state : int or None, default=0

    Returns
    -------
    dict
        ``money_lost`` (the missed positives' costs plus ``cost_fp`` per false alarm, from
        :func:`raretune.metrics.row_costs`), ``money_saved_vs_flag_nobody`` (flagging nobody
        loses every positive's cost), ``amount_weighted_recall`` (the share of the positives'
        cost caught; NaN when it is 0), ``flag_nobody_money_lost``,
        ``flag_everyone_money_lost``, ``intervals`` (bootstrap ``[low, high]`` of
        ``money_lost`` and ``money_saved_vs_flag_nobody``, ``level``, ``n_resamples``), the
        same figures under their older names (``total_cost``, ``cost_per_row``,
        ``flag_nobody_total_cost``, ``flag_everyone_total_cost``, ``saved_vs_flag_nobody``)
        and the counts ``fn``, ``fp`` (sums of weights with ``sample_weight``) and ``n``.

    Examples
    --------
    >>> s = cost_summary([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.2], 0.5, cost_fn=10, cost_fp=1, n_resamples=0)
    >>> s["money_lost"], s["flag_nobody_money_lost"], s["money_saved_vs_flag_nobody"]
    (11.0, 20.0, 9.0)
    >>> s = cost_summary([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.2], 0.5, cost_fn=1, cost_fp=1, cost=[0, 0, 30, 10],
    ...                  n_resamples=0)
    >>> s["money_lost"], s["amount_weighted_recall"]
    (11.0, 0.75)
    """
    check_number(cost_fn, "cost_fn", "cost_summary", low=0)
    check_number(cost_fp, "cost_fp", "cost_summary", low=0)
    check_number(n_resamples, "n_resamples", "cost_summary", kind=int, low=0)
    y_true, score = _labels_and_scores(y_true, score, "cost_summary")
    costs = dict(cost_fn=cost_fn, cost_fp=cost_fp, cost=cost, sample_weight=sample_weight)
    money = cost_at_threshold(y_true, score, threshold, **costs)
    c = _counts(y_true, score, threshold, sample_weight)
    lost, nobody = money["lost"], money["flag_nobody"]
    out = {
        "money_lost": lost,
        "money_saved_vs_flag_nobody": nobody - lost,
        "amount_weighted_recall": _ratio(nobody - _missed(y_true, score, threshold, costs), nobody),
        "flag_nobody_money_lost": nobody,
        "flag_everyone_money_lost": money["flag_everyone"],
        "intervals": _money_intervals(y_true, score, threshold, costs, n_resamples, level, random_state),
        "cost_per_row": lost / c["n"],
        "total_cost": lost,
        "flag_nobody_total_cost": nobody,
        "flag_everyone_total_cost": money["flag_everyone"],
        "saved_vs_flag_nobody": nobody - lost,
        "fn": _number(c["fn"][0]),
        "fp": _number(c["fp"][0]),
        "n": int(y_true.size),
    }
    return out


def _missed(y_true, score, threshold, costs) -> float:
    """The missed positives' share of the money lost (false alarms left out)."""
    miss, _ = row_costs(y_true, **costs)
    return float(miss[score < threshold].sum())


def _money_intervals(y_true, score, threshold, costs, n_resamples, level, random_state) -> dict | None:
    """Stratified bootstrap intervals of the money lost and saved at a fixed threshold.

    At a fixed threshold the money lost is a sum over rows (:func:`raretune.metrics.row_costs`),
    so a resample is a vector of draw counts and its total one dot product. With a cost per
    class (no amount column) the rows take a handful of distinct values, and the draws are
    counted per value: a multinomial with the values' shares, the same distribution as per row.
    """
    if n_resamples == 0:
        return None
    check_number(level, "level", "cost_summary", low=0, high=1, closed="neither")
    miss, alarm = row_costs(y_true, **costs)
    flagged = score >= threshold
    lost_row = np.where(flagged, alarm, miss)
    saved_row = miss - lost_row
    rng = np.random.default_rng(random_state)
    lost = np.zeros(n_resamples)
    saved = np.zeros(n_resamples)
    for rows in (np.flatnonzero(y_true == 1), np.flatnonzero(y_true == 0)):
        if rows.size == 0:
            continue
        # rows of equal money are one group: a multinomial over the groups draws as the rows do
        values, counts = np.unique(np.c_[lost_row[rows], saved_row[rows]], axis=0, return_counts=True)
        grouped = values.shape[0] * 8 <= rows.size
        width = values.shape[0] if grouped else rows.size
        chunk = max(1, 4_000_000 // width)  # bounds the draw matrix to a few tens of MB
        for start in range(0, n_resamples, chunk):
            b = min(chunk, n_resamples - start)
            if grouped:
                total = rng.multinomial(rows.size, counts / rows.size, size=b) @ values
            else:
                drawn = rows[rng.integers(0, rows.size, size=(b, rows.size))]
                total = np.c_[lost_row[drawn].sum(axis=1), saved_row[drawn].sum(axis=1)]
            lost[start:start + b] += total[:, 0]
            saved[start:start + b] += total[:, 1]
    tail = (1 - level) / 2 * 100
    return {"money_lost": [float(v) for v in np.percentile(lost, [tail, 100 - tail])],
            "money_saved_vs_flag_nobody": [float(v) for v in np.percentile(saved, [tail, 100 - tail])],
            "level": float(level), "n_resamples": int(n_resamples)}
