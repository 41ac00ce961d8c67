"""One Keras model averaging others: the weighted mean, loadable with plain Keras."""

import keras
import numpy as np
import pytest

from raretune.datasets import load_data
from raretune.models import FeatureSchema, average_models, build_tabular_model, predict_proba

from tests.conftest import make_frame


def test_average_models_is_the_weighted_mean_and_loads_with_plain_keras(tmp_path):
    data = load_data(make_frame(n=200, seed=3), target="label")
    schema = FeatureSchema.from_data(data)
    models = [build_tabular_model(schema, seed=1), build_tabular_model(schema, seed=2, n_towers=3),
              build_tabular_model(schema, seed=3, layers=0)]
    inputs = schema.inputs(data.features)
    each = [predict_proba(m, inputs) for m in models]
    combined = average_models(models, [2, 0, 1])
    expected = (2 * each[0] + each[2]) / 3
    np.testing.assert_allclose(predict_proba(combined, inputs), expected, atol=1e-6)
    combined.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(predict_proba(loaded, inputs), expected, atol=1e-6)
    # one member: the model itself, unchanged
    assert average_models(models, [0, 4, 0]) is models[1]
    with pytest.raises(ValueError, match="positive weight"):
        average_models(models, [0, 0, 0])
