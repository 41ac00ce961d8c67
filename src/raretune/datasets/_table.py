"""The in-memory form of a labelled table, and how a DataFrame's columns become one.

:func:`table_from_frame` types each feature column (numeric or categorical) and encodes the
labels; :func:`table_features` coerces new rows to a finished table's columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np
import pandas as pd

from .._errors import DataError
from ._columns import MISSING_CATEGORY, coerce_columns, refuse_label_copies, select_columns, type_columns
from ._labels import encode_known_labels, encode_labels, label_name, list_names

__all__ = ["LabelledRows", "MISSING_CATEGORY", "RawTable", "TabularData", "rows_like_reference",
           "table_features", "table_from_frame"]



class RawTable(NamedTuple):
    """A table as a reader found it: the frame, the label column its source names (or None), where from."""

    frame: pd.DataFrame
    target: str | None
    source: str


class LabelledRows:
    """What every labelled container (tables, images) says about its labels.

    Subclasses have ``y`` (class index per row) and ``classes`` (class names).
    """

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return int(self.y.shape[0])

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    @property
    def is_binary(self) -> bool:
        """Whether the task has exactly two classes."""
        return self.n_classes == 2

    @property
    def class_counts(self) -> np.ndarray:
        """Rows of each class index, shape (n_classes,)."""
        return np.bincount(self.y, minlength=self.n_classes)


@dataclass(frozen=True)
class TabularData(LabelledRows):
    """A labelled table: raw feature columns, integer labels and what they mean.

    Parameters
    ----------
    features : pandas.DataFrame
        One column per feature, in their raw form: numeric columns as floats, categorical
        columns as Python strings. The index is a plain ``RangeIndex``.
    y : numpy.ndarray of shape (n_rows,)
        Class index of each row. For a binary task, 1 is the positive (rare) class.
    classes : tuple of str
        Name of each class index, as it appeared in the source.
    target : str
        Name of the label column.
    numeric, categorical : tuple of str
        The feature columns of each kind.
    source : str
        Where the table came from, for the report.
    notes : tuple of str
        What loading changed (rows dropped, values imputed), for the report.
    dropped : tuple of str
        Columns of the source left out as identifiers (see ``keep`` in
        :func:`~raretune.datasets.load_data`), for a warning in the run's record.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from raretune.datasets import load_data
    >>> frame = pd.DataFrame({"x": [0.1, 0.4, 0.2, 0.9], "label": ["no", "no", "no", "yes"]})
    >>> data = load_data(frame, target="label")
    >>> data.classes, data.y.tolist()
    (('no', 'yes'), [0, 0, 0, 1])
    """

    features: pd.DataFrame
    y: np.ndarray
    classes: tuple
    target: str
    numeric: tuple = ()
    categorical: tuple = ()
    source: str = ""
    notes: tuple = field(default_factory=tuple)
    dropped: tuple = ()

    @property
    def columns(self) -> tuple:
        """All feature columns, numeric first."""
        return tuple(self.numeric) + tuple(self.categorical)

    def take(self, indices) -> "TabularData":
        """Return the rows at ``indices`` (positions), re-indexed from 0."""
        indices = np.asarray(indices)
        return replace(
            self,
            features=self.features.iloc[indices].reset_index(drop=True),
            y=self.y[indices],
        )

    def with_rows(self, features: pd.DataFrame, y: np.ndarray) -> "TabularData":
        """Return a table with the same schema and the given rows (e.g. after resampling)."""
        return replace(self, features=features.reset_index(drop=True), y=np.asarray(y))

    def to_inputs(self) -> dict:
        """Model inputs: one array of shape (n_rows, 1) per column, named like the column."""
        inputs = {}
        for name in self.numeric:
            inputs[name] = self.features[name].to_numpy(dtype="float32").reshape(-1, 1)
        for name in self.categorical:
            inputs[name] = self.features[name].to_numpy(dtype=object).astype(str).reshape(-1, 1)
        return inputs


def table_from_frame(
    frame: pd.DataFrame,
    *,
    target: str | None,
    positive=None,
    source: str = "DataFrame",
    reference: TabularData | None = None,
    keep=(),
    drop=(),
) -> TabularData:
    """Validate a DataFrame and encode it as a :class:`TabularData` (see :func:`load_data`)."""
    if frame.shape[0] == 0:
        raise DataError(f"The data from {source} has no rows.")
    if target is None:
        raise DataError(f"Name the label column with target= (--target); columns: {list_names(frame.columns)}.")
    if target not in frame.columns:
        raise DataError(f"Unknown target column {target!r}; columns: {list_names(frame.columns)}.")
    repeated = frame.columns[frame.columns.duplicated()]
    if len(repeated):
        raise DataError(f"Column {str(repeated[0])!r} appears twice in {source}; give every column its own name.")
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
    classes, y, task_note = encode_labels(labels.to_numpy(), positive, None if reference is None else reference.classes)
    if task_note:
        notes.append(task_note)
    if reference is None:
        features, dropped, column_notes = select_columns(features, str(target), keep=keep, drop=drop)
        refuse_label_copies(features, labels, str(target))
        numeric, categorical, features, type_notes = type_columns(features)
        column_notes += type_notes
    else:
        missing = [c for c in reference.columns if c not in features.columns]
        if missing:
            raise DataError(f"Column {missing[0]!r} is missing from {source}; it is needed by the model.")
        numeric, categorical = tuple(reference.numeric), tuple(reference.categorical)
        features, column_notes = coerce_columns(features, numeric, categorical)
        dropped = ()
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
        dropped=dropped,
    )


def table_features(frame: pd.DataFrame, reference: TabularData, source: str) -> pd.DataFrame:
    """Features of an unlabelled frame, typed like ``reference`` (for prediction)."""
    return _features_like(frame, reference, source)[0]


def rows_like_reference(raw: RawTable, reference: TabularData) -> TabularData:
    """Rows to score or evaluate with ``reference``'s model (see :func:`raretune.datasets.read_rows`)."""
    frame = raw.frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    features, notes = _features_like(frame, reference, raw.source)
    if reference.target in frame.columns:
        labels = frame[reference.target]
        y = encode_known_labels(labels.to_numpy(dtype=object), reference.classes)
        y[labels.isna().to_numpy()] = -1
        unknown = sorted({label_name(v) for v in labels[(y < 0) & labels.notna().to_numpy()]})
        if unknown:
            notes.append(
                f"{int(((y < 0) & labels.notna().to_numpy()).sum())} rows with a label not seen in "
                f"training ({list_names([repr(u) for u in unknown], 3)}): y = -1"
            )
    else:
        y = np.full(frame.shape[0], -1, dtype=np.int64)
    return TabularData(
        features=features, y=y, classes=tuple(reference.classes), target=reference.target,
        numeric=tuple(reference.numeric), categorical=tuple(reference.categorical),
        source=raw.source, notes=tuple(notes),
    )


def _features_like(frame: pd.DataFrame, reference: TabularData, source: str):
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    missing = [c for c in reference.columns if c not in frame.columns]
    if missing:
        raise DataError(f"Column {missing[0]!r} is missing from {source}; it is needed by the model.")
    return coerce_columns(frame[list(reference.columns)], reference.numeric, reference.categorical)
