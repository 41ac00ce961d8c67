"""TensorFlow's own thread pools against raretune's sizing, on one small training.

Each measurement is a fresh Python process (TensorFlow fixes its pools when its runtime
starts), in an alternating sequence so that load from other jobs falls on both sides:

* ``tensorflow``: ``RARETUNE_THREADS=0``, TensorFlow picks both pools;
* ``raretune``: the default sizing (intra-op one thread per core, inter-op two);
* ``one``: ``RARETUNE_THREADS=1`` (one intra-op, one inter-op thread).

The workload is one trial of a 4,000-row table (6 % positives, 5 columns): ``raretune.run``
with ``max_trials=1``, no cross-fitting and no later phases, so the search's seconds are
one network's training and scoring. Prints each mode's median search and run seconds, the
pools TensorFlow reported, and the ratio to ``tensorflow``.

    python benchmarks/bench_threads.py                # 2 repeats, 10 epochs
    python benchmarks/bench_threads.py --repeats 3 --epochs 20
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


def worker(epochs: int) -> dict:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 4))
    cat = rng.choice(["web", "pos", "atm"], size=4000, p=[0.5, 0.3, 0.2])
    logit = -3.8 + 2.0 * X[:, 0] + 1.2 * X[:, 1] + (cat == "web") * 0.8
    frame = pd.DataFrame(X, columns=list("abcd")).assign(channel=cat,
                                                         label=(rng.random(4000) < 1 / (1 + np.exp(-logit))).astype(int))
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
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.epochs)))
        return
    modes = args.modes.split(",")
    runs = {mode: [] for mode in modes}
    for _ in range(args.repeats):
        for mode in modes:  # alternating: A B C A B C
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
            env.pop("RARETUNE_THREADS", None)
            if MODES[mode] is not None:
                env["RARETUNE_THREADS"] = MODES[mode]
            out = subprocess.run([sys.executable, __file__, "--worker", "--epochs", str(args.epochs)],
                                 capture_output=True, text=True, env=env, check=True)
            runs[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"  {mode:<10} {runs[mode][-1]}", file=sys.stderr, flush=True)
    base = statistics.median(r["search_s"] for r in runs[modes[0]])
    print(f"{'mode':<10} {'pools':>7} {'search s':>9} {'run s':>7} {'ratio':>6}   ({os.cpu_count()} CPUs, "
          f"{args.repeats} repeats, {args.epochs} epochs, medians)")
    for mode in modes:
        search = statistics.median(r["search_s"] for r in runs[mode])
        total = statistics.median(r["run_s"] for r in runs[mode])
        pools = "/".join(map(str, runs[mode][0]["pools"]))
        print(f"{mode:<10} {pools:>7} {search:>9.1f} {total:>7.1f} {search / base:>6.2f}")


if __name__ == "__main__":
    main()
