"""Class weights and output-bias initialisation.

Two well-known recipes crash on current versions: ``compute_class_weight("balanced",
classes, y)`` (its arguments are keyword-only now) and passing its ndarray result to
``Model.fit(class_weight=...)`` (Keras wants a dict). :func:`class_weights` does both right.
"""

from __future__ import annotations

import numpy as np

from ._errors import DataError
from ._validation import check_number

__all__ = ["class_weights", "output_bias"]


def class_weights(y, *, strength: float = 1.0, n_classes: int | None = None) -> dict:
    """Class weights for ``keras.Model.fit(class_weight=...)``.

    ``strength`` interpolates on a log scale between no weighting (0) and scikit-learn's
    "balanced" weights (1): ``w_k = balanced_k ** strength``, then rescaled so that the
    weighted row count equals the row count (the loss keeps its scale, so the learning rate
    keeps its meaning).

    Parameters
    ----------
    y : array-like of int, shape (n_rows,)
        Class indices 0 .. n_classes-1.
    strength : float, default=1.0
        In [0, 2]; 1 is "balanced", 0.5 the square root of it, 0 no weighting.
    n_classes : int, optional
        Number of classes, when some are absent from ``y`` (they get weight 1).

    Returns
    -------
    dict
        ``{class_index: weight}`` with Python ints and floats, as Keras expects.

    Examples
    --------
    >>> from raretune.weighting import class_weights
    >>> w = class_weights([0, 0, 0, 1])
    >>> round(w[0], 3), round(w[1], 3)
    (0.667, 2.0)
    >>> class_weights([0, 0, 0, 1], strength=0)
    {0: 1.0, 1: 1.0}
    """
    from sklearn.utils.class_weight import compute_class_weight

    check_number(strength, "strength", "class_weights", low=0, high=2)
    y = np.asarray(y)
    if y.size == 0:
        raise DataError("Cannot compute class weights from an empty label array.")
    present = np.unique(y)
    balanced = compute_class_weight(class_weight="balanced", classes=present, y=y)
    n_classes = int(max(present.max() + 1, n_classes or 0))
    weights = np.ones(n_classes)
    weights[present] = balanced**strength
    counts = np.bincount(y, minlength=n_classes)
    weights *= counts.sum() / float((weights * counts).sum())
    return {int(k): float(w) for k, w in enumerate(weights)}


def output_bias(y, *, n_classes: int | None = None, class_weight: dict | None = None) -> np.ndarray:
    """Initial output-layer bias that makes an untrained network predict the class prior.

    For one sigmoid unit this is ``log(p / n)``; for a softmax layer, ``log(prior_k)``. With
    ``class_weight`` the weighted prior is used, which is what the weighted loss is minimised
    by. Starting there removes the first epochs' work of learning the base rate (and the
    huge initial loss of a 0.1 % positive rate).

    Parameters
    ----------
    y : array-like of int
        Class indices.
    n_classes : int, optional
        Number of classes; 2 gives one value (sigmoid), more give one per class.
    class_weight : dict, optional
        Weights per class index.

    Returns
    -------
    numpy.ndarray
        Shape (1,) for two classes, (n_classes,) otherwise.

    Examples
    --------
    >>> from raretune.weighting import output_bias
    >>> output_bias([0, 0, 0, 1]).round(4).tolist()
    [-1.0986]
    """
    y = np.asarray(y)
    n_classes = int(max(y.max() + 1, n_classes or 2))
    counts = np.bincount(y, minlength=n_classes).astype(float)
    if class_weight is not None:
        counts *= np.array([class_weight.get(k, 1.0) for k in range(n_classes)])
    counts = np.maximum(counts, 0.5)  # a class absent from y must not give log(0)
    if n_classes == 2:
        return np.array([np.log(counts[1] / counts[0])])
    prior = counts / counts.sum()
    return np.log(prior)
