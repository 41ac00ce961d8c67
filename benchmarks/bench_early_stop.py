"""The network search stopped early when converged candidates dominate: wall time and test PR-AUC.

For each KEEL table (``benchmarks/keel.py``'s split: stratified 70/30, seed 0) raretune runs
on the training part with a fixed seed, once with the code under ``--before-src`` (the search
runs every trial) and once with this checkout's (the search stops once the last trials fall
short of the converged candidates), each in a fresh process, alternating. Prints wall time,
trials run and test PR-AUC side by side. Refit, report and baseline are off on both sides
(``--options`` to change): they do not depend on the search's length.

    python benchmarks/bench_early_stop.py --before-src /work/main/src --datasets glass4,abalone9_18

Measured 2026-11-30 on 2 shared cores (load average about 7), one process after another,
refit, report and baseline off on both sides:

==================  ===========================  ===========================
table, seed         before: s, trials, PR-AUC    after: s, trials, PR-AUC
==================  ===========================  ===========================
glass4, 0           178, 40, 0.809               79, 9, 0.850
abalone9_18, 0      199, 40, 0.766               49, 5, 0.719
pima, 0             223, 40, 0.751               58, 5, 0.752
abalone9_18, 1      217, 40, 0.713               117, 7, 0.713
==================  ===========================  ===========================
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OPTIONS = {"refit": False, "report": False, "baseline": False}


def worker(dataset: str, seed: int, options: dict) -> dict:
    sys.path.insert(0, str(HERE))
    import keel
    from sklearn.metrics import average_precision_score

    X, y = keel.load_keel(dataset)
    train, test = keel.split_once(X, y, seed)
    started = time.perf_counter()
    score, _, info = keel.run_raretune(X[train], y[train], X[test], seed, options)
    return {"seconds": time.perf_counter() - started, "pr_auc": float(average_precision_score(y[test], score)),
            "n_trials": info["n_trials"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before-src", required=True, help="the src folder of the code to compare with")
    parser.add_argument("--datasets", default="glass4,abalone9_18")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sides", default="before,after")
    parser.add_argument("--options", type=json.loads, default=OPTIONS)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.options)))
        return
    sources = {"before": args.before_src, "after": str(HERE.parent / "src")}
    rows = []
    for dataset in args.datasets.split(","):
        for side in args.sides.split(","):
            env = {**os.environ, "PYTHONPATH": sources[side], "TF_CPP_MIN_LOG_LEVEL": "3"}
            out = subprocess.run([sys.executable, __file__, "--before-src", args.before_src, "--options",
                                  json.dumps(args.options), "--worker", dataset, str(args.seed)],
                                 capture_output=True, text=True, env=env, check=True)
            rows.append({"dataset": dataset, "side": side, **json.loads(out.stdout.strip().splitlines()[-1])})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(f"{'dataset':<16} {'side':<7} {'seconds':>8} {'trials':>7} {'test PR-AUC':>12}")
    for row in rows:
        print(f"{row['dataset']:<16} {row['side']:<7} {row['seconds']:>8.0f} {row['n_trials']:>7} {row['pr_auc']:>12.4f}")


if __name__ == "__main__":
    main()
