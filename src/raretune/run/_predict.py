"""Using a finished run: load it, and score new rows with the deployed model and threshold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .._errors import RaretuneError, RunStateError
from .._io import read_json
from ..thresholds import ProbabilityCalibrator
from ._modality import modality_from_record

__all__ = ["load_run", "predict", "score_frame"]


def load_run(run_dir) -> dict:
    """Load a finished run: its model, schema, calibration, threshold and classes.

    Returns
    -------
    dict
        ``model`` (keras.Model), ``schema`` (FeatureSchema; None for images), ``image``
        (the image schema as a dict; None for tables), ``modality``, ``calibrator``,
        ``threshold`` (float or None: the deployed threshold), ``classes``, ``target``,
        ``metrics``.

    Raises
    ------
    RunStateError
        If ``run_dir`` is not a finished run, or its files are damaged.
    """
    import keras

    run_dir = Path(run_dir)
    needed = [run_dir / "model.keras", run_dir / "metrics.json", run_dir / "config.json"]
    if not run_dir.is_dir() or not all(p.is_file() for p in needed):
        raise RunStateError(f"{str(run_dir)!r} is not a finished raretune run (no model.keras/metrics.json).")
    try:
        metrics = read_json(run_dir / "metrics.json")
        config = read_json(run_dir / "config.json")
        modality = modality_from_record(config)
        deployed = metrics.get("deployed") or metrics.get("refit") or metrics
        calibrator = ProbabilityCalibrator.from_dict(deployed["calibration"])
        threshold = None if deployed.get("threshold") is None else float(deployed["threshold"]["value"])
        classes, target = list(metrics["task"]["classes"]), metrics["task"]["target"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RunStateError(f"{str(run_dir)!r} holds a damaged run record ({type(exc).__name__}: {exc}).") from None
    try:
        model = keras.models.load_model(run_dir / "model.keras", compile=False)
    except Exception as exc:  # Keras raises many types for damaged, foreign or unsafe files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunStateError(f"{str(run_dir / 'model.keras')!r} cannot be loaded: {reason[:200]}") from None
    return {
        "model": model,
        "schema": modality.schema if modality.kind == "table" else None,
        "image": config.get("image"),
        "modality": modality,
        "calibrator": calibrator,
        "threshold": threshold,
        "classes": classes,
        "target": target,
        "metrics": metrics,
    }


def predict(run_dir, data, *, data_dir=None) -> pd.DataFrame:
    """Score new rows with a finished run.

    Parameters
    ----------
    run_dir : path
        A folder written by :func:`raretune.run`.
    data : str, path, DataFrame, tuple or tf.data.Dataset
        Rows to score; they need the run's feature columns (a label column is not needed
        and other columns are ignored). For an image run: ``"tfds:NAME"``, a dataset of
        images or ``(image, label)`` pairs, or an image array of the run's image shape.

    Returns
    -------
    pandas.DataFrame
        Binary: ``score`` (calibrated probability of the positive class) and
        ``prediction`` (0/1 at the deployed threshold). Multiclass: ``score_<class>`` per
        class and ``prediction`` (the class name).
    """
    loaded = load_run(run_dir)
    rows = _read_rows(loaded, data, data_dir)
    try:
        return score_frame(loaded, loaded["modality"].predict_raw(loaded["model"], rows))
    except RaretuneError:
        raise
    except Exception as exc:  # noqa: BLE001 - the rows passed read_rows: the run's own files disagree
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise RunStateError(
            f"{str(run_dir)!r} cannot score rows: its model.keras, config.json and metrics.json do not "
            f"agree ({type(exc).__name__}: {reason[:200]})."
        ) from None


def _read_rows(loaded, data, data_dir):
    from ..datasets import read_rows

    reference = loaded["modality"].reference(loaded["classes"], loaded["target"])
    return read_rows(data, reference, data_dir=data_dir)


def score_frame(loaded: dict, raw) -> pd.DataFrame:
    """Calibrated scores and predictions of a finished run (tables and images)."""
    score = loaded["calibrator"].transform(raw)
    if score.ndim == 1:
        return pd.DataFrame({"score": score, "prediction": (score >= loaded["threshold"]).astype(int)})
    out = pd.DataFrame({f"score_{name}": score[:, k] for k, name in enumerate(loaded["classes"])})
    out["prediction"] = np.asarray(loaded["classes"], dtype=object)[score.argmax(axis=1)]
    return out
