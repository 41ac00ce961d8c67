"""TensorFlow's own thread pools against raretune's sizing, on one small training.

Each measurement is a fresh Python process (TensorFlow fixes its pools when its runtime
starts), in an alternating sequence so that load from other jobs falls on both sides:

* ``tensorflow``: ``RARETUNE_THREADS=0``, TensorFlow picks both pools;
* ``raretune``: the default sizing (intra-op one thread per core, inter-op two);
* ``one``: ``RARETUNE_THREADS=1`` (one intra-op, one inter-op thread).

Workloads on a 4,000-row table (6 % positives, 5 columns):

* ``run``: ``raretune.run`` with ``max_trials=1``, no cross-fitting, no refit, report or
  baseline; ``search s`` is the one trial (training and scoring), ``run s`` the whole run;
* ``fit``: one trial's training alone: raretune's MLP (2 x 64, the search's largest
  default) fitted for ``--epochs`` epochs, batch 64, after ``size_tensorflow_pools()``;
  ``search s`` is the fit.

Prints each mode's median seconds, the pools TensorFlow reported and the ratio to ``tensorflow``.

    python benchmarks/bench_threads.py --workload fit --repeats 3     # about 4 minutes
    python benchmarks/bench_threads.py --workload run --repeats 2 --epochs 10

Measured 2026-11-30 on the shared 2-core machine, fit workload, 10 epochs, medians of 3:
under a load average of about 7, TensorFlow's own 5.8 s and raretune's 2/2 4.7 s (0.81),
then in the other order 4.9 s and 4.9 s (1.01); under a load of about 10 the repeats of one
mode ranged 5-21 s. No difference is resolved: on 2 cores TensorFlow's own choice is already
2 threads a pool. The sizing bounds the pools on machines with many cores, where TensorFlow
gives each pool one thread per core (not measured here).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

MODES = {"tensorflow": "0", "raretune": None, "one": "1"}


def _table():
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 4))
    cat = rng.choice(["web", "pos", "atm"], size=4000, p=[0.5, 0.3, 0.2])
    logit = -3.8 + 2.0 * X[:, 0] + 1.2 * X[:, 1] + (cat == "web") * 0.8
    frame = pd.DataFrame(X, columns=list("abcd")).assign(channel=cat,
                                                         label=(rng.random(4000) < 1 / (1 + np.exp(-logit))).astype(int))
    return frame


def fit_worker(epochs: int) -> dict:
    """One network's training, timed alone."""
    from raretune._threads import size_tensorflow_pools

    pools = size_tensorflow_pools()
    import keras
    from raretune.datasets import load_data
    from raretune.models import FeatureSchema, build_tabular_model

    started = time.perf_counter()
    data = load_data(_table().drop(columns="channel"), target="label")  # numeric columns: plain arrays
    schema = FeatureSchema.from_data(data)
    network = build_tabular_model(schema, layers=2, units=64, dropout=0.1, seed=0)
    network.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.BinaryCrossentropy())
    inputs = schema.inputs(data.features)
    fit_started = time.perf_counter()
    network.fit(inputs, data.y.astype("float32"), epochs=epochs, batch_size=64, verbose=0)
    return {"run_s": time.perf_counter() - started, "search_s": time.perf_counter() - fit_started,
            "pools": [pools.intra_op, pools.inter_op]}


def worker(epochs: int) -> dict:
    frame = _table()
    import raretune
    import tensorflow as tf

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        result = raretune.run(data=frame, target="label", out=out, overwrite=True, quiet=True, seed=0,
                              max_trials=1, max_epochs=epochs, folds=1, refit=False, report=False, baseline=False)
    return {"run_s": time.perf_counter() - started, "search_s": result.metrics["timing"]["search"],
            "pools": [tf.config.threading.get_intra_op_parallelism_threads(),
                      tf.config.threading.get_inter_op_parallelism_threads()],
            "pr_auc": result.metrics["test"]["pr_auc"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--workload", choices=("run", "fit"), default="fit")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps((fit_worker if args.workload == "fit" else worker)(args.epochs)))
        return
    modes = args.modes.split(",")
    runs = {mode: [] for mode in modes}
    for _ in range(args.repeats):
        for mode in modes:  # alternating: A B C A B C
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
            env.pop("RARETUNE_THREADS", None)
            if MODES[mode] is not None:
                env["RARETUNE_THREADS"] = MODES[mode]
            out = subprocess.run([sys.executable, __file__, "--worker", "--epochs", str(args.epochs), "--workload",
                                  args.workload],
                                 capture_output=True, text=True, env=env, check=True)
            runs[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"  {mode:<10} {runs[mode][-1]}", file=sys.stderr, flush=True)
    base = statistics.median(r["search_s"] for r in runs[modes[0]])
    print(f"{'mode':<10} {'pools':>7} {'search s':>9} {'run s':>7} {'ratio':>6}   ({os.cpu_count()} CPUs, "
          f"{args.repeats} repeats, {args.epochs} epochs, workload {args.workload}, medians)")
    for mode in modes:
        search = statistics.median(r["search_s"] for r in runs[mode])
        total = statistics.median(r["run_s"] for r in runs[mode])
        pools = "/".join(map(str, runs[mode][0]["pools"]))
        print(f"{mode:<10} {pools:>7} {search:>9.1f} {total:>7.1f} {search / base:>6.2f}")


if __name__ == "__main__":
    main()
