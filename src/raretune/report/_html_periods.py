"""The report's "Test over time" section: ``metrics.json``'s ``per_period`` as a table and a plot.

Out-of-time runs (``time_column``) record test metrics per day, week or month; a model whose
recall falls week after week shows it here. A period without positives has no PR-AUC and no
recall: the table says "undefined" and the plot leaves a gap, never a 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

import numpy as np

from . import _plots
from ._html_parts import _figure, _is_number, _metric, _path, _table

__all__ = ["period_figure", "periods_section"]

UNDEFINED = "undefined"


def periods_section(m: Mapping) -> str:
    """The section, or ``""`` when the run recorded no ``per_period`` (no time column)."""
    record = m.get("per_period")
    if not isinstance(record, Mapping) or not record.get("periods"):
        return ""
    periods = [p for p in record["periods"] if isinstance(p, Mapping)]
    unit = str(record.get("unit", "period"))
    rows = []
    for k, period in enumerate(periods):
        def cell(key, why_undefined, k=k, period=period):
            value = period.get(key)
            if value is None:
                return f'<span class="missing" title="{escape(why_undefined)}">{UNDEFINED}</span>'
            return _metric(value, _path("per_period", "periods", k, key))

        rows.append([escape(str(period.get("label", k))), cell("rows", ""), cell("positives", ""),
                     cell("positive_rate", ""), cell("pr_auc", "no positive row in this period"),
                     cell("recall", "no positive row in this period"),
                     cell("precision", "no alert in this period"), cell("alert_rate", "")])
    header = [unit, "rows", "positives", "positive rate", "PR-AUC", "recall at threshold",
              "precision at threshold", "alert rate"]
    threshold = record.get("threshold")
    note = (f'<p class="note">The test rows of <code>{escape(str(record.get("column", "")))}</code> '
            f"cut by {escape(unit)}, each scored at the run's threshold "
            f"{_metric(threshold, 'per_period.threshold')}. PR-AUC and recall are {UNDEFINED} in a period "
            "without positive rows, precision in one without alerts. A period holds few positives: its "
            "figures vary much more than the whole test set's.</p>")
    figure = _figure(period_figure(periods, unit), "Test PR-AUC and recall per period",
                     f"PR-AUC and recall at the threshold per {unit}; gaps: undefined (no positives).", wide=True)
    return ('<section id="periods"><h2>Test metrics over time</h2>' + note
            + _table(header, rows, numeric=range(1, len(header))) + f'<div class="figures">{figure}</div>'
            + "</section>")


@_plots._styled
def period_figure(periods, unit: str):
    """PR-AUC, recall at the threshold and positive rate per period (``None`` drawn as a gap)."""
    labels = [_plots.plain_text(p.get("label", k)) for k, p in enumerate(periods)]
    x = np.arange(len(periods))

    def series(key):
        # anything but a number (null: undefined) is a gap in the line
        return np.array([float(p[key]) if _is_number(p.get(key)) else np.nan for p in periods])

    fig = _plots._figure(_plots._WIDTH * 1.5, _plots._HEIGHT)
    ax = fig.add_subplot()
    ax.plot(x, series("pr_auc"), "o-", color=_plots._COLORS["model"], lw=1.8, label="PR-AUC")
    ax.plot(x, series("recall"), "s-", color=_plots._COLORS["recall"], lw=1.5, label="recall at threshold")
    ax.plot(x, series("positive_rate"), "--", color=_plots._COLORS["reference"], lw=1.2,
            label="positive rate (a random score's PR-AUC)")
    ax.set_xticks(x, labels, rotation=45 if len(labels) > 8 else 0, ha="right" if len(labels) > 8 else "center")
    ax.set(xlabel=unit, ylim=(0, 1.02), title="Test metrics over time")
    fig.legend(loc="outside lower center", ncols=3, frameon=False)
    return fig
