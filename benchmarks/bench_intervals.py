"""The test phase's bootstrap at millions of rows: counts per group of rows against per row.

Both draw 1,000 stratified resamples of the same scores (about 0.3 % positives, the rate of
``synthetic_fraud``) and return every resample's PR-AUC and F1. The per-row path is the one
raretune used for every test part before, and still uses with sample weights (here given
unit weights); the grouped path draws one multinomial over the groups of rows between the
positives' scores. Prints seconds per size, their ratio, and both intervals.

    python benchmarks/bench_intervals.py --rows 30000 300000 3000000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from raretune.report._intervals import _grouped_resamples, _row_resamples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[30_000, 300_000, 3_000_000])
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=0.003)
    args = parser.parse_args()
    print("| rows | positives | per row s | grouped s | ratio | PR-AUC interval per row | grouped |")
    print("|---:|---:|---:|---:|---:|---|---|")
    for n in args.rows:
        rng = np.random.default_rng(0)
        y = (rng.random(n) < args.rate).astype(np.int8)
        score = np.round(1 / (1 + np.exp(-np.where(y == 1, rng.normal(0, 1.5, n), rng.normal(-3, 1, n)))), 6)
        start = time.perf_counter()
        by_row = _row_resamples(y, score, np.ones(n), 0.5, args.resamples, np.random.default_rng(1))
        row_s = time.perf_counter() - start
        start = time.perf_counter()
        grouped = _grouped_resamples(y, score, 0.5, args.resamples, np.random.default_rng(1))
        grouped_s = time.perf_counter() - start
        iv = [np.round(np.percentile(r[0], [2.5, 97.5]), 4).tolist() for r in (by_row, grouped)]
        print(f"| {n:,} | {int(y.sum()):,} | {row_s:.2f} | {grouped_s:.2f} | {grouped_s / row_s:.3f} | {iv[0]} | {iv[1]} |",
              flush=True)


if __name__ == "__main__":
    main()
