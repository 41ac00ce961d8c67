"""The search's time left counts the epochs still to train (run/_eta.py, TrialLog's line)."""

import types

import keras_tuner as kt
import numpy as np
import pytest

from raretune._errors import ConfigError
from raretune.metrics import get_objective
from raretune.run._eta import describe_left, hyperband_schedule, planned_epochs, seconds_left
from raretune.run._search import TrialLog
from raretune.tuning import make_tuner
from raretune.tuning._tuner import trial_event


class _NoModel(kt.HyperModel):
    """A two-value space; the oracle is driven by hand, so no model is needed."""

    def build(self, hp):
        hp.Choice("strategy", ["none", "class_weight"])
        hp.Float("x", 0.0, 1.0)


def _oracle(tmp_path, kind="hyperband", *, max_epochs, max_trials):
    """raretune's own oracle, as make_tuner configures it."""
    tuner = make_tuner(kind, _NoModel(), get_objective("pr_auc"), max_trials=max_trials, max_epochs=max_epochs,
                       directory=tmp_path, seed=0)
    return tuner.oracle


def _run_one(oracle, rng):
    """Create, score and end one trial through the oracle's public API (no training)."""
    trial = oracle.create_trial("tuner0")
    if trial.status != "RUNNING":
        return None
    oracle.update_trial(trial.trial_id, {oracle.objective.name: float(rng.random())})
    trial.status = "COMPLETED"
    oracle.end_trial(trial)
    return trial


@pytest.mark.parametrize("max_epochs, max_trials", [(9, 20), (27, 40), (9, 30), (1, 4), (2, 7), (10, 25), (4, 12)])
def test_the_schedule_is_the_one_keras_tuner_creates(tmp_path, max_epochs, max_trials):
    oracle = _oracle(tmp_path, max_epochs=max_epochs, max_trials=max_trials)
    rng = np.random.default_rng(max_epochs)
    created = []
    while (trial := _run_one(oracle, rng)) is not None:
        values = trial.hyperparameters.values
        created.append((values["tuner/initial_epoch"], values["tuner/epochs"]))
    assert len(created) == max_trials
    assert hyperband_schedule(max_epochs, 3, max_trials, hyperband_iterations=1000) == created
    assert planned_epochs(oracle, max_epochs=max_epochs, max_trials=max_trials) == [e - s for s, e in created]


def test_the_default_large_table_search_trains_48_epochs_not_20():
    # 9 trials of 1 epoch; the best 3 go on to 3 epochs, the best to 9; then 5 trials of 3 epochs, 2 go on to 9
    epochs = [e - s for s, e in hyperband_schedule(9, 3, 20)]
    assert epochs == [1] * 9 + [2] * 3 + [6] + [3] * 5 + [6] * 2
    # a single sweep ends after bracket 0's full trials: 3 of 9 epochs, or 4 of 27 epochs
    assert len(hyperband_schedule(9, 3, 100, hyperband_iterations=1)) == 23
    assert hyperband_schedule(27, 3, 200, hyperband_iterations=1)[-5:] == [(9, 27)] + [(0, 27)] * 4
    with pytest.raises(ConfigError, match="factor"):
        hyperband_schedule(9, 1, 20)


def test_other_tuners_train_max_epochs_every_trial(tmp_path):
    oracle = _oracle(tmp_path, "random", max_epochs=4, max_trials=5)
    assert planned_epochs(oracle, max_epochs=4, max_trials=5) == [4] * 5


def test_a_trial_costs_a_fixed_part_plus_a_part_per_epoch():
    # 4 s per trial + 12 s per epoch; the first trial also traced the graph (30 s)
    ones = [(30.0, 1)] + [(16.0, 1)] * 8
    # one epoch count: a and b cannot be told apart, so 16 s an epoch (too high, never too low)
    assert seconds_left(ones, [2, 2, 6]) == pytest.approx(16.0 * 10)
    # two epoch counts: the line through their medians, 4 + 12 * epochs, unmoved by the 30 s trial
    assert seconds_left(ones + [(28.0, 2)] * 3, [6, 3]) == pytest.approx(2 * 4 + 9 * 12)
    # a fit with a negative cost per trial falls back to seconds per epoch
    assert seconds_left([(10.0, 1), (30.0, 2)], [4]) == pytest.approx(4 * 12.5)
    assert seconds_left([], [3]) is None and seconds_left([(5.0, 1)], []) is None


@pytest.mark.parametrize("seconds, said", [(44.6, "about 45s left"), (119.0, "about 119s left"),
                                           (480.0, "about 8 min left"), (629.0, "about 10 min left")])
def test_seconds_under_two_minutes_minutes_above(seconds, said):
    assert describe_left(seconds) == said


def test_the_trial_line_prices_the_epochs_hyperband_still_has_to_train(tmp_path):
    """The measured failure: 9 of 20 one-epoch trials done, 39 epochs to go, not 11 trials."""
    oracle = _oracle(tmp_path, max_epochs=9, max_trials=20)
    said = []
    log = TrialLog(tmp_path / "trials.json", types.SimpleNamespace(say=said.append), max_epochs=9)
    log.oracle = oracle
    rng = np.random.default_rng(0)
    for _ in range(12):
        trial = _run_one(oracle, rng)
        values = trial.hyperparameters.values
        # 4 s a trial and 12 s an epoch
        log.on_trial_end(trial_event(oracle, trial.trial_id, seconds=4.0 + 12.0 * (values["tuner/epochs"]
                                                                                 - values["tuner/initial_epoch"])))
    # after 9 trials: one epoch count only, 16 s an epoch, 39 epochs (the old line: 11 x 16 s = 176 s)
    assert said[8].endswith("about 10 min left")
    # after 12: 4 + 12 * epochs fitted; 8 trials of 33 epochs to come: 8 * 4 + 33 * 12 = 428 s
    assert said[11].endswith("about 7 min left")
    assert log.seconds_left(12, 20) == pytest.approx(428.0)
    assert log.seconds_left(20, 20) is None


def test_without_max_epochs_every_trial_counts_the_same(tmp_path):
    said = []
    log = TrialLog(tmp_path / "trials.json", types.SimpleNamespace(say=said.append))
    for i, seconds in enumerate([10.0, 30.0, 20.0]):
        log.on_trial_end({"trial_id": f"{i:02d}", "tuner_id": "tuner0", "seconds": seconds, "score": 0.5,
                          "best": 0.5, "done": i + 1, "max_trials": 8, "status": "COMPLETED", "message": [],
                          "strategy": "none"})
    assert said[-1].endswith("about 100s left")  # the median trial (20 s) times the 5 trials left
