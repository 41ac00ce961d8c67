"""The public readers: labelled data to train on (:func:`load_data`, :func:`load_images`) and
rows to score or evaluate with a finished run (:func:`read_rows`)."""

from __future__ import annotations

import os

from ._images import ImageData, RawImages, images_from_raw, images_like_reference
from ._sources import read_source
from ._table import TabularData, rows_like_reference, table_from_frame

__all__ = ["load_data", "load_images", "read_rows"]


def load_data(
    source,
    *,
    target: str | None = None,
    positive=None,
    reference: TabularData | None = None,
    data_dir: str | os.PathLike | None = None,
    keep=(),
    drop=(),
) -> TabularData | ImageData:
    """Load a labelled table (or image set) from any supported source.

    Parameters
    ----------
    source : str, path, DataFrame, tuple of arrays or tf.data.Dataset
        ``"tfds:NAME[:SPLIT]"`` loads a TFDS dataset from ``data_dir`` (raretune's own
        builders, such as ``synthetic_fraud``, are generated locally on first use; other
        datasets must already be there). Without ``SPLIT`` all splits are joined, since
        raretune makes its own stratified split. A path ending in ``.csv`` or ``.parquet``
        is read with pandas. ``(X, y)`` takes a 2-D array (or DataFrame) and labels. A
        ``tf.data.Dataset`` yields ``(features, label)`` pairs or dicts holding ``target``.
    target : str, optional
        The label column. Required for tables; for ``(X, y)`` and ``(features, label)``
        datasets it only names the label (default ``"label"``).
    positive : object, optional
        The positive class. By default the rarer of two classes. With more than two
        classes, naming one makes the task "this class versus the rest".
    reference : TabularData or ImageData, optional
        A table whose classes and columns this one must use (a fixed test set). Its feature
        columns must all be present; other columns are ignored. Rows to score, whose label
        may be missing, are read by :func:`read_rows` instead.
    data_dir : path, optional
        TFDS data folder (TFDS's default when omitted).
    keep : str or sequence of str, default ()
        Columns never left out as identifiers. A column is an identifier when it is text
        with a different value on every row, or whole numbers all distinct and strictly
        rising (or falling) in row order (a row number, a sequential id); identifiers are
        left out, each with a note, and named in ``TabularData.dropped``. Tables of fewer
        than 20 rows keep every column.
    drop : str or sequence of str, default ()
        More columns to leave out. ``keep`` and ``drop`` apply without ``reference`` only
        (with it, the reference's columns are used).

    Returns
    -------
    TabularData

    Raises
    ------
    DataError
        One line saying what is wrong: missing or empty file, unknown target (the columns
        are listed), one class only, infinite values, unknown label in ``reference`` mode,
        a feature column equal to the label (a target leak), a name in ``keep`` or
        ``drop`` that is not a column, dropping the target or every feature.

    Notes
    -----
    Image sources (a TFDS dataset with an image feature, a ``tf.data.Dataset`` of
    ``(image, label)`` pairs, ``(images, labels)`` arrays of shape (n, H, W[, C])) are
    read by :func:`raretune.datasets.load_images` and give an
    :class:`~raretune.datasets.ImageData` instead.
    """
    if isinstance(reference, TabularData):
        target = target or reference.target
    kind = "images" if isinstance(reference, ImageData) else "table" if reference is not None else None
    raw = read_source(source, target=target, data_dir=data_dir, kind=kind)
    if isinstance(raw, RawImages):
        return images_from_raw(raw, positive=positive, reference=reference)
    return table_from_frame(
        raw.frame, target=target or raw.target, positive=positive, source=raw.source, reference=reference,
        keep=keep, drop=drop,
    )


