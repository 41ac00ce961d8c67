"""The report's sections about results: operating point, test set, intervals, training."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

import numpy as np

from . import _decision_plots, _plots
from ._explorer import explorer_html, validation_row_values
from ._html_parts import (
    _METRIC_LABELS,
    _METRIC_ORDER,
    NOT_RECORDED,
    RunRecord,
    _class_names,
    _computed,
    _confusion,
    _facts,
    _figure,
    _fmt,
    _get,
    _is_number,
    _metric,
    _missing,
    _path,
    _table,
)

def _interval_html(rec: RunRecord, key: str) -> str:
    stored = _get(rec.metrics, "test", "intervals")
    if isinstance(stored, Mapping) and key in stored:
        level = stored.get("level", 0.95)
        lo, hi = stored[key]
        return (f"{level:.0%} CI {_metric(lo, _path('test', 'intervals', key, 0))}"
                f"–{_metric(hi, _path('test', 'intervals', key, 1))}")
    if rec.computed_intervals and key in rec.computed_intervals:
        level = rec.computed_intervals["level"]
        lo, hi = rec.computed_intervals[key]
        return (f"{level:.0%} CI {_computed(lo, f'intervals.{key}.0')}"
                f"–{_computed(hi, f'intervals.{key}.1')}")
    return ""


def _metrics_table(m: Mapping, intervals_html) -> str:
    test = m.get("test") or {}
    validation = m.get("validation") or {}
    keys = [k for k in _METRIC_ORDER if _is_number(test.get(k)) or _is_number(validation.get(k))]
    keys += [k for k in list(test) + list(validation)
             if k not in keys and (_is_number(test.get(k)) or _is_number(validation.get(k)))]
    keys = list(dict.fromkeys(keys))
    rows = []
    for k in keys:
        rows.append([
            escape(_METRIC_LABELS.get(k, k.replace("_", " "))),
            _metric(validation.get(k), _path("validation", k)) if k in validation else "—",
            _metric(test.get(k), _path("test", k)) if k in test else "—",
            intervals_html(k),
        ])
    header = ["metric", "validation", "test", "test 95% interval"]
    if not any(row[3] for row in rows):
        header, rows = header[:3], [row[:3] for row in rows]
    return _table(header, rows, numeric={1, 2, 3})


def _test_section(rec: RunRecord) -> str:
    m = rec.metrics
    multiclass = _get(m, "task", "type") == "multiclass"
    parts = ['<section id="test"><h2>Chosen model on the test set</h2>']

    def interval_cell(key):
        return _interval_html(rec, key).replace("95% CI ", "") if key in ("pr_auc", "f1") else ""

    parts.append(_metrics_table(m, interval_cell))
    if multiclass:
        parts.append('<p class="note">Multiclass: PR-AUC, F1, precision and recall are macro '
                     "averages over the classes; the prediction is the most probable class.</p>")
    calibration = m.get("calibration")
    if isinstance(calibration, Mapping) and calibration:
        facts = [("method", escape(str(calibration.get("method", NOT_RECORDED))))]
        for key, label in (("brier", "Brier score"), ("log_loss", "log loss")):
            if f"{key}_before" in calibration or f"{key}_after" in calibration:
                facts.append((f"{label} before → after",
                              f"{_metric(calibration.get(f'{key}_before'), f'calibration.{key}_before')}"
                              f" → {_metric(calibration.get(f'{key}_after'), f'calibration.{key}_after')}"))
        parts.append("<h3>Calibration</h3>" + _facts(facts))
    if multiclass:
        parts.append(_per_class_table(m))
    parts.append("<h3>Figures</h3>")
    parts.append(_test_figures(rec, multiclass))
    parts.append("</section>")
    return "".join(parts)


def _per_class_table(m: Mapping) -> str:
    per_class = _get(m, "test", "per_class")
    if not isinstance(per_class, Mapping) or not per_class:
        return "<h3>Per class</h3>" + _missing("Per-class metrics")
    keys = ["support", "pr_auc", "precision", "recall", "f1"]
    keys += [k for v in per_class.values() for k in v if k not in keys]
    keys = list(dict.fromkeys(keys))
    rows = [[escape(str(name))] + [_metric(values.get(k), _path("test", "per_class", name, k))
                                   for k in keys]
            for name, values in per_class.items()]
    header = ["class"] + [_METRIC_LABELS.get(k, k).split(" (")[0] for k in keys]
    return "<h3>Per class (one vs rest)</h3>" + _table(header, rows,
                                                       numeric=set(range(1, len(header))))


def _test_figures(rec: RunRecord, multiclass: bool) -> str:
    m = rec.metrics
    scores = rec.scores
    figures = []
    cm = _get(m, "test", "confusion_matrix")
    if scores is None or "test_y" not in scores or "test_score" not in scores:
        if cm is not None:
            figures.append(_figure(_plots.confusion_matrix_figure(cm, _class_names(m, len(cm))),
                                   "confusion matrix", "Confusion matrix on the test set."))
        body = '<div class="figures">' + "".join(figures) + "</div>" if figures else ""
        return body + _missing("Test scores (scores.npz), needed for the curves")
    y = np.asarray(scores["test_y"]).astype(int)
    score = np.asarray(scores["test_score"], dtype=float)
    raw = scores.get("test_score_raw")
    if multiclass:
        names = _class_names(m, score.shape[1])
        if cm is None:
            cm = _confusion(y, score.argmax(axis=1), len(names))
        figures.append(_figure(_plots.multiclass_pr_figure(y, score, names),
                               "per-class precision-recall curves",
                               "One-vs-rest precision-recall curve of each class; the dotted "
                               "line of the same colour is that class's prevalence."))
        figures.append(_figure(_plots.confusion_matrix_figure(cm, names),
                               "confusion matrix",
                               "K×K confusion matrix (prediction: the most probable class); "
                               "shading is the share of each actual class."))
        return '<div class="figures">' + "".join(figures) + "</div>"

    if np.unique(y).size < 2:
        return _missing("Curves (the test set holds one class only)")
    threshold = _get(m, "threshold", "value")
    if threshold is None:
        threshold = _get(m, "test", "threshold")
    names = _class_names(m, 2)
    if cm is None and threshold is not None:
        cm = _confusion(y, (score >= threshold).astype(int), 2)
    figures.append(_figure(_plots.pr_curve_figure(y, score, threshold=threshold),
                           "precision-recall curve",
                           "Precision-recall curve on the test set; the dashed line is the "
                           "prevalence, the precision of a classifier that guesses. The dot is "
                           "the chosen threshold."))
    figures.append(_figure(_plots.roc_curve_figure(y, score, threshold=threshold),
                           "ROC curve",
                           "ROC curve on the test set. With rare positives ROC-AUC looks good "
                           "easily; read the precision-recall curve first."))
    if cm is not None:
        figures.append(_figure(_plots.confusion_matrix_figure(cm, names),
                               "confusion matrix",
                               "Confusion matrix on the test set at the chosen threshold; "
                               "shading is the share of each actual class."))
    calibration = m.get("calibration") or {}
    figures.append(_figure(_plots.calibration_figure(
        y, score, raw, brier_before=calibration.get("brier_before"),
        brier_after=calibration.get("brier_after")),
        "calibration curve",
        "Reliability diagram on the test set: predicted probability against the observed rate "
        "of positives, before and after calibration (bins of equal predicted probability mass)."))
    validation = _validation_scores(rec)
    panels = ([(f"{_validation_rows(m)}", *validation)] if validation else []) + [("test", y, score)]
    figures.append(_figure(_decision_plots.score_histogram_figure(
        panels, [f"{n}, {label}" for n, label in zip(names, ("negative", "positive"))],
        threshold=threshold),
        "score histograms by class",
        "Scores of each class, row counts on a log scale, with the chosen threshold: the "
        "overlap of the two classes is what no threshold can separate.", wide=True))
    figures.append(_figure(_decision_plots.capture_figure(panels, threshold=threshold),
                           "cumulative capture and lift",
                           "Share of the positives caught when flagging the top k % of rows by "
                           "score, and the lift over flagging at random; dots: the chosen "
                           "threshold.", wide=True))
    return '<div class="figures">' + "".join(figures) + "</div>"


def _validation_rows(m: Mapping) -> str:
    """What the validation scores are: held-out rows, or out-of-fold predictions."""
    folds = _get(m, "data", "folds")
    return "out-of-fold" if _is_number(folds) and folds > 1 else "validation"


def _validation_scores(rec: RunRecord) -> tuple[np.ndarray, np.ndarray] | None:
    """Binary validation labels and scores from scores.npz, when both classes are there."""
    scores = rec.scores
    if scores is None or "validation_y" not in scores or "validation_score" not in scores:
        return None
    y = np.asarray(scores["validation_y"]).astype(int)
    score = np.asarray(scores["validation_score"], dtype=float)
    if score.ndim != 1 or y.shape != score.shape or np.unique(y).size < 2:
        return None
    return y, score


def _operating_point_section(rec: RunRecord) -> str:
    m = rec.metrics
    rows = _validation_rows(m)
    parts = [f'<section id="operating-point"><h2>Choose an operating point ({rows})</h2>',
             explorer_html(m, rec.scores)]
    validation = _validation_scores(rec)
    threshold = _get(m, "threshold", "value")
    if validation is not None and _is_number(threshold) and _get(m, "task", "type") != "multiclass":
        costs = m.get("costs") if isinstance(m.get("costs"), Mapping) else None
        per_row = validation_row_values(rec.scores, costs, validation[0].size)
        if per_row is None:
            costs = None  # an older run: its scores.npz lacks the per-row costs or weights
        refit = _get(m, "refit", "threshold", "value")
        refit = float(refit) if _is_number(refit) else None
        parts.append('<div class="figures">' + _figure(
            _decision_plots.threshold_figure(*validation, float(threshold), costs=costs,
                                             rows=rows, refit_threshold=refit, **(per_row or {})),
            "metrics by threshold",
            f"Precision, recall and F1 on the {rows} scores, where the threshold is chosen, for "
            "every threshold" + (" and the expected cost" if costs else "")
            + "; the dashed line is the chosen threshold"
            + (", the dotted one the refitted model's" if refit is not None else "") + ".",
            wide=True) + "</div>")
    return "".join(parts) + "</section>"


def _intervals_section(rec: RunRecord) -> str:
    m = rec.metrics
    parts = ['<section id="intervals"><h2>Intervals (test)</h2>']
    stored = _get(m, "test", "intervals")
    if isinstance(stored, Mapping) and ("pr_auc" in stored or "f1" in stored):
        iv, source, tag = stored, "recorded in metrics.json by the run", True
    elif rec.computed_intervals:
        iv, source, tag = rec.computed_intervals, "computed by the report from scores.npz", False
    else:
        why = ("Bootstrap intervals are computed for binary tasks only."
               if _get(m, "task", "type") == "multiclass" else None)
        parts.append(f'<p class="note">{why}</p>' if why
                     else _missing("Bootstrap intervals (need scores.npz and a threshold)"))
        return "".join(parts) + "</section>"
    rows = []
    for key in ("pr_auc", "f1"):
        if key not in iv:
            continue
        lo, hi = iv[key]
        if tag:
            cells = [_metric(lo, _path("test", "intervals", key, 0)),
                     _metric(hi, _path("test", "intervals", key, 1))]
        else:
            cells = [_computed(lo, f"intervals.{key}.0"), _computed(hi, f"intervals.{key}.1")]
        rows.append([escape(_METRIC_LABELS[key]), _metric(_get(m, "test", key), _path("test", key))]
                    + cells)
    level = iv.get("level", 0.95)
    parts.append(_table(["metric", "test estimate", f"{level:.0%} low", f"{level:.0%} high"],
                        rows, numeric={1, 2, 3}))
    parts.append(
        f'<p class="note">Percentile bootstrap, {escape(_fmt(iv.get("n_resamples")))} resamples, '
        "stratified (positives and negatives drawn separately, so every resample keeps the test "
        f"set's class counts); F1 at the chosen threshold. Intervals {escape(source)}.</p>")
    return "".join(parts) + _decision_table(rec) + "</section>"


#: Wilson intervals at the decision: key -> (label, numerator count, denominator count).
_DECISION = {"precision": ("precision", "tp", "flagged"), "recall": ("recall", "tp", "positives"),
             "alert_rate": ("alert rate (share of rows flagged)", "flagged_rows", "rows")}


def _decision_interval_html(rec: RunRecord, key: str) -> str:
    """``95% CI low–high`` for a decision quantity: stored in metrics.json, else computed."""
    stored = _get(rec.metrics, "test", "decision_intervals", key)
    if isinstance(stored, Mapping) and "low" in stored and "high" in stored:
        return (f"95% CI {_metric(stored['low'], _path('test', 'decision_intervals', key, 'low'))}"
                f"–{_metric(stored['high'], _path('test', 'decision_intervals', key, 'high'))}")
    if rec.decision is None:
        return ""
    lo, hi = rec.decision["intervals"][key]
    return f"95% CI {_share(lo, f'decision.{key}.0', key)}–{_share(hi, f'decision.{key}.1', key)}"


def _share(value: float, name: str, key: str) -> str:
    """A computed share; alert rates are small, so they are written as percentages."""
    if key != "alert_rate":
        return _computed(value, name)
    return f'<span data-computed="{escape(name)}">{value:.3%}</span>'


def _decision_table(rec: RunRecord) -> str:
    decision = rec.decision
    if decision is None:
        return ""
    counts = decision["counts"]
    rows = []
    for key, (label, num, den) in _DECISION.items():
        estimate = counts[num] / counts[den] if counts[den] else None
        rows.append([escape(label), f"{_count(counts[num])} / {_count(counts[den])}",
                     _share(estimate, f"decision.{key}", key) if estimate is not None else "—",
                     _decision_interval_html(rec, key).replace("95% CI ", "")])
    return ("<h3>At the decision (test, Wilson 95% intervals)</h3>"
            + _table(["quantity", "count", "test estimate", "95% interval"], rows,
                     numeric={1, 2, 3})
            + f'<p class="note">Flagging test rows with score ≥ {escape(_fmt(decision["threshold"]))}. '
            "Each quantity is a share of a known count (flagged rows, positives, all rows), so a "
            "Wilson score interval fits: it stays inside [0, 1] and holds up with few positives, "
            "where the share ± 2 standard errors does not."
            + (" Precision and recall count the rows' weights; their intervals use the Kish effective "
               "number of rows, (Σw)² / Σw²." if decision.get("weighted") else "") + "</p>")


def _count(value) -> str:
    """A row count as ``1,234``; a sum of weights with up to two decimals."""
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}".rstrip("0").rstrip(".")


def _training_section(rec: RunRecord) -> str:
    parts = ['<section id="training"><h2>Training curves of the final model</h2>']
    history = rec.history
    if not history or not any(isinstance(v, list) and v for v in history.values()):
        parts.append(_missing("Training history (history.json)"))
    elif max(len(v) for v in history.values() if isinstance(v, list)) < 2:
        # one epoch: a curve would be a lone dot on an axis with nothing to compare
        values = [(str(k), v[0]) for k, v in history.items()
                  if isinstance(v, list) and v and _is_number(v[0])]
        parts.append('<p class="note">The final model trained for one epoch, so there is no '
                     "curve to draw. Its values after that epoch:</p>"
                     + _facts((k, escape(_fmt(v))) for k, v in values))
    else:
        numeric = {k: v for k, v in history.items() if isinstance(v, list) and v}
        parts.append('<div class="figures">' + _figure(
            _plots.history_figure(numeric), "training curves",
            "Per-epoch training and validation values of the final model (up to four metrics, "
            "loss first).", wide=True) + "</div>")
    return "".join(parts) + "</section>"
