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
    whose inclusion gives the best score of the running average. The result is the prefix
    of rounds that scored best; ties keep the smaller ensemble.

    With few rare-class rows one selection overfits them; ``bags`` > 1 repeats it on
    stratified bootstrap samples of the rows and adds up the counts (Caruana et al., 2006,
    "bagged ensemble selection"). Counts are then reduced to sum to at most ``max_total``
    (every chosen candidate keeps at least 1).

    Parameters
    ----------
    predictions : sequence of numpy.ndarray
        Each candidate's predicted probabilities for the same rows, shape (n,) or (n, K).
        Put the best candidate first: it is the fallback.
    y : numpy.ndarray
        Class indices of those rows.
    objective : Objective
        What to optimise, in its direction.
    rounds : int
        Most members counted (with repeats) in one selection.
    bags : int
        Selections on stratified bootstrap samples (1: one selection on all rows).
    random_state : int or None
        Seed of the bootstrap samples.
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
    if bags <= 1:
        return _select(predictions, y_passed, objective, rounds)
    rng = np.random.default_rng(random_state)
    total = np.zeros(len(predictions), dtype="int64")
    for _ in range(bags):
        rows = np.concatenate([rng.choice(np.flatnonzero(y == k), size=int((y == k).sum()), replace=True)
                               for k in np.unique(y)])
        y_bag, bag_objective = objective.bag(y_passed, rows)  # bound per-row costs or weights follow the bag
        total += _select([p[rows] for p in predictions], y_bag, bag_objective, rounds)
    if total.sum() > max_total:
        total = np.where(total > 0, np.maximum(1, np.round(total * max_total / total.sum())), 0).astype("int64")
    divisor = np.gcd.reduce(total[total > 0])
    return total // divisor


def _select(predictions, y, objective, rounds) -> np.ndarray:
    sign = 1.0 if objective.direction == "max" else -1.0
    counts = np.zeros(len(predictions), dtype="int64")
    total = np.zeros_like(predictions[0])
    best_score, best_counts = -np.inf, None
    for _ in range(rounds):
        trial_scores = [sign * objective.score(y, (total + p) / (counts.sum() + 1)) for p in predictions]
        pick = int(np.argmax(trial_scores))  # first of the best: the earlier (better) trial on ties
        counts[pick] += 1
        total += predictions[pick]
        if trial_scores[pick] > best_score + 1e-12:
            best_score, best_counts = trial_scores[pick], counts.copy()
    return best_counts
