"""The cost and weight columns: read once from the loaded rows, checked, aligned with every part.

``cost_column`` says what missing each positive costs (e.g. the amount); it stays a feature
unless ``drop`` names it too. ``weight_column`` holds sample weights and is never a feature.
Both are read before the split, so no later stage has to carry an extra column: each part's
values follow the part's row positions (``DataSplit.indices``), and a fixed test set brings its
own columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .._errors import ConfigError, DataError

__all__ = ["RowValues", "batch_values", "load_columns", "part_values", "recorded_columns", "take_row_columns"]

#: Option name -> (the name a message gives the column, the keyword scores take it as).
_ROLES = {"cost_column": ("cost", "cost"), "weight_column": ("weight", "sample_weight")}


@dataclass(frozen=True)
class RowValues:
    """Per-row costs and sample weights of each part (all ``None`` without those columns).

    Attributes
    ----------
    parts : dict
        Part name (``"train"``, ``"validation"``, ``"test"``) to ``{"cost": array or None,
        "sample_weight": array or None}``, aligned with that part's rows.
    """

    parts: dict = field(default_factory=dict)

    def of(self, part: str) -> dict:
        """Keyword arguments for the scores of ``part``: ``{"cost": ..., "sample_weight": ...}``."""
        return dict(self.parts.get(part) or {"cost": None, "sample_weight": None})

    @property
    def any(self) -> bool:
        """Whether there is a cost or a weight column at all."""
        return any(v is not None for values in self.parts.values() for v in values.values())

    def searched(self, cross_fitted: bool) -> "RowValues":
        """The values of the parts the search sees (cross-fitting: train and validation as one)."""
        if not cross_fitted:
            return self
        rows = _concat(self.of("train"), self.of("validation"))
        return replace(self, parts={**self.parts, "train": rows, "validation": rows})

    def refit_rows(self) -> dict:
        """The values of the refit's rows: the search rows, then the test rows."""
        return _concat(self.of("validation"), self.of("test"))


def list_names(values, limit: int = 12) -> str:
    """``"a, b, c"`` for a message, cut after ``limit`` names."""
    values = [str(v) for v in values]
    return ", ".join(values[:limit]) + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def _concat(first: dict, second: dict) -> dict:
    return {key: None if first[key] is None else np.concatenate([first[key], second[key]]) for key in first}


def load_columns(config) -> tuple:
    """``(keep, drop)`` for loading: the cost and weight columns are read before ``drop`` removes them."""
    columns = tuple(c for c in (config.cost_column, config.weight_column) if c is not None)
    return tuple(config.keep), tuple(c for c in config.drop if c not in columns)


def take_row_columns(config, data, test_data=None) -> tuple:
    """Read and check the cost and weight columns; leave the weight column (and a dropped cost
    column) out of the features.

    Parameters
    ----------
    config : RunConfig
    data, test_data : TabularData
        Loaded with :func:`load_columns`' keep and drop.

    Returns
    -------
    (data, test_data, values)
        ``values``: ``{"data": {...}, "test_data": {...} or None}``, each ``{"cost",
        "sample_weight"}`` aligned with that table's rows.

    Raises
    ------
    ConfigError
        A cost column for a task that is not binary.
    DataError
        One line: the column is unknown, not numeric, or holds missing, infinite or negative
        values.
    """
    asked = {option: getattr(config, option) for option in _ROLES if getattr(config, option) is not None}
    if not asked:
        return data, test_data, {"data": None, "test_data": None}
    if getattr(data, "features", None) is None:
        raise ConfigError(f"--{next(iter(asked)).replace('_', '-')} needs a table; images have no columns.")
    if config.cost_column is not None and not data.is_binary:
        raise ConfigError("--cost-column needs a binary task: a missed positive costs its row's value.")
    leave_out = [c for c in (config.weight_column,) if c is not None]
    leave_out += [config.cost_column] if config.cost_column is not None and config.cost_column in config.drop else []
    values, tables = {}, {}
    for key, table in (("data", data), ("test_data", test_data)):
        if table is None:
            values[key], tables[key] = None, None
            continue
        values[key] = {_ROLES[option][1]: None for option in _ROLES}
        for option, column in asked.items():
            values[key][_ROLES[option][1]] = _column_values(table, column, _ROLES[option][0], key)
        tables[key] = _without(table, leave_out)
    return tables["data"], tables["test_data"], values


