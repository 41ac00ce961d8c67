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
