"""Turn any supported source into a :class:`TabularData`.

Sources: ``"tfds:NAME[/CONFIG][:SPLIT]"``, a ``.csv`` or ``.parquet`` path, a pandas DataFrame,
a ``(X, y)`` pair of arrays, or a ``tf.data.Dataset``. Conversion of TFDS and ``tf.data``
sources is batched (whole batches to numpy), never a per-element eager loop.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._errors import ConfigError, DataError
from ._table import TabularData

if TYPE_CHECKING:  # pragma: no cover
    from ._images import ImageData

__all__ = ["load_data", "read_frame", "MISSING_CATEGORY"]

#: Category that stands for a missing value in a categorical column.
MISSING_CATEGORY = "(missing)"

_TFDS_PREFIX = "tfds:"
_CONVERT_BATCH = 8192


def load_data(
    source,
    *,
    target: str | None = None,
    positive=None,
    reference: TabularData | None = None,
    data_dir: str | os.PathLike | None = None,
) -> "TabularData | ImageData":
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
    reference : TabularData, optional
        A table whose classes and columns this one must use (a fixed test set, or data to
        score). Its feature columns must all be present; other columns are ignored.
    data_dir : path, optional
        TFDS data folder (TFDS's default when omitted).

    Returns
    -------
    TabularData

    Raises
    ------
    DataError
        One line saying what is wrong: missing or empty file, unknown target (the columns
        are listed), one class only, infinite values, unknown label in ``reference`` mode.

    Notes
    -----
    Image sources (a TFDS dataset with an image feature, a ``tf.data.Dataset`` of
    ``(image, label)`` pairs, ``(images, labels)`` arrays of shape (n, H, W[, C])) are
    read by :func:`raretune.datasets.load_images` and give an
    :class:`~raretune.datasets.ImageData` instead.
    """
    from ._images import ImageData, is_image_source, load_images

    if isinstance(reference, ImageData) or is_image_source(source, data_dir):
        return load_images(source, target=target, positive=positive, reference=reference, data_dir=data_dir)
    if isinstance(source, (str, os.PathLike)) and str(source).startswith(_TFDS_PREFIX):
        frame, default_target, name = _frame_from_tfds(str(source), data_dir)
    elif isinstance(source, (str, os.PathLike)):
        frame, default_target, name = read_frame(source), None, str(source)
    elif isinstance(source, pd.DataFrame):
        frame, default_target, name = source.copy(), None, "DataFrame"
    elif isinstance(source, tuple) and len(source) == 2:
        frame, default_target, name = _frame_from_arrays(*source, target or "label"), None, "arrays"
        target = target or "label"
    elif _is_tf_dataset(source):
        frame, default_target = _frame_from_tf_dataset(source, target or "label")
        name = "tf.data.Dataset"
    else:
        raise DataError(
            f"Cannot load data from a {type(source).__name__}: pass 'tfds:NAME', a .csv or "
            ".parquet path, a DataFrame, an (X, y) pair or a tf.data.Dataset."
        )
    target = target or (reference.target if reference is not None else None) or default_target
    return table_from_frame(frame, target=target, positive=positive, source=name, reference=reference)


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


