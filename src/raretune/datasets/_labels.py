"""Class labels: their names and their encoding as class indices."""

from __future__ import annotations

import numpy as np

from .._errors import ConfigError, DataError

__all__ = ["encode_labels", "encode_known_labels", "label_name", "label_names", "list_names"]


def label_name(value) -> str:
    """The text a label (or a categorical value) stands for: ``b"a"`` -> ``"a"``, ``1.0`` -> ``"1"``."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


#: Kinds (``pandas.api.types.infer_dtype``) in which two values are equal exactly when their
#: names are: the names can be taken once per distinct value. Values mixing kinds (``True``
#: beside ``1``, which compare equal but are named "True" and "1") are named one by one.
_NAMED_BY_VALUE = frozenset({"string", "bytes", "integer", "floating", "mixed-integer-float", "boolean",
                             "categorical", "empty"})


def label_names(values) -> np.ndarray:
    """:func:`label_name` of every value, as an object array.

    Named once per distinct value where the values' kind allows it (scoring a million rows of
    three categorical columns took 8 of 17 seconds when every row was named on its own);
    missing values are named one by one, as ``None`` and NaN have different names.
    """
    import pandas as pd

    if not hasattr(values, "dtype"):
        values = np.asarray(values, dtype=object)
    if pd.api.types.infer_dtype(values, skipna=True) not in _NAMED_BY_VALUE:
        return np.array([label_name(v) for v in np.asarray(values, dtype=object)], dtype=object)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    names = np.array([label_name(v) for v in np.asarray(uniques, dtype=object)] + [""], dtype=object)[codes]
    missing = np.flatnonzero(codes < 0)
    if missing.size:
        names[missing] = [label_name(v) for v in np.asarray(values, dtype=object)[missing]]
    return names


def list_names(values, limit: int = 12) -> str:
    """``"a, b, c"`` for error messages, cut after ``limit`` names."""
    values = [str(v) for v in values]
    shown = ", ".join(values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def natural_order(names) -> list:
    """Positions of ``names`` (label names) in class order: by value when all are numbers, else as text."""
    try:
        keys = [float(name) for name in names]
    except ValueError:
        keys = list(names)
    return sorted(range(len(keys)), key=keys.__getitem__)


def rarer_label(counts: dict) -> str:
    """The positive class of two label names (``name -> rows``): the rarer; on a tie, the later
    in class order (e.g. "1" over "0")."""
    names = list(counts)
    ordered = [names[i] for i in natural_order(names)]
    return min(reversed(ordered), key=counts.__getitem__)


def _is_one_against_rest(classes) -> bool:
    return len(classes) == 2 and classes[0] == "rest"


def encode_labels(values: np.ndarray, positive, classes: tuple | None = None):
    """Class names and class indices of the labels ``values``.

    Parameters
    ----------
    values : numpy.ndarray of shape (n,)
        Raw labels (numbers, text or bytes).
    positive : object or None
        The positive class (see :func:`raretune.datasets.load_data`).
    classes : tuple of str, optional
        Use these classes (a reference's); a label outside them is a DataError, except for
        "one class against the rest", where every other label is the negative class.

    Returns
    -------
    classes : tuple of str
    y : numpy.ndarray of int64, shape (n,)
    note : str or None
        Set when several classes became "one against the rest".
    """
    names = label_names(values)
    if classes is not None:
        y = encode_known_labels(names, classes)
        unknown = sorted(set(names[y < 0]))
        if unknown:
            raise DataError(
                f"Label {unknown[0]!r} was not seen in the training data; known: {list_names(classes)}."
            )
        return tuple(classes), y, None
    uniques, counts = np.unique(names, return_counts=True)
    order = np.asarray(natural_order(uniques), dtype=np.int64)
    uniques, counts = uniques[order], counts[order]
    if len(uniques) < 2:
        only = uniques[0] if len(uniques) else "none"
        raise DataError(f"The label has one class only ({only!r}); a classifier needs at least two.")
    if positive is not None:
        positive = label_name(positive)
        if positive not in set(uniques):
            raise ConfigError(f"The positive class {positive!r} is not a label; labels: {list_names(uniques)}.")
    if len(uniques) == 2 or positive is not None:
        if positive is None:
            positive = rarer_label(dict(zip(uniques, counts)))
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


def encode_known_labels(values: np.ndarray, classes: tuple) -> np.ndarray:
    """Class indices of ``values`` among ``classes``; -1 where a label is not one of them.

    With "one class against the rest" (``classes == ("rest", name)``) every label other than
    ``name`` is class 0.
    """
    import pandas as pd

    names = label_names(values)
    if _is_one_against_rest(classes):
        return (names == classes[1]).astype(np.int64)
    return pd.Index(list(classes), dtype=object).get_indexer(names).astype(np.int64)
