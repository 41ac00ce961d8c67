"""One balanced epoch from a TFRecord file: streaming ``rebalance`` vs materialising paths.

The script writes a TFRecord file of ``--rows`` rows x 30 float features with 0.2% positives
into a temporary folder (kept for reruns), then runs each path in a fresh subprocess (so
the peak resident memory, ``ru_maxrss``, is its own) and prints one table.

    python benchmarks/bench_stream.py                  # 1M rows
    python benchmarks/bench_stream.py --rows 200000    # quicker

Paths (every one ends with a full pass over a balanced epoch, ratio 1):
  a. batched source -> rebalance (vectorised per batch)
  b. the fastest materialising path we could write: batched parse -> numpy -> imblearn SMOTE
     -> numpy shuffle -> whole batches sliced by from_tensor_slices (no per-row tf.data work)
  c. unbatched source -> rebalance, consumed through .batch
  d. the same materialising path from the unbatched source (read through .batch(8192))
  e. naive per-row Python loop (read row by row, SMOTE by hand row by row); run on the
     first --loop-rows rows and extrapolated linearly to all rows

Besides wall-clock seconds the table gives CPU seconds (all threads of the worker), which
vary less than wall time on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _subprocess import run_workers  # noqa: E402
import time
from pathlib import Path

import numpy as np

N_FEATURES = 30
POSITIVE_SHARE = 0.002
BATCH = 1024


def write_tfrecord(path: Path, n_rows: int) -> None:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    spread = (3.0 * 0.85 ** np.arange(N_FEATURES)).astype(np.float32)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for start in range(0, n_rows, 100_000):
            n = min(100_000, n_rows - start)
            y = (rng.random(n) < POSITIVE_SHARE).astype(np.int64)
            X = (rng.standard_normal((n, N_FEATURES)).astype(np.float32) * spread)
            X[y == 1, 1] += 4.0
            for row, label in zip(X, y):
                example = tf.train.Example(
                    features=tf.train.Features(
                        feature={
                            "x": tf.train.Feature(float_list=tf.train.FloatList(value=row)),
                            "y": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
                        }
                    )
                )
                writer.write(example.SerializeToString())


def _spec():
    import tensorflow as tf

    return {
        "x": tf.io.FixedLenFeature([N_FEATURES], tf.float32),
        "y": tf.io.FixedLenFeature([], tf.int64),
    }


def batched_source(path):
    import tensorflow as tf

    def parse(records):
        parsed = tf.io.parse_example(records, _spec())
        return parsed["x"], parsed["y"]

    return tf.data.TFRecordDataset(str(path)).batch(BATCH).map(parse, num_parallel_calls=tf.data.AUTOTUNE)


def unbatched_source(path):
    import tensorflow as tf

    def parse(record):
        parsed = tf.io.parse_single_example(record, _spec())
        return parsed["x"], parsed["y"]

    return tf.data.TFRecordDataset(str(path)).map(parse, num_parallel_calls=tf.data.AUTOTUNE)


def consume(dataset) -> tuple[int, int]:
    """One full pass; returns (rows, positives) so that nothing is optimised away."""
    rows = positives = 0
    for _, label in dataset:
        label = label.numpy()
        rows += label.size
        positives += int(label.sum())
    return rows, positives


def path_a(path, seed):
    from raretune.resample import rebalance

    return consume(rebalance(batched_source(path), ratio=1.0, seed=seed))


def materialise(batches, seed):
    """The fastest materialising path: read batches into NumPy, SMOTE, shuffle, slice batches."""
    import tensorflow as tf
    from imblearn.over_sampling import SMOTE

    parts = list(batches.as_numpy_iterator())
    X = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    del parts
    X, y = SMOTE(random_state=seed).fit_resample(X, y)
    order = np.random.default_rng(seed).permutation(len(y))
    X, y = X[order], y[order]
    # Whole batches as the slices of a (n_batches, BATCH, ...) array, plus the short rest:
    # from_tensor_slices(...).batch would do per-row work in tf.data.
    full = len(y) // BATCH * BATCH
    whole = tf.data.Dataset.from_tensor_slices(
        (X[:full].reshape(-1, BATCH, X.shape[1]), y[:full].reshape(-1, BATCH))
    )
    return whole.concatenate(tf.data.Dataset.from_tensors((X[full:], y[full:])))


def path_b(path, seed):
    return consume(materialise(batched_source(path), seed))


def path_c(path, seed):
    from raretune.resample import rebalance

    return consume(rebalance(unbatched_source(path), ratio=1.0, seed=seed).batch(BATCH))


def path_d(path, seed):
    return consume(materialise(unbatched_source(path).batch(8192), seed))


def path_e(path, seed, n_rows):
    """A row-by-row loop as first written: Python lists, per-row neighbour search."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for x, label in unbatched_source(path).take(n_rows):
        rows.append(x.numpy())
        labels.append(int(label.numpy()))
    positives = [r for r, l in zip(rows, labels) if l == 1]
    P = np.array(positives)
    n_new = labels.count(0) - len(positives)
    for _ in range(n_new):
        a = P[rng.integers(len(P))]
        nearest = np.argsort(((P - a) ** 2).sum(axis=1))[1:6]
        b = P[rng.choice(nearest)]
        rows.append(a + rng.random() * (b - a))
        labels.append(1)
    dataset = tf.data.Dataset.from_tensor_slices((np.array(rows), np.array(labels)))
    return consume(dataset.shuffle(10_000, seed=seed).batch(BATCH))


