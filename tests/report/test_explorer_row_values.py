"""The explorer and cost curve of a run with a cost and a weight column: money as metrics.json counts it."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from raretune.metrics import score_predictions
from raretune.operating import cost_summary
from raretune.report import write_report
from raretune.report._explorer import compact_scores
from test_report_explorer import _Explorer, page  # noqa: F401 - the same Playwright page


def _with_row_values(run, *, seed=0):
    """Give a fake run a cost and a weight column: scores.npz arrays, costs and validation.cost."""
    with np.load(run / "scores.npz") as npz:
        arrays = dict(npz)
    rng = np.random.default_rng(seed)
    y, score = arrays["validation_y"], arrays["validation_score"]
    amount = np.round(rng.lognormal(4, 1, y.size), 2)
    weight = rng.integers(1, 4, y.size).astype(float)
    np.savez(run / "scores.npz", **arrays, validation_cost=amount, validation_sample_weight=weight,
             test_cost=np.ones(arrays["test_y"].size), test_sample_weight=np.ones(arrays["test_y"].size))
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["costs"] = {"fn": 1.0, "fp": 5.0, "cost_column": "amount", "weight_column": "w"}
    threshold = metrics["threshold"]["value"]
    metrics["validation"]["cost"] = cost_summary(y, score, threshold, 1.0, 5.0, cost=amount, sample_weight=weight,
                                                 n_resamples=0)
    (run / "metrics.json").write_text(json.dumps(metrics))
    return metrics, y, score, amount, weight


def _island(text: str) -> dict:
    return json.loads(re.search(r'id="explorer-data">(.*?)</script>', text).group(1).replace("<\\/", "</"))


def test_the_explorers_money_at_the_deployed_threshold_is_metrics_json_validation_cost(make_run):
    run = make_run(n_test=3000, costs={"fn": 1, "fp": 5})
    metrics, y, score, amount, weight = _with_row_values(run)
    data = _island(write_report(run).read_text(encoding="utf-8"))
    t = metrics["threshold"]["value"]
    scores = np.asarray(data["scores"])
    above = scores >= t
    lost = np.sum(np.asarray(data["miss"])[~above]) + np.sum(np.asarray(data["alarm"])[above])
    assert lost == pytest.approx(metrics["validation"]["cost"]["money_lost"], rel=1e-12)
    expected = score_predictions(y, score, threshold=t, sample_weight=weight)["confusion_matrix"]
    assert np.sum(np.asarray(data["pos_w"])[above]) == pytest.approx(expected[1][1])
    assert np.sum(np.asarray(data["neg_w"])[above]) == pytest.approx(expected[0][1])


def test_a_run_without_the_arrays_shows_no_money_and_says_why(make_run):
    run = make_run(n_test=1500, costs={"fn": 1, "fp": 5})
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["costs"]["cost_column"] = "amount"
    (run / "metrics.json").write_text(json.dumps(metrics))
    text = write_report(run).read_text(encoding="utf-8")
    assert 'id="explorer-cost"' not in text
    assert "lacks its per-row costs or weights" in text
    assert "miss" not in _island(text)


def test_compact_scores_sums_weights_and_money_per_distinct_score():
    data = compact_scores([0, 1, 1, 0, 1], [0.2, 0.9, 0.2, 0.2, 0.9], sample_weight=[1, 2, 3, 4, 0.5],
                          money={"cost": [7, 10, 20, 9, 30], "cost_fp": 2, "sample_weight": [1, 2, 3, 4, 0.5]})
    assert data["neg_w"] == [5.0, 0.0] and data["pos_w"] == [3.0, 2.5]
    assert data["miss"] == [60.0, 35.0] and data["alarm"] == [10.0, 0.0]


def test_the_explorer_in_chromium_counts_weights_and_money(page, make_run):  # noqa: F811
    run = make_run(n_test=3000, costs={"fn": 1, "fp": 5})
    metrics, y, score, amount, weight = _with_row_values(run)
    explorer = _Explorer(page, write_report(run))
    money = metrics["validation"]["cost"]
    assert explorer.value("cost", "explorer-deployed-") == pytest.approx(money["money_lost"], rel=1e-9)
    assert explorer.value("cost-per-row", "explorer-deployed-") == pytest.approx(money["cost_per_row"], rel=1e-9)
    for t in (0.02, 0.3):
        explorer.type_threshold(t)
        at = cost_summary(y, score, t, 1.0, 5.0, cost=amount, sample_weight=weight, n_resamples=0)
        assert explorer.value("cost") == pytest.approx(at["money_lost"], rel=1e-9)
        (tn, fp), (fn, tp) = score_predictions(y, score, threshold=t, sample_weight=weight)["confusion_matrix"]
        assert [explorer.value(k) for k in ("tn", "fp", "fn", "tp")] == pytest.approx([tn, fp, fn, tp])
        assert explorer.value("precision") == pytest.approx(tp / (tp + fp))
        assert explorer.value("alert-rate") == pytest.approx(np.mean(score >= t))  # rows, not weights
    assert explorer.errors == []


def test_the_cost_curve_is_the_money_of_metrics_json():
    from raretune.metrics import cost_sweep
    from raretune.report._decision_plots import threshold_figure

    rng = np.random.default_rng(3)
    y = (rng.random(500) < 0.1).astype(int)
    score = np.round(rng.random(500), 3)
    amount, weight = rng.lognormal(3, 1, 500), rng.integers(1, 4, 500).astype(float)
    draw = threshold_figure.__wrapped__  # the figure itself, not its data URI
    fig = draw(y, score, 0.5, costs={"fn": 1, "fp": 5}, cost=amount, sample_weight=weight)
    _, lost, _ = cost_sweep(y, score, cost_fp=5, cost=amount, sample_weight=weight)
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), lost)
    flat = draw(y, score, 0.5, costs={"fn": 1, "fp": 5})
    assert not np.allclose(flat.axes[1].lines[0].get_ydata(), lost)
