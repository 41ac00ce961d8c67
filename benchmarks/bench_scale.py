"""The streaming pass over sharded Parquet: peak memory and rows/s as the rows grow.

Writes ``synthetic_fraud`` rows (16 features, about 0.3 % fraud; the dataset's own generator)
as Parquet shards into a cache folder (once per size), then runs
:func:`raretune.datasets.stream_pass` over each size in a fresh subprocess, so each peak
resident memory (``ru_maxrss``) is its own, and prints one table. The sample's memory
budget is fixed, so a flat peak means the pass does not hold rows it does not keep.

    python benchmarks/bench_scale.py --rows 1000000 5000000
    python benchmarks/bench_scale.py --rows 1000000 --compare   # also streamed vs in-memory run

``--compare`` runs ``raretune.run`` twice on the first size with the same small budget
(``--trials`` trials of ``--epochs`` epochs, class weights, no baseline or report): on the
whole table in memory, and streamed from the shards with the sample of ``--budget``; it
prints each run's test PR-AUC and seconds. Their test parts are not the same rows (a
stratified random split, a hashed split), each about 15 % of the data.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _subprocess import run_workers  # noqa: E402

DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "raretune" / "bench_scale"


def write_shards(folder: Path, n_rows: int, shard_rows: int) -> Path:
    """``n_rows`` synthetic_fraud rows as Parquet shards of ``shard_rows`` rows (kept for reruns)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from raretune.datasets.builders.synthetic_fraud.synthetic_fraud_dataset_builder import generate_chunks

    target = folder / f"synthetic_fraud-{n_rows}"
    if (target / "_DONE").exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    writer, shard, in_shard = None, 0, 0
    for chunk in generate_chunks(n_rows, seed=0):
        table = pa.table(chunk)
        if writer is None:
            writer = pq.ParquetWriter(target / f"part-{shard:05d}.parquet", table.schema)
        writer.write_table(table)
        in_shard += table.num_rows
        if in_shard >= shard_rows:
            writer.close()
            writer, shard, in_shard = None, shard + 1, 0
    if writer is not None:
        writer.close()
    (target / "_DONE").write_text("")
    return target


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_pass(folder: str, budget: str) -> dict:
    from raretune.datasets import PartRule, parse_memory, sharded_source, stream_pass

    baseline = _peak_mb()
    start = time.perf_counter()
    source = sharded_source(str(Path(folder) / "*.parquet"))
    result = stream_pass(source, target="is_fraud", rule=PartRule(), memory_budget=parse_memory(budget))
    seconds = time.perf_counter() - start
    return {"rows": result.n_rows, "shards": len(source.files), "seconds": seconds, "rows_per_s": result.n_rows / seconds,
            "peak_mb": _peak_mb(), "import_peak_mb": baseline, "kept": len(result.frame), "rate": result.rate,
            "positives": int(result.class_counts.get(1, 0))}


def worker_run(folder: str, mode: str, budget: str, trials: int, epochs: int) -> dict:
    import raretune
    import tempfile

    data = str(Path(folder) / "*.parquet")
    options = dict(target="is_fraud", max_trials=trials, max_epochs=epochs, strategies=("class_weight",),
                   baseline=False, report=False, quiet=True, seed=0)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        if mode == "memory":
            from raretune.datasets import read_frame
            import pandas as pd

            frame = pd.concat([read_frame(p) for p in sorted(Path(folder).glob("*.parquet"))], ignore_index=True)
            result = raretune.run(data=frame, out=Path(out) / "run", **options)
        else:
            result = raretune.run(data=data, out=Path(out) / "run", memory_budget=budget, **options)
        timing = result.metrics.get("timing", {})
    return {"mode": mode, "seconds": time.perf_counter() - start, "peak_mb": _peak_mb(),
            "test_pr_auc": result.test["pr_auc"], "timing": {k: round(v, 1) for k, v in timing.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--shard-rows", type=int, default=500_000)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--budget", default="32MiB", help="memory budget of the pass's sample")
    parser.add_argument("--compare", action="store_true", help="streamed vs in-memory run on the first size")
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        if kind == "pass":
            out = worker_pass(*rest)
        else:
            out = worker_run(rest[0], rest[1], rest[2], int(rest[3]), int(rest[4]))
        print(json.dumps(out))
        return

    folders = {}
    for n in args.rows:
        start = time.perf_counter()
        folders[n] = write_shards(args.cache, n, args.shard_rows)
        print(f"shards of {n:,} rows in {folders[n]} ({time.perf_counter() - start:.0f} s to write or find)",
              flush=True)
    print(f"\nstreaming pass, sample budget {args.budget}")
    print(f"{'rows':>12} {'shards':>6} {'seconds':>8} {'rows/s':>10} {'peak MB':>8} {'after imports':>13} {'kept':>9} "
          f"{'rate':>8}")
    for n in args.rows:
        r = run_workers(__file__, [["pass", folders[n], args.budget]])
        print(f"{r['rows']:>12,} {r['shards']:>6} {r['seconds']:>8.1f} {r['rows_per_s']:>10,.0f} {r['peak_mb']:>8.0f} "
              f"{r['import_peak_mb']:>13.0f} {r['kept']:>9,} {r['rate']:>8.4f}", flush=True)
    if args.compare:
        n = args.rows[0]
        print(f"\nrun on {n:,} rows: {args.trials} trials x {args.epochs} epochs, class_weight")
        for mode in ("memory", "streamed"):
            r = run_workers(__file__, [["run", folders[n], mode, args.budget, args.trials, args.epochs]])
            print(f"{mode:>9}: test PR-AUC {r['test_pr_auc']:.4f}, {r['seconds']:.0f} s, peak {r['peak_mb']:.0f} MB, "
                  f"phases {r['timing']}", flush=True)


if __name__ == "__main__":
    main()
