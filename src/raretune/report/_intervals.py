"""Confidence intervals on the test set: bootstrap for PR-AUC and F1, Wilson at the decision.

The resampling is stratified: positives and negatives are drawn with replacement separately,
so every resample keeps the test set's class counts and both metrics are always defined. A
resample is represented by how many times each row was drawn, which turns average precision
into cumulative sums over the rows sorted once by score. Without weights the draws are
counted per group of rows rather than per row (the negatives between two positives' scores
form one group): a multinomial draw over the groups has the same distribution as drawing the
rows one by one and costs the number of positives, not of rows, so the intervals of a test
part of millions of rows take seconds.

At a fixed threshold, precision, recall and the alert rate are each a share of a known number
of rows (flagged rows, positives, all rows), so :func:`decision_intervals` gives them Wilson
score intervals, which stay inside [0, 1] and behave with the handful of positives a rare
event leaves.

With sample weights the bootstrap still resamples rows (a weight column says how much a row
counts, not how often it was observed), and each resample's metrics are the weighted ones:
a row drawn ``k`` times with weight ``w`` counts ``k * w``.
"""

from __future__ import annotations


import numpy as np

from .._binary_counts import SortedScores, lowest_at_or_above
from .._errors import DataError
from .._validation import check_number

__all__ = ["bootstrap_intervals"]

# resamples handled at once; bounds the (chunk, n_rows) weight matrices to a few tens of MB
_CHUNK_ELEMENTS = 4_000_000


def bootstrap_intervals(
    y_true,
    score,
    threshold: float,
    *,
    n_resamples: int = 1000,
    level: float = 0.95,
    random_state: int | np.random.Generator | None = 0,
    sample_weight=None,
) -> dict:
    """Percentile bootstrap intervals for average precision and F1 at a threshold.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Binary labels, 1 for the positive class. Both classes must be present.
    score : array-like of shape (n,)
        Score or probability of the positive class; higher means more likely positive.
    threshold : float
        Rows with ``score >= threshold`` are predicted positive (for F1).
    n_resamples : int, default=1000
        Number of bootstrap resamples.
    level : float, default=0.95
        Coverage of the interval, in (0, 1).
    random_state : int, numpy Generator or None, default=0
        Seed of the resampling; the same seed gives the same intervals.
    sample_weight : array-like of shape (n,), optional
        Row weights (>= 0): rows are resampled as without them, and each resample's average
        precision and F1 are weighted (as scikit-learn's with ``sample_weight``). A resample
        whose positives all weigh 0 has no weighted PR-AUC or F1 and is left out of the
        percentiles.

    Returns
    -------
    intervals : dict
        ``{"pr_auc": [low, high], "f1": [low, high], "level": level,
        "n_resamples": n_resamples}``, the layout of ``test.intervals`` in ``metrics.json``.

    Raises
    ------
    DataError
        If the labels are not binary, lack a class, or do not match the scores in length.
    ConfigError
        If ``threshold``, ``n_resamples`` or ``level`` is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = (rng.random(2000) < 0.05).astype(int)
    >>> score = np.clip(0.3 * y + rng.random(2000) * 0.7, 0, 1)
    >>> iv = bootstrap_intervals(y, score, 0.5, n_resamples=200)
    >>> iv["pr_auc"][0] <= iv["pr_auc"][1]
    True
    """
    owner = "bootstrap_intervals"
    check_number(threshold, "threshold", owner, kind=float)
    check_number(n_resamples, "n_resamples", owner, kind=int, low=1, closed="left")
    check_number(level, "level", owner, kind=float, low=0, high=1, closed="neither")
    y, s = _check_binary_scores(y_true, score)
    weight = None
    if sample_weight is not None:
        weight = np.asarray(sample_weight, dtype=float)
        if weight.shape != s.shape or not np.isfinite(weight).all() or (weight < 0).any():
            raise DataError(f"sample_weight must hold {s.size} finite numbers >= 0, one per row.")
        if weight[0] > 0 and (weight == weight[0]).all():  # equal weights change no weighted metric
            weight = None
    rng = np.random.default_rng(random_state)
    if weight is None:
        pr_auc, f1 = _grouped_resamples(y, s, threshold, n_resamples, rng)
    else:
        # float64 scores, as the threshold is compared with them
        pr_auc, f1 = _row_resamples(y, s.astype(float, copy=False), weight, threshold, n_resamples, rng)

    tail = (1 - level) / 2 * 100
    qs = [tail, 100 - tail]
    percentile = np.percentile if weight is None else np.nanpercentile
    return {
        "pr_auc": [float(v) for v in percentile(pr_auc, qs)],
        "f1": [float(v) for v in percentile(f1, qs)],
        "level": float(level),
        "n_resamples": int(n_resamples),
    }


