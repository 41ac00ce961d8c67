"""Figures about the decision: metrics by threshold, scores by class, capture and lift.

A rare-event model gives most rows a score near zero, so on a linear score axis every curve is
squeezed against the left edge; score axes turn logarithmic when most scores are below
:data:`SMALL_SCORE`, and the share-of-rows axis of the capture curve is always logarithmic,
because the rows worth reading are the top few per cent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from ..metrics import cost_sweep, threshold_sweep
from ._plots import _COLORS, _HEIGHT, _WIDTH, _figure, _styled, plain_text

__all__ = ["SMALL_SCORE", "capture_figure", "mostly_small", "score_histogram_figure",
           "threshold_figure"]

#: Scores below this are "small": when most are, score axes are logarithmic.
SMALL_SCORE = 0.05


def mostly_small(score) -> bool:
    """Whether more than half of the scores lie in (0, :data:`SMALL_SCORE`).

    Zeros do not count: a log axis cannot show them.
    """
    score = np.asarray(score, dtype=float)
    return bool(np.mean((score > 0) & (score < SMALL_SCORE)) > 0.5)


def _log_floor(score: np.ndarray, quantile: float = 0.0) -> float:
    """A left limit for a log score axis: the decade below a low quantile of the scores > 0."""
    positive = score[score > 0]
    return max(10.0 ** np.floor(np.log10(np.quantile(positive, quantile))), 1e-8)


@_styled
def threshold_figure(
    y_true,
    score,
    threshold: float,
    *,
    costs: Mapping[str, float] | None = None,
    rows: str = "validation",
    refit_threshold: float | None = None,
    cost=None,
    sample_weight=None,
) -> Figure:
    """Precision, recall and F1 (and expected cost) against the threshold, chosen one marked.

    ``rows`` names the scores in the title: the threshold is chosen on validation (or
    out-of-fold) scores, and that is where its curves belong. ``refit_threshold``, the one a
    refitted model chose on its own scores, is drawn dotted when given. ``cost`` (each row's
    cost of being missed) and ``sample_weight`` make the curves those of ``metrics.json``:
    weighted counts, and the money of :func:`raretune.metrics.cost_sweep`.
    """
    score = np.asarray(score, dtype=float)
    thresholds, tp, fp = threshold_sweep(y_true, score, sample_weight)
    n_pos = tp[-1]
    precision = tp / (tp + fp)
    recall = tp / n_pos
    f1 = 2 * tp / (2 * tp + fp + (n_pos - tp))
    log = mostly_small(score)
    panels = 2 if costs else 1
    fig = _figure(_WIDTH * panels, _HEIGHT + 0.6)
    axes = fig.subplots(1, panels, squeeze=False)[0]
    ax = axes[0]
    ax.plot(thresholds, precision, color=_COLORS["precision"], lw=1.6, label="precision")
    ax.plot(thresholds, recall, color=_COLORS["recall"], lw=1.6, label="recall")
    ax.plot(thresholds, f1, color=_COLORS["f1"], lw=1.6, label="F1")
    ax.axvline(threshold, color=_COLORS["threshold"], ls="--", lw=1.2,
               label=f"chosen threshold {threshold:.4g}")
    if refit_threshold is not None:
        ax.axvline(refit_threshold, color=_COLORS["threshold"], ls=":", lw=1.2,
                   label=f"refitted model's threshold {refit_threshold:.4g}")
    ax.set(ylabel="metric at threshold", ylim=(0, 1.02))
    fig.suptitle(f"Metrics by threshold ({rows})", fontsize=11)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=3, frameon=False)
    if costs:
        fn_cost, fp_cost = float(costs["fn"]), float(costs["fp"])
        # the one cost formula
        _, lost, _ = cost_sweep(y_true, score, cost_fn=fn_cost, cost_fp=fp_cost, cost=cost, sample_weight=sample_weight)
        missed = "FN: its cost" if cost is not None else f"FN {fn_cost:g}"
        cost_ax = axes[1]
        cost_ax.plot(thresholds, lost, color=_COLORS["cost"], lw=1.6,
                     label=f"{'money lost' if cost is not None else 'expected cost'} ({missed}, FP {fp_cost:g})")
        best = int(np.argmin(lost))
        cost_ax.plot([thresholds[best]], [lost[best]], "o", color=_COLORS["cost"], ms=6,
                     label=f"lowest cost {lost[best]:,.0f} at {thresholds[best]:.4g}")
        cost_ax.axvline(threshold, color=_COLORS["threshold"], ls="--", lw=1.2)
        cost_ax.set(ylabel=f"total cost on the {rows} rows")
        cost_ax.set_ylim(bottom=0)
        cost_ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    for ax in axes:
        if log:
            ax.set_xscale("log")
            ax.set_xlim(_log_floor(score), 1)
        else:
            ax.set_xlim(0, 1)
        ax.set_xlabel("threshold (flag when score ≥ threshold)" + (", log scale" if log else ""))
    return fig


@_styled
def score_histogram_figure(
    panels: Sequence[tuple[str, np.ndarray, np.ndarray]],
    class_names: Sequence[str],
    *,
    threshold: float | None = None,
    n_bins: int = 40,
) -> Figure:
    """Histograms of the scores of each class, counts on a log axis, one panel per row set.

    ``panels`` holds ``(title, y, score)`` triples, e.g. validation and test. Bins are equal
    on a log score axis when most scores are small, else equal on [0, 1].
    """
    every = np.concatenate([np.asarray(s, dtype=float) for _, _, s in panels])
    log = mostly_small(every)
    if log:
        # the lowest 0.1 % of the scores go to the first bin rather than stretch the axis
        edges = np.geomspace(_log_floor(every, 0.001), 1, n_bins + 1)
    else:
        edges = np.linspace(0, 1, n_bins + 1)
    fig = _figure(_WIDTH * len(panels) / 1.1, _HEIGHT + 0.3)
    axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    colors = (_COLORS["reference"], _COLORS["cost"])
    for ax, (title, y, score) in zip(axes, panels):
        y = np.asarray(y).astype(int)
        score = np.clip(np.asarray(score, dtype=float), edges[0], edges[-1])
        sizes = []
        for k, (name, color) in enumerate(zip(class_names, colors)):
            chosen = score[y == k]
            sizes.append(f"{chosen.size:,}")
            ax.hist(chosen, bins=edges, histtype="stepfilled", alpha=0.25, color=color)
            ax.hist(chosen, bins=edges, histtype="step", lw=1.5, color=color, label=plain_text(name))
        if threshold is not None:
            ax.axvline(threshold, color=_COLORS["threshold"], ls="--", lw=1.2,
                       label=f"threshold {threshold:.4g}")
        ax.set_yscale("log")
        if log:
            ax.set_xscale("log")
        ax.set(title=f"{title}: {sizes[0]} negative / {sizes[1]} positive rows",
               xlabel="score" + (" (log scale)" if log else ""))
    axes[0].set_ylabel("rows per bin (log scale)")
    # one legend for all panels, below them: inside, it would hide bars
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=3,
               frameon=False)
    return fig


def _capture(y, score):
    """Share of rows flagged and share of positives caught at every distinct threshold."""
    _, tp, fp = threshold_sweep(y, score)
    return (tp + fp) / (tp[-1] + fp[-1]), tp / tp[-1]


@_styled
def capture_figure(
    panels: Sequence[tuple[str, np.ndarray, np.ndarray]],
    *,
    threshold: float | None = None,
) -> Figure:
    """Cumulative capture (positives caught in the top k % of scores) and lift, per row set.

    ``panels`` holds ``(label, y, score)`` triples drawn on the same axes; the deployed
    threshold is a dot on each curve.
    """
    fig = _figure(_WIDTH * 2 / 1.1, _HEIGHT + 0.3)
    capture_ax, lift_ax = fig.subplots(1, 2)
    colors = (_COLORS["model"], _COLORS["recall"])
    low = 1.0
    best_lift = 1.0
    for (label, y, score), color in zip(panels, colors):
        y = np.asarray(y).astype(int)
        score = np.asarray(score, dtype=float)
        flagged, caught = _capture(y, score)
        lift = caught / flagged
        low = min(low, flagged[0])
        best_lift = max(best_lift, 1 / y.mean())
        capture_ax.plot(flagged, caught, color=color, lw=1.6, label=label)
        lift_ax.plot(flagged, lift, color=color, lw=1.6, label=label)
        if threshold is not None:
            at = score >= threshold
            share = at.mean()
            if share > 0:
                recall = at[y == 1].mean()
                capture_ax.plot([share], [recall], "o", color=color, ms=6)
                lift_ax.plot([share], [recall / share], "o", color=color, ms=6,
                             label=f"{label} at threshold {threshold:.4g}: top {share:.2%}, "
                                   f"lift {recall / share:,.1f}")
    low = max(min(low, 1e-3), 1e-4)
    grid = np.geomspace(low, 1, 200)
    first_rate = np.mean(np.asarray(panels[0][1]).astype(int))
    capture_ax.plot(grid, np.minimum(1, grid / first_rate), ls=":", color=_COLORS["f1"], lw=1.2,
                    label="perfect ranking")
    capture_ax.plot(grid, grid, ls="--", color=_COLORS["reference"], lw=1.2,
                    label="random ranking")
    lift_ax.axhline(1, ls="--", color=_COLORS["reference"], lw=1.2, label="random ranking (1)")
    for ax in (capture_ax, lift_ax):
        ax.set_xscale("log")
        ax.set_xlim(low, 1)
        ax.set_xlabel("share of rows flagged, highest scores first (log scale)")
    capture_ax.set(ylim=(0, 1.02), ylabel="share of positives caught",
                   title="Cumulative capture")
    lift_ax.set_yscale("log")
    lift_ax.set(ylim=(0.5, best_lift * 1.5), ylabel="lift (caught share / flagged share)",
                title="Lift")
    capture_ax.legend(loc="upper left")
    lift_ax.legend(loc="lower left", fontsize=7.5)
    return fig
