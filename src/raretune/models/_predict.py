"""Predictions of a raretune Keras model as float64 arrays."""

from __future__ import annotations

import logging

import numpy as np

__all__ = ["predict_images", "predict_proba"]

#: Images per prediction batch (a CNN's activations are large).
IMAGE_BATCH = 512


def predict_proba(model, inputs, *, batch_size: int = 65_536) -> np.ndarray:
    """Model outputs for a dict of input arrays (string columns included), as float64.

    Rows go to ``model.predict_on_batch`` a slice at a time: the same scores, bit for bit, as
    ``model.predict`` over a ``tf.data`` pipeline, and 10 to 12 times faster on 250,000 to
    1,000,000 rows here (``model.predict`` pays for its dataset iterator and callbacks on every
    call; the exact scorer calls this after every epoch).

    Returns shape (n,) for a one-unit (binary) model, (n, K) otherwise.
    """
    import tensorflow as tf

    columns = inputs if isinstance(inputs, dict) else None
    n = len(next(iter(columns.values()))) if columns is not None else len(inputs)
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(max(level, logging.ERROR))  # each new model traces its predict function once: expected
    try:
        parts = []
        for start in range(0, max(n, 1), batch_size):
            rows = slice(start, start + batch_size)
            batch = ({name: tf.constant(values[rows]) for name, values in columns.items()} if columns is not None
                     else tf.constant(inputs[rows]))
            parts.append(np.asarray(model.predict_on_batch(batch), dtype="float64"))
        proba = np.concatenate(parts)
    finally:
        logger.setLevel(level)
    return proba[:, 0] if proba.shape[1] == 1 else proba


def predict_images(model, images: np.ndarray) -> np.ndarray:
    """Model outputs for uint8 images, as float64: (n,) binary, (n, K) multiclass."""
    return predict_proba(model, images, batch_size=IMAGE_BATCH)
