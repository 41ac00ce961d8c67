"""Tests of the ``synthetic_fraud`` TFDS builder (everything is written to temporary folders)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from tensorflow_datasets.core import example_serializer

import raretune
from raretune import ConfigError
from raretune.datasets.builders import SyntheticFraudConfig
from raretune.datasets.builders.synthetic_fraud import synthetic_fraud_dataset_builder as sf

COLUMNS = sf.FEATURE_NAMES + (sf.LABEL,)

# tfds.testing.DatasetBuilderTestCase imports dill, which TFDS does not install.
HAS_DILL = importlib.util.find_spec("dill") is not None
NO_DILL = "tfds.testing.DatasetBuilderTestCase needs the package dill"


def _concat(n_rows, seed, **kwargs):
    chunks = list(sf.generate_chunks(n_rows, seed, **kwargs))
    return {name: np.concatenate([c[name] for c in chunks]) for name in COLUMNS}


def _as_numpy(tensors):
    out = {}
    for name, values in tensors.items():
        values = values.numpy()
        out[name] = values.astype(str) if values.dtype == object else values
    return out


def _assert_same_table(got, expected):
    assert set(got) == set(expected)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


if HAS_DILL:

    class SyntheticFraudBuilderTest(tfds.testing.DatasetBuilderTestCase):
        """TFDS's own checks: registration, info, prepare, as_dataset, specs, counts, reload."""

        DATASET_CLASS = sf.Builder
        BUILDER_CONFIG_NAMES_TO_TEST = [SyntheticFraudConfig(name="n3000", n_rows=3_000)]
        SPLITS = {"train": 3_000}
        # Nothing is downloaded; TFDS only needs an existing folder to stand for dummy data.
        EXAMPLE_DIR = os.path.dirname(sf.__file__)

else:

    @pytest.mark.skip(reason=NO_DILL)
    def test_tfds_dataset_builder_checks():
        """Placeholder that shows up as skipped where ``dill`` is missing."""


def test_schema_and_rows_match_the_generator(tmp_path):
    config = SyntheticFraudConfig(n_rows=2_500, seed=5)
    builder = tfds.builder("synthetic_fraud", config=config, data_dir=tmp_path)
    builder.download_and_prepare()

    features = builder.info.features
    assert set(features) == set(COLUMNS)
    for name in sf.NUMERIC_FEATURES:
        assert features[name].dtype == tf.float32 and features[name].shape == ()
    for name in sf.CATEGORICAL_FEATURES:
        assert isinstance(features[name], tfds.features.Text)
    assert features["is_fraud"].dtype == tf.int64
    assert builder.info.supervised_keys == ({n: n for n in sf.FEATURE_NAMES}, "is_fraud")
    assert builder.info.splits["train"].num_examples == 2_500

    table = _as_numpy(builder.as_dataset(split="train", batch_size=-1))
    _assert_same_table(table, _concat(2_500, 5))
    assert set(np.unique(table["is_fraud"])) <= {0, 1}
    assert table["hour"].min() >= 0 and table["hour"].max() < 24
    assert table["amount"].min() > 0 and table["account_age_days"].min() >= 0


def test_bulk_records_equal_tfds_per_example_serialisation(tmp_path):
    builder = sf.Builder(config=SyntheticFraudConfig(n_rows=300), data_dir=tmp_path)
    features = builder.info.features
    reference = example_serializer.ExampleSerializer(features.get_serialized_info())
    examples = [ex for _, ex in builder._generate_examples(n_rows=300, seed=0)]
    serializer = sf._FlatExampleSerializer(
        sf.NUMERIC_FEATURES,
        {
            "merchant_category": list(sf.MERCHANT_CATEGORIES),
            "channel": list(sf.CHANNELS),
            "country": list(sf.COUNTRIES),
            "is_fraud": [0, 1],
        },
    )
    records = serializer.serialize(next(sf.generate_chunks(300, 0)))
    assert len(records) == len(examples) == 300
    for record, example in zip(records, examples):
        expected = reference.serialize_example(features.encode_example(example))
        assert tf.train.Example.FromString(record) == tf.train.Example.FromString(expected)


def test_shards_and_partial_last_chunk(tmp_path, monkeypatch):
    monkeypatch.setattr(sf, "CHUNK_ROWS", 250)
    monkeypatch.setattr(sf, "SHARD_ROWS", 1_000)
    builder = tfds.builder("synthetic_fraud", config=SyntheticFraudConfig(n_rows=2_600), data_dir=tmp_path)
    builder.download_and_prepare()
    assert builder.info.splits["train"].shard_lengths == [1_000, 1_000, 600]
    table = _as_numpy(builder.as_dataset(split="train", batch_size=-1))
    _assert_same_table(table, _concat(2_600, 0, chunk_rows=250))


