"""Evaluating a finished run on new labelled rows: its metrics there, and how far they moved.

:func:`evaluate` scores a labelled batch (next month's transactions, say) with the deployed
model and threshold, exactly as :func:`raretune.predict` would, and compares it with the
run's own test set: every test metric and its change, intervals, the confusion matrix, the
shift of the class shares and the population stability index (PSI) of the scores. It writes
``evaluation.json`` and ``evaluation.html`` into a folder of its own and never touches the run.

The population stability index compares the share of rows in each score bin::

    PSI = sum over bins i of (a_i - e_i) * ln(a_i / e_i)

where ``e_i`` is the share of the run's test scores (``scores.npz["test_score"]``) in bin
``i`` and ``a_i`` the share of this batch's scores. The bins are the deciles of the run's
test scores (10 bins; fewer when ties make deciles coincide), the outer bins open-ended, so
every score falls in one. A share of zero is counted as 0.0001 so that an empty bin gives a
large, finite term. The usual reading: below 0.1 stable, 0.1 to 0.25 a moderate shift,
above 0.25 a major one. Multiclass runs get one PSI per class score (the score of each class
binned as above) and ``value`` is the largest of them; they have no threshold, so no
threshold intervals either (the prediction is the most probable class).

A run trained with ``--cost-column`` or ``--weight-column`` (its ``config.json``) is
evaluated with the batch's own columns of those names: money lost and saved from each row's
cost, metrics and intervals weighted by each row's weight, as the run's test figures were.
A batch without them is refused in one line rather than given figures of another kind.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

import numpy as np

from .._errors import ConfigError, DataError, RunStateError
from .._io import read_json, write_json, write_text
from .._version import __version__
from ..metrics import score_predictions
from ._paths import check_output_file
from ._predict import load_run, predict
from ._row_values import batch_values, recorded_columns

__all__ = ["PSI_BINS", "evaluate", "population_stability"]

#: Quantile bins of the run's test scores used by the PSI.
PSI_BINS = 10
# floor of a bin's share: an empty bin would make ln(a/e) infinite
_PSI_FLOOR = 1e-4
# PSI readings, by convention (credit-scoring practice)
_PSI_READINGS = ((0.1, "stable"), (0.25, "moderate shift"), (float("inf"), "major shift"))
# metrics whose change from the run's test figures is reported
_COMPARED = ("pr_auc", "roc_auc", "f1", "precision", "recall", "mcc", "balanced_accuracy", "g_mean",
             "alert_rate", "expected_cost")


def population_stability(expected, actual, *, bins: int = PSI_BINS) -> dict:
    """Population stability index of ``actual`` scores against ``expected`` ones.

    Parameters
    ----------
    expected : array-like of shape (n,)
        Reference scores (the run's test scores); their quantiles make the bins.
    actual : array-like of shape (m,)
        New scores.
    bins : int, default=10
        Number of quantile bins (fewer when ties make quantiles coincide).

    Returns
    -------
    dict
        ``value`` (the PSI, see the module docstring), ``reading`` (stable, moderate shift
        or major shift), and ``bins``: for each bin ``low`` and ``high`` (None where open),
        ``expected`` and ``actual`` (shares of rows) and ``term`` (its part of the sum).

    Raises
    ------
    DataError
        If either set of scores is empty.

    Examples
    --------
    >>> same = population_stability(np.linspace(0, 1, 1000), np.linspace(0, 1, 500))
    >>> round(same["value"], 4), same["reading"]
    (0.0, 'stable')
    >>> population_stability(np.linspace(0, 1, 1000), np.linspace(0.5, 1, 500))["reading"]
    'major shift'
    """
    expected = np.asarray(expected, dtype=float).ravel()
    actual = np.asarray(actual, dtype=float).ravel()
    if expected.size == 0 or actual.size == 0:
        raise DataError("The population stability index needs scores on both sides; one side has none.")
    edges = np.unique(np.quantile(expected, np.arange(1, bins) / bins))
    # bin i holds scores in (edges[i-1], edges[i]]; the same rule on both sides
    e = np.bincount(np.searchsorted(edges, expected, side="left"), minlength=edges.size + 1) / expected.size
    a = np.bincount(np.searchsorted(edges, actual, side="left"), minlength=edges.size + 1) / actual.size
    e_floor, a_floor = np.maximum(e, _PSI_FLOOR), np.maximum(a, _PSI_FLOOR)
    terms = (a_floor - e_floor) * np.log(a_floor / e_floor)
    value = float(terms.sum())
    bounds = [None, *edges.tolist(), None]
    return {
        "value": value,
        "reading": next(name for limit, name in _PSI_READINGS if value < limit),
        "bins": [{"low": bounds[i], "high": bounds[i + 1], "expected": float(e[i]), "actual": float(a[i]),
                  "term": float(terms[i])} for i in range(edges.size + 1)],
    }


def evaluate(run_dir, data, *, target: str | None = None, data_dir=None, out=None) -> dict:
    """Score labelled rows with a finished run and compare them with the run's test set.

    Parameters
    ----------
    run_dir : path
        A folder written by :func:`raretune.run`; it is only read.
    data : str, path, DataFrame, tuple or tf.data.Dataset
        Labelled rows with the run's feature columns (any source :func:`raretune.predict`
        reads). Rows whose label is missing or unknown to the run are scored but left out of
        the metrics (their number is recorded).
    target : str, optional
        The label column, when it is not the run's: used only if ``data`` has no usable
        label under the run's target name.
    data_dir : path, optional
        TFDS data folder.
    out : path, optional
        Folder for ``evaluation.json`` and ``evaluation.html`` (made if needed). Default: a new
        folder ``<run_dir>-evaluation-<timestamp>`` beside the run.

    Returns
    -------
    dict
        The content of ``evaluation.json``, plus ``out`` (the folder, a :class:`~pathlib.Path`).
        ``metrics``: :func:`raretune.metrics.score_predictions` at the deployed threshold, and for
        binary runs ``intervals`` (bootstrap, PR-AUC and F1), ``decision_intervals`` (Wilson:
        precision, recall, alert rate), ``alert_rate``, and ``cost`` when the run has costs.
        ``run_test``: the run's own test figures; ``change``: per metric ``run``, ``batch`` and
        ``delta`` (batch minus run); ``class_shares`` and, binary, ``positive_rate`` (run, batch,
        delta), ``prevalence`` (``estimated`` from the scores of every row, its 95 % ``interval``,
        the ``labelled`` rate, training's rate ``train`` and a ``warning`` line or None when
        ``train`` lies outside the interval) and ``warnings`` (that line, if any); ``psi``:
        :func:`population_stability` of the positive-class score (multiclass: ``per_class`` and
        ``value``, the largest); ``row_columns``: the cost and weight columns read from the
        batch (``{}`` for a run trained without them).

    Raises
    ------
    RunStateError
        ``run_dir`` is not a finished run, or ``out`` is inside a run folder or not writable.
    DataError
        The rows lack the run's feature columns, or have no label the run knows, or lack
        (or hold bad values in) the cost or weight column the run was trained with.
    ConfigError
        The run has a cost or weight column and ``data`` is not a table.

    Examples
    --------
    >>> from raretune.run._evaluate import evaluate                        # doctest: +SKIP
    >>> result = evaluate("runs/first", "transactions-2026-12.csv")        # doctest: +SKIP
    >>> result["metrics"]["pr_auc"], result["psi"]["value"]                # doctest: +SKIP
    """
    from ..datasets import read_rows

    run_dir = Path(run_dir)
    loaded = load_run(run_dir)
    folder = _output_folder(run_dir, out)
    classes, run_target = loaded["classes"], loaded["target"]
    modality = loaded["modality"]
    label = run_target
    rows = read_rows(data, modality.reference(classes, run_target), data_dir=data_dir)
    if target is not None and target != run_target and not (rows.y >= 0).any():
        label = target
        rows = read_rows(data, modality.reference(classes, target), data_dir=data_dir)
    known = rows.y >= 0
    if not known.any():
        _no_labels(rows, label, classes)
    columns = _trained_columns(run_dir)
    _check_batch_columns(data, columns, rows.source)

    frame = predict(run_dir, data, data_dir=data_dir, keep=list(dict.fromkeys(columns.values())))
    if len(frame) != rows.n_rows:
        raise DataError(f"{rows.source} gave {len(frame):,} scores for {rows.n_rows:,} rows; read it once "
                        "(a one-shot generator cannot be evaluated).")
    binary = len(classes) == 2
    score = (frame["score"].to_numpy(dtype=float) if binary
             else frame[[f"score_{name}" for name in classes]].to_numpy(dtype=float))
    y, score = rows.y[known], score[known]
    values = batch_values(columns, frame[known], rows.source)
    run_metrics = loaded["metrics"]
    run_test = run_metrics.get("test") or {}
    threshold = loaded["threshold"]

    record = {
        "raretune_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "run": str(run_dir),
        "data": str(rows.source),
        "label_column": label,
        "task": {"type": "binary" if binary else "multiclass", "classes": list(classes),
                 "positive": classes[1] if binary else None},
        "rows": {"n": int(rows.n_rows), "labelled": int(known.sum()), "unlabelled": int((~known).sum())},
        "notes": list(rows.notes),
        "threshold": threshold if binary else None,
        "refit": isinstance(run_metrics.get("refit"), dict),
        "row_columns": columns,
    }
    metrics = _batch_metrics(y, score, threshold, classes, run_metrics.get("costs"), values)
    record["metrics"] = metrics
    record["run_test"] = {k: run_test.get(k) for k in (*_COMPARED, "threshold", "n", "positive_rate")
                          if k in run_test}
    record["change"] = {k: {"run": run_test[k], "batch": metrics[k], "delta": metrics[k] - run_test[k]}
                        for k in _COMPARED if _finite(run_test.get(k)) and _finite(metrics.get(k))}
    record["class_shares"] = {"run": _shares(run_test.get("confusion_matrix"), classes),
                              "batch": _shares(metrics["confusion_matrix"], classes)}
    if binary:
        run_rate = run_test.get("positive_rate")
        record["positive_rate"] = {"run": run_rate, "batch": metrics["positive_rate"],
                                   "delta": metrics["positive_rate"] - run_rate if _finite(run_rate) else None}
        record["prevalence"] = _estimated_prevalence(loaded, frame, metrics["positive_rate"])
        record["warnings"] = [record["prevalence"]["warning"]] if record["prevalence"]["warning"] else []
    record["psi"] = _psi(run_dir, score, classes)

    from ._evaluation_html import render_evaluation

    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "evaluation.json", record)
    write_text(folder / "evaluation.html", render_evaluation(record))
    return {**record, "out": folder}


def _estimated_prevalence(loaded: dict, frame, labelled_rate: float) -> dict:
    """The batch's base rate estimated from its scores alone, beside the rate its labels give.

    The estimate (EM of Saerens et al., 2002, with a bootstrap interval: ``raretune predict
    --estimate-prevalence``) uses every scored row; it is what the labels would show without
    waiting for them. ``warning`` is a line when training's rate lies outside the interval.
    """
    from ..prevalence import prevalence_warning
    from ._shift import batch_prevalence

    estimate, _ = batch_prevalence(loaded, frame)
    interval = estimate["interval"]
    return {"estimated": estimate["prevalence"], "interval": None if interval is None else list(interval),
            "labelled": labelled_rate, "train": estimate["train_prevalence"],
            "warning": prevalence_warning(estimate)}


def _output_folder(run_dir: Path, out) -> Path:
    """The folder to write into, checked before any work: never a run folder or inside one."""
    if out is None:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        base = Path(os.path.abspath(run_dir))
        out = base.with_name(f"{base.name}-evaluation-{stamp}")
        n = 1
        while out.exists():  # two evaluations within one second
            n += 1
            out = base.with_name(f"{base.name}-evaluation-{stamp}-{n}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunStateError(f"--out {str(out)!r} is a file; name a folder for the evaluation.")
    # the folder itself is one of the ancestors check_output_file refuses when it is a run
    check_output_file(out / "evaluation.json")
    check_output_file(out / "evaluation.html")
    return out


def _no_labels(rows, label: str, classes) -> None:
    """Raise the one-line error for rows without a usable label."""
    if any("not seen in training" in note for note in rows.notes):
        raise DataError(f"Every label in column {label!r} of {rows.source} is unknown to the run "
                        f"(its classes: {', '.join(repr(str(c)) for c in classes)}).")
    raise DataError(f"{rows.source} has no labels in column {label!r}; evaluate needs labelled rows "
                    "(name the label column with --target).")


def _trained_columns(run_dir: Path) -> dict:
    """``{option: column}``: the cost and weight columns the run was trained with (config.json)."""
    try:
        config = read_json(run_dir / "config.json").get("config") or {}
    except (OSError, ValueError, AttributeError) as exc:
        raise RunStateError(f"{str(run_dir / 'config.json')!r} cannot be read ({type(exc).__name__}: {exc}).") from None
    return recorded_columns(config)


def _check_batch_columns(data, columns: dict, shown: str) -> None:
    """Refuse, before scoring, a batch without the cost or weight column the run was trained with."""
    if not columns:
        return
    import pandas as pd

    from ._predict_io import is_table_path, table_files

    option, column = next(iter(columns.items()))
    if isinstance(data, pd.DataFrame):
        present = {str(c) for c in data.columns}
    elif is_table_path(data):
        files = table_files(data)
        present = set.intersection(*(set(files.columns(path)) for path in files.paths))
    else:
        raise ConfigError(f"The run was trained with --{option.replace('_', '-')} {column!r}; evaluate reads that "
                          f"column from a table (CSV, Parquet or a DataFrame), not from {shown}.")
    for option, column in columns.items():
        if column not in present:
            role = "cost" if option == "cost_column" else "weight"
            raise DataError(f"The run was trained with --{option.replace('_', '-')} {column!r}, but {shown} has no "
                            f"column {column!r}: add each row's {role} to evaluate it as the run was tested.")


def _batch_metrics(y, score, threshold, classes, costs, values: dict | None = None) -> dict:
    """Every test metric of the run, on this batch, at the deployed threshold (``values``: the
    batch's ``cost`` and ``sample_weight``, each None without its column)."""
    binary = len(classes) == 2
    values = values or {"cost": None, "sample_weight": None}
    costs = costs if isinstance(costs, dict) and binary else None
    if costs and ((costs.get("cost_column") and values["cost"] is None)
                  or (costs.get("weight_column") and values["sample_weight"] is None)):
        costs = None  # no figure beats one counted at a flat cost the run was not tested with
    metrics = score_predictions(y, score, threshold=threshold if binary else 0.5, costs=costs,
                                class_names=list(classes), cost=values["cost"] if costs else None,
                                sample_weight=values["sample_weight"])
    if not binary:
        return metrics
    from ..intervals import cost_summary, decision_intervals
    from ..report import bootstrap_intervals

    metrics["alert_rate"] = float(np.mean(score >= threshold))
    weight = values["sample_weight"]
    metrics["decision_intervals"] = decision_intervals(y, score, threshold, sample_weight=weight)
    # the bootstrap needs both classes; a batch without positives has no PR-AUC to bound
    metrics["intervals"] = (bootstrap_intervals(y, score, threshold, random_state=0, sample_weight=weight)
                            if 0 < y.sum() < y.size else None)
    if costs is not None:
        metrics["cost"] = cost_summary(y, score, threshold, costs["fn"], costs["fp"], **values)
    return metrics


def _psi(run_dir: Path, score, classes) -> dict | None:
    """PSI of this batch's scores against the run's test scores (None without ``scores.npz``)."""
    path = run_dir / "scores.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path) as saved:
            reference = np.asarray(saved["test_score"], dtype=float)
    except (OSError, ValueError, KeyError) as exc:
        raise RunStateError(f"{str(path)!r} cannot be read ({type(exc).__name__}: {exc}).") from None
    if score.ndim == 1:
        return population_stability(reference, score)
    per_class = {str(name): population_stability(reference[:, k], score[:, k]) for k, name in enumerate(classes)}
    worst = max(per_class.values(), key=lambda p: p["value"])
    return {"value": worst["value"], "reading": worst["reading"], "per_class": per_class}


def _shares(confusion, classes) -> dict | None:
    """Share of rows of each true class, from a confusion matrix (rows: true class)."""
    if not confusion:
        return None
    counts = np.asarray(confusion, dtype=float).sum(axis=1)
    total = counts.sum()
    return {str(name): float(counts[k] / total) if total else None for k, name in enumerate(classes)}


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value))
