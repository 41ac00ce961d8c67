"""Reading a ``tf.data.Dataset`` into numpy, in whole batches (never one element at a time).

A table comes from ``(features, label)`` pairs or dicts of scalar columns; images come from
``(image, label)`` pairs, bare images or dicts holding an image.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._errors import DataError
from ._images import with_channels
from ._labels import list_names

__all__ = ["columns_from_batch", "decode_bytes", "frame_from_dataset", "image_layout", "images_from_dataset",
           "is_tf_dataset", "scalar_parse_spec"]

_CONVERT_BATCH = 8192
_READ_BATCH = 1024


def is_tf_dataset(obj) -> bool:
    """Whether ``obj`` is a ``tf.data.Dataset`` (told without importing TensorFlow)."""
    return type(obj).__module__.startswith("tensorflow") and hasattr(obj, "element_spec")


def columns_from_batch(features, label, target: str) -> dict:
    """Flat columns (name -> 1-D array) of one batch of features, plus ``target`` when ``label`` is given."""
    columns = {}
    if isinstance(features, dict):
        features = _flatten(features)
        for key, value in features.items():
            value = np.asarray(value)
            if value.ndim > 2 or (value.ndim == 2 and value.shape[1] != 1):
                if value.ndim == 2:
                    for j in range(value.shape[1]):
                        columns[f"{key}_{j}"] = value[:, j]
                    continue
                raise DataError(
                    f"Feature {key!r} has shape {value.shape[1:]} per row; tabular data needs "
                    "scalars (image datasets are not supported by the tabular path)."
                )
            columns[key] = value.reshape(-1)
    else:
        value = np.asarray(features)
        if value.ndim == 1:
            value = value.reshape(-1, 1)
        if value.ndim != 2:
            raise DataError(
                f"Features have shape {value.shape[1:]} per row; tabular data needs a vector "
                "or a dict of scalars."
            )
        for j in range(value.shape[1]):
            columns[f"x{j}"] = value[:, j]
    if label is not None:
        columns[target] = np.asarray(label).reshape(-1)
    return columns


def _flatten(features: dict, prefix: str = "") -> dict:
    """Nested feature dicts (e.g. TFDS ``{"features": {...}, "label": ...}``) made flat."""
    flat = {}
    for key, value in features.items():
        if isinstance(value, dict):
            inner = "" if key == "features" else f"{prefix}{key}/"
            flat.update(_flatten(value, inner))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def frame_from_dataset(dataset, target: str, *, require_label: bool = True) -> pd.DataFrame:
    """The rows of a dataset of ``(features, label)`` pairs or dicts; the label becomes column ``target``.

    With ``require_label=False`` a dict without ``target`` and bare features are read too
    (rows to score), without a label column.
    """
    if not _is_batched(dataset.element_spec, target):
        dataset = dataset.batch(_CONVERT_BATCH)
    chunks = []
    for element in dataset.as_numpy_iterator():
        if isinstance(element, tuple):
            if len(element) != 2:
                raise DataError("A tf.data.Dataset must yield (features, label) pairs or dicts.")
            chunks.append(columns_from_batch(element[0], element[1], target))
        elif isinstance(element, dict):
            if target not in element:
                if require_label:
                    raise DataError(f"Unknown target column {target!r}; columns: {list_names(element)}.")
                chunks.append(columns_from_batch(element, None, target))
                continue
            features = {k: v for k, v in element.items() if k != target}
            chunks.append(columns_from_batch(features, element[target], target))
        elif not require_label:
            chunks.append(columns_from_batch(element, None, target))
        else:
            raise DataError("A tf.data.Dataset must yield (features, label) pairs or dicts.")
    if not chunks:
        raise DataError("The tf.data.Dataset is empty.")
    frame = pd.DataFrame({k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]})
    return decode_bytes(frame)


def _is_batched(spec, target: str) -> bool:
    """Whether a dataset of tables already yields batches (a leading ``None`` dimension)."""
    import tensorflow as tf

    first = spec[0] if isinstance(spec, tuple) else spec
    leaves = tf.nest.flatten(first)
    if not leaves or leaves[0].shape.rank is None or leaves[0].shape.rank < 1:
        return False
    if isinstance(spec, tuple):
        label = spec[1] if len(spec) == 2 else None
        return label is not None and label.shape.rank == 1 and label.shape[0] is None
    if isinstance(spec, dict) and target in spec:
        return spec[target].shape.rank == 1
    # no label to tell by: batches have an unknown leading dimension on every leaf
    return all(leaf.shape.rank is not None and leaf.shape.rank >= 1 and leaf.shape[0] is None for leaf in leaves)


def scalar_parse_spec(features) -> dict | None:
    """A ``tf.io.parse_example`` spec for TFDS features that are all scalars stored as they
    decode (numbers and text), else ``None``.

    Such features decode a whole batch of serialized records in one ``tf.io.parse_example``
    call, several times faster than TFDS's one-example-at-a-time decoding, with the same values.

    Parameters
    ----------
    features : tfds.features.FeaturesDict
    """
    import tensorflow as tf

    serialized = features.get_serialized_info()
    decoded = features.get_tensor_info()
    if not isinstance(serialized, dict) or set(serialized) != set(decoded):
        return None
    spec = {}
    for name, info in serialized.items():
        if not hasattr(info, "shape") or tuple(info.shape) != () or tuple(decoded[name].shape) != ():
            return None
        if info.tf_dtype != decoded[name].tf_dtype:
            return None
        spec[name] = tf.io.FixedLenFeature([], info.tf_dtype)
    return spec


def decode_bytes(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns of bytes (TFDS and TensorFlow text) as Python strings."""
    for name in frame.columns:
        column = frame[name]
        if column.dtype == object and len(column) and isinstance(column.iloc[0], bytes):
            frame[name] = column.str.decode("utf-8", errors="replace")
    return frame


