"""Money as the objective and sample weights: per-row costs, weighted counts, one cost formula.

The ``cost`` threshold is checked against a brute-force minimum written here independently;
integer sample weights are checked against duplicated rows, exactly for scores and
thresholds, within tolerance for a fitted model.
"""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raretune._errors import DataError
from raretune.metrics import cost_sweep, get_objective, row_costs, score_predictions
from raretune.operating import cost_summary, operating_table, threshold_outcome
from raretune.thresholds import select_threshold


def _brute_force_lost(y, s, t, cost, weight, cost_fp):
    """Money lost flagging ``s >= t``, written without raretune."""
    missed = (y == 1) & (s < t)
    alarms = (y == 0) & (s >= t)
    return float(np.sum(weight[missed] * cost[missed]) + cost_fp * np.sum(weight[alarms]))


@st.composite
def _cases(draw):
    n = draw(st.integers(2, 40))
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    if not y.any():
        y[0] = 1
    # few distinct scores: ties are the hard part
    s = np.array(draw(st.lists(st.sampled_from([0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95]), min_size=n, max_size=n)))
    cost = np.array(draw(st.lists(st.floats(0, 500, allow_nan=False), min_size=n, max_size=n)))
    weight = np.array(draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0]), min_size=n, max_size=n)))
    cost_fp = draw(st.sampled_from([0.5, 1.0, 5.0, 40.0]))
    return y, s, cost, weight, cost_fp


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cases())
def test_cost_threshold_is_the_brute_force_minimum_of_money_lost(case):
    y, s, cost, weight, cost_fp = case
    t = select_threshold(y, s, rule="cost", cost_fp=cost_fp, cost=cost, sample_weight=weight)
    candidates = np.r_[np.unique(s), np.inf]  # every reachable set of flagged rows, flag nobody included
    best = min(_brute_force_lost(y, s, c, cost, weight, cost_fp) for c in candidates)
    assert _brute_force_lost(y, s, t, cost, weight, cost_fp) == pytest.approx(best, rel=1e-9, abs=1e-9)
    # the objective is that minimum per unit of weight
    objective = get_objective("cost", cost_fp=cost_fp, cost_column="amount")
    total = weight.sum() if weight.sum() > 0 else 1.0
    assert objective.score(y, s, cost=cost, sample_weight=weight) == pytest.approx(best / total, rel=1e-9, abs=1e-9)


def test_cost_sweep_matches_the_brute_force_at_every_threshold():
    rng = np.random.default_rng(4)
    for _ in range(50):
        n = int(rng.integers(5, 60))
        y = (rng.random(n) < 0.3).astype(int)
        s = np.round(rng.random(n), 1)
        cost, weight = rng.lognormal(3, 1, n), rng.integers(0, 4, n).astype(float)
        thresholds, lost, nobody = cost_sweep(y, s, cost_fp=3.0, cost=cost, sample_weight=weight)
        assert nobody == pytest.approx(_brute_force_lost(y, s, np.inf, cost, weight, 3.0))
        for t, value in zip(thresholds, lost):
            assert value == pytest.approx(_brute_force_lost(y, s, t, cost, weight, 3.0))


def test_without_per_row_costs_the_cost_is_cost_fn_per_missed_positive():
    miss, alarm = row_costs([1, 0, 1], cost_fn=7, cost_fp=2)
    assert miss.tolist() == [7.0, 0.0, 7.0] and alarm.tolist() == [0.0, 2.0, 0.0]


# -- integer weights are duplicated rows ----------------------------------------------------------

@pytest.fixture
def weighted_and_duplicated():
    rng = np.random.default_rng(11)
    n = 120
    y = (rng.random(n) < 0.2).astype(int)
    y[:2] = 1
    s = np.clip(0.35 * y + rng.random(n) * 0.7, 0, 1).round(2)  # rounded: ties
    cost = rng.lognormal(3, 1, n).round(2)
    weight = rng.integers(1, 4, n)
    rows = np.repeat(np.arange(n), weight)
    return (y, s, cost, weight.astype(float)), (y[rows], s[rows], cost[rows])


