"""The record stage: ``config.json`` at the start, then ``metrics.json`` and the artefacts.

Every file is written atomically (:mod:`raretune._io`); ``metrics.json`` is built from the
typed records of :mod:`raretune.record`.
"""

from __future__ import annotations

import datetime as _dt
import platform
from collections import Counter
from pathlib import Path

import numpy as np

from .._version import __version__
from .._io import atomic_path, write_json
from ..remedies import remedy_settings
from ..record import (BestRecord, DataRecord, DeployedRecord, EnsembleRecord, MetricsRecord, SearchRecord,
                      TaskRecord)

__all__ = ["describe_members", "history_of", "summary", "write_config", "write_model", "write_scores", "write_split"]


def write_config(path: Path, config, fingerprint: str, modality, data) -> None:
    """``config.json``: the options, the fingerprint of data + search, and the model's input description."""
    write_json(path / "config.json", {
        "raretune_version": __version__, "config": config.to_dict(), "fingerprint": fingerprint,
        **modality.record(), "classes": list(data.classes), "target": data.target,
    })


def write_model(path: Path, model, calibration: dict) -> None:
    """``model.keras``, atomically: ``model`` followed by the deployed ``calibration``.

    The calibration (``ProbabilityCalibrator.to_dict()``, the refit's when refitted) is
    part of the graph, so plain ``keras.models.load_model`` gives calibrated probabilities.
    """
    from ..models import calibrated_model

    with atomic_path(path / "model.keras", suffix=".keras") as tmp:
        calibrated_model(model, calibration).save(tmp)


def write_scores(path: Path, validation_y, validation_raw, validation_score, test_y, test_raw, test_score,
                 values=None) -> None:
    """``scores.npz``: validation (out of fold) and test labels, raw and calibrated scores.

    ``values``: the rows' costs and weights (:class:`~raretune.run._row_values.RowValues`);
    with a cost or weight column, each part's ``{part}_cost`` and ``{part}_sample_weight``
    are stored beside its labels, so the report's explorer and cost curve count money and
    weights as ``metrics.json`` does.
    """
    arrays = {}
    for part, y in (("validation", validation_y), ("test", test_y)):
        for key, column in (values.of(part) if values is not None else {}).items():
            # a streamed run scores every row of a part, its columns are read for the sample only
            if column is not None and len(column) == len(y):
                arrays[f"{part}_{key}"] = np.asarray(column, dtype="float64")
    with atomic_path(path / "scores.npz", suffix=".npz") as tmp:
        np.savez_compressed(tmp, validation_y=validation_y, validation_score=validation_score,
                            validation_score_raw=validation_raw, test_y=test_y, test_score=test_score,
                            test_score_raw=test_raw, **arrays)


def write_split(path: Path, n_rows: int, split, hypermodel=None) -> None:
    """``split.parquet``: every input row's part (and cross-fitting fold), for an auditor."""
    from ..datasets import split_record

    if getattr(split, "indices", None) is None:
        return
    folds = None
    if hypermodel is not None:  # the search rows are train then validation, in that order
        ids, _ = hypermodel.folds_of(split.train)
        n_train = len(split.indices["train"])
        folds = {"train": ids[:n_train], "validation": ids[n_train:]}
    with atomic_path(path / "split.parquet", suffix=".parquet") as tmp:
        split_record(n_rows, split.indices, fold_ids=folds).to_parquet(tmp, index=False)


def history_of(oracle, trial) -> dict:
    """Per-epoch logs of a trial, following Hyperband's chain of parent trials."""
    chain = []
    current = trial
    while current is not None:
        chain.append(current)
        parent = current.hyperparameters.values.get("tuner/trial_id")
        current = oracle.trials.get(parent) if parent else None
    history = {}
    for item in reversed(chain):
        for name, observations in item.metrics.metrics.items():
            for obs in observations.get_history():
                history.setdefault(name, {})[int(obs.step)] = float(np.mean(obs.value))
    return {name: [values[s] for s in sorted(values)] for name, values in history.items()}


