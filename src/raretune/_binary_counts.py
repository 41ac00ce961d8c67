"""Binary, unweighted scores from the two sorted classes: scikit-learn's numbers, lean in memory.

:func:`raretune.metrics.score_predictions` calls scikit-learn's metrics, each of which
copies, sorts or label-encodes the whole array again (about 137 bytes a row, measured). For
the common case (two classes, no weights, one column of scores) every score it reports is
a function of two things: the confusion counts at the threshold, and how the scores of the
positives interleave with those of the negatives. Both come from one sorted copy of the
scores and one of the positives' scores (:class:`SortedScores`), in the input's own dtype
(a float32 column is not widened): about 5 bytes a row for float32, a boolean mask included.
The bootstrap and the operating table count the same way.

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


def lowest_at_or_above(thresholds, dtype) -> np.ndarray:
    """The smallest value of ``dtype`` that is ``>= t``, for each threshold ``t``.

    ``x >= it`` for ``x`` of ``dtype`` then equals ``float(x) >= t``, so a float32 column is
    compared exactly as its float64 widening would be, without widening it (a float32
    ``threshold`` rounded to nearest could flag a score just below it).
    """
    t = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    with np.errstate(over="ignore"):  # beyond float32's range: inf, still the lowest at or above
        values = t.astype(dtype)
    return np.where(values.astype(np.float64) < t, np.nextafter(values, dtype.type(np.inf)), values)


def _labels_and_scores(y_true, score):
    """``(y, score)`` as 1-D arrays of labels in {0, 1} and floats, or None for any other input."""
    score = np.asarray(score)
    if score.ndim == 2 and score.shape[1] == 1:
        score = score[:, 0]
    if score.ndim != 1:
        return None
    if score.dtype not in (np.float32, np.float64):
        score = np.asarray(score, dtype=float)
    y = np.asarray(y_true)
    if y.ndim != 1 or y.size != score.size or y.size == 0:
        return None
    if y.dtype.kind not in "biu":
        y = y.astype(int)  # as the scikit-learn path does
    if y.min() < 0 or y.max() > 1:
        return None
    return y, score


class SortedScores:
    """Binary, unweighted rows reduced to two sorted copies: exact counts at any threshold.

    The positives' scores and all scores, each sorted ascending in the input's float dtype:
    the rows at or above a threshold are counted by a binary search, and nothing row-sized
    is kept but the one copy of the scores (4 bytes a row for float32). Build with :meth:`of`.
    """

    def __init__(self, positives: np.ndarray, scores: np.ndarray, positive_costs: np.ndarray | None):
        self.positives = positives
        self.scores = scores
        # per-row costs of the positives, highest score first (ties in row order): the order
        # in which raretune.sweeps.cost_sweep adds them up
        self.positive_costs = positive_costs

    @classmethod
    def of(cls, y_true, score, cost=None) -> "SortedScores | None":
        """Sort ``score`` (shape (n,) or (n, 1)) by class; None unless the labels are in {0, 1},
        the scores finite, and ``cost`` (if given) one value per row."""
        parsed = _labels_and_scores(y_true, score)
        if parsed is None:
            return None
        y, score = parsed
        if cost is not None:
            cost = np.asarray(cost, dtype=float)
            if cost.shape != score.shape:
                return None
        is_pos = y == 1
        positives = score[is_pos]
        positive_costs = None if cost is None else cost[is_pos][np.argsort(-positives, kind="stable")]
        del is_pos
        positives.sort()
        scores = np.sort(score)
        if scores.size and not np.isfinite(scores[[0, -1]]).all():
            return None
        return cls(positives, scores, positive_costs)

    @property
    def n(self) -> int:
        """Number of rows."""
        return int(self.scores.size)

    @property
    def n_pos(self) -> int:
        """Number of positives."""
        return int(self.positives.size)

    def at_or_above(self, thresholds) -> tuple[np.ndarray, np.ndarray]:
        """``(tp, fp)``: positives and negatives with ``score >= t``, one int64 per threshold."""
        cuts = lowest_at_or_above(thresholds, self.scores.dtype)
        tp = self.n_pos - np.searchsorted(self.positives, cuts, side="left")
        flagged = self.n - np.searchsorted(self.scores, cuts, side="left")
        return tp, flagged - tp

    def ranked(self, ranks) -> np.ndarray:
        """The scores (as float64) of the rows ranked ``k`` from the top, for each ``k`` in 1..n."""
        return self.scores[self.n - np.asarray(ranks)].astype(np.float64)

    def lost(self, thresholds, costs: dict) -> tuple[np.ndarray, float]:
        """``(lost, flag_nobody)``: money lost flagging ``score >= t`` for each threshold, and
        flagging nobody, as :func:`raretune.sweeps.cost_sweep` adds them up.

        A missed positive costs its per-row cost (given to :meth:`of`) or ``costs["fn"]``, a
        false alarm ``costs["fp"]``.
        """
        tp, fp = self.at_or_above(thresholds)
        miss = np.full(self.n_pos, float(costs["fn"])) if self.positive_costs is None else self.positive_costs
        caught = np.r_[0.0, np.cumsum(miss)][tp]
        nobody = float(miss.sum())
        return np.maximum(nobody - caught, 0.0) + fp * float(costs["fp"]), nobody

    def _negatives_at_or_above(self, values, side: str) -> np.ndarray:
        """Negatives scored ``>= v`` (side "left") or ``> v`` (side "right"), ``values`` of the dtype."""
        return ((self.n - np.searchsorted(self.scores, values, side=side))
                - (self.n_pos - np.searchsorted(self.positives, values, side=side)))

    def average_precision(self) -> float:
        """scikit-learn's average precision (positives present).

        Recall only moves at thresholds that are a positive's score, so the terms of the step
        sum at the other thresholds are zero and are left out.
        """
        pos = self.positives
        starts = np.r_[0, np.flatnonzero(np.diff(pos)) + 1]  # first row of each distinct positive score
        tps = (pos.size - starts).astype(float)  # positives at or above it, lowest score first
        fps = self._negatives_at_or_above(pos[starts], "left").astype(float)
        precision = tps / (tps + fps)
        recall = tps / pos.size
        return float(max(0.0, np.sum((recall - np.r_[recall[1:], 0.0]) * precision)))

    def roc_auc(self) -> float:
        """scikit-learn's ROC-AUC, the trapezoid through the corners of the ROC path (both classes present).

        Going down the distinct thresholds, the path runs flat while only negatives are passed
        and diagonally across each positive score (with the negatives tied to it); the corners
        are the points scikit-learn keeps after dropping collinear ones.
        """
        pos = self.positives
        n_neg = self.n - self.n_pos
        starts = np.r_[0, np.flatnonzero(np.diff(pos)) + 1]
        values = pos[starts][::-1]  # distinct positive scores, highest first
        tp_after = (pos.size - starts)[::-1].astype(float)
        tp_before = np.r_[0.0, tp_after[:-1]]
        fp_before = self._negatives_at_or_above(values, "right").astype(float)
        fp_after = self._negatives_at_or_above(values, "left").astype(float)
        fps = np.r_[0.0, np.column_stack([fp_before, fp_after]).ravel(), n_neg]
        tps = np.r_[0.0, np.column_stack([tp_before, tp_after]).ravel(), pos.size]
        return float(np.trapezoid(tps / pos.size, fps / n_neg))


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
    sorted_ = SortedScores.of(y_true, proba, cost=cost if costs else None)
    if sorted_ is None:
        return None
    check_number(threshold, "threshold", "score_predictions", low=0, high=1)
    n, n_pos = sorted_.n, sorted_.n_pos
    tp, fp = (int(count[0]) for count in sorted_.at_or_above(threshold))
    fn, tn = n_pos - tp, (n - n_pos) - fp
    out = {"pr_auc": sorted_.average_precision() if n_pos else math.nan,
           "roc_auc": sorted_.roc_auc() if 0 < n_pos < n else math.nan}
    out.update(_threshold_scores(tn, fp, fn, tp))
    out.update(threshold=float(threshold), confusion_matrix=[[tn, fp], [fn, tp]], n=n, positive_rate=n_pos / n)
    if costs:
        lost, _ = sorted_.lost(threshold, costs)
        out["expected_cost"] = float(lost[0] / n)
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
