"""Fitted logistic regressions written as plain Keras models.

:func:`linear_features` is exactly the design matrix a raretune network sees
(training-median imputation, training-mean/variance scaling, one indicator per category
seen in training); :func:`logistic_model` copies regressions fitted on it (one per fold,
see ``raretune.tuning.cross_fit_logistic``) into :func:`~raretune.models.build_stacked_model`
with no hidden layer, so the result is an ordinary Keras model that plain Keras loads.
"""

from __future__ import annotations

import numpy as np

from .._schema import FeatureSchema

__all__ = ["linear_features", "logistic_model"]

def linear_features(schema: FeatureSchema, features) -> np.ndarray:
    """The design matrix a linear raretune network sees: scaled numbers and category indicators.

    Parameters
    ----------
    schema : FeatureSchema
        Learnt from the training rows (medians, means, variances, vocabularies).
    features : pandas.DataFrame
        Raw feature rows.

    Returns
    -------
    ndarray of shape (n_rows, n_numeric + total vocabulary size)
        A value outside a column's training vocabulary has no indicator (all zeros), as
        Keras' ``StringLookup`` maps it to the out-of-vocabulary slot.
    """
    inputs = schema.inputs(schema.impute(features))  # the graph imputes the same float32 medians
    n = len(features)
    parts = []
    if schema.numeric:
        numeric = np.hstack([inputs[name].astype("float64") for name in schema.input_names[: len(schema.numeric)]])
        parts.append((numeric - np.asarray(schema.means)) / np.sqrt(np.asarray(schema.variances)))
    for name, vocabulary in zip(schema.input_names[len(schema.numeric):], schema.vocabularies):
        index = {value: i for i, value in enumerate(vocabulary)}
        codes = np.array([index.get(v, -1) for v in inputs[name][:, 0]])
        onehot = np.zeros((n, len(vocabulary)))
        seen = codes >= 0
        onehot[np.flatnonzero(seen), codes[seen]] = 1.0
        parts.append(onehot)
    return np.hstack(parts) if parts else np.zeros((n, 0))


def logistic_model(schema: FeatureSchema, fitted, *, name: str = "raretune_logistic"):
    """A Keras model averaging the probabilities of fitted logistic regressions.

    Parameters
    ----------
    schema : FeatureSchema
        The schema whose :func:`linear_features` the regressions were fitted on.
    fitted : list of sklearn.linear_model.LogisticRegression
        Fitted on every class of ``schema`` (cross-fitting keeps each class in each fold).

    Returns
    -------
    keras.Model or None
        Same inputs and output as the search's networks; its predictions match the
        regressions' ``predict_proba`` within float32 rounding. ``None`` when a categorical
        column's embedding is narrower than the number of class scores (many classes,
        few categories), which the linear layout cannot hold.
    """
    from .._mlp import build_stacked_model

    k = len(fitted)
    n_out = 1 if schema.n_classes == 2 else schema.n_classes
    model = build_stacked_model(schema, n_towers=k, layers=0, dropout=0.0, seed=0, name=name)
    coefs = np.stack([m.coef_ for m in fitted]).astype("float64")  # (k, n_out, features)
    intercepts = np.stack([m.intercept_ for m in fitted]).astype("float64")  # (k, n_out)
    if any(len(m.classes_) != schema.n_classes for m in fitted):
        raise ValueError("Every regression must be fitted on every class.")
    n_numeric = len(schema.numeric)
    logits = model.get_layer("stacked_logits")
    width = logits.kernel.shape[1]
    kernel = np.zeros((k, width, n_out))
    kernel[:, :n_numeric, :] = coefs[:, :, :n_numeric].transpose(0, 2, 1)
    offset, column = n_numeric, n_numeric
    for name, vocabulary in zip(schema.input_names[n_numeric:], schema.vocabularies):
        embedding = model.get_layer(f"embed_{name}")
        dim = embedding.embeddings.shape[1]
        if dim < n_out:
            return None
        block = len(vocabulary) + 1  # tower t's rows: t * block (out of vocabulary), then its values
        table = np.zeros((k * block, dim))
        for t in range(k):
            for o in range(n_out):  # dimension o of tower t's embedding carries class score o
                table[t * block + 1:(t + 1) * block, o] = coefs[t, o, column:column + len(vocabulary)]
        kernel[:, offset:offset + n_out, :] = np.eye(n_out)
        embedding.embeddings.assign(table.astype("float32"))
        offset += dim
        column += len(vocabulary)
    logits.kernel.assign(kernel.astype("float32"))
    logits.bias.assign(intercepts.astype("float32"))
    return model
