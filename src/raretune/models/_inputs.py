"""Raw named columns in, encoded features out: the preprocessing every tabular graph shares."""

from __future__ import annotations

import math

import keras

from ._schema import FeatureSchema

__all__ = ["encoded_inputs"]


def encoded_inputs(schema: FeatureSchema, seed, towers: int | None = None, *, one_hot: bool = False):
    """``(inputs, features)``: named raw-column inputs and their encoded, concatenated form.

    With ``towers``, features are ``(batch, towers, width)``: numeric columns repeated, and
    each tower with embeddings of its own (a shared, trained embedding would carry what one
    fold's labels taught it into the tower that must not see that fold). With ``one_hot``
    (no towers), a categorical column is its one-hot indicators instead of an embedding,
    out-of-vocabulary slot first.
    """
    inputs, encoded = {}, []
    numeric_inputs = []
    for input_name, column in zip(schema.input_names, schema.columns):
        if column in schema.numeric:
            inputs[input_name] = keras.Input(shape=(1,), name=input_name, dtype="float32")
            numeric_inputs.append(inputs[input_name])
        else:
            inputs[input_name] = keras.Input(shape=(1,), name=input_name, dtype="string")
    if numeric_inputs:
        stacked = numeric_inputs[0] if len(numeric_inputs) == 1 else keras.layers.Concatenate(name="numeric")(numeric_inputs)
        normalized = keras.layers.Normalization(mean=list(schema.means), variance=list(schema.variances), name="normalize")(stacked)
        encoded.append(normalized if towers is None else keras.layers.RepeatVector(towers, name="per_tower")(normalized))
    for input_name, column, vocabulary in zip(
        schema.input_names[len(schema.numeric):], schema.categorical, schema.vocabularies
    ):
        if one_hot:
            encoded.append(keras.layers.StringLookup(vocabulary=list(vocabulary), num_oov_indices=1, output_mode="one_hot",
                                                     name=f"onehot_{input_name}")(inputs[input_name]))
            continue
        lookup = keras.layers.StringLookup(vocabulary=list(vocabulary), num_oov_indices=1, name=f"lookup_{input_name}")
        dim = int(min(16, max(2, math.ceil(len(vocabulary) ** 0.5))))
        embedded = keras.layers.Embedding(
            len(vocabulary) + 1, dim * (towers or 1), name=f"embed_{input_name}",
            embeddings_initializer=keras.initializers.RandomUniform(-0.05, 0.05, seed=seed),
        )(lookup(inputs[input_name]))
        if towers is None:
            encoded.append(keras.layers.Flatten(name=f"flat_{input_name}")(embedded))
        else:
            encoded.append(keras.layers.Reshape((towers, dim), name=f"split_{input_name}")(embedded))
    features = encoded[0] if len(encoded) == 1 else keras.layers.Concatenate(axis=-1, name="features")(encoded)
    return inputs, features
