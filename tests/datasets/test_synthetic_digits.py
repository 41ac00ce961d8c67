"""Tests of the ``synthetic_digits`` TFDS builder (written to temporary folders)."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import raretune.datasets.builders  # noqa: F401  (registers the builders)
from raretune.datasets.builders.synthetic_digits import synthetic_digits_dataset_builder as sd

N_ROWS = 1_673
COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 50, 180]

# tfds.testing.DatasetBuilderTestCase imports dill, which TFDS does not install.
HAS_DILL = importlib.util.find_spec("dill") is not None

if HAS_DILL:

    class SyntheticDigitsBuilderTest(tfds.testing.DatasetBuilderTestCase):
        """TFDS's own checks: registration, info, prepare, as_dataset, specs, counts, reload."""

        DATASET_CLASS = sd.Builder
        SPLITS = {"train": N_ROWS}
        # Nothing is downloaded; TFDS only needs an existing folder to stand for dummy data.
        EXAMPLE_DIR = os.path.dirname(sd.__file__)

else:

    @pytest.mark.skip(reason="tfds.testing.DatasetBuilderTestCase needs the package dill")
    def test_tfds_dataset_builder_checks():
        """Placeholder that shows up as skipped where ``dill`` is missing."""


def test_make_digits_keeps_digit_8_rare():
    index, images, labels = sd.make_digits()
    assert images.shape == (N_ROWS, 16, 16, 1) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and index.dtype == np.int64
    assert np.bincount(labels, minlength=10).tolist() == COUNTS
    assert abs((labels == sd.RARE_DIGIT).mean() - sd.RARE_SHARE) < 0.001
    assert np.all(np.diff(index) > 0)
    assert images.min() == 0 and images.max() == 255


def test_make_digits_is_deterministic_and_faithful():
    from sklearn.datasets import load_digits

    first, again = sd.make_digits(), sd.make_digits()
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    index, images, labels = first
    digits = load_digits()
    np.testing.assert_array_equal(labels, digits.target[index])
    # Averaging each 2x2 block of the upscaled image gives back the 8x8 original, roughly.
    blocks = images[..., 0].reshape(-1, 8, 2, 8, 2).mean(axis=(2, 4))
    original = digits.images[index] * 255 / 16
    assert np.abs(blocks - original).mean() < 20
    # Another seed keeps other images of the rare digit.
    other_index, _, _ = sd.make_digits(seed=1)
    assert not np.array_equal(index, other_index)


def test_tfds_load_as_supervised(tmp_path):
    ds = tfds.load("synthetic_digits", split="train", as_supervised=True, data_dir=tmp_path)
    image_spec, label_spec = ds.element_spec
    assert image_spec == tf.TensorSpec((16, 16, 1), tf.uint8)
    assert label_spec == tf.TensorSpec((), tf.int64)

    builder = tfds.builder("synthetic_digits", data_dir=tmp_path)
    assert builder.builder_config.name == "default"
    assert builder.info.features["label"].names == [str(d) for d in range(10)]
    assert builder.info.supervised_keys == ("image", "label")
    assert builder.info.splits["train"].num_examples == N_ROWS

    images, labels = tfds.as_numpy(
        tfds.load("synthetic_digits", split="train", as_supervised=True, data_dir=tmp_path,
                  batch_size=-1)
    )
    assert np.bincount(labels, minlength=10).tolist() == COUNTS
    # PNG is lossless: the stored images are exactly make_digits' (in TFDS's shuffled order).
    _, expected, expected_labels = sd.make_digits()
    order = np.lexsort((images.reshape(N_ROWS, -1).T[::-1]))
    expected_order = np.lexsort((expected.reshape(N_ROWS, -1).T[::-1]))
    np.testing.assert_array_equal(images[order], expected[expected_order])
    np.testing.assert_array_equal(labels[order], expected_labels[expected_order])
