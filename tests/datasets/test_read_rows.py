"""read_rows: rows to score or evaluate, typed like a finished run's data, labels optional."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from raretune import DataError
from raretune.datasets import ImageData, TabularData, load_data, load_images, read_rows


@pytest.fixture(scope="module")
def train():
    frame = pd.DataFrame({
        "amount": [1.0, 2.5, 3.0, 4.0, 5.5, 6.0],
        "channel": ["web", "pos", "web", "atm", "pos", "web"],
        "label": ["ok", "ok", "fraud", "ok", "ok", "fraud"],
    })
    return load_data(frame, target="label")


def _schema_only(train):
    # what a finished run knows: columns, kinds, target and classes, no rows
    return TabularData(
        features=pd.DataFrame(columns=list(train.columns)), y=np.zeros(0, dtype=int), classes=train.classes,
        target=train.target, numeric=train.numeric, categorical=train.categorical,
    )


NEW = pd.DataFrame({
    "extra": ["x", "y", "z", "w"],
    "channel": ["pos", None, "new", "web"],
    "amount": ["7", "8.5", None, "1"],  # text numbers are coerced like the training column
    "label": ["fraud", "ok", None, "maybe"],
})


def _check(rows, train, y):
    assert isinstance(rows, TabularData) and rows.columns == train.columns == ("amount", "channel")
    assert rows.classes == ("ok", "fraud") and rows.target == "label"
    np.testing.assert_allclose(rows.features["amount"], [7.0, 8.5, np.nan, 1.0])
    assert rows.features["channel"].tolist() == ["pos", "(missing)", "new", "web"]
    assert rows.y.tolist() == y and rows.n_rows == 4  # no row is dropped


@pytest.mark.parametrize("schema_only", [False, True])
def test_dataframe_and_csv_with_and_without_label(train, tmp_path, schema_only):
    reference = _schema_only(train) if schema_only else train
    rows = read_rows(NEW, reference)
    _check(rows, train, [1, 0, -1, -1])
    assert any("1 rows with a label not seen in training ('maybe')" in n for n in rows.notes)
    NEW.to_csv(tmp_path / "new.csv", index=False)
    _check(read_rows(tmp_path / "new.csv", reference), train, [1, 0, -1, -1])
    _check(read_rows(NEW.drop(columns="label"), reference), train, [-1, -1, -1, -1])


def test_a_missing_feature_is_a_data_error(train):
    with pytest.raises(DataError, match="Column 'channel' is missing from DataFrame; it is needed by the model."):
        read_rows(NEW.drop(columns="channel"), train)
    with pytest.raises(DataError, match="Column 'amount' should be numeric but holds 'lots'"):
        read_rows(NEW.assign(amount="lots"), train)


def test_arrays_and_tf_data_tables():
    X = np.array([[0.1, 1.0], [0.2, 2.0], [0.3, 3.0], [0.9, 4.0]])
    train = load_data((X, np.array([0, 0, 0, 1])))
    for source in (X, (X, np.array([1, 0, 5, 0]))):
        rows = read_rows(source, train)
        np.testing.assert_allclose(rows.features.to_numpy(), X)
        assert rows.y.tolist() == ([-1] * 4 if source is X else [1, 0, -1, 0])
    pairs = tf.data.Dataset.from_tensor_slices((X.astype("float32"), np.array([0, 1, 0, 1])))
    features_only = tf.data.Dataset.from_tensor_slices({"x0": X[:, 0], "x1": X[:, 1]})
    assert read_rows(pairs, train).y.tolist() == [0, 1, 0, 1]
    assert read_rows(pairs.batch(3), train).y.tolist() == [0, 1, 0, 1]
    for source in (features_only, features_only.batch(3)):
        rows = read_rows(source, train)
        np.testing.assert_allclose(rows.features.to_numpy(), X)
        assert rows.y.tolist() == [-1] * 4
    labelled = tf.data.Dataset.from_tensor_slices({"x0": X[:, 0], "x1": X[:, 1], "label": [b"1", b"0", b"0", b"0"]})
    assert read_rows(labelled, train).y.tolist() == [1, 0, 0, 0]


def test_one_class_against_the_rest_encodes_every_other_label_as_rest():
    frame = pd.DataFrame({"x": np.arange(8.0), "y": list("aabbccca")})
    train = load_data(frame, target="y", positive="b")
    assert train.classes == ("rest", "b")
    assert read_rows(frame.assign(y=list("abzbcc" + "b") + [None]), train).y.tolist() == [0, 1, 0, 1, 0, 0, 1, -1]


def test_image_arrays_with_and_without_labels():
    images = np.zeros((6, 8, 8, 1), dtype=np.uint8)
    images[:, 0, 0, 0] = np.arange(6)
    train = load_images((images, np.array([3, 3, 3, 3, 7, 7])))
    reference = ImageData(images=np.zeros((0, 8, 8, 1), dtype=np.uint8), y=np.zeros(0, dtype=np.int64),
                          classes=train.classes)
    rows = read_rows(images[..., 0], reference)  # no channel axis, no labels
    assert isinstance(rows, ImageData) and rows.y.tolist() == [-1] * 6 and rows.classes == ("3", "7")
    np.testing.assert_array_equal(rows.images, images)
    assert read_rows((images, np.array([7, 3, 9, 3, 3, 7])), reference).y.tolist() == [1, 0, -1, 0, 0, 1]
    scaled = read_rows(tf.data.Dataset.from_tensor_slices(images.astype("float32") / 255.0), reference)
    np.testing.assert_array_equal(scaled.images, images)
    with pytest.raises(DataError, match="Images from arrays are 4x4x1; the model was built for 8x8x1."):
        read_rows((images[:, :4, :4], np.zeros(6)), reference)


def test_tfds_table_mock(train):
    import tensorflow_datasets as tfds

    titanic = None
    with tfds.testing.mock_data(num_examples=30):
        titanic = load_data("tfds:titanic:train", target="survived")
        rows = read_rows("tfds:titanic:train", titanic)
    assert rows.columns == titanic.columns and rows.n_rows == 30
    assert set(rows.y.tolist()) <= {0, 1}  # the label feature is there: encoded, not -1


def test_synthetic_fraud_loses_no_column_and_reads_back_as_rows(tmp_path):
    from raretune.datasets.builders.synthetic_fraud.synthetic_fraud_dataset_builder import FEATURE_NAMES

    data = load_data("tfds:synthetic_fraud/small", data_dir=tmp_path)  # 20,000 rows made on first use
    assert data.n_rows == 20_000 and data.target == "is_fraud" and data.dropped == ()
    assert sorted(data.columns) == sorted(FEATURE_NAMES)
    rows = read_rows("tfds:synthetic_fraud/small:train", data, data_dir=tmp_path)
    np.testing.assert_array_equal(rows.y, data.y)  # the label feature is read and encoded
    pd.testing.assert_frame_equal(rows.features, data.features)
