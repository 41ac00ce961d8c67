"""Stages of the run on small, exact inputs: ensemble choice, plan, budget, remedies coverage."""

import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raretune import ConfigError
from raretune.metrics import get_objective
from raretune.run._budget import Budget, parse_duration
from raretune.run._candidates import Candidate
from raretune.run._ensemble import choose_ensemble


def _plan(objective="pr_auc", calibration="auto"):
    config = types.SimpleNamespace(calibration=calibration)
    return types.SimpleNamespace(objective=get_objective(objective), seed=0, config=config)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), n_candidates=st.integers(2, 6), objective=st.sampled_from(["pr_auc", "f1"]))
def test_the_chosen_model_never_scores_below_its_best_candidate(seed, n_candidates, objective):
    import raretune.models

    rng = np.random.default_rng(seed)
    y = (rng.random(60) < 0.15).astype(int)
    y[:2] = 1
    candidates = [Candidate({"trial_id": str(i), "strategy": "none"}, f"net{i}",
                            np.clip(y * rng.random() + rng.random(60), 0, 1) / 2, 0.5) for i in range(n_candidates)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(raretune.models, "average_models", lambda networks, weights: ("avg", tuple(networks)))
        plan = _plan(objective)
        chosen = choose_ensemble(plan, candidates, y)
    best = max(plan.objective.score(y, c.raw) for c in candidates)
    assert plan.objective.score(y, chosen.raw) >= best - 1e-12
    assert sum(m["weight"] for m in chosen.members) >= 1


def test_budget_shares_and_reserves():
    now = [0.0]
    budget = Budget(100.0, clock=lambda: now[0])
    now[0] = 10.0
    budget.start_search()  # 60 % of the 90 s left
    assert budget.search_deadline == pytest.approx(64.0)
    now[0] = 63.0
    assert not budget.search_over()
    now[0] = 64.0
    assert budget.search_over()
    assert budget.fits(25.0) and not budget.fits(27.0)  # 36 s left, 10 s kept for the end
    assert Budget(None).fits(1e9) and not Budget(None).search_over()


def test_a_slow_report_is_kept_out_of_the_search_and_the_later_phases():
    from raretune.report import report_seconds_estimate

    ticks = iter([0.0, 0.75])  # one probe figure drawn in 0.75 s: a loaded machine
    assert report_seconds_estimate(clock=lambda: next(ticks)) == pytest.approx(15.0)
    now = [0.0]
    budget = Budget(100.0, clock=lambda: now[0])
    budget.reserve_for_report(15.0)
    now[0] = 10.0
    budget.start_search()  # 60 % of the 90 s left less the report's 15 s
    assert budget.search_deadline == pytest.approx(55.0)
    now[0] = 64.0
    assert budget.fits(10.0) and not budget.fits(12.0)  # 36 s left, 10 s for the end and 15 s for the report
    assert budget.reserve() == pytest.approx(25.0) and Budget(None).reserve() == 0.0


@pytest.mark.parametrize("text, seconds", [("90s", 90.0), ("10m", 600.0), ("1.5h", 5400.0), (45, 45.0), ("20", 20.0)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["-1s", "0", "ten minutes", "5d", float("inf"), True])
def test_bad_durations_are_one_line(text):
    with pytest.raises(ConfigError, match="time_limit"):
        parse_duration(text)


def test_every_remedy_gets_a_trial_and_huge_tables_stream():
    from raretune.datasets import load_data, stratified_split
    from raretune.run._config import RunConfig
    from raretune.run._modality import TableModality
    from raretune.run._plan import make_plan

    from tests.conftest import make_frame

    split = stratified_split(load_data(make_frame(n=600), target="label"), random_state=0)
    config = RunConfig(strategies=("none", "class_weight", "smote", "random_over", "focal"), max_trials=3).validated()
    plan = make_plan(config, TableModality(), split)
    assert plan.max_trials == 5 and any("raised to 5 trials" in note for note in plan.notes)
    config = RunConfig(strategies=("none", "smote", "random_under"), stream_above=100).validated()
    plan = make_plan(config, TableModality(), split)
    assert plan.strategies == ("none", "stream") and "replaced by streaming" in plan.notes[0]


def test_baseline_takes_any_number_of_categories():
    import pandas as pd

    from raretune.datasets import load_data, stratified_split
    from raretune.run._modality import TableModality

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"merchant": [f"m{i % 400}" for i in range(2000)], "x": rng.normal(size=2000)})
    frame["label"] = np.where(rng.random(2000) < 0.1, "yes", "no")
    split = stratified_split(load_data(frame, target="label"), random_state=0)
    features = TableModality().baseline_features(split.test, split.train)
    assert len(features["merchant"].cat.categories) == 254
    from sklearn.ensemble import HistGradientBoostingClassifier

    HistGradientBoostingClassifier(categorical_features="from_dtype", max_iter=5).fit(
        TableModality().baseline_features(split.train, split.train), split.train.y)


