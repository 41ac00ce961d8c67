"""The streaming pass over sharded Parquet: peak memory and rows/s as the rows grow.

Writes ``synthetic_fraud`` rows (16 features, about 0.3 % fraud; the dataset's own generator)
as Parquet shards into a cache folder (once per size), then runs
:func:`raretune.datasets.stream_pass` over each size in a fresh subprocess, so each peak
resident memory (``ru_maxrss``) is its own, and prints one table. The sample's memory
budget is fixed, so a flat peak means the pass does not hold rows it does not keep.

    python benchmarks/bench_scale.py --rows 1000000 5000000
    python benchmarks/bench_scale.py --rows 1000000 --compare   # also streamed vs in-memory run

``--compare`` runs ``raretune.run`` on the first size with the same small budget
(``--trials`` trials of ``--epochs`` epochs, class weights, no baseline or report): on the
whole table in memory, streamed from the shards with the sample of ``--budget``, and with
``--finish-epochs`` also streamed with that finish; it prints each run's test PR-AUC and
seconds (``--compare-results``: also as JSON). Both are tested on the same rows: the
in-memory run gets the streamed run's hashed test part as its fixed test set.

``--runs`` measures what a user runs, at every size: ``raretune.run`` streamed from the
shards (``--trials`` x ``--epochs``, class weights, no baseline or report, the sample of
``--budget``, ``--finish-epochs`` over the full training stream) in one fresh process, then
streaming predict over every shard into a folder of Parquet shards (what ``raretune predict
RUN 'shards/*.parquet' --out preds/`` does) in another. That second process also scores the
first shard's rows with the run's model once they are in memory, through ``model.predict``
and through ``predict_on_batch`` slices (raretune's in-memory scorer; each the median of 3
calls, traced before they are timed), for the ratio the issue asks of streaming predict; the
stream is timed twice, as the command runs (its model traced on its first batches) and again
with the model traced, like the references (``--no-predict``: the run only).
Each run's record has its peak memory after every phase (``metrics.json["memory"]``).
Results go to ``benchmarks/results/bench_scale_runs.json`` (``--results``).

    python benchmarks/bench_scale.py --rows 1000000 10000000 30000000 --runs --skip-pass --trials 1 --epochs 1
    python benchmarks/bench_scale.py --rows 10000000 100000000 --runs --skip-pass --no-predict --trials 1 \
        --epochs 1 --budget 64MiB --results benchmarks/results/bench_scale_runs_100m.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _subprocess import run_workers  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "bench_scale_runs.json"
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


def worker_run(folder: str, mode: str, budget: str, trials: int, epochs: int, finish_epochs: int = 0) -> dict:
    """One ``raretune.run`` for ``--compare``: ``"memory"`` or ``"streamed"`` (with ``finish_epochs``).

    In memory, the shards are read whole and split by the same row hash the streamed run uses
    (:func:`raretune.datasets._shards.hash_parts`, the run's seed as salt): its hashed test
    rows are given as ``test_data`` and the rest as ``data``, so both runs are tested on the
    very same rows.
    """
    import raretune
    import tempfile

    data = str(Path(folder) / "*.parquet")
    options = dict(target="is_fraud", max_trials=trials, max_epochs=epochs, strategies=("class_weight",),
                   baseline=False, report=False, quiet=True, seed=0)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        if mode == "memory":
            frame, test = _hashed_frames(folder, seed=0)
            result = raretune.run(data=frame, test_data=test, out=Path(out) / "run", **options)
            test_rows, test_positives = len(test), int(test["is_fraud"].sum())
            del frame, test
        else:
            result = raretune.run(data=data, out=Path(out) / "run", memory_budget=budget,
                                  finish_epochs=finish_epochs, **options)
            stream = json.loads((Path(out) / "run" / "stream.json").read_text())
            test_counts = stream["part_counts"]["test"]
            test_rows, test_positives = sum(test_counts.values()), int(test_counts.get("1", 0))
        timing = result.metrics.get("timing", {})
    return {"mode": mode if not finish_epochs else f"{mode}+finish{finish_epochs}",
            "seconds": time.perf_counter() - start, "peak_mb": _peak_mb(),
            "test_pr_auc": result.test["pr_auc"], "test_rows": test_rows, "test_positives": test_positives,
            "timing": {k: round(v, 1) for k, v in timing.items()}}


def _hashed_frames(folder: str, seed: int) -> tuple:
    """Every shard's rows in memory: ``(rows outside the hashed test part, its test rows)``."""
    import pandas as pd

    from raretune.datasets import read_frame
    from raretune.datasets._shards import hash_parts, row_keys

    frames = []
    for path in sorted(Path(folder).glob("*.parquet")):
        frame = read_frame(path)
        parts = hash_parts(row_keys(path.name, 0, frame), validation_size=0.15, test_size=0.15, salt=seed)
        frames.append((frame[parts != 2], frame[parts == 2]))
    return (pd.concat([f for f, _ in frames], ignore_index=True),
            pd.concat([t for _, t in frames], ignore_index=True))


def worker_fullrun(folder: str, budget: str, trials: int, epochs: int, finish_epochs: int, out: str) -> dict:
    """``raretune.run`` streamed from the shards into ``out`` (kept for the predict worker)."""
    import raretune

    start = time.perf_counter()
    result = raretune.run(data=str(Path(folder) / "*.parquet"), target="is_fraud", quiet=True, seed=0,
                          max_trials=trials, max_epochs=epochs, strategies="class_weight", baseline=False,
                          report=False, memory_budget=budget, finish_epochs=finish_epochs, out=out)
    seconds = time.perf_counter() - start
    stream = json.loads((Path(out) / "stream.json").read_text())
    return {"seconds": seconds, "peak_mb": _peak_mb(), "test_pr_auc": result.test["pr_auc"],
            "positive": result.metrics["task"]["positive"],
            "timing": {k: round(v, 1) for k, v in result.metrics.get("timing", {}).items()},
            "peak_mb_after": (result.metrics.get("memory") or {}).get("peak_mb_after"),
            "stream": {"n_rows": stream["n_rows"], "n_kept": stream["n_kept"], "rate": stream["rate"],
                       "class_counts": stream["class_counts"], "part_counts": stream["part_counts"],
                       "scored": stream["scored"], "finish": stream.get("finish")}}


def worker_predict(run_dir: str, folder: str, preds: str) -> dict:
    """Streaming predict over every shard into ``preds/``; then the first shard's rows in memory.

    The streamed part is what ``raretune predict RUN 'folder/*.parquet' --out preds/`` does,
    timed as it times itself (after loading the run), so it includes tracing the model's
    predict function; then once more with the function traced (``warm_rows_per_s``), as the
    in-memory references are timed. Its peak is taken before the in-memory reference reads a
    whole shard.
    """
    import numpy as np
    import pyarrow.parquet as pq
    import tensorflow as tf

    from raretune.datasets import read_rows
    from raretune.models import predict_proba
    from raretune.run import load_run
    from raretune.run._predict import score_batches
    from raretune.run._predict_io import prediction_target, write_predictions

    loaded = load_run(run_dir)
    start = time.perf_counter()
    rows = write_predictions(score_batches(loaded, str(Path(folder) / "*.parquet")), prediction_target(preds + "/"))
    seconds = time.perf_counter() - start
    peak = _peak_mb()
    shutil.rmtree(preds)
    start = time.perf_counter()  # again, with the model's predict function traced, as the reference's is
    write_predictions(score_batches(loaded, str(Path(folder) / "*.parquet")), prediction_target(preds + "/"))
    warm_seconds = time.perf_counter() - start

    first = sorted(Path(folder).glob("*.parquet"))[0]
    start = time.perf_counter()
    first_rows = sum(len(frame) for _, frame in score_batches(loaded, str(first)))
    first_seconds = time.perf_counter() - start
    reference = loaded["modality"].reference(loaded["classes"], loaded["target"])
    inputs = loaded["schema"].inputs(read_rows(pq.read_table(first).to_pandas(), reference).features)
    n = len(next(iter(inputs.values())))
    model = loaded["model"]
    tensors = {k: tf.constant(v) for k, v in inputs.items()}  # Keras 3 takes no numpy string arrays
    model.predict({k: v[:1024] for k, v in tensors.items()}, batch_size=1024, verbose=0)  # traced once, not timed
    keras_seconds, keras_scores = _median_time(lambda: model.predict(tensors, batch_size=65_536, verbose=0))
    batch_seconds, batch_scores = _median_time(lambda: predict_proba(model, inputs))
    return {"seconds": seconds, "peak_mb": peak, "rows": rows, "rows_per_s": rows / seconds,
            "warm_seconds": warm_seconds, "warm_rows_per_s": rows / warm_seconds,
            "first_shard_rows": first_rows, "first_shard_stream_rows_per_s": first_rows / first_seconds,
            "model_predict_rows_per_s": n / keras_seconds, "predict_on_batch_rows_per_s": n / batch_seconds,
            "same_scores": bool(np.allclose(np.ravel(keras_scores), np.ravel(batch_scores), atol=1e-6))}


def _median_time(call, repeats: int = 3):
    """Median seconds of ``repeats`` calls (the shared machine's load varies), and the last result."""
    import statistics

    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = call()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), out


