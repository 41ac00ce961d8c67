"""Labelled image sets: TFDS image datasets, ``tf.data`` pipelines and arrays.

:func:`load_images` turns ``"tfds:NAME[:SPLIT]"`` (any TFDS dataset whose features are an
image and a class label, read as ``(image, label)``), a ``tf.data.Dataset`` of
``(image, label)`` pairs or an ``(images, labels)`` pair of arrays into an
:class:`ImageData`. :func:`raretune.datasets.load_data` sends image sources here, so one
loader serves tables and images.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

import numpy as np

from .._errors import DataError
from ._table import LabelledRows

__all__ = ["ImageData", "is_image_source", "load_images", "read_images"]

_TFDS_PREFIX = "tfds:"
_READ_BATCH = 1024


@dataclass(frozen=True)
class ImageData(LabelledRows):
    """A labelled image set: uint8 pixels, integer labels and what they mean.

    Splitting (:func:`raretune.datasets.stratified_split`), subsampling and the imbalance
    diagnosis treat it like :class:`~raretune.datasets.TabularData`: both have ``y``,
    ``classes``, ``take`` and ``class_counts``.

    Parameters
    ----------
    images : numpy.ndarray of shape (n, height, width, channels), uint8
        Pixels, 0-255.
    y : numpy.ndarray of shape (n,)
        Class index of each image. For a binary task, 1 is the positive (rare) class.
    classes : tuple of str
        Name of each class index. "This class against the rest" is ``("rest", name)``.
    target : str
        Name of the label feature.
    source : str
        Where the images came from, for the report.
    notes : tuple of str
        What loading changed (pixel scaling, classes merged), for the report.

    Examples
    --------
    >>> import numpy as np
    >>> from raretune.datasets import load_images
    >>> images = np.zeros((4, 8, 8, 1), dtype=np.uint8)
    >>> data = load_images((images, np.array([0, 0, 0, 1])))
    >>> data.image_shape, data.classes, data.y.tolist()
    ((8, 8, 1), ('0', '1'), [0, 0, 0, 1])
    """

    images: np.ndarray
    y: np.ndarray
    classes: tuple
    target: str = "label"
    source: str = ""
    notes: tuple = field(default_factory=tuple)

    @property
    def image_shape(self) -> tuple:
        """``(height, width, channels)``."""
        return tuple(int(d) for d in self.images.shape[1:])

    def take(self, indices) -> "ImageData":
        """Return the images at ``indices`` (positions)."""
        indices = np.asarray(indices)
        return replace(self, images=self.images[indices], y=self.y[indices])

    def with_rows(self, images: np.ndarray, y: np.ndarray) -> "ImageData":
        """Return an image set with the same classes and the given images (after resampling)."""
        return replace(self, images=np.asarray(images), y=np.asarray(y))


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
    from ._loaders import _encode_labels

    images, labels, names, label_name, source_name = read_images(source, target=target, data_dir=data_dir)
    if labels is None:
        raise DataError(f"The images from {source_name} have no labels; training needs an (image, label) source.")
    images, notes = _as_uint8(images, source_name)
    if reference is not None and images.shape[1:] != reference.images.shape[1:]:
        raise DataError(
            f"Images from {source_name} are {_shape_text(images.shape[1:])}; the model was built "
            f"for {_shape_text(reference.images.shape[1:])}."
        )
    values = np.asarray(labels).reshape(-1)
    if names is not None:
        values = np.asarray(names, dtype=object)[values.astype(np.int64)]
    classes, y, task_note = _encode_labels(values, positive, reference)
    if task_note:
        notes.append(task_note)
    return ImageData(
        images=images, y=y, classes=classes, target=str(label_name), source=source_name, notes=tuple(notes),
    )


def is_image_source(source, data_dir=None) -> bool:
    """Whether :func:`load_images` (rather than the table loader) should read ``source``.

    True for a TFDS dataset with an ``Image`` feature, a ``tf.data.Dataset`` whose features
    are one image per element, an array of shape (n, H, W[, C]) and an ``(images, labels)``
    pair of such an array. Anything it cannot tell about is left to the table loader,
    which then gives its own error.
    """
    if isinstance(source, ImageData):
        return True
    if isinstance(source, (str, os.PathLike)):
        if not str(source).startswith(_TFDS_PREFIX):
            return False
        try:
            builder = _tfds_builder(str(source), None, data_dir)[0]
        except DataError:
            return False
        return _image_key(builder.info.features) is not None
    if isinstance(source, tuple) and len(source) == 2:
        return np.ndim(source[0]) in (3, 4) and not hasattr(source[0], "columns")
    if isinstance(source, np.ndarray):
        return source.ndim in (3, 4)
    if _is_tf_dataset(source):
        return _dataset_layout(source.element_spec) is not None
    return False


def read_images(source, *, target: str | None = None, data_dir=None):
    """Read images (and labels when there are any) as numpy arrays, in batches.

    Returns
    -------
    images : numpy.ndarray of shape (n, H, W, C)
        As stored (not yet checked or converted to uint8).
    labels : numpy.ndarray of shape (n,) or None
    names : tuple of str or None
        Class names when the labels are indices into them (TFDS ``ClassLabel``).
    label_name : str
    source_name : str
    """
    if isinstance(source, ImageData):
        return source.images, source.y, source.classes, source.target, source.source or "ImageData"
    if isinstance(source, (str, os.PathLike)) and str(source).startswith(_TFDS_PREFIX):
        return _read_tfds(str(source), target, data_dir)
    if isinstance(source, tuple) and len(source) == 2:
        images, labels = np.asarray(source[0]), np.asarray(source[1])
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise DataError(
                f"labels must be 1-D with one label per image ({images.shape[0]}); got shape {labels.shape}."
            )
        return _with_channels(images), labels, None, target or "label", "arrays"
    if isinstance(source, np.ndarray):
        return _with_channels(source), None, None, target or "label", "array"
    if _is_tf_dataset(source):
        images, labels = _read_dataset(source, target or "label")
        return images, labels, None, target or "label", "tf.data.Dataset"
    raise DataError(
        f"Cannot read images from a {type(source).__name__}: pass 'tfds:NAME', a tf.data.Dataset "
        "of (image, label) pairs or an (images, labels) pair of arrays."
    )


# -- helpers ----------------------------------------------------------------------------------


def _shape_text(shape) -> str:
    return "x".join(str(int(d)) for d in shape)


def _with_channels(images: np.ndarray) -> np.ndarray:
    if images.ndim == 3:
        return images[..., np.newaxis]
    if images.ndim != 4:
        raise DataError(f"Images must have shape (n, height, width[, channels]); got shape {images.shape}.")
    return images


def _as_uint8(images: np.ndarray, source_name: str):
    """Pixels as uint8 0-255: integers must lie in 0-255; floats in 0-1 are scaled by 255."""
    notes = []
    if images.shape[0] == 0:
        raise DataError(f"The data from {source_name} has no images.")
    if images.dtype == np.uint8:
        return images, notes
    if np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating):
        if np.issubdtype(images.dtype, np.floating) and not np.isfinite(images).all():
            raise DataError(f"Images from {source_name} hold values that are not finite.")
        low, high = float(images.min()), float(images.max())
        if np.issubdtype(images.dtype, np.floating) and low >= 0 and high <= 1:
            notes.append("pixel values in 0-1 scaled to 0-255")
            return np.rint(images * 255.0).astype(np.uint8), notes
        if low >= 0 and high <= 255:
            if np.issubdtype(images.dtype, np.floating):
                notes.append("pixel values rounded to whole numbers 0-255")
            return np.rint(images).astype(np.uint8), notes
        raise DataError(
            f"Pixel values from {source_name} span {low:g}..{high:g}; expected 0-255 (or 0-1 floats)."
        )
    raise DataError(f"Images from {source_name} have dtype {images.dtype}; expected numbers.")


def _is_tf_dataset(obj) -> bool:
    return type(obj).__module__.startswith("tensorflow") and hasattr(obj, "element_spec")


def _dataset_layout(spec):
    """``(batched, key)`` for a dataset of images, else None.

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


