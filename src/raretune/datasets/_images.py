"""Labelled image sets: the :class:`ImageData` container and pixel checks.

Readers of image sources (TFDS, ``tf.data``, arrays) give a :class:`RawImages`;
:func:`images_from_raw` checks the pixels and encodes the labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from .._errors import DataError
from ._labels import encode_known_labels, encode_labels
from ._table import LabelledRows

__all__ = ["ImageData", "RawImages", "as_uint8", "images_from_raw", "images_like_reference", "shape_text", "with_channels"]

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


class RawImages(NamedTuple):
    """Images as a reader found them, before any check.

    ``labels`` is None when the source has none; ``names`` holds the class names when the
    labels are indices into them (a TFDS ``ClassLabel``).
    """

    images: np.ndarray
    labels: np.ndarray | None
    names: tuple | None
    label_name: str
    source: str

    def label_values(self) -> np.ndarray | None:
        """The labels as values (class names where the source has them), or None."""
        if self.labels is None:
            return None
        values = np.asarray(self.labels).reshape(-1)
        if self.names is not None:
            values = np.asarray(self.names, dtype=object)[values.astype(np.int64)]
        return values


def images_from_raw(raw: RawImages, *, positive=None, reference: ImageData | None = None) -> ImageData:
    """Check the pixels of ``raw`` and encode its labels (see :func:`raretune.datasets.load_images`)."""
    if raw.labels is None:
        raise DataError(f"The images from {raw.source} have no labels; training needs an (image, label) source.")
    images, notes = _checked_pixels(raw, reference)
    classes, y, task_note = encode_labels(
        raw.label_values(), positive, None if reference is None else reference.classes
    )
    if task_note:
        notes.append(task_note)
    return ImageData(
        images=images, y=y, classes=classes, target=str(raw.label_name), source=raw.source, notes=tuple(notes),
    )


def images_like_reference(raw: RawImages, reference: ImageData) -> ImageData:
    """Images to score with ``reference``'s model; labels it knows are encoded, others are -1."""
    images, notes = _checked_pixels(raw, reference)
    values = raw.label_values()
    if values is None:
        y = np.full(images.shape[0], -1, dtype=np.int64)
    else:
        y = encode_known_labels(values, reference.classes)
        if (y < 0).any():
            notes.append(f"{int((y < 0).sum())} images with a label not seen in training: y = -1")
    return ImageData(
        images=images, y=y, classes=tuple(reference.classes), target=reference.target,
        source=raw.source, notes=tuple(notes),
    )


def _checked_pixels(raw: RawImages, reference: ImageData | None):
    images, notes = as_uint8(raw.images, raw.source)
    if reference is not None and images.shape[1:] != reference.images.shape[1:]:
        raise DataError(
            f"Images from {raw.source} are {shape_text(images.shape[1:])}; the model was built "
            f"for {shape_text(reference.images.shape[1:])}."
        )
    return images, notes


# -- pixels -----------------------------------------------------------------------------------


def shape_text(shape) -> str:
    """``(16, 16, 1)`` -> ``"16x16x1"``."""
    return "x".join(str(int(d)) for d in shape)


def with_channels(images: np.ndarray) -> np.ndarray:
    """Images of shape (n, H, W) get a channel axis; anything but (n, H, W[, C]) is a DataError."""
    if images.ndim == 3:
        return images[..., np.newaxis]
    if images.ndim != 4:
        raise DataError(f"Images must have shape (n, height, width[, channels]); got shape {images.shape}.")
    return images


def as_uint8(images: np.ndarray, source_name: str):
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
