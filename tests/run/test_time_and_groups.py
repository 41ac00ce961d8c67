"""Out-of-time and per-entity runs: the parts and folds on record respect time and groups."""

import numpy as np
import pandas as pd
import pytest

import raretune
from raretune import ConfigError

from tests.conftest import make_frame

pytestmark = pytest.mark.slow

# the parts and folds are what is tested: no converged candidate family beside the trials
TINY = dict(max_trials=2, max_epochs=1, baseline=False, refit=False, linear=False, trees=False, forests=False,
            smote_linear=False, knn=False, quiet=True, seed=0)


@pytest.fixture(scope="module")
def transactions():
    frame = make_frame(n=1600, positive_rate=0.08, seed=21)
    rng = np.random.default_rng(0)
    frame["customer"] = [f"c{i}" for i in rng.integers(0, 300, size=len(frame))]
    frame["when"] = pd.Timestamp("2026-01-01") + pd.to_timedelta(np.sort(rng.uniform(0, 180, len(frame))), unit="D")
    return frame


def test_out_of_time_run_with_grouped_folds(transactions, tmp_path):
    result = raretune.run(data=transactions, target="label", out=tmp_path / "t", time_column="when",
                          group_column="customer", gap="7d", folds=3, **TINY)
    record = pd.read_parquet(result.out / "split.parquet")
    when = transactions["when"].to_numpy()[record["row"]]
    train_end = when[record["part"].to_numpy() == "train"].max()
    later = record["part"].isin(["validation", "test"]).to_numpy()
    assert (when[later] > train_end + np.timedelta64(7, "D")).all()
    assert (record["part"] == "gap").any()  # rows inside the gap are left out
    # folds: every customer of the search rows sits in one fold
    search = record[record["fold"] >= 0]
    customers = transactions["customer"].to_numpy()[search["row"]]
    assert (pd.Series(search["fold"].to_numpy()).groupby(customers).nunique() == 1).all()
    assert result.metrics["data"]["columns"]["categorical"] == ["channel"]  # time and group are not features


def test_grouped_split_keeps_customers_whole(transactions, tmp_path):
    result = raretune.run(data=transactions.drop(columns=["when"]), target="label", out=tmp_path / "g",
                          group_column="customer", folds=1, **TINY)
    record = pd.read_parquet(result.out / "split.parquet")
    customers = transactions["customer"].to_numpy()[record["row"]]
    assert (pd.Series(record["part"].astype(str).to_numpy()).groupby(customers).nunique() == 1).all()


def test_gap_without_time_is_refused(transactions, tmp_path):
    with pytest.raises(ConfigError, match="--gap needs --time-column"):
        raretune.run(data=transactions, target="label", out=tmp_path / "x", gap="7d", **TINY)
