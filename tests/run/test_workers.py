"""A process's place in a TF_CONFIG cluster, read through TFConfigClusterResolver."""

import json
from types import SimpleNamespace

import pytest

from raretune import ConfigError
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
