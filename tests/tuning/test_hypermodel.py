"""Cross-fitting in the tabular hypermodel: folds, out-of-fold scores, no leaks."""

import keras_tuner as kt
import numpy as np
import pytest

from raretune.datasets import load_data
from raretune.metrics import get_objective
from raretune.models import FeatureSchema
from raretune.tuning import TabularHyperModel
from raretune.models import predict_proba
from raretune.tuning import fold_assignment

from tests.conftest import make_frame


def test_fold_assignment_is_stratified_and_seeded():
    y = np.r_[np.zeros(90, int), np.ones(12, int)]
    ids = fold_assignment(y, 4, random_state=0)
    assert set(ids.tolist()) == {0, 1, 2, 3}
    assert sorted(np.bincount(ids[y == 1]).tolist()) == [3, 3, 3, 3]
    assert np.array_equal(ids, fold_assignment(y, 4, random_state=0))
    assert not np.array_equal(ids, fold_assignment(y, 4, random_state=1))
    with pytest.raises(ValueError, match="smallest class count"):
        fold_assignment(np.r_[np.zeros(20, int), np.ones(3, int)], 4)


@pytest.fixture(scope="module")
def table():
    frame = make_frame(n=500, seed=5)
    frame["row"] = np.arange(len(frame), dtype=float)  # to see which rows each network trained on
    return load_data(frame, target="label", keep=("row",))


def _fit_and_capture(table, strategy, folds=4):
    hm = TabularHyperModel(FeatureSchema.from_data(table), strategies=[strategy], random_state=0, folds=folds)
    captured = []
    original = hm._crossfit._fold_dataset
    hm._crossfit._fold_dataset = lambda *a, **k: captured.append(original(*a, **k)) or captured[-1]
    hp = kt.HyperParameters()
    model = hm.build(hp)
    history = hm.fit(hp, model, train=table, validation=None, epochs=2)
    return hm, captured, history


@pytest.mark.parametrize("strategy", ["none", "class_weight", "random_over", "smote"])
def test_each_fold_network_trains_only_on_rows_outside_its_fold(table, strategy):
    hm, captured, history = _fit_and_capture(table, strategy)
    assert len(history.history["val_pr_auc"]) == 2
    ((dataset, steps),) = captured
    ids, _ = hm.folds_of(table)
    row_ids, weights = [], []
    n_rows = len(table.y) * (8 if strategy in ("random_over", "smote") else 2)  # over one pass of the stream
    for inputs, labels, sample_weights in dataset.unbatch().batch(n_rows).take(1):
        row_ids.append(inputs["row"].numpy()[:, 0])
        weights.append(sample_weights.numpy())
        assert labels.shape[1:] == (4, 1)  # the label, once per tower
    row_ids, weights = np.concatenate(row_ids), np.concatenate(weights)
    assert weights.shape[1] == 4
    for k in range(4):
        trained = set(row_ids[weights[:, k] > 0])
        held_out = set(table.features["row"][ids == k])
        outside = set(table.features["row"][ids != k])
        assert not (trained & held_out)  # neither the rows nor synthetic rows that equal them
        assert outside <= trained  # every row outside the fold (resampling only adds rows)
        if strategy in ("none", "class_weight"):
            assert trained == outside
        if strategy == "class_weight":  # balanced within the tower's own rows
            y = table.y[np.isin(table.features["row"], list(trained))]
            w = weights[weights[:, k] > 0, k]
            ys = np.array([table.y[int(r)] for r in row_ids[weights[:, k] > 0]])
            assert w[ys == 1].sum() == pytest.approx(w[ys == 0].sum(), rel=1e-4)
            assert y.size == len(outside)


def test_balanced_bagging_folds_draw_bags_from_rows_outside_the_fold(table):
    hm = TabularHyperModel(FeatureSchema.from_data(table), strategies=["balanced_bagging"], random_state=0, folds=4)
    hp = kt.HyperParameters()
    model = hm.build(hp)
    history = hm.fit(hp, model, train=table, validation=None, epochs=2)
    assert len(history.history["val_pr_auc"]) == 2
    ids, _ = hm.folds_of(table)
    bags = []
    for epoch in range(2):
        dataset, steps = hm._crossfit._balanced_bags(table, ids, {"bagging_neg_ratio": 1.0}, 32, [0, epoch])
        rows, weights = [], []
        for inputs, labels, sample_weights in dataset:
            rows.append(inputs["row"].numpy()[:, 0])
            weights.append(sample_weights.numpy())
        rows, weights = np.concatenate(rows), np.concatenate(weights)
        bags.append([set(rows[weights[:, k] > 0]) for k in range(4)])
        for k in range(4):
            bag = bags[-1][k]
            rare_outside = set(table.features["row"][(ids != k) & (table.y == 1)])
            assert not bag & set(table.features["row"][ids == k])
            # every rare row outside the fold (up to the rows dropped with the last short batch)
            assert len(rare_outside & bag) >= len(rare_outside) - 32
            assert len(bag) <= 2 * len(rare_outside) + 1
    assert bags[0] != bags[1]  # fresh negatives every epoch


def test_out_of_fold_scores_come_from_the_network_that_did_not_see_the_row(table):
    hm = TabularHyperModel(FeatureSchema.from_data(table), strategies=["none"], random_state=0, folds=3)
    hp = kt.HyperParameters()
    model = hm.build(hp)
    hm.fit(hp, model, train=table, validation=None, epochs=1)
    ids, _ = hm.folds_of(table)
    oof = hm.out_of_fold(model, table)
    import keras

    inputs = hm.schema.inputs(table.features)
    import tensorflow as tf

    view = keras.Model(model.inputs, model.get_layer("towers").output)
    towers = view.predict(tf.data.Dataset.from_tensor_slices(inputs).batch(256), verbose=0)
    assert towers.shape == (table.n_rows, 3, 1)
    for k in range(3):
        np.testing.assert_allclose(oof[ids == k], towers[ids == k, k, 0], atol=1e-6)
    # the saved model is the average of the fold networks
    assert not np.allclose(predict_proba(model, inputs), oof)


def test_out_of_fold_score_reveals_memorised_noise(table):
    """Labels are pure noise: a wide net fits them in sample, out of fold it is at chance."""
    rng = np.random.default_rng(0)
    noisy = table.with_rows(table.features[["a", "b", "c", "d"]].assign(e=rng.normal(size=table.n_rows)),
                            (rng.random(table.n_rows) < 0.2).astype(int))
    noisy = load_data((noisy.features.to_numpy(), noisy.y))
    hm = TabularHyperModel(FeatureSchema.from_data(noisy), strategies=["none"], random_state=0, folds=4,
                           objective=get_objective("roc_auc"))
    hp = kt.HyperParameters()
    hp.Fixed("layers", 3), hp.Fixed("units", 256), hp.Fixed("dropout", 0.0), hp.Fixed("learning_rate", 0.01)
    model = hm.build(hp)
    history = hm.fit(hp, model, train=noisy, validation=None, epochs=40)
    in_sample = get_objective("roc_auc").score(noisy.y, predict_proba(model, hm.schema.inputs(noisy.features)))
    out_of_fold = history.history["val_roc_auc"][-1]
    assert in_sample > 0.9
    assert out_of_fold < 0.65
