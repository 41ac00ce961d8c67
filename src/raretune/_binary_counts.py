"""Binary, unweighted scores from the two sorted classes: scikit-learn's numbers, lean in memory.

:func:`raretune.metrics.score_predictions` calls scikit-learn's metrics, each of which
copies, sorts or label-encodes the whole array again (about 137 bytes a row, measured). For
the common case (two classes, no weights, one column of scores) every score it reports is
a function of two things: the confusion counts at the threshold, and how the scores of the
positives interleave with those of the negatives. Both come from sorting the scores of each
class once, in their own dtype (a float32 column is not widened), so the transient memory
is one boolean mask and one sorted copy of the scores, about 5 bytes a row for float32.

The formulas follow scikit-learn's conventions (zero_division=0.0, MCC 0 where it has no
variance, balanced accuracy over the classes present, average precision as the step sum
over distinct thresholds, ROC-AUC as the trapezoid through the distinct-threshold points);
tests/test_binary_counts.py checks every key against the scikit-learn path.
"""

from __future__ import annotations

import math

import numpy as np

from ._validation import check_number


def g_mean(cm) -> float:
    """Geometric mean of the recalls of the classes present in the confusion matrix ``cm``.

    The one definition used by both paths of ``score_predictions``: NaN with no rows,
    and 0.0 when below 1e-100 (a class with no row recalled).
    """
    cm = np.asarray(cm)
    recalls = np.diag(cm) / np.maximum(cm.sum(axis=1), 1)
    present_rows = cm.sum(axis=1) > 0
    if not present_rows.any():
        return math.nan
    value = float(np.exp(np.mean(np.log(np.maximum(recalls[present_rows], 1e-300)))))
    return 0.0 if value < 1e-100 else value


def lowest_at_or_above(threshold: float, dtype) -> np.generic:
    """The smallest value of ``dtype`` that is ``>= threshold``.

    ``x >= it`` for ``x`` of ``dtype`` then equals ``float(x) >= threshold``, so a float32
    column is compared exactly as its float64 widening would be, without widening it.
    """
    value = dtype.type(threshold)
    if float(value) < threshold:
        value = np.nextafter(value, dtype.type(np.inf))
    return value


def _labels_and_scores(y_true, proba):
    """``(y, proba)`` as 1-D arrays of labels in {0, 1} and floats, or None for any other input."""
    proba = np.asarray(proba)
    if proba.ndim == 2 and proba.shape[1] == 1:
        proba = proba[:, 0]
    if proba.ndim != 1:
        return None
    if proba.dtype not in (np.float32, np.float64):
        proba = np.asarray(proba, dtype=float)
    y = np.asarray(y_true)
    if y.ndim != 1 or y.size != proba.size or y.size == 0:
        return None
    if y.dtype.kind not in "biu":
        y = y.astype(int)  # as the scikit-learn path does
    if y.min() < 0 or y.max() > 1:
        return None
    return y, proba


def _average_precision(pos, neg) -> float:
    """scikit-learn's average precision from the sorted scores of each class (positives present).

    Recall only moves at thresholds that are a positive's score, so the terms of the step
    sum at the other thresholds are zero and are left out.
    """
    starts = np.r_[0, np.flatnonzero(np.diff(pos)) + 1]  # first row of each distinct positive score
    tps = (pos.size - starts).astype(float)  # positives with score >= that score, ascending thresholds
    fps = (neg.size - np.searchsorted(neg, pos[starts], side="left")).astype(float)
    precision = tps / (tps + fps)
    recall = tps / pos.size
    return float(max(0.0, np.sum((recall - np.r_[recall[1:], 0.0]) * precision)))


def _roc_auc(pos, neg) -> float:
    """scikit-learn's ROC-AUC, the trapezoid through the corners of the ROC path (both classes present).

    Going down the distinct thresholds, the path runs flat while only negatives are passed
    and diagonally across each positive score (with the negatives tied to it); the corners
    are the points scikit-learn keeps after dropping collinear ones.
    """
    starts = np.r_[0, np.flatnonzero(np.diff(pos)) + 1]
    values = pos[starts][::-1]  # distinct positive scores, highest first
    tp_after = (pos.size - starts)[::-1].astype(float)
    tp_before = np.r_[0.0, tp_after[:-1]]
    fp_before = (neg.size - np.searchsorted(neg, values, side="right")).astype(float)
    fp_after = (neg.size - np.searchsorted(neg, values, side="left")).astype(float)
    fps = np.r_[0.0, np.column_stack([fp_before, fp_after]).ravel(), neg.size]
    tps = np.r_[0.0, np.column_stack([tp_before, tp_after]).ravel(), pos.size]
    return float(np.trapezoid(tps / pos.size, fps / neg.size))


