"""Cleaning samplers: raretune vs imbalanced-learn, side by side, same rows.

Each measurement runs in a fresh subprocess, so its peak resident memory (``ru_maxrss``) is
its own. Prints one table: median seconds over the repeats, peak MB, speed-up, and whether
the kept rows are identical.

    python benchmarks/bench_cleaning.py            # 60k x 30 cleaning, 200k x 30 combined
    python benchmarks/bench_cleaning.py --quick    # 20k x 30 and 40k x 30
    python benchmarks/bench_cleaning.py --only combined --combined-rows 100000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _subprocess import run_workers  # noqa: E402

SAMPLERS = ("TomekLinks", "EditedNearestNeighbours", "SMOTETomek", "SMOTEENN")


def fraud_like(n_rows: int, n_features: int = 30, positive_share: float = 0.01, seed: int = 0):
    """PCA-like features (decreasing spread, as in card-fraud tables) and rare positives
    shifted along a few components, with overlap between the classes."""
    rng = np.random.default_rng(seed)
    spread = 3.0 * 0.85 ** np.arange(n_features)
    y = (rng.random(n_rows) < positive_share).astype(np.int64)
    X = rng.standard_normal((n_rows, n_features)) * spread
    shift = np.zeros(n_features)
    shift[[1, 3, 6]] = [2.2, -2.0, 1.6]
    X[y == 1] += shift * spread
    return X, y


def isotropic(n_rows: int, n_features: int = 30, positive_share: float = 0.01, seed: int = 0):
    """scikit-learn's make_classification: 10 informative features, 20 of pure noise."""
    from sklearn.datasets import make_classification

    return make_classification(
        n_rows, n_features, n_informative=10, weights=[1 - positive_share], random_state=seed
    )


DATA = {"fraud_like": fraud_like, "make_classification": isotropic}


def worker(sampler: str, implementation: str, data: str, n_rows: int) -> None:
    X, y = DATA[data](n_rows)
    if implementation == "raretune":
        import raretune.resample as module
    elif sampler in ("SMOTETomek", "SMOTEENN"):
        import imblearn.combine as module
    else:
        import imblearn.under_sampling as module
    kwargs = {"random_state": 0} if sampler in ("SMOTETomek", "SMOTEENN") else {}
    start = time.perf_counter()
    X_res, y_res = getattr(module, sampler)(**kwargs).fit_resample(X, y)
    seconds = time.perf_counter() - start
    digest = hashlib.sha256(np.ascontiguousarray(X_res).tobytes() + y_res.tobytes()).hexdigest()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "digest": digest, "rows": len(y_res)}))


def measure(sampler, implementation, data, n_rows, repeats):
    return run_workers(__file__, [[sampler, implementation, data, n_rows]] * repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (minutes, not ten)")
    parser.add_argument("--rows", type=int, help="rows for TomekLinks and ENN (default 60000)")
    parser.add_argument("--combined-rows", type=int, help="rows for SMOTETomek, SMOTEENN (200000)")
    parser.add_argument("--only", choices=["cleaning", "combined"], help="run one half of the table")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        sampler, implementation, data, n_rows = args.worker
        worker(sampler, implementation, data, int(n_rows))
        return
    cleaning_rows, combined_rows = (20_000, 40_000) if args.quick else (60_000, 200_000)
    cleaning_rows = args.rows or cleaning_rows
    combined_rows = args.combined_rows or combined_rows
    cases = [
        ("TomekLinks", "fraud_like", cleaning_rows, 3, 3),
        ("EditedNearestNeighbours", "fraud_like", cleaning_rows, 3, 3),
        ("TomekLinks", "make_classification", cleaning_rows, 3, 3),
        ("EditedNearestNeighbours", "make_classification", cleaning_rows, 3, 3),
        ("SMOTETomek", "fraud_like", combined_rows, 3, 1),
        ("SMOTEENN", "fraud_like", combined_rows, 3, 1),
    ]
    header = (
        f"{'sampler':<24} {'data':<20} {'rows':>8} {'imblearn s':>11} {'raretune s':>11} "
        f"{'speed-up':>9} {'imblearn MB':>12} {'raretune MB':>12} {'same rows':>10}"
    )
    print(f"1% positives, 30 features; median of repeats (raretune/imblearn shown in n=...)")
    print(header)
    print("-" * len(header))
    if args.only == "cleaning":
        cases = cases[:4]
    elif args.only == "combined":
        cases = cases[4:]
    for sampler, data, n_rows, ours_repeats, theirs_repeats in cases:
        theirs = measure(sampler, "imblearn", data, n_rows, theirs_repeats)
        ours = measure(sampler, "raretune", data, n_rows, ours_repeats)
        print(
            f"{sampler:<24} {data:<20} {n_rows:>8,} {theirs['seconds']:>8.2f} n={theirs_repeats}"
            f" {ours['seconds']:>7.2f} n={ours_repeats} {theirs['seconds'] / ours['seconds']:>8.1f}x "
            f"{theirs['peak_mb']:>12,.0f} {ours['peak_mb']:>12,.0f} "
            f"{'yes' if ours['digest'] == theirs['digest'] else 'NO':>10}",
            flush=True,
        )


if __name__ == "__main__":
    main()
