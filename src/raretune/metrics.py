"""Exact scores for imbalanced classification, and search objectives with a direction.

Scores are computed from predicted probabilities as scikit-learn computes them (PR-AUC is
average precision, not Keras's interpolated ``AUC(curve="PR")``); binary, unweighted PR-AUC
and ROC-AUC are counted from one sort (:mod:`raretune._binary_counts`), the same values.
Objectives always carry their direction: Keras Tuner guesses "min" for F1 and
recall-at-precision and cannot guess one for PR-AUC, so raretune never lets it guess.
Counts and money at every threshold (and the one cost formula) live in
:mod:`raretune.sweeps` and are re-exported here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

import numpy as np

from ._binary_counts import SortedScores, binary_scores, g_mean
from ._errors import ConfigError, DataError
from ._validation import check_number
from .sweeps import cost_at_threshold, cost_sweep, row_costs, threshold_sweep

__all__ = [
    "OBJECTIVES",
    "Objective",
    "alert_count",
    "cost_at_threshold",
    "cost_sweep",
    "get_objective",
    "log_loss",
    "row_costs",
    "score_predictions",
    "threshold_sweep",
]

#: Objective names accepted by :func:`get_objective` (``recall@precision=P`` takes a value).
OBJECTIVES = ("pr_auc", "roc_auc", "f1", "recall@precision=P", "cost")


def alert_count(share: float, n: int) -> int:
    """Rows an alert budget of ``share`` flags among ``n``: ``round(share * n)``, at least one.

    Halves round up (``floor(share * n + 0.5)``), unlike Python's ``round``; the one
    definition used by the ``"alerts"`` threshold rule and by its outcome report.

    Examples
    --------
    >>> alert_count(0.005, 1000), alert_count(0.0125, 200), alert_count(0.001, 100)
    (5, 3, 1)
    """
    return max(1, math.floor(share * n + 0.5))


def log_loss(y_true, proba, *, eps: float = 1e-12, sample_weight=None) -> float:
    """Mean negative log-likelihood of class indices under predicted probabilities.

    The one log-loss of raretune (validation logs, calibration choice, calibration record).
    Probabilities are clipped to ``[eps, 1 - eps]``; multiclass rows are renormalised.

    Parameters
    ----------
    y_true : array-like of int
        Class indices.
    proba : array-like
        Shape (n,) (positive-class probability) or (n, K).
    sample_weight : array-like of float, optional
        Row weights: the mean becomes the weighted mean.

    Examples
    --------
    >>> round(log_loss([0, 1], [0.2, 0.9]), 4)
    0.1643
    >>> round(log_loss([0, 1], [0.2, 0.9], sample_weight=[1, 3]), 4)
    0.1348
    """
    y_true = np.asarray(y_true).astype(int)
    proba = np.clip(np.asarray(proba, dtype="float64"), eps, 1 - eps)
    if proba.ndim == 1:
        losses = y_true * np.log(proba) + (1 - y_true) * np.log1p(-proba)
    else:
        proba = proba / proba.sum(axis=1, keepdims=True)
        losses = np.log(proba[np.arange(len(y_true)), y_true])
    if sample_weight is None:
        return float(-np.mean(losses))
    return float(-np.average(losses, weights=np.asarray(sample_weight, dtype=float)))


def _best_f1(y_true, score, sample_weight=None) -> float:
    _, tp, fp = threshold_sweep(y_true, score, sample_weight)
    n_pos = tp[-1] if tp.size else 0
    if n_pos == 0:
        return 0.0
    f1 = 2 * tp / (tp + fp + n_pos)
    return float(f1.max())


def _recall_at_precision(y_true, score, precision: float, sample_weight=None) -> float:
    _, tp, fp = threshold_sweep(y_true, score, sample_weight)
    n_pos = tp[-1] if tp.size else 0
    if n_pos == 0:
        return 0.0
    flagged = tp + fp
    ok = tp / np.where(flagged > 0, flagged, 1) >= precision
    return float((tp[ok] / n_pos).max()) if ok.any() else 0.0


def _min_cost(y_true, score, cost_fn: float, cost_fp: float, cost=None, sample_weight=None) -> float:
    """Lowest money lost per row (per unit of weight) over all thresholds, flagging nobody included."""
    _, lost, nobody = cost_sweep(y_true, score, cost_fn=cost_fn, cost_fp=cost_fp, cost=cost, sample_weight=sample_weight)
    rows = len(score) if sample_weight is None else float(np.sum(sample_weight))
    return float(min(nobody, lost.min(initial=nobody)) / (rows if rows > 0 else 1))


@dataclass(frozen=True)
class Objective:
    """A search objective: what to compute on validation data and which way is better.

    Parameters
    ----------
    name : str
        ``"pr_auc"``, ``"roc_auc"``, ``"f1"``, ``"recall_at_precision"`` or ``"cost"``.
    direction : {"max", "min"}
    precision : float, optional
        The precision floor of ``recall_at_precision``.
    cost_fn, cost_fp : float
        Costs of a missed positive and of a false alarm, for ``cost``.
    cost_column : str, optional
        For ``cost``: the column whose value is what missing that positive costs (the scores
        are then given per-row ``cost``; ``cost_fn`` is unused).

    Notes
    -----
    :meth:`on_rows` binds per-row costs and weights to one array of labels: the run binds
    them to its validation rows, so every stage that scores those rows (the per-epoch
    scorer, cross-fitting, the ensemble, the leaderboard) uses them without being told, and
    scoring other rows with the bound objective is refused rather than silently unweighted.

    ``f1`` is the best F1 over thresholds and ``cost`` the lowest expected cost over
    thresholds: the decision threshold is tuned after the search, so a model must not be
    judged at an arbitrary 0.5.
    """

    name: str
    direction: str
    precision: float | None = None
    cost_fn: float = 1.0
    cost_fp: float = 1.0
    cost_column: str | None = None
    _rows: tuple | None = field(default=None, compare=False, repr=False)  # (y, cost, sample_weight)

    def on_rows(self, y_true, *, cost=None, sample_weight=None) -> "Objective":
        """This objective with per-row ``cost`` and ``sample_weight`` bound to the labels ``y_true``.

        :meth:`score` then uses them when given that very array of labels (or a bag drawn
        from it with :meth:`bag`), and refuses other rows.

        Examples
        --------
        >>> y = np.array([0, 1, 1, 0])
        >>> cost = get_objective("cost", cost_fp=5, cost_column="amount").on_rows(y, cost=[0, 50, 20, 0])
        >>> cost.score(y, [0.1, 0.9, 0.4, 0.4])  # flag the two rows at 0.4 and above: one false alarm
        1.25
        """
        if cost is None and sample_weight is None:
            return replace(self, _rows=None)
        n = len(y_true)
        for name, values in (("cost", cost), ("sample_weight", sample_weight)):
            if values is not None and len(values) != n:
                raise DataError(f"The objective's {name} has {len(values)} values for {n} rows.")
        return replace(self, _rows=(y_true, cost, sample_weight))

    def bag(self, y_true, rows) -> tuple:
        """``(labels, objective)`` for the rows ``rows`` of ``y_true`` (e.g. a bootstrap bag).

        A bound objective is bound to the bag's labels, costs and weights; an unbound one is
        returned as it is with ``y_true[rows]``.
        """
        if self._rows is None:
            return np.asarray(y_true)[rows], self
        _, cost, weight = self._rows_of(y_true)
        y_bag = np.asarray(y_true)[rows]
        return y_bag, self.on_rows(y_bag, cost=None if cost is None else np.asarray(cost)[rows],
                                   sample_weight=None if weight is None else np.asarray(weight)[rows])

    def _rows_of(self, y_true) -> tuple:
        if y_true is not self._rows[0]:
            raise DataError("This objective is bound to other rows (their costs or weights); bind it to these "
                            "with on_rows().")
        return self._rows

    def _row_values(self, y_true, cost, sample_weight) -> tuple:
        """``(cost, sample_weight)`` to score ``y_true`` with: given ones, else the bound ones."""
        if cost is not None or sample_weight is not None or self._rows is None:
            if self.name == "cost" and self.cost_column is not None and cost is None:
                raise DataError(f"The cost objective reads each positive's cost from {self.cost_column!r}; "
                                "no costs were given for these rows.")
            return cost, sample_weight
        _, bound_cost, bound_weight = self._rows_of(y_true)
        return bound_cost, bound_weight

    @property
    def metric(self) -> str:
        """Key of the objective in Keras logs and Keras Tuner: ``"val_" + name``."""
        return f"val_{self.name}"

    def keras_tuner(self):
        """The ``keras_tuner.Objective`` with the direction stated."""
        import keras_tuner as kt

        return kt.Objective(self.metric, direction=self.direction)

    def score(self, y_true, proba, *, cost=None, sample_weight=None) -> float:
        """Compute the objective from labels and probabilities.

        Parameters
        ----------
        y_true : array-like of int
            Class indices.
        proba : array-like
            Shape (n,) (positive-class probability) or (n, K) (class probabilities).
        cost : array-like of float, optional
            Per-row cost of missing a positive (``cost`` objective; replaces ``cost_fn``).
        sample_weight : array-like of float, optional
            Row weights: every objective counts a row that many times.

        Returns
        -------
        float
        """
        from sklearn.metrics import f1_score, roc_auc_score

        cost, sample_weight = self._row_values(y_true, cost, sample_weight)
        y_true = np.asarray(y_true)
        proba = np.asarray(proba, dtype=float)
        if proba.ndim == 2 and proba.shape[1] == 1:
            proba = proba[:, 0]
        if proba.ndim == 2:  # multiclass: macro averages
            if self.name == "pr_auc":
                return _macro_average_precision(y_true, proba, sample_weight)
            if self.name == "roc_auc":
                return float(roc_auc_score(y_true, proba, multi_class="ovr", labels=range(proba.shape[1]),
                                           sample_weight=sample_weight))
            if self.name == "f1":
                return float(f1_score(y_true, proba.argmax(1), average="macro", labels=range(proba.shape[1]),
                                      sample_weight=sample_weight))
            raise ConfigError(f"The {self.name!r} objective needs a binary task.")
        if not np.isfinite(proba).all():
            return math.nan
        if self.name in ("pr_auc", "roc_auc"):
            return _ranking_score(self.name, y_true, proba, sample_weight)
        if self.name == "f1":
            return _best_f1(y_true, proba, sample_weight)
        if self.name == "recall_at_precision":
            return _recall_at_precision(y_true, proba, self.precision, sample_weight)
        return _min_cost(y_true, proba, self.cost_fn, self.cost_fp, cost, sample_weight)

    def describe(self) -> str:
        """Short human description, e.g. ``"validation PR-AUC (higher is better)"``."""
        if self.name == "recall_at_precision":
            label = f"recall at precision >= {self.precision:g}"
        elif self.name == "cost" and self.cost_column is not None:
            label = f"money lost per row (FN = {self.cost_column}, FP={self.cost_fp:g})"
        elif self.name == "cost":
            label = f"expected cost per row (FN={self.cost_fn:g}, FP={self.cost_fp:g})"
        else:
            label = {"pr_auc": "PR-AUC", "roc_auc": "ROC-AUC", "f1": "best F1"}[self.name]
        better = "higher" if self.direction == "max" else "lower"
        return f"validation {label} ({better} is better)"

    def to_dict(self) -> dict:
        """JSON-ready description."""
        out = {"name": self.metric, "objective": self.name, "direction": self.direction}
        if self.precision is not None:
            out["precision"] = self.precision
        if self.name == "cost":
            out.update(cost_fn=self.cost_fn, cost_fp=self.cost_fp)
            if self.cost_column is not None:
                out["cost_column"] = self.cost_column
        return out


def _ranking_score(name: str, y_true, proba, sample_weight) -> float:
    """Binary PR-AUC (0.0 with no positive) or ROC-AUC (0.5 without both classes).

    Unweighted 0/1 labels are counted from one sort (:class:`raretune._binary_counts.SortedScores`,
    the same values as scikit-learn's, ties included, about 20 times faster on a few thousand
    rows: the ensemble selection scores thousands of averages); weighted rows go to scikit-learn.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    if name == "pr_auc" and not y_true.any():
        return 0.0
    if name == "roc_auc" and not 0 < y_true.sum() < y_true.size:
        return 0.5
    sorted_ = SortedScores.of(y_true, proba) if sample_weight is None else None
    if sorted_ is not None:
        return sorted_.average_precision() if name == "pr_auc" else sorted_.roc_auc()
    if name == "pr_auc":
        return float(average_precision_score(y_true, proba, sample_weight=sample_weight))
    return float(roc_auc_score(y_true, proba, sample_weight=sample_weight))


