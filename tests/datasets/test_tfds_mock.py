"""The TFDS image path without a download: ``tfds.testing.mock_data`` on a real dataset name.

``mock_data`` patches ``tfds.load``/``tfds.builder`` so that the real builder's features
are used but the examples are random values of the right specs. Nothing is downloaded or
written.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds


@pytest.mark.parametrize(
    ("name", "image_shape", "num_classes"),
    [("mnist", (28, 28, 1), 10), ("cifar10", (32, 32, 3), 10)],
)
def test_mock_data_gives_image_label_pairs(tmp_path, name, image_shape, num_classes):
    with tfds.testing.mock_data(num_examples=12):
        ds = tfds.load(name, split="train", as_supervised=True, data_dir=tmp_path)
        info = tfds.builder(name, data_dir=tmp_path).info
        image_spec, label_spec = ds.element_spec
        assert image_spec == tf.TensorSpec(image_shape, tf.uint8)
        assert label_spec == tf.TensorSpec((), tf.int64)
        assert info.features["label"].num_classes == num_classes

        pairs = list(tfds.as_numpy(ds))
        assert len(pairs) == 12
        labels = np.array([label for _, label in pairs])
        assert labels.min() >= 0 and labels.max() < num_classes
        assert all(image.shape == image_shape and image.dtype == np.uint8 for image, _ in pairs)

        # Under mock_data the split sizes are unknown (info.splits is empty), so
        # batch_size=-1 would batch sys.maxsize examples and abort the process; read in
        # fixed-size batches instead.
        assert info.splits.total_num_examples == 0
        batches = list(tfds.as_numpy(ds.batch(5)))
        images = np.concatenate([images for images, _ in batches])
        assert images.shape == (12, *image_shape)
    assert not any(tmp_path.iterdir())  # nothing was written
