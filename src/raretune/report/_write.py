"""Read a run folder and write its ``report.html``."""

from __future__ import annotations

import json
import os
import pathlib
import tempfile

import numpy as np

from .._errors import RunStateError
from ._html import RunRecord, render_html
from ..operating import decision_intervals
from ._intervals import bootstrap_intervals

__all__ = ["load_record", "write_report"]

REPORT_NAME = "report.html"


def _read_json(path: pathlib.Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RunStateError(f"{path} is not valid JSON: {exc}.") from None


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
        If the folder or its ``metrics.json`` is missing, or a JSON file cannot be parsed.
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
        with np.load(run_dir / "scores.npz", allow_pickle=False) as npz:
            scores = {name: npz[name] for name in npz.files}
    history = _read_json(run_dir / "history.json") if (run_dir / "history.json").is_file() \
        else None
    trials = _read_json(run_dir / "trials.json") if (run_dir / "trials.json").is_file() else None
    if isinstance(trials, dict):  # tolerate {"trials": [...]}
        trials = trials.get("trials")
    if history is not None and not isinstance(history, dict):
        history = None

    record = RunRecord(metrics=metrics, scores=scores, history=history, trials=trials)
    record.computed_intervals = _missing_intervals(record)
    record.decision = _decision(record)
    return record


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


def _decision(record: RunRecord) -> dict | None:
    found = _test_scores(record)
    if found is None:
        return None
    y, score, threshold = found
    flagged = score >= threshold
    positives = np.asarray(y) == 1
    return {
        "threshold": threshold,
        "counts": {"tp": int(np.sum(flagged & positives)), "flagged": int(flagged.sum()),
                   "positives": int(positives.sum()), "rows": int(positives.size)},
        "intervals": {k: (v["low"], v["high"]) for k, v in decision_intervals(y, score, threshold).items()
                      if isinstance(v, dict)},
    }


def _missing_intervals(record: RunRecord) -> dict | None:
    m = record.metrics
    test = m.get("test") if isinstance(m.get("test"), dict) else {}
    found = None if test.get("intervals") else _test_scores(record)
    return None if found is None else bootstrap_intervals(*found)


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
        If the folder or its ``metrics.json`` is missing or unreadable.

    Examples
    --------
    >>> from raretune.report import write_report
    >>> write_report("runs/fraud")  # doctest: +SKIP
    PosixPath('runs/fraud/report.html')
    """
    record = load_record(run_dir)
    page = render_html(record)
    target = pathlib.Path(run_dir) / REPORT_NAME
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html.tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(tmp, target)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    return target