def worker(name, path, seed, loop_rows):
    import tensorflow  # noqa: F401  (import time is the same for every path: not measured)

    start, cpu_start = time.perf_counter(), time.process_time()
    if name == "e":
        result = path_e(path, seed, loop_rows)
    else:
        result = globals()[f"path_{name}"](path, seed)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": peak_mb, "rows": result[0], "positives": result[1]}))


def run(name, path, repeats, loop_rows=0):
    """Median wall and CPU seconds over ``repeats`` fresh workers (seeds 0, 1, ...)."""
    runs = [run_workers(__file__, [[name, path, seed, loop_rows]]) for seed in range(repeats)]
    return {
        **runs[0],
        "seconds": float(np.median([r["seconds"] for r in runs])),
        "cpu": float(np.median([r["cpu"] for r in runs])),
        "peak_mb": max(r["peak_mb"] for r in runs),
        "repeats": repeats,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loop-rows", type=int, default=50_000)
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        name, path, seed, loop_rows = args.worker
        worker(name, path, int(seed), int(loop_rows))
        return

    folder = Path(tempfile.gettempdir()) / "raretune-bench-stream"
    folder.mkdir(exist_ok=True)
    path = folder / f"rows{args.rows}.tfrecord"
    if not path.exists():
        start = time.perf_counter()
        write_tfrecord(path.with_suffix(".tmp"), args.rows)
        path.with_suffix(".tmp").rename(path)
        print(f"wrote {path} in {time.perf_counter() - start:.0f} s")

    results = {
        "a": run("a", path, args.repeats),
        "b": run("b", path, args.repeats),
        "c": run("c", path, args.repeats),
        "d": run("d", path, args.repeats),
    }
    loop = run("e", path, 1, min(args.loop_rows, args.rows))
    scale = args.rows / min(args.loop_rows, args.rows)
    results["e"] = {**loop, "seconds": loop["seconds"] * scale, "cpu": loop["cpu"] * scale, "rows": loop["rows"] * scale}

    labels = {
        "a": "a. batched -> rebalance",
        "b": "b. batched parse + SMOTE + shuffle (materialise)",
        "c": "c. unbatched -> rebalance",
        "d": "d. unbatched parse + SMOTE + shuffle (materialise)",
        "e": f"e. per-row Python loop (x{scale:g} from {min(args.loop_rows, args.rows):,} rows)",
    }
    print(f"{args.rows:,} rows x {N_FEATURES} features, {POSITIVE_SHARE:.1%} positives, one balanced epoch")
    header = f"{'path':<56} {'median s':>9} {'cpu s':>7} {'peak MB':>9} {'rows out':>10} {'pos share':>9} {'n':>3}"
    print(header)
    print("-" * len(header))
    for key, label in labels.items():
        r = results[key]
        peak = f"{r['peak_mb']:>9,.0f}" if key != "e" else f"{'(' + format(r['peak_mb'], ',.0f') + ')':>9}"
        print(
            f"{label:<56} {r['seconds']:>9.1f} {r['cpu']:>7.1f} {peak} {r['rows']:>10,.0f} "
            f"{r['positives'] / max(r['rows'], 1) if key != 'e' else float('nan'):>9.3f} {r['repeats']:>3}"
        )
    a, b, c, d, e = (results[k] for k in "abcde")
    print(
        f"a/b: time {a['seconds'] / b['seconds']:.2f}x (cpu {a['cpu'] / b['cpu']:.2f}x), memory "
        f"{a['peak_mb'] / b['peak_mb']:.2f}x (targets: time <= 0.5x, memory <= 0.5x)\n"
        f"c/d: time {c['seconds'] / d['seconds']:.2f}x (cpu {c['cpu'] / d['cpu']:.2f}x), memory "
        f"{c['peak_mb'] / d['peak_mb']:.2f}x (targets: time <= 1.5x, memory <= 0.5x)\n"
        f"c/b: time {c['seconds'] / b['seconds']:.2f}x (unbatched rebalance vs the batched materialising path)\n"
        f"e/c: unbatched rebalance is {e['seconds'] / c['seconds']:.0f}x faster than the per-row loop "
        "(target >= 20x)"
    )


if __name__ == "__main__":
    main()
