"""The streamed finish: the chosen networks trained on over every training row of the shards."""

import json

import numpy as np
import pandas as pd
import pytest

import raretune
from raretune import ConfigError
from raretune.cli import main
from raretune.datasets import PartRule, load_data, sharded_source
from raretune.run import RunConfig
from raretune.run._finish import finish_balance, finish_network
from raretune.run._finish_data import TrainingShards, finish_steps


def _shards(folder, n_shards=2, rows=600, seed=0, channel=True):
    rng = np.random.default_rng(seed)
    for i in range(n_shards):
        y = rng.random(rows) < 0.08
        frame = {"amount": rng.normal(size=rows) + 2.0 * y, "noise": rng.normal(size=rows)}
        if channel:
            frame["channel"] = rng.choice(["web", "shop", "phone"], rows)
        frame["label"] = np.where(y, "fraud", "ok")
        pd.DataFrame(frame).to_parquet(folder / f"part-{i}.parquet")


def _training_rows(folder, rule):
    """Labels of the training part, counted the long way (every row, all at once)."""
    labels = []
    for name, first, frame in sharded_source(folder).batches():
        labels.append(frame["label"].to_numpy()[rule.parts(rule.keys(name, first, frame), frame) == 0])
    return np.concatenate(labels)


def _network(sample):
    import keras

    from raretune.models import FeatureSchema, build_tabular_model

    schema = FeatureSchema.from_data(sample)
    model = build_tabular_model(schema, layers=1, units=8, dropout=0.0, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss=keras.losses.BinaryCrossentropy())
    return schema, model


def test_each_remedy_keeps_its_prior():
    counts = [900, 100]  # a 10 % positive share in the full training part
    assert finish_balance("class_weight", {}, 0.5, counts, numeric_only=True) == {
        "method": "class_weight", "weights": [0.5 / 0.9, 0.5 / 0.1]}
    assert finish_balance("random_over", {}, 0.25, counts, numeric_only=True) == {"method": "random", "ratio": 1 / 3}
    assert finish_balance("smote", {"smote_k": 3}, 0.5, counts, numeric_only=True) == {
        "method": "smote", "ratio": 1.0, "k_neighbors": 3}
    # SMOTE interpolates rows: with a categorical input its points become copies
    assert finish_balance("smote", {"smote_k": 3}, 0.5, counts, numeric_only=False)["method"] == "random"
    assert finish_balance("random_under", {}, 0.5, counts, numeric_only=True) == {"method": "undersample", "ratio": 1.0}
    assert finish_balance("focal", {}, None, counts, numeric_only=True) == {"method": "natural"}
    assert finish_balance("none", {}, 0.05, counts, numeric_only=True) == {"method": "natural"}  # below the data's share
    assert finish_balance("balanced_bagging", {}, 0.5, counts, numeric_only=True) == {"method": "kept"}
    three = finish_balance("random_over", {}, [0.4, 0.3, 0.3], [800, 100, 100], numeric_only=True)
    assert three["method"] == "class_weight" and np.allclose(three["weights"], [0.5, 3.0, 3.0])


def test_training_shards_read_record_batches_of_the_training_part_only(tmp_path):
    _shards(tmp_path)
    rule = PartRule(salt=0)
    sample = load_data(pd.read_parquet(tmp_path / "part-0.parquet"), target="label")
    reader = TrainingShards(sharded_source(tmp_path).files, rule, sample, None, read_batch=100)
    sizes, labels = [], []
    for features, y in reader.frames():
        sizes.append(len(y))
        labels.append(np.asarray(sample.classes)[y])
    expected = _training_rows(tmp_path, rule)
    assert max(sizes) <= 100 and reader.batches_read == len(sizes) >= 12  # 1200 rows, never more than 100 at a time
    assert reader.rows_read == expected.size == sum(sizes)
    assert sorted(np.concatenate(labels)) == sorted(expected)
    assert reader.files_read == {"part-0.parquet", "part-1.parquet"}


@pytest.mark.parametrize("balance", [{"method": "random", "ratio": 0.5}, {"method": "class_weight", "weights": [0.6, 3.0]},
                                     {"method": "undersample", "ratio": 0.5}])
