"""The report's figures, drawn with matplotlib's object API and returned as PNG data URIs.

Figures are built from :class:`matplotlib.figure.Figure` directly (never ``pyplot``), so the
report neither changes the user's backend nor keeps figures alive in pyplot's registry; saving
a bare ``Figure`` to PNG uses the Agg renderer.
"""

from __future__ import annotations

import base64
import functools
import io
import time
from collections.abc import Mapping, Sequence

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "calibration_figure",
    "confusion_matrix_figure",
    "history_figure",
    "multiclass_pr_figure",
    "pr_curve_figure",
    "roc_curve_figure",
    "to_data_uri",
]

_DPI = 110
_WIDTH = 6.0  # inches; two figures side by side fill a 1280 px page
_HEIGHT = 4.2
_STYLE = {
    "font.size": 9.5,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_COLORS = {
    "model": "#1f5fa8",
    "precision": "#1f5fa8",
    "recall": "#d9711c",
    "f1": "#2e8b57",
    "cost": "#a3262a",
    "reference": "#7a7a7a",
    "threshold": "#111111",
}


def _figure(width: float = _WIDTH, height: float = _HEIGHT) -> Figure:
    return Figure(figsize=(width, height), dpi=_DPI, layout="constrained")


def to_data_uri(fig: Figure) -> str:
    """Render ``fig`` to PNG and return it as a ``data:image/png;base64,...`` URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def probe_seconds(clock=time.perf_counter) -> float:
    """Seconds this machine takes now to draw and encode one line figure in the report's style.

    Parameters
    ----------
    clock : callable
        Seconds (a test may pass a fake clock).
    """
    started = clock()
    with mpl.rc_context(_STYLE):
        fig = _figure()
        ax = fig.add_subplot()
        x = np.linspace(0.0, 1.0, 200)
        ax.plot(x, x ** 2, color=_COLORS["precision"], label="precision")
        ax.plot(x, np.sqrt(x), color=_COLORS["recall"], label="recall")
        ax.set_xlabel("threshold")
        ax.set_ylabel("share")
        ax.legend()
        to_data_uri(fig)
    return clock() - started


def _styled(draw):
    """Decorator: draw inside the report's rc style and return the figure as a data URI."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs) -> str:
        with mpl.rc_context(_STYLE):
            fig = draw(*args, **kwargs)
            return to_data_uri(fig)

    return wrapper


def _point_at(y, score, threshold):
    """Precision, recall, false positive rate when predicting ``score >= threshold``."""
    y = np.asarray(y).astype(bool)
    pred = np.asarray(score) >= threshold
    tp = np.sum(pred & y)
    fp = np.sum(pred & ~y)
    precision = tp / (tp + fp) if tp + fp else 1.0
    return precision, tp / y.sum(), fp / (~y).sum()


@_styled
def pr_curve_figure(y_true, score, *, threshold: float | None = None) -> Figure:
    """Precision-recall curve with the prevalence (a random classifier's precision)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    precision, recall, _ = precision_recall_curve(y_true, score)
    prevalence = float(np.mean(y_true))
    ap = average_precision_score(y_true, score)
    fig = _figure(_WIDTH, _HEIGHT + 0.6)
    ax = fig.add_subplot()
    ax.step(recall, precision, where="post", color=_COLORS["model"], lw=1.8,
            label=f"model (average precision {ap:.3f})")
    ax.axhline(prevalence, color=_COLORS["reference"], ls="--", lw=1.2,
               label=f"prevalence {prevalence:.4f} (random classifier)")
    if threshold is not None:
        p, r, _ = _point_at(y_true, score, threshold)
        ax.plot([r], [p], "o", color=_COLORS["threshold"], ms=7,
                label=f"threshold {threshold:.4f}: precision {p:.3f}, recall {r:.3f}")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.01), ylim=(0, 1.02),
           title="Precision-recall (test)")
    # below the axes: inside, it would hide part of a curve whose shape is not known
    fig.legend(loc="outside lower center", ncols=1, frameon=False)
    return fig


@_styled
def roc_curve_figure(y_true, score, *, threshold: float | None = None) -> Figure:
    """ROC curve with the chance diagonal and the chosen threshold marked."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(y_true, score)
    fig = _figure(_WIDTH, _HEIGHT + 0.6)
    ax = fig.add_subplot()
    ax.plot(fpr, tpr, color=_COLORS["model"], lw=1.8,
            label=f"model (ROC-AUC {roc_auc_score(y_true, score):.3f})")
    ax.plot([0, 1], [0, 1], ls="--", color=_COLORS["reference"], lw=1.2, label="chance")
    if threshold is not None:
        _, r, f = _point_at(y_true, score, threshold)
        ax.plot([f], [r], "o", color=_COLORS["threshold"], ms=7,
                label=f"threshold {threshold:.4f}")
    ax.set(xlabel="false positive rate", ylabel="true positive rate (recall)",
           xlim=(-0.01, 1.01), ylim=(0, 1.02), title="ROC (test)")
    ax.legend(loc="lower right")
    return fig


@_styled
def confusion_matrix_figure(
    matrix, class_names: Sequence[str], *, title: str = "Confusion matrix (test)"
) -> Figure:
    """Counts annotated on cells shaded by the share of each actual class (row)."""
    cm = np.asarray(matrix, dtype=float)
    k = cm.shape[0]
    row_share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    labels = [_short(name) for name in class_names]
    rotate = k > 4 or max(len(s) for s in labels) > 10
    fig = _figure(_WIDTH, _HEIGHT + 0.6 + (0.5 if rotate else 0))
    ax = fig.add_subplot()
    ax.grid(False)
    image = ax.imshow(row_share, cmap="Blues", vmin=0, vmax=1)
    small = k > 5
    for i in range(k):
        for j in range(k):
            text = f"{int(cm[i, j]):,}" if small else f"{int(cm[i, j]):,}\n{row_share[i, j]:.1%}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8 if small else 10,
                    color="white" if row_share[i, j] > 0.6 else "black")
    ax.set_xticks(range(k), labels, rotation=30 if rotate else 0,
                  ha="right" if rotate else "center")
    ax.set_yticks(range(k), labels)
    ax.set(xlabel="predicted class", ylabel="actual class", title=title)
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of actual class")
    return fig


