"""Confusion counts at chosen thresholds: what the operating table and the intervals read.

:mod:`raretune.operating` (the table, the outcome) and :mod:`raretune.intervals` (Wilson and
money intervals) describe the same decision from the same counts; the counting lives here
once. A row is flagged when ``score >= threshold``. :func:`_counts` reads any thresholds off
one :func:`raretune.sweeps.threshold_sweep` (weighted or not); :func:`_counts_at` counts one
threshold directly, with the same keys.
"""

from __future__ import annotations

import math

import numpy as np

from ._errors import DataError
from .sweeps import threshold_sweep


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


def _number(value):
    """A count as an int, a sum of weights as a float (JSON keeps which one it is)."""
    return int(value) if isinstance(value, (int, np.integer)) else float(value)


def _ratio(num, den) -> float:
    return float(num / den) if den > 0 else math.nan
