"""The network search stops early once the converged candidates dominate it (run/_dominance.py),
or once its best score stops moving (run/_plateau.py)."""

import types

import numpy as np

import raretune
from raretune.metrics import get_objective
from raretune.run._candidates import Candidate
from raretune.run._dominance import DominanceStop, dominance_stop
from raretune.run._plateau import PlateauStop
from raretune.run._search import TrialLog
from tests.conftest import make_frame

REMEDIES = ("none", "class_weight", "smote")


def _first_stop(rule, outcomes):
    """How many ended trials the rule waits for before it stops (``None``: never)."""
    for n in range(1, len(outcomes) + 1):
        if rule.reason(outcomes[:n]) is not None:
            return n
    return None


def _rule(direction="max", reference=0.80):
    return DominanceStop(reference, "boosted trees (default)", REMEDIES, direction=direction, max_epochs=9)


def _full(outcomes):
    """``(remedy, score)`` pairs as trials that trained all 9 epochs."""
    return [(remedy, score, 9) for remedy, score in outcomes]


def test_it_stops_after_three_trials_short_of_the_reference_that_do_not_improve_the_best():
    # the bar is 0.80 - 5 % = 0.76; trial 3 is the best (0.62), trials 4-6 fall short of both
    outcomes = [("none", 0.55), ("class_weight", 0.60), ("smote", 0.62), ("none", 0.58), ("smote", 0.61),
                ("class_weight", 0.50), ("none", 0.59)]
    outcomes = _full(outcomes)
    assert _first_stop(_rule(), outcomes) == 6
    assert "0.76" in _rule().reason(outcomes[:6]) and "0.6200" in _rule().reason(outcomes[:6])


def test_a_trial_that_keeps_improving_the_best_keeps_the_search_going():
    outcomes = [("none", 0.40), ("class_weight", 0.42), ("smote", 0.44), ("none", 0.46), ("smote", 0.48),
                ("class_weight", 0.50), ("none", 0.45), ("none", 0.47), ("none", 0.51)]
    # trials 4-6 each improve; 7 and 8 do not, but the window ending there still holds trial 6
    assert _first_stop(_rule(), _full(outcomes)) is None
    assert _rule().reason(_full(outcomes + [("smote", 0.49), ("none", 0.50)])) is None  # 0.51 is in the window
    assert _rule().reason(_full(outcomes + [("smote", 0.49), ("none", 0.50), ("none", 0.30)])) is not None


def test_never_before_every_remedy_had_a_trial():
    # hopeless scores from the start, but "smote" gets its trial only as the eighth
    outcomes = [("none", 0.30), ("class_weight", 0.20), ("none", 0.21), ("class_weight", 0.22), ("none", 0.23),
                ("none", 0.24), ("class_weight", 0.25), ("smote", 0.26)]
    assert _first_stop(_rule(), _full(outcomes)) == 8
    # a failed trial is its remedy's trial, but not a score: four scores are still needed
    failed = _full([("none", 0.30), ("class_weight", 0.20), ("smote", None), ("none", 0.21)])
    assert _rule().reason(failed) is None
    assert _rule().reason(failed + [("none", 0.22, 9)]) is not None


def test_only_networks_trained_all_their_epochs_are_judged():
    # Hyperband's first bracket: one-epoch networks far below the converged reference
    short = [("none", 0.30, 1), ("class_weight", 0.20, 1), ("smote", 0.25, 1)] + [("none", 0.22, 1)] * 10
    assert _first_stop(_rule(), short) is None
    # they still count as each remedy's trial; four full-length scores are then needed
    full = short + [("none", 0.40, 9), ("smote", 0.35, 9), ("none", 0.38, 3), ("none", 0.36, 9)]
    assert _rule().reason(full) is None
    assert _rule().reason(full + [("class_weight", 0.39, 9)]).startswith("the last 3 trials of all 9 epochs")
    # a full-length network within the margin of the reference keeps the search going
    assert _rule().reason(full + [("class_weight", 0.79, 9)]) is None


def test_a_trial_within_the_margin_of_the_reference_keeps_the_search_going():
    outcomes = _full([("none", 0.78), ("class_weight", 0.60), ("smote", 0.77), ("none", 0.70)])
    assert _rule().reason(outcomes) is None  # 0.77 does not fall more than 5 % short of 0.80