def _read_dataset(dataset, target: str):
    layout = _dataset_layout(dataset.element_spec)
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
    stacked = _with_channels(np.concatenate(images))
    if labels and len(labels) != len(images):
        raise DataError(f"Some elements of the tf.data.Dataset lack the label {target!r}.")
    return stacked, (np.concatenate(labels) if labels else None)


def _tfds_builder(source: str, target, data_dir):
    import tensorflow_datasets as tfds

    from . import builders as _builders  # noqa: F401  (registers raretune's builders)
    from ._loaders import parse_tfds_source

    name, split = parse_tfds_source(source)
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as exc:  # TFDS raises several types for unknown names
        raise DataError(f"Unknown TFDS dataset {name!r}: {str(exc).splitlines()[0]}") from None
    return builder, name, split


def _image_key(features):
    import tensorflow_datasets as tfds

    keys = [k for k, v in features.items() if isinstance(v, tfds.features.Image)]
    if "image" in keys:
        return "image"
    return keys[0] if keys else None


def _label_key(builder, target):
    import tensorflow_datasets as tfds

    features = builder.info.features
    if target is not None:
        if target not in features.keys():
            raise DataError(f"Unknown target {target!r}; features: {', '.join(features.keys())}.")
        return target
    supervised = builder.info.supervised_keys
    if supervised and isinstance(supervised, tuple) and len(supervised) >= 2 and isinstance(supervised[1], str):
        return supervised[1]
    labels = [k for k, v in features.items() if isinstance(v, tfds.features.ClassLabel)]
    if "label" in features.keys():
        return "label"
    if len(labels) == 1:
        return labels[0]
    return None


def _read_tfds(source: str, target, data_dir):
    import tensorflow_datasets as tfds

    from ._loaders import _list

    builder, name, split = _tfds_builder(source, target, data_dir)
    image_key = _image_key(builder.info.features)
    if image_key is None:
        raise DataError(f"TFDS dataset {name!r} has no image feature.")
    label_key = _label_key(builder, target)
    if not builder.is_prepared() and type(builder).__module__.startswith("raretune."):
        builder.download_and_prepare()  # raretune's own builders generate data locally
    splits = list(builder.info.splits.keys()) or ["train"]
    if split is None:
        split = "+".join(sorted(splits))
    try:
        dataset = builder.as_dataset(split=split)
    except Exception:
        if not builder.is_prepared():
            raise DataError(
                f"TFDS dataset {name!r} is not in the data dir {str(builder.data_dir_root)!r}; "
                "raretune never downloads: prepare it there first."
            ) from None
        raise DataError(f"TFDS dataset {name!r} has no split {split!r}; splits: {_list(splits)}.") from None
    keys = [image_key] + ([label_key] if label_key is not None else [])
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
    return (
        _with_channels(np.concatenate(images)),
        np.concatenate(labels) if labels else None,
        names,
        label_key or "label",
        source,
    )
