"""The streamed run on sharded Parquet: options, the sampling correction, one tiny end-to-end run."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

import raretune
from raretune import ConfigError
from raretune.datasets import PartRule, sharded_source
from raretune.prevalence import adjust_prevalence
from raretune.run import RunConfig


def _shards(folder, n_shards=3, rows=1200, seed=0):
    rng = np.random.default_rng(seed)
    for i in range(n_shards):
        y = rng.random(rows) < 0.05
        pd.DataFrame({
            "amount": rng.normal(size=rows) + 2.0 * y,
            "channel": rng.choice(["web", "shop", "phone"], rows),
            "noise": rng.normal(size=rows),
            "label": np.where(y, "fraud", "ok"),
        }).to_parquet(folder / f"part-{i}.parquet")


def test_streamed_options_are_checked(tmp_path):
    _shards(tmp_path, n_shards=1, rows=50)
    with pytest.raises(ConfigError, match="--folds"):
        RunConfig(data=str(tmp_path), target="label", folds=5).validated()
    with pytest.raises(ConfigError, match="--target"):
        RunConfig(data=str(tmp_path)).validated()
    with pytest.raises(ConfigError, match="--group-column"):
        RunConfig(data=str(tmp_path), target="label", group_column="channel").validated()
    with pytest.raises(ConfigError, match="sharded data"):
        RunConfig(data="rows.csv", memory_budget="1GiB").validated()
    assert RunConfig(data=str(tmp_path / "*.parquet"), target="label").validated().folds == 1


def test_sampling_correction_is_the_prior_shift_of_the_sample():
    """He et al.'s q = p / (p + (1 - p) / w) is the prior shift from the sample's positive share
    to the data's, which the run's calibration applies (fitted on the full validation part)."""
    n_pos, n_neg, rate = 40, 100_000, 0.02
    p = np.linspace(0.0, 1.0, 11)
    closed_form = p / (p + (1 - p) / rate)
    shifted = adjust_prevalence(p, train_prevalence=n_pos / (n_pos + rate * n_neg),
                                new_prevalence=n_pos / (n_pos + n_neg))
    assert np.allclose(shifted, closed_form, rtol=1e-12, atol=0)


def test_tiny_streamed_run_tests_on_every_streamed_test_row(tmp_path):
    data = tmp_path / "shards"
    data.mkdir()
    _shards(data)
    result = raretune.run(data=str(data), target="label", out=tmp_path / "run", max_trials=1, max_epochs=1,
                          strategies=("class_weight",), baseline=False, report=False, memory_budget="150KB",
                          quiet=True)
    stream = json.loads((result.out / "stream.json").read_text())
    assert stream["n_rows"] == 3600 and 0 < stream["rate"] < 1
    assert stream["n_kept"] < 3600
    # the balance reported is the data's, read by the pass, not the sample's
    assert result.metrics["data"]["class_counts"] == stream["class_counts"]
    assert result.metrics["data"]["positive_rate"] == pytest.approx(stream["class_counts"]["fraud"] / 3600)
    # the test metrics are exact on every row of the streamed test part, not on the sample
    source, rule = sharded_source(data), PartRule(salt=0)  # the run's seed is 0
    n_test = sum(int((rule.parts(rule.keys(n, f, b), b) == 2).sum()) for n, f, b in source.batches())
    scores = np.load(result.out / "scores.npz")
    assert scores["test_y"].size == n_test == stream["scored"]["test_rows"]
    assert scores["test_score_raw"].dtype == np.float32 and scores["test_y"].dtype == np.int8  # 5 bytes a row
    assert result.test["pr_auc"] == pytest.approx(average_precision_score(scores["test_y"], scores["test_score"]))
    assert (result.out / "model.keras").exists()
    # the importance shuffles the sample's test rows, weighted back to the data's balance
    explanations = result.metrics["explanations"]
    assert explanations["importance_on"] == "test PR-AUC, weighted"
    # (here 0.33 against the full test part's 0.37; unweighted, the sample's 0.55)
    assert abs(explanations["importance"][0]["baseline"] - result.test["pr_auc"]) < 0.1
    # so does the leaderboard: the chosen model's row estimates the test block's PR-AUC
    chosen = next(row for row in result.metrics["leaderboard"] if row["kind"] == "chosen")
    assert abs(chosen["test_pr_auc"] - result.test["pr_auc"]) < 0.1
    # and so does the search's own score of the sample's validation rows (one trial: the chosen
    # model), which estimates the full validation part's PR-AUC (here 0.15 off unweighted)
    full_validation = average_precision_score(scores["validation_y"], scores["validation_score_raw"])
    assert abs(chosen["validation_score"] - full_validation) < 0.1


def test_tiny_streamed_run_and_predict_on_tfds_tfrecord_shards(tmp_path, capsys):
    from raretune.cli import main
    from raretune.datasets._tfds import read_tfds
    from tests.datasets.test_tfrecord_shards import write_tfds

    rng = np.random.default_rng(0)
    splits = {}
    for split in ("a", "b", "c"):  # one TFRecord shard per split
        y = rng.random(1200) < 0.05
        splits[split] = pd.DataFrame({"amount": (rng.normal(size=1200) + 2.0 * y).astype(np.float32),
                                      "channel": rng.choice(["web", "shop", "phone"], 1200),
                                      "label": np.where(y, "fraud", "ok")})
    folder = write_tfds(tmp_path / "tfds", "tiny", splits)
    result = raretune.run(data=str(folder), target="label", out=tmp_path / "run", max_trials=1, max_epochs=1,
                          strategies=("class_weight",), baseline=False, report=False, memory_budget="150KB",
                          quiet=True)
    stream = json.loads((result.out / "stream.json").read_text())
    assert stream["n_rows"] == 3600 and 0 < stream["rate"] < 1
    source, rule = sharded_source(folder), PartRule(salt=0)
    n_test = sum(int((rule.parts(rule.keys(n, f, b), b) == 2).sum()) for n, f, b in source.batches())
    assert np.load(result.out / "scores.npz")["test_y"].size == n_test == stream["scored"]["test_rows"]

    assert main(["predict", str(result.out), f"{folder}/*.tfrecord*", "--out", f"{tmp_path}/preds/",
                 "--batch-rows", "500"]) == 0, capsys.readouterr().err
    names = sorted(p.name for p in (tmp_path / "preds").iterdir())
    assert names == [f"tiny-{s}-00000-of-00001.parquet" for s in "abc"]
    streamed = pd.concat([pd.read_parquet(tmp_path / "preds" / name) for name in names], ignore_index=True)
    # TFDS shuffled the rows as it wrote them: the in-memory reader gives each shard's order
    rows = pd.concat([read_tfds(f"tfds:tiny:{s}", data_dir=tmp_path / "tfds").frame for s in "abc"], ignore_index=True)
    in_memory = raretune.predict(result.out, rows)
    np.testing.assert_allclose(streamed["score"], in_memory["score"], rtol=1e-6)
    assert streamed["prediction"].tolist() == in_memory["prediction"].tolist()


@pytest.mark.parametrize("capacity", [None, 0, 7, 10, 25])
def test_held_out_rows_are_kept_in_order_whatever_the_pass_counted(capacity):
    """Allocated at the pass's count; joined from chunks without one, or past it (changed shards)."""
    from raretune.run._streamed import _Kept

    rng = np.random.default_rng(capacity)
    batches = [(rng.integers(0, 2, n), rng.random(n)) for n in (4, 0, 3, 3)]  # 10 rows in all
    kept = _Kept(capacity, np.int8, np.float32)
    for y, raw in batches:
        kept.add(y, raw)
    y, raw = kept.arrays()
    assert np.array_equal(y, np.concatenate([b[0] for b in batches])) and y.dtype == np.int8
    assert np.array_equal(raw, np.concatenate([b[1] for b in batches]).astype(np.float32)) and raw.dtype == np.float32
    if capacity is not None and capacity >= 10:
        assert kept.chunks == []  # written in place: no chunk to join


def test_the_positive_class_is_the_data_s_rarer_one_even_where_the_sample_holds_more_of_it(tmp_path):
    """Every fraud is kept and the others sampled: in the sample the frauds may be the majority."""
    from raretune.run._streamed import load_streamed, rarer_class

    assert rarer_class({0: 99_700_000, 1: 300_000}) == "1"  # a label name, as load_data takes it
    assert rarer_class({"ok": 5, "fraud": 5}) == "ok"  # a tie: the later name, as load_data
    assert rarer_class({"10": 5, "9": 5}) == "10" and rarer_class({0: 1, 1: 2, 2: 3}) is None

    rng = np.random.default_rng(0)
    n = 4000
    y = rng.random(n) < 0.04
    pd.DataFrame({"x": rng.normal(size=n) + 2.0 * y, "label": np.where(y, "fraud", "ok")}).to_parquet(
        tmp_path / "part-0.parquet")
    config = RunConfig(data=str(tmp_path), target="label", memory_budget="9KB").validated()
    result, sample = load_streamed(config)
    counts = dict(zip(sample.classes, np.bincount(sample.y)))
    assert counts["fraud"] > counts["ok"]  # the sample's majority ...
    assert sample.classes[1] == "fraud"  # ... is still the positive class