def table_from_frame(
    frame: pd.DataFrame,
    *,
    target: str | None,
    positive=None,
    source: str = "DataFrame",
    reference: TabularData | None = None,
) -> TabularData:
    """Validate a DataFrame and encode it as a :class:`TabularData` (see :func:`load_data`)."""
    if frame.shape[0] == 0:
        raise DataError(f"The data from {source} has no rows.")
    if target is None:
        raise DataError(f"Name the label column with target= (--target); columns: {_list(frame.columns)}.")
    if target not in frame.columns:
        raise DataError(f"Unknown target column {target!r}; columns: {_list(frame.columns)}.")
    notes = []
    labels = frame[target]
    missing_label = labels.isna().to_numpy()
    if missing_label.any():
        notes.append(f"{int(missing_label.sum())} rows without a label in {target!r} dropped")
        frame = frame.loc[~missing_label]
        labels = frame[target]
    if frame.shape[0] == 0:
        raise DataError(f"Every row of {source} lacks a label in {target!r}.")
    features = frame.drop(columns=[target]).reset_index(drop=True)
    features.columns = [str(c) for c in features.columns]
    classes, y, task_note = _encode_labels(labels.to_numpy(), positive, reference)
    if task_note:
        notes.append(task_note)
    if reference is None:
        numeric, categorical, features, column_notes = _type_columns(features)
    else:
        missing = [c for c in reference.columns if c not in features.columns]
        if missing:
            raise DataError(f"Column {missing[0]!r} is missing from {source}; it is needed by the model.")
        numeric, categorical = tuple(reference.numeric), tuple(reference.categorical)
        features, column_notes = _coerce_columns(features, numeric, categorical)
    notes.extend(column_notes)
    if not numeric and not categorical:
        raise DataError(f"The data from {source} has no feature columns besides {target!r}.")
    return TabularData(
        features=features,
        y=y,
        classes=classes,
        target=str(target),
        numeric=numeric,
        categorical=categorical,
        source=source,
        notes=tuple(notes),
    )


def table_features(frame: pd.DataFrame, reference: TabularData, source: str) -> pd.DataFrame:
    """Features of an unlabelled frame, typed like ``reference`` (for prediction)."""
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    missing = [c for c in reference.columns if c not in frame.columns]
    if missing:
        raise DataError(f"Column {missing[0]!r} is missing from {source}; it is needed by the model.")
    features, _ = _coerce_columns(frame[list(reference.columns)], reference.numeric, reference.categorical)
    return features


# -- labels ---------------------------------------------------------------------------------


