"""One tiny out-of-time run: what the terminal says is what metrics.json and report.html say.

Trial numbers, scores and the best trial; the alert capacity (``capacity=N/PERIOD``) and an
identifier column's warning, in all three places.
"""

import contextlib
import io
import json
import re
from html import unescape

import numpy as np
import pandas as pd
import pytest

import raretune

from tests.conftest import make_frame

pytestmark = pytest.mark.slow

_TRIAL_LINE = re.compile(r"\[raretune\] trial (\S+) \((\d+)/(\d+) done\)\s+(\S+)\s+score (\S+)\s+best (\S+)")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("terminal")
    frame = make_frame(n=1500, positive_rate=0.1, seed=8)
    frame["txn_id"] = np.arange(50_000, 51_500)  # a sequence number: dropped with a warning
    frame["when"] = pd.Timestamp("2026-05-01") + pd.Timedelta(minutes=15) * np.arange(len(frame))
    terminal = io.StringIO()
    with contextlib.redirect_stderr(terminal):  # progress lines go to sys.stderr
        result = raretune.run(data=frame, target="label", out=root / "out", time_column="when",
                              threshold="capacity=10/day", strategies=["none", "class_weight"], tuner="random",
                              max_trials=3, max_epochs=1, folds=1, baseline=False, linear=False, trees=False,
                              refit=False, seed=0)
    lines = terminal.getvalue().splitlines()  # progress lines, the closing summary, and TensorFlow's
    metrics = json.loads((result.out / "metrics.json").read_text())
    report = (result.out / "report.html").read_text(encoding="utf-8")
    return lines, metrics, report, json.loads((result.out / "trials.json").read_text()), frame


def _report_trials(report: str) -> dict:
    """Trial id -> (remedy, score text, row class) from the report's trials table."""
    section = report[report.index('<section id="trials">'):]
    section = section[:section.index("</section>")]
    rows = {}
    for cls, cells in re.findall(r'<tr(?: class="([^"]*)")?>(.*?)</tr>', section, flags=re.S):
        texts = [unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)]
        if texts:
            rows[texts[0]] = (texts[2], texts[3], cls)
    return rows


def test_trial_numbers_and_scores_are_the_same_in_terminal_and_report(finished):
    lines, metrics, report, trials, _ = finished
    printed = {m.group(1): m.groups()[1:] for m in map(_TRIAL_LINE.search, lines) if m}
    assert len(printed) == metrics["search"]["n_trials"] == len(trials) == 3
    assert sorted(int(done) for done, *_ in printed.values()) == [1, 2, 3]
    shown = _report_trials(report)
    assert set(printed) == set(shown) == {t["trial_id"] for t in trials}
    for trial in trials:
        done, total, strategy, score, _ = printed[trial["trial_id"]]
        assert strategy == trial["strategy"] == shown[trial["trial_id"]][0]
        assert score == f"{trial['score']:.4f}" == shown[trial["trial_id"]][1]
    best = metrics["best"]["trial_id"]
    assert f"[raretune] best trial {best}: {metrics['best']['strategy']}, " in "\n".join(lines)
    assert [tid for tid, (_, _, cls) in shown.items() if cls == "best"] == [best]
    board = {row["name"]: row.get("trial_id") for row in metrics["leaderboard"] if row["kind"] == "remedy"}
    assert board[metrics["best"]["strategy"]] == best
    assert set(board.values()) <= set(printed)


def test_capacity_is_in_terminal_metrics_and_report(finished):
    lines, metrics, report, _, frame = finished
    threshold = metrics["threshold"]
    capacity = threshold["capacity"]
    assert threshold["rule"] == "alerts" and threshold["target"] == pytest.approx(capacity["alert_share"])
    assert (capacity["alerts"], capacity["period"]) == (10, "day")
    # 1,500 rows every 15 minutes: 96 a day; validation is 15 % of them, consecutive
    assert capacity["rows_per_period"] == pytest.approx(96, rel=0.01)
    assert capacity["alert_share"] == pytest.approx(10 / capacity["rows_per_period"])
    n_validation = metrics["data"]["n_validation"]
    flagged = capacity["validation_alert_share"] * n_validation
    assert abs(flagged - 10 * capacity["span_periods"]) <= 1
    assert abs(capacity["validation_alerts_per_period"] - 10) <= 1 / capacity["span_periods"] + 1e-9
    text = "\n".join(lines)
    assert re.search(rf"  capacity +10 a day: alerts={capacity['alert_share']:.3%} of rows; validation "
                     rf"{capacity['validation_alerts_per_period']:,.1f} a day", text)
    assert "capacity 10 alerts a day: the validation rows arrive at 96" in text
    card = report[report.index("alert capacity"):][:400]
    assert "10 / day" in card and f"top {capacity['alert_share']:.2%} of rows" in card
    assert f"validation: {capacity['validation_alerts_per_period']:,.1f} / day" in card


def test_identifier_warning_is_in_terminal_metrics_and_report(finished):
    lines, metrics, report, _, _ = finished
    warning = next(w for w in metrics["warnings"] if w.startswith("column 'txn_id' dropped"))
    assert f"[raretune] warning: {warning}" in lines
    top = report[report.index('id="warnings"'):][:2000]
    assert warning in unescape(top)
    assert "txn_id" not in metrics["data"]["columns"]["numeric"]
