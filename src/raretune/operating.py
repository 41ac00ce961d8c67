"""The operating point: what a decision threshold does.

:func:`raretune.thresholds.select_threshold` picks one threshold; this module describes it so
that a reader can defend (or change) the choice: whether the rule's target was reached
(:func:`threshold_outcome`), the neighbouring thresholds (:func:`operating_table`) and
warnings when too few positives make any of it shaky (:func:`reliability_warnings`). How sure
we are and what it costs (Wilson intervals at the decision, money with bootstrap intervals)
live in :mod:`raretune.intervals`; :func:`decision_intervals`, :func:`cost_summary` and
:func:`wilson_interval` are re-exported here.

Every figure is exact, from :func:`raretune.metrics.threshold_sweep` counts; a row is
flagged when ``score >= threshold``. This module sits beside ``thresholds`` (same layer) and
imports neither it nor anything above ``metrics`` except ``intervals``, the layer below.
"""

from __future__ import annotations

import math

import numpy as np

from ._binary_counts import SortedScores
from ._threshold_counts import _counts, _counts_at, _labels_and_scores, _number, _ratio
from ._validation import check_number, check_option
from .intervals import cost_summary, decision_intervals, wilson_interval  # re-exported
from .metrics import alert_count, cost_at_threshold, cost_sweep, threshold_sweep

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
