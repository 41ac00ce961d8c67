"""Every warning of a run fires on data made to trigger it, and stays silent on the default data.

The default data (``tfds:synthetic_fraud``, 200,000 rows) is made and split as ``raretune
run`` does, once; a logistic regression stands in for the search's model, so that the
pieces that compute the warnings see the default run's rows without a search.
"""

import types

import numpy as np
import pandas as pd
import pytest

import raretune.models
from raretune import RunConfig
from raretune.datasets import load_data
from raretune.metrics import get_objective
from raretune.operating import reliability_warnings
from raretune.report._html_explain import warnings_block
from raretune.run._candidates import Candidate
from raretune.run._decide import decide
from raretune.run._ensemble import Chosen, choose_ensemble
from raretune.run._modality import modality_of
from raretune.run._plan import make_plan, split_data
from raretune.run._progress import Progress
from raretune.run._source import load_source
from raretune.run._warnings import identifier_warnings, shortfall_warning, untried_remedies_warning

from tests.conftest import make_frame


@pytest.fixture(scope="module")
def default_run():
    """The default run's data, split and plan, and validation scores of a quick model."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from raretune.datasets.builders.synthetic_fraud import synthetic_fraud_dataset_builder as sf

    # the rows TFDS stores for the default config, made by the same generator (reading them
    # through tf.data takes half a minute)
    chunks = list(sf.generate_chunks(200_000, seed=0))
    frame = pd.DataFrame({name: np.concatenate([c[name] for c in chunks]) for name in chunks[0]})
    config = RunConfig(data=frame, target=sf.LABEL, quiet=True).validated()
    data = load_source(config, Progress(quiet=True)).data
    assert data.class_counts.tolist() == [199_403, 597]  # the default data's counts
    split = split_data(config, data)
    plan = make_plan(config, modality_of(data), split)
    numeric = list(split.train.numeric)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200))
    model.fit(split.train.features[numeric].to_numpy(), split.train.y)
    raw = model.predict_proba(split.validation.features[numeric].to_numpy())[:, 1]
    return types.SimpleNamespace(data=data, split=split, plan=plan, raw=raw)


def _trial(strategy):
    return types.SimpleNamespace(hyperparameters=types.SimpleNamespace(values={"strategy": strategy}))


# -- a threshold target not reached on validation


def _made_plan(threshold):
    frame = make_frame(n=600, seed=4)
    config = RunConfig(data=frame, target="label", threshold=threshold, folds=1).validated()
    data = load_data(frame, target="label")
    split = split_data(config, data)
    return make_plan(config, modality_of(data), split), split


def test_unreachable_precision_is_a_warning():
    plan, split = _made_plan("precision=0.99")
    y = split.validation.y
    raw = np.random.default_rng(0).random(y.size)  # noise: no threshold reaches precision 0.99
    decision = decide(plan, y, raw, None)
    outcome = decision.outcome(plan, y, raw)
    assert outcome["reached"] is False
    assert outcome["fallback"].startswith("precision=0.99 not reached on validation: ")
    assert outcome["achieved"] < 0.99


def test_the_default_rule_is_reached_on_the_default_data(default_run):
    run = default_run
    y = run.split.validation.y
    decision = decide(run.plan, y, run.raw, None)
    outcome = decision.outcome(run.plan, y, run.raw)
    assert run.plan.threshold == ("f1", None)
    assert outcome["reached"] is True and outcome["fallback"] is None
    assert 0 < outcome["achieved"] <= 1  # an F1 was measured, the rule did not fall back


# -- fewer than 30 positives in validation or test


def test_few_positives_are_a_warning_with_the_count():
    y = np.r_[np.ones(12, int), np.zeros(3000, int)]
    enough = np.r_[np.ones(30, int), np.zeros(3000, int)]
    assert reliability_warnings(y, enough) == ["only 12 positives in validation: figures unreliable"]
    assert reliability_warnings(enough, np.r_[1, np.zeros(99, int)]) == ["only 1 positive in test: figures unreliable"]
    assert reliability_warnings(enough, enough) == []


def test_the_default_data_has_enough_positives(default_run):
    validation, test = default_run.split.validation.y, default_run.split.test.y
    assert min(validation.sum(), test.sum()) >= 30  # 200,000 rows at 0.3 %: about 90 each
    assert reliability_warnings(validation, test) == []


# -- an id-like column


def test_identifiers_are_dropped_with_a_warning():
    frame = make_frame(n=200, seed=1)
    frame["txn_id"] = np.arange(1000, 1200)  # a sequence number
    frame["reference"] = [f"R{i:05d}" for i in np.random.default_rng(0).permutation(200)]  # unique per row
    data = load_data(frame, target="label")
    warnings = identifier_warnings(data)
    assert [w.split(" dropped")[0] for w in warnings] == ["column 'txn_id'", "column 'reference'"]
    assert warnings[0].endswith("keep it with --keep txn_id")
    assert identifier_warnings(load_data(frame, target="label", keep=("txn_id", "reference"))) == []
    # rising amounts are not whole numbers: a feature, not an identifier
    frame = make_frame(n=200, seed=1).assign(amount=np.linspace(1, 50, 200))
    assert identifier_warnings(load_data(frame, target="label")) == []


def test_the_default_data_has_no_identifier(default_run):
    assert identifier_warnings(default_run.data) == []
    assert set(default_run.split.train.columns) == set(default_run.data.columns)


# -- a chosen model below its best single candidate


def _candidates(y, seed=0):
    rng = np.random.default_rng(seed)
    good = np.clip(0.6 * y + 0.5 * rng.random(y.size), 0, 1)
    return [Candidate({"trial_id": str(i), "strategy": "none"}, f"net{i}",
                      np.clip(good + noise * rng.random(y.size), 0, 1), 0.5)
            for i, noise in enumerate([0.0, 0.8, 2.0])]


def _choose(plan, candidates, y):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(raretune.models, "average_models", lambda networks, weights: ("avg", tuple(networks)))
        return choose_ensemble(plan, candidates, y)


@pytest.mark.parametrize("objective", ["pr_auc", "cost"])
def test_a_chosen_model_below_its_best_candidate_is_a_warning(objective):
    y = (np.random.default_rng(1).random(300) < 0.1).astype(int)
    plan = types.SimpleNamespace(objective=get_objective(objective), seed=0,
                                 config=types.SimpleNamespace(calibration="auto"))
    candidates = _candidates(y)
    worst = candidates[-1]
    below = Chosen(worst.network, worst.raw, [{**worst.member, "weight": 1}], 0.5, len(candidates))
    warning = shortfall_warning(plan, below, candidates, y)
    assert warning.startswith(f"the chosen model scores val_{objective} = ")
    assert "below its best single candidate trial 0 (none)" in warning
    # the ensemble stage never ends there: no warning on what it chooses
    assert shortfall_warning(plan, _choose(plan, candidates, y), candidates, y) is None
    # and the warning reaches the top of the report
    assert warning in warnings_block({"warnings": [warning]}).replace("&#x27;", "'")


def test_no_shortfall_on_the_default_data(default_run):
    run = default_run
    # every validation positive and as many negatives: greedy selection scores PR-AUC often
    rows = np.r_[np.flatnonzero(run.split.validation.y == 1), np.flatnonzero(run.split.validation.y == 0)[:3000]]
    y, raw = run.split.validation.y[rows], run.raw[rows]
    rng = np.random.default_rng(0)
    candidates = [Candidate({"trial_id": str(i), "strategy": "none"}, f"net{i}",
                            np.clip(raw + noise * rng.random(y.size) * raw.std(), 0, 1), 0.5)
                  for i, noise in enumerate([0.0, 1.0, 3.0])]
    plan = types.SimpleNamespace(objective=run.plan.objective, seed=0, config=run.plan.config)
    chosen = _choose(plan, candidates, y)
    assert shortfall_warning(plan, chosen, candidates, y) is None


# -- remedies without a trial


def test_untried_remedies_are_a_warning():
    trials = [_trial("none"), _trial("smote"), _trial("none")]
    assert untried_remedies_warning(["none", "smote", "focal", "class_weight"], trials) == (
        "remedies without a trial (the search stopped early): class_weight, focal")
    assert untried_remedies_warning(["none", "smote"], trials) is None


def test_the_default_plan_gives_every_remedy_a_trial(default_run):
    plan = default_run.plan
    assert plan.max_trials >= len(plan.strategies) >= 2
    # Keras Tuner draws each value of "strategy" before repeating one: max_trials covers them all
    assert untried_remedies_warning(plan.strategies, [_trial(s) for s in plan.strategies]) is None
