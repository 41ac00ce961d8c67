"""Prevalence that moves: scores of a finished run at another base rate, or the base rate of a batch.

A binary run's calibrated scores are probabilities at the base rate of its labelled data.
``raretune predict --prevalence P`` re-expresses them at a new base rate (prior-shift
correction) and says what the deployed threshold becomes (the same rows stay flagged);
``--estimate-prevalence`` estimates an unlabelled batch's base rate from its scores (EM,
Saerens et al. 2002) and warns when it differs from training's beyond its interval.
"""

from __future__ import annotations

import numpy as np

from .._errors import ConfigError

__all__ = ["at_prevalence", "base_rate", "batch_prevalence"]


def base_rate(loaded: dict) -> float:
    """The positive rate of a binary run's labelled data; a multiclass run is refused."""
    if loaded["metrics"]["task"]["type"] != "binary":
        raise ConfigError("--prevalence and --estimate-prevalence apply to binary runs.")
    return float(loaded["metrics"]["data"]["positive_rate"])


def at_prevalence(loaded: dict, frame, prevalence: float):
    """``(frame, message)``: scores re-expressed at ``prevalence``; the flags do not change."""
    from ..prevalence import adjust_prevalence, adjust_threshold

    base = base_rate(loaded)
    frame = frame.copy()
    frame["score"] = adjust_prevalence(frame["score"].to_numpy(), train_prevalence=base, new_prevalence=prevalence)
    threshold = adjust_threshold(loaded["threshold"], train_prevalence=base, new_prevalence=prevalence)
    return frame, (f"scores at a positive rate of {prevalence:.4%} (training {base:.4%}); the deployed threshold "
                   f"{loaded['threshold']:.6g} becomes {threshold:.6g} and flags the same rows")


def batch_prevalence(loaded: dict, frame) -> tuple:
    """``(estimate dict, message lines)``: the batch's base rate, and a warning when it has moved."""
    from ..prevalence import estimate_prevalence, prevalence_warning

    base = base_rate(loaded)
    estimate = estimate_prevalence(np.asarray(frame["score"], dtype=float), train_prevalence=base, random_state=0)
    low, high = estimate["interval"] or (float("nan"), float("nan"))
    lines = [f"estimated positive rate of this batch: {estimate['prevalence']:.4%} "
             f"(95 % interval {low:.4%}-{high:.4%}); training: {base:.4%}"]
    warning = prevalence_warning(estimate)
    if warning:
        lines.append(f"warning: {warning}")
    return estimate, lines