def runs(folders: dict, args) -> list:
    """``--runs``: run, then predict, each size in its own processes; results written as they come."""
    results = []
    header = (f"{'rows':>12} {'run s':>7} {'run MB':>7} {'PR-AUC':>7} {'kept':>8} {'pred s':>7} {'pred MB':>7} "
              f"{'stream r/s':>10} {'predict r/s':>11} {'ratio':>6} {'on_batch r/s':>12} {'ratio':>6} "
              f"{'warm r/s':>10} {'ratio':>6}")
    print(f"\nraretune run (streamed, {args.trials} trials x {args.epochs} epochs, class_weight, budget {args.budget}, "
          f"finish {args.finish_epochs}) and streaming predict, one fresh process each", flush=True)
    for n in args.rows:
        work = Path(tempfile.mkdtemp(prefix="bench_scale_runs-"))
        try:
            run = _worker(["fullrun", folders[n], args.budget, args.trials, args.epochs, args.finish_epochs,
                           work / "run"])
            print(f"  {n:,} rows: run {run['seconds']:.0f} s, peak {run['peak_mb']:.0f} MB, phases {run['timing']}, "
                  f"peak MB after each {run['peak_mb_after']}", flush=True)
            pred = None if args.no_predict else _worker(["predict", work / "run", folders[n], work / "preds"])
        finally:
            shutil.rmtree(work, ignore_errors=True)
        results.append({"rows": n, "run": run, "predict": pred,
                        "stream_vs_model_predict": None if pred is None else
                        pred["rows_per_s"] / pred["model_predict_rows_per_s"],
                        "stream_vs_predict_on_batch": None if pred is None else
                        pred["rows_per_s"] / pred["predict_on_batch_rows_per_s"],
                        "warm_stream_vs_model_predict": None if pred is None else
                        pred["warm_rows_per_s"] / pred["model_predict_rows_per_s"]})
        _write_results(results, args)
        if pred is None:
            continue
        print(f"  {n:,} rows: predict {pred['seconds']:.0f} s, peak {pred['peak_mb']:.0f} MB, "
              f"{pred['rows_per_s']:,.0f} rows/s streamed ({pred['warm_rows_per_s']:,.0f} traced); first shard in memory: model.predict "
              f"{pred['model_predict_rows_per_s']:,.0f}, predict_on_batch {pred['predict_on_batch_rows_per_s']:,.0f} "
              f"rows/s", flush=True)
    print("\n" + header)
    for r in results:
        run, pred = r["run"], r["predict"]
        line = (f"{r['rows']:>12,} {run['seconds']:>7.0f} {run['peak_mb']:>7.0f} {run['test_pr_auc']:>7.4f} "
                f"{run['stream']['n_kept']:>8,}")
        if pred is not None:
            line += (f" {pred['seconds']:>7.0f} {pred['peak_mb']:>7.0f} {pred['rows_per_s']:>10,.0f} "
                     f"{pred['model_predict_rows_per_s']:>11,.0f} {r['stream_vs_model_predict']:>6.2f} "
                     f"{pred['predict_on_batch_rows_per_s']:>12,.0f} {r['stream_vs_predict_on_batch']:>6.2f} "
                     f"{pred['warm_rows_per_s']:>10,.0f} {r['warm_stream_vs_model_predict']:>6.2f}")
        print(line)
    if len(results) > 1:
        first, last = results[0], results[-1]
        print(f"peak at {last['rows']:,} / at {first['rows']:,} rows: run "
              f"{last['run']['peak_mb'] / first['run']['peak_mb']:.2f}x" + ("" if args.no_predict else
              f", predict {last['predict']['peak_mb'] / first['predict']['peak_mb']:.2f}x"))
    return results