@pytest.mark.parametrize("limit, expected", [(None, 3), (100.0, 3), (30.0, 2), (12.0, 0)])
def test_importance_repeats_are_cut_to_the_time_left(limit, expected):
    import pandas as pd

    from raretune.run._explain import importance_repeats

    now = [0.0]
    budget = Budget(limit, clock=lambda: now[0])
    features = pd.DataFrame({f"x{j}": [0.0, 1.0] for j in range(5)})

    def predict(frame):  # one scoring of the rows takes 2 s: a shuffle of all five columns 10 s
        now[0] += 2.0
        return np.zeros(len(frame))

    # left after the timed scoring: limit - 2; the reserve is max(5 s, a tenth of the limit)
    assert importance_repeats(budget, predict, features, 3) == expected


@pytest.mark.parametrize("n_rows, n_positive, n_max", [(500, 10, 500), (200_000, 300, 20_000), (200_000, 30_000, 20_000)])
def test_the_importance_shuffles_a_weighted_sample_that_estimates_the_full_test_pr_auc(n_rows, n_positive, n_max):
    from raretune.run._explain import importance_rows

    rng = np.random.default_rng(3)
    y = np.zeros(n_rows, dtype=int)
    y[rng.choice(n_rows, n_positive, replace=False)] = 1
    score = rng.normal(size=n_rows) + 2.5 * y
    rows, weight = importance_rows(y, n_max, seed=0)
    if n_rows <= n_max:  # small test parts: every row, unweighted
        assert rows is None and weight is None
        return
    assert rows.size == n_max and np.all(np.diff(rows) > 0)
    kept = y[rows]
    assert kept.sum() == min(n_positive, n_max // 2)  # every positive while they fit in half the sample
    # the weights give each class its full count back, so the prevalence is the test part's
    assert weight[kept == 1].sum() == pytest.approx(n_positive)
    assert weight.sum() == pytest.approx(n_rows)
    pr_auc = get_objective("pr_auc")
    full = pr_auc.score(y, score)
    weighted = pr_auc.on_rows(kept, sample_weight=weight).score(kept, score[rows])
    unweighted = pr_auc.score(kept, score[rows])
    # the positives are over-represented in the sample: unweighted, the estimate is far off
    assert abs(weighted - full) < 0.1 and unweighted - full > 0.1
    assert importance_rows(y, n_max, seed=0)[0].tolist() == rows.tolist()  # the seed fixes the sample


def test_explain_shuffles_the_weighted_sample_on_a_large_test_part(monkeypatch):
    import pandas as pd

    from raretune.run import _explain

    monkeypatch.setattr(_explain, "IMPORTANCE_ROWS", 2_000)
    rng = np.random.default_rng(0)
    n = 20_000
    y = (rng.random(n) < 0.01).astype(int)
    frame = pd.DataFrame({"signal": rng.normal(size=n) + 2.0 * y, "noise": rng.normal(size=n)})

    class Part:
        def __init__(self, features, labels):
            self.features, self.y = features, labels

        def with_rows(self, features, labels):
            assert len(features) == len(labels)  # the scorer gets rows and labels of one length
            return Part(features, labels)

    scored = []
    modality = types.SimpleNamespace(predict_raw=lambda model, part: scored.append(len(part.features))
                                     or part.features["signal"].to_numpy())
    decision = types.SimpleNamespace(scores=lambda raw: raw, threshold=2.0)
    plan = types.SimpleNamespace(seed=0, config=types.SimpleNamespace(segment_by=None))
    split = types.SimpleNamespace(test=Part(frame, y))
    out = _explain.explain(plan, modality, None, decision, split, None, frame["signal"].to_numpy())
    assert set(scored) == {2_000}  # 1 + 2 columns x 3 shuffles scorings of the sample, none of every row
    assert out["importance_on"] == "test PR-AUC, weighted sample of 2,000 rows"
    by = {row["feature"]: row for row in out["importance"]}
    full = get_objective("pr_auc").score(y, frame["signal"].to_numpy())
    assert abs(by["signal"]["baseline"] - full) < 0.1 and by["signal"]["importance"] > 0.15
    assert by["noise"]["importance"] == 0.0
    assert max(r["score"] for r in out["worst_errors"]["false_alarms"]) <= frame["signal"].max()


def test_given_weights_carry_into_the_importance_sample():
    from raretune.run._explain import importance_rows

    y = np.array([0] * 90 + [1] * 10)
    given = np.where(y == 1, 1.0, 4.0)  # a streamed sample: each kept majority row stands for 4
    rows, weight = importance_rows(y, 200, seed=0, weight=given)
    assert rows is None and weight is given  # small enough: every row, with its own weight
    rows, weight = importance_rows(y, 50, seed=0, weight=given)
    assert weight.sum() == pytest.approx(given.sum())  # 10 positives + 90 x 4
    assert np.all(weight[y[rows] == 1] == 1.0) and np.allclose(weight[y[rows] == 0], 4.0 * 90 / 40)
