"""The streamed finish across two workers on 127.0.0.1: MultiWorkerMirroredStrategy from TF_CONFIG.

Each worker is a real process running the finish step (not a whole run) on its own shards;
every wait is bounded and every child is killed in ``finally``.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]

#: One worker: the strategy first (TensorFlow configures its collectives once), then the finish.
_WORKER = """
import json, sys
import numpy as np, pandas as pd
from raretune.run._finish import finish_network, finish_strategy, is_chief

strategy = finish_strategy()
import keras
from raretune.datasets import PartRule, load_data, sharded_source
from raretune.models import FeatureSchema, build_tabular_model

folder, out, mine = sys.argv[1], sys.argv[2], sys.argv[3]
sample = load_data(pd.read_parquet(folder + "/part-0.parquet"), target="label")
schema = FeatureSchema.from_data(sample)
network = build_tabular_model(schema, layers=1, units=8, dropout=0.0, seed=0)
network.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss=keras.losses.BinaryCrossentropy())
model, record = finish_network(network, sharded_source(folder).files, PartRule(salt=0), sample, schema,
                               balance={"method": "class_weight", "weights": [0.6, 3.0]}, batch_size=64,
                               epochs=2, labels="binary", seed=0, strategy=strategy)
np.savez(mine + ".npz", *model.get_weights())
json.dump({"files_read": record["files_read"], "rows_read": record["rows_read"],
           "replicas": strategy.num_replicas_in_sync}, open(mine + ".json", "w"))
if is_chief(strategy):  # the run folder is the chief's
    model.save(out + "/model.keras")
"""


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _shards(folder, n_shards=4, rows=500, seed=0):
    rng = np.random.default_rng(seed)
    for i in range(n_shards):
        y = rng.random(rows) < 0.08
        pd.DataFrame({"amount": rng.normal(size=rows) + 2.0 * y, "noise": rng.normal(size=rows),
                      "channel": rng.choice(["web", "shop", "phone"], rows),
                      "label": np.where(y, "fraud", "ok")}).to_parquet(folder / f"part-{i}.parquet")


def test_two_workers_finish_the_same_network_each_on_its_own_shards(tmp_path):
    data, out = tmp_path / "shards", tmp_path / "run"
    data.mkdir()
    out.mkdir()
    _shards(data)
    cluster = {"worker": [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    children = []
    try:
        for index in range(2):
            tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            children.append(subprocess.Popen(
                [sys.executable, "-c", _WORKER, str(data), str(out), str(tmp_path / f"worker{index}")],
                env={**env, "TF_CONFIG": tf_config}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        logs = [child.communicate(timeout=240)[0] for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    assert all(child.returncode == 0 for child in children), "\n".join(log[-3000:] for log in logs)

    records = [json.loads((tmp_path / f"worker{i}.json").read_text()) for i in range(2)]
    assert [r["replicas"] for r in records] == [2, 2]
    # auto-sharding by file: each worker read its own shards, and together every shard once
    assert records[0]["files_read"] == ["part-0.parquet", "part-2.parquet"]
    assert records[1]["files_read"] == ["part-1.parquet", "part-3.parquet"]
    weights = [np.load(tmp_path / f"worker{i}.npz") for i in range(2)]
    assert all(np.array_equal(weights[0][k], weights[1][k]) for k in weights[0].files)

    # the workers' network moved away from the weights both started from
    import keras

    from raretune.datasets import load_data
    from raretune.models import FeatureSchema, build_tabular_model

    sample = load_data(pd.read_parquet(data / "part-0.parquet"), target="label")
    start = build_tabular_model(FeatureSchema.from_data(sample), layers=1, units=8, dropout=0.0, seed=0)
    assert any(not np.allclose(a, weights[0][k]) for a, k in zip(start.get_weights(), weights[0].files))
    assert [p.name for p in out.iterdir()] == ["model.keras"]  # written once, by the chief
    saved = keras.models.load_model(out / "model.keras")
    assert all(np.array_equal(a, weights[0][k]) for a, k in zip(saved.get_weights(), weights[0].files))