@pytest.mark.parametrize("rule, target", [("f1", None), ("precision", 0.6), ("recall", 0.7), ("cost", None)])
def test_integer_weights_choose_the_threshold_of_duplicated_rows(weighted_and_duplicated, rule, target):
    (y, s, cost, w), (yd, sd, costd) = weighted_and_duplicated
    weighted = select_threshold(y, s, rule=rule, target=target, cost_fp=4, cost=cost, sample_weight=w)
    duplicated = select_threshold(yd, sd, rule=rule, target=target, cost_fp=4, cost=costd)
    assert weighted == duplicated


def test_integer_weights_score_like_duplicated_rows(weighted_and_duplicated):
    (y, s, cost, w), (yd, sd, costd) = weighted_and_duplicated
    costs = {"fn": 1.0, "fp": 4.0}
    weighted = score_predictions(y, s, threshold=0.5, costs=costs, cost=cost, sample_weight=w)
    duplicated = score_predictions(yd, sd, threshold=0.5, costs=costs, cost=costd)
    for key in ("pr_auc", "roc_auc", "f1", "precision", "recall", "mcc", "balanced_accuracy", "g_mean",
                "positive_rate", "expected_cost"):
        assert weighted[key] == pytest.approx(duplicated[key], rel=1e-12), key
    assert weighted["confusion_matrix"] == duplicated["confusion_matrix"]
    for name in ("pr_auc", "roc_auc", "f1", "recall@precision=0.5", "cost"):
        objective = get_objective(name, cost_fp=4.0, cost_column="amount" if name == "cost" else None)
        extra = {"cost": cost} if name == "cost" else {}
        assert objective.score(y, s, sample_weight=w, **extra) == pytest.approx(
            objective.score(yd, sd, **({"cost": costd} if name == "cost" else {})), rel=1e-12), name


def test_integer_weights_give_the_operating_table_and_money_of_duplicated_rows(weighted_and_duplicated):
    (y, s, cost, w), (yd, sd, costd) = weighted_and_duplicated
    grid = [0.2, 0.5, 0.8]
    weighted = operating_table(y, s, thresholds=grid, chosen=0.6, costs={"fn": 1, "fp": 4}, cost=cost, sample_weight=w)
    duplicated = operating_table(yd, sd, thresholds=grid, chosen=0.6, costs={"fn": 1, "fp": 4}, cost=costd)
    for a, b in zip(weighted, duplicated):
        for key in ("tp", "fp", "fn", "tn", "precision", "recall", "alert_rate", "total_cost"):
            assert a[key] == pytest.approx(b[key], rel=1e-12), key
    money_w = cost_summary(y, s, 0.6, 1, 4, cost=cost, sample_weight=w, n_resamples=0)
    money_d = cost_summary(yd, sd, 0.6, 1, 4, cost=costd, n_resamples=0)
    for key in ("money_lost", "money_saved_vs_flag_nobody", "amount_weighted_recall", "flag_nobody_money_lost",
                "flag_everyone_money_lost", "fn", "fp"):
        assert money_w[key] == pytest.approx(money_d[key], rel=1e-12), key
    outcome_w = threshold_outcome(y, s, 0.6, "recall", 0.5, sample_weight=w)
    outcome_d = threshold_outcome(yd, sd, 0.6, "recall", 0.5)
    assert outcome_w["achieved"] == pytest.approx(outcome_d["achieved"])


def test_money_summary_by_hand_and_its_interval():
    y = np.array([0, 0, 1, 1, 1, 0])
    s = np.array([0.1, 0.7, 0.8, 0.3, 0.9, 0.2])
    amount = np.array([5.0, 9.0, 100.0, 40.0, 60.0, 1.0])
    out = cost_summary(y, s, 0.5, cost_fn=1, cost_fp=2, cost=amount, n_resamples=400, random_state=3)
    # flagged: rows 1 (false alarm), 2 and 4 (caught 160); missed: row 3 (40)
    assert out["money_lost"] == 40 + 2 and out["flag_nobody_money_lost"] == 200
    assert out["money_saved_vs_flag_nobody"] == 158 and out["amount_weighted_recall"] == pytest.approx(0.8)
    low, high = out["intervals"]["money_lost"]
    assert low <= out["money_lost"] <= high and out["intervals"]["n_resamples"] == 400
    assert cost_summary(y, s, 0.5, 1, 2, cost=amount, n_resamples=0)["intervals"] is None


