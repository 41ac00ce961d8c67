"""Does greedy ensemble selection on one fold layout hold up on another?

With 10-60 rare rows, a candidate's out-of-fold PR-AUC moves with the fold layout, and
greedy selection (raretune's ``greedy_ensemble``, bagged as the run does it) fits that
noise. This script measures it on KEEL tables with few positives, with the converged
candidates only (no networks; they are what repeated cross-fitting would refit):

1. one stratified 70/30 split per table (``benchmarks/keel.py``'s ``split_once``); the 70 %
   are the cross-fitted rows, the 30 % the test rows;
2. every converged candidate of a run (logistic regressions, SMOTE + LR, boosted trees,
   random forest, extra trees) is cross-fitted on ``--layouts`` fold layouts (5 stratified
   folds, layout ``l`` seeded ``1000 + l``); the last two layouts (``E``) are kept for
   evaluation only;
3. for each replicate ``a`` (the search's layout ``A``), the ensemble is selected on

   * ``single``: A's out-of-fold scores alone (what raretune does now: bagged greedy,
     10 bags, best candidate kept alone when the ensemble scores below it on A);
   * ``single_b1``: the same without bagging;
   * ``avg3`` / ``avg5``: the mean of each candidate's out-of-fold scores over A and the
     next 2 (4) selection layouts;
   * ``avg3_shrink``: ``avg3`` with its weights moved half way to equal weights over the
     members it chose;
   * ``best``: the best single candidate on A; ``equal``: every candidate, equal weights;

   and the selection is scored on the E layouts' out-of-fold scores (mean PR-AUC over E, the
   honest estimate of what the selection is worth) and on the test rows with A's fold models
   (what the saved model would hold).

``on_A - on_E`` is the selection's optimism. The spread of one candidate's PR-AUC over
layouts (``layout_sd``) is printed per table, to show where repeating the folds pays.
Results go to ``benchmarks/results/selection_stability.json`` (``--out``); the reading of seeds 0
and 1 is in ``benchmarks/results/selection_stability.md``.

Example::

    PYTHONPATH=src python benchmarks/selection_stability.py
    PYTHONPATH=src python benchmarks/selection_stability.py --seed 1 --out benchmarks/results/selection_stability_seed1.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from keel import as_frame, load_keel, split_once  # noqa: E402

TABLES = ("glass4", "winequality_red_8_vs_6_7", "abalone9_18", "yeast_2_vs_4", "vowel0")
FOLDS = 5
BAGS = 10


class FastPRAUC:
    """raretune's ``pr_auc`` objective (scikit-learn's average precision, ties grouped),
    computed with one sort instead of scikit-learn's checks: greedy selection scores it
    thousands of times. Checked against ``average_precision_score`` at start."""

    name, direction = "pr_auc", "max"

    @staticmethod
    def score(y, p):
        y = np.asarray(y)
        order = np.argsort(-np.asarray(p), kind="mergesort")
        p_sorted, y_sorted = np.asarray(p)[order], y[order]
        last = np.r_[np.flatnonzero(np.diff(p_sorted)), y.size - 1]  # end of each group of tied scores
        tp = np.cumsum(y_sorted)[last]
        positives = tp[-1]
        if positives == 0:
            return 0.0
        precision = tp / (last + 1)
        recall_step = np.diff(np.r_[0, tp]) / positives
        return float(np.sum(recall_step * precision))

    def bag(self, y, rows):
        return np.asarray(y)[rows], self


def _check_objective(rng):
    from sklearn.metrics import average_precision_score

    for _ in range(20):
        y = (rng.random(200) < 0.1).astype(int)
        y[0] = 1
        p = np.round(rng.random(200), 1)  # ties
        assert abs(FastPRAUC.score(y, p) - average_precision_score(y, p)) < 1e-12


def members():
    from raretune.tuning import FOREST_CONFIGS, LINEAR_C, SMOTE_C, TREE_CONFIGS

    return ([{"model": "logistic_regression", "C": C} for C in LINEAR_C]
            + [{"model": "boosted_trees", "config": name} for name in TREE_CONFIGS]
            + [{"model": name} for name in FOREST_CONFIGS]
            + [{"model": "smote_logistic_regression", "C": SMOTE_C}])


def cross_fit_member(schema, rows, ids, member, seed):
    """``(out-of-fold, fitted fold models)`` with raretune's own cross-fitting helpers."""
    from raretune.tuning import cross_fit_forest, cross_fit_logistic, cross_fit_smote_logistic, cross_fit_trees

    kind = member["model"]
    if kind == "logistic_regression":
        return cross_fit_logistic(schema, rows, ids, C=member["C"], random_state=seed)
    if kind == "smote_logistic_regression":
        return cross_fit_smote_logistic(schema, rows, ids, C=member["C"], random_state=seed)
    if kind in ("random_forest", "extra_trees"):
        return cross_fit_forest(schema, rows, ids, config=kind, random_state=seed)
    return cross_fit_trees(schema, rows, ids, config=member["config"], random_state=seed)


def fit_table(name, n_layouts, seed):
    """Per candidate: out-of-fold scores on every layout (L, n), test scores per layout (L, m)."""
    from raretune.datasets import load_data
    from raretune.models import FeatureSchema
    from raretune.models.export import linear_features
    from raretune.tuning import fold_assignment

    X, y = load_keel(name)
    train, test = split_once(X, y, seed)
    rows = load_data(as_frame(X[train], y[train]), target="label", positive="pos")
    schema = FeatureSchema.from_data(rows)
    X_test = linear_features(schema, as_frame(X[test]))
    oof = np.zeros((len(members()), n_layouts, rows.n_rows))
    test_scores = np.zeros((len(members()), n_layouts, len(test)))
    seconds = np.zeros(len(members()))
    for layout in range(n_layouts):
        ids = fold_assignment(rows.y, FOLDS, random_state=1000 + layout)
        for j, member in enumerate(members()):
            started = time.monotonic()
            raw, fitted = cross_fit_member(schema, rows, ids, member, seed)
            seconds[j] += time.monotonic() - started
            oof[j, layout] = raw
            test_scores[j, layout] = np.mean([m.predict_proba(X_test)[:, 1] for m in fitted], axis=0)
    return rows.y, y[test], oof, test_scores, seconds


