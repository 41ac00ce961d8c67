"""Options that change the decision, through whole (tiny) runs: a fixed test set, calibration,
the cost and recall@precision objectives, alert budgets; and the metrics.json schema."""

import json

import numpy as np
import pytest

import raretune
from raretune.metrics import get_objective
from raretune.record import MetricsRecord
from raretune.thresholds import select_threshold

from tests.conftest import make_frame

pytestmark = pytest.mark.slow

TINY = dict(max_trials=2, max_epochs=1, folds=1, baseline=False, quiet=True, seed=0,
            strategies=["none", "class_weight"])


def test_fixed_test_set_platt_and_the_cost_objective(tmp_path):
    frame = make_frame(n=1800, positive_rate=0.08, seed=31)
    test = make_frame(n=700, positive_rate=0.08, seed=32)
    test.to_csv(tmp_path / "test.csv", index=False)
    result = raretune.run(data=frame, target="label", test_data=str(tmp_path / "test.csv"), out=tmp_path / "r",
                          calibration="platt", objective="cost", cost_fn=50, cost_fp=1, **TINY)
    m = result.metrics
    assert m["data"]["n_test"] == 700 and m["data"]["n_train"] + m["data"]["n_validation"] == 1800
    assert m["calibration"]["method"] == "platt"
    assert m["search"]["objective"]["objective"] == "cost" and m["search"]["objective"]["direction"] == "min"
    assert m["threshold"]["rule"] == "cost"
    # the cost threshold is the brute-force minimum of total cost on the validation scores
    scores = np.load(result.out / "scores.npz")
    y, s = scores["validation_y"], scores["validation_score"]
    costs = {t: 50 * int(((s < t) & (y == 1)).sum()) + int(((s >= t) & (y == 0)).sum()) for t in np.r_[s, 1.01]}
    chosen = m["threshold"]["value"]
    assert 50 * int(((s < chosen) & (y == 1)).sum()) + int(((s >= chosen) & (y == 0)).sum()) == min(costs.values())
    assert m["test"]["cost"]["total_cost"] == pytest.approx(
        50 * m["test"]["confusion_matrix"][1][0] + m["test"]["confusion_matrix"][0][1])
    assert m["test"]["cost"]["saved_vs_flag_nobody"] == pytest.approx(
        m["test"]["cost"]["flag_nobody_total_cost"] - m["test"]["cost"]["total_cost"])
    MetricsRecord.from_dict(json.loads((result.out / "metrics.json").read_text()))


def test_recall_at_precision_and_an_alert_budget(tmp_path):
    frame = make_frame(n=1800, positive_rate=0.08, seed=33)
    result = raretune.run(data=frame, target="label", out=tmp_path / "p", objective="recall@precision=0.5",
                          threshold="alerts=5%", **TINY)
    m = result.metrics
    assert m["search"]["objective"] == {"name": "val_recall_at_precision", "objective": "recall_at_precision",
                                        "direction": "max", "precision": 0.5}
    scores = np.load(result.out / "scores.npz")
    flagged = int((scores["validation_score"] >= m["threshold"]["value"]).sum())
    assert abs(flagged - round(0.05 * scores["validation_y"].size)) <= 1
    chosen = [row for row in m["operating"] if row.get("chosen")]
    assert len(chosen) == 1 and chosen[0]["threshold"] == pytest.approx(m["threshold"]["value"])
    iv = m["test"]["decision_intervals"]
    assert iv["precision"]["low"] <= m["test"]["precision"] <= iv["precision"]["high"]
    # recall@precision scores trials like the metric of that name
    objective = get_objective("recall@precision=0.5")
    assert m["ensemble"]["validation_score"] == pytest.approx(
        objective.score(scores["validation_y"], scores["validation_score_raw"]), abs=1e-9)


def test_an_unreachable_precision_is_a_warning(tmp_path):
    frame = make_frame(n=1500, positive_rate=0.06, seed=34)
    result = raretune.run(data=frame, target="label", out=tmp_path / "w", threshold="precision=0.999", **TINY)
    assert any("not reached on validation" in w for w in result.metrics["warnings"])
    scores = np.load(result.out / "scores.npz")
    assert result.metrics["threshold"]["value"] == pytest.approx(select_threshold(
        scores["validation_y"], scores["validation_score"], rule="precision", target=0.999))
