"""Preprocessing inside the graph: NaN imputation and one schema per tower (cross-fitting)."""

import keras
import numpy as np
import pytest

from raretune.datasets import load_data
from raretune.models import FeatureSchema, build_stacked_model, build_tabular_model, fold_schemas, predict_proba

from tests.conftest import make_frame, plain_keras_predict

K = 3


def _data(n=90, seed=0):
    return load_data(make_frame(n=n, seed=seed), target="label")


def _held_out_changed(data, ids, k):
    """``data`` with fold ``k``'s rows rescaled, given unseen categories and missing values."""
    features = data.features.copy()
    rows = np.flatnonzero(ids == k)
    for column in data.numeric:
        features.loc[rows, column] = features.loc[rows, column] * 100
    features.loc[rows[::2], "channel"] = "only_in_fold_k"
    features.loc[rows[:5], "a"] = np.nan
    return data.with_rows(features, data.y)


def _model_medians(model) -> np.ndarray:
    """The imputation constants recorded in the graph (the ``where`` operation)."""
    wheres = [layer for layer in model.get_config()["layers"] if layer["class_name"] == "Where"]
    assert len(wheres) == 1
    return np.asarray(wheres[0]["inbound_nodes"][0]["args"][1]["config"]["value"])


def _towers(model, inputs):
    return predict_proba(keras.Model(model.inputs, model.get_layer("towers").output), inputs)[..., 0]


@pytest.mark.parametrize("k", [0, 2])
def test_a_towers_preprocessing_ignores_its_held_out_fold(k):
    data = _data()
    ids = np.arange(data.n_rows) % K
    changed = _held_out_changed(data, ids, k)
    before, after = fold_schemas(data, ids), fold_schemas(changed, ids)
    assert before[k] == after[k]  # medians, means, variances, vocabularies, counts
    for t in set(range(K)) - {k}:
        for field in ("medians", "means", "variances"):
            assert not np.allclose(getattr(before[t], field), getattr(after[t], field)), (t, field)
        assert "only_in_fold_k" in after[t].vocabularies[0]
        assert "only_in_fold_k" not in before[t].vocabularies[0]

    models = [build_stacked_model(schemas=s, layers=1, units=4, dropout=0.0, seed=0) for s in (before, after)]
    (mean0, var0), (mean1, var1) = [(m.get_layer("normalize").mean[0], m.get_layer("normalize").variance[0])
                                    for m in models]
    medians0, medians1 = (_model_medians(m) for m in models)
    np.testing.assert_array_equal(mean0[k], mean1[k])
    np.testing.assert_array_equal(var0[k], var1[k])
    np.testing.assert_array_equal(medians0[k], medians1[k])
    np.testing.assert_allclose(medians1, np.array([s.medians for s in after]), rtol=1e-6)
    others = [t for t in range(K) if t != k]
    assert not np.allclose(np.asarray(mean0)[others], np.asarray(mean1)[others])
    assert not np.allclose(np.asarray(var0)[others], np.asarray(var1)[others])
    assert not np.allclose(medians0[others], medians1[others])

    # tower k never saw the new category: it scores it as any unknown value; the others do not
    rows = changed.features.iloc[:4].copy()
    inputs = {}
    for value in ("only_in_fold_k", "never_seen"):
        rows["channel"] = value
        inputs[value] = _towers(models[1], after[0].inputs(rows))
    np.testing.assert_array_equal(inputs["only_in_fold_k"][:, k], inputs["never_seen"][:, k])
    assert not np.allclose(inputs["only_in_fold_k"][:, others], inputs["never_seen"][:, others])


def test_missing_numbers_score_like_the_median(tmp_path):
    data = _data(seed=1)
    ids = np.arange(data.n_rows) % K
    schemas = fold_schemas(data, ids)
    rows = data.features.iloc[:6].copy()
    rows.loc[:, "a"] = np.nan
    rows.loc[rows.index[::2], "b"] = np.nan
    stacked = build_stacked_model(schemas=schemas, layers=1, units=8, seed=0)
    with_nan = _towers(stacked, schemas[0].inputs(rows))
    assert np.isfinite(with_nan).all()
    for t, schema in enumerate(schemas):  # each tower: its own fold's medians
        np.testing.assert_allclose(with_nan[:, t], _towers(stacked, schema.inputs(schema.impute(rows)))[:, t], atol=1e-6)
    assert len({s.medians for s in schemas}) == K  # so the test tells the towers apart

    schema = FeatureSchema.from_data(data)
    single = build_tabular_model(schema, layers=1, units=8, seed=0)
    inputs = schema.inputs(rows)
    assert np.isnan(inputs["a"]).all()  # passed through, not imputed
    expected = predict_proba(single, schema.inputs(schema.impute(rows)))
    np.testing.assert_allclose(predict_proba(single, inputs), expected, atol=1e-6)
    single.save(tmp_path / "m.keras")  # the imputation survives plain Keras (safe mode)
    np.testing.assert_allclose(plain_keras_predict(tmp_path / "m.keras", inputs), expected, atol=1e-6)


def test_towers_need_the_same_columns():
    data = _data()
    other = load_data(make_frame(n=60, seed=2, categorical=False), target="label")
    with pytest.raises(ValueError, match="categorical"):
        build_stacked_model(schemas=[FeatureSchema.from_data(data), FeatureSchema.from_data(other)])
    with pytest.raises(ValueError, match="n_towers"):
        build_stacked_model(schemas=[FeatureSchema.from_data(data)] * 2, n_towers=3)
    with pytest.raises(ValueError, match="fold_ids"):
        fold_schemas(data, np.zeros(3, dtype=int))


def test_fold_schema_is_the_schema_of_the_rows_outside_the_fold():
    data = _data()
    ids = np.arange(data.n_rows) % K
    outside = data.with_rows(data.features[ids != 1], data.y[ids != 1])
    assert fold_schemas(data, ids)[1] == FeatureSchema.from_data(outside)
