"""The decision stage, written once: calibrate the raw scores, then choose the threshold.

Both are fitted on validation scores (out of fold with cross-fitting) and never on test
rows; the refit stage calls the same function on its own out-of-fold scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._errors import ConfigError
from ..calibration import ProbabilityCalibrator
from ..thresholds import select_threshold

__all__ = ["Decision", "calibration_scores", "decide"]


@dataclass(frozen=True)
class Decision:
    """A fitted calibration and the threshold chosen on the calibrated scores.

    Attributes
    ----------
    calibrator : ProbabilityCalibrator
    threshold : float or None
        Binary tasks only.
    rule : str
    target : float or None
    capacity : dict or None
        For ``capacity=N/PERIOD``: the plan's capacity, with the share of these validation
        rows flagged and the ``validation_alerts_per_period`` that makes at their rate.
    """

    calibrator: ProbabilityCalibrator
    threshold: float | None
    rule: str
    target: float | None
    capacity: dict | None = None
    sample: dict | None = None

    def scores(self, raw) -> np.ndarray:
        """Calibrated probabilities of raw scores."""
        return self.calibrator.transform(raw)

    def outcome(self, plan, y, raw, values: dict | None = None) -> dict:
        """Whether the threshold rule's target was reached on validation, and what was done instead.

        ``values``: the rows' ``cost`` and ``sample_weight`` (:class:`~raretune.run._row_values.RowValues`).
        """
        from ..operating import threshold_outcome

        return threshold_outcome(y, self.scores(raw), self.threshold, self.rule, self.target,
                                 cost_fn=plan.config.cost_fn, cost_fp=plan.config.cost_fp, **(values or {}))

    def threshold_record(self) -> dict | None:
        """``{"value", "rule", "target"}`` (and ``"capacity"``) for ``metrics.json`` (``None``
        for multiclass)."""
        if self.threshold is None:
            return None
        record = {"value": self.threshold, "rule": self.rule, "target": self.target}
        if self.capacity is not None:
            record["capacity"] = dict(self.capacity)
        if self.sample is not None:
            record["fitted_on"] = dict(self.sample)
        return record


def decide(plan, y, raw, prior, values: dict | None = None) -> Decision:
    """Fit the calibration on ``(y, raw)``, then choose the threshold on the calibrated scores.

    Parameters
    ----------
    plan : RunPlan
        Its calibration method, threshold rule and costs.
    y : ndarray of int
        Validation labels.
    raw : ndarray
        The model's raw validation scores.
    prior : float, list or None
        The class prior the model was trained under (for prior correction).
    values : dict, optional
        The rows' ``cost`` and ``sample_weight``: the threshold uses both, the calibration is
        fitted with the weights (a row of weight 2 counts as that row twice).

    Raises
    ------
    ConfigError
        ``calibration="prior"`` for a model trained under no defined prior.
    """
    config = plan.config
    calibrator = ProbabilityCalibrator(config.calibration, train_prior=prior,
                                       random_state=0 if plan.seed is None else plan.seed)
    if config.calibration == "prior" and prior is None:
        raise ConfigError("Prior correction needs the training prior, which this remedy does not define.")
    rule, target = plan.threshold
    rows, sample = _decision_rows(y, raw, rule, values, 0 if plan.seed is None else plan.seed)
    if rows is not None:  # tens of millions of validation rows: every positive, a weighted share of the rest
        y, raw, values = y[rows], raw[rows], {"sample_weight": sample.pop("weight")}
    calibrator.fit(y, raw, sample_weight=(values or {}).get("sample_weight"))
    threshold = capacity = None
    if np.ndim(raw) == 1:
        calibrated = calibrator.transform(raw)
        threshold = select_threshold(y, calibrated, rule=rule, target=target,
                                     cost_fn=config.cost_fn, cost_fp=config.cost_fp, **(values or {}))
        planned = getattr(plan, "capacity", None)
        if planned is not None:
            flagged = float(np.mean(calibrated >= threshold))
            capacity = {**planned, "validation_alert_share": flagged,
                        "validation_alerts_per_period": flagged * planned["rows_per_period"]}
    return Decision(calibrator, threshold, rule, target, capacity, sample)


#: Above this many validation rows (a streamed run of tens of millions of rows), the calibration
#: and the threshold are fitted on every positive and a Bernoulli sample of the negatives, each
#: weighted by the inverse of its rate: the sampled fits' memory does not grow with the rows
#: (at 15M rows the threshold sweep alone added 0.9 GB). The metrics stay on every row.
DECIDE_MAX_ROWS = 2_000_000


def _decision_rows(y, raw, rule: str, values: dict | None, seed: int) -> tuple:
    """``(rows, {"rows", "positives", "negative_rate", "weight"})`` to fit the decision on, or
    ``(None, None)`` to fit it on every row: multiclass, rows that carry a cost or a weight,
    the row-counting rules (``alerts``, ``capacity``), or no more than :data:`DECIDE_MAX_ROWS`."""
    values = values or {}
    if (len(y) <= DECIDE_MAX_ROWS or np.ndim(raw) != 1 or rule in ("alerts", "capacity")
            or any(values.get(k) is not None for k in ("cost", "sample_weight"))):
        return None, None
    positives = np.flatnonzero(y == 1)
    negatives = np.flatnonzero(y != 1)
    rate = max(DECIDE_MAX_ROWS - positives.size, 1) / max(negatives.size, 1)
    if rate >= 1:
        return None, None
    kept = negatives[np.random.default_rng(seed).random(negatives.size) < rate]
    rows = np.sort(np.concatenate([positives, kept]))
    weight = np.where(y[rows] == 1, 1.0, 1.0 / rate)
    return rows, {"rows": int(rows.size), "positives": int(positives.size), "negative_rate": float(rate),
                  "weight": weight}


def calibration_scores(y, raw, calibrated, *, chunk: int = 1_000_000) -> dict:
    """Brier score and log-loss before and after calibration (binary).

    Both are means over rows, summed ``chunk`` rows at a time, so a validation part of tens
    of millions of rows is never copied whole (scikit-learn's ``brier_score_loss`` added 44
    bytes a row). Same values as :func:`raretune.metrics.log_loss` and scikit-learn's Brier
    score, up to the order of the floating-point sums.
    """
    from ..metrics import log_loss

    y = np.asarray(y)
    totals = np.zeros(4)
    for start in range(0, y.size, chunk):
        part = slice(start, start + chunk)
        truth = y[part].astype("float64")
        for i, scores in enumerate((raw, calibrated)):
            p = np.asarray(scores[part], dtype="float64")
            totals[i] += float(np.sum((p - truth) ** 2))
            totals[2 + i] += log_loss(truth.astype(int), p) * truth.size
    n = max(y.size, 1)
    return {"brier_before": float(totals[0] / n), "brier_after": float(totals[1] / n),
            "log_loss_before": float(totals[2] / n), "log_loss_after": float(totals[3] / n)}
