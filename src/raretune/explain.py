"""Explanations of a fitted model from its scores: which inputs matter, where it fails.

Everything here needs only a ``predict`` callable (rows in, positive-class scores out) or
the scores themselves, so it works for a Keras network, an ensemble or a scikit-learn model
alike and never imports TensorFlow.

- :func:`permutation_importance`: how much the objective drops when one input column is
  shuffled (the model is not refitted).
- :func:`segment_table`: the test figures within each value of a segmenting column.
- :func:`worst_errors`: the most confident false alarms and the most confidently missed
  positives, as row positions to look at.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ._errors import DataError
from ._validation import check_number
from .metrics import Objective, get_objective

__all__ = ["permutation_importance", "segment_table", "worst_errors"]


def _as_scores(values, n: int) -> np.ndarray:
    scores = np.asarray(values, dtype=float)
    if scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    if scores.shape[0] != n:
        raise DataError(f"predict returned {scores.shape[0]} scores for {n} rows.")
    return scores


def permutation_importance(
    predict: Callable,
    features,
    y,
    *,
    objective: str | Objective = "pr_auc",
    n_repeats: int = 5,
    random_state: int | None = None,
) -> list[dict]:
    """Drop in the objective when each input column is shuffled.

    Shuffling a column breaks its link with the label while keeping its distribution; the
    drop says how much the model relies on it. Correlated columns share credit (each looks
    less important than the pair).

    Parameters
    ----------
    predict : callable
        ``predict(frame) -> scores``: positive-class probabilities of shape (n,) or (n, 1)
        (or class probabilities (n, K) for a multiclass objective).
    features : pandas.DataFrame
        The rows to score (normally the test part), in the model's input form; not modified.
    y : array-like of int
        Their labels.
    objective : str or Objective, default="pr_auc"
        A name for :func:`raretune.metrics.get_objective` or an objective; its direction
        says which way is worse (for ``"cost"``, a rise in cost is a positive drop).
    n_repeats : int, default=5
        Shuffles per column.
    random_state : int or None, default=None
        Seed of the shuffles (``None``: fresh randomness).

    Returns
    -------
    list of dict
        One per column, largest importance first: ``feature``, ``importance`` (mean drop),
        ``low`` and ``high`` (95 % Student-t interval of the mean over repeats; NaN with one
        repeat), ``std``, ``drops`` (one per repeat) and ``baseline`` (the objective on the
        unshuffled rows, the same in every row).
    """
    from scipy.stats import t as student_t

    if not hasattr(features, "columns") or not hasattr(features, "copy"):
        raise DataError(f"permutation_importance needs a pandas DataFrame of inputs; got {type(features).__name__}.")
    check_number(n_repeats, "n_repeats", "permutation_importance", kind=int, low=1)
    if isinstance(objective, str):
        objective = get_objective(objective)
    y = np.asarray(y)
    n = len(features)
    if y.shape[0] != n:
        raise DataError(f"permutation_importance: {n} rows of features but {y.shape[0]} labels.")
    sign = 1.0 if objective.direction == "max" else -1.0
    baseline = float(objective.score(y, _as_scores(predict(features), n)))
    rng = np.random.default_rng(random_state)
    shuffled = features.copy()
    rows = []
    for column in features.columns:
        original = features[column].to_numpy()
        drops = []
        for _ in range(n_repeats):
            shuffled[column] = original[rng.permutation(n)]
            score = float(objective.score(y, _as_scores(predict(shuffled), n)))
            drops.append(sign * (baseline - score))
        shuffled[column] = original
        drops = np.asarray(drops)
        mean = float(drops.mean())
        if n_repeats > 1:
            std = float(drops.std(ddof=1))
            half = float(student_t.ppf(0.975, n_repeats - 1)) * std / math.sqrt(n_repeats)
        else:
            std, half = math.nan, math.nan
        rows.append({"feature": column, "importance": mean, "low": mean - half, "high": mean + half,
                     "std": std, "drops": drops.tolist(), "baseline": baseline})
    rows.sort(key=lambda r: -r["importance"])
    return rows


def _labels_scores(y, score, owner: str):
    y = np.asarray(y).astype(int)
    score = np.asarray(score, dtype=float)
    if y.shape != score.shape or y.ndim != 1:
        raise DataError(f"{owner}: y and score must be 1-D of the same length; got {y.shape} and {score.shape}.")
    return y, score


def segment_table(y, score, threshold: float, segments, *, min_positives: int = 1) -> list[dict]:
    """Test figures within each value of a segmenting column.

    Parameters
    ----------
    y : array-like of {0, 1}
    score : array-like of float
    threshold : float
        Rows with ``score >= threshold`` are flagged.
    segments : pandas.Series or array-like
        One segment value per row, matched by position (not by index). Missing values form
        the segment ``"(missing)"``.
    min_positives : int, default=1
        Segments with fewer positives are marked ``too_few_positives``.

    Returns
    -------
    list of dict
        Largest segment first: ``segment``, ``n``, ``positives``, ``pr_auc`` (NaN without
        positives), ``precision`` (NaN when nothing is flagged), ``recall`` (NaN without
        positives), ``alert_rate`` and ``too_few_positives``.

    Examples
    --------
    >>> rows = segment_table([1, 0, 0, 1, 0], [0.9, 0.2, 0.7, 0.4, 0.1], 0.5, ["a", "a", "b", "b", "b"])
    >>> [(r["segment"], r["n"], r["precision"], r["recall"]) for r in rows]
    [('b', 3, 0.0, 0.0), ('a', 2, 1.0, 1.0)]
    """
    import pandas as pd
    from sklearn.metrics import average_precision_score

    y, score = _labels_scores(y, score, "segment_table")
    check_number(min_positives, "min_positives", "segment_table", kind=int, low=0)
    values = np.asarray(segments, dtype=object)
    if values.shape != y.shape:
        raise DataError(f"segment_table: {values.shape[0] if values.ndim else 1} segment values for {y.size} rows.")
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    flagged = score >= threshold
    rows = []
    for code in np.unique(codes):
        rows_in = codes == code
        yy, ff = y[rows_in], flagged[rows_in]
        n, positives, n_flagged = int(rows_in.sum()), int(yy.sum()), int(ff.sum())
        caught = int((yy.astype(bool) & ff).sum())
        label = "(missing)" if code < 0 else uniques[code]
        rows.append({
            "segment": label.item() if hasattr(label, "item") else label,
            "n": n,
            "positives": positives,
            "pr_auc": float(average_precision_score(yy, score[rows_in])) if positives else math.nan,
            "precision": caught / n_flagged if n_flagged else math.nan,
            "recall": caught / positives if positives else math.nan,
            "alert_rate": n_flagged / n,
            "too_few_positives": positives < min_positives,
        })
    rows.sort(key=lambda r: (-r["n"], str(r["segment"])))
    return rows


def worst_errors(y, score, threshold: float, k: int = 10) -> dict:
    """The most confident mistakes at a threshold, as row positions.

    Parameters
    ----------
    y : array-like of {0, 1}
    score : array-like of float
    threshold : float
        Rows with ``score >= threshold`` are flagged.
    k : int, default=10
        At most this many of each kind.

    Returns
    -------
    dict
        ``false_alarms``: positions of the (at most) ``k`` highest-scoring flagged
        negatives, highest first; ``missed``: positions of the ``k`` lowest-scoring unflagged
        positives, lowest first. Ties keep row order.

    Examples
    --------
    >>> worst_errors([0, 1, 0, 1, 0], [0.9, 0.1, 0.6, 0.3, 0.2], 0.5, k=1)
    {'false_alarms': [0], 'missed': [1]}
    """
    y, score = _labels_scores(y, score, "worst_errors")
    check_number(k, "k", "worst_errors", kind=int, low=1)
    flagged = score >= threshold
    false_alarms = np.flatnonzero((y == 0) & flagged)
    missed = np.flatnonzero((y == 1) & ~flagged)
    false_alarms = false_alarms[np.argsort(-score[false_alarms], kind="stable")][:k]
    missed = missed[np.argsort(score[missed], kind="stable")][:k]
    return {"false_alarms": false_alarms.tolist(), "missed": missed.tolist()}
