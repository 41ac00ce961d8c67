"""The explanation stage: what the chosen model relies on, where it errs, how segments fare.

Binary tables only, on the test rows, at the decision: permutation importance of every input
column (drop in test PR-AUC, with an interval over repeats), the highest-scoring false alarms
and lowest-scoring missed positives, and with ``segment_by`` the test figures per segment.
"""

from __future__ import annotations

import numpy as np

__all__ = ["explain"]

#: Shuffles of each column for its importance.
IMPORTANCE_REPEATS = 3
#: Rows of each kind of error listed.
WORST_ERRORS = 10


def explain(plan, modality, model, decision, split, data, test_score) -> dict:
    """``metrics.json["explanations"]``: importance, worst errors, segments."""
    from ..explain import permutation_importance, segment_table, worst_errors

    test = split.test

    def predict(features):
        return decision.scores(modality.predict_raw(model, test.with_rows(features, test.y)))

    out = {
        "importance": permutation_importance(predict, test.features, test.y, objective="pr_auc",
                                             n_repeats=IMPORTANCE_REPEATS, random_state=plan.seed),
        "importance_on": "test PR-AUC",
    }
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
