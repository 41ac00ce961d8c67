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
    # the test metrics are exact on every row of the streamed test part, not on the sample
    source, rule = sharded_source(data), PartRule(salt=0)  # the run's seed is 0
    n_test = sum(int((rule.parts(rule.keys(n, f, b), b) == 2).sum()) for n, f, b in source.batches())
    scores = np.load(result.out / "scores.npz")
    assert scores["test_y"].size == n_test == stream["scored"]["test_rows"]
    assert result.test["pr_auc"] == pytest.approx(average_precision_score(scores["test_y"], scores["test_score"]))
    assert (result.out / "model.keras").exists()


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
