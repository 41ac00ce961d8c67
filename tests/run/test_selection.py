"""Ensemble selection with few rare rows: repeated fold layouts, and what each family added."""

import types

import numpy as np
import pandas as pd
import pytest

import raretune.models
from raretune.datasets import load_data
from raretune.metrics import get_objective
from raretune.models import FeatureSchema
from raretune.run import _ensemble
from raretune.run import _candidates
from raretune.run._candidates import (REPEAT_BELOW_RARE_ROWS, REPEAT_MIN_TRIALS, REPEATED_LAYOUTS, Candidate,
                                      converged_out_of_fold, repeat_cross_fitting, repeated_layouts)
from raretune.run._ensemble import as_selected, choose_ensemble, ensemble_families
from raretune.run._warnings import shortfall_warning
from raretune.tuning import cross_fit_logistic, fold_assignment


def _plan(folds=5, seed=0, objective="pr_auc", max_trials=40):
    config = types.SimpleNamespace(calibration="auto")
    return types.SimpleNamespace(objective=get_objective(objective), seed=seed, config=config, folds=folds,
                                 cross_fitted=folds > 1, max_trials=max_trials)


def _models(y, strengths, rng):
    """Logits of each candidate's expected prediction (its deployed, fold-averaged form):
    candidate j separates the classes by ``strengths[j]`` and has its own errors."""
    return np.asarray(strengths)[:, None] * y + rng.normal(0, 1.0, size=(len(strengths), y.size)) - 2


def _out_of_fold(logits, n_layouts, rng):
    """Out-of-fold scores on ``n_layouts`` fold layouts, (candidates, layouts, rows): each
    layout adds its own errors (which rows a row's model was trained without)."""
    noise = rng.normal(0, 2.0, size=(logits.shape[0], n_layouts, logits.shape[1]))
    return 1 / (1 + np.exp(-(logits[:, None, :] + noise)))


def _choose(candidates, y):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(raretune.models, "average_models", lambda networks, weights: tuple(networks))
        patch.setattr(_ensemble, "ENSEMBLE_BAGS", 1)  # one greedy pass: the test is about the scores read
        return choose_ensemble(_plan(), candidates, y)


def _weights(chosen, n):
    w = np.zeros(n)
    for m in chosen.members:
        w[int(m["trial_id"])] += m["weight"]
    return w / w.sum()


def test_averaged_layouts_choose_a_better_ensemble_than_one_noisy_layout():
    objective = get_objective("pr_auc")
    y = np.r_[np.ones(20, int), np.zeros(280, int)]
    strengths = [2.0, 1.0, 1.0, 1.0, 1.0]  # one better model, four weaker ones
    single, averaged = [], []
    for draw in range(12):
        rng = np.random.default_rng(draw)
        logits = _models(y, strengths, rng)
        truth = 1 / (1 + np.exp(-logits))  # what a choice is worth: the models' expected scores
        scores = _out_of_fold(logits, 5, rng)
        candidates = [Candidate({"trial_id": str(j), "strategy": "none"}, f"m{j}", scores[j, 0], 0.5)
                      for j in range(len(strengths))]
        on_one = _weights(_choose(candidates, y), len(strengths))
        repeated = [c._replace(selection_raw=scores[j].mean(axis=0), layouts=5) for j, c in enumerate(candidates)]
        chosen = _choose(repeated, y)
        on_five = _weights(chosen, len(strengths))
        assert chosen.selection["layouts"] == 5
        # never below the best candidate on the scores the selection read (on layout A alone it may be)
        assert shortfall_warning(_plan(), *as_selected(chosen, repeated), y) is None
        assert chosen.selection["validation_score"] == pytest.approx(objective.score(y, chosen.selection_raw))
        # the saved model's scores stay those of the search's layout
        np.testing.assert_allclose(chosen.raw, np.clip(on_five @ scores[:, 0], 0, 1))
        single.append(objective.score(y, on_one @ truth))
        averaged.append(objective.score(y, on_five @ truth))
    assert np.mean(averaged) > np.mean(single) + 0.02
    assert sum(a >= s for a, s in zip(averaged, single)) >= 8


def _table(n=240, rare=12, seed=0):
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(rare, int), np.zeros(n - rare, int)]
    frame = pd.DataFrame({"a": rng.normal(size=n) + y, "b": rng.normal(size=n), "label": np.where(y, "yes", "no")})
    return load_data(frame, target="label", positive="yes")


