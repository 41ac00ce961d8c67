"""Predictions of a raretune Keras model as float64 arrays."""

from __future__ import annotations

import logging

import numpy as np

__all__ = ["predict_images", "predict_proba"]

#: Images per prediction batch (a CNN's activations are large).
IMAGE_BATCH = 512


def predict_proba(model, inputs, *, batch_size: int = 4096) -> np.ndarray:
    """Model outputs for a dict of input arrays (string columns included), as float64.

    Returns shape (n,) for a one-unit (binary) model, (n, K) otherwise.
    """
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(inputs).batch(batch_size)
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(max(level, logging.ERROR))  # each new model traces its predict function once: expected
    try:
        proba = np.asarray(model.predict(dataset, verbose=0), dtype="float64")
    finally:
        logger.setLevel(level)
    return proba[:, 0] if proba.shape[1] == 1 else proba


def predict_images(model, images: np.ndarray) -> np.ndarray:
    """Model outputs for uint8 images, as float64: (n,) binary, (n, K) multiclass."""
    return predict_proba(model, images, batch_size=IMAGE_BATCH)
