"""The report's explanation section: column importance, worst errors, segments; and warnings."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from ._html_parts import _fmt, _metric, _missing, _path, _table

__all__ = ["explanations_section", "warnings_block"]

#: Columns shown in the importance table.
TOP_COLUMNS = 15


def warnings_block(m: Mapping) -> str:
    """The run's warnings, at the top of the report: what a reader must know first."""
    warnings = [w for w in (m.get("warnings") or []) if isinstance(w, str)]
    if not warnings:
        return ""
    items = "".join(f"<li>{escape(w)}</li>" for w in warnings)
    return f'<div class="verdict" id="warnings"><strong>Warnings</strong><ul>{items}</ul></div>'


def explanations_section(m: Mapping) -> str:
    """What the model relies on (permutation importance) and where it errs."""
    explained = m.get("explanations")
    head = '<section id="explanations"><h2>Explanations</h2>'
    if not isinstance(explained, Mapping):
        return head + _missing("Explanations (binary tables only)") + "</section>"
    parts = [head]
    importance = explained.get("importance") or []
    if importance:
        rows = []
        for i, row in enumerate(importance[:TOP_COLUMNS]):
            if not isinstance(row, Mapping):
                continue
            rows.append([escape(str(row.get("feature"))),
                         _metric(row.get("importance"), _path("explanations", "importance", i, "importance")),
                         f"{escape(_fmt(row.get('low')))} to {escape(_fmt(row.get('high')))}"])
        parts.append("<h3>What the model relies on</h3>"
                     f'<p class="note">Drop in {escape(str(explained.get("importance_on", "test PR-AUC")))} when '
                     "the column is shuffled (mean over repeats, 95 % interval); the top "
                     f"{min(TOP_COLUMNS, len(importance))} of {len(importance)} columns.</p>"
                     + _table(["column", "importance (drop, higher matters more)", "95 % interval"], rows,
                              numeric=(1, 2)))
    elif explained.get("importance_skipped"):
        parts.append("<h3>What the model relies on</h3>"
                     f'<p class="note">Not computed: {escape(str(explained["importance_skipped"]))}.</p>')
    errors = explained.get("worst_errors")
    if isinstance(errors, Mapping):
        for kind, title in (("false_alarms", "Highest-scoring false alarms (test)"),
                            ("missed", "Lowest-scoring missed positives (test)")):
            listed = [e for e in errors.get(kind) or [] if isinstance(e, Mapping)]
            if listed:
                rows = [[escape(_fmt(e.get("row"))), escape(_fmt(e.get("score")))] for e in listed]
                parts.append(f"<h3>{escape(title)}</h3>"
                             + _table(["test row", "calibrated score"], rows, numeric=(0, 1)))
    segments = explained.get("segments")
    if isinstance(segments, Mapping) and segments.get("rows"):
        rows = []
        for s in segments["rows"]:
            if isinstance(s, Mapping):
                rows.append([escape(str(s.get("segment"))), escape(_fmt(s.get("n"))), escape(_fmt(s.get("positives"))),
                             escape(_fmt(s.get("pr_auc"))), escape(_fmt(s.get("precision"))),
                             escape(_fmt(s.get("recall"))), escape(_fmt(s.get("alert_rate")))])
        parts.append(f"<h3>Test figures by {escape(str(segments.get('column')))}</h3>"
                     + _table(["segment", "rows", "positives", "PR-AUC", "precision", "recall", "alert rate"], rows,
                              numeric=(1, 2, 3, 4, 5, 6)))
    return "".join(parts) + "</section>"
