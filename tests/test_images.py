"""The image path: loading, the augment and SMOTE remedies, image runs and predict."""

from __future__ import annotations

import json

import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import raretune
from raretune import ConfigError, DataError
from raretune.cli import main
from raretune.datasets import ImageData, load_data, load_images, stratified_split
from raretune.remedies import check_strategies, stream_class_shares
from raretune.models import ImageSchema
from raretune.tuning import ImageHyperModel, augment_stream


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
    """A TFDS data dir holding synthetic_digits, generated once for the module."""
    data_dir = tmp_path_factory.mktemp("tfds")
    load_data("tfds:synthetic_digits", data_dir=data_dir)
    return data_dir


def _blobs(n, value, seed):
    """n 16x16 images: a bright square at a random place on a dark background."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 16, 16, 1), dtype=np.uint8)
    for i in range(n):
        r, c = rng.integers(3, 9, size=2)
        images[i, r:r + 5, c:c + 5, 0] = value
    return images


def _numbered(n):
    """n distinct images: the index is written into the first two pixels."""
    images = np.full((n, 16, 16, 1), 40, dtype=np.uint8)
    images[:, 0, 0, 0] = np.arange(n) % 256
    images[:, 0, 1, 0] = np.arange(n) // 256
    return images


# -- loading ----------------------------------------------------------------------------------


def test_synthetic_digits_load_as_images(digits_dir):
    data = load_data("tfds:synthetic_digits", data_dir=digits_dir)
    assert isinstance(data, ImageData)
    assert data.images.shape == (1673, 16, 16, 1) and data.images.dtype == np.uint8
    assert data.classes == tuple(str(d) for d in range(10))
    assert data.class_counts[8] == 50 and data.target == "label"

    binary = load_data("tfds:synthetic_digits", positive=8, data_dir=digits_dir)
    assert binary.classes == ("rest", "8") and binary.is_binary
    assert binary.y.sum() == 50 and np.array_equal(binary.images, data.images)

    train, validation, test = stratified_split(data, random_state=0)
    assert [p.n_rows for p in (train, validation, test)] == [1172, 252, 249]
    assert all(p.class_counts[8] >= 7 for p in (train, validation, test))
    assert train.images.shape[1:] == (16, 16, 1)


def test_inspect_describes_an_image_set(digits_dir, capsys):
    assert main(["inspect", "tfds:synthetic_digits", "--data-dir", str(digits_dir), "--positive", "8"]) == 0
    out = capsys.readouterr().out
    assert "images      16x16x1 uint8" in out and "50    2.989%  <- positive" in out


def test_tfds_mock_data_on_a_real_image_dataset(tmp_path):
    with tfds.testing.mock_data(num_examples=24):
        data = load_data("tfds:mnist", data_dir=tmp_path)
    assert isinstance(data, ImageData)
    assert data.images.shape == (24, 28, 28, 1) and data.images.dtype == np.uint8
    assert set(data.classes) <= {str(d) for d in range(10)} and data.n_rows == 24
    assert not any(tmp_path.iterdir())  # nothing written, nothing downloaded


def test_tf_data_pairs_batched_or_not_and_arrays():
    images = _blobs(12, 200, seed=0)
    y = np.array([0] * 9 + [1] * 3)
    pairs = tf.data.Dataset.from_tensor_slices((images, y))
    for source in (pairs, pairs.batch(5), (images, y), (images[..., 0], y)):
        data = load_data(source)
        assert isinstance(data, ImageData)
        np.testing.assert_array_equal(data.images, images)
        assert data.y.tolist() == y.tolist() and data.classes == ("0", "1")
    again = load_data(data, positive="1")  # an ImageData loads as itself (or one class against the rest)
    assert again.classes == ("0", "1") and again.y.tolist() == y.tolist()
    scaled = load_images((images.astype("float32") / 255.0, y))
    np.testing.assert_array_equal(scaled.images, images)
    assert "scaled" in scaled.notes[0]


def test_image_errors_are_one_line():
    images = _blobs(6, 200, seed=0)
    y = np.array([0, 0, 0, 0, 1, 1])
    with pytest.raises(DataError, match="expected 0-255"):
        load_images((images.astype("int32") * 3, y))
    with pytest.raises(DataError, match="one class only"):
        load_images((images, np.zeros(6)))
    reference = load_images((images, y))
    with pytest.raises(DataError, match="are 8x8x1; the model was built for 16x16x1"):
        load_data((images[:, :8, :8], y), reference=reference)


# -- remedies ---------------------------------------------------------------------------------


def test_remedy_kinds():
    assert check_strategies("none,augment,smote", kind="image") == ("none", "augment", "smote")
    with pytest.raises(ConfigError, match="'tomek' does not apply to images"):
        check_strategies(["none", "tomek"], kind="image")
    with pytest.raises(ConfigError, match="'augment' does not apply to tables"):
        check_strategies(["augment"], kind="table")


def _epoch(dataset):
    images, labels = zip(*dataset.as_numpy_iterator())
    return np.stack(images), np.array(labels)


def test_augment_stream_contract():
    majority, minority = _numbered(300), _blobs(20, 220, seed=1)
    images = np.concatenate([majority, minority])
    y = np.r_[np.zeros(300, dtype=int), np.ones(20, dtype=int)]
    stream = augment_stream(images, y, ratio=0.5, strength=0.1, seed=0)
    first, labels = _epoch(stream)

    # majority images: each exactly once per epoch, unchanged
    seen = first[labels == 0]
    keys = seen[:, 0, 0, 0].astype(int) + 256 * seen[:, 0, 1, 0].astype(int)
    assert sorted(keys.tolist()) == list(range(300))
    np.testing.assert_array_equal(seen, majority[keys])

    # minority share as asked: ratio 0.5 -> minority drawn like 150 images against 300
    share = (labels == 1).mean()
    assert stream_class_shares(y, 0.5)[1] == pytest.approx(1 / 3)
    assert abs(share - 1 / 3) < 0.06

    # augmented minority images: new views, same shape, dtype and value range
    drawn = first[labels == 1]
    assert drawn.shape[1:] == (16, 16, 1) and drawn.dtype == np.uint8
    is_original = [(image == minority).all(axis=(1, 2, 3)).any() for image in drawn]
    assert np.mean(is_original) < 0.1
    assert drawn.max() <= 255 and drawn.reshape(len(drawn), -1).max(axis=1).min() > 100

    # seeded repeat: the same seed gives the same epochs; each epoch draws afresh
    again, _ = _epoch(augment_stream(images, y, ratio=0.5, strength=0.1, seed=0))
    np.testing.assert_array_equal(first, again)
    other, _ = _epoch(augment_stream(images, y, ratio=0.5, strength=0.1, seed=1))
    assert other.shape != first.shape or not np.array_equal(other, first)
    second, _ = _epoch(stream)
    assert second.shape != first.shape or not np.array_equal(second, first)


def test_augment_stream_multiclass_and_nothing_rare():
    y = np.r_[np.zeros(60, dtype=int), np.ones(60, dtype=int), np.full(6, 2)]
    images = _blobs(len(y), 180, seed=2)
    _, labels = _epoch(augment_stream(images, y, ratio=0.5, seed=0))
    counts = np.bincount(labels, minlength=3)
    assert counts[0] == 60 and counts[1] == 60  # common classes once each
    assert 15 <= counts[2] <= 50  # the rare class drawn as if it had 30 images
    _, plain = _epoch(augment_stream(images, y, ratio=0.05, seed=0))
    assert np.bincount(plain).tolist() == [60, 60, 6]  # no class below 5% of 60: plain epoch


def test_smote_on_images_warns_with_the_memory_figure():
    images = np.concatenate([_blobs(40, 200, seed=3), _blobs(8, 90, seed=4)])
    train = load_images((images, np.r_[np.zeros(40), np.ones(8)]))
    hm = ImageHyperModel(ImageSchema.from_data(train), strategies=["smote"], random_state=0)
    settings = {"strategy": "smote", "smote_ratio": 1.0, "smote_k": 3}
    with pytest.warns(UserWarning, match=r"smote on images .* MiB for 48 training images of 16x16x1"):
        rows = hm.training_rows(train, settings, seed=0)
    assert rows.images.dtype == np.uint8 and rows.images.shape == (80, 16, 16, 1)
    np.testing.assert_array_equal(rows.images[:48], train.images)  # originals first, untouched
    assert rows.class_counts.tolist() == [40, 40]
    small = ImageHyperModel(ImageSchema.from_data(train), strategies=["smote"], random_state=0, memory_budget=1000)
    with pytest.raises(kt.errors.FailedTrialError, match="GiB budget"):
        small.training_rows(train, settings, seed=0)


# -- runs -------------------------------------------------------------------------------------


pytest_slow = pytest.mark.slow


def _run_cli(digits_dir, out, *extra):
    argv = ["run", "--data", "tfds:synthetic_digits", "--data-dir", str(digits_dir), "--out", str(out),
            "--max-trials", "2", "--max-epochs", "1", "--no-baseline", "--quiet", *extra]
    assert main(argv) == 0


@pytest_slow
def test_multiclass_image_run_and_predict(digits_dir, tmp_path, capsys):
    import keras

    out = tmp_path / "digits"
    _run_cli(digits_dir, out, "--strategies", "none,augment")
    for name in ["metrics.json", "model.keras", "scores.npz", "history.json", "trials.json", "config.json", "report.html"]:
        assert (out / name).exists(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"]["type"] == "multiclass" and metrics["task"]["classes"][8] == "8"
    assert metrics["threshold"] is None and metrics["data"]["columns"] == {"image": ["16x16x1 uint8"]}
    for key in ["pr_auc", "f1", "balanced_accuracy", "per_class"]:
        assert key in metrics["test"], key
    assert set(metrics["test"]["per_class"]) == {str(d) for d in range(10)}
    assert {row["name"] for row in metrics["leaderboard"] if row["kind"] == "remedy"} <= {"none", "augment"}
    assert [row["kind"] for row in metrics["leaderboard"]][0] == "chosen"
    with np.load(out / "scores.npz") as scores:
        assert scores["test_score"].shape == (249, 10)
    model = keras.models.load_model(out / "model.keras", compile=False)  # plain Keras
    assert model.inputs[0].dtype == "uint8" and model.output_shape == (None, 10)

    capsys.readouterr()
    assert main(["predict", str(out), "tfds:synthetic_digits", "--data-dir", str(digits_dir),
                 "--out", str(tmp_path / "p.csv")]) == 0
    frame = pd.read_csv(tmp_path / "p.csv")
    assert list(frame.columns) == [f"score_{d}" for d in range(10)] + ["prediction"]
    assert len(frame) == 1673 and np.allclose(frame.iloc[:, :10].sum(axis=1), 1.0, atol=1e-6)
    data = load_data("tfds:synthetic_digits", data_dir=digits_dir)
    loaded = raretune.load_run(out)
    calibrated = loaded["model"].predict(data.images[:50], verbose=0)  # model.keras holds the calibration
    np.testing.assert_allclose(frame.iloc[:50, :10].to_numpy(), calibrated, atol=1e-5)
    assert (frame["prediction"].astype(str).to_numpy() == np.array(data.classes)[frame.iloc[:, :10].to_numpy().argmax(1)]).all()

    assert main(["predict", str(out), "tfds:mnist", "--out", str(tmp_path / "q.csv")]) == 2
    assert "raretune: error:" in capsys.readouterr().err


@pytest_slow
def test_binary_image_run_and_predict(digits_dir, tmp_path, capsys):
    out = tmp_path / "eights"
    _run_cli(digits_dir, out, "--positive", "8", "--strategies", "class_weight,smote", "--max-trials", "3")
    assert "warning: smote on images interpolates flattened pixels" in capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"]["type"] == "binary" and metrics["task"]["classes"] == ["rest", "8"]
    assert metrics["threshold"]["value"] is not None and "intervals" in metrics["test"]
    assert metrics["search"]["strategies"] == ["class_weight", "smote"]
    with np.load(out / "scores.npz") as scores:
        assert scores["test_score"].shape == (metrics["data"]["n_test"],)
        assert scores["test_y"].sum() == metrics["data"]["split_class_counts"]["test"]["8"]

    data = load_data("tfds:synthetic_digits", positive=8, data_dir=digits_dir)
    frame = raretune.predict(out, (data.images, data.y))
    assert list(frame.columns) == ["score", "prediction"] and len(frame) == 1673
    assert (frame["prediction"] == np.where(frame["score"] >= metrics["threshold"]["value"], "8", "rest")).all()

    assert main(["run", "--data", "tfds:synthetic_digits", "--data-dir", str(digits_dir),
                 "--out", str(tmp_path / "bad"), "--strategies", "none,tomek"]) == 2
    assert "'tomek' does not apply to images" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
