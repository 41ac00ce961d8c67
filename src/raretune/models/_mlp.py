"""Tabular networks: an MLP over raw columns, and K independent MLPs stacked as one graph."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from ._inputs import encoded_inputs
from ._schema import FeatureSchema

__all__ = ["build_stacked_model", "build_tabular_model", "tower_outputs"]


def build_stacked_model(
    schema: FeatureSchema | None = None,
    *,
    n_towers: int | None = None,
    schemas: Sequence[FeatureSchema] | None = None,
    layers: int = 2,
    units: int = 64,
    dropout: float = 0.1,
    initial_bias=None,
    seed: int | None = None,
    name: str = "raretune_mlp",
):
    """``n_towers`` independent MLPs computed as one stacked network, and their average.

    Each tower preprocesses the raw columns as :func:`build_tabular_model` does, with
    statistics of its own schema: with ``schemas`` (cross-fitting: schema ``t`` learnt on
    the rows outside fold ``t``, see :func:`~raretune.models.fold_schemas`) tower ``t`` imputes with its own
    medians, standardises with its own means and variances and looks categories up in its
    own vocabularies, each with an embedding of its own. Each hidden layer is one
    ``EinsumDense`` whose kernel holds every tower's weights side by side
    (``(towers, in, out)``), so K towers cost one layer's worth of graph and optimizer
    work instead of K. The layer ``towers`` outputs every tower's probabilities,
    ``(batch, n_towers, n_out)``; the model's output is their mean (batch, n_out). Only
    built-in layers and ``keras.ops``, so plain Keras loads the saved model.

    Parameters
    ----------
    schema : FeatureSchema, optional
        One schema for every tower (with ``n_towers``); give this or ``schemas``.
    n_towers : int, optional
        Independent networks; with ``schemas``, defaults to (and must equal) their number.
    schemas : sequence of FeatureSchema, optional
        One schema per tower, all of the same columns and classes.
    layers, units, dropout, initial_bias, seed, name
        As in :func:`build_tabular_model` (``layers`` = 0: logistic regressions).

    Returns
    -------
    keras.Model
        Layer ``normalize`` holds every tower's means and variances, shape
        ``(1, n_towers, n_numeric)``; categorical column ``c`` has one ``StringLookup``
        over the union of the towers' vocabularies and one ``Embedding`` ``embed_<c>``
        whose rows are split into per-tower blocks (see ``tower_rows``).
    """
    if (schema is None) == (schemas is None):
        raise ValueError("build_stacked_model takes `schema` (with `n_towers`) or `schemas`, not both.")
    if schemas is None:
        if n_towers is None:
            raise ValueError("build_stacked_model needs `n_towers` with a single `schema`.")
        schemas = [schema] * int(n_towers)
    elif n_towers is not None and int(n_towers) != len(schemas):
        raise ValueError(f"Invalid `n_towers`. Expected len(schemas)={len(schemas)}. Received: n_towers={n_towers}")
    schemas = list(schemas)
    k = len(schemas)
    inputs, features = encoded_inputs(schemas, seed)
    n_out = 1 if schemas[0].n_classes == 2 else schemas[0].n_classes

    def init(kind, offset):  # He (relu layers) or Glorot (output), per tower: EinsumDense's fans are per tower
        scale = 2.0 if kind == "he" else 1.0
        mode = "fan_in" if kind == "he" else "fan_avg"
        return keras.initializers.VarianceScaling(scale, mode, "uniform", seed=None if seed is None else seed + offset)

    x, width = features, None
    for i in range(layers):
        x = keras.layers.EinsumDense("bkf,kfu->bku" if i == 0 else "bku,kuv->bkv", output_shape=(k, units),
                                     bias_axes="ku" if i == 0 else "kv",
                                     activation="relu", kernel_initializer=init("he", i), name=f"stacked_dense_{i}")(x)
        if dropout > 0:
            x = keras.layers.Dropout(dropout, seed=seed, name=f"dropout_{i}")(x)
        width = units
    equation = "bkf,kfo->bko" if width is None else "bku,kuo->bko"
    # one bias for every tower, or one per tower (cross-fitting: each fold's own class counts)
    bias = "zeros" if initial_bias is None else keras.initializers.Constant(
        np.broadcast_to(np.asarray(initial_bias, dtype="float32").reshape(-1, n_out), (k, n_out)).copy())
    logits = keras.layers.EinsumDense(equation, output_shape=(k, n_out), bias_axes="ko", kernel_initializer=init("glorot", 99),
                                      bias_initializer=bias, name="stacked_logits")(x)
    towers = keras.layers.Activation("sigmoid" if n_out == 1 else "softmax", name="towers")(logits)
    probability = keras.layers.GlobalAveragePooling1D(name="probability")(towers)
    return keras.Model(inputs, probability, name=name)


def build_tabular_model(
    schema: FeatureSchema,
    *,
    layers: int = 2,
    units: int = 64,
    dropout: float = 0.1,
    initial_bias=None,
    seed: int | None = None,
    n_towers: int = 1,
    name: str = "raretune_mlp",
):
    """A Keras MLP that takes raw columns and does its own preprocessing.

    A missing number (NaN) becomes the training median and numeric columns pass through a
    ``Normalization`` layer holding the training means and variances; categorical columns through ``StringLookup`` (training vocabulary, one
    out-of-vocabulary slot) and an ``Embedding``. Only built-in Keras layers are used, so the
    saved ``.keras`` file loads with plain ``keras.models.load_model``.

    Parameters
    ----------
    schema : FeatureSchema
        Learnt from the training rows.
    layers, units : int
        Hidden layers and their width.
    dropout : float
        Dropout after each hidden layer.
    initial_bias : array-like, optional
        Initial bias of the output layer (see :func:`raretune.weighting.output_bias`).
    seed : int, optional
        Seed of the weight initialisers.
    n_towers : int
        With more than one, the model averages ``n_towers`` MLPs that share the input
        preprocessing (the balanced-bagging ensemble); tower ``t``'s layers are named
        ``tower{t}_...``.
    name : str
        Model name.

    Returns
    -------
    keras.Model
        Inputs: a dict ``{input_name: (batch, 1)}``. Output: the positive-class probability
        (batch, 1) for two classes, class probabilities (batch, K) otherwise.
    """
    inputs, features = encoded_inputs(schema, seed)
    n_out = 1 if schema.n_classes == 2 else schema.n_classes
    bias_init = "zeros" if initial_bias is None else keras.initializers.Constant(np.asarray(initial_bias, dtype="float32"))
    towers = []
    for t in range(n_towers):
        prefix = "" if n_towers == 1 else f"tower{t}_"
        tower_seed = None if seed is None else seed + 1000 * t
        x = features
        for i in range(layers):
            x = keras.layers.Dense(
                units, activation="relu", name=f"{prefix}dense_{i}",
                kernel_initializer=keras.initializers.HeUniform(seed=None if tower_seed is None else tower_seed + i),
            )(x)
            if dropout > 0:
                x = keras.layers.Dropout(dropout, seed=tower_seed, name=f"{prefix}dropout_{i}")(x)
        towers.append(keras.layers.Dense(
            n_out,
            activation="sigmoid" if n_out == 1 else "softmax",
            bias_initializer=bias_init,
            kernel_initializer=keras.initializers.GlorotUniform(seed=None if tower_seed is None else tower_seed + 99),
            name=f"{prefix}probability" if n_towers > 1 else "probability",
        )(x))
    outputs = towers[0] if n_towers == 1 else keras.layers.Average(name="probability")(towers)
    return keras.Model(inputs, outputs, name=name)


def tower_outputs(model):
    """The output layers of an ensemble's towers, in tower order."""
    layers = [layer for layer in model.layers if layer.name.startswith("tower") and layer.name.endswith("_probability")]
    return sorted(layers, key=lambda layer: int(layer.name[len("tower"):].split("_")[0]))
