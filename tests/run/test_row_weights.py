"""The run's stages with a weight or cost column: leaderboard, scores.npz, evaluate."""

from __future__ import annotations

import types

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from raretune.metrics import get_objective
from raretune.run._leaderboard import chosen_row
from raretune.run._row_values import RowValues


def _part(y):
    return types.SimpleNamespace(y=np.asarray(y))


def test_the_leaderboard_pr_auc_is_weighted_by_the_parts_weights():
    rng = np.random.default_rng(0)
    y_val, y_test = (rng.random(80) < 0.3).astype(int), (rng.random(60) < 0.3).astype(int)
    raw_val, raw_test = rng.random(80), rng.random(60)
    w_val, w_test = rng.integers(1, 5, 80).astype(float), rng.integers(1, 5, 60).astype(float)
    values = RowValues({"validation": {"cost": None, "sample_weight": w_val},
                        "test": {"cost": None, "sample_weight": w_test}})
    plan = types.SimpleNamespace(objective=get_objective("pr_auc").on_rows(y_val, sample_weight=w_val))
    chosen = types.SimpleNamespace(raw=raw_val, members=[{"trial_id": "0", "strategy": "none", "weight": 1}])
    validation = _part(y_val)
    row = chosen_row(plan, chosen, validation, raw_test, _part(y_test), 1.0, values=values)
    assert row["validation_pr_auc"] == pytest.approx(average_precision_score(y_val, raw_val, sample_weight=w_val))
    assert row["test_pr_auc"] == pytest.approx(average_precision_score(y_test, raw_test, sample_weight=w_test))
    plain = chosen_row(types.SimpleNamespace(objective=get_objective("pr_auc")), chosen, validation, raw_test,
                       _part(y_test), 1.0)
    assert plain["test_pr_auc"] == pytest.approx(average_precision_score(y_test, raw_test))
    assert plain["test_pr_auc"] != pytest.approx(row["test_pr_auc"])


def test_scores_npz_keeps_the_parts_costs_and_weights(tmp_path):
    from raretune.run._write import write_scores

    y_val, y_test = np.array([0, 1, 0]), np.array([1, 0])
    values = RowValues({"validation": {"cost": np.array([1.0, 50.0, 2.0]), "sample_weight": np.array([1.0, 2, 3])},
                        "test": {"cost": np.array([7.0, 8.0]), "sample_weight": None}})
    write_scores(tmp_path, y_val, y_val * 0.5, y_val * 0.4, y_test, y_test * 0.5, y_test * 0.4, values=values)
    with np.load(tmp_path / "scores.npz") as npz:
        assert npz["validation_cost"].tolist() == [1.0, 50.0, 2.0]
        assert npz["validation_sample_weight"].tolist() == [1.0, 2.0, 3.0]
        assert npz["test_cost"].tolist() == [7.0, 8.0]
        assert "test_sample_weight" not in npz.files
    write_scores(tmp_path, y_val, y_val * 0.5, y_val * 0.4, y_test, y_test * 0.5, y_test * 0.4, values=RowValues())
    with np.load(tmp_path / "scores.npz") as npz:
        assert sorted(npz.files) == sorted(["validation_y", "validation_score", "validation_score_raw", "test_y",
                                            "test_score", "test_score_raw"])


# ----------------------------------------------------------------------------- one tiny run


def _money_frame(n, seed):
    import pandas as pd  # noqa: F401 - make_frame's frame

    from tests.conftest import make_frame

    frame = make_frame(n=n, positive_rate=0.1, seed=seed)
    rng = np.random.default_rng(seed)
    frame["amount"] = np.round(rng.lognormal(3, 1, n), 2)
    frame["w"] = rng.integers(1, 4, n).astype(float)
    return frame


@pytest.fixture(scope="module")
def money_run(tmp_path_factory):
    import raretune

    result = raretune.run(data=_money_frame(600, 5), target="label", cost_column="amount", weight_column="w",
                          threshold="cost", cost_fp=5, out=tmp_path_factory.mktemp("money") / "run", max_trials=1,
                          max_epochs=1, folds=1, baseline=False, quiet=True, seed=0, strategies=["class_weight"])
    return result.out, result.metrics


