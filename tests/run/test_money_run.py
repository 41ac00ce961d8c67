"""--cost-column and --weight-column: bad columns are one line and exit 2; a tiny run writes money."""

import json

import numpy as np
import pytest

import raretune
from raretune.cli import main
from raretune.record import MetricsRecord
from raretune.run._row_values import take_row_columns
from raretune.run._config import RunConfig

from tests.conftest import make_frame


def _frame(n=1500, seed=3):
    frame = make_frame(n=n, positive_rate=0.08, seed=seed)
    rng = np.random.default_rng(seed)
    frame["amount"] = np.round(rng.lognormal(3, 1, n), 2)
    frame["w"] = rng.integers(1, 4, n).astype(float)
    return frame


@pytest.mark.parametrize(
    "change, args, message",
    [
        (None, ["--cost-column", "price"], "Unknown cost column 'price'; columns: a, b"),
        (None, ["--weight-column", "weights"], "Unknown weight column 'weights'"),
        ("negative_cost", ["--cost-column", "amount"], "The cost column 'amount' has 1 negative values (first at row 7)"),
        ("nan_cost", ["--cost-column", "amount"], "The cost column 'amount' has 2 missing values"),
        ("nan_weight", ["--weight-column", "w"], "The weight column 'w' has 1 missing values"),
        ("negative_weight", ["--weight-column", "w"], "The weight column 'w' has 1 negative values"),
        ("text_weight", ["--weight-column", "w"], "The weight column 'w' must hold numbers"),
        (None, ["--cost-column", "label"], "The cost column 'label' is the label column"),
        ("rising_weight", ["--weight-column", "w"], "left out as an identifier when loading; keep it with --keep w"),
    ],
)
def test_a_bad_cost_or_weight_column_is_one_line_and_status_2(change, args, message, tmp_path, capsys):
    frame = _frame(n=300)
    if change == "negative_cost":
        frame.loc[7, "amount"] = -5.0
    elif change == "nan_cost":
        frame.loc[[3, 9], "amount"] = np.nan
    elif change == "nan_weight":
        frame.loc[4, "w"] = np.nan
    elif change == "negative_weight":
        frame.loc[4, "w"] = -1.0
    elif change == "rising_weight":
        frame["w"] = np.arange(len(frame)) + 1
    elif change == "text_weight":
        frame["w"] = np.where(np.arange(len(frame)) % 2, "high", "low")
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    status = main(["run", "--data", str(path), "--target", "label", "--out", str(tmp_path / "r"), *args])
    assert status == 2
    lines = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("[raretune]")]
    assert len(lines) == 1 and lines[0].startswith("raretune: error: ") and message in lines[0], lines
    assert not (tmp_path / "r").exists()


def test_the_cost_column_stays_a_feature_unless_dropped_and_the_weight_column_never_is():
    from raretune.datasets import load_data

    frame = _frame(n=200)
    config = RunConfig(cost_column="amount", weight_column="w")
    data = load_data(frame, target="label")
    kept, _, values = take_row_columns(config, data)
    assert "amount" in kept.numeric and "w" not in kept.features.columns
    assert np.array_equal(values["data"]["cost"], frame["amount"].to_numpy())
    assert np.array_equal(values["data"]["sample_weight"], frame["w"].to_numpy())
    dropped, _, values = take_row_columns(RunConfig(cost_column="amount", drop=("amount",)), data)
    assert "amount" not in dropped.features.columns and values["data"]["sample_weight"] is None


@pytest.mark.slow
def test_a_run_with_a_cost_and_a_weight_column_writes_money(tmp_path):
    frame = _frame()
    result = raretune.run(data=frame, target="label", cost_column="amount", weight_column="w", objective="cost",
                          cost_fp=5, out=tmp_path / "r", max_trials=1, max_epochs=1, folds=1, baseline=False,
                          quiet=True, seed=0, strategies=["smote"])
    m = result.metrics
    assert m["search"]["n_failed"] == 0  # SMOTE's synthetic rows got weights
    money = m["test"]["cost"]
    for key in ("money_lost", "money_saved_vs_flag_nobody", "amount_weighted_recall", "flag_nobody_money_lost"):
        assert isinstance(money[key], float), key
    low, high = money["intervals"]["money_saved_vs_flag_nobody"]
    assert low <= money["money_saved_vs_flag_nobody"] <= high
    assert money["money_saved_vs_flag_nobody"] == pytest.approx(money["flag_nobody_money_lost"] - money["money_lost"])
    assert m["costs"]["cost_column"] == "amount" and m["costs"]["weight_column"] == "w"
    assert m["search"]["objective"]["cost_column"] == "amount" and m["threshold"]["rule"] == "cost"
    assert "amount" in m["data"]["columns"]["numeric"] and "w" not in m["data"]["columns"]["numeric"]
    assert m["test"]["weighted_n"] > m["test"]["n"]  # weights 1-3
    MetricsRecord.from_dict(json.loads((result.out / "metrics.json").read_text()))
    html = (result.out / "report.html").read_text()
    assert 'data-metric="test.cost.money_saved_vs_flag_nobody"' in html
