"""The operating point: what a decision threshold does, how sure we are, and what it costs.

:func:`raretune.thresholds.select_threshold` picks one threshold; this module describes it so
that a reader can defend (or change) the choice: whether the rule's target was reached
(:func:`threshold_outcome`), the neighbouring thresholds (:func:`operating_table`), Wilson
intervals at the decision (:func:`decision_intervals`), money (:func:`cost_summary`) and
warnings when too few positives make any of it shaky (:func:`reliability_warnings`).

Every figure is exact, from :func:`raretune.metrics.threshold_sweep` counts; a row is
flagged when ``score >= threshold``. This module sits beside ``thresholds`` (same layer) and
imports neither it nor anything above ``metrics``.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from ._errors import DataError
from ._validation import check_number, check_option
from .metrics import alert_count, threshold_sweep

__all__ = [
    "MIN_RELIABLE_POSITIVES",
    "OUTCOME_RULES",
    "cost_summary",
    "decision_intervals",
    "operating_table",
    "reliability_warnings",
    "threshold_outcome",
    "wilson_interval",
]

#: The threshold rules whose outcome can be described (those of ``select_threshold``).
OUTCOME_RULES = ("f1", "precision", "recall", "cost", "alerts")

#: Fewer positives than this in a part make its figures unreliable.
MIN_RELIABLE_POSITIVES = 30


def _labels_and_scores(y_true, score, owner: str):
    y_true = np.asarray(y_true).astype(int)
    score = np.asarray(score, dtype=float)
    if y_true.shape != score.shape or y_true.ndim != 1:
        raise DataError(f"{owner}: y_true and score must be 1-D of the same length; got {y_true.shape} and {score.shape}.")
    if y_true.size == 0:
        raise DataError(f"{owner}: there are no rows.")
    return y_true, score


def _counts(y_true, score, thresholds) -> dict:
    """Confusion counts at each threshold, read off one sweep (exact, ``score >= t``)."""
    sweep, tp, fp = threshold_sweep(y_true, score)
    t = np.atleast_1d(np.asarray(thresholds, dtype=float))
    # sweep thresholds are strictly decreasing: count those >= t by searching the negation
    above = np.searchsorted(-sweep, -t, side="right")
    tp = np.r_[0, tp][above]
    fp = np.r_[0, fp][above]
    n_pos = int(y_true.sum())
    n_neg = int(y_true.size) - n_pos
    return {"tp": tp, "fp": fp, "fn": n_pos - tp, "tn": n_neg - fp, "n": int(y_true.size), "n_pos": n_pos}


def _ratio(num, den) -> float:
    return float(num / den) if den > 0 else math.nan


def threshold_outcome(
    y_true,
    score,
    threshold: float,
    rule: str,
    target: float | None = None,
    *,
    cost_fn: float = 1.0,
    cost_fp: float = 1.0,
) -> dict:
    """Say whether a threshold rule's target was reached on the rows given.

    Parameters
    ----------
    y_true : array-like of {0, 1}
    score : array-like of float
    threshold : float
        The threshold chosen (normally by ``select_threshold`` with the same rule).
    rule : {"f1", "precision", "recall", "cost", "alerts"}
    target : float, optional
        The rule's target (precision or recall floor, or share of rows to flag).
    cost_fn, cost_fp : float
        Costs for ``"cost"``.

    Returns
    -------
    dict
        ``rule``, ``target``; ``reached`` (bool: the precision or recall is at least the
        target; for ``"alerts"`` the rows flagged are within one of ``round(target * n)``;
        always true for ``"f1"`` and ``"cost"``, which have no target); ``achieved`` (the
        precision, recall, alert rate, F1 or cost per row at the threshold); ``fallback``
        (``None``, or one sentence saying what was used instead, e.g. "precision=0.9 not
        reached on validation: best precision 0.33 used instead").

    Examples
    --------
    >>> out = threshold_outcome([0, 1, 0, 1], [0.9, 0.8, 0.3, 0.2], 0.5, "precision", 0.9)
    >>> out["reached"], out["achieved"]
    (False, 0.5)
    """
    check_option(rule, "rule", "threshold_outcome", OUTCOME_RULES)
    y_true, score = _labels_and_scores(y_true, score, "threshold_outcome")
    c = _counts(y_true, score, threshold)
    tp, fp, fn = int(c["tp"][0]), int(c["fp"][0]), int(c["fn"][0])
    flagged, n = tp + fp, c["n"]
    out = {"rule": rule, "target": target, "reached": True, "achieved": None, "fallback": None}
    if rule == "f1":
        out["achieved"] = _ratio(2 * tp, 2 * tp + fp + fn)
    elif rule == "cost":
        out["achieved"] = (cost_fn * fn + cost_fp * fp) / n
    elif rule == "alerts":
        check_number(target, "target", "threshold_outcome", low=0, high=1, closed="neither")
        wanted = alert_count(target, n)
        out["achieved"] = flagged / n
        out["reached"] = abs(flagged - wanted) <= 1
        if not out["reached"]:
            out["fallback"] = (
                f"alerts={target:.4g} ({wanted} of {n} rows) not reachable on validation because of "
                f"tied scores: {flagged} rows ({flagged / n:.3%}) flagged instead"
            )
    else:
        check_number(target, "target", "threshold_outcome", low=0, high=1, closed="right")
        out["achieved"] = _ratio(tp, flagged) if rule == "precision" else _ratio(tp, c["n_pos"])
        achieved = out["achieved"] if not math.isnan(out["achieved"]) else 0.0
        out["reached"] = achieved >= target - 1e-12
        if not out["reached"]:
            _, all_tp, all_fp = threshold_sweep(y_true, score)
            values = all_tp / (all_tp + all_fp) if rule == "precision" else all_tp / max(c["n_pos"], 1)
            best = float(values.max())
            if achieved >= best - 1e-12:
                tail = f"best {rule} {achieved:.2g} used instead"
            else:
                tail = f"{rule} {achieved:.2g} at the threshold used (best reachable {best:.2g})"
            out["fallback"] = f"{rule}={target:g} not reached on validation: {tail}"
    return out


def operating_table(
    y_true,
    score,
    *,
    chosen: float | None = None,
    costs: dict | None = None,
    thresholds=None,
    n_points: int = 25,
) -> list[dict]:
    """What each of a grid of thresholds would do, one row per threshold.

    Parameters
    ----------
    y_true : array-like of {0, 1}
    score : array-like of float
    chosen : float, optional
        The threshold in use: always a row of the table, marked ``"chosen": True``.
    costs : dict, optional
        ``{"fn": x, "fp": y}``: adds ``expected_cost_per_row`` and ``total_cost``.
    thresholds : array-like of float, optional
        The grid; by default ``n_points`` quantiles of the scores: the scores of the row
        ranked ``k`` from the top, for ``k`` spaced evenly in log scale from 1 to ``n``, so
        that the rare end (a handful of alerts) is seen as well as the bulk.
    n_points : int, default=25
        Size of the default grid (fewer when scores tie).

    Returns
    -------
    list of dict
        Highest threshold first; keys ``threshold``, ``flagged``, ``precision`` (NaN when
        nothing is flagged), ``recall`` (NaN without positives), ``alert_rate``,
        ``flagged_per_10000``, ``tp``, ``fp``, ``fn``, ``tn``, ``chosen`` and, with
        ``costs``, ``expected_cost_per_row`` and ``total_cost``.

    Examples
    --------
    >>> rows = operating_table([0, 1, 1, 0], [0.1, 0.9, 0.4, 0.4], thresholds=[0.4], chosen=0.9)
    >>> [(r["threshold"], r["tp"], r["fp"], r["chosen"]) for r in rows]
    [(0.9, 1, 0, True), (0.4, 2, 1, False)]
    """
    y_true, score = _labels_and_scores(y_true, score, "operating_table")
    n = y_true.size
    if thresholds is None:
        check_number(n_points, "n_points", "operating_table", kind=int, low=2)
        ranks = np.unique(np.round(np.geomspace(1, n, n_points)).astype(int))
        grid = np.sort(score)[::-1][ranks - 1]
    else:
        grid = np.asarray(thresholds, dtype=float).ravel()
    if chosen is not None:
        grid = np.r_[grid, float(chosen)]
    grid = np.unique(grid)[::-1]
    c = _counts(y_true, score, grid)
    rows = []
    for i, t in enumerate(grid):
        tp, fp, fn, tn = (int(c[key][i]) for key in ("tp", "fp", "fn", "tn"))
        row = {
            "threshold": float(t),
            "flagged": tp + fp,
            "precision": _ratio(tp, tp + fp),
            "recall": _ratio(tp, c["n_pos"]),
            "alert_rate": (tp + fp) / n,
            "flagged_per_10000": 10000 * (tp + fp) / n,
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "tn": tn,
            "chosen": chosen is not None and float(t) == float(chosen),
        }
        if costs:
            total = _total_cost(fn, fp, costs["fn"], costs["fp"])
            row.update(expected_cost_per_row=total / n, total_cost=total)
        rows.append(row)
    return rows


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


def decision_intervals(y_true, score, threshold: float, *, level: float = 0.95) -> dict:
    """Wilson intervals for precision, recall and alert rate at one threshold.

    Parameters
    ----------
    y_true : array-like of {0, 1}
    score : array-like of float
    threshold : float
    level : float, default=0.95

    Returns
    -------
    dict
        ``level`` and, for each of ``precision`` (successes: true alarms among flagged
        rows), ``recall`` (caught among positives) and ``alert_rate`` (flagged among all
        rows), a dict ``{"value", "low", "high", "successes", "trials"}``. Each interval
        treats its denominator as fixed; NaN where the denominator is 0.
    """
    y_true, score = _labels_and_scores(y_true, score, "decision_intervals")
    check_number(threshold, "threshold", "decision_intervals")
    c = _counts(y_true, score, threshold)
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
    return out


def _total_cost(fn, fp, cost_fn, cost_fp) -> float:
    """The one cost definition: a missed positive costs ``cost_fn``, a false alarm ``cost_fp``."""
    return float(cost_fn * fn + cost_fp * fp)


def cost_summary(y_true, score, threshold: float, cost_fn: float, cost_fp: float) -> dict:
    """The cost of a threshold, and of the two trivial policies beside it.

    Parameters
    ----------
    y_true : array-like of {0, 1}
    score : array-like of float
    threshold : float
    cost_fn, cost_fp : float
        Cost of a missed positive and of a false alarm (same unit, e.g. euros).

    Returns
    -------
    dict
        ``cost_per_row``, ``total_cost`` (``cost_fn * FN + cost_fp * FP``),
        ``flag_nobody_total_cost`` (every positive missed), ``flag_everyone_total_cost``
        (every negative a false alarm), ``saved_vs_flag_nobody`` (``flag_nobody_total_cost
        - total_cost``), and the counts ``fn``, ``fp``, ``n``.

    Examples
    --------
    >>> s = cost_summary([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.2], 0.5, cost_fn=10, cost_fp=1)
    >>> s["total_cost"], s["flag_nobody_total_cost"], s["saved_vs_flag_nobody"]
    (11.0, 20.0, 9.0)
    """
    check_number(cost_fn, "cost_fn", "cost_summary", low=0)
    check_number(cost_fp, "cost_fp", "cost_summary", low=0)
    y_true, score = _labels_and_scores(y_true, score, "cost_summary")
    c = _counts(y_true, score, threshold)
    fn, fp, n = int(c["fn"][0]), int(c["fp"][0]), c["n"]
    total = _total_cost(fn, fp, cost_fn, cost_fp)
    nobody = _total_cost(c["n_pos"], 0, cost_fn, cost_fp)
    return {
        "cost_per_row": total / n,
        "total_cost": total,
        "flag_nobody_total_cost": nobody,
        "flag_everyone_total_cost": _total_cost(0, n - c["n_pos"], cost_fn, cost_fp),
        "saved_vs_flag_nobody": nobody - total,
        "fn": fn,
        "fp": fp,
        "n": n,
    }


def reliability_warnings(y_validation, y_test=None, *, min_positives: int = MIN_RELIABLE_POSITIVES) -> list[str]:
    """Warnings for parts with too few positives to trust their figures.

    Parameters
    ----------
    y_validation, y_test : array-like of {0, 1}
        Labels of the validation and test parts (``y_test`` may be ``None``).
    min_positives : int, default=30

    Returns
    -------
    list of str
        One line per part with fewer than ``min_positives`` positives, e.g. "only 9
        positives in validation: figures unreliable"; empty when both parts have enough.

    Examples
    --------
    >>> reliability_warnings([1] * 9 + [0] * 100, [1] * 40)
    ['only 9 positives in validation: figures unreliable']
    """
    check_number(min_positives, "min_positives", "reliability_warnings", kind=int, low=1)
    warnings = []
    for part, y in (("validation", y_validation), ("test", y_test)):
        if y is None:
            continue
        count = int((np.asarray(y).astype(int) == 1).sum())
        if count < min_positives:
            noun = "positive" if count == 1 else "positives"
            warnings.append(f"only {count} {noun} in {part}: figures unreliable")
    return warnings
