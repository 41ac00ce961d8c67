"""``--threshold capacity=N/PERIOD``: an analysts' capacity becomes an alert share, measured in time."""

import numpy as np
import pandas as pd
import pytest

from raretune import ConfigError, DataError, RunConfig
from raretune.datasets import load_data
from raretune.run._decide import decide
from raretune.run._modality import modality_of
from raretune.run._plan import make_plan, resolve_capacity, split_data
from raretune.thresholds import capacity_share

from tests.conftest import make_frame

#: One row every ten minutes: 144 rows a day.
STEP = pd.Timedelta(minutes=10)


def _timed(n=2000):
    frame = make_frame(n=n, positive_rate=0.08, seed=3)
    frame["when"] = pd.Timestamp("2026-03-01") + STEP * np.arange(n)
    return frame


def _plan(frame, threshold, **options):
    config = RunConfig(data=frame, target="label", time_column="when", threshold=threshold,
                       **{"folds": 1, **options}).validated()
    data = load_data(frame, target="label", keep=("when",))
    split = split_data(config, data)
    return resolve_capacity(make_plan(config, modality_of(data), split), data, split), data, split


def test_capacity_share_of_rows_with_a_known_span():
    times = np.arange(1000) * 864.0  # 1000 rows over 999 * 864 s = 9.99 days
    out = capacity_share(20, "day", times)
    assert out["span_periods"] == pytest.approx(9.99)
    assert out["rows_per_period"] == pytest.approx(1000 / 9.99)
    assert out["alert_share"] == pytest.approx(20 * 9.99 / 1000)
    week = capacity_share(20, "week", times)
    assert week["alert_share"] == pytest.approx(out["alert_share"] / 7)
    assert capacity_share(1, "hour", times)["alert_share"] == pytest.approx(24 * 9.99 / 1000)
    assert capacity_share(300, "month", times)["alert_share"] == pytest.approx(300 * 9.99 / (365.2425 / 12) / 1000)


@pytest.mark.parametrize("times, message", [
    (np.zeros(50), "share one time"),
    (np.array([5.0]), "share one time"),
    (np.arange(100) * 3600.0, "covers every row"),  # 24 rows a day, capacity 30 a day
])
def test_capacity_share_refuses_in_one_line(times, message):
    with pytest.raises(DataError, match=message) as info:
        capacity_share(30, "day", times)
    assert "\n" not in str(info.value)


def test_capacity_needs_a_time_column():
    with pytest.raises(ConfigError, match="needs --time-column") as info:
        RunConfig(threshold="capacity=200/day").validated()
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="alerts per period"):
        RunConfig(threshold="capacity=200/fortnight", time_column="when").validated()


def test_capacity_flags_n_per_period_of_validation_within_one_row():
    frame = _timed()
    plan, data, split = _plan(frame, "capacity=20/day")
    rows = split.indices["validation"]
    span_days = (frame["when"].iloc[rows].max() - frame["when"].iloc[rows].min()) / pd.Timedelta(days=1)
    assert span_days == pytest.approx((len(rows) - 1) * 10 / 1440)  # 300 rows, ten minutes apart
    expected_share = 20 * span_days / len(rows)
    assert plan.threshold == ("alerts", pytest.approx(expected_share))
    assert plan.capacity["period"] == "day" and plan.capacity["alerts"] == 20
    assert any("capacity 20 alerts a day" in note for note in plan.notes)

    raw = np.random.default_rng(0).random(split.validation.n_rows)
    decision = decide(plan, split.validation.y, raw, None)
    flagged = int((decision.scores(raw) >= decision.threshold).sum())
    assert abs(flagged - 20 * span_days) <= 1  # N alerts a day over the validation days, within one row
    record = decision.threshold_record()
    assert record["rule"] == "alerts" and record["capacity"]["alert_share"] == pytest.approx(expected_share)
    per_day = record["capacity"]["validation_alerts_per_period"]
    assert per_day == pytest.approx(flagged / len(rows) * len(rows) / span_days)
    assert abs(per_day * span_days - 20 * span_days) <= 1


def test_cross_fitted_runs_count_the_rows_scored_out_of_fold():
    plan, _, split = _plan(_timed(), "capacity=20/day", folds=3)
    assert plan.cross_fitted
    rows = split.train.n_rows + split.validation.n_rows  # the threshold is chosen on all of them
    assert plan.capacity["n_rows"] == rows
    assert plan.capacity["rows_per_period"] == pytest.approx(144, rel=0.01)  # one row every ten minutes


def test_other_rules_leave_the_plan_alone():
    plan, _, _ = _plan(_timed(600), "alerts=1%")
    assert plan.threshold == ("alerts", 0.01) and plan.capacity is None


def test_capacity_above_the_validation_rows_is_refused():
    with pytest.raises(DataError, match="covers every row"):
        _plan(_timed(), "capacity=1000/day")  # 144 rows a day


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_dates_are_seconds_since_1970_whatever_their_unit(unit):
    # pandas 3 reads CSV dates in microseconds; a gap or a capacity is measured in seconds
    when = pd.Series(pd.to_datetime(["2026-01-01", "2026-01-02"])).dt.as_unit(unit)
    frame = pd.DataFrame({"when": when, "x": [0.0, 1.0], "y": [0, 1]})
    seconds = load_data(frame, target="y", keep=("when",)).features["when"].to_numpy()
    assert seconds.tolist() == [1767225600.0, 1767312000.0]
