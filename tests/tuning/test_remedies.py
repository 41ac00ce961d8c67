"""Each remedy on a small table: known invariants, and never a validation or test row."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raretune.datasets import load_data, stratified_split
from raretune.remedies import REMEDIES, get_remedy
from raretune.models import FeatureSchema
from raretune.tuning import TabularHyperModel

from tests.conftest import make_frame

SAMPLERS = [name for name, remedy in REMEDIES.items() if remedy.resamples]


def make_sampler(settings, y, **kwargs):
    return get_remedy(settings["strategy"]).sampler(settings, y, **kwargs)
KNOBS = {
    "random_over": {"over_ratio": 0.5},
    "random_under": {"under_ratio": 0.5},
    "smote": {"smote_ratio": 0.5, "smote_k": 3},
    "borderline_smote": {"borderline_smote_ratio": 0.5, "borderline_smote_k": 3},
    "adasyn": {"adasyn_ratio": 0.5, "adasyn_k": 3},
    "tomek": {},
    "enn": {"enn_k": 3},
    "smote_tomek": {"smote_tomek_ratio": 0.5, "smote_tomek_k": 3},
    "smote_enn": {"smote_enn_ratio": 0.5, "smote_enn_k": 3},
}


def _split(seed=0, n=600, categorical=True):
    data = load_data(make_frame(n=n, positive_rate=0.08, seed=seed, categorical=categorical), target="label")
    return stratified_split(data, random_state=seed)


def _rows(strategy, train, seed=0):
    hm = TabularHyperModel(FeatureSchema.from_data(train), strategies=[strategy], random_state=seed)
    return hm.training_rows(train, {"strategy": strategy, **KNOBS.get(strategy, {})}, seed=seed)


def _keys(table):
    return set(map(tuple, table.features[list(table.numeric)].round(9).to_numpy()))


def _fit_one_epoch(hm, strategy, split, knobs):
    import keras_tuner as kt

    hp = kt.HyperParameters()
    hp.Fixed("strategy", strategy)
    for name, value in knobs.items():
        hp.Fixed(name, value)
    model = hm.build(hp)
    hm.fit(hp, model, train=split.train, validation=split.validation, epochs=1)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), strategy=st.sampled_from(SAMPLERS))
def test_samplers_never_see_validation_or_test_rows(seed, strategy):
    """A trial is handed the whole split; the rows reaching the sampler are training rows only."""
    from raretune.resample import _tabular

    split = _split(seed)
    seen = []
    original = _tabular.resample_table

    def spy(train, sampler, **kwargs):
        seen.append(train)
        return original(train, sampler, **kwargs)

    hm = TabularHyperModel(FeatureSchema.from_data(split.train), strategies=[strategy], random_state=seed)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_tabular, "resample_table", spy)
        _fit_one_epoch(hm, strategy, split, KNOBS.get(strategy, {}))
    assert len(seen) == 1
    fed = _keys(seen[0])
    assert fed == _keys(split.train)
    assert not fed & (_keys(split.validation) | _keys(split.test))
    rows = hm.training_rows(split.train, {"strategy": strategy, **KNOBS.get(strategy, {})}, seed=seed)
    # every synthetic row derives from training rows only: it lies inside the bounding box of
    # the training rows of its class, and its categories were seen in training
    train_keys = _keys(split.train)
    synthetic = rows.features[[k not in train_keys for k in map(tuple, rows.features[list(rows.numeric)].round(9).to_numpy())]]
    if len(synthetic):
        positives = split.train.features[split.train.y == 1]
        lo, hi = positives[list(rows.numeric)].min(), positives[list(rows.numeric)].max()
        assert ((synthetic[list(rows.numeric)] >= lo - 1e-6) & (synthetic[list(rows.numeric)] <= hi + 1e-6)).all().all()
        assert set(synthetic["channel"]) <= set(split.train.features["channel"])


def test_random_over_reaches_the_ratio_and_keeps_every_row():
    train = _split().train
    rows = _rows("random_over", train)
    counts = rows.class_counts
    assert counts[0] == train.class_counts[0]
    assert counts[1] == int(np.ceil(0.5 * counts[0]))
    assert _keys(rows) == _keys(train)


def test_random_under_keeps_all_positives_and_drops_negatives():
    train = _split().train
    rows = _rows("random_under", train)
    assert rows.class_counts[1] == train.class_counts[1]
    assert rows.class_counts[0] == train.class_counts[1] * 2


def test_smote_rows_lie_on_segments_between_positive_neighbours():
    train = _split(categorical=False).train
    rows = _rows("smote", train)
    n = train.n_rows
    assert rows.class_counts[1] == int(np.ceil(0.5 * train.class_counts[0]))
    positives = train.features[train.y == 1].to_numpy()
    for row in rows.features.iloc[n:n + 20].to_numpy():
        # some pair (i, j) of training positives has row = x_i + t (x_j - x_i), 0 <= t <= 1
        found = False
        for i in range(len(positives)):
            d = positives - positives[i]
            t = (d @ (row - positives[i])) / np.maximum((d * d).sum(1), 1e-12)
            close = np.abs(positives[i] + t[:, None] * d - row).max(1) < 1e-6
            if (close & (t >= -1e-9) & (t <= 1 + 1e-9)).any():
                found = True
                break
        assert found


def test_smote_with_categorical_columns_uses_smote_nc():
    train = _split().train
    sampler, mode = make_sampler({"strategy": "smote", **KNOBS["smote"]}, train.y, n_classes=2,
                                 numeric=train.numeric, categorical=train.categorical, random_state=0)
    assert type(sampler).__name__ == "SMOTENC" and mode == "ordinal"


@pytest.mark.parametrize("strategy", ["tomek", "enn"])
def test_cleaning_only_removes_negatives(strategy):
    train = _split().train
    rows = _rows(strategy, train)
    assert rows.class_counts[1] == train.class_counts[1]
    assert rows.class_counts[0] <= train.class_counts[0]
    assert _keys(rows) <= _keys(train)


def test_k_neighbors_falls_back_with_a_warning_when_positives_are_few():
    y_small = np.r_[np.zeros(50, int), np.ones(3, int)]
    with pytest.warns(UserWarning, match=r"smallest class has 3 training rows.*k_neighbors=2"):
        sampler, _ = make_sampler({"strategy": "smote", "smote_ratio": 1.0, "smote_k": 5}, y_small, n_classes=2,
                                  numeric=("a",), categorical=(), random_state=0)
    assert sampler.k_neighbors == 2


def test_class_weight_bias_init_focal_and_stream():
    import keras_tuner as kt

    split = _split()
    schema = FeatureSchema.from_data(split.train)
    hm = TabularHyperModel(schema, strategies=["class_weight", "bias_init", "focal", "stream"], random_state=0)
    # class weights: the weighted positive share is what "balanced ** strength" gives
    ds = hm.training_dataset(split.train, {"strategy": "class_weight", "cw_strength": 1.0}, batch_size=10_000, seed=0)
    _, y, w = next(iter(ds))
    y, w = y.numpy().ravel(), w.numpy()
    assert w[y == 1].sum() == pytest.approx(w[y == 0].sum(), rel=1e-4)
    # bias_init: the untrained output is the training prior
    hp = kt.HyperParameters()
    hp.Fixed("strategy", "bias_init")
    model = hm.build(hp)
    bias = model.get_layer("probability").get_weights()[1]
    p = split.train.y.mean()
    assert bias[0] == pytest.approx(np.log(p / (1 - p)), rel=1e-5)
    # focal: Keras's focal cross-entropy with the searched gamma
    hp = kt.HyperParameters()
    hp.Fixed("strategy", "focal")
    model = hm.build(hp)
    assert type(model.loss).__name__ == "BinaryFocalCrossentropy" and model.loss.gamma == 2.0
    # stream: each negative once per epoch, positives at the asked share
    ds = hm.training_dataset(split.train, {"strategy": "stream", "stream_share": 0.25}, batch_size=64, seed=0)
    ys = np.concatenate([b[1].numpy().ravel() for b in ds])
    assert (ys == 0).sum() == split.train.class_counts[0]
    assert ys.mean() == pytest.approx(0.25, abs=0.05)


def test_resampling_over_the_memory_budget_fails_the_trial_with_the_figure():
    import keras_tuner as kt

    from raretune.tuning._data import estimate_resampled_bytes

    train = _split().train
    hm = TabularHyperModel(FeatureSchema.from_data(train), strategies=["smote"], random_state=0, memory_budget=10_000)
    with pytest.raises(kt.errors.FailedTrialError, match=r"SMOTENC for 420 training rows would need about .* GiB, over the"):
        hm.training_rows(train, {"strategy": "smote", **KNOBS["smote"]}, seed=0)
    sampler, _ = make_sampler({"strategy": "random_over", "over_ratio": 1.0}, train.y, n_classes=2,
                              numeric=train.numeric, categorical=train.categorical, random_state=0)
    n_out = 2 * train.class_counts[0]
    width = len(train.numeric) + train.features["channel"].nunique()
    assert estimate_resampled_bytes(train, sampler) == n_out * (24 * width + 64)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), strategy=st.sampled_from(["none", "class_weight", "bias_init", "focal", "stream"]))
def test_remedies_without_a_sampler_train_on_training_rows_only(seed, strategy):
    """A trial is handed the whole split; every row its network trains on is a training row."""
    import keras

    split = _split(seed)
    hm = TabularHyperModel(FeatureSchema.from_data(split.train), strategies=[strategy], random_state=seed)
    knobs = {"class_weight": {"cw_strength": 0.5}, "stream": {"stream_share": 0.25}}.get(strategy, {})
    fed = set()
    original = keras.Model.fit

    def spy(model, dataset, *args, **kwargs):
        for inputs, _, _ in dataset:
            block = np.hstack([inputs[name].numpy() for name in split.train.numeric])
            fed.update(map(tuple, block.astype("float64").round(5)))
        return original(model, dataset, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(keras.Model, "fit", spy)
        _fit_one_epoch(hm, strategy, split, knobs)

    def keys(part):
        return set(map(tuple, part.features[list(part.numeric)].to_numpy().astype("float32").astype("float64").round(5)))

    assert fed and fed <= keys(split.train)
    assert not fed & (keys(split.validation) | keys(split.test))
