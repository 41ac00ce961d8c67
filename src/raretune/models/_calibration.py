"""The deployed calibration inside the Keras graph, so that ``model.keras`` scores are probabilities.

The calibration is fitted outside the network (:class:`raretune.thresholds.ProbabilityCalibrator`);
:func:`calibrated_model` appends its ``transform`` to the model as built-in ``keras.ops``, so
a team that loads ``model.keras`` with plain Keras gets the calibrated scores raretune reports.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CALIBRATED_NAME", "calibrated_model"]

#: The default name of a calibrated model; :func:`raretune.load_run` reads it to tell a
#: calibrated ``model.keras`` from one written before calibration lived in the graph.
CALIBRATED_NAME = "raretune_calibrated"

_METHODS = ("none", "prior", "platt", "isotonic")


def calibrated_model(model, calibration: dict, *, name: str = CALIBRATED_NAME):
    """``model`` followed by its calibration, as one Keras model of built-in operations.

    The result takes the same named inputs as ``model`` and returns calibrated
    probabilities, exactly as ``ProbabilityCalibrator.from_dict(calibration).transform``
    applied to ``model``'s output: shape (n, 1) binary, (n, K) multiclass. The arithmetic
    runs in float64 (as the calibrator's does) and the output is float32. It uses no
    ``Lambda`` layer and no custom object, so its ``.keras`` file loads with plain
    ``keras.models.load_model`` (``safe_mode`` on) in a process without raretune. The
    network is kept as a nested model named ``"uncalibrated"``:
    ``calibrated.get_layer("uncalibrated")`` returns the raw scores.

    Parameters
    ----------
    model : keras.Model
        A functional model whose output is raw probabilities.
    calibration : dict
        ``ProbabilityCalibrator.to_dict()``: ``{"method", "params"}`` with method
        ``"none"``, ``"prior"``, ``"platt"`` (params ``a``, ``b``) or ``"isotonic"``
        (params ``x``, ``y``: the knots of a piecewise-linear map, clipped outside them,
        as ``np.interp``).
    name : str
        The name of the returned model.

    Returns
    -------
    keras.Model

    Raises
    ------
    ValueError
        For an unknown method or missing parameters.
    """
    import keras
    from keras import ops

    method = calibration.get("method") if isinstance(calibration, dict) else None
    if method not in _METHODS:
        raise ValueError(f"Invalid calibration method. Expected one of {_METHODS}. Received: method={method!r}")
    params = calibration.get("params") or {}
    # the network stays one nested model, so model.get_layer("uncalibrated") gives the raw scores
    network = keras.Model(model.input, model.output, name="uncalibrated")
    inputs = keras.tree.map_structure(
        lambda t: keras.Input(shape=t.shape[1:], dtype=t.dtype, name=t.name.split(":")[0]), model.input)
    p = ops.cast(network(inputs), "float64")
    try:
        if method == "prior":
            p = _prior(ops, p, params)
        elif method == "platt":
            p = _platt(ops, p, float(params["a"]), float(params["b"]))
        elif method == "isotonic":
            p = _isotonic(ops, p, np.asarray(params["x"], dtype="float64"), np.asarray(params["y"], dtype="float64"))
    except KeyError as exc:
        raise ValueError(f"The {method!r} calibration needs the parameter {exc.args[0]!r}; got {sorted(params)}.") from None
    return keras.Model(inputs, ops.cast(p, "float32"), name=name)


def _prior(ops, p, params):
    """Bayes prior correction from the training prior to the true one (``transform``'s formula)."""
    train = np.asarray(params["train_prior"], dtype="float64")
    true = np.asarray(params["true_prior"], dtype="float64")
    if p.shape[-1] == 1:
        pos = ops.multiply(p, _f64(true[0] / train[0]))
        neg = ops.multiply(ops.subtract(_f64(1.0), p), _f64((1.0 - true[0]) / (1.0 - train[0])))
        return ops.divide(pos, ops.maximum(ops.add(pos, neg), _f64(1e-300)))
    weighted = ops.multiply(p, true / np.maximum(train, 1e-12))
    return ops.divide(weighted, ops.maximum(ops.sum(weighted, axis=-1, keepdims=True), _f64(1e-300)))


def _platt(ops, p, a: float, b: float):
    """``sigmoid(a * logit(clip(p, 1e-7, 1 - 1e-7)) + b)``."""
    p = _clip(ops, p, 1e-7, 1.0 - 1e-7)
    z = ops.add(ops.multiply(ops.subtract(ops.log(p), ops.log1p(ops.negative(p))), _f64(a)), _f64(b))
    return ops.sigmoid(_clip(ops, z, -500.0, 500.0))


def _clip(ops, x, low: float, high: float):
    """``ops.clip`` with float64 bounds (``Clip`` keeps its bounds as Python numbers)."""
    return ops.minimum(ops.maximum(x, _f64(low)), _f64(high))


def _isotonic(ops, p, x: np.ndarray, y: np.ndarray):
    """``np.interp(p, x, y)``: linear between knots, the end values outside them.

    Knot ``j`` is the last with ``x[j] <= p`` (``searchsorted(..., side="right") - 1``), as
    in NumPy, so a repeated knot (a step) takes the value on its right from the knot on.
    """
    if x.ndim != 1 or x.shape != y.shape or x.size == 0:
        raise ValueError(f"Isotonic knots must be two 1-D arrays of one length; got {x.shape} and {y.shape}.")
    if x.size == 1:
        return ops.add(ops.multiply(p, _f64(0.0)), _f64(y[0]))
    width = np.diff(x)
    slope = np.divide(np.diff(y), width, out=np.zeros_like(width), where=width > 0)
    flat = ops.reshape(p, (-1,))  # searchsorted takes 1-D values with a 1-D sequence
    j = ops.clip(ops.subtract(ops.searchsorted(x, flat, side="right"), 1), 0, x.size - 2)
    inside = ops.add(ops.take(y[:-1], j), ops.multiply(ops.take(slope, j), ops.subtract(flat, ops.take(x[:-1], j))))
    value = ops.where(ops.less(flat, _f64(x[0])), _f64(y[0]),
                      ops.where(ops.greater_equal(flat, _f64(x[-1])), _f64(y[-1]), inside))
    return ops.reshape(value, (-1, p.shape[-1]))


def _f64(value) -> np.ndarray:
    """A float64 constant of shape (1,): Keras turns a Python float (and, when saving, a 0-d
    array) into float32 first, which would move a knot or a coefficient by up to 6e-8 and
    make a float32 score compare equal to a float64 knot."""
    return np.full((1,), value, dtype="float64")
