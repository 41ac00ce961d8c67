"""Exact counts and money lost at every threshold: the sweeps that threshold rules,
objectives and operating tables all read.

A row is flagged when ``score >= threshold``. :func:`row_costs` is raretune's one cost
formula (a missed positive costs its own cost or ``cost_fn``, a false alarm ``cost_fp``,
each row counted ``sample_weight`` times); :func:`cost_sweep` and :func:`cost_at_threshold`
add it up.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cost_at_threshold", "cost_sweep", "row_costs", "threshold_sweep"]


def threshold_sweep(y_true, score, sample_weight=None):
    """Confusion counts at every distinct threshold, highest first.

    Parameters
    ----------
    y_true : array-like of {0, 1}
    score : array-like of float
    sample_weight : array-like of float, optional
        How many rows each row stands for: the counts become sums of weights (floats).

    Returns
    -------
    thresholds, tp, fp : numpy.ndarray
        ``tp[i]`` and ``fp[i]`` count (or weigh) the positives and negatives with ``score >=
        thresholds[i]``. ``thresholds`` is strictly decreasing.

    Examples
    --------
    >>> t, tp, fp = threshold_sweep([0, 1, 1, 0], [0.1, 0.9, 0.4, 0.4])
    >>> t.tolist(), tp.tolist(), fp.tolist()
    ([0.9, 0.4, 0.1], [1, 2, 2], [0, 1, 2])
    >>> threshold_sweep([0, 1, 1, 0], [0.1, 0.9, 0.4, 0.4], sample_weight=[1, 2, 3, 4])[1].tolist()
    [2.0, 5.0, 5.0]
    """
    y_true = np.asarray(y_true).astype(bool)
    score = np.asarray(score, dtype=float)
    order = np.argsort(-score, kind="mergesort")
    score, y_true = score[order], y_true[order]
    last_of_run = np.r_[np.flatnonzero(np.diff(score)), score.size - 1]
    if sample_weight is None:
        tp = np.cumsum(y_true)[last_of_run]
        fp = (last_of_run + 1) - tp
    else:
        weight = np.asarray(sample_weight, dtype=float)[order]
        tp = np.cumsum(np.where(y_true, weight, 0.0))[last_of_run]
        fp = np.cumsum(np.where(y_true, 0.0, weight))[last_of_run]
    return score[last_of_run], tp, fp


def row_costs(y_true, *, cost_fn: float = 1.0, cost_fp: float = 1.0, cost=None, sample_weight=None):
    """What each row costs if missed and if flagged: raretune's one cost formula.

    A missed positive costs its own ``cost`` (e.g. the amount of a fraudulent payment) or,
    without per-row costs, ``cost_fn``; a false alarm costs ``cost_fp``; every row counts
    ``sample_weight`` times. Money lost at a threshold is the ``miss`` of the positives not
    flagged plus the ``alarm`` of the negatives flagged (:func:`cost_sweep`).

    Parameters
    ----------
    y_true : array-like of {0, 1}
    cost_fn, cost_fp : float
        Cost of a missed positive (unused when ``cost`` is given) and of a false alarm.
    cost : array-like of float, optional
        Per-row cost of missing that row (read for positives only).
    sample_weight : array-like of float, optional

    Returns
    -------
    miss, alarm : numpy.ndarray of float
        ``miss[i]``: lost if row i is not flagged (0 for negatives); ``alarm[i]``: lost if it
        is flagged (0 for positives).

    Examples
    --------
    >>> miss, alarm = row_costs([0, 1, 1], cost=[9, 50, 20], cost_fp=5, sample_weight=[1, 1, 2])
    >>> miss.tolist(), alarm.tolist()
    ([0.0, 50.0, 40.0], [5.0, 0.0, 0.0])
    """
    y_true = np.asarray(y_true).astype(bool)
    weight = np.ones(y_true.size) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    per_miss = float(cost_fn) if cost is None else np.asarray(cost, dtype=float)
    miss = np.where(y_true, weight * per_miss, 0.0)
    alarm = np.where(y_true, 0.0, weight * float(cost_fp))
    return miss, alarm


def cost_sweep(y_true, score, *, cost_fn: float = 1.0, cost_fp: float = 1.0, cost=None, sample_weight=None):
    """Money lost at every distinct threshold, highest first (the costs of :func:`row_costs`).

    Parameters
    ----------
    y_true : array-like of {0, 1}
    score : array-like of float
    cost_fn, cost_fp, cost, sample_weight
        As in :func:`row_costs`.

    Returns
    -------
    thresholds : numpy.ndarray
        Strictly decreasing, as in :func:`threshold_sweep`.
    lost : numpy.ndarray
        Money lost when the rows with ``score >= thresholds[i]`` are flagged.
    flag_nobody : float
        Money lost when no row is flagged (every positive missed).

    Examples
    --------
    >>> t, lost, nobody = cost_sweep([0, 1, 1, 0], [0.1, 0.9, 0.4, 0.4], cost=[0, 50, 20, 0], cost_fp=5)
    >>> t.tolist(), lost.tolist(), nobody
    ([0.9, 0.4, 0.1], [20.0, 5.0, 10.0], 70.0)
    """
    miss, alarm = row_costs(y_true, cost_fn=cost_fn, cost_fp=cost_fp, cost=cost, sample_weight=sample_weight)
    thresholds, caught, _ = threshold_sweep(y_true, score, sample_weight=miss)
    _, _, alarms = threshold_sweep(y_true, score, sample_weight=alarm)
    flag_nobody = float(miss.sum())
    lost = np.maximum(flag_nobody - caught, 0.0) + alarms  # max: no rounding error below zero
    return thresholds, lost, flag_nobody


def cost_at_threshold(y_true, score, threshold: float, **costs) -> dict:
    """Money lost when the rows with ``score >= threshold`` are flagged, from :func:`cost_sweep`.

    Parameters
    ----------
    y_true, score : array-like
    threshold : float
    **costs
        ``cost_fn``, ``cost_fp``, ``cost``, ``sample_weight`` as in :func:`cost_sweep`.

    Returns
    -------
    dict
        ``lost`` (at the threshold), ``flag_nobody`` and ``flag_everyone`` (every row flagged).

    Examples
    --------
    >>> cost_at_threshold([0, 1, 1, 0], [0.1, 0.9, 0.4, 0.4], 0.5, cost=[0, 50, 20, 0], cost_fp=5)
    {'lost': 20.0, 'flag_nobody': 70.0, 'flag_everyone': 10.0}
    """
    thresholds, lost, nobody = cost_sweep(y_true, score, **costs)
    above = int(np.searchsorted(-thresholds, -float(threshold), side="right"))  # thresholds >= threshold
    return {"lost": float(nobody if above == 0 else lost[above - 1]), "flag_nobody": nobody,
            "flag_everyone": float(lost[-1]) if lost.size else nobody}
