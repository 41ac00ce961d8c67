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

from ._binary_counts import SortedScores
from ._errors import DataError
from ._validation import check_number, check_option
from .metrics import alert_count, cost_at_threshold, cost_sweep, row_costs, threshold_sweep

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


def _counts(y_true, score, thresholds, sample_weight=None) -> dict:
    """Confusion counts (sums of weights, with ``sample_weight``) at each threshold, read off
    one sweep (exact, ``score >= t``)."""
    sweep, tp, fp = threshold_sweep(y_true, score, sample_weight)
    t = np.atleast_1d(np.asarray(thresholds, dtype=float))
    # sweep thresholds are strictly decreasing: count those >= t by searching the negation
    above = np.searchsorted(-sweep, -t, side="right")
    tp = np.r_[0, tp][above]
    fp = np.r_[0, fp][above]
    if sample_weight is None:
        n_pos = int(y_true.sum())
        n = int(y_true.size)
    else:
        weight = np.asarray(sample_weight, dtype=float)
        n_pos, n = float(weight[y_true == 1].sum()), float(weight.sum())
    return {"tp": tp, "fp": fp, "fn": n_pos - tp, "tn": (n - n_pos) - fp, "n": n, "n_pos": n_pos}


def _counts_at(y_true, score, threshold: float) -> dict:
    """:func:`_counts` of unweighted rows at one threshold, counted directly (a byte a row of
    temporaries, where a sweep sorts every row: 661 MB at 15M validation rows)."""
    flagged = score >= threshold
    positive = y_true == 1
    tp = int(np.count_nonzero(flagged & positive))
    n_flagged, n_pos, n = int(np.count_nonzero(flagged)), int(np.count_nonzero(positive)), int(y_true.size)
    tp_, fp_ = np.array([tp]), np.array([n_flagged - tp])
    return {"tp": tp_, "fp": fp_, "fn": n_pos - tp_, "tn": (n - n_pos) - fp_, "n": n, "n_pos": n_pos}


def _sorted_rows(y_true, score, thresholds, chosen, cost, sample_weight) -> SortedScores | None:
    """Binary, unweighted rows sorted once (millions of validation rows), or None for the
    general path; NaN thresholds stay there too, as its search places them below every score."""
    if sample_weight is not None or np.ndim(score) != 1:
        return None
    if thresholds is not None and np.isnan(np.asarray(thresholds, dtype=float)).any():
        return None
    if chosen is not None and math.isnan(float(chosen)):
        return None
    return SortedScores.of(y_true, score, cost=cost)


def _sorted_counts(sorted_: SortedScores, thresholds) -> dict:
    """:func:`_counts` of binary, unweighted rows, from their sorted scores."""
    tp, fp = sorted_.at_or_above(thresholds)
    n, n_pos = sorted_.n, sorted_.n_pos
    return {"tp": tp, "fp": fp, "fn": n_pos - tp, "tn": (n - n_pos) - fp, "n": n, "n_pos": n_pos}


def _number(value):
    """A count as an int, a sum of weights as a float (JSON keeps which one it is)."""
    return int(value) if isinstance(value, (int, np.integer)) else float(value)


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
    cost=None,
    sample_weight=None,
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
    cost, sample_weight : array-like of float, optional
        Per-row costs of a missed positive and row weights, as in ``select_threshold``.

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
    weight = None if rule == "alerts" else sample_weight
    if weight is None and not math.isnan(float(threshold)):  # one threshold: counted, not swept
        c = _counts_at(y_true, score, float(threshold))
    else:
        c = _counts(y_true, score, threshold, weight)
    tp, fp, fn = (_number(c[key][0]) for key in ("tp", "fp", "fn"))
    flagged, n = tp + fp, c["n"]
    out = {"rule": rule, "target": target, "reached": True, "achieved": None, "fallback": None}
    if rule == "f1":
        out["achieved"] = _ratio(2 * tp, 2 * tp + fp + fn)
    elif rule == "cost":
        money = cost_at_threshold(y_true, score, threshold, cost_fn=cost_fn, cost_fp=cost_fp, cost=cost,
                                  sample_weight=sample_weight)
        out["achieved"] = money["lost"] / n
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
            _, all_tp, all_fp = threshold_sweep(y_true, score, sample_weight)
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
    cost=None,
    sample_weight=None,
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
    cost : array-like of float, optional
        Per-row cost of missing a positive (replaces ``costs["fn"]``).
    sample_weight : array-like of float, optional
        Row weights: the counts become sums of weights.

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
    lean = _sorted_rows(y_true, score, thresholds, chosen, cost if costs else None, sample_weight)
    if lean is None:
        y_true, score = _labels_and_scores(y_true, score, "operating_table")
    n = y_true.size if lean is None else lean.n
    if thresholds is None:
        check_number(n_points, "n_points", "operating_table", kind=int, low=2)
        ranks = np.unique(np.round(np.geomspace(1, n, n_points)).astype(int))
        grid = np.sort(score)[::-1][ranks - 1] if lean is None else lean.ranked(ranks)
    else:
        grid = np.asarray(thresholds, dtype=float).ravel()
    if chosen is not None:
        grid = np.r_[grid, float(chosen)]
    grid = np.unique(grid)[::-1]
    c = _counts(y_true, score, grid, sample_weight) if lean is None else _sorted_counts(lean, grid)
    n = c["n"]
    if costs and lean is not None:
        lost, _ = lean.lost(grid, costs)
    elif costs:
        sweep, lost, nobody = cost_sweep(y_true, score, cost_fn=costs["fn"], cost_fp=costs["fp"], cost=cost,
                                         sample_weight=sample_weight)
        lost = np.r_[nobody, lost][np.searchsorted(-sweep, -grid, side="right")]
    rows = []
    for i, t in enumerate(grid):
        tp, fp, fn, tn = (_number(c[key][i]) for key in ("tp", "fp", "fn", "tn"))
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
            row.update(expected_cost_per_row=float(lost[i]) / n, total_cost=float(lost[i]))
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
