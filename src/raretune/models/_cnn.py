"""The image network: a small CNN over uint8 images that rescales them itself."""

from __future__ import annotations

import keras
import numpy as np

from ._schema import ImageSchema

__all__ = ["build_image_model"]


def build_image_model(
    schema: ImageSchema,
    *,
    blocks: int = 2,
    filters: int = 16,
    dropout: float = 0.25,
    initial_bias=None,
    seed: int | None = None,
    name: str = "raretune_cnn",
):
    """A small Keras CNN that takes uint8 images and rescales them itself.

    ``Rescaling(1/255)``, then ``blocks`` blocks of a 3x3 ``Conv2D`` (``filters``,
    doubling each block) and 2x2 max pooling (while the image is at least 4 pixels across),
    then flatten (or global average pooling for large maps), dropout and the output layer.
    Only built-in Keras layers are used, so ``model.keras`` loads with plain Keras.

    Parameters
    ----------
    schema : ImageSchema
    blocks, filters : int
        Convolution blocks and the filters of the first one.
    dropout : float
        Dropout before the output layer.
    initial_bias : array-like, optional
        Initial bias of the output layer (see :func:`raretune.weighting.output_bias`).
    seed : int, optional
        Seed of the weight initialisers.
    name : str
        Model name.

    Returns
    -------
    keras.Model
        Input ``image``: uint8 (batch, H, W, C). Output: the positive-class probability
        (batch, 1) for two classes, class probabilities (batch, K) otherwise.
    """
    inputs = keras.Input(shape=tuple(schema.image_shape), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    height, width = schema.image_shape[0], schema.image_shape[1]
    for i in range(blocks):
        x = keras.layers.Conv2D(
            filters * 2**i, 3, padding="same", activation="relu", name=f"conv_{i}",
            kernel_initializer=keras.initializers.HeUniform(seed=None if seed is None else seed + i),
        )(x)
        if min(height, width) >= 4:
            x = keras.layers.MaxPooling2D(2, name=f"pool_{i}")(x)
            height, width = height // 2, width // 2
    if height * width * filters * 2 ** max(blocks - 1, 0) <= 4096:
        x = keras.layers.Flatten(name="flatten")(x)
    else:
        x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    if dropout > 0:
        x = keras.layers.Dropout(dropout, seed=seed, name="dropout")(x)
    n_out = 1 if schema.n_classes == 2 else schema.n_classes
    bias_init = "zeros" if initial_bias is None else keras.initializers.Constant(np.asarray(initial_bias, dtype="float32"))
    outputs = keras.layers.Dense(
        n_out,
        activation="sigmoid" if n_out == 1 else "softmax",
        bias_initializer=bias_init,
        kernel_initializer=keras.initializers.GlorotUniform(seed=None if seed is None else seed + 99),
        name="probability",
    )(x)
    return keras.Model(inputs, outputs, name=name)