# -- images -----------------------------------------------------------------------------------


def image_layout(spec):
    """``(batched, key)`` for a dataset of images (from its ``element_spec``), else None.

    ``key`` is None for ``(image, label)`` tuples or bare images, the image's key for dicts.
    An unbatched image has rank 2 or 3 (H, W[, C]) beside a scalar label; a batched one has
    rank 3 or 4 beside a label of rank 1.
    """
    import tensorflow as tf

    label = None
    if isinstance(spec, tuple):
        if len(spec) != 2:
            return None
        image, label = spec
        key = None
    elif isinstance(spec, dict):
        key = _image_key_of_spec(spec)
        if key is None:
            return None
        image = spec[key]
    else:
        image, key = spec, None
    if not isinstance(image, tf.TensorSpec) or image.shape.rank is None:
        return None
    rank = image.shape.rank
    label_rank = None if label is None or not isinstance(label, tf.TensorSpec) else label.shape.rank
    if label_rank == 1 and rank in (3, 4):
        return True, key
    if label_rank == 0 and rank in (2, 3):
        return False, key
    if label is None and isinstance(spec, dict):
        return (rank == 4), key
    if label is None and rank in (3, 4):
        # a bare image stream: rank 4 is batched; rank 3 is ambiguous and read as one image each
        return (rank == 4), key
    return None


def _image_key_of_spec(spec: dict):
    ranked = [k for k, v in spec.items() if getattr(v, "shape", None) is not None and v.shape.rank in (3, 4)]
    if "image" in ranked:
        return "image"
    return ranked[0] if len(ranked) == 1 else None


def images_from_dataset(dataset, target: str):
    """``(images, labels)`` of a dataset of images; ``labels`` is None when it has none."""
    layout = image_layout(dataset.element_spec)
    if layout is None:
        raise DataError("A tf.data.Dataset of images must yield (image, label) pairs, images, or dicts with an image.")
    batched, key = layout
    if not batched:
        dataset = dataset.batch(_READ_BATCH)
    images, labels = [], []
    for element in dataset.as_numpy_iterator():
        if isinstance(element, tuple):
            images.append(np.asarray(element[0]))
            labels.append(np.asarray(element[1]).reshape(-1))
        elif isinstance(element, dict):
            images.append(np.asarray(element[key]))
            if target in element:
                labels.append(np.asarray(element[target]).reshape(-1))
        else:
            images.append(np.asarray(element))
    if not images:
        raise DataError("The tf.data.Dataset is empty.")
    stacked = with_channels(np.concatenate(images))
    if labels and len(labels) != len(images):
        raise DataError(f"Some elements of the tf.data.Dataset lack the label {target!r}.")
    return stacked, (np.concatenate(labels) if labels else None)