def _row_resamples(y, s, weight, threshold, n_resamples, rng) -> tuple[np.ndarray, np.ndarray]:
    """Weighted resamples, one draw count per row: a row drawn ``k`` times counts ``k * w``."""
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    y_sorted = y[order]
    pos_cols = np.flatnonzero(y_sorted == 1)
    neg_cols = np.flatnonzero(y_sorted == 0)
    n_pos, n_neg, n = pos_cols.size, neg_cols.size, s.size
    # last row of each run of tied scores: the curve only moves between distinct scores
    group_ends = np.flatnonzero(np.r_[s_sorted[1:] != s_sorted[:-1], True])
    predicted_pos_pos = s_sorted[pos_cols] >= threshold
    predicted_pos_neg = s_sorted[neg_cols] >= threshold
    weight_pos, weight_neg = weight[order][pos_cols], weight[order][neg_cols]
    # per distinct score: how many positives / negatives rank at or above it
    pos_above = np.searchsorted(pos_cols, group_ends, side="right")
    neg_above = np.searchsorted(neg_cols, group_ends, side="right")

    pr_auc = np.empty(n_resamples)
    f1 = np.empty(n_resamples)
    chunk = max(1, _CHUNK_ELEMENTS // n)
    for start in range(0, n_resamples, chunk):
        b = min(chunk, n_resamples - start)
        w_pos = _draw_counts(rng, b, n_pos) * weight_pos
        w_neg = _draw_counts(rng, b, n_neg) * weight_neg
        total_pos = w_pos.sum(axis=1)
        tp = _cumulative(w_pos)[:, pos_above]
        fp = _cumulative(w_neg)[:, neg_above]
        tp_at = w_pos @ predicted_pos_pos
        fp_at = w_neg @ predicted_pos_neg
        fn_at = total_pos - tp_at
        with np.errstate(invalid="ignore", divide="ignore"):  # a resample of weightless positives
            pr_auc[start : start + b] = _average_precision(tp, fp, total_pos)
            f1[start : start + b] = 2 * tp_at / (2 * tp_at + fp_at + fn_at)
    return pr_auc, f1


def _grouped_resamples(y, s, threshold, n_resamples, rng) -> tuple[np.ndarray, np.ndarray]:
    """Unweighted resamples drawn as counts per group of rows, not per row.

    Average precision only moves at the distinct scores that hold a positive, and F1 only
    needs the counts at or above the threshold. So the negatives matter only through how
    many fall in each segment between those cut points, and the positives through how many
    fall at each cut. Drawing ``n`` rows uniformly with replacement from rows grouped this way
    puts a multinomial number of draws in each group, with probabilities the groups' shares:
    the same distribution as drawing the rows one by one, at a cost of the number of cuts
    (at most one per positive, plus one) rather than the number of rows.
    """
    # one sorted copy of the scores and one of the positives': no row-sized sort order or
    # cumulative counts (test parts of millions of rows)
    sorted_ = SortedScores.of(y, s)
    pos, n_pos, n_neg = sorted_.positives, sorted_.n_pos, sorted_.n - sorted_.n_pos
    # the lowest score flagged at the threshold, if any (compared as the float64 of the score)
    cut = lowest_at_or_above(threshold, sorted_.scores.dtype)[0]
    first_flagged = int(np.searchsorted(sorted_.scores, cut, side="left"))
    # cut points, highest first: every distinct positive score, and the lowest flagged score
    values = pos[np.r_[0, np.flatnonzero(np.diff(pos)) + 1]]
    lowest_flagged = sorted_.scores[first_flagged] if first_flagged < sorted_.n else None
    if lowest_flagged is not None:
        values = np.union1d(values, [lowest_flagged])
    values = values[::-1]
    pos_in_cut = np.searchsorted(pos, values, side="right") - np.searchsorted(pos, values, side="left")
    neg_above = sorted_.at_or_above(values)[1]  # negatives scored at or above each cut
    del sorted_, pos
    neg_segments = np.diff(neg_above, prepend=0)
    neg_shares = np.r_[neg_segments, n_neg - neg_above[-1]] / n_neg
    pos_shares = pos_in_cut / n_pos
    flagged = None if lowest_flagged is None else int(np.flatnonzero(values == lowest_flagged)[0])

    pr_auc = np.empty(n_resamples)
    f1 = np.empty(n_resamples)
    chunk = max(1, _CHUNK_ELEMENTS // (values.size + 1))
    for start in range(0, n_resamples, chunk):
        b = min(chunk, n_resamples - start)
        tp = np.cumsum(rng.multinomial(n_pos, pos_shares, size=b), axis=1).astype(float)
        fp = np.cumsum(rng.multinomial(n_neg, neg_shares, size=b)[:, :-1], axis=1).astype(float)
        tp_at = tp[:, flagged] if flagged is not None else np.zeros(b)
        fp_at = fp[:, flagged] if flagged is not None else np.zeros(b)
        pr_auc[start : start + b] = _average_precision(tp, fp, n_pos)
        f1[start : start + b] = 2 * tp_at / (2 * tp_at + fp_at + (n_pos - tp_at))
    return pr_auc, f1


def _check_binary_scores(y_true, score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(score)
    if s.dtype not in (np.float32, np.float64):  # float32 scores stay float32: no widened copy
        s = np.asarray(score, dtype=float)
    if y.ndim != 1 or s.ndim != 1 or y.shape != s.shape:
        raise DataError(
            "y_true and score must be 1-D arrays of the same length. "
            f"Got shapes {y.shape} and {s.shape}."
        )
    # integer labels: min 0 and max 1 say {0, 1} without np.unique's sorted copy
    integer_binary = y.dtype.kind in "biu" and y.size > 0 and y.min() == 0 and y.max() == 1
    if not integer_binary:
        labels = set(np.unique(y).tolist())
        if labels != {0, 1}:
            raise DataError(
                f"y_true must hold both classes 0 and 1 (1 is positive). Got labels {sorted(labels)}."
            )
    if not np.all(np.isfinite(s)):
        raise DataError("score must be finite; it holds NaN or infinite values.")
    return y.astype(np.int8, copy=False), s


def _draw_counts(rng: np.random.Generator, n_resamples: int, n_rows: int) -> np.ndarray:
    """How many times each of ``n_rows`` rows is drawn in each of ``n_resamples`` resamples."""
    draws = rng.integers(0, n_rows, size=(n_resamples, n_rows), dtype=np.int64)
    draws += (np.arange(n_resamples) * n_rows)[:, None]
    counts = np.bincount(draws.ravel(), minlength=n_resamples * n_rows)
    return counts.reshape(n_resamples, n_rows).astype(float)


def _cumulative(counts: np.ndarray) -> np.ndarray:
    """Running sums along rows, with a leading column of zeros (nothing drawn yet)."""
    out = np.zeros((counts.shape[0], counts.shape[1] + 1))
    np.cumsum(counts, axis=1, out=out[:, 1:])
    return out


def _average_precision(tp: np.ndarray, fp: np.ndarray, n_pos) -> np.ndarray:
    """Average precision per row of cumulative true/false positive counts (``n_pos``: the
    positives' total, one for all rows or one per row).

    Same definition as :func:`sklearn.metrics.average_precision_score`: the sum over distinct
    thresholds of the recall increment times the precision there.
    """
    predicted = tp + fp
    # where nothing is predicted positive yet the recall increment is 0, so any precision works
    precision = np.divide(tp, predicted, out=np.ones_like(tp), where=predicted > 0)
    recall_step = np.diff(tp, axis=1, prepend=0.0) / np.reshape(n_pos, (-1, 1))
    return np.sum(recall_step * precision, axis=1)


