import math

import numpy as np
import pandas as pd
import pytest

from raretune import DataError
from raretune.explain import permutation_importance, segment_table, worst_errors


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    n = 3000
    frame = pd.DataFrame({
        "noise": rng.normal(size=n),
        "signal": rng.normal(size=n),
        "weak": rng.normal(size=n),
    })
    logit = -3.5 + 2.0 * frame["signal"] + 0.4 * frame["weak"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    # a numpy logistic "model" fitted by a few Newton steps on half the rows
    x = np.c_[np.ones(n), frame.to_numpy()]
    beta = np.zeros(4)
    fit = slice(0, n // 2)
    for _ in range(25):
        p = 1 / (1 + np.exp(-x[fit] @ beta))
        grad = x[fit].T @ (y[fit] - p)
        hess = (x[fit] * (p * (1 - p))[:, None]).T @ x[fit]
        beta += np.linalg.solve(hess, grad)
    columns = list(frame.columns)

    def predict(rows):
        assert list(rows.columns) == columns  # the model sees the columns it was fitted on
        return 1 / (1 + np.exp(-(np.c_[np.ones(len(rows)), rows.to_numpy()] @ beta)))

    held = slice(n // 2, n)
    return predict, frame.iloc[held].reset_index(drop=True), y[held], beta


def test_permutation_importance_finds_the_signal_and_not_the_noise(table):
    predict, frame, y, beta = table
    assert abs(beta[1]) > 0  # the model does use the noise column a little
    before = frame.copy()
    rows = permutation_importance(predict, frame, y, objective="pr_auc", n_repeats=5, random_state=0)
    pd.testing.assert_frame_equal(frame, before)  # inputs untouched
    assert [r["feature"] for r in rows] == ["signal", "weak", "noise"]
    by = {r["feature"]: r for r in rows}
    assert by["signal"]["importance"] > 0.2 and by["signal"]["low"] > 0.1
    assert abs(by["noise"]["importance"]) < 0.01
    assert by["noise"]["low"] < 0.005 and by["noise"]["high"] > -0.005
    assert by["weak"]["low"] > 0  # a real but weak effect is still told apart from zero
    assert len(by["signal"]["drops"]) == 5
    base = by["signal"]["baseline"]
    assert base == pytest.approx(np.mean([base - d for d in by["signal"]["drops"]]) + by["signal"]["importance"])


def test_permutation_importance_is_seeded_and_follows_the_objective_direction(table):
    predict, frame, y, _ = table
    a = permutation_importance(predict, frame, y, objective="pr_auc", n_repeats=2, random_state=7)
    b = permutation_importance(predict, frame, y, objective="pr_auc", n_repeats=2, random_state=7)
    assert a == b
    # cost is minimised: shuffling the signal raises the cost, which counts as a positive drop
    cost = permutation_importance(predict, frame, y, objective="cost", n_repeats=2, random_state=0)
    assert cost[0]["feature"] == "signal" and cost[0]["importance"] > 0
    one = permutation_importance(predict, frame, y, objective="pr_auc", n_repeats=1, random_state=0)
    assert math.isnan(one[0]["low"]) and math.isnan(one[0]["std"])


def test_permutation_importance_checks_inputs(table):
    predict, frame, y, _ = table
    with pytest.raises(DataError, match="DataFrame"):
        permutation_importance(predict, frame.to_numpy(), y, objective="pr_auc")
    with pytest.raises(DataError, match="labels"):
        permutation_importance(predict, frame, y[:-1], objective="pr_auc")
    with pytest.raises(DataError, match="returned 1 scores"):
        permutation_importance(lambda rows: [0.5], frame, y, objective="pr_auc")


def test_segment_table_by_hand():
    y = [1, 0, 0, 1, 0, 0, 0, 1]
    s = [0.9, 0.8, 0.1, 0.3, 0.6, 0.2, 0.4, 0.7]
    seg = pd.Series(["a", "a", "a", "b", "b", "c", None, "a"], index=range(10, 18))
    rows = segment_table(y, s, 0.5, seg)
    assert [r["segment"] for r in rows] == ["a", "b", "(missing)", "c"]
    a, b, missing, c = rows
    # a: rows 0,1,2,7 -> flagged 0,1,7 (two positives caught, one false alarm)
    assert (a["n"], a["positives"], a["precision"], a["recall"], a["alert_rate"]) == (4, 2, 2 / 3, 1.0, 0.75)
    assert a["pr_auc"] == pytest.approx((1 + 2 / 3) / 2)
    # b: rows 3,4 -> the positive (0.3) missed, the negative (0.6) flagged
    assert (b["precision"], b["recall"], b["alert_rate"], b["pr_auc"]) == (0.0, 0.0, 0.5, 0.5)
    assert not a["too_few_positives"] and not b["too_few_positives"]
    assert c["too_few_positives"] and missing["too_few_positives"]
    assert math.isnan(c["pr_auc"]) and math.isnan(c["recall"]) and math.isnan(c["precision"])
    assert segment_table(y, s, 0.5, seg, min_positives=2)[1]["too_few_positives"]  # b has one
    with pytest.raises(DataError, match="segment values"):
        segment_table(y, s, 0.5, seg[:3])


def test_worst_errors_by_hand():
    y = np.array([0, 1, 0, 1, 0, 0, 1, 0, 1, 0])
    s = np.array([0.95, 0.05, 0.6, 0.3, 0.8, 0.1, 0.9, 0.8, 0.2, 0.4])
    out = worst_errors(y, s, 0.5, k=10)
    assert out == {"false_alarms": [0, 4, 7, 2], "missed": [1, 8, 3]}
    assert worst_errors(y, s, 0.5, k=2) == {"false_alarms": [0, 4], "missed": [1, 8]}
    assert worst_errors(y, s, 0.0) == {"false_alarms": [0, 4, 7, 2, 9, 5], "missed": []}
