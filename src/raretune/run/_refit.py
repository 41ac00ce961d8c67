"""The refit stage: after the test set is scored, retrain the chosen models on every row.

Cross-fitted runs only. Each chosen trial is rebuilt from its hyperparameters and trained,
cross-fitted over training and test rows together, for the epochs at which it scored best;
each converged member is cross-fitted again. Calibration and threshold are then decided
again, by the same function as before, on the refitted models' out-of-fold scores.
"""

from __future__ import annotations

import time

from .._threads import sklearn_phase
from ._candidates import fit_converged
from ._decide import decide
from ._ensemble import weighted_average
from ._plan import concat_rows

__all__ = ["best_epochs", "refit"]


def refit(plan, hypermodel, search, chosen, split, values: dict | None = None):
    """Retrain ``chosen``'s members on train + test rows; decide again out of fold.

    ``values``: those rows' ``cost`` and ``sample_weight`` (the search rows, then the test
    rows), for training, the objective and the threshold.

    Returns
    -------
    (keras.Model, Decision, dict)
        The averaged refitted model, its decision, and the ``metrics.json`` ``refit`` record
        (without the decision, which the record stage adds).
    """
    from ..models import average_models
    from ..tuning import TabularHyperModel

    started = time.monotonic()
    rows = concat_rows(split.train, split.test)
    values = values or {}
    objective = plan.objective.on_rows(rows.y, **values)
    refitter = TabularHyperModel(
        hypermodel.schema, strategies=hypermodel.strategies, objective=objective, random_state=plan.seed,
        memory_budget=hypermodel.memory_budget, folds=min(hypermodel.folds, int(rows.class_counts.min())), rows=rows,
        sample_weight=values.get("sample_weight"),
    )
    networks, predictions, weights, epochs = [], [], [], []
    for member in chosen.members:
        if member["trial_id"] is None:  # a converged model: cross-fitted again on every row
            with sklearn_phase():
                oof, network = fit_converged(hypermodel.schema, rows, refitter.folds_of(rows)[0], member, plan.seed,
                                             refitter.weights_of(rows))
            predictions.append(oof)
            epochs.append(None)
        else:
            trial = search.tuner.oracle.trials[member["trial_id"]]
            hp = trial.hyperparameters.copy()
            network = refitter.build(hp)
            epochs.append(best_epochs(trial))
            refitter.fit(hp, network, train=rows, epochs=epochs[-1])
            predictions.append(refitter.out_of_fold(network, rows))
        networks.append(network)
        weights.append(int(member["weight"]))
    raw = weighted_average(predictions, weights)
    decision = decide(plan, rows.y, raw, chosen.prior, values)
    record = {
        "n_rows": rows.n_rows,
        "folds": refitter.folds,
        "members": [{**m, "epochs": e} for m, e in zip(chosen.members, epochs)],
        "validation_score": float(objective.score(rows.y, raw)),
        "seconds": time.monotonic() - started,
    }
    return average_models(networks, weights), decision, record


def best_epochs(trial) -> int:
    """Epochs from scratch to a trial's best checkpoint.

    Keras Tuner counts ``best_step`` within the trial's own ``fit`` call; a trial that
    Hyperband continued from an earlier one started at ``tuner/initial_epoch``.
    """
    start = int(trial.hyperparameters.values.get("tuner/initial_epoch", 0) or 0)
    return start + int(trial.best_step) + 1
