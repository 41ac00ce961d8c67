"""A process's place in a TF_CONFIG cluster, read through TFConfigClusterResolver, and one task's
share of a streaming predict (in this process: no strategy is made, the tasks never talk)."""

import json
from types import SimpleNamespace

import pandas as pd
import pytest

import raretune
from raretune import ConfigError, RunStateError
from raretune.cli import main
from raretune.run._finish import finish_strategy, is_chief
from raretune.run._workers import ClusterTask, cluster_task, place, task_order

CLUSTER = {"worker": ["127.0.0.1:1", "127.0.0.1:2"], "chief": ["127.0.0.1:3"], "evaluator": ["127.0.0.1:4"]}


def _tf_config(monkeypatch, cluster, task_type=None, index=0):
    config = {"cluster": cluster, **({"task": {"type": task_type, "index": index}} if task_type else {})}
    monkeypatch.setenv("TF_CONFIG", json.dumps(config))


def test_the_chief_comes_first_then_the_workers_by_index():
    import tensorflow as tf

    spec = tf.train.ClusterSpec({"worker": {3: "h3:1", 0: "h0:1"}, "ps": ["p:1"], "chief": ["c:1"]})
    assert task_order(spec) == [("chief", 0), ("worker", 0), ("worker", 3)]
    assert place(spec, "worker", 3) == ClusterTask(2, 3, "worker", 3)
    assert place(spec, "ps", 0).index is None and place(spec, "worker", 1).index is None
    assert task_order(tf.train.ClusterSpec({"worker": ["h:1", "h:2"]})) == [("worker", 0), ("worker", 1)]


def test_cluster_task_reads_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert cluster_task() == ClusterTask(0, 1)
    _tf_config(monkeypatch, CLUSTER, "worker", 1)
    assert cluster_task() == ClusterTask(2, 3, "worker", 1)
    _tf_config(monkeypatch, CLUSTER, "chief", 0)
    assert cluster_task().index == 0
    _tf_config(monkeypatch, CLUSTER, "evaluator", 0)
    assert cluster_task() == ClusterTask(None, 3, "evaluator", 0)
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="TF_CONFIG cannot be read"):
        cluster_task()


def test_one_chief_or_worker_task_keeps_the_default_strategy(monkeypatch):
    import tensorflow as tf

    _tf_config(monkeypatch, {"worker": ["127.0.0.1:1"], "evaluator": ["127.0.0.1:2"]}, "worker", 0)
    strategy = finish_strategy()
    assert strategy is tf.distribute.get_strategy()
    assert not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


@pytest.mark.parametrize(("cluster", "task", "expected"), [
    (CLUSTER, ("chief", 0), True), (CLUSTER, ("worker", 0), False), (CLUSTER, ("evaluator", 0), False),
    ({"worker": ["h:1", "h:2"]}, ("worker", 0), True), ({"worker": ["h:1", "h:2"]}, ("worker", 1), False),
])
def test_the_first_task_writes_the_run_folder(cluster, task, expected):
    import tensorflow as tf

    resolver = SimpleNamespace(cluster_spec=lambda: tf.train.ClusterSpec(cluster), task_type=task[0], task_id=task[1])
    assert is_chief(SimpleNamespace(cluster_resolver=resolver)) is expected
    assert is_chief(tf.distribute.get_strategy()) is True  # one process


@pytest.fixture
def shards(finished, tmp_path):
    """Three Parquet shards of 50, 100 and 150 rows (sizes that tell the tasks' shares apart)."""
    rows = finished[1].reset_index(drop=True).assign(id=lambda f: [f"r{i}" for i in range(len(f))])
    folder = tmp_path / "shards"
    folder.mkdir()
    for i, (start, stop) in enumerate([(0, 50), (50, 150), (150, 300)]):
        rows.iloc[start:stop].to_parquet(folder / f"part-{i}.parquet", index=False)
    return folder


