"""The calibration inside the graph: the same numbers as ProbabilityCalibrator, in plain Keras."""

import keras
import numpy as np
import pytest

from raretune.models._calibration import calibrated_model
from raretune.thresholds import ProbabilityCalibrator
from tests.conftest import plain_keras_predict

CALIBRATIONS = {
    "none": {"method": "none", "params": {}},
    "prior": {"method": "prior", "params": {"train_prior": [0.5], "true_prior": [0.012]}},
    "platt": {"method": "platt", "params": {"a": 1.37, "b": -2.4}},
    # a repeated knot (0.3, 0.3) is a step; 0.9 is repeated at the end
    "isotonic": {"method": "isotonic", "params": {"x": [0.1, 0.3, 0.3, 0.6, 0.9, 0.9],
                                                   "y": [0.0, 0.1, 0.4, 0.5, 0.7, 0.95]}},
}


def identity_model(width=1):
    """A model whose output is its input: the 'raw scores' are whatever the test feeds it."""
    score = keras.Input(shape=(width,), name="score", dtype="float32")
    return keras.Model({"score": score}, keras.layers.Activation("linear", name="raw")(score))


def random_scores(n=400, seed=0):
    rng = np.random.default_rng(seed)
    edges = [0.0, 1.0, 1e-9, 1 - 1e-9, 0.1, 0.3, 0.6, 0.9, 0.95]  # the clip bounds and every knot
    return np.concatenate([edges, rng.random(n)]).astype("float32").reshape(-1, 1)


@pytest.mark.parametrize("method", sorted(CALIBRATIONS))
def test_binary_output_is_the_calibrators_transform_and_loads_in_plain_keras(method, tmp_path):
    calibration = CALIBRATIONS[method]
    scores = random_scores()
    model = calibrated_model(identity_model(), calibration)
    got = np.asarray(model.predict({"score": scores}, verbose=0))
    expected = ProbabilityCalibrator.from_dict(calibration).transform(scores.astype("float64"))
    assert got.shape == (scores.shape[0], 1)
    assert np.abs(got[:, 0] - expected).max() <= 1e-6
    raw = np.asarray(model.get_layer("uncalibrated").predict({"score": scores}, verbose=0))
    np.testing.assert_array_equal(raw, scores)
    model.save(tmp_path / "m.keras")
    reloaded = plain_keras_predict(tmp_path / "m.keras", {"score": scores})
    assert np.abs(np.asarray(reloaded) - expected).max() <= 1e-6


def test_isotonic_follows_np_interp_at_a_step():
    calibration = CALIBRATIONS["isotonic"]
    scores = np.array([[0.05], [0.2], [0.3], [0.45], [0.92], [0.99]], dtype="float32")
    got = np.asarray(calibrated_model(identity_model(), calibration).predict({"score": scores}, verbose=0))[:, 0]
    # below the knots: y0; 0.2: half-way to 0.1; 0.3 (a float32 a hair above): the step's right value;
    # 0.45: 0.4 + 0.5 * 0.1; beyond the last (repeated) knot: its last value
    np.testing.assert_allclose(got, [0.0, 0.05, 0.4, 0.45, 0.95, 0.95], atol=1e-7)


def test_multiclass_prior_reweights_and_renormalises(tmp_path):
    rng = np.random.default_rng(1)
    raw = rng.dirichlet([1.0, 1.0, 1.0], size=300).astype("float32")
    calibration = {"method": "prior", "params": {"train_prior": [1 / 3, 1 / 3, 1 / 3], "true_prior": [0.9, 0.08, 0.02]}}
    model = calibrated_model(identity_model(3), calibration)
    got = np.asarray(model.predict({"score": raw}, verbose=0))
    expected = ProbabilityCalibrator.from_dict(calibration).transform(raw.astype("float64"))
    assert got.shape == (300, 3)
    assert np.abs(got - expected).max() <= 1e-6
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-6)


def test_unknown_method_and_missing_parameters_are_refused():
    with pytest.raises(ValueError, match="method='auto'"):
        calibrated_model(identity_model(), {"method": "auto", "params": {}})
    with pytest.raises(ValueError, match="'b'"):
        calibrated_model(identity_model(), {"method": "platt", "params": {"a": 1.0}})
