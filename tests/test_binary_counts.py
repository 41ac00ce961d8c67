"""The lean binary path of score_predictions gives the scikit-learn path's numbers."""

import math
import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raretune._binary_counts import binary_scores
from raretune.metrics import _sklearn_scores, get_objective, score_predictions
from raretune.operating import operating_table


def _sklearn(y, p, *, threshold, costs=None, cost=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _sklearn_scores(y, p, threshold=threshold, costs=costs, class_names=None, cost=cost,
                               sample_weight=None)


def _assert_same(lean, reference, *, cost_scale=1.0):
    assert lean is not None
    assert list(lean) == list(reference)
    for key, expected in reference.items():
        got = lean[key]
        if isinstance(expected, float):
            assert type(got) is float, key
            if math.isnan(expected):
                assert math.isnan(got), key
            else:
                # expected_cost is a difference of sums, so its rounding scales with the sums
                tol = 1e-12 * (cost_scale if key == "expected_cost" else 1.0)
                assert got == pytest.approx(expected, rel=1e-12, abs=tol), key
        else:
            assert got == expected, key
            assert type(got) is type(expected), key


@st.composite
def binary_inputs(draw):
    n = draw(st.integers(1, 80))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    share = draw(st.sampled_from([0.0, 0.02, 0.3, 0.5, 1.0]))
    y = (rng.random(n) < share).astype(draw(st.sampled_from([np.int8, np.int64, bool])))
    decimals = draw(st.integers(0, 3))  # few decimals: many tied scores
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    p = np.round(rng.random(n), decimals).astype(dtype)
    where = draw(st.sampled_from(["tied", "between", "above all", "below all", "fixed"]))
    if where == "tied":
        threshold = float(p[rng.integers(n)])
    elif where == "between":
        distinct = np.unique(p.astype(float))
        threshold = float(distinct[:2].mean()) if distinct.size > 1 else 0.5
    elif where == "above all":
        threshold = min(1.0, float(p.max()) + 1e-9) if p.max() < 1 else 1.0
    elif where == "below all":
        threshold = 0.0
    else:
        threshold = draw(st.sampled_from([0.5, 0.1, 1 / 3]))
    per_row = draw(st.booleans())
    cost = np.round(rng.random(n) * 100, 2) if per_row else None
    return y, p, threshold, cost


@given(case=binary_inputs())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_key_equals_the_sklearn_path(case):
    y, p, threshold, cost = case
    costs = {"fn": 7.5, "fp": 1.25}
    reference = _sklearn(y, p, threshold=threshold, costs=costs, cost=cost)
    lean = binary_scores(y, p, threshold=threshold, costs=costs, cost=cost)
    scale = (np.sum(cost[y == 1]) if cost is not None else 7.5 * np.sum(y == 1)) / y.size
    _assert_same(lean, reference, cost_scale=max(1.0, scale))
    _assert_same(score_predictions(y, p, threshold=threshold), _sklearn(y, p, threshold=threshold))


@given(case=binary_inputs())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_ranking_objectives_equal_scikit_learn(case):
    # the ensemble selection scores thousands of averages with these objectives: counted from
    # one sort, they must be scikit-learn's numbers, ties included
    from sklearn.metrics import average_precision_score, roc_auc_score

    y, p, _, cost = case
    pr_auc, roc_auc = get_objective("pr_auc"), get_objective("roc_auc")
    expected_pr = float(average_precision_score(y, p)) if y.any() else 0.0
    assert pr_auc.score(y, p) == pytest.approx(expected_pr, rel=1e-12, abs=1e-15)
    expected_roc = float(roc_auc_score(y, p)) if 0 < y.sum() < y.size else 0.5
    assert roc_auc.score(y, p) == pytest.approx(expected_roc, rel=1e-12, abs=1e-15)
    if cost is not None and y.any():  # weighted rows: scikit-learn's weighted average precision
        weight = cost + 0.5
        assert pr_auc.score(y, p, sample_weight=weight) == pytest.approx(
            average_precision_score(y, p, sample_weight=weight), rel=1e-12)


def test_a_float32_score_just_below_the_threshold_is_not_flagged():
    # 0.1 rounds up in float32, so the float32 score closest to a threshold just above it
    # would be flagged by a float32 comparison; the float64 comparison does not flag it.
    score = np.float32(0.1)
    threshold = float(score) + 1e-12
    y = np.array([0, 1, 1, 0], dtype=np.int8)
    p = np.array([score, score, 0.9, 0.0], dtype=np.float32)
    lean = score_predictions(y, p, threshold=threshold)
    assert lean["confusion_matrix"] == [[2, 0], [1, 1]]
    _assert_same(lean, _sklearn(y, p, threshold=threshold))


@pytest.mark.parametrize("y, p, pr_auc, roc_auc", [
    ([0, 0, 0], [0.1, 0.5, 0.9], math.nan, math.nan),   # no positive
    ([1, 1], [0.1, 0.9], 1.0, math.nan),                # no negative
    ([1], [0.4], 1.0, math.nan),
    ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.5, 0.5),     # one tie holds every row
    ([0, 1, 1, 0], [0.1, 0.9, 0.4, 0.4], 5 / 6, 0.875),
])
def test_small_cases_known_values(y, p, pr_auc, roc_auc):
    lean = score_predictions(np.array(y), np.array(p), threshold=0.45)
    for key, expected in (("pr_auc", pr_auc), ("roc_auc", roc_auc)):
        assert (math.isnan(lean[key]) and math.isnan(expected)) or lean[key] == pytest.approx(expected, abs=1e-15)
    _assert_same(lean, _sklearn(np.array(y), np.array(p), threshold=0.45))