def get_objective(name: str = "pr_auc", *, cost_fn: float = 1.0, cost_fp: float = 1.0,
                  cost_column: str | None = None) -> Objective:
    """Build an :class:`Objective` from its name.

    Parameters
    ----------
    name : str
        ``"pr_auc"`` (default), ``"roc_auc"``, ``"f1"``, ``"recall@precision=P"`` with P in
        (0, 1), or ``"cost"``.
    cost_fn, cost_fp : float
        Costs for ``"cost"``: a missed positive and a false alarm.
    cost_column : str, optional
        For ``"cost"``: the column holding each positive's own cost (recorded in the objective).

    Returns
    -------
    Objective

    Examples
    --------
    >>> get_objective("recall@precision=0.9").metric
    'val_recall_at_precision'
    >>> get_objective("cost", cost_fn=100).direction
    'min'
    """
    if not isinstance(name, str):
        raise ConfigError(f"The 'objective' parameter must be a str among {OBJECTIVES}. Got {name!r} instead.")
    match = re.fullmatch(r"recall@precision=([0-9.]+)", name.strip())
    if match:
        try:
            precision = float(match.group(1))
        except ValueError:
            precision = math.nan
        check_number(precision, "precision", "recall@precision", low=0, high=1, closed="neither")
        return Objective("recall_at_precision", "max", precision=precision)
    if name in ("pr_auc", "roc_auc", "f1"):
        return Objective(name, "max")
    if name == "cost":
        check_number(cost_fn, "cost_fn", "the cost objective", low=0, closed="neither")
        check_number(cost_fp, "cost_fp", "the cost objective", low=0, closed="neither")
        return Objective("cost", "min", cost_fn=float(cost_fn), cost_fp=float(cost_fp), cost_column=cost_column)
    raise ConfigError(
        f"The 'objective' parameter must be a str among {{'pr_auc', 'roc_auc', 'f1', "
        f"'recall@precision=P', 'cost'}}. Got {name!r} instead."
    )