def test_amount_weighted_recall_is_nan_without_money_at_stake():
    out = cost_summary([0, 1], [0.2, 0.9], 0.5, 1, 1, cost=[3.0, 0.0], n_resamples=0)
    assert math.isnan(out["amount_weighted_recall"])


# -- the bound objective -----------------------------------------------------------------------------

def test_a_bound_objective_scores_its_rows_and_refuses_others():
    y = np.array([0, 1, 1, 0, 1, 0])
    s = np.array([0.1, 0.9, 0.4, 0.45, 0.2, 0.3])
    cost = np.array([0, 50.0, 20.0, 0, 5.0, 0])
    objective = get_objective("cost", cost_fp=5, cost_column="amount")
    bound = objective.on_rows(y, cost=cost)
    assert bound.score(y, s) == objective.score(y, s, cost=cost)
    with pytest.raises(DataError, match="bound to other rows"):
        bound.score(y.copy(), s)
    with pytest.raises(DataError, match="reads each positive's cost from 'amount'"):
        objective.score(y, s)
    rows = np.array([1, 1, 2, 5])
    y_bag, bag = bound.bag(y, rows)
    assert bag.score(y_bag, s[rows]) == objective.score(y[rows], s[rows], cost=cost[rows])
    assert bound == objective  # the bound rows are not part of what the objective is (tuner check)


# -- training ----------------------------------------------------------------------------------------

def test_resampled_rows_carry_their_sample_weights():
    from imblearn.over_sampling import SMOTE, RandomOverSampler

    from raretune.datasets import load_data
    from raretune.resample._tabular import resample_table
    from raretune.tuning._data import resampled_origin, resampled_weights

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60),
                          "label": np.r_[np.ones(8, dtype=int), np.zeros(52, dtype=int)]})
    train = load_data(frame, target="label")
    weight = rng.integers(1, 5, 60).astype(float)
    for sampler in (RandomOverSampler(random_state=0), SMOTE(k_neighbors=3, random_state=0)):
        rows = resample_table(train, sampler)
        origin = resampled_origin(train, rows, sampler)
        w = resampled_weights(weight, train.y, origin, rows.y)
        copied = origin >= 0
        assert np.array_equal(w[copied], weight[origin[copied]])
        pd.testing.assert_frame_equal(rows.features[copied].reset_index(drop=True),
                                      train.features.iloc[origin[copied]].reset_index(drop=True))
        positives = weight[train.y == 1].mean()
        assert np.allclose(w[~copied], positives)  # synthetic rows are positives here
        if isinstance(sampler, SMOTE):
            assert (~copied).sum() == rows.n_rows - train.n_rows


def test_integer_sample_weights_fit_like_duplicated_rows():
    """A linear network trained full-batch to convergence: weights 1-3 give the fit of duplicated rows."""
    import keras

    from raretune.datasets import load_data
    from raretune.models import FeatureSchema, build_tabular_model
    from raretune.tuning import TabularHyperModel

    rng = np.random.default_rng(2)
    n = 80
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame["label"] = (rng.random(n) < 1 / (1 + np.exp(-(frame.a * 1.5 - frame.b - 1)))).astype(int)
    train = load_data(frame, target="label")
    weight = rng.integers(1, 4, n).astype(float)
    duplicated = train.take(np.repeat(np.arange(n), weight.astype(int)))
    schema = FeatureSchema.from_data(train)
    hypermodel = TabularHyperModel(schema, sample_weight=weight)

    def fitted(rows, sample_weight):
        keras.utils.set_random_seed(0)
        model = build_tabular_model(schema, layers=0, dropout=0.0, seed=0)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.05), loss="binary_crossentropy")
        data = hypermodel.training_dataset(rows, {"strategy": "none"}, batch_size=rows.n_rows, seed=0,
                                           sample_weight=sample_weight)
        model.fit(data, epochs=400, verbose=0, shuffle=False)
        return np.concatenate([np.ravel(v) for v in model.get_weights()])

    by_weight = fitted(train, hypermodel.weights_of(train))
    by_copies = fitted(duplicated, None)
    unweighted = fitted(train, None)
    assert np.allclose(by_weight, by_copies, atol=0.02), (by_weight, by_copies)
    assert not np.allclose(by_weight, unweighted, atol=0.05)  # the weights did change the fit


