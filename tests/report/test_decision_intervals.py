"""Wilson intervals at the decision: precision, recall and alert rate on the test set."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from raretune import ConfigError, DataError
from raretune.operating import decision_intervals, wilson_interval
from raretune.report import write_report


@pytest.mark.parametrize(
    ("successes", "trials", "expected"),
    # Newcombe (1998), Statistics in Medicine 17:857, table I, method 3 (Wilson, no correction)
    [(81, 263, (0.2553, 0.3662)), (15, 148, (0.0624, 0.1605)), (0, 20, (0.0, 0.1611)),
     (1, 29, (0.0061, 0.1718))],
)
def test_wilson_matches_the_published_intervals(successes, trials, expected):
    assert wilson_interval(successes, trials) == pytest.approx(expected, abs=5e-5)


def test_wilson_edges():
    assert all(np.isnan(wilson_interval(0, 0)))  # no trials: no interval
    low, high = wilson_interval(20, 20)
    assert high == 1.0 and 0.8 < low < 1.0
    wide, narrow = wilson_interval(5, 10), wilson_interval(5, 10, level=0.5)
    assert wide[0] < narrow[0] < 0.5 < narrow[1] < wide[1]


def test_decision_intervals_use_the_right_denominators():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    score = np.array([.9, .8, .3, .2, .85, .1, .1, .1, .1, .1])
    iv = decision_intervals(y, score, 0.5)  # flags 3 rows: 2 positives, 1 negative
    assert {k: (iv[k]["low"], iv[k]["high"]) for k in ("precision", "recall", "alert_rate")} == {
        "precision": wilson_interval(2, 3), "recall": wilson_interval(2, 4), "alert_rate": wilson_interval(3, 10)}
    nothing = decision_intervals(y, score, 0.95)["precision"]  # nothing flagged
    assert np.isnan(nothing["low"]) and np.isnan(nothing["high"])


@pytest.mark.parametrize(
    ("args", "error"),
    [(([0, 1], [0.1], 0.5), DataError), (([0, 1], [0.1, 0.2], "x"), ConfigError)],
)
def test_decision_intervals_reject_bad_input(args, error):
    with pytest.raises(error):
        decision_intervals(*args)


def _computed(text, name):
    return re.search(rf'data-computed="{re.escape(name)}">([^<]+)<', text).group(1)


def test_report_shows_the_decision_intervals(make_run):
    run = make_run(n_test=3000)
    with np.load(run / "scores.npz") as npz:
        y, score = npz["test_y"], npz["test_score"]
    metrics = json.loads((run / "metrics.json").read_text())
    iv = decision_intervals(y, score, metrics["threshold"]["value"])
    text = write_report(run).read_text(encoding="utf-8")
    assert "At the decision (test, Wilson 95% intervals)" in text
    for key in ("precision", "recall"):
        assert _computed(text, f"decision.{key}.0") == f"{iv[key]['low']:.4f}"
        assert _computed(text, f"decision.{key}.1") == f"{iv[key]['high']:.4f}"
    assert _computed(text, "decision.alert_rate.1") == f"{iv['alert_rate']['high']:.3%}"
    assert _computed(text, "decision.precision") == f"{metrics['test']['precision']:.4f}"

    # values the run stored in metrics.json win, tagged with their path
    metrics["test"]["decision_intervals"] = {"precision": {"low": 0.125, "high": 0.875}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    text = write_report(run).read_text(encoding="utf-8")
    assert 'data-metric="test.decision_intervals.precision.low">0.1250<' in text
    assert 'data-computed="decision.precision.0"' not in text
    assert 'data-computed="decision.recall.0"' in text
