"""Money saved on ``synthetic_fraud`` 2.0.0 when the threshold minimises money lost, against F1.

The same data as ``fraud_split_gap.py`` (``--rows`` rows of the six-month transaction stream,
generated locally), raretune's default random split and the ``--fast`` budgets, with
``cost_column="amount"``: a missed fraud costs its amount, a false alarm ``--cost-fp`` (an
analyst's review). Two runs with the same seed differ only in the threshold rule, ``cost`` and
``f1``; the same test PR-AUC in both shows that the networks are the same. Each run's
``metrics.json["test"]["cost"]`` gives the money lost on the test rows, the money saved against
flagging nobody (with its bootstrap interval) and the amount-weighted recall.

::

    python benchmarks/fraud_money.py --json benchmarks/results/fraud_money.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import raretune
from raretune.datasets.builders.synthetic_fraud import transaction_stream as ts

from fraud_split_gap import FAST_BUDGET, load_frame


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0, help="raretune's seed")
    parser.add_argument("--cost-fp", type=float, default=5.0, help="cost of a false alarm (default 5)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    data = load_frame(args.rows, args.data_seed).drop(columns=["timestamp", "customer_id"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for rule in ("cost", "f1"):
            start = time.perf_counter()
            result = raretune.run(data=data, target=ts.LABEL, seed=args.seed, quiet=True, out=str(Path(tmp) / rule),
                                  cost_column="amount", cost_fp=args.cost_fp, threshold=rule, **FAST_BUDGET)
            test = result.metrics["test"]
            cost = test["cost"]
            rows.append({"threshold_rule": rule, "threshold": result.metrics["threshold"]["value"],
                         "pr_auc": test["pr_auc"], "precision": test["precision"], "recall": test["recall"],
                         "money_lost": cost["money_lost"], "money_saved_vs_flag_nobody": cost["money_saved_vs_flag_nobody"],
                         "saved_interval": cost["intervals"]["money_saved_vs_flag_nobody"],
                         "flag_nobody_money_lost": cost["flag_nobody_money_lost"],
                         "amount_weighted_recall": cost["amount_weighted_recall"],
                         "seconds": time.perf_counter() - start})
    print(f"synthetic_fraud 2.0.0, {args.rows:,} rows, random split, --fast budgets, seed {args.seed}; "
          f"a missed fraud costs its amount, a false alarm {args.cost_fp:g}")
    print(f"{'rule':<5} {'threshold':>9} {'PR-AUC':>7} {'precision':>9} {'recall':>7} {'amount recall':>13} "
          f"{'money lost':>11} {'saved vs nobody':>16} {'95% interval':>21}")
    for r in rows:
        low, high = r["saved_interval"]
        print(f"{r['threshold_rule']:<5} {r['threshold']:>9.4f} {r['pr_auc']:>7.3f} {r['precision']:>9.3f} "
              f"{r['recall']:>7.3f} {r['amount_weighted_recall']:>13.3f} {r['money_lost']:>11,.0f} "
              f"{r['money_saved_vs_flag_nobody']:>16,.0f} {f'{low:,.0f} to {high:,.0f}':>21}")
    record = {"rows": args.rows, "data_seed": args.data_seed, "seed": args.seed, "cost_fp": args.cost_fp, "runs": rows}
    if args.json is not None:
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    return record


if __name__ == "__main__":
    main()
