"""End to end through the public API: outputs, save/load/predict round trip, determinism."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import raretune
from raretune import RunStateError
from raretune.thresholds import ProbabilityCalibrator
from raretune.tuning import FOREST_CONFIGS, KNN_NEIGHBORS, LINEAR_C, TREE_CONFIGS
from raretune.models import predict_proba

from tests.conftest import make_frame

pytestmark = pytest.mark.slow

FAST = dict(max_trials=3, max_epochs=2, baseline=False, quiet=True, seed=0)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    frame = make_frame(n=2500, positive_rate=0.05, seed=1)
    frame.to_csv(root / "data.csv", index=False)
    result = raretune.run(data=str(root / "data.csv"), target="label", out=root / "out",
                          strategies=["none", "class_weight", "random_over", "smote"],
                          **{**FAST, "baseline": True, "max_trials": 4})
    return root, frame, result


def test_outputs_follow_the_documented_format(finished):
    root, frame, result = finished
    out = result.out
    for name in ["metrics.json", "model.keras", "scores.npz", "history.json", "trials.json", "config.json", "report.html"]:
        assert (out / name).exists(), name
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ["pr_auc", "roc_auc", "f1", "precision", "recall", "mcc", "balanced_accuracy", "g_mean",
                "threshold", "confusion_matrix"]:
        assert key in metrics["test"], key
    assert metrics["best"]["strategy"] in ("none", "class_weight", "random_over", "smote")
    assert metrics["data"]["positive_rate"] == pytest.approx((frame["label"] == "fraud").mean())
    assert metrics["data"]["n_train"] + metrics["data"]["n_validation"] + metrics["data"]["n_test"] == len(frame)
    assert metrics["search"]["objective"] == {"name": "val_pr_auc", "objective": "pr_auc", "direction": "max"}
    assert [row["name"] for row in metrics["leaderboard"]][-1] == "hist_gradient_boosting"
    chosen = metrics["leaderboard"][0]  # the saved model itself has a row, scored like the others
    assert chosen["kind"] == "chosen" and chosen["validation_score"] == pytest.approx(metrics["ensemble"]["validation_score"])
    # the test metrics are those of the saved scores at the saved threshold
    scores = np.load(out / "scores.npz")
    pred = scores["test_score"] >= metrics["threshold"]["value"]
    assert int((pred & (scores["test_y"] == 1)).sum()) == metrics["test"]["confusion_matrix"][1][1]
    # the model learnt something: far above the positive rate
    assert metrics["test"]["pr_auc"] > 3 * metrics["data"]["positive_rate"]
    # the process's peak resident memory after each phase, and in all (TensorFlow alone takes 100s of MB)
    after = metrics["memory"]["peak_mb_after"]
    assert {"load", "search", "ensemble", "decide", "test"} <= set(after)
    assert metrics["memory"]["peak_mb"] >= max(after.values()) >= min(after.values()) > 100


def test_model_loads_with_plain_keras_in_a_fresh_process(finished):
    root, frame, result = finished
    code = (
        "import keras, numpy as np, sys\n"
        f"m = keras.models.load_model({str(result.out / 'model.keras')!r})\n"
        "assert 'raretune' not in sys.modules\n"
        "x = {'a': np.array([[0.5]]), 'b': np.array([[1.0]]), 'c': np.array([[0.0]]), 'd': np.array([[0.0]]),"
        " 'channel': np.array([['web']], dtype=object)}\n"
        "import tensorflow as tf\n"
        "p = m.predict(tf.data.Dataset.from_tensor_slices(x).batch(1), verbose=0)\n"
        "print(float(p[0, 0]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    # the file is the scorer: plain Keras gives raretune.predict's calibrated score
    row = pd.DataFrame({"a": [0.5], "b": [1.0], "c": [0.0], "d": [0.0], "channel": ["web"]})
    expected = raretune.predict(result.out, row)["score"].iloc[0]
    assert float(done.stdout.strip().splitlines()[-1]) == pytest.approx(expected, abs=1e-6)


def test_predict_round_trip(finished):
    root, frame, result = finished
    preds = raretune.predict(result.out, frame.drop(columns=["label"]).head(500))
    assert list(preds.columns) == ["score", "prediction"] and len(preds) == 500
    deployed = result.metrics["refit"] or result.metrics  # a refitted model has its own threshold
    threshold = deployed["threshold"]["value"]
    np.testing.assert_array_equal(preds["prediction"], np.where(preds["score"] >= threshold, "fraud", "ok"))
    again = raretune.predict(result.out, frame.head(500))  # a label column is ignored
    # each predict loads the model anew, and two loads of the same float32 model can differ in the
    # last bits (about 1e-6 here, with or without the label column); a label read as a feature would not
    np.testing.assert_allclose(again["score"], preds["score"], rtol=1e-5)
    # scores rank the rows: fraud rows score higher on average
    fraud = frame.head(500)["label"].to_numpy() == "fraud"
    assert preds["score"][fraud].mean() > preds["score"][~fraud].mean()


def test_existing_run_is_refused_and_left_intact(finished):
    root, frame, result = finished
    before = (result.out / "metrics.json").read_bytes()
    with pytest.raises(RunStateError, match="already holds a run"):
        raretune.run(data=str(root / "data.csv"), target="label", out=result.out, **FAST)
    assert (result.out / "metrics.json").read_bytes() == before


def test_small_tables_are_cross_fitted_ensembled_and_refitted(finished):
    root, frame, result = finished
    m = result.metrics
    # 2,500 rows: below 20,000, so the defaults cross-fit 5 folds over train + validation
    assert m["search"]["folds"] == 5 and m["data"]["folds"] == 5
    assert m["data"]["n_validation"] == 0 and "validation" not in m["data"]["split_class_counts"]
    assert any("cross-fitting" in note for note in m["data"]["notes"])
    members = m["ensemble"]["members"]
    assert members and all(member["weight"] >= 1 for member in members)
    # ten trials by default, but only four ran; plus the converged models (regressions, boosted
    # trees, forests, SMOTE + logistic regression, k-nearest neighbours: 2,125 search rows)
    n_converged = len(LINEAR_C) + len(TREE_CONFIGS) + len(FOREST_CONFIGS) + 1 + 1
    assert m["ensemble"]["candidates"] == 4 + n_converged
    # the table is logistic and the networks had two epochs: the converged regressions are chosen
    linear = [x for x in members if x.get("model") == "logistic_regression"]
    assert linear and all(x["C"] in LINEAR_C and x["trial_id"] is None for x in linear)
    # each converged candidate has a leaderboard row, scored out of fold like the trials
    rows = [r for r in m["leaderboard"] if r["kind"] == "converged"]
    assert len(rows) == n_converged
    assert {r["name"] for r in rows} >= {"logistic regression (C=1)", "boosted trees (default)", "random forest",
                                         "extra trees", "SMOTE + logistic regression (C=1)",
                                         f"k-nearest neighbours (k={KNN_NEIGHBORS})"}
    assert all(0.0 <= r["validation_pr_auc"] <= 1.0 and 0.0 <= r["test_pr_auc"] <= 1.0 for r in rows)
    # the validation scores are out of fold, over every search row
    scores = np.load(result.out / "scores.npz")
    assert scores["validation_y"].size == m["data"]["n_train"]
    refit = m["refit"]
    assert refit["n_rows"] == m["data"]["n_train"] + m["data"]["n_test"]
    assert [x["trial_id"] for x in refit["members"]] == [x["trial_id"] for x in members]
    assert all(x["epochs"] >= 1 for x in refit["members"] if x["trial_id"] is not None)
    assert [x for x in refit["members"] if x["trial_id"] is None] == [
        {**x, "epochs": None} for x in members if x["trial_id"] is None]
    # raretune.predict uses the refitted networks with their own calibration (inside model.keras) and threshold
    loaded = raretune.load_run(result.out)
    assert loaded["threshold"] == refit["threshold"]["value"]
    preds = raretune.predict(result.out, frame.head(300))
    inputs = loaded["schema"].inputs(frame.head(300)[list(loaded["schema"].columns)])
    np.testing.assert_allclose(preds["score"], predict_proba(loaded["model"], inputs), atol=1e-7)
    raw = predict_proba(loaded["model"].get_layer("uncalibrated"), inputs)
    calibrated = ProbabilityCalibrator.from_dict(refit["calibration"]).transform(raw)
    np.testing.assert_allclose(preds["score"], calibrated, rtol=1e-5)
    np.testing.assert_array_equal(preds["prediction"], np.where(calibrated >= refit["threshold"]["value"], "fraud", "ok"))


def test_tensorboard_logs_of_every_trial(finished):
    root, frame, result = finished
    trials = json.loads((result.out / "trials.json").read_text())
    for trial in trials:
        events = list((result.out / "tensorboard" / str(int(trial["trial_id"]))).rglob("events.out.tfevents.*"))
        events += list((result.out / "tensorboard" / trial["trial_id"]).rglob("events.out.tfevents.*"))
        assert events, trial["trial_id"]


def test_refit_epochs_count_from_scratch_through_hyperband_continuations():
    import keras_tuner as kt

    from raretune.run._refit import best_epochs as _best_epochs

    hp = kt.HyperParameters()
    hp.Fixed("tuner/initial_epoch", 9)
    hp.Fixed("tuner/epochs", 27)
    trial = kt.engine.trial.Trial(hp)
    trial.best_step = 8  # Keras Tuner's position within this trial's own fit: epoch 17
    assert _best_epochs(trial) == 18
    fresh = kt.engine.trial.Trial(kt.HyperParameters())
    fresh.best_step = 4
    assert _best_epochs(fresh) == 5


def test_ensemble_candidates_are_distinct_configurations():
    import keras_tuner as kt

    from raretune.run._search import distinct_configurations as _distinct_configurations

    def trial(units, epochs, trial_id):
        hp = kt.HyperParameters()
        hp.Fixed("units", units)
        hp.Fixed("tuner/epochs", epochs)
        return kt.engine.trial.Trial(hp, trial_id=trial_id)

    ranked = [trial(64, 27, "a"), trial(64, 9, "b"), trial(32, 3, "c"), trial(64, 3, "d"), trial(32, 9, "e")]
    assert [t.trial_id for t in _distinct_configurations(ranked)] == ["a", "c"]


def test_ensemble_averages_stay_probabilities():
    from sklearn.metrics import brier_score_loss

    from raretune.run._ensemble import weighted_average as _weighted_average

    ones = np.ones(1000)
    weights = np.array([6, 23, 1]) / 30
    assert sum(w * 1.0 for w in weights) > 1.0  # the float sum of these shares is 1.0000000000000002
    averaged = _weighted_average([ones, ones, ones], [6, 23, 1])
    assert averaged.max() <= 1.0
    brier_score_loss(np.ones(1000, dtype=int), averaged)  # sklearn refuses values above 1
    np.testing.assert_allclose(_weighted_average([np.zeros(3), ones[:3]], [3, 1]), 0.25)