def _label_name(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _encode_labels(values: np.ndarray, positive, reference: TabularData | None):
    names = np.array([_label_name(v) for v in values], dtype=object)
    if reference is not None:
        index = {name: i for i, name in enumerate(reference.classes)}
        if reference.is_binary and reference.classes[0] == "rest":
            # "one class against the rest": every other label is the negative class
            return tuple(reference.classes), (names == reference.classes[1]).astype(np.int64), None
        unknown = sorted(set(names) - set(index))
        if unknown:
            raise DataError(
                f"Label {unknown[0]!r} was not seen in the training data; known: {_list(reference.classes)}."
            )
        return tuple(reference.classes), np.array([index[n] for n in names], dtype=np.int64), None
    uniques, counts = np.unique(names, return_counts=True)
    # order classes by their natural order when they are all numbers, else as text
    try:
        order = np.argsort([float(u) for u in uniques], kind="stable")
    except ValueError:
        order = np.argsort(uniques, kind="stable")
    uniques, counts = uniques[order], counts[order]
    if len(uniques) < 2:
        only = uniques[0] if len(uniques) else "none"
        raise DataError(f"The label has one class only ({only!r}); a classifier needs at least two.")
    if positive is not None:
        positive = _label_name(positive)
        if positive not in set(uniques):
            raise ConfigError(f"The positive class {positive!r} is not a label; labels: {_list(uniques)}.")
    if len(uniques) == 2 or positive is not None:
        if positive is None:
            # the rarer class; on a tie, the later one (e.g. "1" over "0")
            positive = uniques[::-1][int(np.argmin(counts[::-1]))]
        note = None
        if len(uniques) == 2:
            negative = uniques[0] if uniques[1] == positive else uniques[1]
        else:
            negative = "rest"
            note = f"{len(uniques)} classes: {positive!r} against the rest"
        y = (names == positive).astype(np.int64)
        return (str(negative), str(positive)), y, note
    index = {name: i for i, name in enumerate(uniques)}
    return tuple(str(u) for u in uniques), np.array([index[n] for n in names], dtype=np.int64), None


# -- feature columns ------------------------------------------------------------------------


def _type_columns(features: pd.DataFrame):
    numeric, categorical, notes = [], [], []
    for name in list(features.columns):
        column = features[name]
        if column.isna().all():
            notes.append(f"column {name!r} dropped: every value is missing")
            features = features.drop(columns=[name])
            continue
        if pd.api.types.is_bool_dtype(column):
            categorical.append(name)
        elif pd.api.types.is_datetime64_any_dtype(column):
            numeric.append(name)
            notes.append(f"column {name!r}: dates used as seconds since 1970")
        elif pd.api.types.is_numeric_dtype(column):
            numeric.append(name)
        else:
            categorical.append(name)
    features, coerce_notes = _coerce_columns(features, tuple(numeric), tuple(categorical))
    return tuple(numeric), tuple(categorical), features, notes + coerce_notes


def _coerce_columns(features: pd.DataFrame, numeric, categorical):
    notes = []
    out = {}
    for name in numeric:
        column = features[name]
        if pd.api.types.is_datetime64_any_dtype(column):
            values = column.astype("int64").to_numpy(dtype="float64") / 1e9
            values[column.isna().to_numpy()] = np.nan
        else:
            values = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64")
            bad = np.isnan(values) & column.notna().to_numpy()
            if bad.any():
                example = column[bad].iloc[0]
                raise DataError(
                    f"Column {name!r} should be numeric but holds {example!r} "
                    f"({int(bad.sum())} such values)."
                )
        n_inf = int(np.isinf(values).sum())
        if n_inf:
            raise DataError(
                f"Column {name!r} holds {n_inf} infinite values; replace them (or mark them "
                "missing) before training."
            )
        n_missing = int(np.isnan(values).sum())
        if n_missing:
            notes.append(
                f"column {name!r}: {n_missing} missing values, imputed with the training median"
            )
        out[name] = values
    for name in categorical:
        column = features[name]
        n_missing = int(column.isna().sum())
        values = np.array([_label_name(v) for v in column.to_numpy(dtype=object)], dtype=object)
        if n_missing:
            values[column.isna().to_numpy()] = MISSING_CATEGORY
            notes.append(f"column {name!r}: {n_missing} missing values, kept as category {MISSING_CATEGORY!r}")
        out[name] = values
    frame = pd.DataFrame(out, index=range(features.shape[0]))
    for name in categorical:
        frame[name] = frame[name].astype(object)
    return frame, notes


def _list(values, limit: int = 12) -> str:
    values = [str(v) for v in values]
    shown = ", ".join(values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


# -- sources --------------------------------------------------------------------------------


def _frame_from_arrays(X, y, target: str) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        frame = X.reset_index(drop=True).copy()
    else:
        X = np.asarray(X)
        if X.ndim != 2:
            raise DataError(f"X must be a 2-D array of shape (n_rows, n_features); got shape {X.shape}.")
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != frame.shape[0]:
        raise DataError(f"y must be 1-D with one label per row of X ({frame.shape[0]}); got shape {y.shape}.")
    if target in frame.columns:
        raise DataError(f"X already has a column named {target!r}; pass another target= name.")
    frame[target] = y
    return frame


def _is_tf_dataset(obj) -> bool:
    return type(obj).__module__.startswith("tensorflow") and hasattr(obj, "element_spec")


def _columns_from_batch(features, label, target: str) -> dict:
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


def _frame_from_tf_dataset(dataset, target: str):
    import tensorflow as tf

    spec = dataset.element_spec
    is_batched = False
    first = spec[0] if isinstance(spec, tuple) else spec
    leaves = tf.nest.flatten(first)
    if leaves and leaves[0].shape.rank is not None and leaves[0].shape.rank >= 1:
        # (features, label) batched datasets have a leading None dimension on every leaf
        label_spec = spec[1] if isinstance(spec, tuple) else None
        if label_spec is not None and label_spec.shape.rank == 1 and label_spec.shape[0] is None:
            is_batched = True
        elif isinstance(spec, dict) and target in spec and spec[target].shape.rank == 1:
            is_batched = True
    if not is_batched:
        dataset = dataset.batch(_CONVERT_BATCH)
    chunks = []
    for element in dataset.as_numpy_iterator():
        if isinstance(element, tuple):
            if len(element) != 2:
                raise DataError("A tf.data.Dataset must yield (features, label) pairs or dicts.")
            chunks.append(_columns_from_batch(element[0], element[1], target))
        elif isinstance(element, dict):
            if target not in element:
                raise DataError(f"Unknown target column {target!r}; columns: {_list(element)}.")
            features = {k: v for k, v in element.items() if k != target}
            chunks.append(_columns_from_batch(features, element[target], target))
        else:
            raise DataError("A tf.data.Dataset must yield (features, label) pairs or dicts.")
    if not chunks:
        raise DataError("The tf.data.Dataset is empty.")
    frame = pd.DataFrame({k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]})
    return _decode_bytes(frame), target


def _decode_bytes(frame: pd.DataFrame) -> pd.DataFrame:
    for name in frame.columns:
        column = frame[name]
        if column.dtype == object and len(column) and isinstance(column.iloc[0], bytes):
            frame[name] = column.str.decode("utf-8", errors="replace")
    return frame


def parse_tfds_source(source: str):
    """Split ``"tfds:NAME[/CONFIG][:SPLIT]"`` into ``(name, split)``."""
    spec = source[len(_TFDS_PREFIX):]
    name, _, split = spec.partition(":")
    if not name:
        raise ConfigError(f"Expected 'tfds:NAME[:SPLIT]'; got {source!r}.")
    return name, (split or None)


def _frame_from_tfds(source: str, data_dir):
    import tensorflow_datasets as tfds

    from . import builders as _builders  # noqa: F401  (registers raretune's builders)

    name, split = parse_tfds_source(source)
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as exc:  # TFDS raises several types for unknown names
        raise DataError(f"Unknown TFDS dataset {name!r}: {str(exc).splitlines()[0]}") from None
    if not builder.is_prepared() and type(builder).__module__.startswith("raretune."):
        builder.download_and_prepare()  # raretune's own builders generate data locally
    splits = list(builder.info.splits.keys()) or ["train"]
    if split is None:
        split = "+".join(sorted(splits))
    frame = _fast_tfrecord_frame(builder, split)
    if frame is not None:
        return _decode_bytes(frame), _tfds_target(builder), source
    try:
        data = builder.as_dataset(split=split, batch_size=_CONVERT_BATCH)
    except Exception:
        if not builder.is_prepared():
            raise DataError(
                f"TFDS dataset {name!r} is not in the data dir {str(builder.data_dir_root)!r}; "
                "raretune never downloads: prepare it there first."
            ) from None
        raise DataError(f"TFDS dataset {name!r} has no split {split!r}; splits: {_list(splits)}.") from None
    target = _tfds_target(builder)
    chunks = []
    for batch in data.as_numpy_iterator():
        chunks.append(_columns_from_batch(batch, None, target or ""))
    if not chunks:
        raise DataError(f"TFDS split {split!r} of {name!r} is empty.")
    frame = pd.DataFrame({k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]})
    return _decode_bytes(frame), target, source


def _tfds_target(builder):
    """The label named by a TFDS dataset's supervised keys, else its ``label`` feature."""
    supervised = builder.info.supervised_keys
    if supervised and isinstance(supervised, tuple) and len(supervised) >= 2 and isinstance(supervised[1], str):
        return supervised[1]
    return "label" if "label" in builder.info.features.keys() else None


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
    serialized = builder.info.features.get_serialized_info()
    decoded = builder.info.features.get_tensor_info()
    if not isinstance(serialized, dict) or set(serialized) != set(decoded):
        return None
    spec = {}
    for name, info in serialized.items():
        if not hasattr(info, "shape") or tuple(info.shape) != () or tuple(decoded[name].shape) != ():
            return None
        if info.tf_dtype != decoded[name].tf_dtype:
            return None
        spec[name] = tf.io.FixedLenFeature([], info.tf_dtype)
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