def test_same_config_same_rows_and_seeds_differ():
    first, again = _concat(1_000, 3), _concat(1_000, 3)
    _assert_same_table(first, again)
    other = _concat(1_000, 4)
    assert not np.array_equal(first["amount"], other["amount"])
    # A shorter table is a prefix of a longer one with the same seed.
    longer = _concat(150_000, 3)
    _assert_same_table({k: v[:1_000] for k, v in longer.items()}, first)


def test_builtin_configs():
    configs = {c.name: c for c in sf.Builder.BUILDER_CONFIGS}
    assert {n: (c.n_rows, c.seed) for n, c in configs.items()} == {
        "default": (200_000, 0),
        "small": (20_000, 1),
        "large": (5_000_000, 2),
    }
    assert sf.Builder.DEFAULT_CONFIG_NAME == "default"


def test_config_names_and_validation():
    assert SyntheticFraudConfig(n_rows=50_000).name == "n50000"
    assert SyntheticFraudConfig(n_rows=50_000, seed=7).name == "n50000_seed7"
    assert SyntheticFraudConfig(name="mine", n_rows=10).name == "mine"
    with pytest.raises(ConfigError, match=r"'n_rows' parameter of SyntheticFraudConfig .* Got 0"):
        SyntheticFraudConfig(n_rows=0)
    with pytest.raises(ConfigError, match="'seed'"):
        SyntheticFraudConfig(n_rows=10, seed=-1)
    with pytest.raises(ConfigError, match="'n_rows' parameter of generate_chunks"):
        sf.generate_chunks(0)  # raised at the call, not at the first next()


@pytest.mark.parametrize(("n_rows", "seed"), [(200_000, 0), (20_000, 1), (1_000_000, 2)])
def test_positive_rate_is_about_three_per_thousand(n_rows, seed):
    rate = np.mean(_concat(n_rows, seed)["is_fraud"])
    # Binomial sd at 20k rows is 0.0004; the generator's expected rate is 0.0030.
    assert 0.0020 < rate < 0.0040, rate


def test_fraud_is_learnable_but_overlaps():
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import average_precision_score
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    import pandas as pd

    frame = pd.DataFrame(_concat(200_000, 0))
    for name in sf.CATEGORICAL_FEATURES:
        frame[name] = frame[name].astype("category")
    x, y = frame[list(sf.FEATURE_NAMES)], frame["is_fraud"]
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.3, stratify=y, random_state=0
    )
    model = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=300,
        max_leaf_nodes=15,
        min_samples_leaf=50,
        l2_regularization=1.0,
        early_stopping=False,
        categorical_features="from_dtype",
        random_state=0,
    )
    # One thread: OpenMP threads spin badly on a busy two-core machine (4 s instead of 60 s).
    with threadpool_limits(1):
        model.fit(x_train, y_train)
    pr_auc = average_precision_score(y_test, model.predict_proba(x_test)[:, 1])
    prevalence = y_test.mean()
    # Measured 0.59 (README); far above prevalence (0.003), far from 1.
    assert 0.3 < pr_auc < 0.8, pr_auc
    assert pr_auc > 50 * prevalence


@pytest.mark.parametrize("tfds_first", [False, True])
def test_tfds_load_works_after_import_raretune(tmp_path, tfds_first):
    """The import hook registers the builders, whichever of raretune and TFDS comes first."""
    imports = (
        "import tensorflow_datasets as tfds\nimport raretune\n"
        if tfds_first
        else "import raretune\n"
        "assert 'raretune.datasets.builders' not in sys.modules  # import stays cheap\n"
        "import tensorflow_datasets as tfds\n"
    )
    script = "import sys\n" + imports + textwrap.dedent(
        f"""
        data = tfds.load("synthetic_fraud/small", split="train", data_dir={str(tmp_path)!r},
                         batch_size=-1)
        digits = tfds.builder("synthetic_digits", data_dir={str(tmp_path)!r})
        print(int(data["is_fraud"].shape[0]), digits.info.features["label"].num_classes)
        """
    )
    src = str(Path(raretune.__file__).resolve().parents[1])
    python_path = [src, *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(python_path), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-2:] == ["20000", "10"]
