import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raretune import ConfigError, DataError
from raretune.metrics import alert_count
from raretune.operating import (
    OUTCOME_RULES,
    cost_summary,
    decision_intervals,
    operating_table,
    reliability_warnings,
    threshold_outcome,
    wilson_interval,
)
from raretune.thresholds import THRESHOLD_RULES, select_threshold

# 20 rows, 5 positives; listed here from the highest score down, then shuffled
_SORTED_SCORE = [0.95, 0.90, 0.85, 0.80, 0.70, 0.65, 0.60, 0.55, 0.50, 0.45,
                 0.40, 0.35, 0.30, 0.25, 0.20, 0.15, 0.10, 0.08, 0.05, 0.02]
_SORTED_Y = [1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
_ORDER = np.random.default_rng(3).permutation(20)
S = np.array(_SORTED_SCORE)[_ORDER]
Y = np.array(_SORTED_Y)[_ORDER]


def test_operating_table_matches_hand_counts():
    rows = operating_table(Y, S, thresholds=[0.4, 0.9, 0.6], chosen=0.62, costs={"fn": 10, "fp": 1})
    assert [r["threshold"] for r in rows] == [0.9, 0.62, 0.6, 0.4]
    got = [(r["flagged"], r["tp"], r["fp"], r["fn"], r["tn"], r["total_cost"], r["chosen"]) for r in rows]
    assert got == [
        (2, 2, 0, 3, 15, 30.0, False),
        (6, 3, 3, 2, 12, 23.0, True),
        (7, 4, 3, 1, 12, 13.0, False),
        (11, 5, 6, 0, 9, 6.0, False),
    ]
    at_06 = rows[2]
    assert at_06["precision"] == pytest.approx(4 / 7)
    assert at_06["recall"] == pytest.approx(0.8)
    assert at_06["alert_rate"] == pytest.approx(0.35)
    assert at_06["flagged_per_10000"] == pytest.approx(3500)
    assert at_06["expected_cost_per_row"] == pytest.approx(0.65)


def test_operating_table_default_grid_spans_one_row_to_all_rows():
    rows = operating_table(Y, S, n_points=2)
    assert [(r["threshold"], r["flagged"]) for r in rows] == [(0.95, 1), (0.02, 20)]
    rows = operating_table(Y, S)
    flagged = [r["flagged"] for r in rows]
    assert flagged == sorted(flagged) and len(set(flagged)) == len(flagged)
    assert flagged[0] == 1 and flagged[-1] == 20
    assert "total_cost" not in rows[0] and not any(r["chosen"] for r in rows)
    # log spacing: the rare end is denser than the bulk
    assert flagged[:4] == [1, 2, 3, 4]
    # nothing flagged: precision does not exist
    assert math.isnan(operating_table(Y, S, thresholds=[0.99])[0]["precision"])


def test_operating_table_counts_are_exact_with_ties():
    rng = np.random.default_rng(0)
    score = rng.integers(0, 12, 300) / 11  # many ties
    y = (rng.random(300) < 0.1 + 0.5 * score).astype(int)
    grid = [0.0, 0.05, 3 / 11, 0.5, 10 / 11, 1.0, 1.5]
    for row in operating_table(y, score, thresholds=grid):
        flagged = score >= row["threshold"]
        assert row["tp"] == int((flagged & (y == 1)).sum())
        assert row["fp"] == int((flagged & (y == 0)).sum())
        assert row["fn"] == int((~flagged & (y == 1)).sum())
        assert row["tn"] == int((~flagged & (y == 0)).sum())


def test_wilson_interval_known_values():
    low, high = wilson_interval(8, 10)
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(0, 10)[1] == pytest.approx(0.2775, abs=1e-4)
    assert wilson_interval(10, 10)[1] == 1.0
    wide = wilson_interval(8, 10, level=0.99)
    assert wide[0] < low and wide[1] > high
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    with pytest.raises(ConfigError, match="'level'"):
        wilson_interval(1, 2, level=95)


def test_decision_intervals_at_the_threshold():
    out = decision_intervals(Y, S, 0.6)
    assert out["level"] == 0.95
    assert (out["precision"]["successes"], out["precision"]["trials"]) == (4, 7)
    assert (out["recall"]["successes"], out["recall"]["trials"]) == (4, 5)
    assert (out["alert_rate"]["successes"], out["alert_rate"]["trials"]) == (7, 20)
    assert out["recall"]["value"] == pytest.approx(0.8)
    assert (out["precision"]["low"], out["precision"]["high"]) == pytest.approx(wilson_interval(4, 7))
    # ten positives, eight caught: the textbook 8/10
    y = np.r_[np.ones(10, int), np.zeros(10, int)]
    s = np.r_[np.full(8, 0.9), np.full(2, 0.1), np.full(10, 0.2)]
    rec = decision_intervals(y, s, 0.5)["recall"]
    assert (round(rec["low"], 3), round(rec["high"], 3)) == (0.490, 0.943)


def test_cost_summary_names_the_trivial_policies():
    out = cost_summary(Y, S, 0.6, cost_fn=10, cost_fp=1)
    assert out["total_cost"] == 13.0
    assert out["cost_per_row"] == pytest.approx(0.65)
    assert out["flag_nobody_total_cost"] == 50.0
    assert out["flag_everyone_total_cost"] == 15.0
    assert out["saved_vs_flag_nobody"] == 37.0
    # the table and the summary use the same definition
    row = operating_table(Y, S, thresholds=[0.6], costs={"fn": 10, "fp": 1})[0]
    assert row["total_cost"] == out["total_cost"]
    # a threshold above every score is the flag-nobody policy
    assert cost_summary(Y, S, 2.0, 10, 1)["saved_vs_flag_nobody"] == 0.0
    with pytest.raises(ConfigError, match="'cost_fn'"):
        cost_summary(Y, S, 0.6, -1, 1)


def test_threshold_outcome_precision_fallback():
    y, s = np.array([0, 1, 0, 1]), np.array([0.9, 0.8, 0.3, 0.2])
    t = select_threshold(y, s, rule="precision", target=0.9)
    out = threshold_outcome(y, s, t, "precision", 0.9)
    assert out["reached"] is False and out["achieved"] == 0.5
    assert out["fallback"] == "precision=0.9 not reached on validation: best precision 0.5 used instead"
    # a threshold that is not the best one says so
    out = threshold_outcome(y, s, 0.25, "precision", 0.9)
    assert "best reachable 0.5" in out["fallback"]


def test_threshold_outcome_reached_targets():
    t = select_threshold(Y, S, rule="precision", target=0.9)
    out = threshold_outcome(Y, S, t, "precision", 0.9)
    assert out["reached"] is True and out["fallback"] is None and out["achieved"] == 1.0
    out = threshold_outcome(Y, S, 0.6, "recall", 0.8)
    assert out["reached"] is True and out["achieved"] == pytest.approx(0.8)
    assert threshold_outcome(Y, S, 0.6, "recall", 0.81)["reached"] is False
    assert threshold_outcome(Y, S, 0.6, "f1")["achieved"] == pytest.approx(2 * 4 / (2 * 4 + 3 + 1))
    assert threshold_outcome(Y, S, 0.6, "cost", cost_fn=10, cost_fp=1)["achieved"] == pytest.approx(0.65)


def test_threshold_outcome_alert_budget():
    score = np.array([0.9, 0.9, 0.8, 0.8, 0.8, 0.7, 0.1, 0.1, 0.1, 0.1])
    y = np.array([1, 0, 1, 0, 0, 0, 1, 0, 0, 0])
    t = select_threshold(y, score, rule="alerts", target=0.4)  # wants 4, ties allow 5
    out = threshold_outcome(y, score, t, "alerts", 0.4)
    assert out["reached"] is True and out["achieved"] == 0.5
    t = select_threshold(y, score, rule="alerts", target=0.8)  # wants 8, ties allow 6 or 10
    out = threshold_outcome(y, score, t, "alerts", 0.8)
    assert out["reached"] is False and "tied scores: 6 rows" in out["fallback"]


def test_outcome_rules_are_the_threshold_rules():
    # operating may not import thresholds (sibling layers): keep the two lists equal here
    assert set(OUTCOME_RULES) == set(THRESHOLD_RULES)
    assert alert_count(0.005, 1000) == 5 and alert_count(0.0125, 200) == 3 and alert_count(1e-6, 10) == 1


def test_reliability_warnings_fire_below_thirty_positives():
    few = np.r_[np.ones(9, int), np.zeros(500, int)]
    enough = np.r_[np.ones(30, int), np.zeros(500, int)]
    assert reliability_warnings(few, enough) == ["only 9 positives in validation: figures unreliable"]
    assert reliability_warnings(enough, few) == ["only 9 positives in test: figures unreliable"]
    assert reliability_warnings(enough, enough) == []
    assert reliability_warnings(enough, None) == []
    assert reliability_warnings([1, 0], [0, 0]) == [
        "only 1 positive in validation: figures unreliable",
        "only 0 positives in test: figures unreliable",
    ]
    assert reliability_warnings(few, few, min_positives=5) == []


def test_inputs_are_checked():
    with pytest.raises(DataError, match="same length"):
        operating_table([0, 1], [0.5])
    with pytest.raises(ConfigError, match="'rule' parameter"):
        threshold_outcome(Y, S, 0.5, "youden")
    with pytest.raises(ConfigError, match="'target'"):
        threshold_outcome(Y, S, 0.5, "precision")


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), rule=st.sampled_from(["f1", "precision", "recall", "alerts", "cost"]))
def test_an_outcome_counted_at_its_threshold_equals_the_swept_one(seed, rule):
    """Unweighted outcomes count the rows at the one threshold; the sweep (as with weights) must agree."""
    from raretune import operating

    rng = np.random.default_rng(seed)
    y = (rng.random(300) < 0.1).astype(int)
    s = np.round(rng.random(300), 2)  # ties
    t = float(rng.choice(s)) if seed % 2 else float(rng.random())
    target = None if rule in ("f1", "cost") else 0.3
    counted = threshold_outcome(y, s, t, rule, target)
    swept = threshold_outcome(y, s, t, rule, target, sample_weight=np.ones(300))
    for key in ("reached", "fallback", "rule", "target"):
        assert counted[key] == swept[key]
    assert counted["achieved"] == pytest.approx(swept["achieved"], rel=1e-12, nan_ok=True)
    c, w = operating._counts_at(y, s, t), operating._counts(y, s, t)
    assert {k: np.ravel(v).tolist() for k, v in c.items()} == {k: np.ravel(v).tolist() for k, v in w.items()}
