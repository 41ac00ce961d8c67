"""The report's sections about the search: the leaderboard with its verdict, and the trials."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

import numpy as np

from ._html_parts import (
    NOT_RECORDED,
    RunRecord,
    _facts,
    _fmt,
    _get,
    _is_number,
    _metric,
    _missing,
    _path,
    _table,
)

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
    objective = _get(m, "search", "objective") or {}
    parts.append(_verdict(board))
    parts.append(_table([_column_header(k, objective) for k in keys], rows, numeric=numeric,
                        row_classes=classes))
    parts.append('<p class="note">Highlighted: the remedy of the chosen model. Converged models '
                 "(logistic regressions, boosted trees) are the ensemble's candidates besides the trials, "
                 "scored out of fold. Baselines are fitted without any remedy, as a sanity check.</p></section>")
    return "".join(parts)


#: What the objective's score is, by objective name (``search.objective.objective``).
_OBJECTIVE_LABELS = {"pr_auc": "PR-AUC", "roc_auc": "ROC-AUC", "f1": "best F1",
                     "recall_at_precision": "recall at precision", "cost": "cost per row"}
#: Leaderboard columns with a fixed meaning: (header, which way is better).
_COLUMNS = {"name": ("model", ""), "kind": ("kind", ""), "trial_id": ("trial", ""), "trials": ("trials", ""),
            "validation_pr_auc": ("validation PR-AUC", "↑"), "test_pr_auc": ("test PR-AUC", "↑"),
            "seconds": ("time (s)", "↓")}


def _column_header(key: str, objective: Mapping) -> str:
    """A leaderboard column's name with its unit and its better direction: ``"test PR-AUC ↑"``."""
    if key in _COLUMNS:
        label, arrow = _COLUMNS[key]
    elif key in ("validation_score", "test_score"):
        name = objective.get("objective") or str(objective.get("name", "score")).removeprefix("val_")
        what = _OBJECTIVE_LABELS.get(name, _header_label(name))
        if name == "recall_at_precision" and _is_number(objective.get("precision")):
            what += f" {objective['precision']:g}"
        label = f"{key.split('_')[0]} objective: {what}"
        arrow = "↓" if objective.get("direction") == "min" else "↑"
    else:
        label, arrow = _header_label(key), ""
    return f"{label} {arrow}" if arrow else label


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

    remedies = [r for r in board if r.get("kind") not in ("baseline", "converged", "chosen")
                and score(r)[1] is not None]
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
