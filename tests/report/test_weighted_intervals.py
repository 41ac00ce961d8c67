"""Intervals with sample weights: the bootstrap computes weighted metrics, Wilson uses the Kish size."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score

from raretune import DataError
from raretune.operating import decision_intervals, wilson_interval
from raretune.report import bootstrap_intervals
from raretune.report._intervals import _draw_counts


def _rows(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    y[:2] = [0, 1]
    score = np.round(np.clip(0.35 * y + rng.random(n) * 0.65, 0, 1), 2)  # rounded: ties too
    weight = rng.integers(0, 5, size=n).astype(float)
    return y, score, weight


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_weighted_resample_is_scikit_learns_weighted_metrics_on_the_drawn_rows(seed):
    y, score, weight = _rows(seed=seed)
    iv = bootstrap_intervals(y, score, 0.5, n_resamples=1, random_state=seed, sample_weight=weight)
    # redraw the same resample: positives then negatives, each in descending-score order
    rng = np.random.default_rng(seed)
    order = np.argsort(-score, kind="stable")
    positives, negatives = order[y[order] == 1], order[y[order] == 0]
    drawn = np.zeros(y.size)
    drawn[positives] = _draw_counts(rng, 1, positives.size)[0]
    drawn[negatives] = _draw_counts(rng, 1, negatives.size)[0]
    counted = drawn * weight
    assert iv["pr_auc"][0] == pytest.approx(average_precision_score(y, score, sample_weight=counted), abs=1e-12)
    assert iv["f1"][0] == pytest.approx(f1_score(y, score >= 0.5, sample_weight=counted), abs=1e-12)


def test_unit_weights_give_the_unweighted_intervals():
    y, score, _ = _rows()
    weighted = bootstrap_intervals(y, score, 0.5, n_resamples=200, sample_weight=np.ones(y.size))
    plain = bootstrap_intervals(y, score, 0.5, n_resamples=200)
    for name in ("pr_auc", "f1"):
        assert weighted[name] == pytest.approx(plain[name], abs=1e-12)


def test_weights_move_the_bootstrap_intervals():
    y, score, weight = _rows()
    plain = bootstrap_intervals(y, score, 0.5, n_resamples=200)
    weighted = bootstrap_intervals(y, score, 0.5, n_resamples=200, sample_weight=weight)
    assert weighted["pr_auc"] != pytest.approx(plain["pr_auc"], abs=1e-6)


def test_bad_bootstrap_weights_are_refused():
    y, score, weight = _rows()
    with pytest.raises(DataError, match="sample_weight"):
        bootstrap_intervals(y, score, 0.5, n_resamples=10, sample_weight=weight[:-1])
    with pytest.raises(DataError, match="sample_weight"):
        bootstrap_intervals(y, score, 0.5, n_resamples=10, sample_weight=-weight)


def test_weighted_wilson_uses_the_weighted_share_over_the_kish_size():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    score = np.array([.9, .8, .3, .2, .85, .1, .1, .1, .1, .1])
    weight = np.array([3, 1, 1, 1, 2, 1, 1, 1, 1, 1], dtype=float)
    iv = decision_intervals(y, score, 0.5, sample_weight=weight)
    # flagged: positives of weight 3 and 1, a negative of weight 2 -> precision 4/6 over 36/14 rows
    kish = 36 / 14
    assert iv["precision"]["value"] == pytest.approx(4 / 6)
    assert iv["precision"]["effective_trials"] == pytest.approx(kish)
    assert (iv["precision"]["low"], iv["precision"]["high"]) == pytest.approx(wilson_interval(4 / 6 * kish, kish))
    # positives weigh 3, 1, 1, 1: 4 of 6 caught, Kish size 36 / 12 = 3
    assert iv["recall"]["value"] == pytest.approx(4 / 6)
    assert (iv["recall"]["low"], iv["recall"]["high"]) == pytest.approx(wilson_interval(2, 3))
    # the alert rate counts rows, as the alerts rule does
    assert iv["alert_rate"] == decision_intervals(y, score, 0.5)["alert_rate"]


def test_equal_weights_give_the_row_counts_intervals_and_uneven_ones_widen_them():
    y, score, weight = _rows()
    plain = decision_intervals(y, score, 0.5)
    doubled = decision_intervals(y, score, 0.5, sample_weight=np.full(y.size, 2.0))
    for name in ("precision", "recall"):
        assert (doubled[name]["low"], doubled[name]["high"]) == pytest.approx((plain[name]["low"], plain[name]["high"]))
        assert doubled[name]["effective_trials"] == pytest.approx(plain[name]["trials"])
    uneven = decision_intervals(y, score, 0.5, sample_weight=weight)
    width = uneven["recall"]["high"] - uneven["recall"]["low"]
    assert width > plain["recall"]["high"] - plain["recall"]["low"]


def test_nothing_flagged_leaves_no_weighted_precision_interval():
    y, score, weight = _rows()
    precision = decision_intervals(y, score, 1.5, sample_weight=weight)["precision"]
    assert np.isnan(precision["low"]) and np.isnan(precision["high"]) and precision["trials"] == 0