def _macro_average_precision(y_true, proba, sample_weight=None) -> float:
    from sklearn.metrics import average_precision_score

    values = [
        average_precision_score(y_true == k, proba[:, k], sample_weight=sample_weight)
        for k in range(proba.shape[1])
        if (y_true == k).any()
    ]
    return float(np.mean(values)) if values else 0.0


def score_predictions(y_true, proba, *, threshold: float | None = 0.5, costs: dict | None = None, class_names=None,
                      cost=None, sample_weight=None) -> dict:
    """Every score raretune reports, computed exactly from probabilities.

    Parameters
    ----------
    y_true : array-like of int
        Class indices (binary: 1 is the positive class).
    proba : array-like
        Binary: shape (n,), the positive-class probability. Multiclass: shape (n, K).
    threshold : float, default=0.5
        Binary decision threshold (``proba >= threshold`` is positive). Ignored for
        multiclass, where the prediction is the most probable class.
    costs : dict, optional
        ``{"fn": x, "fp": y}``: adds ``expected_cost`` (per row) at the threshold.
    class_names : sequence of str, optional
        Multiclass: names for ``per_class``.
    cost : array-like of float, optional
        Per-row cost of missing a positive, for ``expected_cost`` (replaces ``costs["fn"]``).
    sample_weight : array-like of float, optional
        Row weights: every score (PR-AUC, confusion counts, rates) counts a row that many
        times; the confusion matrix then holds sums of weights.

    Returns
    -------
    dict
        ``pr_auc`` (average precision; macro for multiclass), ``roc_auc``, ``f1``,
        ``precision``, ``recall``, ``mcc``, ``balanced_accuracy``, ``g_mean``,
        ``threshold``, ``confusion_matrix`` (rows: true class), ``n``, ``positive_rate``;
        multiclass adds ``per_class``. Scores that do not exist (one class absent) are NaN.

    Examples
    --------
    >>> s = score_predictions([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.9], threshold=0.65)
    >>> s["precision"], s["recall"], s["confusion_matrix"]
    (1.0, 1.0, [[2, 0], [0, 2]])

    Notes
    -----
    Binary scores without weights are computed from the two classes' sorted scores
    (:mod:`raretune._binary_counts`): the same values, without scikit-learn's copies of the
    whole column, so scoring millions of held-out rows stays light.
    """
    if sample_weight is None:
        lean = binary_scores(y_true, proba, threshold=threshold, costs=costs, cost=cost)
        if lean is not None:
            return lean
    return _sklearn_scores(y_true, proba, threshold=threshold, costs=costs, class_names=class_names, cost=cost,
                           sample_weight=sample_weight)