@pytest.mark.slow
def test_a_weighted_run_records_its_row_values_and_the_report_counts_them(money_run):
    import json
    import re

    from raretune.operating import cost_summary

    out, m = money_run
    with np.load(out / "scores.npz") as npz:
        arrays = dict(npz)
    assert {"validation_cost", "validation_sample_weight", "test_cost", "test_sample_weight"} <= set(arrays)
    y, score = arrays["validation_y"], arrays["validation_score"]
    t = m["threshold"]["value"]
    again = cost_summary(y, score, t, 1.0, 5.0, cost=arrays["validation_cost"],
                         sample_weight=arrays["validation_sample_weight"], n_resamples=0)
    assert again["money_lost"] == pytest.approx(m["validation"]["cost"]["money_lost"])
    assert "effective_trials" in m["test"]["decision_intervals"]["recall"]
    # the importance reads the test rows with their weights, as the test metrics do
    assert m["explanations"]["importance_on"] == "test PR-AUC, weighted"
    assert m["explanations"]["importance"][0]["baseline"] == pytest.approx(
        average_precision_score(arrays["test_y"], arrays["test_score"], sample_weight=arrays["test_sample_weight"]))
    # the explorer's data: its money at the deployed threshold is metrics.json's
    html = (out / "report.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="explorer-data">(.*?)</script>', html).group(1).replace("<\\/", "</"))
    above = np.asarray(data["scores"]) >= data["deployed"]
    lost = np.sum(np.asarray(data["miss"])[~above]) + np.sum(np.asarray(data["alarm"])[above])
    assert lost == pytest.approx(m["validation"]["cost"]["money_lost"], rel=1e-9)


@pytest.mark.slow
def test_evaluate_counts_the_batchs_money_and_weights(money_run, tmp_path):
    from raretune.metrics import score_predictions
    from raretune.operating import cost_summary
    from raretune.run._evaluate import evaluate

    out, m = money_run
    batch = _money_frame(400, 9)
    result = evaluate(out, batch, out=tmp_path / "e")
    labelled = (batch["label"] == "fraud").astype(int).to_numpy()
    score = _scores(out, batch)
    t = m["threshold"]["value"]
    weighted = score_predictions(labelled, score, threshold=t, sample_weight=batch["w"].to_numpy())
    assert result["metrics"]["pr_auc"] == pytest.approx(weighted["pr_auc"])
    assert np.allclose(result["metrics"]["confusion_matrix"], weighted["confusion_matrix"])
    money = cost_summary(labelled, score, t, 1.0, 5.0, cost=batch["amount"].to_numpy(),
                         sample_weight=batch["w"].to_numpy(), n_resamples=0)
    assert result["metrics"]["cost"]["money_lost"] == pytest.approx(money["money_lost"])
    assert result["metrics"]["cost"]["money_saved_vs_flag_nobody"] == pytest.approx(money["money_saved_vs_flag_nobody"])
    assert result["row_columns"] == {"cost_column": "amount", "weight_column": "w"}


def _scores(out, batch):
    import raretune

    return raretune.predict(out, batch)["score"].to_numpy(dtype=float)


@pytest.mark.slow
def test_evaluate_refuses_a_batch_without_the_weight_column_in_one_line(money_run, tmp_path, capsys):
    from raretune.cli import main

    out, _ = money_run
    path = tmp_path / "batch.csv"
    _money_frame(200, 11).drop(columns=["w"]).to_csv(path, index=False)
    status = main(["evaluate", str(out), str(path), "--out", str(tmp_path / "e")])
    assert status == 2
    lines = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("[raretune]")]
    assert len(lines) == 1 and "trained with --weight-column 'w'" in lines[0] and "no column 'w'" in lines[0], lines
    assert not (tmp_path / "e").exists()


def test_evaluate_reads_the_columns_from_tables_only():
    from raretune import ConfigError, DataError
    from raretune.run._evaluate import _check_batch_columns

    import pandas as pd

    with pytest.raises(ConfigError, match="from a table"):
        _check_batch_columns(np.zeros((3, 2)), {"cost_column": "amount"}, "an array")
    with pytest.raises(DataError, match="--cost-column 'amount', but rows has no column 'amount'"):
        _check_batch_columns(pd.DataFrame({"w": [1.0]}), {"weight_column": "w", "cost_column": "amount"}, "rows")
    _check_batch_columns(pd.DataFrame({"w": [1.0]}), {}, "rows")  # a run without the columns reads none
