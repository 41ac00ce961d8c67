"""Building blocks of the report page: the run's record, number formatting, tables, figures.

Every number taken from ``metrics.json`` is written by :func:`_metric` into an element carrying
``data-metric="PATH"``, PATH being the dotted path of the value in ``metrics.json``; numbers the
report computes itself go through :func:`_computed` and carry ``data-computed`` instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

import numpy as np

__all__ = ["NOT_RECORDED", "RunRecord"]

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


def _class_names(m: Mapping, k: int) -> list[str]:
    names = _get(m, "task", "classes")
    if isinstance(names, list) and len(names) == k:
        return [str(n) for n in names]
    return [str(i) for i in range(k)]


def _confusion(y: np.ndarray, pred: np.ndarray, k: int) -> list[list[int]]:
    return np.bincount(y * k + pred, minlength=k * k).reshape(k, k).tolist()