@_styled
def calibration_figure(
    y_true,
    calibrated,
    raw=None,
    *,
    brier_before: float | None = None,
    brier_after: float | None = None,
    n_bins: int = 10,
) -> Figure:
    """Reliability diagram of the raw and calibrated scores, with Brier scores.

    Bins hold equal shares of the predicted probability mass, so each expects about as many
    positives: equal-count bins would leave most bins of a rare-event model without a single
    positive. Both axes are logarithmic when positives are rarer than 5 %.
    """
    y = np.asarray(y_true).astype(int)
    fig = _figure()
    ax = fig.add_subplot()
    rare = y.mean() < 0.05
    curves = [("calibrated", calibrated, brier_after, _COLORS["model"])]
    if raw is not None:
        curves.insert(0, ("before calibration", raw, brier_before, _COLORS["recall"]))
    low = 1.0
    for name, scores, brier, color in curves:
        mean_pred, frac_pos = _reliability(y, np.asarray(scores, dtype=float), n_bins)
        label = name if brier is None else f"{name} (Brier {brier:.4f})"
        if rare:
            keep = (frac_pos > 0) & (mean_pred > 0)
            mean_pred, frac_pos = mean_pred[keep], frac_pos[keep]
        ax.plot(mean_pred, frac_pos, "o-", color=color, lw=1.5, ms=4, label=label)
        if mean_pred.size:
            low = min(low, mean_pred.min(), frac_pos.min())
    if rare:
        low = max(low / 2, 1e-6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set(xlim=(low, 1), ylim=(low, 1))
        ax.plot([low, 1], [low, 1], ls="--", color=_COLORS["reference"], lw=1.2,
                label="perfectly calibrated")
    else:
        ax.set(xlim=(0, 1), ylim=(0, 1))
        ax.plot([0, 1], [0, 1], ls="--", color=_COLORS["reference"], lw=1.2,
                label="perfectly calibrated")
    ax.set(xlabel="mean predicted probability (bin)", ylabel="observed positive rate (bin)",
           title="Calibration (test)")
    ax.legend(loc="upper left")
    return fig


def _reliability(y: np.ndarray, scores: np.ndarray, n_bins: int):
    """Mean prediction and observed positive rate in bins of equal predicted mass."""
    order = np.argsort(scores, kind="stable")
    mass = np.cumsum(scores[order])
    if mass[-1] <= 0:
        return np.array([0.0]), np.array([y.mean()])
    bins_sorted = np.minimum((mass / mass[-1] * n_bins).astype(int), n_bins - 1)
    bins = np.empty_like(bins_sorted)
    bins[order] = bins_sorted
    counts = np.bincount(bins, minlength=n_bins)
    used = counts > 0
    mean_pred = np.bincount(bins, weights=scores, minlength=n_bins)[used] / counts[used]
    frac_pos = np.bincount(bins, weights=y, minlength=n_bins)[used] / counts[used]
    return mean_pred, frac_pos


@_styled
def history_figure(history: Mapping[str, Sequence[float]], *, max_panels: int = 4) -> Figure:
    """Training and validation curves, one panel per metric (loss first)."""
    names = [k for k in history if not k.startswith("val_") and k not in ("lr", "learning_rate")]
    names += [k[4:] for k in history if k.startswith("val_") and k[4:] not in history]
    names = sorted(dict.fromkeys(names), key=lambda k: (k != "loss", k))[:max_panels]
    cols = min(2, len(names))
    rows = -(-len(names) // cols)
    fig = _figure(_WIDTH * cols / 1.15, 2.9 * rows + 0.3)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, name in zip(axes, names):
        for key, label, color in ((name, "training", _COLORS["model"]),
                                  ("val_" + name, "validation", _COLORS["recall"])):
            values = history.get(key)
            if values:
                epochs = np.arange(1, len(values) + 1)
                ax.plot(epochs, values, "o-", ms=3, lw=1.5, color=color, label=label)
        ax.set(title=name, xlabel="epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend()
    for ax in axes[len(names):]:
        ax.set_visible(False)
    return fig


@_styled
def multiclass_pr_figure(y_true, scores, class_names: Sequence[str]) -> Figure:
    """One-vs-rest precision-recall curve of every class, with each class's prevalence."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    y = np.asarray(y_true).astype(int)
    scores = np.asarray(scores, dtype=float)
    fig = _figure(_WIDTH, _HEIGHT + 0.4 + 0.2 * len(class_names))
    ax = fig.add_subplot()
    palette = [f"C{i}" for i in range(10)]
    for k, name in enumerate(class_names):
        target = y == k
        if not target.any():
            continue
        color = palette[k % len(palette)]
        precision, recall, _ = precision_recall_curve(target, scores[:, k])
        ap = average_precision_score(target, scores[:, k])
        ax.step(recall, precision, where="post", lw=1.5, color=color,
                label=f"{_short(name)} (AP {ap:.3f}, prevalence {target.mean():.3f})")
        ax.axhline(target.mean(), color=color, ls=":", lw=1)
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.01), ylim=(0, 1.02),
           title="Precision-recall per class, one vs rest (test)")
    fig.legend(loc="outside lower center", ncols=1 if len(class_names) < 5 else 2,
               frameon=False)
    return fig


def plain_text(value) -> str:
    """Text from the data (class and column names) as matplotlib shows it: a "$" is a dollar
    sign, never the start of TeX (matplotlib's own tick labels still use mathtext)."""
    return str(value).replace("$", r"\$")


def _short(name, limit: int = 18) -> str:
    name = str(name)
    return plain_text(name if len(name) <= limit else name[: limit - 1] + "…")
