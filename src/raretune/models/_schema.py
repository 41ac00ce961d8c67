"""What a model needs to know about its training data: columns (tables) or image shape and classes."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ..datasets import ImageData, TabularData

__all__ = ["FeatureSchema", "ImageSchema", "fold_schemas"]

_MAX_VOCABULARY = 1000


@dataclass(frozen=True)
class FeatureSchema:
    """Column statistics of the training split: imputation, normalisation, vocabularies.

    Built with :meth:`from_data` on training rows only, so that nothing about validation or
    test rows reaches the model.

    Parameters
    ----------
    numeric, categorical : tuple of str
        Column names.
    medians, means, variances : tuple of float
        Per numeric column, after imputing missing values with the median.
    vocabularies : tuple of tuple of str
        Per categorical column, values seen in training (most frequent first, at most 1000).
    n_classes : int
    class_counts : tuple of int
        Training rows per class.
    input_names : tuple of str
        Keras input name of each column (numeric first), safe for Keras.
    """

    numeric: tuple
    categorical: tuple
    medians: tuple
    means: tuple
    variances: tuple
    vocabularies: tuple
    n_classes: int
    class_counts: tuple
    input_names: tuple = field(default=())

    @classmethod
    def from_data(cls, train: TabularData) -> "FeatureSchema":
        """Learn the schema from the training split."""
        medians, means, variances = [], [], []
        for name in train.numeric:
            values = train.features[name].to_numpy(dtype="float64")
            median = float(np.nanmedian(values)) if np.isfinite(values).any() else 0.0
            filled = np.where(np.isnan(values), median, values)
            medians.append(median)
            means.append(float(filled.mean()))
            variances.append(float(max(filled.var(), 1e-12)))
        vocabularies = []
        for name in train.categorical:
            counts = pd.Series(train.features[name]).value_counts(sort=True)
            vocabularies.append(tuple(str(v) for v in counts.index[:_MAX_VOCABULARY]))
        return cls(
            numeric=tuple(train.numeric),
            categorical=tuple(train.categorical),
            medians=tuple(medians),
            means=tuple(means),
            variances=tuple(variances),
            vocabularies=tuple(vocabularies),
            n_classes=train.n_classes,
            class_counts=tuple(int(c) for c in train.class_counts),
            input_names=_input_names(tuple(train.numeric) + tuple(train.categorical)),
        )

    @property
    def columns(self) -> tuple:
        """All columns, numeric first (the order of ``input_names``)."""
        return self.numeric + self.categorical

    def impute(self, features: pd.DataFrame) -> pd.DataFrame:
        """Fill missing numeric values with the training medians (as the models do in their graph)."""
        features = features.copy()
        for name, median in zip(self.numeric, self.medians):
            features[name] = features[name].astype("float64").fillna(median)
        return features

    def inputs(self, features: pd.DataFrame) -> dict:
        """Model inputs for raw feature rows: ``{input_name: array of shape (n, 1)}``.

        Numbers as float32, categories as ``str`` (an object array when the column's values
        are all ``str`` already: TensorFlow takes those without a copy into fixed-width text).

        Missing numbers stay NaN: the model imputes them itself (with the medians of the
        schema each tower was built from).
        """
        out = {}
        for input_name, column in zip(self.input_names, self.columns):
            if column in self.numeric:
                out[input_name] = features[column].to_numpy(dtype="float32").reshape(-1, 1)
            else:
                values = features[column].to_numpy(dtype=object)
                if pd.api.types.infer_dtype(values, skipna=False) != "string":  # names are str already
                    values = values.astype(str)
                out[input_name] = values.reshape(-1, 1)
        return out

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, state: dict) -> "FeatureSchema":
        """Inverse of :meth:`to_dict`."""
        state = dict(state)
        for key in ("numeric", "categorical", "medians", "means", "variances", "class_counts", "input_names"):
            state[key] = tuple(state[key])
        state["vocabularies"] = tuple(tuple(v) for v in state["vocabularies"])
        return cls(**state)


def fold_schemas(train: TabularData, fold_ids) -> list[FeatureSchema]:
    """One schema per fold, schema ``k`` learnt on the rows outside fold ``k``.

    With cross-fitting, tower ``k`` of :func:`~raretune.models.build_stacked_model`
    (``schemas=fold_schemas(...)``) scores fold ``k``'s rows; its medians, means,
    variances and vocabularies must not have seen them either.

    Parameters
    ----------
    train : TabularData
        The rows that are cross-fitted.
    fold_ids : array-like of int
        Fold of each row of ``train``, 0 .. K-1.

    Returns
    -------
    list of FeatureSchema
        K schemas of the same columns, in fold order.

    Examples
    --------
    >>> import pandas as pd
    >>> from raretune.datasets import load_data
    >>> data = load_data(pd.DataFrame({"x": [1., 2., 3., 40.], "y": [0, 1, 0, 1]}), target="y")
    >>> [s.medians for s in fold_schemas(data, [0, 0, 1, 1])]
    [(21.5,), (1.5,)]
    """
    ids = np.asarray(fold_ids)
    if ids.shape != (train.n_rows,):
        raise ValueError(f"Invalid `fold_ids`. Expected one fold per row ({train.n_rows}). Received: shape {ids.shape}")
    schemas = []
    for k in range(int(ids.max()) + 1):
        outside = ids != k
        schemas.append(FeatureSchema.from_data(train.with_rows(train.features[outside], train.y[outside])))
    return schemas


def _input_names(columns) -> tuple:
    """Keras-safe, unique input names derived from column names."""
    names, seen = [], set()
    for column in columns:
        name = re.sub(r"[^0-9A-Za-z_.-]", "_", str(column)) or "column"
        if name[0].isdigit():
            name = "c_" + name
        base, i = name, 1
        while name in seen:
            i += 1
            name = f"{base}_{i}"
        seen.add(name)
        names.append(name)
    return tuple(names)


@dataclass(frozen=True)
class ImageSchema:
    """What an image network needs to know about its training images.

    Parameters
    ----------
    image_shape : tuple of int
        ``(height, width, channels)``.
    classes : tuple of str
        Class names, by class index.
    class_counts : tuple of int
        Training images of each class (for ``bias_init``).
    """

    image_shape: tuple
    classes: tuple
    class_counts: tuple

    @classmethod
    def from_data(cls, train: ImageData) -> "ImageSchema":
        """The schema of a training image set."""
        return cls(tuple(train.image_shape), tuple(train.classes), tuple(int(c) for c in train.class_counts))

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    def to_dict(self) -> dict:
        """JSON-ready form (stored in ``config.json``)."""
        return {"image_shape": list(self.image_shape), "classes": list(self.classes),
                "class_counts": list(self.class_counts)}

    @classmethod
    def from_dict(cls, record: dict) -> "ImageSchema":
        """Inverse of :meth:`to_dict`."""
        return cls(tuple(record["image_shape"]), tuple(record["classes"]), tuple(record["class_counts"]))