def load_images(
    source,
    *,
    target: str | None = None,
    positive=None,
    reference: ImageData | None = None,
    data_dir: str | os.PathLike | None = None,
) -> ImageData:
    """Load a labelled image set.

    Parameters
    ----------
    source : str, tf.data.Dataset, tuple of arrays or ImageData
        ``"tfds:NAME[/CONFIG][:SPLIT]"``: a TFDS dataset with an ``Image`` feature and a
        class label (raretune's own builders, such as ``synthetic_digits``, are generated
        locally on first use; other datasets must already be in ``data_dir``). Without
        ``SPLIT`` all splits are joined. A ``tf.data.Dataset`` yields ``(image, label)``
        pairs, batched or not, or dicts with an image and ``target``. ``(images, labels)``
        takes an array of shape (n, H, W[, C]).
    target : str, optional
        Name of the label (TFDS: the label feature; default its supervised key or
        ``"label"``).
    positive : object, optional
        The positive class; with more than two classes, "this class against the rest".
        Default: the rarer of two classes; several classes stay a multiclass task.
    reference : ImageData, optional
        An image set whose classes and image shape this one must use (a fixed test set).
    data_dir : path, optional
        TFDS data folder.

    Returns
    -------
    ImageData

    Raises
    ------
    DataError
        One line: not an image source, images of another shape than ``reference``, pixel
        values out of range, one class only, a dataset that is missing or empty.
    """
    raw = read_source(source, target=target, data_dir=data_dir, kind="images")
    return images_from_raw(raw, positive=positive, reference=reference)


def read_rows(
    source,
    reference: TabularData | ImageData,
    *,
    data_dir: str | os.PathLike | None = None,
) -> TabularData | ImageData:
    """Read rows to score (or evaluate) with the model trained on ``reference``.

    Unlike :func:`load_data`, no row is dropped and the label is optional: scoring needs
    every row, in order.

    Parameters
    ----------
    source : str, path, DataFrame, array, tuple or tf.data.Dataset
        Any source :func:`load_data` reads. Tables may also be a bare 2-D array (columns
        ``x0``, ``x1``, ...) or a ``tf.data.Dataset`` of features only; images a bare array
        of shape (n, H, W[, C]) or a dataset of images.
    reference : TabularData or ImageData
        What the model was trained on; only its schema is used, so it may have no rows. A
        table: its feature columns (all needed; other columns are ignored), their kinds,
        ``target`` and ``classes``. Images: the image shape and ``classes``.
    data_dir : path, optional
        TFDS data folder.

    Returns
    -------
    TabularData or ImageData
        Features typed like ``reference`` (categorical values as text, missing numbers as
        NaN; pixels as uint8) and ``reference``'s classes. ``y`` holds the class index of
        each row's label when the source has the label (column ``reference.target``, the
        second item of ``(X, y)``, a dataset's label, a TFDS label feature), and -1 where it
        has none: a missing label, a label the model has not seen (counted in ``notes``), or
        no label at all. So ``class_counts`` does not apply unless every ``y`` is >= 0.

    Raises
    ------
    DataError
        A feature column of ``reference`` is missing or holds values of the wrong kind, or
        images have another shape than ``reference``'s.

    Examples
    --------
    >>> import pandas as pd
    >>> from raretune.datasets import load_data, read_rows
    >>> train = load_data(pd.DataFrame({"x": [0.1, 0.4, 0.2, 0.9], "label": ["no", "no", "no", "yes"]}),
    ...                   target="label")
    >>> rows = read_rows(pd.DataFrame({"x": [0.3, 0.8], "label": ["yes", None]}), train)
    >>> rows.y.tolist(), read_rows(pd.DataFrame({"x": [0.5]}), train).y.tolist()
    ([1, -1], [-1])
    """
    if isinstance(reference, ImageData):
        raw = read_source(source, data_dir=data_dir, kind="images", require_label=False)
        return images_like_reference(raw, reference)
    raw = read_source(source, target=reference.target, data_dir=data_dir, kind="table", require_label=False)
    return rows_like_reference(raw, reference)
