"""``raretune run --finish-epochs`` across a chief and a worker on 127.0.0.1 (TF_CONFIG).

The chief runs a whole tiny streamed run; the worker runs ``raretune finish-worker RUN`` and
joins the finish. Every wait is bounded and every child is killed in ``finally``.
"""

import json
import os
import subprocess
import sys

import pytest

from tests.run.test_finish_workers import ROOT, _free_port, _shards


def test_a_worker_joins_the_chiefs_finish_each_reading_its_own_shards(tmp_path):
    data, out = tmp_path / "shards", tmp_path / "run"
    data.mkdir()
    _shards(data, n_shards=4, rows=300)
    cluster = {"chief": [f"127.0.0.1:{_free_port()}"], "worker": [f"127.0.0.1:{_free_port()}"]}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    commands = {
        "chief": ["run", "--data", str(data), "--target", "label", "--out", str(out), "--finish-epochs", "1",
                  "--max-trials", "1", "--max-epochs", "1", "--strategies", "class_weight", "--no-baseline",
                  "--no-report", "--memory-budget", "40KB", "--quiet"],
        "worker": ["finish-worker", str(out)],
    }
    children = []
    try:
        for task, argv in commands.items():
            tf_config = json.dumps({"cluster": cluster, "task": {"type": task, "index": 0}})
            children.append(subprocess.Popen([sys.executable, "-m", "raretune", *argv],
                                             env={**env, "TF_CONFIG": tf_config}, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE, text=True))
        outputs = [child.communicate(timeout=400) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    assert all(child.returncode == 0 for child in children), "\n".join(err[-3000:] for _, err in outputs)

    stream = json.loads((out / "stream.json").read_text())
    (member,) = stream["finish"]["members"]
    assert member["balance"]["method"] == "class_weight" and member["weight_change"] > 0
    assert member["files_read"] == ["part-0.parquet", "part-2.parquet"]  # the chief's own shards
    (line,) = outputs[1][0].splitlines()  # the worker read the others
    assert line.startswith("finished network 0: ") and " rows of part-1.parquet, part-3.parquet in " in line
    assert (out / "model.keras").is_file() and not (tmp_path / ".run.finish").exists()


def test_finish_worker_needs_a_cluster_and_the_chief_a_run_folder(tmp_path, monkeypatch, capsys):
    from raretune import ConfigError
    from raretune.cli import main
    from raretune.run._finish_cluster import finish_in_cluster

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert main(["finish-worker", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == ("raretune: error: finish-worker runs in a cluster: TF_CONFIG must name at least "
                                       "two chief and worker tasks.\n")
    with pytest.raises(ConfigError, match="needs --out: the workers find the run by its folder"):
        finish_in_cluster(None, [], None, ["ok", "fraud"], "label", None, [])
