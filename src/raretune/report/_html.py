"""Render a run's record as one self-contained HTML page.

The page has inline CSS, images embedded as data URIs and no network access; its only script
is the threshold explorer's, inline (see :mod:`._explorer`). Every
number taken from ``metrics.json`` is written into an element carrying ``data-metric="PATH"``,
where PATH is the dotted path of the value in ``metrics.json`` (list items by index, e.g.
``test.intervals.pr_auc.0``); the text is the value with 4 decimals (floats) or with thousands
separators (integers). Numbers the report computes itself carry ``data-computed`` instead.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

import numpy as np

from . import _decision_plots, _plots
from ._explorer import explorer_html

__all__ = ["RunRecord", "render_html"]

NOT_RECORDED = "not recorded"

_METRIC_LABELS = {
    "pr_auc": "PR-AUC (average precision)",
    "roc_auc": "ROC-AUC",
    "f1": "F1",
    "precision": "precision",
    "recall": "recall",
    "mcc": "Matthews correlation",
    "balanced_accuracy": "balanced accuracy",
    "g_mean": "G-mean",
    "accuracy": "accuracy",
    "brier": "Brier score",
    "log_loss": "log loss",
    "threshold": "threshold",
}
_METRIC_ORDER = list(_METRIC_LABELS)

_CSS = """
:root { --ink:#1d2430; --muted:#5b6573; --line:#d9dee5; --soft:#f4f6f9; --accent:#1f5fa8;
        --bad:#a3262a; --good:#2e7d4f; }
* { box-sizing: border-box; }
body { margin:0; color:var(--ink); background:#fff;
       font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
main { max-width:1220px; margin:0 auto; padding:20px 28px 48px; }
header h1 { margin:0 0 2px; font-size:26px; }
header p { margin:0; color:var(--muted); }
nav { margin:14px 0 8px; padding:8px 0; border-top:1px solid var(--line);
      border-bottom:1px solid var(--line); font-size:14px; }
nav a { color:var(--accent); text-decoration:none; margin-right:18px; white-space:nowrap; }
section { margin-top:30px; }
h2 { font-size:20px; margin:0 0 10px; padding-bottom:4px; border-bottom:2px solid var(--line); }
h3 { font-size:16px; margin:18px 0 8px; }
p.note, .missing { color:var(--muted); }
.missing { font-style:italic; }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(175px,1fr)); gap:12px; }
.card { background:var(--soft); border:1px solid var(--line); border-radius:8px; padding:10px 14px; }
.card .label { font-size:13px; color:var(--muted); }
.card .value { font-size:24px; font-weight:600; font-variant-numeric:tabular-nums; }
.card .detail { font-size:12.5px; color:var(--muted); font-variant-numeric:tabular-nums; }
.table-wrap { overflow-x:auto; max-width:100%; }
table { border-collapse:collapse; font-size:14px; margin:4px 0 8px; }
th, td { padding:5px 12px; border-bottom:1px solid var(--line); text-align:left; vertical-align:top; }
th { background:var(--soft); font-weight:600; white-space:nowrap; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
tr.best td { background:#eaf2fb; }
tr.failed td { color:var(--bad); }
td.msg { min-width:200px; max-width:280px; overflow-wrap:anywhere; font-size:13px; }
.chips { display:flex; flex-wrap:wrap; gap:4px 6px; min-width:360px; max-width:640px; }
.chip { background:var(--soft); border:1px solid var(--line); border-radius:4px; padding:0 6px;
        font-size:12.5px; white-space:nowrap; }
.status { font-weight:600; }
.verdict { padding:8px 12px; border-left:4px solid var(--accent); background:var(--soft); }
.figures { display:grid; grid-template-columns:repeat(auto-fit,minmax(520px,1fr)); gap:18px;
           align-items:start; }
figure { margin:0; border:1px solid var(--line); border-radius:8px; padding:8px; background:#fff; }
figure img { display:block; width:100%; height:auto; }
figure.wide { grid-column:1 / -1; }
figure.wide img { max-width:1100px; margin:0 auto; }
figcaption { font-size:13px; color:var(--muted); margin-top:4px; }
pre { background:var(--soft); border:1px solid var(--line); border-radius:6px; padding:10px 12px;
      overflow-x:auto; white-space:pre-wrap; overflow-wrap:anywhere; font-size:13.5px; }
ul.columns { columns:2; margin:4px 0; }
dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:2px 18px; margin:0 0 8px; }
dl.facts dt { color:var(--muted); }
dl.facts dd { margin:0; font-variant-numeric:tabular-nums; }
"""


@dataclass
class RunRecord:
    """What a run folder holds, as read by :func:`raretune.report.write_report`.

    Attributes
    ----------
    metrics : dict
        The parsed ``metrics.json``.
    scores : mapping of str to ndarray or None
        Arrays of ``scores.npz``; ``None`` when the file is missing.
    history : dict or None
        The parsed ``history.json``.
    trials : list of dict or None
        The parsed ``trials.json``.
    computed_intervals : dict or None
        Bootstrap intervals computed by the report when ``metrics.json`` has none.
    decision : dict or None
        At the threshold on the test set: ``threshold``, ``counts`` (``tp``, ``flagged``,
        ``positives``, ``rows``) and Wilson ``intervals`` for precision, recall and alert rate.
    """

    metrics: dict
    scores: Mapping[str, np.ndarray] | None = None
    history: dict | None = None
    trials: list | None = None
    computed_intervals: dict | None = None
    decision: dict | None = None


# ----------------------------------------------------------------------------- formatting


def _fmt(value, *, decimals: int = 4) -> str:
    if value is None:
        return NOT_RECORDED
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return str(value)
        return f"{float(value):.{decimals}f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v, decimals=decimals) for v in value)
    return str(value)


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _metric(value, path: str | None, *, tag: str = "span", cls: str = "") -> str:
    """An element with the formatted value, tagged with its ``metrics.json`` path."""
    attrs = f' class="{cls}"' if cls else ""
    if path is not None and _is_number(value):
        attrs += f' data-metric="{escape(path)}"'
    return f"<{tag}{attrs}>{escape(_fmt(value))}</{tag}>"


def _computed(value, name: str, *, tag: str = "span", cls: str = "") -> str:
    attrs = f' class="{cls}"' if cls else ""
    return f'<{tag}{attrs} data-computed="{escape(name)}">{escape(_fmt(value))}</{tag}>'


def _path(*keys) -> str | None:
    keys = [str(k) for k in keys]
    # a key holding a dot could not be told apart from a path step: leave it untagged
    return None if any("." in k for k in keys) else ".".join(keys)


def _get(mapping, *keys, default=None):
    for key in keys:
        if not isinstance(mapping, Mapping) or key not in mapping:
            return default
        mapping = mapping[key]
    return mapping


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], *, numeric=(), wrap=(),
           row_classes: Sequence[str] | None = None) -> str:
    """A table from escaped cell HTML.

    ``numeric`` lists column indices to right-align; ``wrap`` those whose long text wraps
    inside a bounded width instead of widening the page.
    """
    head = "".join(
        f'<th class="num">{escape(h)}</th>' if i in numeric else f"<th>{escape(h)}</th>"
        for i, h in enumerate(header)
    )
    body = []
    for r, row in enumerate(rows):
        cls = row_classes[r] if row_classes and row_classes[r] else ""
        cells = "".join(
            f'<td class="num">{c}</td>' if i in numeric
            else f'<td class="msg">{c}</td>' if i in wrap else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        body.append(f'<tr class="{cls}">{cells}</tr>' if cls else f"<tr>{cells}</tr>")
    return (f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _missing(what: str) -> str:
    return f'<p class="missing">{escape(what)}: {NOT_RECORDED}.</p>'


def _figure(uri: str, alt: str, caption: str, *, wide: bool = False) -> str:
    cls = ' class="wide"' if wide else ""
    return (f'<figure{cls}><img src="{uri}" alt="{escape(alt)}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def _facts(items: Iterable[tuple[str, str]]) -> str:
    return '<dl class="facts">' + "".join(
        f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in items
    ) + "</dl>"


# ----------------------------------------------------------------------------- sections


def _header(m: Mapping) -> str:
    task = m.get("task") or {}
    data = m.get("data") or {}
    bits = [
        f"target <b>{escape(str(task.get('target', NOT_RECORDED)))}</b>",
        f"data {escape(str(data.get('source', NOT_RECORDED)))}",
        f"{escape(str(task.get('type', NOT_RECORDED)))} task",
    ]
    if task.get("positive") is not None:
        bits.append(f"positive class <b>{escape(str(task['positive']))}</b>")
    if m.get("created"):
        bits.append(f"created {escape(str(m['created']))}")
    return ("<header><h1>raretune report</h1><p>" + " · ".join(bits) + "</p></header>")


def _nav(sections: Sequence[tuple[str, str]]) -> str:
    return "<nav>" + "".join(f'<a href="#{sid}">{escape(title)}</a>' for sid, title in sections) \
        + "</nav>"


def _card(label: str, value_html: str, detail_html: str = "") -> str:
    detail = f'<div class="detail">{detail_html}</div>' if detail_html else ""
    return (f'<div class="card"><div class="label">{escape(label)}</div>'
            f'<div class="value">{value_html}</div>{detail}</div>')


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


def _summary(rec: RunRecord) -> str:
    m = rec.metrics
    test = m.get("test") or {}
    multiclass = _get(m, "task", "type") == "multiclass"
    cards = [
        _card("test PR-AUC" + (" (macro)" if multiclass else ""),
              _metric(test.get("pr_auc"), "test.pr_auc"), _interval_html(rec, "pr_auc")),
        _card("test F1" + (" (macro)" if multiclass else " at threshold"),
              _metric(test.get("f1"), "test.f1"), _interval_html(rec, "f1")),
    ]
    if not multiclass:
        cards.append(_card("test ROC-AUC", _metric(test.get("roc_auc"), "test.roc_auc")))
        threshold = _get(m, "threshold", "value")
        rule = _get(m, "threshold", "rule")
        cards.append(_card("threshold", _metric(threshold, "threshold.value"),
                           f"chosen by {escape(str(rule))}" if rule else ""))
        cards.append(_card("test precision", _metric(test.get("precision"), "test.precision"),
                           _decision_interval_html(rec, "precision")))
        cards.append(_card("test recall", _metric(test.get("recall"), "test.recall"),
                           _decision_interval_html(rec, "recall")))
        cost = _expected_cost(m)
        if cost is not None:
            costs = m["costs"]
            cards.append(_card("expected cost (test)", _computed(_round_if_whole(cost),
                                                                 "test.expected_cost"),
                               f"FN × {escape(_fmt_plain(costs['fn']))} + "
                               f"FP × {escape(_fmt_plain(costs['fp']))}"))
    else:
        cards.append(_card("classes", escape(str(len(_get(m, "task", "classes", default=[]))))))
    data = m.get("data") or {}
    if data.get("positive_rate") is not None:
        cards.append(_card("positive rate", _metric(data["positive_rate"], "data.positive_rate"),
                           f"imbalance {escape(_ratio(data['imbalance_ratio']))}"
                           if _is_number(data.get("imbalance_ratio")) else ""))
    best = m.get("best") or {}
    members = _get(m, "ensemble", "members") or []
    converged = [x for x in members if isinstance(x, Mapping) and x.get("model") in _CONVERGED]
    if len(members) > 1:
        strategies = ", ".join(sorted({str(x.get("strategy")) for x in members}))
        kinds = [(("trial", "trials"), len(members) - len(converged))] + [
            (nouns, sum(1 for x in converged if x.get("model") == model)) for model, nouns in _CONVERGED.items()]
        parts = [f"{n} {nouns[n > 1]}" for nouns, n in kinds if n]
        cards.append(_card("chosen model", f"ensemble of {' + '.join(parts)}",
                           f"{escape(strategies)}; best single trial {escape(str(best.get('trial_id', '?')))}"))
    elif converged:
        member = converged[0]
        setting = f"C={member.get('C')}" if member.get("model") == "logistic_regression" else str(member.get("config"))
        cards.append(_card("chosen model", _CONVERGED[member["model"]][0],
                           f"{escape(setting)}, balanced class weights; cross-fitted"))
    elif best:
        cards.append(_card("chosen model", escape(str(best.get("strategy", NOT_RECORDED))),
                           f"trial {escape(str(best.get('trial_id', '?')))}"))
    refit = m.get("refit")
    note = ""
    if isinstance(refit, Mapping):
        refit_threshold = _get(refit, "threshold", "value")
        note = ('<p class="note">The test metrics above are those of the networks that never saw the test rows. '
                "<code>model.keras</code> and <code>raretune predict</code> use the same networks retrained on all "
                f"{_metric(refit.get('n_rows'), 'refit.n_rows')} rows"
                + (f", with their own threshold {_metric(refit_threshold, 'refit.threshold.value')}"
                   if _is_number(refit_threshold) else "")
                + ".</p>")
    return ('<section id="summary"><h2>Summary</h2><div class="cards">' + "".join(cards)
            + "</div>" + note + "</section>")


def _ratio(value: float) -> str:
    """An imbalance ratio for reading: ``233.1 : 1``."""
    return f"{value:,.1f} : 1"


def _round_if_whole(value: float):
    return int(value) if float(value).is_integer() else value


def _fmt_plain(value) -> str:
    return f"{value:g}" if _is_number(value) else str(value)


def _expected_cost(m: Mapping) -> float | None:
    costs = m.get("costs")
    cm = _get(m, "test", "confusion_matrix")
    if not isinstance(costs, Mapping) or cm is None or len(cm) != 2:
        return None
    return float(costs["fn"]) * cm[1][0] + float(costs["fp"]) * cm[0][1]


def _data_section(m: Mapping) -> str:
    data = m.get("data")
    if not isinstance(data, Mapping):
        return '<section id="data"><h2>Data</h2>' + _missing("Data summary") + "</section>"
    facts = [
        ("source", escape(str(data.get("source", NOT_RECORDED)))),
        ("rows", _metric(data.get("n_rows"), "data.n_rows")),
        ("split (train / validation / test)",
         " / ".join(_metric(data.get(k), f"data.{k}") for k in ("n_train", "n_validation", "n_test")))
        if not (_is_number(data.get("folds")) and data["folds"] > 1) else
        (f"split (train, {int(data['folds'])}-fold cross-fitted / test)",
         " / ".join(_metric(data.get(k), f"data.{k}") for k in ("n_train", "n_test"))),
        ("imbalance ratio (majority : minority)",
         escape(_ratio(data["imbalance_ratio"])) if _is_number(data.get("imbalance_ratio"))
         else NOT_RECORDED),
    ]
    if data.get("positive_rate") is not None:
        facts.insert(3, ("positive rate", _metric(data["positive_rate"], "data.positive_rate")))
    parts = ['<section id="data"><h2>Data</h2>', _facts(facts)]

    counts = data.get("class_counts") or {}
    splits = data.get("split_class_counts") or {}
    split_names = [s for s in ("train", "validation", "test") if splits.get(s)]
    split_names += [s for s in splits if s not in split_names and splits[s]]
    classes = list(counts) or list(dict.fromkeys(c for s in split_names for c in splits[s]))
    if classes:
        total = sum(counts.values()) if counts else None
        header = ["class", "all rows", "share"] + split_names
        rows = []
        for c in classes:
            row = [escape(str(c)), _metric(counts.get(c), _path("data", "class_counts", c)),
                   escape(f"{counts[c] / total:.2%}") if total and c in counts else NOT_RECORDED]
            row += [_metric(splits[s].get(c), _path("data", "split_class_counts", s, c))
                    for s in split_names]
            rows.append(row)
        parts.append("<h3>Class counts</h3>")
        parts.append(_table(header, rows, numeric=set(range(1, len(header)))))
    else:
        parts.append(_missing("Class counts"))

    columns = data.get("columns")
    parts.append("<h3>Columns</h3>")
    if isinstance(columns, Mapping) and columns:
        for kind, names in columns.items():
            names = list(names or [])
            chips = "".join(f'<span class="chip">{escape(str(n))}</span>' for n in names)
            parts.append(f"<p><b>{escape(str(kind))}</b> ({len(names)}): </p>"
                         f'<div class="chips">{chips or "none"}</div>')
    else:
        parts.append(_missing("Columns"))
    notes = data.get("notes")
    parts.append("<h3>Dropped and imputed</h3>")
    if notes:
        parts.append("<ul>" + "".join(f"<li>{escape(str(n))}</li>" for n in notes) + "</ul>")
    elif notes is not None:
        parts.append('<p class="note">Nothing was dropped or imputed.</p>')
    else:
        parts.append(_missing("Notes on dropped and imputed values"))
    parts.append("</section>")
    return "".join(parts)


#: Members of an ensemble that are not search trials: ``model`` value -> its name in the report.
_CONVERGED = {"logistic_regression": ("logistic regression", "logistic regressions"),
              "boosted_trees": ("boosted-trees model", "boosted-trees models")}

_LEADERBOARD_ORDER = ["name", "kind", "trial_id", "validation_pr_auc", "validation_score",
                      "test_pr_auc", "seconds"]


def _leaderboard_section(m: Mapping) -> str:
    board = m.get("leaderboard")
    parts = ['<section id="leaderboard"><h2>Leaderboard: remedies, converged models and baseline</h2>']
    if not board:
        parts.append(_missing("Leaderboard"))
        return "".join(parts) + "</section>"
    keys = [k for k in _LEADERBOARD_ORDER if any(k in row for row in board)]
    keys += [k for row in board for k in row if k not in keys]
    keys = list(dict.fromkeys(keys))
    best_trial = _get(m, "best", "trial_id")
    rows, classes = [], []
    for i, row in enumerate(board):
        cells = []
        for k in keys:
            v = row.get(k)
            if k == "seconds" and _is_number(v):
                cells.append(escape(f"{v:.1f} s"))
            elif _is_number(v):
                cells.append(_metric(v, _path("leaderboard", i, k)))
            else:
                cells.append(escape(_fmt(v)) if v is not None else "")
        rows.append(cells)
        chosen = best_trial is not None and row.get("trial_id") == best_trial
        classes.append("best" if chosen else "")
    numeric = {i for i, k in enumerate(keys) if any(_is_number(r.get(k)) for r in board)}
    parts.append(_verdict(board))
    parts.append(_table([_header_label(k) for k in keys], rows, numeric=numeric,
                        row_classes=classes))
    parts.append('<p class="note">Highlighted: the remedy of the chosen model. Converged models '
                 "(logistic regressions, boosted trees) are the ensemble's candidates besides the trials, "
                 "scored out of fold. Baselines are fitted without any remedy, as a sanity check.</p></section>")
    return "".join(parts)


def _header_label(key: str) -> str:
    label = key.replace("_", " ")
    for metric in ("pr auc", "roc auc"):
        label = label.replace(metric, metric.upper().replace(" ", "-"))
    return label


def _verdict(board: Sequence[Mapping]) -> str:
    def score(row):
        for key in ("validation_pr_auc", "validation_score"):
            if _is_number(row.get(key)):
                return key, row[key]
        return None, None

    remedies = [r for r in board if r.get("kind") not in ("baseline", "converged") and score(r)[1] is not None]
    baselines = [r for r in board if r.get("kind") == "baseline" and score(r)[1] is not None]
    if not remedies or not baselines:
        return ""
    best = max(remedies, key=lambda r: score(r)[1])
    base = max(baselines, key=lambda r: score(r)[1])
    key, best_score = score(best)
    _, base_score = score(base)
    name = _header_label(key)
    if best_score > base_score:
        outcome = "the remedy beats the baseline"
    elif best_score < base_score:
        outcome = "the baseline beats every remedy"
    else:
        outcome = "they tie"
    return (f'<p class="verdict">Best remedy <b>{escape(str(best.get("name")))}</b>: {escape(name)} '
            f"{escape(_fmt(best_score))}; best baseline <b>{escape(str(base.get('name')))}</b>: "
            f"{escape(_fmt(base_score))}. On validation data, {outcome}.</p>")


def _trials_section(rec: RunRecord) -> str:
    m = rec.metrics
    search = m.get("search") or {}
    parts = ['<section id="trials"><h2>Search trials</h2>']
    objective = search.get("objective") or {}
    facts = [
        ("tuner", escape(str(search.get("tuner", NOT_RECORDED)))),
        ("objective", escape(f"{objective.get('name', NOT_RECORDED)} "
                             f"({objective.get('direction', '?')})")),
        ("trials (failed)", f"{_metric(search.get('n_trials'), 'search.n_trials')} "
                            f"({_metric(search.get('n_failed'), 'search.n_failed')})"),
        ("search time", escape(f"{search['seconds']:.1f} s")
         if _is_number(search.get("seconds")) else NOT_RECORDED),
    ]
    if search.get("strategies"):
        facts.append(("remedies searched", escape(", ".join(map(str, search["strategies"])))))
    parts.append(_facts(facts))
    trials = rec.trials
    if trials is None:
        parts.append(_missing("Trials (trials.json)"))
        return "".join(parts) + "</section>"
    if not trials:
        parts.append('<p class="note">The search ran no trials.</p></section>')
        return "".join(parts)
    maximize = objective.get("direction", "max") != "min"
    best_id = _get(m, "best", "trial_id")

    def sort_key(t):
        s = t.get("score")
        ok = _is_number(s) and np.isfinite(s)
        return (not ok, -s if ok and maximize else (s if ok else 0))

    has_strategy = any("strategy" in (t.get("hyperparameters") or {}) for t in trials)
    has_message = any(t.get("message") for t in trials)
    rows, classes = [], []
    for t in sorted(trials, key=sort_key):
        tid = t.get("trial_id", t.get("id"))
        status = str(t.get("status", NOT_RECORDED))
        hps = dict(t.get("hyperparameters") or {})
        strategy = hps.pop("strategy", None)
        chips = "".join(
            f'<span class="chip">{escape(str(k))}={escape(_fmt_hp(v))}</span>'
            for k, v in hps.items()
        )
        seconds = t.get("seconds")
        row = [escape(str(tid)), f'<span class="status">{escape(status.lower())}</span>']
        if has_strategy:
            row.append(escape(str(strategy)) if strategy is not None else "—")
        row += [
            escape(_fmt(t.get("score"))) if _is_number(t.get("score")) else "—",
            f'<div class="chips">{chips}</div>' if chips else "—",
            escape(f"{seconds:.1f} s") if _is_number(seconds) else "—",
        ]
        if has_message:
            row.append(escape(str(t.get("message") or "")))
        rows.append(row)
        failed = status.lower() in ("failed", "invalid", "error")
        classes.append("failed" if failed else ("best" if tid == best_id and tid is not None else ""))
    header = ["trial", "status"] + (["remedy"] if has_strategy else []) + [
        str(objective.get("name", "score")), "hyperparameters", "time"]
    header += ["message"] if has_message else []
    first = 3 if has_strategy else 2
    table = _table(header, rows, numeric={first, first + 2},
                   wrap={first + 3} if has_message else set(), row_classes=classes)
    parts.append(table)
    parts.append('<p class="note">Sorted best first; failed trials last, in red, with their '
                 "error message. Highlighted: the chosen trial.</p></section>")
    return "".join(parts)


def _fmt_hp(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


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


def _class_names(m: Mapping, k: int) -> list[str]:
    names = _get(m, "task", "classes")
    if isinstance(names, list) and len(names) == k:
        return [str(n) for n in names]
    return [str(i) for i in range(k)]


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
        refit = _get(m, "refit", "threshold", "value")
        refit = float(refit) if _is_number(refit) else None
        parts.append('<div class="figures">' + _figure(
            _decision_plots.threshold_figure(*validation, float(threshold), costs=costs,
                                             rows=rows, refit_threshold=refit),
            "metrics by threshold",
            f"Precision, recall and F1 on the {rows} scores, where the threshold is chosen, for "
            "every threshold" + (" and the expected cost" if costs else "")
            + "; the dashed line is the chosen threshold"
            + (", the dotted one the refitted model's" if refit is not None else "") + ".",
            wide=True) + "</div>")
    return "".join(parts) + "</section>"


def _confusion(y: np.ndarray, pred: np.ndarray, k: int) -> list[list[int]]:
    return np.bincount(y * k + pred, minlength=k * k).reshape(k, k).tolist()


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
             "alert_rate": ("alert rate (share of rows flagged)", "flagged", "rows")}


def _decision_interval_html(rec: RunRecord, key: str) -> str:
    """``95% CI low–high`` for a decision quantity: stored in metrics.json, else computed."""
    stored = _get(rec.metrics, "test", "decision_intervals", key)
    if isinstance(stored, Sequence) and len(stored) == 2:
        return (f"95% CI {_metric(stored[0], _path('test', 'decision_intervals', key, 0))}"
                f"–{_metric(stored[1], _path('test', 'decision_intervals', key, 1))}")
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
        rows.append([escape(label), f"{counts[num]:,} / {counts[den]:,}",
                     _share(estimate, f"decision.{key}", key) if estimate is not None else "—",
                     _decision_interval_html(rec, key).replace("95% CI ", "")])
    return ("<h3>At the decision (test, Wilson 95% intervals)</h3>"
            + _table(["quantity", "count", "test estimate", "95% interval"], rows,
                     numeric={1, 2, 3})
            + f'<p class="note">Flagging test rows with score ≥ {escape(_fmt(decision["threshold"]))}. '
            "Each quantity is a share of a known count (flagged rows, positives, all rows), so a "
            "Wilson score interval fits: it stays inside [0, 1] and holds up with few positives, "
            "where the share ± 2 standard errors does not.</p>")


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


def _reproduce_section(m: Mapping) -> str:
    parts = ['<section id="reproduce"><h2>Reproduce</h2>']
    command = m.get("command")
    if isinstance(command, list) and command:
        parts.append(f"<pre><code>{escape(shlex.join(map(str, command)))}</code></pre>")
    elif isinstance(command, str) and command:
        parts.append(f"<pre><code>{escape(command)}</code></pre>")
    else:
        parts.append(_missing("Command"))
    facts = [("raretune", escape(str(m.get("raretune_version", NOT_RECORDED)))),
             ("created", escape(str(m.get("created", NOT_RECORDED)))),
             ("run time", escape(f"{m['seconds']:.1f} s") if _is_number(m.get("seconds"))
              else NOT_RECORDED)]
    parts.append(_facts(facts))
    versions = m.get("versions")
    if isinstance(versions, Mapping) and versions:
        parts.append("<h3>Versions</h3>")
        parts.append(_table(["package", "version"],
                            [[escape(str(k)), escape(str(v))] for k, v in versions.items()]))
    else:
        parts.append(_missing("Package versions"))
    return "".join(parts) + "</section>"


def render_html(rec: RunRecord) -> str:
    """The whole report page for ``rec`` as a string."""
    m = rec.metrics
    sections = [("summary", "Summary"), ("operating-point", "Operating point"), ("data", "Data"), ("leaderboard", "Leaderboard"),
                ("trials", "Trials"), ("test", "Test set"), ("intervals", "Intervals"),
                ("training", "Training"), ("reproduce", "Reproduce")]
    target = _get(m, "task", "target", default="run")
    body = [
        _header(m), _nav(sections), _summary(rec), _operating_point_section(rec), _data_section(m), _leaderboard_section(m),
        _trials_section(rec), _test_section(rec), _intervals_section(rec),
        _training_section(rec), _reproduce_section(m),
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>raretune report: {escape(str(target))}</title>"
        # an empty icon keeps the browser from asking for /favicon.ico
        '<link rel="icon" href="data:,">'
        f"<style>{_CSS}</style></head><body><main>"
        + "".join(body)
        + "</main></body></html>\n"
    )
