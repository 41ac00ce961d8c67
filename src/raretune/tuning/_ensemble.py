"""Greedy ensemble selection over the best trials (Caruana et al., 2004).

A search leaves many good networks behind; averaging a few of them is nearly always
better than the single best, and on small data it also averages away the luck of the
choice. :func:`greedy_ensemble` picks, with replacement, the trials whose averaged
validation (or out-of-fold) predictions score best;
:func:`raretune.models.average_models` turns the choice into one Keras model that plain
Keras loads.
"""

from __future__ import annotations

import numpy as np

from ..metrics import Objective

__all__ = ["greedy_ensemble"]


def greedy_ensemble(predictions, y, objective: Objective, *, rounds: int = 25, bags: int = 1,
                    random_state=None, max_total: int = 50) -> np.ndarray:
    """How many times to count each candidate in the average (Caruana's forward selection).

    Starting from the best single candidate, each round adds the candidate (repeats allowed)
    whose inclusion gives the best score of the running average. Candidates that tie for it
    go to the one that scores best alone, and those still tied are drawn from at random (as
    AutoGluon's and auto-sklearn's selections draw every tie): when several models rank every
    rare row first, the score cannot tell them apart, and the order they were offered in
    says nothing of their quality. The result is the prefix of rounds that scored best; ties
    keep the smaller ensemble.

    With few rare-class rows one selection overfits them; ``bags`` > 1 repeats it on
    stratified bootstrap samples of the rows and adds up the counts (Caruana et al., 2006,
    "bagged ensemble selection"). Counts are then reduced to sum to at most ``max_total``
    (every chosen candidate keeps at least 1, so with more than ``max_total`` chosen the sum
    is their number).

    Parameters
    ----------
    predictions : sequence of numpy.ndarray
        Each candidate's predicted probabilities for the same rows, shape (n,) or (n, K).
    y : numpy.ndarray
        Class indices of those rows.
    objective : Objective
        What to optimise, in its direction.
    rounds : int
        Most members counted (with repeats) in one selection.
    bags : int
        Selections on stratified bootstrap samples (1: one selection on all rows).
    random_state : int or None
        Seed of the bootstrap samples and of the draws among tied candidates.
    max_total : int
        Largest sum of the returned counts.

    Returns
    -------
    numpy.ndarray of int
        Count per candidate; the weights of the average are counts / counts.sum().

    Examples
    --------
    >>> from raretune.metrics import get_objective
    >>> y = np.array([0, 0, 0, 1, 1, 0])
    >>> a = np.array([.1, .2, .7, .8, .6, .3])   # one negative ranked high
    >>> b = np.array([.1, .6, .2, .9, .7, .65])   # other mistakes
    >>> greedy_ensemble([a, b], y, get_objective("pr_auc")).tolist()
    [1, 1]
    """
    predictions = [np.asarray(p, dtype="float64") for p in predictions]
    if not predictions:
        raise ValueError("greedy_ensemble needs at least one candidate.")
    y_passed, y = y, np.asarray(y)
    rng = np.random.default_rng(random_state)
    if bags <= 1:
        return _select(predictions, y_passed, objective, rounds, rng)
    total = np.zeros(len(predictions), dtype="int64")
    for _ in range(bags):
        rows = np.concatenate([rng.choice(np.flatnonzero(y == k), size=int((y == k).sum()), replace=True)
                               for k in np.unique(y)])
        y_bag, bag_objective = objective.bag(y_passed, rows)  # bound per-row costs or weights follow the bag
        total += _select([p[rows] for p in predictions], y_bag, bag_objective, rounds, rng)
    if total.sum() > max_total:
        total = np.where(total > 0, np.maximum(1, np.round(total * max_total / total.sum())), 0).astype("int64")
        while total.sum() > max_total and total.max() > 1:  # rounding up, or the ones kept, went over
            total[np.argmax(total)] -= 1
    divisor = np.gcd.reduce(total[total > 0])
    return total // divisor


def _select(predictions, y, objective, rounds, rng) -> np.ndarray:
    sign = 1.0 if objective.direction == "max" else -1.0
    counts = np.zeros(len(predictions), dtype="int64")
    total = np.zeros_like(predictions[0])
    best_score, best_counts = -np.inf, None
    alone = np.array([sign * objective.score(y, p) for p in predictions])
    for _ in range(rounds):
        trial_scores = np.array([sign * objective.score(y, (total + p) / (counts.sum() + 1)) for p in predictions])
        pick = _pick(trial_scores, alone, rng)
        counts[pick] += 1
        total += predictions[pick]
        if trial_scores[pick] > best_score + 1e-12:
            best_score, best_counts = trial_scores[pick], counts.copy()
    return best_counts


def _pick(trial_scores, alone, rng) -> int:
    """The candidate a round adds: the best ``trial_scores`` (higher is better); among ties,
    the best ``alone``; among those, a draw from ``rng``."""
    tied = np.flatnonzero(trial_scores >= trial_scores.max() - 1e-12)
    tied = tied[alone[tied] >= alone[tied].max() - 1e-12]
    return int(tied[0] if tied.size == 1 else rng.choice(tied))
