"""Keras Tuner as raretune builds it: directions, seeds, budgets, no TensorBoard needed."""

import numpy as np
import pytest

from raretune import ConfigError
from raretune.datasets import load_data, stratified_split
from raretune.metrics import get_objective
from raretune.models import FeatureSchema
from raretune.tuning import TabularHyperModel, completed_trials, make_tuner

from tests.conftest import make_frame


@pytest.fixture(scope="module")
def split():
    return stratified_split(load_data(make_frame(n=1200, seed=11), target="label"), random_state=0)


def _tuner(split, tmp_path, kind="hyperband", seed=0, **kwargs):
    hm = TabularHyperModel(FeatureSchema.from_data(split.train), strategies=["none", "class_weight"], random_state=seed)
    return make_tuner(kind, hm, kwargs.pop("objective", get_objective("f1")), directory=tmp_path, seed=seed, **kwargs)


@pytest.mark.parametrize("kind", ["hyperband", "bayesian", "random"])
def test_direction_is_stated_and_seed_zero_is_kept(split, tmp_path, kind):
    tuner = _tuner(split, tmp_path, kind, seed=0, max_trials=3, max_epochs=2)
    # Keras Tuner would guess "min" for an F1 objective and turn seed 0 into a random seed
    assert tuner.oracle.objective.direction == "max"
    assert tuner.oracle.seed == 0 and tuner.oracle._seed_state == 0


def test_hyperband_honours_max_trials_and_runs_without_tensorboard(split, tmp_path):
    tuner = _tuner(split, tmp_path, max_trials=3, max_epochs=3)
    tuner.search(train=split.train, validation=split.validation, epochs=3, verbose=0)
    assert len(tuner.oracle.trials) == 3
    assert len(completed_trials(tuner.oracle)) == 3
    # every remedy got a trial
    assert {t.hyperparameters.get("strategy") for t in tuner.oracle.trials.values()} == {"none", "class_weight"}


def test_same_seed_same_hyperparameters(split, tmp_path):
    draws = []
    for name in ("a", "b"):
        tuner = _tuner(split, tmp_path / name, "random", max_trials=3, max_epochs=1)
        tuner.search(train=split.train, validation=split.validation, epochs=1, verbose=0)
        draws.append([tuner.oracle.trials[k].hyperparameters.values for k in sorted(tuner.oracle.trials)])
        draws[-1] = [(d, tuner.oracle.trials[k].score) for d, k in zip(draws[-1], sorted(tuner.oracle.trials))]
    assert [d for d, _ in draws[0]] == [d for d, _ in draws[1]]
    np.testing.assert_allclose([s for _, s in draws[0]], [s for _, s in draws[1]], rtol=1e-5)


def test_bad_tuner_options(split, tmp_path):
    with pytest.raises(ConfigError, match="'tuner' parameter"):
        _tuner(split, tmp_path, "grid", max_trials=2, max_epochs=1)
    with pytest.raises(ConfigError, match="'max_epochs' parameter"):
        _tuner(split, tmp_path, max_trials=2, max_epochs=0)