def test_the_training_prior_under_integer_weights_is_that_of_duplicated_rows():
    from raretune.remedies import get_remedy
    from raretune.run._candidates import _weighted_prior

    y = np.array([0] * 12 + [1] * 4)
    weight = np.array([1, 2, 1, 3, 1, 1, 2, 1, 1, 1, 2, 1, 3, 1, 2, 2])
    duplicated = np.repeat(y, weight)
    none = get_remedy("none")
    weighted = _weighted_prior(none.training_prior({}, y, 2), y, weight)
    assert weighted == pytest.approx(none.training_prior({}, duplicated, 2))
    assert weighted != pytest.approx(none.training_prior({}, y, 2))


def test_the_logistic_candidate_fits_integer_weights_like_duplicated_rows():
    from raretune.datasets import load_data
    from raretune.models import FeatureSchema
    from raretune.tuning import cross_fit_logistic

    rng = np.random.default_rng(5)
    n = 150
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame["label"] = (rng.random(n) < 1 / (1 + np.exp(-(2 * frame.a - 2)))).astype(int)
    data = load_data(frame, target="label")
    schema = FeatureSchema.from_data(data)
    ids = np.arange(n) % 3
    weight = rng.integers(1, 4, n)
    rows = np.repeat(np.arange(n), weight)
    kwargs = dict(C=1.0, class_weight=None, random_state=0)
    raw_w, fitted_w = cross_fit_logistic(schema, data, ids, sample_weight=weight.astype(float), **kwargs)
    raw_d, fitted_d = cross_fit_logistic(schema, data.take(rows), ids[rows], **kwargs)
    raw_u, fitted_u = cross_fit_logistic(schema, data, ids, **kwargs)
    for w, d, u in zip(fitted_w, fitted_d, fitted_u):
        assert np.allclose(w.coef_, d.coef_, atol=1e-4) and np.allclose(w.intercept_, d.intercept_, atol=1e-4)
        assert not np.allclose(w.coef_, u.coef_, atol=1e-3)
    assert np.allclose(raw_w[rows], raw_d, atol=1e-4)


def test_money_intervals_drawn_per_value_match_draws_per_row():
    """With a cost per class the rows take few money values and are drawn per value; the
    intervals must be those of drawing the rows one by one (computed here by hand)."""
    rng = np.random.default_rng(4)
    y = (rng.random(4000) < 0.05).astype(int)
    s = np.clip(0.3 * y + rng.random(4000) * 0.7, 0, 1)
    out = cost_summary(y, s, 0.6, cost_fn=20, cost_fp=1, n_resamples=2000, random_state=0)["intervals"]
    miss, alarm = row_costs(y, cost_fn=20, cost_fp=1)
    lost_row = np.where(s >= 0.6, alarm, miss)
    by_row = np.zeros(2000)
    for rows in (np.flatnonzero(y == 1), np.flatnonzero(y == 0)):
        by_row += lost_row[rows[rng.integers(0, rows.size, size=(2000, rows.size))]].sum(axis=1)
    spread = by_row.std()
    expected = np.percentile(by_row, [2.5, 97.5])
    assert out["money_lost"] == pytest.approx(expected, abs=0.25 * spread)
    assert out["money_lost"][0] < cost_summary(y, s, 0.6, 20, 1, n_resamples=0)["money_lost"] < out["money_lost"][1]
