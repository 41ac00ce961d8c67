"""The tabular graphs: preprocessing inside the model, towers, plain-Keras loading."""

import keras
import numpy as np

from raretune.datasets import load_data
from raretune.models import FeatureSchema, build_stacked_model, build_tabular_model, predict_proba, tower_outputs

from tests.conftest import make_frame, plain_keras_predict


def _data(n=120, seed=0):
    return load_data(make_frame(n=n, seed=seed), target="label")


def test_stacked_model_output_is_the_mean_of_its_towers():
    data = _data()
    schema = FeatureSchema.from_data(data)
    model = build_stacked_model(schema, n_towers=3, layers=1, units=8, dropout=0.0, seed=0)
    inputs = schema.inputs(data.features)
    towers = predict_proba(keras.Model(model.inputs, model.get_layer("towers").output), inputs)
    assert towers.shape == (data.n_rows, 3, 1)
    assert np.ptp(towers, axis=1).max() > 1e-4  # towers differ: their own weights and embeddings
    np.testing.assert_allclose(predict_proba(model, inputs), towers.mean(axis=1)[:, 0], atol=1e-6)


def test_tower_outputs_are_in_tower_order():
    schema = FeatureSchema.from_data(_data())
    model = build_tabular_model(schema, n_towers=12, layers=1, units=4, seed=0)
    assert [layer.name for layer in tower_outputs(model)] == [f"tower{t}_probability" for t in range(12)]
    assert tower_outputs(build_tabular_model(schema, seed=0)) == []


def test_multiclass_outputs_are_distributions(tmp_path):
    frame = make_frame(n=150, seed=1)
    frame["label"] = np.random.default_rng(1).integers(0, 3, len(frame))
    data = load_data(frame, target="label")
    schema = FeatureSchema.from_data(data)
    model = build_stacked_model(schema, n_towers=2, layers=1, units=8, seed=0)
    inputs = schema.inputs(data.features.iloc[:5])
    proba = predict_proba(model, inputs)
    assert proba.shape == (5, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(np.reshape(plain_keras_predict(tmp_path / "m.keras", inputs), (5, 3)), proba, atol=1e-6)
