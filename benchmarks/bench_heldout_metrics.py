"""Scoring millions of held-out rows: the lean binary path of score_predictions against scikit-learn's.

Each (path, size) runs in a fresh Python process, so its peak resident memory is its own:
labels (int8, about 0.3 % positives, the rate of ``synthetic_fraud``) and float32 scores
with ties are built in chunks, then ``score_predictions`` runs once. The lean path is
``score_predictions`` itself; the scikit-learn path is its private ``_sklearn_scores``, the
code every binary unweighted call took before. Prints a Markdown table of seconds and of
the peak-RSS increase over the resident memory just before the call.

    python benchmarks/bench_heldout_metrics.py --rows 1000000 5000000
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _subprocess import run_workers  # noqa: E402


def _resident_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _data(n: int, rate: float):
    """Labels and float32 scores, built a chunk at a time so that building leaves no peak."""
    rng = np.random.default_rng(0)
    y = np.empty(n, dtype=np.int8)
    score = np.empty(n, dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        part = (rng.random(stop - start) < rate).astype(np.int8)
        logit = np.where(part == 1, rng.normal(0, 1.5, part.size), rng.normal(-3, 1, part.size))
        y[start:stop] = part
        score[start:stop] = np.round(1 / (1 + np.exp(-logit)), 5)  # 5 decimals: many tied scores
    return y, score


def _worker(path: str, n: int, rate: float) -> None:
    import sklearn.metrics  # noqa: F401  (imported before measuring, for both paths)

    from raretune.metrics import _sklearn_scores, score_predictions

    y, score = _data(n, rate)
    before = _resident_mb()
    start = time.perf_counter()
    if path == "lean":
        out = score_predictions(y, score, threshold=0.5)
    else:
        out = _sklearn_scores(y, score, threshold=0.5, costs=None, class_names=None, cost=None, sample_weight=None)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak - before, "resident_mb": before,
                      "pr_auc": out["pr_auc"], "roc_auc": out["roc_auc"], "f1": out["f1"]}))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--rate", type=float, default=0.003)
    args = parser.parse_args()
    print("| rows | path | seconds | peak RSS increase MB | bytes/row | PR-AUC | ROC-AUC | F1 |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for n in args.rows:
        for path in ("sklearn", "lean"):
            r = run_workers(__file__, [[path, n, args.rate]])
            print(f"| {n:,} | {path} | {r['seconds']:.2f} | {r['peak_mb']:.0f} | {r['peak_mb'] * 2**20 / n:.1f} "
                  f"| {r['pr_auc']:.12f} | {r['roc_auc']:.12f} | {r['f1']:.6f} |", flush=True)


if __name__ == "__main__":
    main()
