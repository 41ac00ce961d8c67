"""The explanation stage: what the chosen model relies on, where it errs, how segments fare.

Binary tables only, on the test rows, at the decision: permutation importance of every input
column (drop in test PR-AUC, with an interval over repeats), the highest-scoring false alarms
and lowest-scoring missed positives, and with ``segment_by`` the test figures per segment.

Under a time limit the importance is the phase's cost (one scoring of the test rows per
column and repeat): one scoring is timed first, and the repeats are cut to what fits, down to
one; when even one shuffle of every column does not fit, the importance is left out and the
run says so.

On more than :data:`IMPORTANCE_ROWS` test rows the importance shuffles a sample of them:
every positive (up to half the sample) and a uniform share of the other rows, each row
weighted by the inverse of its class's sampling rate, so the weighted PR-AUC estimates the
full test part's (the down-sampling of He et al., 2014). On a million test rows the 48
scorings of every row were most of the run; the worst errors and segments still read every
test row.
"""

from __future__ import annotations

import numpy as np

__all__ = ["explain", "importance_rows"]

#: Shuffles of each column for its importance.
IMPORTANCE_REPEATS = 3
#: Rows of each kind of error listed.
WORST_ERRORS = 10
#: Test rows the importance shuffles at most (see the module's notes).
IMPORTANCE_ROWS = 20_000


def explain(plan, modality, model, decision, split, data, test_score, budget=None, weight=None) -> dict:
    """``metrics.json["explanations"]``: importance, worst errors, segments.

    With a ``budget`` (:class:`~raretune.run._budget.Budget`) the importance's repeats are
    cut to what fits (``importance_repeats`` says how many ran); ``importance`` is absent,
    with ``importance_skipped`` saying why, when one repeat does not fit. ``weight``: how many
    rows each test row stands for (a streamed run's sample), so the importance's PR-AUC is
    the data's.
    """
    from ..explain import permutation_importance, segment_table, worst_errors
    from ..metrics import get_objective

    test = split.test

    out = {}
    rows, row_weight = importance_rows(test.y, IMPORTANCE_ROWS, plan.seed, weight=weight)
    features = test.features if rows is None else test.features.iloc[rows].reset_index(drop=True)
    y = test.y if rows is None else test.y[rows]
    if rows is not None:
        on = f"test PR-AUC, weighted sample of {y.size:,} rows"
    else:
        on = "test PR-AUC" if weight is None else "test PR-AUC, weighted"

    def predict(shuffled):
        return decision.scores(modality.predict_raw(model, test.with_rows(shuffled, y)))

    objective = get_objective("pr_auc").on_rows(y, sample_weight=row_weight)
    repeats = importance_repeats(budget, predict, features, IMPORTANCE_REPEATS)
    if repeats:
        out["importance"] = permutation_importance(predict, features, y, objective=objective,
                                                   n_repeats=repeats, random_state=plan.seed)
        out["importance_on"] = on
        out["importance_repeats"] = repeats
    else:
        out["importance_skipped"] = "time limit: one shuffle of every column would not fit"
    errors = worst_errors(test.y, test_score, decision.threshold, k=WORST_ERRORS)
    out["worst_errors"] = {kind: [{"row": int(i), "score": float(test_score[i])} for i in rows]
                           for kind, rows in errors.items()}
    column = plan.config.segment_by
    if column is not None:
        if column in test.features:
            segments = test.features[column]
        else:  # a column that is not a feature (e.g. the group column): taken from the loaded rows
            segments = data.features[column].to_numpy()[split.indices["test"]]
        out["segments"] = {"column": column,
                           "rows": segment_table(test.y, test_score, decision.threshold, np.asarray(segments))}
    return out


def importance_rows(y, n_max: int, seed, *, weight=None) -> tuple:
    """``(rows, weight)``: the test rows the importance shuffles and their weights.

    ``(None, weight)`` (every row, with the given weights) for at most ``n_max`` rows.
    Otherwise every positive (label 1), or a uniform ``n_max // 2`` of them when there are
    more, and a uniform share of the other rows filling ``n_max``; each row's weight is the
    inverse of its class's sampling rate, times its given ``weight``. ``rows`` is sorted.
    """
    y = np.asarray(y)
    if y.size <= n_max:
        return None, weight
    rng = np.random.default_rng(seed)
    positive, other = np.flatnonzero(y == 1), np.flatnonzero(y != 1)
    n_positive = min(positive.size, n_max // 2)
    kept_positive = rng.choice(positive, size=n_positive, replace=False)
    kept_other = rng.choice(other, size=min(other.size, n_max - n_positive), replace=False)
    rows = np.sort(np.concatenate([kept_positive, kept_other]))
    rate_weight = np.where(y[rows] == 1, positive.size / max(n_positive, 1), other.size / max(kept_other.size, 1))
    return rows, rate_weight if weight is None else rate_weight * np.asarray(weight, dtype=float)[rows]


def importance_repeats(budget, predict, features, wanted: int) -> int:
    """How many shuffles of every column fit in the ``budget``: ``wanted`` without a limit, else
    as many as one timed scoring of the rows says fit (0: none)."""
    if budget is None or budget.limit is None:
        return wanted
    started = budget.clock()
    predict(features)
    per_repeat = (budget.clock() - started) * max(1, len(features.columns))
    fitting = [r for r in range(wanted, 0, -1) if budget.fits(r * per_repeat)]
    return fitting[0] if fitting else 0
