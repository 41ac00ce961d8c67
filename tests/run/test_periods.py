"""Test metrics per period of an out-of-time run: the stage, metrics.json and the report."""

import json

import numpy as np
import pandas as pd
import pytest

import raretune
from raretune.datasets import load_data, time_split
from raretune.report import write_report
from raretune.run import RunConfig
from raretune.run._periods import period_metrics, periods_of

from tests.conftest import make_frame

DAY = 86_400
JAN_1 = 1_767_225_600  # 2026-01-01, a Thursday


def test_weeks_scored_at_the_threshold_with_undefined_when_no_positive():
    # 3 weeks: Thu 1 Jan to Sun 4 Jan, 5 to 11 Jan, 12 to 18 Jan (one row a day)
    times = JAN_1 + DAY * np.arange(18)
    positive = np.zeros(18, bool)
    positive[[0, 2, 14, 15]] = True  # week 1: rows 0, 2; week 2: none; week 3: rows 14, 15
    score = np.full(18, 0.1)
    score[[0, 1, 14]] = [0.9, 0.8, 0.7]  # week 1: ranks 0 first, 1 (negative), 2 last
    out = periods_of(times, positive, score, 0.5)
    assert out["unit"] == "week"
    first, second, third = out["periods"]
    assert [p["label"] for p in out["periods"]] == ["2025-12-29", "2026-01-05", "2026-01-12"]
    assert (first["rows"], second["rows"], third["rows"]) == (4, 7, 7)
    assert first["start"] == JAN_1 - 3 * DAY and first["end"] == second["start"]
    # week 1: ranking 0 (+), 1 (-), then 2 (+) and 3 (-) tied: AP = 1/2 * 1 + 1/2 * 2/4
    assert first["pr_auc"] == pytest.approx(0.75)
    assert first["recall"] == 0.5 and first["precision"] == 0.5 and first["alert_rate"] == 0.5
    # week 2: no positive, so PR-AUC and recall are undefined (None), not 0; no alert: no precision
    assert second["positives"] == 0 and second["pr_auc"] is None and second["recall"] is None
    assert second["precision"] is None and second["alert_rate"] == 0.0
    # week 3: row 14 first, then row 15 tied with the five negatives
    assert third["pr_auc"] == pytest.approx(0.5 + 0.5 * 2 / 7) and third["recall"] == 0.5
    assert third["positive_rate"] == pytest.approx(2 / 7)


@pytest.mark.parametrize(("days", "unit", "n"), [(10, "day", 10), (60, "week", 9), (150, "month", 5)])
def test_the_unit_follows_the_span(days, unit, n):
    times = JAN_1 + DAY * np.arange(days)
    out = periods_of(times, np.arange(days) % 3 == 0, np.linspace(0, 1, days), 0.5)
    assert out["unit"] == unit and len(out["periods"]) == n
    assert sum(p["rows"] for p in out["periods"]) == days


def test_plain_numbers_are_cut_into_equal_intervals_and_dates_can_be_forced():
    out = periods_of(np.arange(16.0), np.arange(16) % 2 == 0, np.linspace(0, 1, 16), 0.5)
    assert out["unit"] == "interval" and [p["rows"] for p in out["periods"]] == [2] * 8
    assert periods_of(np.arange(10.0) * DAY, np.ones(10, bool), np.ones(10), 0.5, dates=True)["unit"] == "day"


def test_stage_scores_the_test_rows_of_a_time_split():
    frame = make_frame(n=400, positive_rate=0.2, seed=3)
    frame["when"] = pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(400) * 0.5, unit="D")
    data = load_data(frame, target="label", keep=("when",))
    split = time_split(data, time_column="when", validation_size=0.2, test_size=0.3)
    score = np.linspace(0, 1, split.test.n_rows)
    config = RunConfig(data=frame, target="label", time_column="when")
    out = period_metrics(config, data, None, split, score, 0.5)
    assert out["column"] == "when" and out["unit"] == "week" and out["threshold"] == 0.5
    assert sum(p["rows"] for p in out["periods"]) == split.test.n_rows == 120
    assert sum(p["positives"] for p in out["periods"]) == int(split.test.y.sum())
    # the latest test rows score highest here: every alert falls in the last weeks
    assert out["periods"][0]["alert_rate"] == 0.0 and out["periods"][-1]["alert_rate"] == 1.0
    assert period_metrics(RunConfig(data=frame, target="label"), data, None, split, score, 0.5) is None


@pytest.mark.slow
def test_out_of_time_run_records_and_reports_per_period(tmp_path):
    frame = make_frame(n=900, positive_rate=0.1, seed=5)
    frame["when"] = pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(900) * 0.2, unit="D")
    result = raretune.run(data=frame, target="label", out=tmp_path / "r", time_column="when", folds=1,
                          max_trials=1, max_epochs=1, baseline=False, refit=False, linear=False, trees=False,
                          forests=False, smote_linear=False, knn=False, quiet=True, seed=0)
    per_period = json.loads((result.out / "metrics.json").read_text())["per_period"]
    assert per_period["unit"] == "week" and per_period["threshold"] == result.metrics["threshold"]["value"]
    assert sum(p["rows"] for p in per_period["periods"]) == result.metrics["data"]["n_test"]
    # no positives in a period: the report says undefined where the record has null
    record = json.loads((result.out / "metrics.json").read_text())
    record["per_period"]["periods"][0].update(positives=0, pr_auc=None, recall=None)
    (result.out / "metrics.json").write_text(json.dumps(record))
    html = write_report(result.out).read_text()
    assert 'id="periods"' in html and 'href="#periods"' in html
    assert "undefined" in html and 'data-metric="per_period.periods.0.pr_auc"' not in html
    assert 'data-metric="per_period.periods.1.rows"' in html
