"""The ensemble stage: which candidates the saved model averages, with what weights.

Bagged greedy ensemble selection (Caruana et al., 2004 and 2006) on the validation (out of
fold) scores; the chosen candidates become one plain-Keras model
(:func:`raretune.models.average_models`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["ENSEMBLE_BAGS", "Chosen", "choose_ensemble", "same_prior", "weighted_average"]

#: Bootstrap repeats of the ensemble selection (bagged ensemble selection; few rare rows).
ENSEMBLE_BAGS = 10


class Chosen(NamedTuple):
    """The model the run keeps.

    ``prior`` is the training prior of its members when they all share one (else ``None``:
    calibration then cannot use a prior correction).
    """

    model: object
    raw: np.ndarray
    members: list
    prior: object
    n_candidates: int


def choose_ensemble(plan, candidates, y) -> Chosen:
    """Greedy ensemble selection over ``candidates`` (best trial first) on validation scores ``y``.

    Bagged selection chooses on bootstrap samples, so on all of ``y`` its average can score
    below the best single candidate; then the best candidate is kept alone: the chosen model
    never scores below its best candidate on the objective it optimises.
    """
    from ..models import average_models
    from ..tuning import greedy_ensemble

    first = candidates[0]
    if plan.config.calibration == "prior":  # only members trained under the best trial's prior
        candidates = [c for c in candidates if same_prior(c.prior, first.prior)]
    n = len(candidates)
    sign = 1.0 if plan.objective.direction == "max" else -1.0
    scores = [sign * plan.objective.score(y, c.raw) for c in candidates]
    best = candidates[int(np.argmax(scores))]  # the first of the best on ties: the better trial
    alone = Chosen(best.network, best.raw, [{**best.member, "weight": 1}], best.prior, n)
    if n == 1:
        return alone
    counts = greedy_ensemble([c.raw for c in candidates], y, plan.objective, bags=ENSEMBLE_BAGS,
                             random_state=plan.seed)
    chosen = [(c, int(k)) for c, k in zip(candidates, counts) if k > 0]
    raw = weighted_average([c.raw for c, _ in chosen], [k for _, k in chosen])
    if len(chosen) == 1 or sign * plan.objective.score(y, raw) < max(scores):
        return alone
    members = [{**c.member, "weight": k} for c, k in chosen]
    prior = chosen[0][0].prior if all(same_prior(c.prior, chosen[0][0].prior) for c, _ in chosen) else None
    model = average_models([c.network for c, _ in chosen], [k for _, k in chosen])
    return Chosen(model, raw, members, prior, n)


def weighted_average(predictions, weights) -> np.ndarray:
    """Weighted mean of probability arrays, kept inside [0, 1] (sums of floats can pass 1 by an ulp)."""
    weights = np.asarray(weights, dtype="float64")
    total = sum(w * np.asarray(p, dtype="float64") for w, p in zip(weights / weights.sum(), predictions))
    return np.clip(total, 0.0, 1.0)


def same_prior(a, b) -> bool:
    """Whether two training priors are defined and equal."""
    return a is not None and b is not None and bool(np.allclose(a, b))
