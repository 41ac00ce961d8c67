import numpy as np
import pandas as pd
import pytest

from raretune import ConfigError, DataError
from raretune.datasets import MISSING_CATEGORY, load_data


def test_csv_and_parquet_give_the_same_table(tmp_path, frame):
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_parquet(tmp_path / "d.parquet")
    a = load_data(tmp_path / "d.csv", target="label")
    b = load_data(str(tmp_path / "d.parquet"), target="label")
    assert a.classes == b.classes == ("ok", "fraud")
    np.testing.assert_array_equal(a.y, b.y)
    assert a.numeric == ("a", "b", "c", "d") and a.categorical == ("channel",)
    pd.testing.assert_frame_equal(a.features, b.features)


def test_text_labels_make_the_minority_positive(frame):
    data = load_data(frame, target="label")
    assert data.classes[1] == "fraud"
    assert data.y.sum() == (frame["label"] == "fraud").sum()


def test_positive_can_name_the_majority():
    frame = pd.DataFrame({"x": [1.0, 2, 3, 4], "y": ["a", "a", "a", "b"]})
    data = load_data(frame, target="y", positive="a")
    assert data.classes == ("b", "a") and data.y.tolist() == [1, 1, 1, 0]


def test_unknown_positive_is_a_config_error():
    frame = pd.DataFrame({"x": [1.0, 2, 3], "y": ["a", "a", "b"]})
    with pytest.raises(ConfigError, match="'c' is not a label"):
        load_data(frame, target="y", positive="c")


def test_arrays_and_integer_labels():
    X = np.arange(20, dtype=float).reshape(10, 2)
    data = load_data((X, np.r_[np.zeros(8), np.ones(2)]))
    assert data.classes == ("0", "1") and data.numeric == ("x0", "x1")
    assert data.y.tolist() == [0] * 8 + [1] * 2


def test_tf_dataset_unbatched_and_batched_agree():
    import tensorflow as tf

    X = np.random.default_rng(0).normal(size=(50, 3)).astype("float32")
    y = (np.arange(50) % 10 == 0).astype("int64")
    unbatched = load_data(tf.data.Dataset.from_tensor_slices((X, y)))
    batched = load_data(tf.data.Dataset.from_tensor_slices((X, y)).batch(7))
    np.testing.assert_allclose(unbatched.features.to_numpy(), X)
    np.testing.assert_array_equal(batched.y, y)
    np.testing.assert_allclose(batched.features.to_numpy(), X)


def test_tf_dataset_of_dicts_with_text():
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(
        {"amount": [1.0, 2.0, 3.0, 4.0], "kind": [b"a", b"b", b"a", b"a"], "target": [0, 0, 0, 1]}
    )
    data = load_data(ds, target="target")
    assert data.categorical == ("kind",) and data.features["kind"].tolist() == ["a", "b", "a", "a"]


def test_missing_values_are_noted():
    frame = pd.DataFrame({"x": [1.0, None, 3.0, 4.0], "k": ["a", None, "b", "a"], "y": [0, 0, 0, 1]})
    data = load_data(frame, target="y")
    assert np.isnan(data.features["x"][1])
    assert data.features["k"][1] == MISSING_CATEGORY
    assert any("imputed" in n for n in data.notes) and any(MISSING_CATEGORY in n for n in data.notes)


def test_rows_without_label_are_dropped_and_noted():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [0, None, 0, 1]})
    data = load_data(frame, target="y")
    assert data.n_rows == 3 and "1 rows without a label" in data.notes[0]


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is empty"),
        ("a,b,label\n", "header but no rows"),
        ("a,label\n1,0\n2,0\n", "one class only"),
        ("a,label\n1,0\ninf,1\n", "infinite values"),
        ("a,label\n1,0\nx,1\n2,0\n", None),  # a text column is categorical, not an error
    ],
)
def test_bad_files(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    if message is None:
        assert load_data(path, target="label").categorical == ("a",)
        return
    with pytest.raises(DataError, match=message):
        load_data(path, target="label")


def test_missing_file_and_unknown_target_list_what_exists(tmp_path, csv_path):
    with pytest.raises(DataError, match="File not found"):
        load_data(tmp_path / "nope.csv", target="label")
    with pytest.raises(DataError, match=r"Unknown target column 'lbl'; columns: a, b, c, d, channel, label"):
        load_data(csv_path, target="lbl")


def test_reference_mode_uses_training_classes_and_columns(frame):
    train = load_data(frame, target="label")
    test = load_data(frame.drop(columns=["d"]).assign(d=1.0, extra="x"), reference=train)
    assert test.classes == train.classes and test.columns == train.columns
    with pytest.raises(DataError, match="Column 'c' is missing"):
        load_data(frame.drop(columns=["c"]), reference=train)
    with pytest.raises(DataError, match="was not seen in the training data"):
        load_data(frame.assign(label="maybe"), reference=train)


def test_tfds_source_reads_a_prepared_dataset(tmp_path):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=20):
        # mock_data answers for any registered builder; raretune's loader batches the split
        data = load_data("tfds:titanic:train", target="survived")
    assert data.n_rows == 20 and data.target == "survived"


def test_a_repeated_label_header_is_a_target_leak(tmp_path):
    path = tmp_path / "leak.csv"
    path.write_text("x,label,label\n0.1,0,0\n0.4,0,0\n0.2,1,1\n0.9,0,0\n")
    with pytest.raises(DataError, match=r"^Column 'label\.1' repeats the label 'label' \(a target leak\); drop it\.$"):
        load_data(path, target="label")
    # a column that agrees with the label on some rows only is a feature
    path.write_text("x,label,flag\n0.1,0,0\n0.4,0,1\n0.2,1,1\n0.9,0,0\n")
    assert load_data(path, target="label").columns == ("x", "flag")


def test_a_text_copy_of_the_label_is_a_leak_too():
    frame = pd.DataFrame({"x": [1.0, 2, 3, 4], "y": ["a", "a", "b", "a"], "y_copy": ["a", "a", "b", "a"]})
    with pytest.raises(DataError, match="'y_copy' repeats the label 'y'"):
        load_data(frame, target="y")
    with pytest.raises(DataError, match="'y' appears twice"):
        load_data(pd.concat([frame[["x", "y"]], frame[["y"]]], axis=1), target="y")
