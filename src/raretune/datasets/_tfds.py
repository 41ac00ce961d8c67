"""The one TFDS reader: ``"tfds:NAME[/CONFIG][:SPLIT]"`` as a table or as images.

It looks the builder up once, generates raretune's own builders (``synthetic_fraud``,
``synthetic_digits``) locally on first use, never downloads anything else, and reads a whole
split in batches: prepared tables of scalar features through batched
``tf.io.parse_example`` (the fast path), anything else through ``as_dataset``.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from .._errors import ConfigError, DataError
from ._images import RawImages, with_channels
from ._labels import list_names
from ._table import RawTable
from ._tfdata import columns_from_batch, decode_bytes, scalar_parse_spec

__all__ = ["TFDS_PREFIX", "is_tfds_source", "parse_tfds_source", "read_tfds"]

TFDS_PREFIX = "tfds:"
_CONVERT_BATCH = 8192
_READ_BATCH = 1024


def is_tfds_source(source) -> bool:
    """Whether ``source`` is a ``"tfds:..."`` name."""
    return isinstance(source, (str, os.PathLike)) and str(source).startswith(TFDS_PREFIX)


def parse_tfds_source(source: str):
    """Split ``"tfds:NAME[/CONFIG][:SPLIT]"`` into ``(name, split)``; ``split`` is None when absent."""
    spec = str(source)[len(TFDS_PREFIX):]
    name, _, split = spec.partition(":")
    if not name:
        raise ConfigError(f"Expected 'tfds:NAME[:SPLIT]'; got {str(source)!r}.")
    return name, (split or None)


def read_tfds(source, *, target: str | None = None, data_dir=None, kind: str | None = None) -> RawTable | RawImages:
    """Read a TFDS dataset (all splits joined when the source names none).

    Parameters
    ----------
    source : str
        ``"tfds:NAME[/CONFIG][:SPLIT]"``.
    target : str, optional
        The label feature of an image dataset (default: its supervised key, ``label``, or its
        one ``ClassLabel``). Tables name it later, as a column.
    data_dir : path, optional
        TFDS data folder.
    kind : {"table", "images"}, optional
        How to read it; by default images when the dataset has an ``Image`` feature.

    Returns
    -------
    RawTable or RawImages
    """
    import tensorflow_datasets as tfds

    from . import builders as _builders  # noqa: F401  (registers raretune's builders)

    name, split = parse_tfds_source(source)
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as exc:  # TFDS raises several types for unknown names
        raise DataError(f"Unknown TFDS dataset {name!r}: {str(exc).splitlines()[0]}") from None
    image_key = _image_key(builder.info.features)
    if kind is None:
        kind = "table" if image_key is None else "images"
    if kind == "images" and image_key is None:
        raise DataError(f"TFDS dataset {name!r} has no image feature.")
    label_key = _label_key(builder, target if kind == "images" else None)
    if not builder.is_prepared() and type(builder).__module__.startswith("raretune."):
        builder.download_and_prepare()  # raretune's own builders generate their data locally
    splits = list(builder.info.splits.keys()) or ["train"]
    if split is None:
        split = "+".join(sorted(splits))
    if kind == "images":
        return _read_images(builder, name, split, splits, image_key, label_key, str(source))
    frame = _fast_tfrecord_frame(builder, split)
    if frame is None:
        chunks = [
            columns_from_batch(batch, None, "")
            for batch in _as_dataset(builder, name, split, splits, batch_size=_CONVERT_BATCH).as_numpy_iterator()
        ]
        if not chunks:
            raise DataError(f"TFDS split {split!r} of {name!r} is empty.")
        frame = pd.DataFrame({k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]})
    return RawTable(decode_bytes(frame), label_key, str(source))


def _as_dataset(builder, name: str, split: str, splits: list, **kwargs):
    try:
        return builder.as_dataset(split=split, **kwargs)
    except Exception:
        if not builder.is_prepared():
            raise DataError(
                f"TFDS dataset {name!r} is not in the data dir {str(builder.data_dir_root)!r}; "
                "raretune never downloads: prepare it there first."
            ) from None
        raise DataError(f"TFDS dataset {name!r} has no split {split!r}; splits: {list_names(splits)}.") from None


def _read_images(builder, name, split, splits, image_key, label_key, source) -> RawImages:
    import tensorflow_datasets as tfds

    keys = [image_key] + ([label_key] if label_key is not None else [])
    dataset = _as_dataset(builder, name, split, splits)
    # under tfds.testing.mock_data the split sizes are unknown: always read fixed-size batches
    dataset = dataset.map(lambda example: tuple(example[k] for k in keys)).batch(_READ_BATCH)
    images, labels = [], []
    for batch in dataset.as_numpy_iterator():
        images.append(batch[0])
        if label_key is not None:
            labels.append(batch[1].reshape(-1))
    if not images:
        raise DataError(f"TFDS split {split!r} of {name!r} is empty.")
    names = None
    if label_key is not None:
        feature = builder.info.features[label_key]
        if isinstance(feature, tfds.features.ClassLabel) and feature.names:
            names = tuple(feature.names)
    return RawImages(
        with_channels(np.concatenate(images)),
        np.concatenate(labels) if labels else None,
        names,
        label_key or "label",
        source,
    )


def _image_key(features):
    import tensorflow_datasets as tfds

    keys = [k for k, v in features.items() if isinstance(v, tfds.features.Image)]
    if "image" in keys:
        return "image"
    return keys[0] if keys else None


def _label_key(builder, target):
    """``target`` when given, else the supervised label, a ``label`` feature or the one ``ClassLabel``."""
    import tensorflow_datasets as tfds

    features = builder.info.features
    if target is not None:
        if target not in features.keys():
            raise DataError(f"Unknown target {target!r}; features: {', '.join(features.keys())}.")
        return target
    supervised = builder.info.supervised_keys
    if supervised and isinstance(supervised, tuple) and len(supervised) >= 2 and isinstance(supervised[1], str):
        return supervised[1]
    if "label" in features.keys():
        return "label"
    labels = [k for k, v in features.items() if isinstance(v, tfds.features.ClassLabel)]
    return labels[0] if len(labels) == 1 else None


def _fast_tfrecord_frame(builder, split: str):
    """Read a prepared table of scalar features with batched ``tf.io.parse_example``.

    TFDS's ``as_dataset`` parses one example at a time (about 14 s for the 200,000-row
    default table here); parsing whole batches of serialized records is several times
    faster. Only for TFRecord files whose features are all scalars stored as they are
    decoded (numbers and text), and for plain split names; otherwise ``None``.
    """
    import tensorflow as tf

    if not builder.is_prepared() or str(getattr(builder.info, "file_format", "")).split(".")[-1].lower() != "tfrecord":
        return None
    spec = scalar_parse_spec(builder.info.features)
    if spec is None:
        return None
    files = []
    for part in split.split("+"):
        if part not in builder.info.splits:
            return None
        files.extend(str(f) for f in builder.info.splits[part].filepaths)
    records = tf.data.TFRecordDataset(files).batch(_CONVERT_BATCH)
    parsed = records.map(lambda batch: tf.io.parse_example(batch, spec), num_parallel_calls=tf.data.AUTOTUNE)
    chunks = list(parsed.as_numpy_iterator())
    if not chunks:
        return None
    return pd.DataFrame({name: np.concatenate([c[name] for c in chunks]) for name in spec})
