"""Streaming ``raretune predict`` over Parquet shards vs ``model.predict`` on the same rows in memory.

The script writes ``--rows`` rows of the default data's columns (``synthetic_fraud``: 13
numbers, 3 categories, the label) as Parquet shards into a temporary folder, trains a small
run on 10,000 other rows (both kept for reruns), then measures each path in a fresh
subprocess, so that the peak resident memory (``ru_maxrss``) is its own:

  a. batched: ``raretune predict RUN SHARDS/ --out PREDS/`` (read a batch, score it, write it;
     one Parquet shard out per shard in)
  b. in memory: every shard read into one DataFrame first, its model inputs built, then only
     ``model.predict`` is timed, called as raretune calls it (``raretune.models.predict_proba``:
     a ``tf.data`` pipeline of 4,096-row batches)
  c. whole input (predict before batching): read every shard, score them as one DataFrame,
     write one Parquet file
  d. the network alone, fastest call we know: ``model.predict_on_batch`` on 65,536-row slices
     of the same in-memory inputs (same scores, bit for bit)
  0. the baseline: import raretune and TensorFlow, load the run, score nothing (its peak
     memory is what every path pays before the first row)

    python benchmarks/bench_predict.py                   # 2,000,000 rows
    python benchmarks/bench_predict.py --rows 1000000    # quicker

rows/s counts the rows over each path's timed part: (a) and (c) from the first read to the
last write (the model's loading excluded), (b) and (d) the model's calls only. CPU seconds
(all threads) vary less than wall time on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _subprocess import run_workers  # noqa: E402

SHARD_ROWS = 250_000
TRAIN_ROWS = 10_000


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def write_shards(folder: Path, n_rows: int) -> None:
    """``n_rows`` rows of synthetic_fraud (seed 1, not the training rows) as Parquet shards."""
    import pandas as pd

    from raretune.datasets.builders.synthetic_fraud.synthetic_fraud_dataset_builder import generate_chunks

    folder.mkdir(parents=True, exist_ok=True)
    for k, chunk in enumerate(generate_chunks(n_rows, seed=1, chunk_rows=SHARD_ROWS)):
        frame = pd.DataFrame(chunk).drop(columns="is_fraud")
        frame.insert(0, "txn", range(k * SHARD_ROWS, k * SHARD_ROWS + len(frame)))
        frame.to_parquet(folder / f"part-{k:05d}.parquet", index=False)


def train(run_dir: Path) -> None:
    import pandas as pd

    import raretune
    from raretune.datasets.builders.synthetic_fraud.synthetic_fraud_dataset_builder import generate_chunks

    frame = pd.DataFrame(next(generate_chunks(TRAIN_ROWS, seed=0)))
    raretune.run(data=frame, target="is_fraud", max_trials=1, max_epochs=1, folds=1, baseline=False,
                 linear=False, trees=False, report=False, quiet=True, out=run_dir)


def worker(path: str, run_dir: str, shards: str, out: str, batch_rows: int) -> dict:
    import pandas as pd

    import raretune
    from raretune.run._predict import score_batches

    loaded = raretune.load_run(run_dir)
    if path == "baseline":
        return {"path": path, "rows": 0, "seconds": 0.0, "cpu": 0.0, "peak_mb": _peak_mb()}
    if path == "batched":
        from raretune.run._predict_io import prediction_target, write_predictions

        start, cpu = time.perf_counter(), _cpu_seconds()
        rows = write_predictions(score_batches(loaded, shards, keep=["txn"], batch_rows=batch_rows),
                                 prediction_target(out + "/"))
    elif path in ("in_memory", "on_batch"):
        import numpy as np
        import tensorflow as tf

        from raretune.datasets import read_rows
        from raretune.models import predict_proba

        frame = pd.read_parquet(shards)
        rows_in = read_rows(frame, loaded["modality"].reference(loaded["classes"], loaded["target"]))
        inputs = loaded["schema"].inputs(rows_in.features)
        del frame, rows_in
        model, n = loaded["model"], len(next(iter(inputs.values())))

        def score(slice_rows):
            if path == "in_memory":
                return predict_proba(model, {k: v[slice_rows] for k, v in inputs.items()})
            return np.concatenate([np.asarray(model.predict_on_batch({k: tf.constant(v[i:i + batch_rows])
                                                                      for k, v in inputs.items()}))[:, 0]
                                   for i in range(slice_rows.start, slice_rows.stop, batch_rows)])

        score(slice(0, 4096))  # trace once, untimed
        start, cpu = time.perf_counter(), _cpu_seconds()
        rows = len(score(slice(0, n)))
    else:  # whole input, as predict did before it read in batches
        start, cpu = time.perf_counter(), _cpu_seconds()
        frame = pd.read_parquet(shards)
        (_, scored), = score_batches(loaded, frame, keep=["txn"])
        scored.to_parquet(out + ".parquet", index=False)
        rows = len(scored)
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    return {"path": path, "rows": rows, "seconds": seconds, "cpu": cpu, "peak_mb": _peak_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--batch-rows", type=int, default=65_536)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--folder", default=os.path.join(tempfile.gettempdir(), "raretune-bench-predict"))
    parser.add_argument("--worker", nargs=5, metavar=("PATH", "RUN", "SHARDS", "OUT", "BATCH"))
    args = parser.parse_args()
    if args.worker:
        import warnings

        warnings.simplefilter("ignore")
        path, run_dir, shards, out, batch = args.worker
        print(json.dumps(worker(path, run_dir, shards, out, int(batch))))
        return
    folder = Path(args.folder)
    shards, run_dir = folder / f"shards-{args.rows}", folder / "run"
    if not shards.is_dir():
        start = time.perf_counter()
        write_shards(shards, args.rows)
        print(f"wrote {args.rows:,} rows as Parquet shards in {time.perf_counter() - start:.0f} s -> {shards}")
    if not (run_dir / "model.keras").is_file():
        start = time.perf_counter()
        train(run_dir)
        print(f"trained a small run in {time.perf_counter() - start:.0f} s -> {run_dir}")
    results = {}
    with tempfile.TemporaryDirectory(dir=folder) as outputs:
        for path in ("baseline", "batched", "in_memory", "whole", "on_batch"):
            outs = [os.path.join(outputs, f"{path}-{repeat}") for repeat in range(args.repeats)]
            results[path] = run_workers(__file__, [[path, run_dir, shards, out, args.batch_rows] for out in outs])
    print(f"\n{args.rows:,} rows x {len(list(shards.iterdir()))} Parquet shards, 16 feature columns + id; "
          f"batch {args.batch_rows:,} rows; median of {args.repeats}")
    print(f"{'path':<62}{'seconds':>9}{'cpu s':>8}{'rows/s':>11}{'peak MB':>9}")
    print(f"{'0. baseline: load the run, score nothing':<62}{'':>9}{'':>8}{'':>11}{results['baseline']['peak_mb']:>9,.0f}")
    labels = {"batched": "a. batched predict: shards in, shards out",
              "in_memory": "b. model.predict in memory, as raretune calls it (network only)",
              "whole": "c. whole input: read all, score, write one file",
              "on_batch": "d. model.predict_on_batch on 65,536-row slices (network only)"}
    for path, label in labels.items():
        r = results[path]
        print(f"{label:<62}{r['seconds']:>9.1f}{r['cpu']:>8.1f}{r['rows'] / r['seconds']:>11,.0f}{r['peak_mb']:>9,.0f}")
    a, b, c, d = (results[p] for p in ("batched", "in_memory", "whole", "on_batch"))
    print(f"a/b: rows/s {b['seconds'] / a['seconds']:.2f}x (cpu {b['cpu'] / a['cpu']:.2f}x) of model.predict in memory "
          f"(target >= 0.8x); peak memory {a['peak_mb'] / b['peak_mb']:.2f}x")
    print(f"a/c: rows/s {c['seconds'] / a['seconds']:.2f}x (cpu {c['cpu'] / a['cpu']:.2f}x); "
          f"peak memory {a['peak_mb'] / c['peak_mb']:.2f}x")
    print(f"a/d: rows/s {d['seconds'] / a['seconds']:.2f}x (cpu {d['cpu'] / a['cpu']:.2f}x) of the network's fastest call")


if __name__ == "__main__":
    main()
