"""The in-memory form of a labelled table that the rest of raretune works on."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

__all__ = ["LabelledRows", "TabularData"]


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
