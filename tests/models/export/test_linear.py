"""Converged logistic regressions written as Keras models: same features, same predictions."""

import numpy as np
import pandas as pd
import pytest

from raretune.datasets import TabularData
from raretune.models import FeatureSchema, predict_proba
from raretune.models.export import linear_features, logistic_model
from raretune.tuning import cross_fit_logistic, fold_assignment

from tests.conftest import plain_keras_predict


def _table(n_classes=2, n=600, seed=0, categories="xyzwabcdefg"):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "a": rng.normal(size=n), "b": rng.normal(size=n) * 3 + 1,
        "c": rng.choice(list(categories), n), "d": rng.choice(["p", "q"], n),
    })
    frame.loc[::17, "a"] = np.nan
    logit = frame["b"].to_numpy() + (frame["c"] == "x") * 2.0 - frame["a"].fillna(0).to_numpy()
    y = np.digitize(logit + rng.normal(size=n), [1.5, 3.5][: n_classes - 1])
    categorical = ("c", "d") if n_classes == 2 else ("c",)
    return TabularData(frame, y, tuple(str(i) for i in range(n_classes)), "t", numeric=("a", "b"), categorical=categorical)


def test_features_are_what_the_network_sees():
    data = _table()
    schema = FeatureSchema.from_data(data)
    frame = data.features.head(5).copy()
    frame.loc[0, "c"] = "never seen"
    X = linear_features(schema, frame)
    assert X.shape == (5, 2 + len(schema.vocabularies[0]) + len(schema.vocabularies[1]))
    a = frame["a"].fillna(schema.medians[0]).to_numpy()
    np.testing.assert_allclose(X[:, 0], (a - schema.means[0]) / np.sqrt(schema.variances[0]))
    block = X[:, 2:2 + len(schema.vocabularies[0])]
    assert block[0].sum() == 0  # out of vocabulary: no indicator, like StringLookup's OOV slot
    assert (block[1:].sum(axis=1) == 1).all()
    assert schema.vocabularies[0][int(np.argmax(block[1]))] == frame["c"].iloc[1]


@pytest.mark.parametrize("n_classes", [2, 3])
def test_keras_model_reproduces_the_regressions(n_classes):
    data = _table(n_classes)
    schema = FeatureSchema.from_data(data)
    ids = fold_assignment(data.y, 4, random_state=0)
    oof, fitted = cross_fit_logistic(schema, data, ids, C=1.0, random_state=0)
    model = logistic_model(schema, fitted)
    frame = data.features.copy()
    frame.loc[:5, "c"] = "unseen"
    want = np.mean([m.predict_proba(linear_features(schema, frame)) for m in fitted], axis=0)
    got = predict_proba(model, schema.inputs(frame))
    np.testing.assert_allclose(got, want[:, 1] if n_classes == 2 else want, atol=2e-6)
    assert oof.shape == ((data.n_rows,) if n_classes == 2 else (data.n_rows, n_classes))


def test_each_row_is_scored_by_the_regression_that_never_saw_it():
    data = _table()
    schema = FeatureSchema.from_data(data)
    ids = fold_assignment(data.y, 3, random_state=1)
    oof, fitted = cross_fit_logistic(schema, data, ids, C=0.1, random_state=0)
    X = linear_features(schema, data.features)
    for k, model in enumerate(fitted):
        inside = ids == k
        np.testing.assert_allclose(oof[inside], model.predict_proba(X[inside])[:, 1])
        # refitting on the rows outside fold k gives the same regression: fold k's labels were not used
        from sklearn.linear_model import LogisticRegression

        again = LogisticRegression(C=0.1, class_weight="balanced", max_iter=1000).fit(X[~inside], data.y[~inside])
        np.testing.assert_allclose(model.coef_, again.coef_, atol=1e-6)
    # the regressions learnt the signal: out-of-fold ranking is far above chance
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(data.y, oof) > 0.85


def test_regularisation_strength_is_used():
    data = _table()
    schema = FeatureSchema.from_data(data)
    ids = fold_assignment(data.y, 3, random_state=0)
    _, weak = cross_fit_logistic(schema, data, ids, C=100.0)
    _, strong = cross_fit_logistic(schema, data, ids, C=0.001)
    assert np.abs(strong[0].coef_).sum() < 0.5 * np.abs(weak[0].coef_).sum()


def test_no_layout_for_many_classes_and_few_categories():
    data = _table(3, categories="xyz")  # three categories embed in 2 dimensions: three class scores do not fit
    schema = FeatureSchema.from_data(data)
    _, fitted = cross_fit_logistic(schema, data, fold_assignment(data.y, 3, random_state=0), C=1.0)
    assert logistic_model(schema, fitted) is None


@pytest.mark.slow
def test_saved_model_loads_in_plain_keras(tmp_path):
    data = _table()
    schema = FeatureSchema.from_data(data)
    _, fitted = cross_fit_logistic(schema, data, fold_assignment(data.y, 3, random_state=0), C=1.0)
    model = logistic_model(schema, fitted)
    model.save(tmp_path / "m.keras")
    expected = predict_proba(model, schema.inputs(data.features.head(4)))
    got = plain_keras_predict(tmp_path / "m.keras", schema.inputs(data.features.head(4)))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