def _sklearn_scores(y_true, proba, *, threshold, costs, class_names, cost, sample_weight) -> dict:
    """:func:`score_predictions` computed with scikit-learn: any input (multiclass, weights)."""
    from sklearn.metrics import (
        average_precision_score,
        balanced_accuracy_score,
        confusion_matrix,
        f1_score,
        matthews_corrcoef,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    y_true = np.asarray(y_true).astype(int)
    proba = np.asarray(proba, dtype=float)
    if proba.ndim == 2 and proba.shape[1] == 1:
        proba = proba[:, 0]
    multiclass = proba.ndim == 2
    n_classes = proba.shape[1] if multiclass else 2
    labels = list(range(n_classes))
    if multiclass:
        y_pred = proba.argmax(axis=1)
        average = "macro"
        pr_auc = _macro_average_precision(y_true, proba, sample_weight)
        present = np.unique(y_true)
        roc = (
            roc_auc_score(y_true, proba, multi_class="ovr", labels=labels, sample_weight=sample_weight)
            if present.size == n_classes
            else math.nan
        )
    else:
        check_number(threshold, "threshold", "score_predictions", low=0, high=1)
        y_pred = (proba >= threshold).astype(int)
        average = "binary"
        has_both = 0 < y_true.sum() < y_true.size
        pr_auc = average_precision_score(y_true, proba, sample_weight=sample_weight) if y_true.any() else math.nan
        roc = roc_auc_score(y_true, proba, sample_weight=sample_weight) if has_both else math.nan
    kwargs = dict(average=average, zero_division=0.0, sample_weight=sample_weight)
    if multiclass:
        kwargs["labels"] = labels
    cm = confusion_matrix(y_true, y_pred, labels=labels, sample_weight=sample_weight)
    if sample_weight is None:
        weight = np.ones(y_true.size)
    else:
        weight = np.asarray(sample_weight, dtype=float)
    out = {
        "pr_auc": float(pr_auc),
        "roc_auc": float(roc),
        "f1": float(f1_score(y_true, y_pred, **kwargs)),
        "precision": float(precision_score(y_true, y_pred, **kwargs)),
        "recall": float(recall_score(y_true, y_pred, **kwargs)),
        "mcc": float(matthews_corrcoef(y_true, y_pred, sample_weight=sample_weight)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred, sample_weight=sample_weight)),
        "g_mean": g_mean(cm),
        "threshold": None if multiclass else float(threshold),
        "confusion_matrix": cm.tolist(),
        "n": int(y_true.size),
        "positive_rate": float(np.sum(weight * (y_true == 1)) / max(np.sum(weight), 1e-300)) if not multiclass else None,
    }
    if sample_weight is not None:
        out["weighted_n"] = float(np.sum(weight))
    if costs and not multiclass:
        money = cost_at_threshold(y_true, proba, threshold, cost_fn=costs["fn"], cost_fp=costs["fp"], cost=cost,
                                  sample_weight=sample_weight)
        out["expected_cost"] = float(money["lost"] / max(np.sum(weight), 1e-300))
    if multiclass:
        names = list(class_names) if class_names is not None else [str(k) for k in labels]
        per = dict(labels=labels, average=None, zero_division=0.0, sample_weight=sample_weight)
        per_p = precision_score(y_true, y_pred, **per)
        per_r = recall_score(y_true, y_pred, **per)
        per_f = f1_score(y_true, y_pred, **per)
        out["per_class"] = {
            names[k]: {
                "pr_auc": float(average_precision_score(y_true == k, proba[:, k], sample_weight=sample_weight))
                if (y_true == k).any() else math.nan,
                "precision": float(per_p[k]),
                "recall": float(per_r[k]),
                "f1": float(per_f[k]),
                "support": int((y_true == k).sum()),
            }
            for k in labels
        }
    return out