def _finite(sorted_scores) -> bool:
    return sorted_scores.size == 0 or bool(np.isfinite(sorted_scores[[0, -1]]).all())


def binary_scores(y_true, proba, *, threshold, costs=None, cost=None) -> dict | None:
    """``score_predictions``'s dict for binary, unweighted input, or None for other input.

    Parameters
    ----------
    y_true : array-like of {0, 1}
    proba : array-like of float, shape (n,) or (n, 1)
    threshold : float
        Rows with ``proba >= threshold`` are predicted positive.
    costs : dict, optional
        ``{"fn": x, "fp": y}``: adds ``expected_cost`` as ``cost_at_threshold`` does.
    cost : array-like of float, optional
        Per-row cost of missing a positive (replaces ``costs["fn"]``).

    Returns
    -------
    dict or None
        The keys and values of the scikit-learn path; None when the input is not one column
        of finite scores with labels in {0, 1} (the caller then takes that path, which also
        raises its errors).
    """
    parsed = _labels_and_scores(y_true, proba)
    if parsed is None:
        return None
    y, proba = parsed
    n = y.size
    if cost is not None:
        cost = np.asarray(cost, dtype=float)
        if cost.shape != (n,):
            return None
    check_number(threshold, "threshold", "score_predictions", low=0, high=1)
    is_pos = y == 1
    pos = proba[is_pos]
    lost = None
    if costs:
        lost = _lost_at(pos, None if cost is None else cost[is_pos], threshold, proba.dtype, costs)
    np.logical_not(is_pos, out=is_pos)
    neg = proba[is_pos]
    del is_pos, parsed, y
    pos.sort()
    neg.sort()  # in place: a float32 column is sorted as float32, not widened
    if not (_finite(pos) and _finite(neg)):
        return None
    cut = lowest_at_or_above(threshold, proba.dtype)
    tp = int(pos.size - np.searchsorted(pos, cut, side="left"))
    fp = int(neg.size - np.searchsorted(neg, cut, side="left"))
    fn, tn = pos.size - tp, neg.size - fp
    out = {"pr_auc": _average_precision(pos, neg) if pos.size else math.nan,
           "roc_auc": _roc_auc(pos, neg) if pos.size and neg.size else math.nan}
    del pos, neg
    out.update(_threshold_scores(tn, fp, fn, tp))
    out.update(threshold=float(threshold), confusion_matrix=[[tn, fp], [fn, tp]], n=int(n),
               positive_rate=float((fn + tp) / n))
    if lost is not None:
        out["expected_cost"] = float((lost[0] + fp * float(costs["fp"])) / n)
    return out


def _threshold_scores(tn: int, fp: int, fn: int, tp: int) -> dict:
    """F1, precision, recall, MCC, balanced accuracy and G-mean from the confusion counts.

    scikit-learn's formulas: zero_division=0.0, MCC 0 without variance, balanced accuracy
    over the classes with rows.
    """
    f1 = 2.0 * tp / ((tp + fn) + (tp + fp)) if tp + fn + tp + fp else 0.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    t_sum = np.array([tn + fp, fn + tp], dtype=np.float64)
    p_sum = np.array([tn + fn, fp + tp], dtype=np.float64)
    n_samples = p_sum.sum()
    cov_ytyp = float(tn + tp) * n_samples - np.dot(t_sum, p_sum)
    cov_ypyp_ytyt = (n_samples**2 - np.dot(p_sum, p_sum)) * (n_samples**2 - np.dot(t_sum, t_sum))
    mcc = 0.0 if cov_ypyp_ytyt == 0 else float(cov_ytyp / np.sqrt(cov_ypyp_ytyt))
    per_class = [right / rows for right, rows in ((tn, tn + fp), (tp, fn + tp)) if rows]
    return {"f1": float(f1), "precision": float(precision), "recall": float(recall), "mcc": mcc,
            "balanced_accuracy": float(np.mean(per_class)), "g_mean": g_mean([[tn, fp], [fn, tp]])}


def _lost_at(pos, pos_cost, threshold, dtype, costs) -> tuple:
    """``(money of the positives missed at threshold, of all positives)``, as cost_at_threshold sums it."""
    if pos_cost is None:
        cost_fn = float(costs["fn"])
        nobody = pos.size * cost_fn
        caught = float(np.count_nonzero(pos >= lowest_at_or_above(threshold, dtype)) * cost_fn)
    else:
        nobody = float(pos_cost.sum())
        caught = float(pos_cost[pos >= lowest_at_or_above(threshold, dtype)].sum())
    return max(nobody - caught, 0.0), nobody
