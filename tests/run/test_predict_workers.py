"""Streaming predict by two tasks of a TF_CONFIG cluster on 127.0.0.1, each a real process.

Scoring needs no strategy: the two ``raretune predict`` processes never talk; each scores its
own shards into the folder they share. Every wait is bounded and every child is killed in
``finally``.
"""

import json
import os
import subprocess
import sys

import pandas as pd

import raretune
from tests.run.test_finish_workers import ROOT, _free_port


def test_two_tasks_score_their_own_shards_into_one_folder_as_one_process_would(finished, tmp_path, monkeypatch):
    run, rows = finished
    rows = rows.reset_index(drop=True).assign(id=lambda f: [f"r{i}" for i in range(len(f))])
    shards = tmp_path / "shards"
    shards.mkdir()
    sizes = {"part-0": 50, "part-1": 100, "part-2": 150}  # task 0: part-0 and part-2 (200 rows); task 1: part-1
    start = 0
    for name, size in sizes.items():
        rows.iloc[start:start + size].to_parquet(shards / f"{name}.parquet", index=False)
        start += size
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert raretune.predict(run, shards, keep=["id"], out=f"{tmp_path / 'single'}/") == 300

    cluster = {"chief": [f"127.0.0.1:{_free_port()}"], "worker": [f"127.0.0.1:{_free_port()}"]}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    children = []
    try:
        for task in ("chief", "worker"):
            tf_config = json.dumps({"cluster": cluster, "task": {"type": task, "index": 0}})
            children.append(subprocess.Popen(
                [sys.executable, "-m", "raretune", "predict", str(run), str(shards), "--id-column", "id",
                 "--out", f"{tmp_path / 'preds'}/"],
                env={**env, "TF_CONFIG": tf_config}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outputs = [child.communicate(timeout=240) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    assert all(child.returncode == 0 for child in children), "\n".join(err[-3000:] for _, err in outputs)

    # each task says what it scored: the chief parts 0 and 2, the worker part 1 (the sizes tell them apart)
    said = [[line for line in err.splitlines() if line.startswith("[raretune]")] for _, err in outputs]
    assert said[0][0].startswith("[raretune] chief:0 (task 1 of 2, 2 of 3 shards): 200 rows scored in ")
    assert said[1][0].startswith("[raretune] worker:0 (task 2 of 2, 1 of 3 shards): 100 rows scored in ")
    assert all(" rows/s) -> " in lines[0] and len(lines) == 1 for lines in said)
    names = sorted(p.name for p in (tmp_path / "preds").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "single").iterdir()) == [f"{n}.parquet" for n in sizes]
    for name, size in sizes.items():
        mine = pd.read_parquet(tmp_path / "preds" / f"{name}.parquet")
        assert len(mine) == size
        pd.testing.assert_frame_equal(mine, pd.read_parquet(tmp_path / "single" / f"{name}.parquet"),
                                      check_exact=False, atol=1e-6)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging folder left
