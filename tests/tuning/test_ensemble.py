"""Greedy ensemble selection."""

import numpy as np
import pytest

from raretune.metrics import get_objective
from raretune.tuning._ensemble import _pick, greedy_ensemble


def _noisy_copies(y, n_models, noise, seed):
    rng = np.random.default_rng(seed)
    signal = y + rng.normal(0, 0.3, size=y.size)  # shared part of every model's error
    return [1 / (1 + np.exp(-(signal + rng.normal(0, noise, size=y.size)) * 3)) for _ in range(n_models)]


def test_greedy_ensemble_never_scores_below_the_best_candidate():
    y = (np.random.default_rng(0).random(400) < 0.1).astype(int)
    objective = get_objective("pr_auc")
    predictions = _noisy_copies(y, 6, noise=1.0, seed=1)
    predictions.sort(key=lambda p: -objective.score(y, p))
    counts = greedy_ensemble(predictions, y, objective)
    averaged = sum(c * p for c, p in zip(counts, predictions)) / counts.sum()
    assert objective.score(y, averaged) >= objective.score(y, predictions[0])
    # independent errors: averaging several beats any one of them
    assert (counts > 0).sum() > 1
    assert objective.score(y, averaged) > max(objective.score(y, p) for p in predictions) + 0.01


def test_greedy_ensemble_keeps_a_clearly_best_candidate_alone():
    y = np.array([0] * 30 + [1] * 5)
    perfect = y.astype(float) * 0.8 + 0.1
    random = np.random.default_rng(0).random(y.size)
    counts = greedy_ensemble([perfect, random, random[::-1]], y, get_objective("pr_auc"))
    assert counts.tolist() == [1, 0, 0]


def test_greedy_ensemble_follows_the_objective_direction():
    y = np.array([0] * 40 + [1] * 10)
    cost = get_objective("cost", cost_fn=5, cost_fp=1)  # lower is better
    good = np.r_[np.full(40, 0.1), np.full(10, 0.9)]
    bad = 1 - good
    assert greedy_ensemble([bad, good], y, cost).tolist() == [0, 1]


def test_greedy_ensemble_needs_a_candidate():
    with pytest.raises(ValueError, match="at least one"):
        greedy_ensemble([], np.array([0, 1]), get_objective("pr_auc"))


def test_bagged_selection_is_seeded_and_spreads_weight_over_good_candidates():
    y = (np.random.default_rng(3).random(300) < 0.05).astype(int)  # about 15 rare rows
    objective = get_objective("pr_auc")
    predictions = _noisy_copies(y, 8, noise=1.5, seed=4)
    once = greedy_ensemble(predictions, y, objective)
    bagged = greedy_ensemble(predictions, y, objective, bags=10, random_state=0)
    assert np.array_equal(bagged, greedy_ensemble(predictions, y, objective, bags=10, random_state=0))
    assert 0 < bagged.sum() <= 50
    assert (bagged > 0).sum() >= (once > 0).sum()  # averaging over bags keeps more members


def test_candidates_that_tie_are_drawn_at_random_not_by_their_order():
    # every candidate ranks each rare row first (PR-AUC 1 on any rows): the score cannot tell
    # them apart, so the one offered first must not take every selection
    y = np.array([0] * 60 + [1] * 8)
    rng = np.random.default_rng(5)
    perfect = [np.where(y == 1, 0.6 + 0.4 * rng.random(y.size), 0.5 * rng.random(y.size)) for _ in range(4)]
    objective = get_objective("pr_auc")
    firsts = {int(np.flatnonzero(greedy_ensemble(perfect, y, objective, random_state=seed))[0]) for seed in range(20)}
    assert len(firsts) >= 3
    bagged = greedy_ensemble(perfect, y, objective, bags=10, random_state=0)
    assert (bagged > 0).sum() >= 3
    assert np.array_equal(bagged, greedy_ensemble(perfect, y, objective, bags=10, random_state=0))


def test_a_tie_goes_to_the_candidate_better_alone_then_to_a_draw():
    trial = np.array([0.9, 0.95, 0.95, 0.95, 0.8])  # candidates 1-3 tie for the round
    alone = np.array([0.99, 0.7, 0.9, 0.9, 0.99])  # 2 and 3 are better alone than 1
    picks = {_pick(trial, alone, np.random.default_rng(seed)) for seed in range(20)}
    assert picks == {2, 3}
    assert _pick(np.array([0.5, 0.6]), np.array([0.9, 0.1]), np.random.default_rng(0)) == 1  # no tie: the best round