def test_finish_changes_the_weights_and_streams_every_training_row(tmp_path, balance):
    _shards(tmp_path)
    rule = PartRule(salt=0)
    sample = load_data(pd.read_parquet(tmp_path / "part-0.parquet"), target="label")
    schema, network = _network(sample)
    before = [w.copy() for w in network.get_weights()]
    files = sharded_source(tmp_path).files
    labels = _training_rows(tmp_path, rule)
    counts = [int(np.sum(labels == "ok")), int(np.sum(labels == "fraud"))]
    steps = finish_steps(balance, counts, epochs=2, batch_size=64)
    finished, record = finish_network(network, files, rule, sample, schema, balance=dict(balance), batch_size=64,
                                      epochs=2, labels="binary", seed=0, steps=steps)
    n_train = labels.size
    passes = 2 + (balance["method"] != "class_weight")  # the rebalancer counts the positives in a pass of its own
    assert record["rows_read"] == passes * n_train
    assert record["files_read"] == ["part-0.parquet", "part-1.parquet"]
    # the steps foreseen from the class counts are those taken (up to a last short batch per epoch),
    # so the learning rate ends annealed to 1 % of the trial's
    assert abs(record["steps"] - steps) <= 2
    assert record["learning_rate"]["first"] == pytest.approx(0.01)
    assert record["learning_rate"]["last"] == pytest.approx(0.01 * 0.01, rel=0.05)
    assert any(not np.allclose(a, b) for a, b in zip(before, finished.get_weights()))
    assert record["weight_change"] > 0
    assert all(np.array_equal(a, b) for a, b in zip(before, network.get_weights()))  # the searched network is kept
    from raretune.models import predict_proba

    scores = predict_proba(finished, schema.inputs(sample.features))
    assert np.isfinite(scores).all() and scores.shape == (sample.n_rows,)


def test_finish_without_foreseen_steps_keeps_the_trials_rate(tmp_path):
    _shards(tmp_path, n_shards=1)
    rule = PartRule(salt=0)
    sample = load_data(pd.read_parquet(tmp_path / "part-0.parquet"), target="label")
    schema, network = _network(sample)
    _, record = finish_network(network, sharded_source(tmp_path).files, rule, sample, schema,
                               balance={"method": "natural"}, batch_size=64, epochs=1, labels="binary", seed=0)
    assert record["learning_rate"] == {"first": pytest.approx(0.01), "last": pytest.approx(0.01)}


def test_finish_is_refused_without_sharded_data(tmp_path, capsys):
    with pytest.raises(ConfigError, match="--finish-epochs applies to sharded data"):
        RunConfig(data="rows.csv", finish_epochs=2).validated()
    with pytest.raises(ConfigError, match="finish_epochs"):
        RunConfig(data=str(tmp_path), target="label", finish_epochs=-1).validated()
    assert main(["run", "--data", "rows.csv", "--finish-epochs", "2", "--out", str(tmp_path / "run")]) == 2
    assert "--finish-epochs applies to sharded data" in capsys.readouterr().err
    config = tmp_path / "run.toml"
    config.write_text("[run]\nfinish-epochs = 3\n")
    from raretune.cli._config_file import read_toml

    assert read_toml(config) == {"finish_epochs": 3}


def test_streamed_run_finishes_its_networks_on_every_training_row(tmp_path):
    data = tmp_path / "shards"
    data.mkdir()
    _shards(data, n_shards=3, rows=800)
    result = raretune.run(data=str(data), target="label", out=tmp_path / "run", max_trials=1, max_epochs=1,
                          strategies=("class_weight",), baseline=False, report=False, memory_budget="60KB",
                          finish_epochs=2, quiet=True)
    stream = json.loads((result.out / "stream.json").read_text())
    assert stream["n_kept"] < stream["n_rows"] == 2400
    finish = stream["finish"]
    (member,) = finish["members"]
    n_train = _training_rows(data, PartRule(salt=0)).size
    assert finish["epochs"] == 2 and member["balance"]["method"] == "class_weight"
    assert member["weight_change"] > 0  # the saved network is not the searched one
    assert member["rows_read"] == 2 * n_train > stream["n_kept"]  # every training row, not the sample's
    assert result.metrics["timing"]["finish"] > 0
    assert stream["scored"]["test_rows"] > 0 and (result.out / "model.keras").exists()
