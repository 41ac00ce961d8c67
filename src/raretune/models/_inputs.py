"""Raw named columns in, encoded features out: the preprocessing every tabular graph shares.

All of it happens inside the Keras graph, from statistics of the training rows: a missing
number (NaN) becomes the training median, numbers are standardised, a category becomes an
index into the training vocabulary (one out-of-vocabulary slot) and then an embedding or
indicators. With one schema per tower (cross-fitting), every tower gets its own medians,
means, variances and vocabularies, so nothing learnt from a tower's held-out fold reaches it.

Only built-in layers and ``keras.ops`` calls on symbolic tensors are used: Keras records
such a call as an operation node of the functional graph, its constant arguments (the
medians, the tower index tables) written into ``config.json``, and reloads it with
``keras.models.load_model`` in safe mode without any custom object.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from ._schema import FeatureSchema

__all__ = ["check_same_columns", "embedding_dim", "encoded_inputs"]


def embedding_dim(vocabulary_size: int) -> int:
    """Width of a categorical column's embedding: about the square root of its vocabulary, 2 to 16."""
    return int(min(16, max(2, math.ceil(vocabulary_size ** 0.5))))


def check_same_columns(schemas: Sequence[FeatureSchema]) -> None:
    """Raise ``ValueError`` unless the schemas describe the same columns and classes."""
    if not schemas:
        raise ValueError("At least one schema is needed.")
    first = schemas[0]
    for k, schema in enumerate(schemas[1:], start=1):
        for field in ("numeric", "categorical", "input_names", "n_classes"):
            if getattr(schema, field) != getattr(first, field):
                raise ValueError(f"Schema {k} differs from schema 0 in `{field}`: towers need the same columns.")


def tower_rows(schemas: Sequence[FeatureSchema], column: int) -> tuple:
    """``(union vocabulary, table, block)`` of categorical column ``column`` across towers.

    The graph looks a value up in the union of the towers' vocabularies, then
    ``table[union index, t]`` is the row of tower ``t``'s embedding: tower ``t`` owns rows
    ``t * block`` (its out-of-vocabulary slot, also for values only other towers saw) to
    ``t * block + len(its vocabulary)`` (slot ``1 + j`` for its ``j``-th value).
    """
    vocabularies = [schema.vocabularies[column] for schema in schemas]
    union = list(dict.fromkeys(value for vocabulary in vocabularies for value in vocabulary))
    block = max(len(v) for v in vocabularies) + 1
    table = np.zeros((len(union) + 1, len(schemas)), dtype="int32")
    for t, vocabulary in enumerate(vocabularies):
        slot = {value: 1 + j for j, value in enumerate(vocabulary)}
        table[:, t] = t * block + np.array([0] + [slot.get(value, 0) for value in union])
    return union, table, block


def encoded_inputs(schema: FeatureSchema | Sequence[FeatureSchema], seed: int | None = None, *, one_hot: bool = False):
    """``(inputs, features)``: named raw-column inputs and their encoded, concatenated form.

    Parameters
    ----------
    schema : FeatureSchema or sequence of FeatureSchema
        One schema: features are ``(batch, width)``. A sequence of K schemas of the same
        columns (one per tower): features are ``(batch, K, width)``, tower ``t``'s slice
        imputed, standardised and embedded with schema ``t``'s statistics and an
        embedding of its own (a shared, trained embedding would carry what one fold's
        labels taught it into the tower that must not see that fold).
    seed : int or None
        Seed of the embeddings' initialiser.
    one_hot : bool
        With one schema: a categorical column is its indicators (out-of-vocabulary slot
        first) instead of an embedding.

    Returns
    -------
    inputs : dict of keras.KerasTensor
        ``{input_name: (batch, 1)}``, float32 for numbers (NaN allowed: missing),
        string for categories.
    features : keras.KerasTensor
    """
    stacked = not isinstance(schema, FeatureSchema)
    schemas = list(schema) if stacked else [schema]
    check_same_columns(schemas)
    if stacked and one_hot:
        raise ValueError("one_hot encoding takes a single schema.")
    first, k = schemas[0], len(schemas)
    inputs, encoded, numeric_inputs = {}, [], []
    for input_name, column in zip(first.input_names, first.columns):
        if column in first.numeric:
            inputs[input_name] = keras.Input(shape=(1,), name=input_name, dtype="float32")
            numeric_inputs.append(inputs[input_name])
        else:
            inputs[input_name] = keras.Input(shape=(1,), name=input_name, dtype="string")

    def per_tower(field):  # (K, n_numeric) with towers, (n_numeric,) without
        values = np.array([getattr(s, field) for s in schemas], dtype="float64")
        return values if stacked else values[0]

    if numeric_inputs:
        x = numeric_inputs[0] if len(numeric_inputs) == 1 else keras.layers.Concatenate(name="numeric")(numeric_inputs)
        if stacked:
            x = keras.layers.RepeatVector(k, name="per_tower")(x)
        # missing values become the training medians inside the graph, so a saved model
        # takes raw rows with NaN as they come
        x = ops.where(ops.isnan(x), per_tower("medians").astype("float32"), x)
        encoded.append(keras.layers.Normalization(axis=(1, 2) if stacked else -1, mean=per_tower("means"),
                                                  variance=per_tower("variances"), name="normalize")(x))
    for c, (input_name, vocabulary) in enumerate(zip(first.input_names[len(first.numeric):], first.vocabularies)):
        initializer = keras.initializers.RandomUniform(-0.05, 0.05, seed=seed)
        if one_hot:
            encoded.append(keras.layers.StringLookup(vocabulary=list(vocabulary), num_oov_indices=1, output_mode="one_hot",
                                                     name=f"onehot_{input_name}")(inputs[input_name]))
        elif not stacked:
            index = keras.layers.StringLookup(vocabulary=list(vocabulary), num_oov_indices=1,
                                              name=f"lookup_{input_name}")(inputs[input_name])
            embedded = keras.layers.Embedding(len(vocabulary) + 1, embedding_dim(len(vocabulary)),
                                              embeddings_initializer=initializer, name=f"embed_{input_name}")(index)
            encoded.append(keras.layers.Flatten(name=f"flat_{input_name}")(embedded))
        else:
            union, table, block = tower_rows(schemas, c)
            index = keras.layers.StringLookup(vocabulary=union, num_oov_indices=1,
                                              name=f"lookup_{input_name}")(inputs[input_name])
            rows = ops.take(table, ops.squeeze(index, axis=-1), axis=0)  # (batch, K): each tower's own row
            encoded.append(keras.layers.Embedding(k * block, embedding_dim(block - 1), embeddings_initializer=initializer,
                                                  name=f"embed_{input_name}")(rows))
    features = encoded[0] if len(encoded) == 1 else keras.layers.Concatenate(axis=-1, name="features")(encoded)
    return inputs, features
