"""The one source dispatcher: what kind of source this is, read as a table or as images.

Sources: ``"tfds:NAME[/CONFIG][:SPLIT]"``, a ``.csv`` or ``.parquet`` path, a folder or glob
of Parquet shards (read whole here; ``raretune run`` streams them, see ``_stream_pass``), a pandas
DataFrame, an ``(X, y)`` pair of arrays, a ``tf.data.Dataset``, image arrays
(``(images, labels)`` or bare images of shape (n, H, W[, C])) and an ``ImageData``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .._errors import DataError
from ._images import ImageData, RawImages, with_channels
from ._shards import is_sharded_source, sharded_source
from ._table import RawTable
from ._tfdata import frame_from_dataset, image_layout, images_from_dataset, is_tf_dataset
from ._tfds import is_tfds_source, read_tfds

__all__ = ["read_frame", "read_source"]


def read_source(
    source, *, target: str | None = None, data_dir=None, kind: str | None = None, require_label: bool = True,
) -> RawTable | RawImages:
    """Read any supported source, as it is (nothing typed, checked or encoded yet).

    Parameters
    ----------
    source : str, path, DataFrame, tuple, numpy.ndarray, tf.data.Dataset or ImageData
    target : str, optional
        The label's name, for sources that do not name it (``(X, y)``, ``tf.data``; default
        ``"label"``), or the label feature of a TFDS image dataset.
    data_dir : path, optional
        TFDS data folder.
    kind : {"table", "images"}, optional
        How to read the source; by default told from the source (images: a TFDS dataset with
        an ``Image`` feature, arrays of rank 3 or 4, a dataset yielding images).
    require_label : bool, default True
        False reads rows to score: a ``tf.data.Dataset`` may yield features only and a table
        may be a bare 2-D array.

    Returns
    -------
    RawTable or RawImages
    """
    if is_tfds_source(source):
        return read_tfds(str(source), target=target, data_dir=data_dir, kind=kind)
    if kind is None:
        kind = "images" if _holds_images(source) else "table"
    if kind == "images":
        return _read_images(source, target or "label")
    return _read_table(source, target or "label", require_label)


def read_frame(path) -> pd.DataFrame:
    """Read a ``.csv`` or ``.parquet`` file into a DataFrame, with one-line errors."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise DataError(
            f"Cannot read {str(path)!r}: expected a .csv or .parquet file, or 'tfds:NAME'."
        )
    if not path.exists():
        raise DataError(f"File not found: {str(path)!r}.")
    if path.is_dir():
        raise DataError(f"{str(path)!r} is a folder, not a data file.")
    if path.stat().st_size == 0:
        raise DataError(f"File {str(path)!r} is empty.")
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, low_memory=False)
        else:
            frame = pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"File {str(path)!r} is empty.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"Cannot parse {str(path)!r}: {reason}") from None
    if frame.shape[0] == 0:
        raise DataError(f"File {str(path)!r} has a header but no rows.")
    return frame


def _holds_images(source) -> bool:
    """Whether a source other than TFDS holds images; what it cannot tell goes to the table path."""
    if isinstance(source, ImageData):
        return True
    if isinstance(source, tuple) and len(source) == 2:
        return np.ndim(source[0]) in (3, 4) and not hasattr(source[0], "columns")
    if isinstance(source, np.ndarray):
        return source.ndim in (3, 4)
    if is_tf_dataset(source):
        return image_layout(source.element_spec) is not None
    return False


def _read_table(source, target: str, require_label: bool) -> RawTable:
    if is_sharded_source(source):  # in memory on request; ``raretune run`` streams shards instead
        frames = [frame for _, _, frame in sharded_source(source).batches()]
        return RawTable(pd.concat(frames, ignore_index=True), None, str(source))
    if isinstance(source, (str, os.PathLike)):
        return RawTable(read_frame(source), None, str(source))
    if isinstance(source, pd.DataFrame):
        return RawTable(source.copy(), None, "DataFrame")
    if isinstance(source, tuple) and len(source) == 2:
        return RawTable(_frame_from_arrays(source[0], source[1], target), target, "arrays")
    if not require_label and isinstance(source, np.ndarray):
        return RawTable(_frame_from_arrays(source, None, target), None, "array")
    if is_tf_dataset(source):
        return RawTable(frame_from_dataset(source, target, require_label=require_label), target, "tf.data.Dataset")
    raise DataError(
        f"Cannot load data from a {type(source).__name__}: pass 'tfds:NAME', a .csv or "
        ".parquet path, a DataFrame, an (X, y) pair or a tf.data.Dataset."
    )


def _frame_from_arrays(X, y, target: str) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        frame = X.reset_index(drop=True).copy()
    else:
        X = np.asarray(X)
        if X.ndim != 2:
            raise DataError(f"X must be a 2-D array of shape (n_rows, n_features); got shape {X.shape}.")
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    if y is None:
        return frame
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != frame.shape[0]:
        raise DataError(f"y must be 1-D with one label per row of X ({frame.shape[0]}); got shape {y.shape}.")
    if target in frame.columns:
        raise DataError(f"X already has a column named {target!r}; pass another target= name.")
    frame[target] = y
    return frame


def _read_images(source, target: str) -> RawImages:
    if isinstance(source, ImageData):
        return RawImages(source.images, source.y, source.classes, source.target, source.source or "ImageData")
    if isinstance(source, tuple) and len(source) == 2:
        images, labels = np.asarray(source[0]), np.asarray(source[1])
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise DataError(
                f"labels must be 1-D with one label per image ({images.shape[0]}); got shape {labels.shape}."
            )
        return RawImages(with_channels(images), labels, None, target, "arrays")
    if isinstance(source, np.ndarray):
        return RawImages(with_channels(source), None, None, target, "array")
    if is_tf_dataset(source):
        images, labels = images_from_dataset(source, target)
        return RawImages(images, labels, None, target, "tf.data.Dataset")
    raise DataError(
        f"Cannot read images from a {type(source).__name__}: pass 'tfds:NAME', a tf.data.Dataset "
        "of (image, label) pairs or an (images, labels) pair of arrays."
    )
