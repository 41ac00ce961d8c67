"""Apply an imbalanced-learn sampler to a mixed numeric/categorical table.

Samplers see a numeric matrix: numeric columns standardised (so that ``amount`` does not
dominate distances) and categorical columns one-hot encoded, or as integer codes for
SMOTE-NC / SMOTEN, which handle categories themselves. Rows that a sampler keeps or
duplicates are taken from the original table exactly; synthetic rows are decoded back to raw
values (categories from the largest one-hot entry).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..datasets import TabularData

__all__ = ["TableEncoder", "resample_table", "target_counts"]


class TableEncoder:
    """Encode a table's features as a float matrix for a sampler, and decode it back.

    Parameters
    ----------
    numeric, categorical : sequence of str
        Column names.
    categorical_mode : {"onehot", "ordinal"}
        One-hot blocks (for distance-based samplers) or one integer-code column per
        categorical feature (for SMOTE-NC and SMOTEN).
    """

    def __init__(self, numeric, categorical, *, categorical_mode: str = "onehot"):
        self.numeric = tuple(numeric)
        self.categorical = tuple(categorical)
        self.categorical_mode = categorical_mode

    def fit(self, features: pd.DataFrame) -> "TableEncoder":
        """Learn medians, scales and category lists from ``features``."""
        self.medians_ = {}
        self.means_ = {}
        self.scales_ = {}
        for name in self.numeric:
            values = features[name].to_numpy(dtype="float64")
            median = float(np.nanmedian(values)) if np.isfinite(values).any() else 0.0
            filled = np.where(np.isnan(values), median, values)
            self.medians_[name] = median
            self.means_[name] = float(filled.mean())
            self.scales_[name] = float(filled.std()) or 1.0
        self.categories_ = {
            name: np.array(sorted(set(features[name].astype(str))), dtype=object) for name in self.categorical
        }
        return self

    @property
    def categorical_indices_(self) -> list:
        """Column positions of the categorical codes (ordinal mode)."""
        start = len(self.numeric)
        return list(range(start, start + len(self.categorical)))

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        """Encoded float matrix, numeric columns first."""
        blocks = []
        for name in self.numeric:
            values = features[name].to_numpy(dtype="float64")
            values = np.where(np.isnan(values), self.medians_[name], values)
            blocks.append(((values - self.means_[name]) / self.scales_[name]).reshape(-1, 1))
        for name in self.categorical:
            codes = np.searchsorted(self.categories_[name], features[name].astype(str).to_numpy(dtype=object))
            if self.categorical_mode == "ordinal":
                blocks.append(codes.reshape(-1, 1).astype("float64"))
            else:
                onehot = np.zeros((len(codes), len(self.categories_[name])))
                onehot[np.arange(len(codes)), codes] = 1.0
                blocks.append(onehot)
        return np.hstack(blocks) if blocks else np.zeros((len(features), 0))

    def inverse_transform(self, X: np.ndarray) -> pd.DataFrame:
        """Raw feature values for encoded rows (synthetic rows included)."""
        out = {}
        col = 0
        for name in self.numeric:
            out[name] = X[:, col] * self.scales_[name] + self.means_[name]
            col += 1
        for name in self.categorical:
            cats = self.categories_[name]
            if self.categorical_mode == "ordinal":
                codes = np.clip(np.rint(X[:, col]).astype(int), 0, len(cats) - 1)
                col += 1
            else:
                codes = X[:, col : col + len(cats)].argmax(axis=1)
                col += len(cats)
            out[name] = cats[codes]
        frame = pd.DataFrame(out)
        for name in self.categorical:
            frame[name] = frame[name].astype(object)
        return frame


def target_counts(y, *, ratio: float, kind: str, n_classes: int) -> dict:
    """Per-class row counts after resampling, as an imbalanced-learn ``sampling_strategy``.

    ``kind="over"`` raises every smaller class to at least ``ratio`` times the largest
    class; ``kind="under"`` lowers every larger class to at most the smallest class divided
    by ``ratio``. Classes already past the target are left alone (binary ``ratio`` is the
    minority/majority ratio imbalanced-learn's float strategy means).

    Examples
    --------
    >>> target_counts([0] * 90 + [1] * 10, ratio=0.5, kind="over", n_classes=2)
    {1: 45}
    >>> target_counts([0] * 90 + [1] * 10, ratio=0.5, kind="under", n_classes=2)
    {0: 20}
    """
    counts = np.bincount(np.asarray(y), minlength=n_classes)
    if kind == "over":
        goal = int(np.ceil(ratio * counts.max()))
        return {k: goal for k in range(n_classes) if 0 < counts[k] < goal}
    goal = int(np.floor(counts[counts > 0].min() / ratio))
    return {k: max(goal, 1) for k in range(n_classes) if counts[k] > goal}


def resample_table(train: TabularData, sampler, *, categorical_mode: str = "onehot") -> TabularData:
    """Resample a training table with an imbalanced-learn sampler.

    Parameters
    ----------
    train : TabularData
        Training rows only: validation and test rows must never reach a sampler.
    sampler : imbalanced-learn sampler
        Any object with ``fit_resample(X, y)``.
    categorical_mode : {"onehot", "ordinal"}
        How categorical columns are encoded (see :class:`TableEncoder`).

    Returns
    -------
    TabularData
        The resampled training table. Rows the sampler kept or duplicated are exact copies
        of training rows; synthetic rows are decoded from the encoded matrix.
    """
    encoder = TableEncoder(train.numeric, train.categorical, categorical_mode=categorical_mode)
    X = encoder.fit(train.features).transform(train.features)
    X_res, y_res = sampler.fit_resample(X, train.y)
    indices = getattr(sampler, "sample_indices_", None)
    if indices is not None and len(indices) == len(y_res):
        return train.with_rows(train.features.iloc[indices], y_res)
    # over-samplers return the original rows first, then the synthetic ones
    n = len(train.y)
    if len(y_res) >= n and np.allclose(X_res[:n], X) and np.array_equal(y_res[:n], train.y):
        synthetic = encoder.inverse_transform(X_res[n:])
        features = pd.concat([train.features, synthetic[list(train.features.columns)]], ignore_index=True)
        return train.with_rows(features, y_res)
    features = encoder.inverse_transform(X_res)[list(train.features.columns)]
    return train.with_rows(features, y_res)
