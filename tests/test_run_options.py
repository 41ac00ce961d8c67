"""End to end through the public API, one run per option: hold-out validation, cross-fitting
without refit, determinism, multiclass, streaming instead of resampling.

(Apart from ``tests/test_run.py``, whose tests share one run, so the two files run on two
test workers side by side.)"""

import json

import numpy as np
import pandas as pd
import pytest

import raretune
from raretune.datasets import load_data, stratified_split
from raretune.models import predict_proba

from tests.conftest import make_frame

pytestmark = pytest.mark.slow

FAST = dict(max_trials=3, max_epochs=2, baseline=False, quiet=True, seed=0)


def test_hold_out_validation_when_asked(tmp_path):
    frame = make_frame(n=1500, positive_rate=0.08, seed=6)
    result = raretune.run(data=frame, target="label", out=tmp_path / "h", strategies=["none", "class_weight"],
                          folds=1, **FAST)
    m = result.metrics
    assert m["search"]["folds"] == 1 and m["data"]["n_validation"] > 0
    assert m["refit"] is None and len(m["ensemble"]["members"]) == 1
    assert m["data"]["n_train"] + m["data"]["n_validation"] + m["data"]["n_test"] == len(frame)


def test_cross_fitting_without_refit_keeps_the_tested_networks(tmp_path):
    frame = make_frame(n=1500, positive_rate=0.08, seed=6)
    result = raretune.run(data=frame, target="label", out=tmp_path / "n", strategies=["none", "random_over"],
                          folds=3, ensemble=3, refit=False, linear=False, trees=False, forests=False,
                          smote_linear=False, knn=False, **FAST)
    m = result.metrics
    assert m["search"]["folds"] == 3 and m["refit"] is None
    assert m["ensemble"]["candidates"] <= 3  # trials only: no regressions, trees or forests were offered
    assert all(x["trial_id"] is not None for x in m["ensemble"]["members"])
    scores = np.load(result.out / "scores.npz")
    loaded = raretune.load_run(result.out)
    assert loaded["threshold"] == m["threshold"]["value"]
    # the saved model is the one whose test scores were recorded
    test = stratified_split(load_data(frame, target="label"), random_state=0).test
    np.testing.assert_array_equal(test.y, scores["test_y"])
    inputs = loaded["schema"].inputs(test.features)
    raw = predict_proba(loaded["model"].get_layer("uncalibrated"), inputs)
    np.testing.assert_allclose(raw, scores["test_score_raw"], rtol=1e-5, atol=1e-7)
    # and model.keras itself returns the calibrated test scores
    np.testing.assert_allclose(predict_proba(loaded["model"], inputs), scores["test_score"], rtol=1e-5, atol=1e-7)


def test_same_seed_same_trials_and_metrics(tmp_path):
    frame = make_frame(n=1500, positive_rate=0.06, seed=4)
    runs = [
        raretune.run(data=frame, target="label", out=tmp_path / name, strategies=["none", "smote"], **FAST,
                     folds=3, refit=False, report=False, forests=False, smote_linear=False,
                     knn=False)  # the search, ensemble and decision are what repeat
        for name in ("a", "b")
    ]
    trials = [json.loads((r.out / "trials.json").read_text()) for r in runs]
    assert [t["hyperparameters"] for t in trials[0]] == [t["hyperparameters"] for t in trials[1]]
    np.testing.assert_allclose([t["score"] for t in trials[0]], [t["score"] for t in trials[1]], rtol=1e-5)
    for key in ["pr_auc", "f1", "threshold"]:
        assert runs[0].test[key] == pytest.approx(runs[1].test[key], rel=1e-5)


def test_multiclass_run(tmp_path):
    rng = np.random.default_rng(0)
    n = 1500
    X = rng.normal(size=(n, 3))
    label = np.where(X[:, 0] > 1.6, "rare", np.where(X[:, 1] > 0, "b", "a"))
    frame = pd.DataFrame(X, columns=["x", "y", "z"]).assign(kind=label)
    result = raretune.run(data=frame, target="kind", out=tmp_path / "mc",  # the networks' multiclass path only
                          strategies=["none", "class_weight", "smote"], **FAST, refit=False, linear=False,
                          trees=False, forests=False, smote_linear=False, knn=False)
    assert result.metrics["task"]["type"] == "multiclass" and result.metrics["threshold"] is None
    assert set(result.test["per_class"]) == {"a", "b", "rare"}
    preds = raretune.predict(result.out, frame.head(50))
    assert list(preds.columns) == ["score_a", "score_b", "score_rare", "prediction"]
    np.testing.assert_allclose(preds[["score_a", "score_b", "score_rare"]].sum(axis=1), 1.0, rtol=1e-5)


def test_large_training_sets_stream_instead_of_resampling(tmp_path, capsys):
    frame = make_frame(n=2000, positive_rate=0.05, seed=9)
    result = raretune.run(data=frame, target="label", out=tmp_path / "s", strategies=["none", "smote", "random_over"],
                          stream_above=1000, **{**FAST, "quiet": False}, refit=False, report=False, linear=False,
                          trees=False, forests=False, smote_linear=False, knn=False)  # the search is what streams
    assert result.metrics["search"]["strategies"] == ["none", "stream"]
    assert "replaced by streaming rebalancing" in capsys.readouterr().err