def _worker(arguments: list) -> dict:
    try:
        return run_workers(__file__, [arguments])
    except subprocess.CalledProcessError as exc:  # show why the worker failed, not only that it did
        print(exc.stderr[-4000:], file=sys.stderr)
        raise


def _write_results(results: list, args) -> None:
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({
        "settings": {"trials": args.trials, "epochs": args.epochs, "finish_epochs": args.finish_epochs,
                     "budget": args.budget, "shard_rows": args.shard_rows, "strategies": "class_weight",
                     "baseline": False, "report": False, "seed": 0},
        "load_average": os.getloadavg(), "cpus": os.cpu_count(), "sizes": results}, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--shard-rows", type=int, default=500_000)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--budget", default="32MiB", help="memory budget of the pass's sample")
    parser.add_argument("--compare", action="store_true", help="streamed vs in-memory run on the first size")
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--runs", action="store_true", help="raretune run and streaming predict at every size")
    parser.add_argument("--finish-epochs", type=int, default=0,
                        help="--runs: epochs over the full training stream; --compare: also a streamed run with them")
    parser.add_argument("--compare-results", type=Path, default=None, help="--compare: where the JSON goes")
    parser.add_argument("--results", type=Path, default=RESULTS, help="--runs: where the JSON goes")
    parser.add_argument("--skip-pass", action="store_true", help="--runs: do not measure the pass alone first")
    parser.add_argument("--no-predict", action="store_true", help="--runs: the run only, no streaming predict")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        if kind == "pass":
            out = worker_pass(*rest)
        elif kind == "fullrun":
            out = worker_fullrun(rest[0], rest[1], int(rest[2]), int(rest[3]), int(rest[4]), rest[5])
        elif kind == "predict":
            out = worker_predict(*rest)
        else:
            out = worker_run(rest[0], rest[1], rest[2], int(rest[3]), int(rest[4]), int(rest[5]))
        print(json.dumps(out))
        return

    folders = {}
    for n in args.rows:
        start = time.perf_counter()
        folders[n] = write_shards(args.cache, n, args.shard_rows)
        print(f"shards of {n:,} rows in {folders[n]} ({time.perf_counter() - start:.0f} s to write or find)",
              flush=True)
    if args.runs and args.skip_pass:
        runs(folders, args)
        return
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
        compared = []
        for mode, finish in [("memory", 0), ("streamed", 0)] + ([("streamed", args.finish_epochs)]
                                                              if args.finish_epochs else []):
            r = run_workers(__file__, [["run", folders[n], mode, args.budget, args.trials, args.epochs, finish]])
            compared.append(r)
            print(f"{r['mode']:>9}: test PR-AUC {r['test_pr_auc']:.4f} ({r['test_rows']:,} test rows, "
                  f"{r['test_positives']:,} positive), {r['seconds']:.0f} s, peak {r['peak_mb']:.0f} MB, "
                  f"phases {r['timing']}", flush=True)
            if args.compare_results is not None:
                args.compare_results.write_text(json.dumps({
                    "rows": n, "trials": args.trials, "epochs": args.epochs, "budget": args.budget, "seed": 0,
                    "load_average": os.getloadavg(), "cpus": os.cpu_count(), "runs": compared}, indent=1) + "\n")
        memory = compared[0]
        for r in compared[1:]:
            print(f"{r['mode']}: {memory['seconds'] / r['seconds']:.2f}x faster, test PR-AUC "
                  f"{r['test_pr_auc'] - memory['test_pr_auc']:+.4f} against the in-memory run")
    if args.runs:
        runs(folders, args)


if __name__ == "__main__":
    main()
