"""What the run warns about, one sentence each, for the terminal, the report's top and ``metrics.json``.

The decision's own warnings live beside the figures they judge: a threshold target not
reached (:func:`raretune.operating.threshold_outcome`) and too few positives to trust the
figures (:func:`raretune.operating.reliability_warnings`). These are the run's: columns
left out as identifiers, remedies the search never tried, and a chosen model scoring below
one of its own candidates.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["identifier_warnings", "shortfall_warning", "untried_remedies_warning"]


def identifier_warnings(data) -> list[str]:
    """One warning per column that ``load_data`` left out as an identifier.

    Parameters
    ----------
    data : TabularData or ImageData
        Loaded data; its ``dropped`` names the identifiers (images have none).

    Returns
    -------
    list of str
        E.g. "column 'txn_id' dropped: it looks like an identifier (unique per row or a
        sequence number); keep it with --keep txn_id".
    """
    return [f"column {name!r} dropped: it looks like an identifier (unique per row or a sequence number); "
            f"keep it with --keep {name}" for name in getattr(data, "dropped", ())]


def untried_remedies_warning(strategies: Iterable[str], trials: Iterable) -> str | None:
    """A warning naming the remedies that no trial tried (a search stopped early), or ``None``.

    Parameters
    ----------
    strategies : iterable of str
        The remedies the plan asked for.
    trials : iterable of keras_tuner Trial
        The search's trials; each names its remedy in the ``"strategy"`` hyperparameter.
    """
    tried = {t.hyperparameters.values.get("strategy") for t in trials}
    untried = sorted(set(strategies) - tried)
    if not untried:
        return None
    return f"remedies without a trial (the search stopped early): {', '.join(untried)}"


def shortfall_warning(plan, chosen, candidates, y) -> str | None:
    """A warning when the chosen model scores below its best candidate on validation, or ``None``.

    :func:`~raretune.run._ensemble.choose_ensemble` keeps the best candidate alone rather
    than an ensemble that scores below it, so this fires only when that guarantee is broken
    (or, with ``calibration="prior"``, when the best candidate was trained under another
    prior and could not be chosen).

    Parameters
    ----------
    plan : RunPlan
        Its objective, with its direction.
    chosen : Chosen
        The model kept, with its validation scores ``raw``.
    candidates : sequence of Candidate
        Every model the ensemble could choose from.
    y : ndarray of int
        Validation labels (out of fold with cross-fitting).
    """
    from ._candidates import member_label

    if not candidates:
        return None
    objective = plan.objective
    sign = 1.0 if objective.direction == "max" else -1.0
    scores = [objective.score(y, c.raw) for c in candidates]
    best = max(range(len(candidates)), key=lambda i: sign * scores[i])
    mine = objective.score(y, chosen.raw)
    if sign * mine >= sign * scores[best] - 1e-12:
        return None
    return (f"the chosen model scores {objective.metric} = {mine:.4f} on validation, below its best single "
            f"candidate {member_label(candidates[best].member)} ({scores[best]:.4f})")