def test_a_cost_to_minimise_stops_when_the_trials_cost_more_than_the_reference_plus_the_margin():
    rule = _rule(direction="min", reference=100.0)  # the bar: 105
    assert rule.reason(_full([("none", 110.0), ("class_weight", 120.0), ("smote", 130.0), ("none", 125.0)])) is not None
    assert rule.reason(_full([("none", 110.0), ("class_weight", 120.0), ("smote", 104.0), ("none", 125.0)])) is None


def test_the_reference_is_the_best_converged_candidate_scored_on_the_search_rows():
    y = np.array([0, 0, 0, 0, 1, 0, 1, 1])
    good, poor = np.array([.1, .2, .1, .3, .9, .2, .8, .7]), np.array([.9, .2, .1, .3, .2, .2, .8, .1])
    converged = [Candidate({"trial_id": None, "model": "logistic_regression", "C": 1.0, "strategy": "class_weight"},
                           None, poor, 0.5),
                 Candidate({"trial_id": None, "model": "random_forest", "strategy": "class_weight"}, None, good, 0.5)]
    plan = types.SimpleNamespace(objective=get_objective("pr_auc"), strategies=REMEDIES, max_epochs=27)
    rule = dominance_stop(plan, converged, y)
    assert rule.reference == 1.0 and rule.label == "random forest" and rule.max_epochs == 27
    assert dominance_stop(plan, [], y) is None


def test_the_trial_log_ends_the_search_the_way_the_time_limit_does(tmp_path):
    """Keras Tuner creates no trial past ``max_trials``: the log lowers it to the trials so far."""
    def trial(strategy, score):
        return types.SimpleNamespace(status="COMPLETED", score=score, best_step=0, message=None,
                                     hyperparameters=types.SimpleNamespace(values={"strategy": strategy}))

    said = []
    log = TrialLog(tmp_path / "trials.json", types.SimpleNamespace(say=said.append), stop_rules=[_rule()],
                   max_epochs=9)  # trials without Hyperband's ``tuner/epochs`` trained all of them
    log.oracle = types.SimpleNamespace(max_trials=40, trials={})
    for i, (strategy, score) in enumerate([("none", 0.6), ("class_weight", 0.5), ("smote", 0.55), ("none", 0.52)]):
        log.oracle.trials[f"{i:02d}"] = trial(strategy, score)
        log.on_trial_end({"trial_id": f"{i:02d}", "tuner_id": "tuner0", "seconds": 1.0, "score": score,
                          "best": 0.6, "done": i + 1, "max_trials": 40, "status": "COMPLETED", "message": [],
                          "strategy": strategy})
        assert log.oracle.max_trials == (4 if i == 3 else 40)
    assert log.stopped["after_trials"] == 4 and log.stopped["cause"] == "converged_candidates"
    assert any(line.startswith("search: stops after 4 trials: the last 3 trials of all 9 epochs") for line in said)


def test_a_cross_fitted_run_fits_the_converged_candidates_first_and_records_the_early_stop(tmp_path, monkeypatch):
    seen = {}

    def stop_after_two(self, outcomes):  # the wiring, not the rule: stop once two trials ended
        seen["reference"] = (self.label, self.reference)
        return "stopped by the test" if len(outcomes) >= 2 else None

    monkeypatch.setattr(DominanceStop, "reason", stop_after_two)
    result = raretune.run(data=make_frame(n=400, positive_rate=0.1, seed=3), target="label", out=tmp_path / "r",
                          strategies=["none", "class_weight"], folds=3, max_trials=5, max_epochs=1, trees=False,
                          forests=False, smote_linear=False, refit=False, report=False, baseline=False, quiet=True,
                          seed=0)
    search = result.metrics["search"]
    assert search["n_trials"] == 2
    assert search["stopped_early"] == {"after_trials": 2, "cause": "converged_candidates",
                                       "reason": "stopped by the test"}
    assert seen["reference"][0].startswith("logistic regression")  # fitted before the search's first trial


# -- the plateau: no converged reference (hold-out validation), or networks that beat it ------------


