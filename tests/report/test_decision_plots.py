"""Figures about the decision, and when the report draws them."""

from __future__ import annotations

import json

import matplotlib as mpl
import numpy as np
import pytest

from raretune.report import write_report
from raretune.report._decision_plots import (
    _capture,
    capture_figure,
    mostly_small,
    score_histogram_figure,
    threshold_figure,
)


def _rare(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.01).astype(int)
    y[:2] = [0, 1]
    score = np.where(y == 1, rng.beta(2, 5, n), rng.beta(1, 300, n))
    return y, score


def _draw(figure_function, *args, **kwargs):
    """The matplotlib Figure behind a report figure (before it becomes a PNG)."""
    with mpl.rc_context():
        return figure_function.__wrapped__(*args, **kwargs)


def test_mostly_small():
    assert mostly_small([0.001, 0.02, 0.3])
    assert not mostly_small([0.001, 0.2, 0.3])
    assert not mostly_small([0.0, 0.0, 0.9])  # nothing to put on a log axis


def test_threshold_curves_are_on_a_log_axis_when_scores_are_small():
    y, score = _rare()
    fig = _draw(threshold_figure, y, score, 0.2, costs={"fn": 10, "fp": 1}, rows="out-of-fold")
    assert fig.get_suptitle() == "Metrics by threshold (out-of-fold)"
    assert [ax.get_xscale() for ax in fig.axes] == ["log", "log"]
    assert fig.axes[0].get_xlim()[1] == 1
    fig = _draw(threshold_figure, y, score ** 0.25, 0.4)
    assert [ax.get_xscale() for ax in fig.axes] == ["linear"]
    assert "(validation)" in fig.get_suptitle()


def test_histograms_have_log_counts_and_one_panel_per_row_set():
    y, score = _rare()
    fig = _draw(score_histogram_figure, [("validation", y, score), ("test", y, score)],
                ["0, negative", "1, positive"], threshold=0.2)
    assert [ax.get_yscale() for ax in fig.axes] == ["log", "log"]
    assert [ax.get_xscale() for ax in fig.axes] == ["log", "log"]
    n_neg, n_pos = np.bincount(y)
    assert fig.axes[1].get_title() == f"test: {n_neg:,} negative / {n_pos:,} positive rows"


def test_capture_counts_positives_in_the_top_rows():
    y = np.array([1, 0, 1, 0, 0, 0, 1, 0])
    score = np.array([.9, .8, .8, .5, .4, .3, .2, .1])
    flagged, caught = _capture(y, score)
    # thresholds .9, .8 (two rows, tied), .5, .4, .3, .2, .1
    assert flagged.tolist() == [1 / 8, 3 / 8, 4 / 8, 5 / 8, 6 / 8, 7 / 8, 1.0]
    assert caught.tolist() == [1 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3, 1.0, 1.0]
    fig = _draw(capture_figure, [("validation", y, score), ("test", y, score)], threshold=0.8)
    capture_ax, lift_ax = fig.axes
    assert capture_ax.get_xscale() == "log" and lift_ax.get_yscale() == "log"
    labels = lift_ax.get_legend_handles_labels()[1]
    assert "test at threshold 0.8: top 37.50%, lift 1.8" in labels


def test_one_epoch_history_is_a_note_not_a_plot(make_run):
    run = make_run(n_test=1500)
    (run / "history.json").write_text(json.dumps({"loss": [0.31], "val_loss": [0.35]}))
    text = write_report(run).read_text(encoding="utf-8")
    assert 'alt="training curves"' not in text
    assert "trained for one epoch" in text and "0.3500" in text


def test_cross_fitted_threshold_curves_say_out_of_fold(make_run):
    run = make_run(n_test=1500)
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["data"]["folds"] = 5
    metrics["refit"] = {"n_rows": 9000, "threshold": {"value": 0.3, "rule": "f1"}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    text = write_report(run).read_text(encoding="utf-8")
    assert "Choose an operating point (out-of-fold)</h2>" in text
    assert "Precision, recall and F1 on the out-of-fold scores" in text
    assert "the dotted one the refitted model&#x27;s" in text


@pytest.mark.parametrize("omit", [("scores.npz",)])
def test_no_scores_no_decision_figures(make_run, omit):
    text = write_report(make_run(n_test=1500, omit=omit)).read_text(encoding="utf-8")
    for alt in ("metrics by threshold", "score histograms by class", "cumulative capture"):
        assert f'alt="{alt}' not in text
