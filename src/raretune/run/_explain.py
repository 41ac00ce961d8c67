"""The explanation stage: what the chosen model relies on, where it errs, how segments fare.

Binary tables only, on the test rows, at the decision: permutation importance of every input
column (drop in test PR-AUC, with an interval over repeats), the highest-scoring false alarms
and lowest-scoring missed positives, and with ``segment_by`` the test figures per segment.

Under a time limit the importance is the phase's cost (one scoring of the test rows per
column and repeat): one scoring is timed first, and the repeats are cut to what fits, down to
one; when even one shuffle of every column does not fit, the importance is left out and the
run says so.
"""

from __future__ import annotations

import numpy as np

__all__ = ["explain"]

#: Shuffles of each column for its importance.
IMPORTANCE_REPEATS = 3
#: Rows of each kind of error listed.
WORST_ERRORS = 10


def explain(plan, modality, model, decision, split, data, test_score, budget=None) -> dict:
    """``metrics.json["explanations"]``: importance, worst errors, segments.

    With a ``budget`` (:class:`~raretune.run._budget.Budget`) the importance's repeats are
    cut to what fits (``importance_repeats`` says how many ran); ``importance`` is absent,
    with ``importance_skipped`` saying why, when one repeat does not fit.
    """
    from ..explain import permutation_importance, segment_table, worst_errors

    test = split.test

    def predict(features):
        return decision.scores(modality.predict_raw(model, test.with_rows(features, test.y)))

    out = {}
    repeats = importance_repeats(budget, predict, test.features, IMPORTANCE_REPEATS)
    if repeats:
        out["importance"] = permutation_importance(predict, test.features, test.y, objective="pr_auc",
                                                   n_repeats=repeats, random_state=plan.seed)
        out["importance_on"] = "test PR-AUC"
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