def _plateau(**kw):
    return PlateauStop(REMEDIES, **{"max_epochs": 9, "direction": "max", **kw})


def test_the_plateau_waits_for_every_remedy_and_a_full_length_trial():
    flat = [("none", 0.70, 1), ("class_weight", 0.60, 1), ("smote", 0.65, 1)] + [("none", 0.69, 3)] * 5
    assert _plateau().reason(flat) is None  # no trial trained 9 epochs: the ranking is of short runs
    assert _plateau().reason(flat + [("smote", 0.68, 9)]) is not None
    assert _plateau().reason([(s, sc, 9) for s, sc, _ in flat if s != "smote"] * 2) is None  # smote untried


def test_the_plateau_needs_patience_trials_without_a_real_improvement():
    start = [("none", 0.70, 9), ("class_weight", 0.60, 9), ("smote", 0.65, 9)]
    tiny = start + [("none", 0.7030, 3)] + [("none", 0.60, 1)] * 4  # +0.43 %: under the 0.5 % that counts
    real = start + [("none", 0.7040, 3)] + [("none", 0.60, 1)] * 4  # +0.57 %
    assert _plateau().reason(tiny).startswith("the last 5 trials did not raise the best score (0.7000)")
    assert _plateau().reason(real) is None
    assert _plateau().reason(real + [("none", 0.60, 1)]) is not None  # five more trials after it
    assert _plateau().reason(start + [("none", None, 9)] * 5) is None  # failed trials are no scores


def test_a_cost_plateau_is_a_cost_that_stops_falling():
    rule = _plateau(direction="min")
    start = [("none", 100.0, 9), ("class_weight", 120.0, 9), ("smote", 110.0, 9)]
    assert rule.reason(start + [("none", 99.6, 9)] * 5) is not None  # 0.4 % lower: no real improvement
    assert rule.reason(start + [("none", 99.0, 9)] + [("none", 105.0, 9)] * 4) is None


def test_the_trial_log_stops_on_the_plateau_once_a_hyperband_trial_trained_every_epoch(tmp_path):
    """The log reads each trial's epochs from Keras Tuner's ``tuner/epochs``, and records the cause."""
    said = []
    log = TrialLog(tmp_path / "trials.json", types.SimpleNamespace(say=said.append), stop_rules=[_plateau()],
                   max_epochs=9)
    log.oracle = types.SimpleNamespace(max_trials=20, trials={})
    ended = [("none", 0.70, 1), ("class_weight", 0.60, 1), ("smote", 0.65, 1)] + [("none", 0.69, 1)] * 5 \
        + [("none", 0.69, 3), ("none", 0.68, 9)]
    for i, (strategy, score, epochs) in enumerate(ended):
        log.oracle.trials[f"{i:02d}"] = types.SimpleNamespace(
            status="COMPLETED", score=score, best_step=0, message=None,
            hyperparameters=types.SimpleNamespace(values={"strategy": strategy, "tuner/epochs": epochs,
                                                          "tuner/initial_epoch": 0}))
        log.on_trial_end({"trial_id": f"{i:02d}", "tuner_id": "tuner0", "seconds": 1.0, "score": score,
                          "best": 0.7, "done": i + 1, "max_trials": 20, "status": "COMPLETED", "message": [],
                          "strategy": strategy})
        assert log.oracle.max_trials == (10 if i == 9 else 20)  # only once the 9-epoch trial has ended
    assert log.stopped["after_trials"] == 10 and log.stopped["cause"] == "plateau"
    assert any(line.startswith("search: stops after 10 trials: the last 5 trials did not raise") for line in said)


def test_the_run_has_the_plateau_always_and_the_dominance_rule_with_converged_candidates():
    from raretune.run import _stop_rules

    y = np.array([0, 0, 1, 1])
    plan = types.SimpleNamespace(objective=get_objective("pr_auc"), strategies=REMEDIES, max_epochs=9)
    candidate = Candidate({"trial_id": None, "model": "random_forest", "strategy": "class_weight"}, None,
                          np.array([.1, .2, .8, .9]), 0.5)
    assert [type(r) for r in _stop_rules(plan, [], y)] == [PlateauStop]
    assert [type(r) for r in _stop_rules(plan, [candidate], y)] == [DominanceStop, PlateauStop]