def select(predictions, y, bags, seed):
    """raretune's choice: bagged greedy counts, or the best candidate alone when the
    ensemble scores below it on the rows it was chosen on (``choose_ensemble``)."""
    from raretune.tuning import greedy_ensemble

    objective = FastPRAUC()
    scores = [objective.score(y, p) for p in predictions]
    counts = np.asarray(greedy_ensemble(predictions, y, objective, bags=bags, random_state=seed), dtype=float)
    average = counts @ np.asarray(predictions) / counts.sum()
    if (counts > 0).sum() == 1 or objective.score(y, average) < max(scores):
        counts = np.zeros(len(predictions))
        counts[int(np.argmax(scores))] = 1
    return counts / counts.sum()


def replicate(y, y_test, oof, test_scores, a, selection_layouts, eval_layouts, seed):
    """Every variant's weights chosen with layout ``a`` as the search's; their scores."""
    score = FastPRAUC.score
    n_sel = len(selection_layouts)

    def window(r):
        return [selection_layouts[(a + i) % n_sel] for i in range(r)]

    weights = {
        "single": select(list(oof[:, a]), y, BAGS, seed),
        "single_b1": select(list(oof[:, a]), y, 1, seed),
        "avg3": select(list(oof[:, window(3)].mean(axis=1)), y, BAGS, seed),
        "avg5": select(list(oof[:, window(5)].mean(axis=1)), y, BAGS, seed) if n_sel >= 5 else None,
    }
    chosen = weights["avg3"] > 0
    weights["avg3_shrink"] = 0.5 * weights["avg3"] + 0.5 * chosen / chosen.sum()
    best = np.zeros(oof.shape[0])
    best[int(np.argmax([score(y, p) for p in oof[:, a]]))] = 1
    weights["best"] = best
    weights["equal"] = np.full(oof.shape[0], 1 / oof.shape[0])
    out = {}
    for variant, w in weights.items():
        if w is None:
            continue
        out[variant] = {
            "on_A": score(y, w @ oof[:, a]),
            "on_E": float(np.mean([score(y, w @ oof[:, e]) for e in eval_layouts])),
            "test": score(y_test, w @ test_scores[:, a]),
            "members": int((w > 0).sum()),
        }
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default=",".join(TABLES))
    parser.add_argument("--layouts", type=int, default=8, help="fold layouts per table; the last 2 score only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(HERE / "results" / "selection_stability.json"))
    args = parser.parse_args(argv)
    if args.layouts < 7:
        parser.error("--layouts must be at least 7 (5 to select on, 2 to score on)")
    from raretune._threads import sklearn_phase

    _check_objective(np.random.default_rng(0))
    selection_layouts = list(range(args.layouts - 2))
    eval_layouts = [args.layouts - 2, args.layouts - 1]
    results = {"layouts": args.layouts, "folds": FOLDS, "bags": BAGS, "seed": args.seed, "tables": {}}
    for name in args.tables.split(","):
        started = time.monotonic()
        with sklearn_phase():  # one OpenMP thread: boosted trees crawl on shared cores otherwise
            y, y_test, oof, test_scores, seconds = fit_table(name, args.layouts, args.seed)
        per_candidate = np.array([[FastPRAUC.score(y, oof[j, layout]) for layout in range(args.layouts)]
                                  for j in range(oof.shape[0])])
        runs = [replicate(y, y_test, oof, test_scores, a, selection_layouts, eval_layouts, args.seed)
                for a in selection_layouts]
        variants = {v: {k: float(np.mean([r[v][k] for r in runs])) for k in ("on_A", "on_E", "test", "members")}
                    for v in runs[0]}
        results["tables"][name] = {
            "rows": int(y.size), "positives": int(y.sum()), "test_positives": int(y_test.sum()),
            "layout_sd": float(per_candidate.std(axis=1, ddof=1).mean()),
            "candidate_seconds_per_layout": {_label(m): float(s / args.layouts) for m, s in zip(members(), seconds)},
            "variants": variants, "seconds": time.monotonic() - started,
        }
        print(f"\n{name}: {y.size} rows, {int(y.sum())} positives ({int(y_test.sum())} in test), "
              f"candidate PR-AUC sd over layouts {results['tables'][name]['layout_sd']:.3f}, "
              f"{seconds.sum() / args.layouts:.1f} s a layout", flush=True)
        print(f"  {'variant':<12} {'on A':>7} {'on E':>7} {'A - E':>7} {'test':>7} {'members':>7}")
        for variant, v in variants.items():
            print(f"  {variant:<12} {v['on_A']:7.4f} {v['on_E']:7.4f} {v['on_A'] - v['on_E']:7.4f} "
                  f"{v['test']:7.4f} {v['members']:7.1f}", flush=True)
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    names = list(results["tables"])
    print("\nmean over tables")
    for variant in results["tables"][names[0]]["variants"]:
        rows = [results["tables"][n]["variants"][variant] for n in names]
        print(f"  {variant:<12} on E {np.mean([r['on_E'] for r in rows]):.4f}  "
              f"test {np.mean([r['test'] for r in rows]):.4f}")


def _label(member):
    return "_".join(str(v) for v in member.values())


if __name__ == "__main__":
    main()
