"""The leaderboard: the best trial of every remedy, the converged candidates and a baseline.

The choice between remedies is made on validation scores (``validation_score``); test
PR-AUC is shown for information only. The baseline is scikit-learn's class-weighted
HistGradientBoosting, scored the same way (out of fold over the same folds when the run is
cross-fitted). With a weight column every PR-AUC here is weighted by the rows' sample weights
(``values``: the run's :class:`~raretune.run._row_values.RowValues`), like the objective.
"""

from __future__ import annotations

import time

from ..metrics import get_objective
from ._candidates import member_label

__all__ = ["baseline_row", "chosen_row", "converged_row", "remedy_rows"]

_PR_AUC = get_objective("pr_auc")


def _pr_auc(y, raw, values, part: str) -> float:
    """PR-AUC of ``raw`` on ``y``, weighted by ``part``'s sample weights when there are any."""
    weight = None if values is None else values.of(part)["sample_weight"]
    return float(_PR_AUC.score(y, raw, sample_weight=weight))


def remedy_rows(plan, modality, search, test, values=None) -> list:
    """One row per remedy tried: its best trial's validation score, trial count and time."""
    rows = {}
    for trial in search.ranked:
        strategy = trial.hyperparameters.values.get("strategy")
        if strategy in rows:
            continue
        if plan.objective.name == "pr_auc":
            pr_auc = trial.score
        else:
            pr_auc = trial.metrics.get_best_value("val_pr_auc") if trial.metrics.exists("val_pr_auc") else None
        same = [t for t in search.ranked if t.hyperparameters.values.get("strategy") == strategy]
        seconds = [search.trial_log.seconds.get(t.trial_id) for t in same]
        rows[strategy] = {
            "name": strategy,
            "kind": "remedy",
            "trial_id": trial.trial_id,
            "validation_score": trial.score,
            "validation_pr_auc": pr_auc,
            "trials": len(same),
            "seconds": float(sum(x for x in seconds if x is not None)),
            "test_pr_auc": _pr_auc(test.y, modality.predict_raw(search.tuner.load_model(trial), test), values, "test"),
        }
    return list(rows.values())


def chosen_row(plan, chosen, validation, test_raw, test, seconds: float, values=None) -> dict:
    """The saved model itself, scored like every other row (before any refit)."""
    from ._write import describe_members

    return {
        "name": f"chosen: {describe_members(chosen.members)}",
        "kind": "chosen",
        "validation_score": float(plan.objective.score(validation.y, chosen.raw)),
        "validation_pr_auc": _pr_auc(validation.y, chosen.raw, values, "validation"),
        "test_pr_auc": _pr_auc(test.y, test_raw, values, "test"),
        "seconds": seconds,
    }


def converged_row(plan, modality, candidate, validation, test, values=None) -> dict:
    """A converged model's row: out-of-fold scores, and test PR-AUC for information."""
    return {
        "name": member_label(candidate.member),
        "kind": "converged",
        "validation_score": float(plan.objective.score(validation.y, candidate.raw)),
        "validation_pr_auc": _pr_auc(validation.y, candidate.raw, values, "validation"),
        "test_pr_auc": _pr_auc(test.y, modality.predict_raw(candidate.network, test), values, "test"),
        "seconds": candidate.seconds,
    }


def baseline_row(plan, modality, split, *, folds=None, values=None) -> dict:
    """scikit-learn's HistGradientBoosting with balanced class weights, scored the same way.

    With cross-fitting (``folds``: each training row's fold id) its validation score is out
    of fold too, over the same folds. ``values``: the rows' ``cost`` and ``sample_weight``
    (:class:`~raretune.run._row_values.RowValues`) for its scores (the model itself is fitted
    unweighted).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    started = time.monotonic()
    train = split.train

    def features(part):
        return modality.baseline_features(part, train)

    def scores(y, proba, part, objective=plan.objective):
        proba = proba[:, 1] if proba.shape[1] == 2 else proba
        return objective.score(y, proba), _pr_auc(y, proba, values, part)

    model = HistGradientBoostingClassifier(class_weight="balanced", categorical_features="from_dtype",
                                           random_state=plan.seed, max_iter=200, early_stopping=True)
    if folds is not None:
        from sklearn.model_selection import PredefinedSplit, cross_val_predict

        proba = cross_val_predict(model, features(train), train.y, cv=PredefinedSplit(folds), method="predict_proba")
        validation = scores(train.y, proba, "train")
    model.fit(features(train), train.y)
    if folds is None:
        validation = scores(split.validation.y, model.predict_proba(features(split.validation)), "validation")
    test_values = values.of("test") if values is not None else {}
    test = scores(split.test.y, model.predict_proba(features(split.test)), "test",
                  plan.objective.on_rows(split.test.y, **test_values))
    return {
        "name": "hist_gradient_boosting",
        "kind": "baseline",
        "validation_score": validation[0],
        "validation_pr_auc": validation[1],
        "test_score": test[0],
        "test_pr_auc": test[1],
        "seconds": time.monotonic() - started,
    }
