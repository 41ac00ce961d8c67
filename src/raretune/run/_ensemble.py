"""The ensemble stage: which candidates the saved model averages, with what weights.

Bagged greedy ensemble selection (Caruana et al., 2004 and 2006) on the validation (out of
fold) scores; the chosen candidates become one plain-Keras model
(:func:`raretune.models.average_models`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["ENSEMBLE_BAGS", "ENSEMBLE_ROUNDS", "Chosen", "as_selected", "choose_ensemble", "ensemble_families",
           "family_of", "same_prior", "weighted_average"]

#: Bootstrap repeats of the ensemble selection (bagged ensemble selection; few rare rows).
ENSEMBLE_BAGS = 10
#: Most members (with repeats) one greedy selection counts.
ENSEMBLE_ROUNDS = 25


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
    selection: dict | None = None
    #: the scores the selection read, averaged with the members' weights (``None``: ``raw``)
    selection_raw: np.ndarray | None = None


def choose_ensemble(plan, candidates, y) -> Chosen:
    """Greedy ensemble selection over ``candidates`` (best trial first) on validation scores ``y``.

    Bagged selection chooses on bootstrap samples, so on all of ``y`` its average can score
    below the best single candidate; then the best candidate is kept alone: the chosen model
    never scores below its best candidate on the objective it optimises.

    The selection reads each candidate's ``selection_raw`` where it has one (its out-of-fold
    scores averaged over several fold layouts, :func:`~raretune.run._candidates.repeat_cross_fitting`),
    else its ``raw``; ``Chosen.raw`` is always the weighted average of the ``raw`` scores,
    those of the models the saved ensemble holds. ``Chosen.selection`` records the layouts,
    bags and rounds.
    """
    from ..models import average_models
    from ..tuning import greedy_ensemble

    first = candidates[0]
    if plan.config.calibration == "prior":  # only members trained under the best trial's prior
        candidates = [c for c in candidates if same_prior(c.prior, first.prior)]
    n = len(candidates)
    layouts = max((c.layouts for c in candidates), default=1)
    selection = {"layouts": layouts, "bags": ENSEMBLE_BAGS if n > 1 else 0, "rounds": ENSEMBLE_ROUNDS,
                 "scores": ("out-of-fold scores on the search's folds" if layouts == 1 else
                            f"converged candidates: out-of-fold scores averaged over {layouts} fold layouts; "
                            "networks: out-of-fold scores on the search's folds")}
    sign = 1.0 if plan.objective.direction == "max" else -1.0
    read = [_selection_raw(c) for c in candidates]
    scores = [sign * plan.objective.score(y, r) for r in read]
    best = candidates[int(np.argmax(scores))]  # the first of the best on ties: the better trial
    alone = Chosen(best.network, best.raw, [{**best.member, "weight": 1}], best.prior, n,
                   {**selection, "validation_score": float(sign * max(scores))}, _selection_raw(best))
    if n == 1:
        return alone
    counts = greedy_ensemble(read, y, plan.objective, rounds=ENSEMBLE_ROUNDS, bags=ENSEMBLE_BAGS,
                             random_state=plan.seed)
    chosen = [(c, int(k)) for c, k in zip(candidates, counts) if k > 0]
    selected = weighted_average([r for r, k in zip(read, counts) if k > 0], [k for _, k in chosen])
    if len(chosen) == 1 or sign * plan.objective.score(y, selected) < max(scores):
        return alone
    raw = weighted_average([c.raw for c, _ in chosen], [k for _, k in chosen])
    members = [{**c.member, "weight": k} for c, k in chosen]
    prior = chosen[0][0].prior if all(same_prior(c.prior, chosen[0][0].prior) for c, _ in chosen) else None
    model = average_models([c.network for c, _ in chosen], [k for _, k in chosen])
    selection["validation_score"] = float(plan.objective.score(y, selected))
    return Chosen(model, raw, members, prior, n, selection, selected)


def _selection_raw(candidate) -> np.ndarray:
    """The scores the selection reads: averaged over fold layouts where there are several."""
    return candidate.raw if candidate.selection_raw is None else candidate.selection_raw


def as_selected(chosen: Chosen, candidates) -> tuple:
    """``(chosen, candidates)`` with their ``raw`` scores replaced by those the selection read.

    :func:`choose_ensemble` never keeps an ensemble that scores below its best candidate on
    these; on the search layout's scores alone (``raw``) it can, when the selection read
    scores averaged over fold layouts.
    """
    return (chosen._replace(raw=chosen.raw if chosen.selection_raw is None else chosen.selection_raw),
            [c._replace(raw=_selection_raw(c)) for c in candidates])


def family_of(member: dict) -> str:
    """A member's candidate family: ``"network"``, or its converged model's name."""
    return "network" if member.get("trial_id") is not None else str(member.get("model"))


def ensemble_families(plan, candidates, chosen: Chosen, y, network_seconds: float = 0.0) -> dict:
    """Where the ensemble's time went and what each candidate family added.

    Per family (``"network"``, ``"logistic_regression"``, ``"boosted_trees"``, ...):
    ``candidates`` offered, ``seconds`` spent fitting them on every fold layout (the networks:
    ``network_seconds``, the search), ``best_validation_score`` (its best candidate's
    out-of-fold objective on the search's folds, comparable across families) and ``weight``
    (its share of the chosen ensemble, 0 to 1).
    """
    total = float(sum(m["weight"] for m in chosen.members))
    out = {}
    for c in candidates:
        family = out.setdefault(family_of(c.member), {"candidates": 0, "seconds": 0.0,
                                                       "best_validation_score": None, "weight": 0.0})
        family["candidates"] += 1
        family["seconds"] += float(c.seconds) + float(c.layout_seconds)
        score = float(plan.objective.score(y, c.raw))
        best = family["best_validation_score"]
        better = best is None or (score > best if plan.objective.direction == "max" else score < best)
        family["best_validation_score"] = score if better else best
    for member in chosen.members:
        family = out.get(family_of(member))
        if family is not None:
            family["weight"] += member["weight"] / total
    if "network" in out:
        out["network"]["seconds"] = float(network_seconds)
    return out


def weighted_average(predictions, weights) -> np.ndarray:
    """Weighted mean of probability arrays, kept inside [0, 1] (sums of floats can pass 1 by an ulp)."""
    weights = np.asarray(weights, dtype="float64")
    total = sum(w * np.asarray(p, dtype="float64") for w, p in zip(weights / weights.sum(), predictions))
    return np.clip(total, 0.0, 1.0)


def same_prior(a, b) -> bool:
    """Whether two training priors are defined and equal."""
    return a is not None and b is not None and bool(np.allclose(a, b))
