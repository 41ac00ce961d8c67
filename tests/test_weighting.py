import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight

from raretune import ConfigError
from raretune.weighting import class_weights, output_bias


def test_balanced_weights_are_a_dict_for_keras_and_match_scikit_learn():
    y = np.r_[np.zeros(97), np.ones(3)].astype(int)
    w = class_weights(y)
    assert isinstance(w, dict) and all(isinstance(k, int) and isinstance(v, float) for k, v in w.items())
    expected = compute_class_weight(class_weight="balanced", classes=np.array([0, 1]), y=y)
    assert w[1] / w[0] == pytest.approx(expected[1] / expected[0])
    # the weighted row count is the row count: the loss keeps its scale
    assert 97 * w[0] + 3 * w[1] == pytest.approx(100)


def test_strength_interpolates_on_a_log_scale():
    y = np.r_[np.zeros(90), np.ones(10)].astype(int)
    assert class_weights(y, strength=0) == {0: 1.0, 1: 1.0}
    half = class_weights(y, strength=0.5)
    assert half[1] / half[0] == pytest.approx(3.0)  # sqrt(90 / 10)
    with pytest.raises(ConfigError, match="'strength' parameter"):
        class_weights(y, strength=-1)


def test_output_bias_is_the_log_odds_and_the_log_prior():
    assert output_bias([0] * 999 + [1]).tolist() == pytest.approx([np.log(1 / 999)])
    np.testing.assert_allclose(output_bias([0, 0, 1, 2], n_classes=3), np.log([0.5, 0.25, 0.25]))
