"""Tests of version 2.0.0 of ``synthetic_fraud``: the transaction stream (temporary folders only)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from tensorflow_datasets.core import example_serializer

import raretune  # noqa: F401  (registers the builders)
from raretune import ConfigError
from raretune.datasets.builders import SyntheticFraudConfig
from raretune.datasets.builders.synthetic_fraud import synthetic_fraud_dataset_builder as sf
from raretune.datasets.builders.synthetic_fraud import transaction_stream as ts

COLUMNS = ts.INT_COLUMNS + ts.FLOAT_COLUMNS + ts.TEXT_COLUMNS + (ts.LABEL,)
DAY = 86_400


@pytest.fixture(scope="module")
def table():
    return ts.generate_stream(100_000, seed=0)


def _month(table):
    return table["timestamp"].astype("datetime64[s]").astype("datetime64[M]")


def _as_numpy(tensors):
    return {k: (v.numpy().astype(str) if v.dtype == tf.string else v.numpy()) for k, v in tensors.items()}


def test_version_2_columns_dtypes_and_rows(tmp_path):
    config = SyntheticFraudConfig(n_rows=3_000, seed=4)
    builder = tfds.builder("synthetic_fraud", config=config, version="2.0.0", data_dir=tmp_path)
    builder.download_and_prepare()
    features = builder.info.features
    assert str(builder.version) == "2.0.0" and set(features) == set(COLUMNS)
    for name in ts.INT_COLUMNS + (ts.LABEL,):
        assert features[name].dtype == tf.int64 and features[name].shape == ()
    for name in ts.FLOAT_COLUMNS:
        assert features[name].dtype == tf.float32
    for name in ts.TEXT_COLUMNS:
        assert isinstance(features[name], tfds.features.Text)
    # as_supervised gives only what is known when a transaction is scored
    assert builder.info.supervised_keys == ({n: n for n in ts.FEATURE_NAMES}, "is_fraud")
    got = _as_numpy(builder.as_dataset(split="train", batch_size=-1))
    expected = ts.generate_stream(3_000, seed=4)
    for name in COLUMNS:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


def test_version_2_bulk_records_equal_tfds_per_example_serialisation(tmp_path):
    builder = sf.Builder(config=SyntheticFraudConfig(n_rows=300), version="2.0.0", data_dir=tmp_path)
    features = builder.info.features
    reference = example_serializer.ExampleSerializer(features.get_serialized_info())
    examples = [ex for _, ex in builder._generate_examples(n_rows=300, seed=0)]
    records = sf._serializer(is_stream=True).serialize(ts.generate_stream(300, 0))
    assert len(records) == len(examples) == 300
    for record, example in zip(records, examples):
        expected = reference.serialize_example(features.encode_example(example))
        assert tf.train.Example.FromString(record) == tf.train.Example.FromString(expected)


def test_old_version_is_still_the_default_and_loads_beside_the_new(tmp_path):
    config = SyntheticFraudConfig(n_rows=500, seed=2)
    old = tfds.builder("synthetic_fraud", config=config, data_dir=tmp_path)
    assert str(old.version) == "1.0.0" and str(sf.Builder.VERSION) == "1.0.0"
    old.download_and_prepare()
    tfds.builder("synthetic_fraud", config=config, version="2.0.0", data_dir=tmp_path).download_and_prepare()
    got = _as_numpy(tfds.builder("synthetic_fraud", config=config, data_dir=tmp_path)
                    .as_dataset(split="train", batch_size=-1))
    expected = next(sf.generate_chunks(500, 2))
    assert set(got) == set(sf.FEATURE_NAMES) | {"is_fraud"}
    np.testing.assert_array_equal(got["amount"], expected["amount"])
    # raretune's "tfds:" sources reach version 2 through TFDS's keyword form
    assert str(tfds.builder("synthetic_fraud/small/version=2.0.0", data_dir=tmp_path).version) == "2.0.0"


def test_time_span_order_and_label_delay(table):
    times = table["timestamp"]
    assert (np.diff(times) >= 0).all()
    assert times.min() >= ts.START and times.max() < ts.START + ts.N_DAYS * DAY
    months = np.unique(_month(table))
    assert months.tolist() == [np.datetime64(f"2026-0{m}", "M") for m in range(1, 7)]
    assert (times.max() - times.min()) > 175 * DAY
    delay = (table["label_available_at"] - times) / DAY
    fraud = table["is_fraud"] == 1
    np.testing.assert_allclose(delay[~fraud], ts.CHARGEBACK_WINDOW_DAYS)
    assert 1 <= delay[fraud].min() and delay[fraud].max() <= ts.CHARGEBACK_WINDOW_DAYS
    assert 10 < np.median(delay[fraud]) < 20
    hours = ((times - ts.START) % DAY) / 3600
    np.testing.assert_allclose(table["hour"], hours, atol=1e-3)
    assert 0.002 < fraud.mean() < 0.006


def test_fraud_pattern_drifts_but_legit_rows_do_not(table):
    month = _month(table)
    fraud = table["is_fraud"] == 1
    log_amount = np.log(table["amount"])
    swipe = table["channel"] == "swipe"
    first, last = month == np.datetime64("2026-01"), month == np.datetime64("2026-06")
    # fraud moves from large card-present amounts to small online ones ...
    assert log_amount[fraud & first].mean() - log_amount[fraud & last].mean() > 1.0
    assert swipe[fraud & first].mean() > 3 * swipe[fraud & last].mean()
    # ... while the legit rows keep their distribution
    assert abs(log_amount[~fraud & first].mean() - log_amount[~fraud & last].mean()) < 0.05
    assert abs(swipe[~fraud & first].mean() - swipe[~fraud & last].mean()) < 0.01


def test_rings_reuse_devices_across_customers(table):
    device, customer, fraud = table["device_id"], table["customer_id"], table["is_fraud"] == 1
    distinct = {}
    for d, c in zip(device.tolist(), customer.tolist()):
        distinct.setdefault(d, set()).add(c)
    n_customers = np.array([len(distinct[d]) for d in device.tolist()])
    # fraud rows mostly come from devices many customers used, legit rows from a customer's own
    assert np.median(n_customers[~fraud]) == 1
    assert np.mean(n_customers[fraud] >= 5) > 0.25
    ring_devices = {d for d in np.unique(device[fraud]) if len(distinct[d]) >= 5 and fraud[device == d].mean() > 0.8}
    assert len(ring_devices) >= 5
    # device_customers_30d: the customers on the row's device in the 30 days up to it (brute force)
    times, counts = table["timestamp"], table["device_customers_30d"]
    rows = np.r_[np.random.default_rng(0).choice(times.size, 300, replace=False), np.flatnonzero(fraud)[:100]]
    for row in rows:
        near = (device == device[row]) & (times <= times[row]) & (times >= times[row] - 30 * DAY)
        assert counts[row] == len(set(customer[near].tolist()))
    # the ring rows' devices are busier than the legit rows' while the ring is active
    assert np.mean(counts[fraud] >= 4) > 5 * np.mean(counts[~fraud] >= 4)


def test_same_seed_same_rows_and_validation():
    first, again, other = ts.generate_stream(2_000, 3), ts.generate_stream(2_000, 3), ts.generate_stream(2_000, 4)
    for name in COLUMNS:
        np.testing.assert_array_equal(first[name], again[name])
    assert not np.array_equal(first["amount"], other["amount"])
    with pytest.raises(ConfigError, match="'n_rows' parameter of generate_stream"):
        ts.generate_stream(0)
