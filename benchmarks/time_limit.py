"""``--time-limit``: how long a limited run takes end to end, and what it scores, on the KEEL tables.

Each table runs in a fresh process (TensorFlow's import counts, as it does for a user of the
CLI): ``raretune.run(..., time_limit=LIMIT, seed=SEED)`` on ``keel.py``'s shared 70 % training
part, then ``raretune.predict`` on its 30 % test part, scored as ``keel.py`` scores every
system. One JSON line per table: the run's own seconds (``run_seconds``, from the call to
``raretune.run`` to its return, report included), the whole process's, the test PR-AUC,
ROC-AUC and F1, the run's phase timing, its trials, why its search stopped and its warnings.

    python benchmarks/time_limit.py --limit 60s --out benchmarks/results/time_limit_60s.jsonl
    python benchmarks/time_limit.py --datasets glass4,pima --limit 90s
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def one_table(name: str, limit: str, seed: int) -> dict:
    """The limited run on one table, in this process."""
    started = time.monotonic()
    sys.path.insert(0, str(HERE))
    import keel
    import raretune

    X, y = keel.load_keel(name)
    train, test = keel.split_once(X, y, seed)
    with tempfile.TemporaryDirectory(prefix="raretune-time-limit-") as tmp:
        run_started = time.monotonic()
        result = raretune.run(data=keel.as_frame(X[train], y[train]), target=keel.TARGET, positive=keel.POSITIVE,
                              out=Path(tmp) / "run", quiet=True, seed=seed, time_limit=limit)
        run_seconds = time.monotonic() - run_started
        scores = raretune.predict(Path(tmp) / "run", keel.as_frame(X[test]))
    prediction = (scores["prediction"] == keel.POSITIVE).to_numpy().astype(int)
    return {"dataset": name, "seed": seed, "limit": limit, "run_seconds": run_seconds,
            "process_seconds": time.monotonic() - started,
            **keel.test_scores(y[test], scores["score"].to_numpy(), prediction),
            "timing": result.metrics["timing"], "n_trials": result.metrics["search"]["n_trials"],
            "stopped_early": result.metrics["search"].get("stopped_early"),
            "warnings": result.metrics.get("warnings")}


def main(argv=None) -> int:
    sys.path.insert(0, str(HERE))
    from keel import DATASETS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--limit", default="60s")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "time_limit_60s.jsonl")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(one_table(args.worker, args.limit, args.seed)))
        return 0
    for name in args.datasets.split(","):
        done = subprocess.run([sys.executable, __file__, "--worker", name, "--limit", args.limit,
                               "--seed", str(args.seed)], capture_output=True, text=True,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"})
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode or not lines:
            print(f"{name}: failed ({done.stderr.strip().splitlines()[-1:]})", file=sys.stderr)
            continue
        record = json.loads(lines[-1])
        with args.out.open("a") as out:
            out.write(json.dumps(record) + "\n")
        print(f"{name:28s} run {record['run_seconds']:6.1f} s  PR-AUC {record['pr_auc']:.3f}  "
              f"trials {record['n_trials']}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