def versions() -> dict:
    """Versions of Python and the libraries that decide a run's results."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for key, dists in [("tensorflow", ("tensorflow-cpu", "tensorflow")), ("keras", ("keras",)),
                       ("keras_tuner", ("keras-tuner",)), ("scikit_learn", ("scikit-learn",)),
                       ("imbalanced_learn", ("imbalanced-learn",)), ("tensorflow_datasets", ("tensorflow-datasets",))]:
        for dist in dists:
            try:
                out[key] = version(dist)
                break
            except PackageNotFoundError:
                continue
    return out


def metrics_record(*, plan, data, test_data, diagnosis, split, modality, search, chosen, decision, refit,
                   calibration, validation, test, operating, explanations, leaderboard, seconds, timing,
                   warnings, per_period=None, families=None, memory=None) -> MetricsRecord:
    """Assemble ``metrics.json`` from the stages' results.

    ``families``: :func:`~raretune.run._ensemble.ensemble_families`, the time and weight of
    each candidate family (``ensemble.families``). ``memory``: the process's peak resident
    memory, in all and after each phase (``memory``).
    """
    config = plan.config
    folds = plan.folds
    best = search.best
    settings = remedy_settings(best.hyperparameters)
    parts = ("train", "validation", "test") if folds == 1 else ("train", "test")
    deployed = refit["decision"] if refit is not None else decision
    return MetricsRecord(
        raretune_version=__version__,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        command=list(config.command) or ["raretune.run"],
        versions=versions(),
        seconds=seconds,
        task=TaskRecord(type="binary" if data.is_binary else "multiclass", target=data.target,
                        classes=list(data.classes), positive=data.classes[1] if data.is_binary else None),
        data=DataRecord(
            source=data.source,
            n_rows=data.n_rows + (test_data.n_rows if test_data is not None else 0),
            n_train=split.train.n_rows,
            n_validation=split.validation.n_rows if folds == 1 else 0,  # cross-fitting: out of fold
            n_test=split.test.n_rows,
            folds=folds,
            class_counts=diagnosis["class_counts"],
            split_class_counts={part: {name: int(c) for name, c in zip(data.classes, getattr(split, part).class_counts)}
                                for part in parts},
            positive_rate=diagnosis["positive_rate"],
            imbalance_ratio=diagnosis["imbalance_ratio"],
            columns=modality.columns(split.test),
            notes=list(data.notes) + ([f"test rows from {test_data.source}"] if test_data is not None else [])
            + ([f"cross-fitting: the {split.train.n_rows:,} training rows are split into {folds} folds; "
                "validation scores are out-of-fold predictions"] if folds > 1 else []) + list(plan.notes),
            warnings=diagnosis["warnings"],
        ),
        search=SearchRecord(tuner=config.tuner, objective=plan.objective.to_dict(), max_trials=plan.max_trials,
                            max_epochs=plan.max_epochs, folds=folds, n_trials=search.n_trials,
                            n_failed=search.n_failed, seconds=timing.get("search", 0.0),
                            strategies=list(plan.strategies), seed=config.seed,
                            stopped_early=search.stopped_early),
        best=BestRecord(trial_id=best.trial_id, strategy=settings["strategy"], remedy=settings,
                        hyperparameters=dict(best.hyperparameters.values), validation_score=best.score),
        ensemble=EnsembleRecord(candidates=chosen.n_candidates, members=chosen.members,
                                validation_score=float(plan.objective.score(split.validation.y, chosen.raw)),
                                selection=chosen.selection, families=families),
        threshold=decision.threshold_record(),
        calibration={**decision.calibrator.to_dict(), **calibration},
        costs=_costs_record(config) if _uses_costs(plan) else None,
        validation=validation,
        test=test,
        operating=operating,
        explanations=explanations,
        refit=None if refit is None else {**refit["record"], "calibration": refit["decision"].calibrator.to_dict(),
                                          "threshold": refit["decision"].threshold_record()},
        deployed=DeployedRecord(model="refit" if refit is not None else "tested",
                                calibration=deployed.calibrator.to_dict(), threshold=deployed.threshold_record()),
        leaderboard=leaderboard,
        per_period=per_period,
        timing=dict(timing),
        memory=memory,
        warnings=list(warnings),
    )


def _uses_costs(plan) -> bool:
    return plan.threshold[0] == "cost" or plan.objective.name == "cost" or plan.config.cost_column is not None


def _costs_record(config) -> dict:
    """``costs``: FN and FP costs; with a cost column, its name (a missed positive costs its value)."""
    record = {"fn": config.cost_fn, "fp": config.cost_fp}
    if config.cost_column is not None:
        record["cost_column"] = config.cost_column
    if config.weight_column is not None:
        record["weight_column"] = config.weight_column
    return record


def describe_members(members) -> str:
    """What the saved model is, in words: "2 networks (class_weight, smote), 1 logistic regression"."""
    networks = [m for m in members if m.get("trial_id") is not None]
    kinds = Counter(m.get("model") for m in members if m.get("trial_id") is None)
    parts = []
    if networks:
        remedies = ", ".join(sorted({m["strategy"] for m in networks}))
        parts.append(f"{len(networks)} network{'s' if len(networks) > 1 else ''} ({remedies})")
    for kind, label in (("logistic_regression", "logistic regression"), ("boosted_trees", "boosted-trees model"),
                        ("random_forest", "random forest"), ("extra_trees", "extra-trees model"),
                        ("smote_logistic_regression", "SMOTE + logistic regression"),
                        ("knn", "k-nearest-neighbours model")):
        if kinds.get(kind):
            n = kinds[kind]
            parts.append(f"{n} {label}{'s' if n > 1 else ''}")
    return ", ".join(parts)


def _money_lines(cost: dict) -> list:
    """Money lost and saved against flagging nobody, with their intervals, and amount-weighted recall."""
    if "money_lost" not in cost:  # a run written before money was recorded
        return []
    intervals = cost.get("intervals") or {}

    def between(key):
        low_high = intervals.get(key)
        return f" ({intervals['level']:.0%} interval {low_high[0]:,.2f} to {low_high[1]:,.2f})" if low_high else ""

    recall = cost.get("amount_weighted_recall")
    return [f"  {'money lost':<18} {cost['money_lost']:,.2f}{between('money_lost')}",
            f"  {'money saved':<18} {cost['money_saved_vs_flag_nobody']:,.2f} vs flag nobody"
            f"{between('money_saved_vs_flag_nobody')}",
            f"  {'amount recall':<18} {'-' if recall is None or recall != recall else f'{recall:.4f}'}"
            " (share of the positives' cost caught)"]


def summary(metrics: dict) -> str:
    """The terminal summary of a finished run."""
    test = metrics["test"]
    lines = ["done: test set"]
    for key in ["pr_auc", "roc_auc", "f1", "precision", "recall", "mcc", "balanced_accuracy", "g_mean"]:
        value = test.get(key)
        lines.append(f"  {key:<18} {'-' if value is None else f'{value:.4f}'}")
    if metrics["threshold"]:
        lines.append(f"  {'threshold':<18} {metrics['threshold']['value']:.4f} ({metrics['threshold']['rule']})")
        capacity = metrics["threshold"].get("capacity")
        if capacity:
            lines.append(f"  {'capacity':<18} {capacity['alerts']:g} a {capacity['period']}: alerts="
                         f"{capacity['alert_share']:.3%} of rows; validation "
                         f"{capacity['validation_alerts_per_period']:,.1f} a {capacity['period']}")
    if metrics["task"]["type"] == "binary":
        lines.append(f"  {'positive rate':<18} {test['positive_rate']:.4f}")
        if test.get("alert_rate") is not None:
            lines.append(f"  {'alert rate':<18} {test['alert_rate']:.4f}")
    cost = test.get("cost")
    if cost:
        lines.append(f"  {'cost (test)':<18} {cost['total_cost']:,.2f} in all, {cost['cost_per_row']:.4f} a row; "
                     f"flag nobody {cost['flag_nobody_total_cost']:,.2f}, flag everyone "
                     f"{cost['flag_everyone_total_cost']:,.2f}")
        lines.extend(_money_lines(cost))
    members = metrics["ensemble"]["members"]
    if len(members) > 1:
        lines.append(f"  ensemble: {describe_members(members)}")
    refit = metrics.get("refit")
    if refit:
        threshold = f"; threshold {refit['threshold']['value']:.4f}" if refit.get("threshold") else ""
        lines.append(f"  model.keras: refitted on all {refit['n_rows']:,} rows{threshold}")
    lines.append(f"  best remedy: {metrics['best']['strategy']}; {metrics['seconds']:.0f} s in all")
    return "\n".join(lines)
