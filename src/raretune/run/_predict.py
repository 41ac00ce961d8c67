"""Using a finished run: load it, and score new rows with the deployed model and threshold."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .._errors import ConfigError, DataError, RaretuneError, RunStateError
from .._io import read_json
from ..thresholds import ProbabilityCalibrator
from ._modality import modality_from_record

__all__ = ["calibrated_scores", "load_run", "predict", "score_frame"]


def load_run(run_dir) -> dict:
    """Load a finished run: its model, schema, calibration, threshold and classes.

    Returns
    -------
    dict
        ``model`` (keras.Model: calibrated probabilities), ``schema`` (FeatureSchema; None
        for images), ``image`` (the image schema as a dict; None for tables), ``modality``,
        ``calibrator`` (the deployed calibration, for the record: ``model`` already applies
        it), ``calibrated`` (False for a run written before the calibration was saved inside
        ``model.keras``), ``threshold`` (float or None: the deployed threshold), ``classes``,
        ``target``, ``metrics``.

    Raises
    ------
    RunStateError
        If ``run_dir`` is not a finished run, or its files are damaged.
    """
    import keras

    from ..models import CALIBRATED_NAME

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
        "calibrated": model.name == CALIBRATED_NAME,
        "threshold": threshold,
        "classes": classes,
        "target": target,
        "metrics": metrics,
    }


def predict(run_dir, data, *, data_dir=None, threshold: float | None = None, keep=()) -> pd.DataFrame:
    """Score new rows with a finished run.

    Parameters
    ----------
    run_dir : path
        A folder written by :func:`raretune.run`.
    data : str, path, DataFrame, tuple or tf.data.Dataset
        Rows to score; they need the run's feature columns (a label column is not needed
        and other columns are ignored). For an image run: ``"tfds:NAME"``, a dataset of
        images or ``(image, label)`` pairs, or an image array of the run's image shape.
    threshold : float, optional
        Binary runs: decide at this threshold instead of the deployed one.
    keep : sequence of str
        Columns of a DataFrame, CSV or Parquet source to carry into the result (an id, an
        amount), first.

    Returns
    -------
    pandas.DataFrame
        The source's index (a DataFrame's own, else 0..n-1), the ``keep`` columns, then
        binary: ``score`` (calibrated probability of the positive class) and ``prediction``
        (the class name at the threshold); multiclass: ``score_<class>`` per class and
        ``prediction`` (the most probable class). Values of a categorical column never seen
        in training are counted in one warning.
    """
    loaded = load_run(run_dir)
    if threshold is not None:
        from .._validation import check_number

        if loaded["threshold"] is None:
            raise ConfigError("--threshold applies to binary runs; a multiclass run predicts the most probable class.")
        loaded = {**loaded, "threshold": check_number(threshold, "threshold", "predict", low=0, high=1)}
    rows = _read_rows(loaded, data, data_dir)
    _warn_unseen(loaded, rows)
    try:
        frame = score_frame(loaded, loaded["modality"].predict_raw(loaded["model"], rows))
    except RaretuneError:
        raise
    except Exception as exc:  # noqa: BLE001 - the rows passed read_rows: the run's own files disagree
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise RunStateError(
            f"{str(run_dir)!r} cannot score rows: its model.keras, config.json and metrics.json do not "
            f"agree ({type(exc).__name__}: {reason[:200]})."
        ) from None
    if isinstance(data, pd.DataFrame) and len(data) == len(frame):
        frame.index = data.index
    names = [keep] if isinstance(keep, str) else list(keep)
    if names:
        source = _source_frame(data)
        missing = [name for name in names if name not in source.columns]
        if missing:
            raise DataError(f"Column {missing[0]!r} (to keep) is not in the data; columns: "
                            f"{', '.join(map(str, source.columns[:12]))}.")
        kept = source[names].reset_index(drop=True)
        kept.index = frame.index
        frame = pd.concat([kept, frame], axis=1)
    return frame


def _source_frame(data) -> pd.DataFrame:
    """The source as a frame, for the columns to keep (DataFrames, CSV and Parquet files)."""
    from ..datasets import read_frame

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, (str, Path)) and not str(data).startswith("tfds:"):
        return read_frame(data)
    raise ConfigError("Columns can be kept from a DataFrame, a CSV or a Parquet file only.")


def _warn_unseen(loaded, rows) -> None:
    """One warning counting categorical values the training rows never held."""
    schema = loaded["schema"]
    if schema is None:
        return
    counts = []
    for column, vocabulary in zip(schema.categorical, schema.vocabularies):
        unseen = int((~rows.features[column].astype(str).isin(set(vocabulary))).sum())
        if unseen:
            counts.append(f"{column!r} {unseen:,}")
    if counts:
        warnings.warn(f"values never seen in training (scored as unknown): {', '.join(counts)}", UserWarning,
                      stacklevel=3)


def _read_rows(loaded, data, data_dir):
    from ..datasets import read_rows

    reference = loaded["modality"].reference(loaded["classes"], loaded["target"])
    return read_rows(data, reference, data_dir=data_dir)


def calibrated_scores(loaded: dict, output) -> np.ndarray:
    """Calibrated probabilities from a loaded run's model output: (n,) binary, (n, K) multiclass.

    ``model.keras`` holds its calibration, so its output is used as it is; only a run written
    before the calibration lived in the model has it applied here.
    """
    if loaded.get("calibrated", True):
        score = np.asarray(output, dtype=float)
    else:
        score = loaded["calibrator"].transform(output)
    return score[:, 0] if score.ndim == 2 and score.shape[1] == 1 else score


def score_frame(loaded: dict, output) -> pd.DataFrame:
    """Scores and predictions (class names) of a finished run from its model's output.

    ``model.keras`` returns calibrated probabilities, which are used as they are; only a run
    written before the calibration lived in the model has it applied here.
    """
    score = calibrated_scores(loaded, output)
    classes = np.asarray(loaded["classes"], dtype=object)
    if score.ndim == 1:
        return pd.DataFrame({"score": score, "prediction": classes[(score >= loaded["threshold"]).astype(int)]})
    out = pd.DataFrame({f"score_{name}": score[:, k] for k, name in enumerate(loaded["classes"])})
    out["prediction"] = classes[score.argmax(axis=1)]
    return out
