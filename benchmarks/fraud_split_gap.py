"""Test PR-AUC of the same raretune run under a random, a grouped and an out-of-time + grouped split.

Data: version 2.0.0 of ``synthetic_fraud`` (``transaction_stream.generate_stream``: six months
of transactions whose fraud pattern drifts, with fraud rings that reuse devices), generated
locally, ``--rows`` rows from ``--data-seed``. The model sees the columns that are known when a
transaction is scored (``transaction_stream.FEATURE_NAMES``: amount, hour, account age, customers
of the device in 30 days, merchant category, channel, country); ids and ``label_available_at`` (which gives the
label away) are never features.

Three runs of ``raretune.run`` with the same options and budgets (those of ``--fast``: 4 trials
of at most 2 epochs, hold-out validation, no baseline, no report):

``random``
    raretune's default split: stratified at random, 70 / 15 / 15.
``group``
    ``group_column="customer_id"``: no customer in more than one part, parts drawn at random in time.
``time+group``
    ``time_column="timestamp", group_column="customer_id"`` (and ``gap`` if ``--gap``): train on
    the earliest 70 % of the rows, validate on the next 15 %, test on the latest 15 %. Time decides
    the parts (a customer's later rows rightly land in test); with hold-out validation there are
    no folds for groups to be kept whole in, so the group column is only left out of the features,
    as the timestamp is.

Each run scores its own test part, so the two test sets differ: the random one is a sample of
all six months, the out-of-time one is the last weeks of June. The table gives each run's test
PR-AUC, its test positive rate (the PR-AUC of a random score) and the gap. ``--json`` writes the
numbers too.

Examples
--------
::

    python benchmarks/fraud_split_gap.py --json benchmarks/results/fraud_split_gap.json
    python benchmarks/fraud_split_gap.py --rows 20000 --gap 14d

The default (60,000 rows) took 113 s of CPU time and 7 minutes 42 seconds of wall time on two
cores shared with other jobs; ``docs/fraud.md`` quotes its numbers.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd

import raretune
from raretune.datasets.builders.synthetic_fraud import transaction_stream as ts

#: The budgets ``--fast`` gives (raretune.run._config), without its 20,000-row subsample.
FAST_BUDGET = dict(max_trials=4, max_epochs=2, folds=1, baseline=False, report=False, refit=False)


def load_frame(rows: int, seed: int) -> pd.DataFrame:
    """The version 2.0.0 table as a DataFrame: model features, time, customer and label."""
    table = ts.generate_stream(rows, seed)
    columns = list(ts.FEATURE_NAMES) + ["timestamp", "customer_id", ts.LABEL]
    return pd.DataFrame({name: table[name] for name in columns})


def run_split(frame: pd.DataFrame, split: str, seed: int, gap: str | None, out: Path) -> dict:
    """One run; its test PR-AUC, positive rate, rows and seconds."""
    options = dict(target=ts.LABEL, seed=seed, quiet=True, out=str(out / split), **FAST_BUDGET)
    if split == "random":
        data = frame.drop(columns=["timestamp", "customer_id"])
    elif split == "group":
        data = frame.drop(columns=["timestamp"])
        options.update(group_column="customer_id")
    else:
        data = frame
        options.update(time_column="timestamp", group_column="customer_id", gap=gap)
    start = time.perf_counter()
    result = raretune.run(data=data, **options)
    test = result.metrics["test"]
    return {"split": split, "pr_auc": test["pr_auc"], "positive_rate": test["positive_rate"],
            "n_test": result.metrics["data"]["n_test"], "seconds": time.perf_counter() - start}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0, help="raretune's seed")
    parser.add_argument("--gap", default=None, help="time left out before validation and test, e.g. 14d")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    frame = load_frame(args.rows, args.data_seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for split in ("random", "group", "time+group"):
            rows.append(run_split(frame, split, args.seed, args.gap, Path(tmp)))
    gap = rows[0]["pr_auc"] - rows[2]["pr_auc"]
    print(f"synthetic_fraud 2.0.0, {args.rows:,} rows (data seed {args.data_seed}), raretune seed {args.seed}, "
          f"--fast budgets{'' if args.gap is None else f', gap {args.gap}'}")
    print(f"{'split':<12} {'test PR-AUC':>11} {'test positive rate':>18} {'test rows':>9} {'seconds':>8}")
    for row in rows:
        print(f"{row['split']:<12} {row['pr_auc']:>11.3f} {row['positive_rate']:>18.4f} {row['n_test']:>9,} "
              f"{row['seconds']:>8.0f}")
    print(f"gap (random - time+group): {gap:+.3f} PR-AUC")
    record = {"rows": args.rows, "data_seed": args.data_seed, "seed": args.seed, "gap": args.gap,
              "runs": rows, "pr_auc_gap": gap}
    if args.json is not None:
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    return record


if __name__ == "__main__":
    main()