def test_repeat_cross_fitting_averages_fresh_layouts_and_keeps_the_search_scores():
    rows = _table()
    schema = FeatureSchema.from_data(rows)
    plan = _plan(folds=3)
    ids = fold_assignment(rows.y, 3, random_state=0)
    raw, _ = cross_fit_logistic(schema, rows, ids, C=1.0, random_state=0)
    member = {"trial_id": None, "model": "logistic_regression", "C": 1.0, "strategy": "class_weight"}
    candidate = Candidate(member, "net", raw, 0.5, 0.25)
    hypermodel = types.SimpleNamespace(schema=schema, rows=rows, fold_layout={}, weights_of=lambda r: None)
    said = []
    progress = types.SimpleNamespace(say=lambda *a, **k: said.append(a[0]))
    [out] = repeat_cross_fitting(plan, hypermodel, rows, [candidate], progress)
    assert out.layouts == REPEATED_LAYOUTS and out.layout_seconds > 0 and out.seconds == 0.25
    assert out.raw is raw and out.network == "net"
    expected = raw.copy()
    for r in range(1, REPEATED_LAYOUTS):  # the fresh layouts are seeded from the run's seed
        expected += converged_out_of_fold(schema, rows, fold_assignment(rows.y, 3, random_state=104_729 * r),
                                          member, 0)
    np.testing.assert_allclose(out.selection_raw, expected / REPEATED_LAYOUTS)
    assert not np.allclose(out.selection_raw, raw)
    # a time limit with no room left keeps the search's layout alone
    budget = types.SimpleNamespace(fits=lambda seconds: False)
    [kept] = repeat_cross_fitting(plan, hypermodel, rows, [candidate], progress, budget)
    assert kept.layouts == 1 and np.array_equal(kept.selection_raw, raw)
    assert any("time limit" in line for line in said)


def test_layouts_are_repeated_only_below_the_rare_row_threshold():
    plan = _plan(folds=5)

    def rows(rare):
        return types.SimpleNamespace(y=np.r_[np.ones(rare, int), np.zeros(500, int)], n_classes=2)

    assert repeated_layouts(plan, rows(REPEAT_BELOW_RARE_ROWS - 1)) == REPEATED_LAYOUTS
    assert repeated_layouts(plan, rows(REPEAT_BELOW_RARE_ROWS)) == 1
    assert repeated_layouts(plan, rows(20), {"order": np.arange(520)}) == 1  # time blocks: one layout exists
    assert repeated_layouts(_plan(folds=1), rows(20)) == 1
    assert repeated_layouts(_plan(max_trials=REPEAT_MIN_TRIALS - 1), rows(20)) == 1  # a quick search


def test_families_record_time_best_score_and_weight():
    y = np.array([0, 0, 0, 0, 1, 1])
    good = np.array([.1, .2, .3, .4, .8, .9])
    poor = np.array([.9, .2, .3, .4, .8, .1])
    candidates = [
        Candidate({"trial_id": "7", "strategy": "none"}, "n", poor, 0.5),
        Candidate({"trial_id": None, "model": "logistic_regression", "C": 1.0}, "l1", good, 0.5, 1.5,
                  layout_seconds=3.0),
        Candidate({"trial_id": None, "model": "logistic_regression", "C": 0.1}, "l2", poor, 0.5, 0.5),
        Candidate({"trial_id": None, "model": "boosted_trees", "config": "default"}, "t", poor, 0.5, 2.0),
    ]
    chosen = _ensemble.Chosen("m", good, [{**candidates[1].member, "weight": 3},
                                          {**candidates[0].member, "weight": 1}], 0.5, 4)
    families = ensemble_families(_plan(), candidates, chosen, y, network_seconds=40.0)
    assert set(families) == {"network", "logistic_regression", "boosted_trees"}
    assert families["logistic_regression"] == {"candidates": 2, "seconds": 5.0, "best_validation_score": 1.0,
                                               "weight": 0.75}
    assert families["network"]["seconds"] == 40.0 and families["network"]["weight"] == 0.25
    assert families["boosted_trees"]["weight"] == 0.0


def test_metrics_record_the_selection_and_each_familys_time(tmp_path, monkeypatch):
    import raretune
    from tests.conftest import make_frame

    monkeypatch.setattr(_candidates, "REPEAT_MIN_TRIALS", 1)  # repeat the layouts after a one-trial search
    frame = make_frame(n=400, positive_rate=0.08, seed=3)  # about 25 rare rows to cross-fit: layouts repeat
    result = raretune.run(data=frame, target="label", out=tmp_path / "run", strategies=["none"], folds=3,
                          ensemble=2, max_trials=1, max_epochs=1, refit=False, trees=False, forests=False,
                          smote_linear=False, knn=False, baseline=False, report=False, quiet=True, seed=0)
    ensemble = result.metrics["ensemble"]
    assert ensemble["selection"]["layouts"] == REPEATED_LAYOUTS and ensemble["selection"]["bags"] > 1
    families = ensemble["families"]
    assert set(families) == {"network", "logistic_regression"}
    assert families["logistic_regression"]["candidates"] == 4 and families["logistic_regression"]["seconds"] > 0
    assert families["network"]["seconds"] == pytest.approx(result.metrics["timing"]["search"])
    assert sum(f["weight"] for f in families.values()) == pytest.approx(1.0)