@pytest.mark.parametrize("y, p", [
    ([0, 1, 2], [0.1, 0.5, 0.9]),                        # a third label
    ([0, 1], [[0.9, 0.1], [0.2, 0.8]]),                 # two columns
    ([0, 1, 1], [0.1, np.nan, 0.9]),                    # not finite
    ([0, 1, 1], [0.1, 0.5]),                            # lengths differ
])
def test_other_inputs_take_the_sklearn_path(y, p):
    assert binary_scores(np.array(y), np.array(p), threshold=0.5) is None


def test_weights_take_the_sklearn_path():
    s = score_predictions([0, 1, 1, 0], [0.1, 0.9, 0.4, 0.4], threshold=0.5, sample_weight=[1, 1, 1, 1])
    assert s["weighted_n"] == 4.0 and s["confusion_matrix"] == [[2.0, 0.0], [1.0, 1.0]]


def test_transient_memory_is_a_few_bytes_a_row():
    rng = np.random.default_rng(1)
    n = 200_000
    y = (rng.random(n) < 0.003).astype(np.int8)
    p = rng.random(n, dtype=np.float32)
    tracemalloc.start()
    binary_scores(y, p, threshold=0.5)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 6 * n  # one boolean mask and one float32 copy; scikit-learn's path takes over 100


@given(case=binary_inputs(), default_grid=st.booleans(), fp_cost=st.sampled_from([1.0, 0.3]))
@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
def test_the_operating_table_equals_the_general_path(case, default_grid, fp_cost, monkeypatch):
    import raretune.operating as operating

    y, p, threshold, cost = case
    kwargs = dict(chosen=threshold, costs={"fn": 7.5, "fp": fp_cost}, cost=cost,
                  thresholds=None if default_grid else [0.0, 0.25, threshold, 1.0], n_points=6)
    lean = operating.operating_table(y, p, **kwargs)
    with monkeypatch.context() as m:
        m.setattr(operating, "_sorted_rows", lambda *args: None)
        reference = operating.operating_table(y, p, **kwargs)
    assert len(lean) == len(reference)
    scale = max(1.0, float(np.sum(cost[y == 1]) if cost is not None else 7.5 * np.sum(y == 1)) + fp_cost * y.size)
    for got, expected in zip(lean, reference):
        assert list(got) == list(expected)
        for key, value in expected.items():
            if key in ("expected_cost_per_row", "total_cost"):
                tol = 1e-12 * scale / (y.size if key == "expected_cost_per_row" else 1)
                assert got[key] == pytest.approx(value, rel=1e-12, abs=tol), key
            elif isinstance(value, float) and math.isnan(value):
                assert math.isnan(got[key]), key
            else:
                assert got[key] == value and type(got[key]) is type(value), key


def test_the_operating_table_reads_the_grid_from_float32_scores_exactly():
    y = np.array([0, 1, 0, 1, 0, 0], dtype=np.int8)
    p = np.array([0.1, 0.7, 0.3, 0.9, 0.3, 0.2], dtype=np.float32)
    rows = operating_table(y, p, n_points=3)  # the rows ranked 1, 2 and 6 from the top
    assert [r["threshold"] for r in rows] == [float(np.float32(v)) for v in (0.9, 0.7, 0.1)]
    assert [(r["tp"], r["fp"], r["fn"], r["tn"]) for r in rows] == [(1, 0, 1, 4), (2, 0, 0, 4), (2, 4, 0, 0)]
