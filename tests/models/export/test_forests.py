"""Random forests and extra trees compiled into Keras layers: the forests' own probabilities."""

import numpy as np
import pandas as pd
import pytest

from raretune.datasets import TabularData
from raretune.models import FeatureSchema, predict_proba
from raretune.models.export import DEFAULT_MAX_TREE_PARAMS, ModelTooLarge, forest_model, linear_features
from raretune.models.export._trees import _MARGIN
from raretune.tuning import FOREST_CONFIGS, cross_fit_forest, cross_fit_smote_logistic, fold_assignment

from tests.conftest import plain_keras_predict


def _table(n_classes=2, n=300, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n) * 2 + 1, "c": rng.choice(list("xyz"), n)})
    score = np.abs(frame["a"].to_numpy()) * 1.5 + (frame["b"].to_numpy() > 2) + (frame["c"] == "x") * 1.5
    y = np.digitize(score + rng.normal(scale=0.5, size=n), [2.8, 3.8][: n_classes - 1])
    return TabularData(frame, y, tuple(str(i) for i in range(n_classes)), "t", numeric=("a", "b"), categorical=("c",))


def _near_a_threshold(X, fitted):
    """Rows lying within the split ramp above any threshold of any tree (graph rounding included)."""
    near = np.zeros(len(X), dtype=bool)
    for model in fitted:
        for estimator in model.estimators_:
            tree = estimator.tree_
            for node in np.flatnonzero(tree.children_left >= 0):
                threshold = tree.threshold[node]
                margin = _MARGIN * max(1.0, abs(threshold))
                x = X[:, tree.feature[node]]
                near |= (x > threshold - margin) & (x <= threshold + 3 * margin)
    return near


@pytest.mark.parametrize("n_classes, config", [(2, "random_forest"), (2, "extra_trees"), (3, "random_forest")])
def test_keras_model_reproduces_the_forests(n_classes, config):
    data = _table(n_classes)
    schema = FeatureSchema.from_data(data)
    oof, fitted = cross_fit_forest(schema, data, fold_assignment(data.y, 3, random_state=0), config=config,
                                   random_state=0)
    assert all(m.class_weight == "balanced_subsample" for m in fitted)
    model = forest_model(schema, fitted)
    frame = pd.concat([data.features, _table(n_classes, n=100, seed=1).features], ignore_index=True)  # unseen rows too
    frame.loc[:10, "c"] = "never seen"  # out of vocabulary: every indicator 0, as in the design matrix
    X = linear_features(schema, frame)
    want = np.mean([m.predict_proba(X) for m in fitted], axis=0)
    want = want[:, 1] if n_classes == 2 else want
    got = predict_proba(model, schema.inputs(frame))
    # the graph's split ramp sends a row lying within two margins above a threshold left (see
    # _MARGIN); random forests split at midpoints between rows, extra trees anywhere, so a
    # few rows may lie there; every other row matches to float32 rounding
    near = _near_a_threshold(X, fitted)
    assert near.mean() < 0.03  # any threshold of any tree: more than the ones each row meets
    np.testing.assert_allclose(got[~near], want[~near], atol=1e-6, rtol=0)
    assert oof.shape == ((data.n_rows,) if n_classes == 2 else (data.n_rows, n_classes))


def test_each_row_is_scored_by_the_forest_that_never_saw_it():
    data = _table()
    schema = FeatureSchema.from_data(data)
    ids = fold_assignment(data.y, 3, random_state=2)
    oof, fitted = cross_fit_forest(schema, data, ids, config="extra_trees", random_state=0)
    X = linear_features(schema, data.features)
    for k, model in enumerate(fitted):
        assert (ids == k).sum() > 0
        np.testing.assert_allclose(oof[ids == k], model.predict_proba(X[ids == k])[:, 1])
    # the trees stay within the size the compiler was planned for
    assert max(tree.get_n_leaves() for m in fitted for tree in m.estimators_) <= FOREST_CONFIGS["extra_trees"]["max_leaf_nodes"]


def test_five_folds_of_default_forests_fit_under_the_cap():
    data = _table(n=1500)
    schema = FeatureSchema.from_data(data)
    _, fitted = cross_fit_forest(schema, data, fold_assignment(data.y, 5, random_state=0), random_state=0)
    n = forest_model(schema, fitted).count_params()
    assert n < DEFAULT_MAX_TREE_PARAMS / 4
    with pytest.raises(ModelTooLarge, match=f"forest would have {n:,} parameters"):
        forest_model(schema, fitted, max_params=n - 1)


def test_a_compiled_forest_loads_in_plain_keras(tmp_path):
    data = _table(n=120)
    schema = FeatureSchema.from_data(data)
    _, fitted = cross_fit_forest(schema, data, fold_assignment(data.y, 2, random_state=0), random_state=0)
    model = forest_model(schema, fitted)
    model.save(tmp_path / "m.keras")
    expected = predict_proba(model, schema.inputs(data.features.head(4)))
    got = plain_keras_predict(tmp_path / "m.keras", schema.inputs(data.features.head(4)))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_smote_regressions_see_balanced_synthetic_rows_of_their_own_fold_only():
    data = _table()
    schema = FeatureSchema.from_data(data)
    ids = fold_assignment(data.y, 3, random_state=0)
    oof, fitted = cross_fit_smote_logistic(schema, data, ids, random_state=0)
    X = linear_features(schema, data.features)
    for k, model in enumerate(fitted):
        assert model.class_weight is None  # the balance comes from SMOTE
        np.testing.assert_allclose(oof[ids == k], model.predict_proba(X[ids == k])[:, 1])
    # trained on balanced classes, the regression's mean score sits far above the 1 in ~6 positive rate
    assert 0.3 < oof.mean() < 0.7 and data.y.mean() < 0.25
    # a fold whose rare class has one row cannot be interpolated: balanced class weights instead
    one = np.zeros(data.n_rows, dtype=int)
    one[np.flatnonzero(data.y == 1)[1:]] = 1  # fold 1 holds every positive but one
    one[np.flatnonzero(data.y == 0)[::2]] = 1
    _, fitted = cross_fit_smote_logistic(schema, data, one, random_state=0)
    # the model for fold 1 is fitted on fold 0's rows, with its single positive
    assert fitted[1].class_weight == "balanced" and fitted[0].class_weight is None
