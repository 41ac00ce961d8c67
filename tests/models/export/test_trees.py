"""Boosted trees compiled into Keras layers: same leaves, same probabilities as scikit-learn."""

import keras
import numpy as np
import pandas as pd
import pytest

from raretune.datasets import TabularData
from raretune.models import FeatureSchema, predict_proba
from raretune.models.export import DEFAULT_MAX_TREE_PARAMS, ModelTooLarge, linear_features, trees_model
from raretune.tuning import cross_fit_trees, fold_assignment

from tests.conftest import plain_keras_predict


def _table(n_classes=2, n=1500, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "a": rng.normal(size=n), "b": rng.integers(0, 6, size=n).astype(float),  # b: ties at every threshold
        "c": rng.choice(list("xyzwv"), n), "d": rng.choice(["p", "q"], n),
    })
    frame.loc[::13, "a"] = np.nan  # imputed with the median, a value splits often sit on
    a = frame["a"].fillna(0).to_numpy()
    score = np.abs(a) * 1.5 + (frame["b"].to_numpy() > 3) + (frame["c"] == "x") * 1.5  # not linear
    y = np.digitize(score + rng.normal(scale=0.7, size=n), [2.5, 3.5][: n_classes - 1])
    return TabularData(frame, y, tuple(str(i) for i in range(n_classes)), "t", numeric=("a", "b"), categorical=("c", "d"))


@pytest.mark.parametrize("n_classes, config", [(2, "default"), (2, "small_leaves"), (3, "small_leaves"),
                                               (2, "early_stopped")])
def test_keras_model_reproduces_the_boosted_trees(n_classes, config):
    data = _table(n_classes)
    schema = FeatureSchema.from_data(data)
    oof, fitted = cross_fit_trees(schema, data, fold_assignment(data.y, 3, random_state=0), config=config, random_state=0)
    model = trees_model(schema, fitted)
    frame = data.features.copy()
    frame.loc[:20, "c"] = "never seen"  # out of vocabulary: every indicator 0, as in the design matrix
    want = np.mean([m.predict_proba(linear_features(schema, frame)) for m in fitted], axis=0)
    want = want[:, 1] if n_classes == 2 else want
    got = predict_proba(model, schema.inputs(frame))
    diff = np.abs(got - want).reshape(len(frame), -1).max(axis=1)
    # float32 and the split ramp may move a row lying within 2e-6 above a threshold; nothing else
    assert np.median(diff) < 1e-5 and (diff > 1e-4).mean() < 0.005, (np.median(diff), (diff > 1e-4).sum())
    assert oof.shape == ((data.n_rows,) if n_classes == 2 else (data.n_rows, n_classes))


def test_every_row_lands_in_exactly_one_leaf_per_tree():
    data = _table()
    schema = FeatureSchema.from_data(data)
    _, fitted = cross_fit_trees(schema, data, fold_assignment(data.y, 2, random_state=0), config="small_leaves")
    model = trees_model(schema, fitted[:1])
    probe = keras.Model(model.inputs, [model.get_layer("tree_splits").output, model.get_layer("tree_leaves").output])
    splits, leaves = (keras.ops.convert_to_numpy(x) for x in probe(schema.inputs(data.features.head(200))))
    assert set(np.unique(splits)) <= {0.0, 1.0}  # ties (b, the imputed medians) are decided, not smeared
    np.testing.assert_array_equal(leaves.sum(axis=-1), 1.0)
    # the leaf picked is scikit-learn's: raw scores agree
    raw = fitted[0]._raw_predict(linear_features(schema, data.features.head(200)))[:, 0]
    sums = keras.Model(model.inputs, model.get_layer("tree_sums").output)(schema.inputs(data.features.head(200)))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(sums)[:, 0, 0], raw, rtol=1e-5, atol=1e-5)


