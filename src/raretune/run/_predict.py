"""Using a finished run: load it, and score new rows with the deployed model and threshold."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .._errors import ConfigError, DataError, RaretuneError, RunStateError
from .._io import read_json
from ..calibration import ProbabilityCalibrator
from ._modality import modality_from_record
from ._predict_io import DEFAULT_BATCH_ROWS

__all__ = ["calibrated_scores", "load_run", "predict", "prediction_destination", "score_batches", "score_frame"]


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
        ``target``, ``metrics``, ``run_dir``.

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
        "run_dir": run_dir,
    }


def predict(run_dir, data, *, data_dir=None, threshold: float | None = None, keep=(), out=None,
            batch_rows: int = DEFAULT_BATCH_ROWS):
    """Score new rows with a finished run.

    Parameters
    ----------
    run_dir : path
        A folder written by :func:`raretune.run`.
    data : str, path, DataFrame, tuple or tf.data.Dataset
        Rows to score; they need the run's feature columns (a label column is not needed
        and other columns are ignored). A table run also reads a folder or a glob of
        Parquet files (``"shards/*.parquet"``). For an image run: ``"tfds:NAME"``, a dataset
        of images or ``(image, label)`` pairs, or an image array of the run's image shape.
    threshold : float, optional
        Binary runs: decide at this threshold instead of the deployed one.
    keep : sequence of str
        Columns of the source to carry into the result (an id, an amount), first.
    out : path, optional
        Write the predictions here instead of returning them: ``"-"`` (CSV on standard
        output), a ``.csv`` or ``.parquet`` file, or a folder (existing and empty, or a name
        ending in ``/``) that receives one Parquet file per input file, same base name.
    batch_rows : int, default 65,536
        Files (CSV, Parquet, shards) are read and scored this many rows at a time, so
        memory does not grow with the input when ``out`` is given.

    Notes
    -----
    When ``TF_CONFIG`` names several chief and worker tasks (a cluster, one process a machine),
    ``out`` must be a folder they share and ``data`` shards: task ``i`` of ``n`` (the chief
    first, then the workers by index) scores only the shards ``files[i::n]`` and writes their
    output files, under the names one process would give them, and returns its own row count.
    Scoring has no gradients to keep in step, so no ``tf.distribute`` strategy is made and the
    tasks never talk to each other (:mod:`raretune.run._workers`).

    Returns
    -------
    pandas.DataFrame or int
        Without ``out``: the source's index (a DataFrame's own, else 0..n-1), the ``keep``
        columns, then binary: ``score`` (calibrated probability of the positive class) and
        ``prediction`` (the class name at the threshold); multiclass: ``score_<class>`` per
        class and ``prediction`` (the most probable class). With ``out``: the number of rows
        written (by this task, in a cluster). Values of a categorical column never seen in
        training are counted in one warning for the whole input.
    """
    from ._predict_io import write_predictions

    target, share = prediction_destination(data, out)
    batches = score_batches(load_run(run_dir), data, data_dir=data_dir, threshold=threshold, keep=keep,
                            batch_rows=batch_rows, share=share)
    if target is not None:
        return write_predictions(batches, target)
    frames = [frame for _, frame in batches]
    return frames[0] if len(frames) == 1 else pd.concat(frames)


def prediction_destination(data, out):
    """Where :func:`predict` writes, checked before anything is scored: ``(target, share)``.

    ``target`` is a ``PredictionTarget`` (None when ``out`` is None); ``share`` is this task's
    :class:`~raretune.run._workers.PredictShare` when ``TF_CONFIG`` names several chief and
    worker tasks (``target`` is then their shared folder), else None.

    Raises
    ------
    ConfigError, DataError, RunStateError
        See :func:`~raretune.run._predict_io.prediction_target` and
        :func:`~raretune.run._workers.predict_share`.
    """
    from ._predict_io import PredictionTarget, prediction_target
    from ._workers import predict_share

    share = predict_share(data, out)
    if share is not None:
        return PredictionTarget("folder", share.folder), share
    return (None if out is None else prediction_target(out)), None


def score_batches(loaded: dict, data, *, data_dir=None, threshold: float | None = None, keep=(),
                  batch_rows: int = DEFAULT_BATCH_ROWS, share=None):
    """Predictions of a loaded run, a batch at a time: an iterator of ``(path, frame)``.

    The arguments are those of :func:`predict` (``loaded`` from :func:`load_run`); they are
    checked, and the files' columns too, before this returns. Files (CSV, Parquet, a folder
    or glob of Parquet shards) are read ``batch_rows`` rows at a time, the next batch while
    one is scored (:func:`~raretune._readahead.readahead`), ``path`` naming the file each
    batch comes from; their frames are indexed by row number over the whole input.
    Any other source is read and scored in memory as one batch, ``path`` None. One warning
    counts the categorical values never seen in training, once every batch is scored.
    With ``share`` (a :class:`~raretune.run._workers.PredictShare`) only its shards are read,
    and the row numbers count its own rows.

    Raises
    ------
    ConfigError, DataError, RunStateError
        A bad option, unreadable or unsuitable rows, or a run whose files disagree.
    """
    from .._validation import check_number
    from ._predict_io import is_table_path, table_files

    batch_rows = check_number(batch_rows, "batch_rows", "predict", kind=int, low=1)
    if threshold is not None:
        if loaded["threshold"] is None:
            raise ConfigError("--threshold applies to binary runs; a multiclass run predicts the most probable class.")
        loaded = {**loaded, "threshold": check_number(threshold, "threshold", "predict", low=0, high=1)}
    names = [keep] if isinstance(keep, str) else list(keep)
    if loaded["schema"] is None or not is_table_path(data):
        if share is not None:
            raise ConfigError(f"{share.task.count} chief and worker tasks score table shards each; this run "
                              "reads images.")
        return _score_in_memory(loaded, data, data_dir, names)
    files = table_files(data) if share is None else share.own(table_files(data))
    files.check_columns(loaded["schema"].columns, names)
    return _score_files(loaded, files, names, batch_rows)


def _score_in_memory(loaded, data, data_dir, names):
    rows = _read_rows(loaded, data, data_dir)
    kept = None
    if names:
        source = _source_frame(data)
        missing = [name for name in names if name not in source.columns]
        if missing:
            raise DataError(f"Column {missing[0]!r} (to keep) is not in the data; columns: "
                            f"{', '.join(map(str, source.columns[:12]))}.")
        kept = source[names]
    _warn_unseen(_unseen_counts(loaded, rows))
    frame = _scored(loaded, rows)
    if isinstance(data, pd.DataFrame) and len(data) == len(frame):
        frame.index = data.index
    if kept is not None:
        kept = kept.reset_index(drop=True)
        kept.index = frame.index
        frame = pd.concat([kept, frame], axis=1)
    return iter([(None, frame)])


def _score_files(loaded, files, names, batch_rows):
    from .._readahead import readahead
    from ..datasets import read_rows

    modality = loaded["modality"]
    reference = modality.reference(loaded["classes"], loaded["target"])

    def read(batch):  # in the readahead's thread, while the batch before is scored and written
        path, raw = batch
        rows = read_rows(raw, reference)
        return path, raw, _guarded(loaded, lambda: modality.inputs(rows)), _unseen_counts(loaded, rows)

    counts, start = {}, 0
    for path, raw, inputs, unseen in readahead(files.batches([*loaded["schema"].columns, *names], batch_rows), read):
        for column, n_unseen in unseen.items():
            counts[column] = counts.get(column, 0) + n_unseen
        frame = _guarded(loaded, lambda: score_frame(loaded, modality.predict_inputs(loaded["model"], inputs)))
        frame.index = pd.RangeIndex(start, start + len(frame))
        if names:
            kept = raw[names].reset_index(drop=True)
            kept.index = frame.index
            frame = pd.concat([kept, frame], axis=1)
        start += len(frame)
        yield path, frame
    if start == 0:
        raise DataError(f"{files.shown!r} holds no rows to score.")
    _warn_unseen(counts)


def _scored(loaded, rows) -> pd.DataFrame:
    """``score_frame`` of ``rows``."""
    return _guarded(loaded, lambda: score_frame(loaded, loaded["modality"].predict_raw(loaded["model"], rows)))


def _guarded(loaded, call):
    """``call()``, on rows that passed ``read_rows``: any error but raretune's own means the
    run's files disagree, and is said so in one line."""
    try:
        return call()
    except RaretuneError:
        raise
    except Exception as exc:  # noqa: BLE001 - the rows passed read_rows: the run's own files disagree
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise RunStateError(
            f"{str(loaded.get('run_dir', 'the run'))!r} cannot score rows: its model.keras, config.json and metrics.json do not "
            f"agree ({type(exc).__name__}: {reason[:200]})."
        ) from None


def _source_frame(data) -> pd.DataFrame:
    """The source as a frame, for the columns to keep (files keep theirs a batch at a time)."""
    if isinstance(data, pd.DataFrame):
        return data
    raise ConfigError("Columns can be kept from a DataFrame, a CSV or a Parquet file only.")


def _unseen_counts(loaded, rows) -> dict:
    """``{column: rows}`` of categorical values the training rows never held."""
    schema = loaded["schema"]
    if schema is None:
        return {}
    counts = {}
    for column, vocabulary in zip(schema.categorical, schema.vocabularies):
        unseen = int((~rows.features[column].astype(str).isin(set(vocabulary))).sum())
        if unseen:
            counts[column] = unseen
    return counts


def _warn_unseen(counts: dict) -> None:
    """One warning counting categorical values the training rows never held."""
    if counts:
        shown = ", ".join(f"{column!r} {unseen:,}" for column, unseen in counts.items())
        warnings.warn(f"values never seen in training (scored as unknown): {shown}", UserWarning, stacklevel=3)


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