def _column_values(table, column: str, role: str, where: str) -> np.ndarray:
    """The ``role`` column's values as float64, refused in one line unless all finite and >= 0."""
    of = " of the test data" if where == "test_data" else ""
    if column == table.target:
        raise DataError(f"The {role} column {column!r} is the label column; name another column.")
    if column in getattr(table, "dropped", ()):
        raise DataError(f"The {role} column {column!r} was left out as an identifier when loading; "
                        f"keep it with --keep {column}.")
    if column not in table.features.columns:
        raise DataError(f"Unknown {role} column {column!r}{of}; columns: {list_names(table.features.columns)}.")
    if column not in table.numeric:
        raise DataError(f"The {role} column {column!r}{of} must hold numbers; it holds text such as "
                        f"{str(table.features[column].iloc[0])!r}.")
    return _checked(table.features[column].to_numpy(dtype="float64"), column, role, of)


def _checked(values: np.ndarray, column: str, role: str, of: str) -> np.ndarray:
    """``values``, refused in one line unless all finite and >= 0."""
    for bad, what in ((np.isnan(values), "missing"), (np.isinf(values), "infinite"), (values < 0, "negative")):
        if bad.any():
            raise DataError(f"The {role} column {column!r}{of} has {int(bad.sum())} {what} values "
                            f"(first at row {int(np.flatnonzero(bad)[0])}); {role}s must be numbers >= 0.")
    return values


def recorded_columns(config: dict) -> dict:
    """``{option: column}`` of the cost and weight columns a run was trained with (its
    ``config.json`` ``config``), only those given."""
    return {option: config[option] for option in _ROLES if config.get(option)}


def batch_values(columns: dict, frame, source: str) -> dict:
    """A new batch's ``{"cost", "sample_weight"}`` read from the columns a run was trained with.

    Parameters
    ----------
    columns : dict
        :func:`recorded_columns` of the run.
    frame : pandas.DataFrame
        The batch's rows, holding those columns.
    source : str
        The batch, as a message names it.

    Raises
    ------
    DataError
        One line: a column is not numeric, or holds missing, infinite or negative values.
    """
    import pandas as pd

    values = {key: None for _, key in _ROLES.values()}
    for option, column in columns.items():
        role, key = _ROLES[option]
        numbers = pd.to_numeric(frame[column], errors="coerce")
        text = frame[column][numbers.isna() & frame[column].notna()]
        if len(text):
            raise DataError(f"The {role} column {column!r} of {source} must hold numbers; it holds text such as "
                            f"{str(text.iloc[0])!r}.")
        values[key] = _checked(numbers.to_numpy(dtype="float64"), column, role, f" of {source}")
    return values


def _without(table, columns):
    """``table`` with ``columns`` no longer among its features."""
    columns = [c for c in columns if c in table.features.columns]
    if not columns:
        return table
    if set(table.columns) <= set(columns):
        raise DataError(f"No feature column would be left once {list_names(columns)} is taken out.")
    return replace(table, features=table.features.drop(columns=columns),
                   numeric=tuple(c for c in table.numeric if c not in columns),
                   categorical=tuple(c for c in table.categorical if c not in columns))


def part_values(values: dict, split) -> RowValues:
    """Each part's costs and weights, by the part's row positions in the split table."""
    if values.get("data") is None:
        return RowValues()
    indices = getattr(split, "indices", None) or {}
    parts = {}
    for part in ("train", "validation", "test"):
        if part == "test" and "test" not in indices:
            source, rows = values["test_data"], None
        else:
            source, rows = values["data"], indices[part]
        parts[part] = {key: None if v is None else (v if rows is None else v[rows]) for key, v in source.items()}
    return RowValues(parts)
