"""Read a run folder and write its ``report.html``."""

from __future__ import annotations

import json
import os
import pathlib
import time
import zipfile

import numpy as np

from .._errors import RunStateError
from .._io import write_text
from ..intervals import decision_intervals
from ._html import RunRecord, render_html
from ._intervals import bootstrap_intervals
from ._plots import probe_seconds

__all__ = ["load_record", "report_seconds_estimate", "write_report"]

REPORT_NAME = "report.html"


def _read_json(path: pathlib.Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise RunStateError(f"{path} is not UTF-8 text; it is damaged.") from None
    except json.JSONDecodeError as exc:
        raise RunStateError(f"{path} is not valid JSON: {exc}.") from None
    except OSError as exc:
        raise RunStateError(f"{path} cannot be read: {exc.strerror or exc}.") from None


def _read_scores(path: pathlib.Path) -> dict:
    """The arrays of ``scores.npz``; a damaged file or one holding objects is refused."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        # np.load raises ValueError for pickled (object) arrays, BadZipFile/EOFError for cut files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunStateError(f"{path} is damaged: {reason}") from None


def load_record(run_dir: str | os.PathLike) -> RunRecord:
    """Read what a run folder holds; only ``metrics.json`` is required.

    Parameters
    ----------
    run_dir : str or path-like
        A folder written by ``raretune run``.

    Returns
    -------
    record : RunRecord
        ``scores``, ``history`` and ``trials`` are ``None`` where their file is missing.
        When ``metrics.json`` has no ``test.intervals`` and the task is binary with a
        threshold, ``computed_intervals`` holds intervals computed from ``scores.npz``;
        ``decision`` holds the Wilson intervals at the threshold when ``scores.npz`` allows.

    Raises
    ------
    RunStateError
        If the folder or its ``metrics.json`` is missing, a file cannot be read or parsed,
        ``scores.npz`` holds objects, or the scores cannot give intervals.
    """
    run_dir = pathlib.Path(run_dir)
    metrics_path = run_dir / "metrics.json"
    if not run_dir.is_dir():
        raise RunStateError(f"Run folder {run_dir} does not exist.")
    if not metrics_path.is_file():
        raise RunStateError(f"{run_dir} is not a run folder: it has no metrics.json.")
    metrics = _read_json(metrics_path)
    if not isinstance(metrics, dict):
        raise RunStateError(f"{metrics_path} must hold a JSON object.")

    scores = None
    if (run_dir / "scores.npz").is_file():
        scores = _read_scores(run_dir / "scores.npz")
    history = _read_json(run_dir / "history.json") if (run_dir / "history.json").is_file() \
        else None
    trials = _read_json(run_dir / "trials.json") if (run_dir / "trials.json").is_file() else None
    if isinstance(trials, dict):  # tolerate {"trials": [...]}
        trials = trials.get("trials")
    if history is not None and not isinstance(history, dict):
        history = None

    record = RunRecord(metrics=metrics, scores=scores, history=history, trials=trials)
    try:
        record.computed_intervals = _missing_intervals(record)
        record.decision = _decision(record)
    except _SHAPE_ERRORS as exc:
        raise _odd_shape(run_dir, exc) from None
    return record


# what numpy, matplotlib and the page raise for files that parse but hold other shapes than a run writes
_SHAPE_ERRORS = (TypeError, ValueError, KeyError, IndexError, AttributeError)


def _odd_shape(run_dir, exc: Exception) -> RunStateError:
    reason = str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else ""
    return RunStateError(
        f"{run_dir} holds run files of an unexpected shape (edited or damaged); report.html not written "
        f"({type(exc).__name__}: {reason[:200]})."
    )


def _test_scores(record: RunRecord):
    """Binary test labels, scores and threshold, or ``None`` where they are not all there."""
    m = record.metrics
    test = m.get("test") if isinstance(m.get("test"), dict) else {}
    if record.scores is None or (m.get("task") or {}).get("type") == "multiclass":
        return None
    threshold = (m.get("threshold") or {}).get("value", test.get("threshold"))
    y = record.scores.get("test_y")
    score = record.scores.get("test_score")
    if threshold is None or y is None or score is None or np.ndim(score) != 1:
        return None
    if np.unique(y).size < 2:
        return None
    return y, score, float(threshold)


def _test_weight(record: RunRecord, n: int):
    """The test rows' sample weights from scores.npz, when the run had a weight column."""
    weight = record.scores.get("test_sample_weight") if record.scores is not None else None
    return None if weight is None or np.shape(weight) != (n,) else np.asarray(weight, dtype=float)


def _decision(record: RunRecord) -> dict | None:
    found = _test_scores(record)
    if found is None:
        return None
    y, score, threshold = found
    weight = _test_weight(record, np.size(y))
    flagged = score >= threshold
    positives = np.asarray(y) == 1
    counts = {"tp": int(np.sum(flagged & positives)), "flagged": int(flagged.sum()),
              "positives": int(positives.sum()), "rows": int(positives.size), "flagged_rows": int(flagged.sum())}
    if weight is not None:  # precision and recall are weighted shares; the alert rate counts rows
        counts.update(tp=float(weight[flagged & positives].sum()), flagged=float(weight[flagged].sum()),
                      positives=float(weight[positives].sum()))
    return {
        "threshold": threshold,
        "weighted": weight is not None,
        "counts": counts,
        "intervals": {k: (v["low"], v["high"]) for k, v in decision_intervals(y, score, threshold,
                                                                                 sample_weight=weight).items()
                      if isinstance(v, dict)},
    }


def _missing_intervals(record: RunRecord) -> dict | None:
    m = record.metrics
    test = m.get("test") if isinstance(m.get("test"), dict) else {}
    found = None if test.get("intervals") else _test_scores(record)
    if found is None:
        return None
    return bootstrap_intervals(*found, sample_weight=_test_weight(record, np.size(found[0])))


#: One report costs about this many probe figures (:func:`~raretune.report._plots.probe_seconds`):
#: 19-22x measured on 2 cores at load 3-4 (the probe 0.25-0.35 s, the report 4.7-7.7 s).
REPORT_PROBES = 20


def report_seconds_estimate(clock=time.perf_counter) -> float:
    """Seconds :func:`write_report` should take on this machine now: one figure drawn and
    timed, times :data:`REPORT_PROBES`. The run's time limit keeps this much for the report.

    Parameters
    ----------
    clock : callable
        Seconds (a test may pass a fake clock).

    Examples
    --------
    >>> report_seconds_estimate() > 0
    True
    """
    return REPORT_PROBES * probe_seconds(clock)


def write_report(run_dir: str | os.PathLike) -> pathlib.Path:
    """Write ``report.html`` into a run folder from the files the run left there.

    Reads ``metrics.json`` (required) and, when present, ``scores.npz``, ``history.json`` and
    ``trials.json``; a section whose file is missing says "not recorded". The page is written
    to a temporary file in the same folder and renamed into place, so a reader never sees a
    half-written report.

    Parameters
    ----------
    run_dir : str or path-like
        A folder written by ``raretune run``.

    Returns
    -------
    path : pathlib.Path
        The path of the written ``report.html``.

    Raises
    ------
    RunStateError
        If the folder or its ``metrics.json`` is missing or unreadable, or a file holds
        values of another shape than a run writes.

    Examples
    --------
    >>> from raretune.report import write_report
    >>> write_report("runs/fraud")  # doctest: +SKIP
    PosixPath('runs/fraud/report.html')
    """
    record = load_record(run_dir)
    try:
        page = render_html(record)
    except _SHAPE_ERRORS as exc:
        raise _odd_shape(run_dir, exc) from None
    target = pathlib.Path(run_dir) / REPORT_NAME
    write_text(target, page)  # atomic, and with the user's umask
    return target