def test_each_task_writes_only_its_own_shards_as_one_process_would(finished, shards, tmp_path, monkeypatch):
    run = finished[0]
    monkeypatch.delenv("TF_CONFIG", raising=False)
    single = raretune.predict(run, shards, keep=["id"], out=f"{tmp_path / 'single'}/")
    out = f"{tmp_path / 'preds'}/"
    _tf_config(monkeypatch, CLUSTER, "worker", 0)  # task 2 of 3: the shard part-1 only
    assert raretune.predict(run, shards, keep=["id"], out=out) == 100
    assert sorted(p.name for p in (tmp_path / "preds").iterdir()) == ["part-1.parquet"]
    with pytest.raises(RunStateError, match="already holds 'part-1.parquet'"):  # its own file: not again
        raretune.predict(run, shards, keep=["id"], out=out)
    _tf_config(monkeypatch, CLUSTER, "chief", 0)  # task 1 of 3: part-0, beside the other task's file
    assert raretune.predict(run, shards, keep=["id"], out=out) == 50
    _tf_config(monkeypatch, CLUSTER, "worker", 1)
    assert raretune.predict(run, shards, keep=["id"], out=out) == 150
    names = ["part-0.parquet", "part-1.parquet", "part-2.parquet"]
    assert single == 300
    assert sorted(p.name for p in (tmp_path / "preds").iterdir()) == names
    assert sorted(p.name for p in (tmp_path / "single").iterdir()) == names
    for name in names:
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "preds" / name),
                                      pd.read_parquet(tmp_path / "single" / name), check_exact=False, atol=1e-6)


def test_a_cluster_predict_is_refused_in_one_line_without_a_folder_or_with_too_few_shards(
        finished, shards, tmp_path, monkeypatch, capsys):
    run = finished[0]
    _tf_config(monkeypatch, {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "worker", 1)
    named = "TF_CONFIG names 2 chief and worker tasks"
    for out in (["--out", "-"], [], ["--out", str(tmp_path / "p.parquet")], ["--out", str(tmp_path / "p.csv")]):
        assert main(["predict", str(run), str(shards), "--quiet", *out]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and len(captured.err.splitlines()) == 1
        assert captured.err.startswith(f"raretune: error: {named}: write to a folder")
    assert main(["predict", str(run), str(shards / "part-0.parquet"), "--out", f"{tmp_path / 'p'}/"]) == 2
    assert capsys.readouterr().err == f"raretune: error: {named} for 1 shard(s): each task needs a shard of its own.\n"
    # predictions returned to the caller share no file: every row is scored, as without a cluster
    monkeypatch.delenv("TF_CONFIG")
    alone = raretune.predict(run, shards)
    _tf_config(monkeypatch, {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "worker", 1)
    assert raretune.predict(run, shards)["score"].tolist() == alone["score"].tolist()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    with pytest.raises(RunStateError, match="already holds 'notes.txt'"):
        raretune.predict(run, shards, out=tmp_path / "other")
    _tf_config(monkeypatch, {"worker": ["127.0.0.1:1", "127.0.0.1:2"], "evaluator": ["127.0.0.1:3"]}, "evaluator", 0)
    with pytest.raises(ConfigError, match=r"this process \(evaluator:0\) is not one of them"):
        raretune.predict(run, shards, out=f"{tmp_path / 'p'}/")
    assert [p.name for p in tmp_path.iterdir() if p.name in ("p", "p.csv", "p.parquet")] == []


def test_a_task_scores_its_own_tfds_tfrecord_shards(finished, tmp_path, monkeypatch):
    import numpy as np

    from tests.datasets.test_tfrecord_shards import write_tfds

    run, rows = finished
    rows = rows.reset_index(drop=True)
    columns = {c: rows[c].to_numpy(np.float32) for c in "abcd"}
    splits = {s: {**{c: v[i * 100:(i + 1) * 100] for c, v in columns.items()},
                  "channel": rows["channel"].to_numpy(str)[i * 100:(i + 1) * 100]} for i, s in enumerate("xyz")}
    folder = write_tfds(tmp_path / "tfds", "tiny", splits)
    monkeypatch.delenv("TF_CONFIG", raising=False)
    raretune.predict(run, f"{folder}/*.tfrecord*", out=f"{tmp_path / 'single'}/")
    _tf_config(monkeypatch, {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "worker", 0)  # task 1 of 2: x and z
    assert raretune.predict(run, f"{folder}/*.tfrecord*", out=f"{tmp_path / 'preds'}/") == 200
    names = sorted(p.name for p in (tmp_path / "preds").iterdir())
    assert names == ["tiny-x-00000-of-00001.parquet", "tiny-z-00000-of-00001.parquet"]
    for name in names:
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "preds" / name),
                                      pd.read_parquet(tmp_path / "single" / name), check_exact=False, atol=1e-6)
