"""Render a run's record as one self-contained HTML page.

The page has inline CSS, images embedded as data URIs and no network access; its only script
is the threshold explorer's, inline (see :mod:`._explorer`). Every number taken from
``metrics.json`` is written into an element carrying ``data-metric="PATH"``,
where PATH is the dotted path of the value in ``metrics.json`` (list items by index, e.g.
``test.intervals.pr_auc.0``); the text is the value with 4 decimals (floats) or with thousands
separators (integers). Numbers the report computes itself carry ``data-computed`` instead.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from html import escape

from ._html_explain import explanations_section, warnings_block
from ._html_periods import periods_section
from ._html_parts import (
    NOT_RECORDED,
    RunRecord,
    _computed,
    _facts,
    _get,
    _is_number,
    _metric,
    _missing,
    _path,
    _table,
)
from ._html_results import (
    _decision_interval_html,
    _interval_html,
    _intervals_section,
    _operating_point_section,
    _test_section,
    _training_section,
)
from ._html_search import _leaderboard_section, _trials_section

__all__ = ["RunRecord", "render_html"]


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
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(230px,1fr)); gap:12px; }
.card { background:var(--soft); border:1px solid var(--line); border-radius:8px; padding:10px 14px;
        min-width:0; }
/* one line each: a card is read at a glance; what does not fit goes in the note below */
.card > div { white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
.card .label { font-size:13px; color:var(--muted); }
.card .value { font-size:24px; font-weight:600; font-variant-numeric:tabular-nums; }
.card .value.words { font-size:17px; line-height:36px; }
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


def _card(label: str, value_html: str, detail_html="", *, words: bool = False) -> str:
    """A summary card: a label, a value and detail lines (a str or a list of them), each on one line.

    ``words`` sets a text value (a model's name) smaller than a number.
    """
    lines = [detail_html] if isinstance(detail_html, str) else list(detail_html)
    detail = "".join(f'<div class="detail">{line}</div>' for line in lines if line)
    value_class = "value words" if words else "value"
    return (f'<div class="card"><div class="label">{escape(label)}</div>'
            f'<div class="{value_class}">{value_html}</div>{detail}</div>')


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
        capacity = _get(m, "threshold", "capacity")
        if isinstance(capacity, Mapping):
            cards.append(_capacity_card(capacity))
        cards.append(_card("test precision", _metric(test.get("precision"), "test.precision"),
                           _decision_interval_html(rec, "precision")))
        cards.append(_card("test recall", _metric(test.get("recall"), "test.recall"),
                           _decision_interval_html(rec, "recall")))
        money = _get(m, "test", "cost")
        cost = None if isinstance(money, Mapping) and "money_lost" in money else _expected_cost(m)
        if cost is None and isinstance(money, Mapping) and "money_lost" in money:
            cards.extend(_money_cards(m, money))
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
    note = ""
    if len(members) > 1:
        strategies = ", ".join(sorted({str(x.get("strategy")) for x in members}))
        kinds = [(("trial", "trials"), len(members) - len(converged))] + [
            (nouns, sum(1 for x in converged if x.get("model") == model)) for model, nouns in _CONVERGED.items()]
        parts = [f"{n} {nouns[n > 1]}" for nouns, n in kinds if n]
        cards.append(_card("chosen model", f"ensemble of {len(members)}",
                           f"best single trial {escape(str(best.get('trial_id', '?')))}", words=True))
        note += (f'<p class="note">The chosen model is an ensemble of {escape(" + ".join(parts))} '
                 f"(remedies: {escape(strategies)}).</p>")
    elif converged:
        member = converged[0]
        setting = f"C={member.get('C')}, " if "C" in member else (
            f"{member['config']}, " if member.get("config") is not None else "")
        weights = "SMOTE to balanced classes" if member.get("strategy") == "smote" else "balanced class weights"
        cards.append(_card("chosen model", _CONVERGED[member["model"]][0],
                           [f"{escape(setting)}{weights}", "cross-fitted"], words=True))
    elif best:
        cards.append(_card("chosen model", escape(str(best.get("strategy", NOT_RECORDED))),
                           f"trial {escape(str(best.get('trial_id', '?')))}", words=True))
    refit = m.get("refit")
    if isinstance(refit, Mapping):
        refit_threshold = _get(refit, "threshold", "value")
        note += ('<p class="note">The test metrics above are those of the networks that never saw the test rows. '
                "<code>model.keras</code> and <code>raretune predict</code> use the same networks retrained on all "
                f"{_metric(refit.get('n_rows'), 'refit.n_rows')} rows"
                + (f", with their own threshold {_metric(refit_threshold, 'refit.threshold.value')}"
                   if _is_number(refit_threshold) else "")
                + ".</p>")
    return ('<section id="summary"><h2>Summary</h2><div class="cards">' + "".join(cards)
            + "</div>" + note + "</section>")


def _capacity_card(capacity: Mapping) -> str:
    """``capacity=N/PERIOD``: the alert share it became, and what validation flagged a period."""
    period = escape(str(capacity.get("period", "?")))
    alerts, share = capacity.get("alerts"), capacity.get("alert_share")
    per_period = capacity.get("validation_alerts_per_period")
    value = f"{_fmt_plain(alerts)} / {period}" if _is_number(alerts) else NOT_RECORDED
    detail = []
    if _is_number(share):
        detail.append(f"flags the top {share:.2%} of rows")
    if _is_number(per_period):
        detail.append(f"validation: {per_period:,.1f} / {period}")
    return _card("alert capacity", value, detail)


def _ratio(value: float) -> str:
    """An imbalance ratio for reading: ``233.1 : 1``."""
    return f"{value:,.1f} : 1"


def _round_if_whole(value: float):
    return int(value) if float(value).is_integer() else value


def _fmt_plain(value) -> str:
    return f"{value:g}" if _is_number(value) else str(value)


def _money_cards(m: Mapping, money: Mapping) -> list:
    """Money lost and saved against flagging nobody on the test rows, with bootstrap intervals."""
    costs = m.get("costs") if isinstance(m.get("costs"), Mapping) else {}
    missed = (f"a missed positive costs its {escape(str(costs['cost_column']))}" if costs.get("cost_column")
              else f"FN × {escape(_fmt_plain(costs.get('fn')))}")
    fp = f"FP × {escape(_fmt_plain(costs.get('fp')))}"
    intervals = money.get("intervals") if isinstance(money.get("intervals"), Mapping) else {}

    def interval(key):
        low_high = intervals.get(key)
        if not low_high:
            return ""
        return (f"{intervals.get('level', 0.95):.0%} CI {_metric(low_high[0], _path('test', 'cost', 'intervals', key, 0))}"
                f"–{_metric(low_high[1], _path('test', 'cost', 'intervals', key, 1))}; ")

    return [
        _card("money lost (test)", _metric(money.get("money_lost"), "test.cost.money_lost"),
              interval("money_lost") + f"{missed} + {fp}"),
        _card("money saved vs flag nobody (test)",
              _metric(money.get("money_saved_vs_flag_nobody"), "test.cost.money_saved_vs_flag_nobody"),
              interval("money_saved_vs_flag_nobody") + "flag nobody loses "
              + _metric(money.get("flag_nobody_money_lost"), "test.cost.flag_nobody_money_lost")),
        _card("amount-weighted recall (test)",
              _metric(money.get("amount_weighted_recall"), "test.cost.amount_weighted_recall"),
              "share of the positives' cost caught"),
    ]


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
              "boosted_trees": ("boosted-trees model", "boosted-trees models"),
              "random_forest": ("random forest", "random forests"),
              "extra_trees": ("extra-trees model", "extra-trees models"),
              "smote_logistic_regression": ("SMOTE + logistic regression", "SMOTE + logistic regressions"),
              "knn": ("k-nearest-neighbours model", "k-nearest-neighbours models")}


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
    sections = [("summary", "Summary"), ("operating-point", "Operating point"), ("data", "Data"),
                ("leaderboard", "Leaderboard"), ("trials", "Trials"), ("test", "Test set"),
                ("intervals", "Intervals"), ("explanations", "Explanations"), ("training", "Training"),
                ("reproduce", "Reproduce")]
    periods = periods_section(m)  # only out-of-time runs have one
    if periods:
        sections.insert(sections.index(("test", "Test set")) + 1, ("periods", "Over time"))
    target = _get(m, "task", "target", default="run")
    body = [
        _header(m), _nav(sections), warnings_block(m), _summary(rec), _operating_point_section(rec),
        _data_section(m), _leaderboard_section(m), _trials_section(rec), _test_section(rec),
        periods, _intervals_section(rec), explanations_section(m), _training_section(rec), _reproduce_section(m),
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
