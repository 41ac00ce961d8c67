"""``evaluation.html``: an evaluation record (see :mod:`._evaluate`) as one self-contained page.

The page uses the report's style sheet and building blocks. Every number taken from
``evaluation.json`` is written into an element carrying ``data-metric="PATH"``, PATH being the
dotted path of the value in ``evaluation.json``; every text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from html import escape

from ..report._html import _CSS, _card, _nav
from ..report._html_explain import warnings_block
from ..report._html_parts import _METRIC_LABELS, _facts, _fmt, _get, _is_number, _metric, _missing, _path, _table

__all__ = ["render_evaluation"]


def render_evaluation(record: Mapping) -> str:
    """The evaluation page for ``record`` (the content of ``evaluation.json``) as a string."""
    sections = [("summary", "Summary"), ("change", "Change from the run's test"), ("confusion", "Confusion matrix"),
                ("shift", "Population shift")]
    body = [_header(record), _nav(sections), warnings_block(record), _summary(record), _change(record), _confusion(record),
            _shift(record)]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>raretune evaluation: {escape(str(record.get('label_column')))}</title>"
        '<link rel="icon" href="data:,">'
        f"<style>{_CSS}</style></head><body><main>" + "".join(body) + "</main></body></html>\n"
    )


def _header(r: Mapping) -> str:
    rows = r.get("rows") or {}
    bits = [f"run {escape(str(r.get('run')))}", f"data {escape(str(r.get('data')))}",
            f"label <b>{escape(str(r.get('label_column')))}</b>",
            f"{_metric(rows.get('labelled'), 'rows.labelled')} labelled rows"]
    if rows.get("unlabelled"):
        bits.append(f"{_metric(rows['unlabelled'], 'rows.unlabelled')} without a known label (left out)")
    bits.append(f"created {escape(str(r.get('created')))}")
    notes = "".join(f'<p class="note">{escape(str(n))}</p>' for n in r.get("notes") or [])
    refit = ('<p class="note">The run was refitted: <code>model.keras</code> is the refitted model, while the '
             "run's test figures and test scores come from the tested one.</p>") if r.get("refit") else ""
    return "<header><h1>raretune evaluation</h1><p>" + " · ".join(bits) + "</p></header>" + notes + refit


def _signed(value, path: str | None) -> str:
    """A change, with its sign (``+0.0123``), tagged like :func:`_metric`."""
    if not _is_number(value) or not math.isfinite(value) or path is None:
        return _metric(value, path)
    return f'<span data-metric="{escape(path)}">{escape(f"{value:+.4f}")}</span>'


def _interval(r: Mapping, name: str) -> str:
    iv = _get(r, "metrics", "intervals", name)
    if not isinstance(iv, list) or len(iv) != 2:
        return ""
    return (f"95% bootstrap [{_metric(iv[0], f'metrics.intervals.{name}.0')}, "
            f"{_metric(iv[1], f'metrics.intervals.{name}.1')}]")


def _wilson(r: Mapping, name: str) -> str:
    iv = _get(r, "metrics", "decision_intervals", name)
    if not isinstance(iv, Mapping):
        return ""
    return (f"95% Wilson [{_metric(iv.get('low'), f'metrics.decision_intervals.{name}.low')}, "
            f"{_metric(iv.get('high'), f'metrics.decision_intervals.{name}.high')}]")


def _summary(r: Mapping) -> str:
    m = r.get("metrics") or {}
    binary = _get(r, "task", "type") == "binary"
    macro = "" if binary else " (macro)"
    cards = [_card("PR-AUC" + macro, _metric(m.get("pr_auc"), "metrics.pr_auc"), _interval(r, "pr_auc")),
             _card("F1" + (" at threshold" if binary else macro), _metric(m.get("f1"), "metrics.f1"),
                   _interval(r, "f1"))]
    if binary:
        cards += [_card("threshold (deployed)", _metric(r.get("threshold"), "threshold")),
                  _card("precision", _metric(m.get("precision"), "metrics.precision"), _wilson(r, "precision")),
                  _card("recall", _metric(m.get("recall"), "metrics.recall"), _wilson(r, "recall")),
                  _card("alert rate", _metric(m.get("alert_rate"), "metrics.alert_rate"), _wilson(r, "alert_rate"))]
        rate = r.get("positive_rate") or {}
        cards.append(_card("positive rate", _metric(rate.get("batch"), "positive_rate.batch"),
                           f"run test {_metric(rate.get('run'), 'positive_rate.run')}, change "
                           f"{_signed(rate.get('delta'), 'positive_rate.delta')}"))
        prevalence = r.get("prevalence") or {}
        interval = prevalence.get("interval") or [None, None]
        cards.append(_card("positive rate estimated from scores", _metric(prevalence.get("estimated"),
                                                                          "prevalence.estimated"),
                           f"95% [{_metric(interval[0], 'prevalence.interval.0')}, "
                           f"{_metric(interval[1], 'prevalence.interval.1')}]; training "
                           f"{_metric(prevalence.get('train'), 'prevalence.train')}"))
    psi = r.get("psi")
    if isinstance(psi, Mapping):
        cards.append(_card("score PSI" + ("" if binary else " (largest class)"), _metric(psi.get("value"), "psi.value"),
                           escape(str(psi.get("reading")))))
    cost = m.get("cost")
    if isinstance(cost, Mapping):
        saved = _metric(cost.get("saved_vs_flag_nobody"), "metrics.cost.saved_vs_flag_nobody")
        columns = r.get("row_columns") or {}
        read = "; ".join(f"{escape(str(v))} read from the batch as each row's {k.split('_')[0]}" for k, v in columns.items())
        cards.append(_card("total cost", _metric(cost.get("total_cost"), "metrics.cost.total_cost"),
                           f"saved vs flagging nobody {saved}" + (f"; {read}" if read else "")))
    return '<section id="summary"><h2>Summary</h2><div class="cards">' + "".join(cards) + "</div></section>"


def _change(r: Mapping) -> str:
    change = r.get("change") or {}
    rows = [[escape(_METRIC_LABELS.get(k, k.replace("_", " "))), _metric(v.get("run"), _path("change", k, "run")),
             _metric(v.get("batch"), _path("change", k, "batch")), _signed(v.get("delta"), _path("change", k, "delta"))]
            for k, v in change.items()]
    table = _table(["metric", "run test", "this batch", "change"], rows, numeric={1, 2, 3}) if rows \
        else _missing("Comparable metrics")
    return ('<section id="change"><h2>Change from the run\'s test</h2>'
            '<p class="note">Change = this batch minus the run\'s test set, same model and threshold.</p>'
            + table + "</section>")


def _confusion(r: Mapping) -> str:
    cm = _get(r, "metrics", "confusion_matrix")
    classes = [str(c) for c in _get(r, "task", "classes", default=[])]
    if not isinstance(cm, list) or len(cm) != len(classes):
        return '<section id="confusion"><h2>Confusion matrix</h2>' + _missing("Confusion matrix") + "</section>"
    rows = [[escape(f"true {name}")] + [_metric(v, f"metrics.confusion_matrix.{i}.{j}") for j, v in enumerate(row)]
            for i, (name, row) in enumerate(zip(classes, cm))]
    shares = r.get("class_shares") or {}
    share_rows = [[escape(name), _metric(_get(shares, "run", name), _path("class_shares", "run", name)),
                   _metric(_get(shares, "batch", name), _path("class_shares", "batch", name))] for name in classes]
    return ('<section id="confusion"><h2>Confusion matrix</h2>'
            + _table([""] + [f"predicted {c}" for c in classes], rows, numeric=set(range(1, len(classes) + 1)))
            + "<h3>Class shares</h3>" + _table(["class", "run test", "this batch"], share_rows, numeric={1, 2})
            + "</section>")


def _shift(r: Mapping) -> str:
    psi = r.get("psi")
    intro = ('<p class="note">Population stability index of the scores: the run\'s test scores are cut into '
             "10 quantile bins; PSI = Σ (a − e) · ln(a / e) over the bins, e and a the shares of the run's "
             "test rows and of this batch (a zero share counts as 0.0001). Below 0.1: stable; 0.1–0.25: "
             "moderate shift; above 0.25: major shift.</p>")
    if not isinstance(psi, Mapping):
        return '<section id="shift"><h2>Population shift</h2>' + intro + _missing("PSI (no scores.npz)") + "</section>"
    parts = ['<section id="shift"><h2>Population shift</h2>', intro]
    if "per_class" in psi:
        for name, one in psi["per_class"].items():
            parts.append(f"<h3>score of {escape(str(name))}</h3>" + _bins(one, ("psi", "per_class", name)))
    else:
        parts.append(_facts([("PSI", _metric(psi.get("value"), "psi.value")),
                             ("reading", escape(str(psi.get("reading"))))]))
        parts.append(_bins(psi, ("psi",)))
    return "".join(parts) + "</section>"


def _bins(psi: Mapping, prefix: tuple) -> str:
    rows = []
    for i, b in enumerate(psi.get("bins") or []):
        low = escape(_fmt(b["low"])) if b.get("low") is not None else "−∞"
        high = escape(_fmt(b["high"])) + "]" if b.get("high") is not None else "∞)"
        where = f"({low}, {high}"
        rows.append([where] + [_metric(b.get(k), _path(*prefix, "bins", i, k)) for k in ("expected", "actual", "term")])
    return (_facts([("PSI", _metric(psi.get("value"), _path(*prefix, "value")))]) if len(prefix) > 1 else "") \
        + _table(["score bin", "run test share", "this batch share", "PSI term"], rows, numeric={1, 2, 3})