def test_each_row_is_scored_by_the_model_that_never_saw_it():
    data = _table()
    schema = FeatureSchema.from_data(data)
    ids = fold_assignment(data.y, 3, random_state=2)
    oof, fitted = cross_fit_trees(schema, data, ids, config="small_leaves", random_state=0)
    X = linear_features(schema, data.features)
    for k, model in enumerate(fitted):
        assert model.n_iter_ >= 1
        np.testing.assert_allclose(oof[ids == k], model.predict_proba(X[ids == k])[:, 1])
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(data.y, oof) > 0.8


@pytest.mark.slow
def test_saved_model_loads_in_plain_keras(tmp_path):
    data = _table()
    schema = FeatureSchema.from_data(data)
    _, fitted = cross_fit_trees(schema, data, fold_assignment(data.y, 2, random_state=0), config="small_leaves")
    model = trees_model(schema, fitted)
    model.save(tmp_path / "m.keras")
    expected = predict_proba(model, schema.inputs(data.features.head(4)))
    got = plain_keras_predict(tmp_path / "m.keras", schema.inputs(data.features.head(4)))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_columns_no_tree_splits_on_are_not_read():
    data = _table()
    features = data.features.assign(e=1.0)  # constant: no tree can split on it
    data = TabularData(features, data.y, data.classes, "t", numeric=("a", "b", "e"), categorical=("c", "d"))
    schema = FeatureSchema.from_data(data)
    _, fitted = cross_fit_trees(schema, data, fold_assignment(data.y, 3, random_state=0), config="small_leaves")
    model = trees_model(schema, fitted)
    # two weights per split node, whatever the width of the design matrix
    assert model.get_layer("tree_splits").count_params() == 2 * model.get_layer("tree_leaves").kernel.shape[0] * \
        model.get_layer("tree_leaves").kernel.shape[1]
    frame = data.features.head(300).copy()
    want = predict_proba(model, schema.inputs(frame))
    frame["e"] = np.inf  # a weight of 0 on this column would still turn it into NaN
    got = predict_proba(model, schema.inputs(frame))
    np.testing.assert_array_equal(got, want)
    sklearn = np.mean([m.predict_proba(linear_features(schema, data.features.head(300)))[:, 1] for m in fitted], axis=0)
    assert np.median(np.abs(got - sklearn)) < 1e-5


def test_a_model_over_the_size_cap_is_refused():
    data = _table()
    schema = FeatureSchema.from_data(data)
    _, fitted = cross_fit_trees(schema, data, fold_assignment(data.y, 2, random_state=0), config="small_leaves")
    n = trees_model(schema, fitted).count_params()
    assert 0 < n <= DEFAULT_MAX_TREE_PARAMS
    assert trees_model(schema, fitted, max_params=n).count_params() == n
    with pytest.raises(ModelTooLarge, match=f"{n:,} parameters, over the cap of {n - 1:,}"):
        trees_model(schema, fitted, max_params=n - 1)
    assert issubclass(ModelTooLarge, ValueError)


def test_the_early_stopped_setting_stops_on_the_folds_own_rows_unless_a_class_is_too_small():
    from raretune.tuning import TREE_CONFIGS

    data = _table()
    schema = FeatureSchema.from_data(data)
    ids = fold_assignment(data.y, 2, random_state=0)
    _, fitted = cross_fit_trees(schema, data, ids, config="early_stopped", random_state=0)
    for model in fitted:  # a fifth of the fold's training rows held out: stopped before its last round
        assert model.do_early_stopping_ and model.n_iter_ < TREE_CONFIGS["early_stopped"]["max_iter"]
        assert len(model.validation_score_) == model.n_iter_ + 1
    rare = np.flatnonzero(data.y == 1)[:12]  # 12 rare rows: about 6 in each fold's training rows
    keep = np.sort(np.r_[np.flatnonzero(data.y == 0), rare])
    few = TabularData(data.features.iloc[keep].reset_index(drop=True), data.y[keep], data.classes, data.target,
                      numeric=data.numeric, categorical=data.categorical)
    _, fitted = cross_fit_trees(schema, few, fold_assignment(few.y, 2, random_state=0), config="early_stopped",
                                random_state=0)
    assert all(not m.do_early_stopping_ and m.max_iter == 100 for m in fitted)
