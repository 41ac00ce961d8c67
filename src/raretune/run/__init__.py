"""The run: data to tuned model, decision, test metrics, report — one stage a module.

:func:`run` reads as the job: load, diagnose, split, plan, search, ensemble, decide, test,
refit, write. Each stage lives in its own module (``_config``, ``_source``, ``_plan``, ``_folder``,
``_search``, ``_candidates``, ``_ensemble``, ``_finish``, ``_decide``, ``_leaderboard``, ``_refit``,
``_write``, ``_predict``); ``docs/architecture.md`` draws the picture.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import warnings
from dataclasses import dataclass

import numpy as np
from pathlib import Path

from .._errors import RaretuneError
from .._heap import frozen_heap
from .._io import read_json, write_json
from .._threads import size_tensorflow_pools, sklearn_phase
from ..datasets import describe_imbalance
from ..metrics import score_predictions
from ._budget import Budget
from ._candidates import converged_candidates, member_label, repeat_cross_fitting, trial_candidates
from ._config import DEFAULT_DATA, SEARCH_OPTIONS, RunConfig
from ._decide import calibration_scores, decide
from ._dominance import dominance_stop
from ._ensemble import as_selected, choose_ensemble, ensemble_families
from ._explain import explain
from ._folder import RunFolder, is_run_dir
from ._leaderboard import baseline_row, chosen_row, converged_row, remedy_rows
from ._modality import fingerprint, modality_of
from ._plan import fold_layout, make_plan, resolve_capacity, search_split
from ._plateau import PlateauStop
from ._predict import load_run, predict
from ._progress import Progress
from ._refit import refit
from ._row_values import part_values, take_row_columns
from ._search import search_trials
from ._source import load_source
from ._warnings import identifier_warnings, shortfall_warning, untried_remedies_warning
from ._write import history_of, metrics_record, summary, write_config, write_model, write_scores, write_split

__all__ = ["DEFAULT_DATA", "RunConfig", "RunResult", "is_run_dir", "load_run", "predict", "run"]


@dataclass
class RunResult:
    """What :func:`run` returns: the run folder and its record.

    Attributes
    ----------
    out : pathlib.Path
        The run folder.
    metrics : dict
        The content of ``metrics.json`` (on a distributed worker: its role and trials).
    """

    out: Path
    metrics: dict

    @property
    def test(self) -> dict:
        """Test-set metrics."""
        return self.metrics["test"]


#: Library warnings that say nothing actionable to a raretune user.
_NOISE = (
    ".*Skipping variable loading for optimizer.*",
    ".*`shuffle=True` was passed, but will be ignored.*",
    ".*Your input ran out of data.*",
)


def run(config: RunConfig | None = None, **options) -> RunResult:
    """Load data, split it, search network and remedy, choose a threshold, score the test set.

    Parameters
    ----------
    config : RunConfig, optional
        All options; keyword arguments override its fields (``run(data=df, target="y")``).

    Returns
    -------
    RunResult

    Raises
    ------
    RaretuneError
        Bad data or options (one-line message); an earlier run in ``out`` is never changed then.

    Examples
    --------
    >>> import raretune                                                    # doctest: +SKIP
    >>> result = raretune.run(data="transactions.csv", target="is_fraud")  # doctest: +SKIP
    >>> result.test["pr_auc"]                                              # doctest: +SKIP
    """
    config = dataclasses.replace(config or RunConfig(), **options).validated()
    with warnings.catch_warnings():
        for message in _NOISE:
            warnings.filterwarnings("ignore", message=message)
        return _job(config)


def _job(config: RunConfig) -> RunResult:
    """The job, stage by stage."""
    from ..tuning import distributed

    progress = Progress(quiet=config.quiet, verbose=config.verbose)
    pools = size_tensorflow_pools()  # before TensorFlow's runtime starts, which fixes its pools
    progress.say(f"TensorFlow threads: {pools.intra_op} intra-op, {pools.inter_op} inter-op"
                 + ("" if pools.applied else " (not set by raretune)"), verbose_only=True)
    budget = Budget(config.time_limit)
    if config.time_limit is not None and config.report:  # the report's figures slow down with the machine
        from ..report import report_seconds_estimate

        budget.reserve_for_report(report_seconds_estimate())
        progress.say(f"time limit: {budget.report_seconds:.1f} s kept for the report", verbose_only=True)
    role = distributed.resolve_role(chief=config.chief, worker=config.worker, worker_id=config.worker_id)
    out = Path(config.out) if config.out is not None else Path("runs") / _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = RunFolder(out, mode="resume" if config.resume else "overwrite" if config.overwrite else "new",
                       role=None if role is None else role.kind)

    with progress.phase("load"):  # sharded Parquet is streamed, and the run works on the pass's sample
        source = load_source(config, progress)
        data, test_data, row_columns = take_row_columns(config, source.data, source.test_data)
    modality = modality_of(data)
    diagnosis = _diagnose(data, progress, source.class_counts(data))
    split = source.split(config, data, test_data)
    plan = make_plan(config, modality, split)
    plan = resolve_capacity(plan, data, split)
    values = part_values(row_columns, split)
    layout = fold_layout(config, data, split) if plan.cross_fitted else {}
    for note in plan.notes:
        progress.say(note)
    split = search_split(plan, split)
    values = values.searched(plan.cross_fitted)
    # what the split's rows stand for: their costs and weights; a streamed sample's rows, the rows
    # of the data each one stands for (so its scores estimate those of the full parts)
    sampled = source.sample_values(split, values)
    if sampled.any:  # every stage scoring the validation rows with plan.objective uses their costs and weights
        plan = plan.on_rows(split.validation.y, sampled.of("validation"))
    modality = modality.learn(split.train)
    run_fingerprint = fingerprint(modality, data, test_data,
                                  {k: v for k, v in config.to_dict().items() if k in SEARCH_OPTIONS})
    warnings_ = identifier_warnings(data)
    for warning in warnings_:
        progress.say(f"warning: {warning}")

    with folder, frozen_heap():
        if config.resume and (role is None or role.kind == "chief"):
            folder.check_fingerprint(run_fingerprint)
        if role is not None and role.kind == "worker":  # the chief's config.json must carry this fingerprint
            distributed.join_search(role, folder.path, run_fingerprint, log=progress.say, auth=config.auth())
        elif not config.resume:
            write_config(folder.path, config, run_fingerprint, modality, data)
        if plan.seed is not None:
            import keras

            keras.utils.set_random_seed(plan.seed)
        hypermodel = modality.hypermodel(plan, split.train, layout, values.of("train")["sample_weight"])
        if plan.cross_fitted:
            progress.say(f"cross-fitting: {plan.folds} folds over the {split.train.n_rows:,} training and validation "
                         "rows; trials are scored on out-of-fold predictions, the model averages the fold networks")
        converged = []  # cheap, so fitted before the search: when they dominate it, it stops early
        if plan.cross_fitted and plan.ensemble > 1 and (role is None or role.kind == "chief"):
            with progress.phase("ensemble", "candidates: cross-fitting the converged models"), \
                    _isolated("converged candidates", progress, warnings_), sklearn_phase():
                converged = converged_candidates(plan, hypermodel, split.validation, progress, budget, warnings_)
        with progress.phase("search"):
            search = search_trials(plan, split, hypermodel, folder.path, progress, role=role, resume=config.resume,
                                   budget=budget, stop_rules=_stop_rules(plan, converged, split.validation.y))
        if search.worker_trials is not None:
            return RunResult(out=folder.target, metrics={"role": "worker", "tuner_id": role.tuner_id,
                                                          "trials": search.worker_trials})
        untried = untried_remedies_warning(plan.strategies, search.tuner.oracle.trials.values())
        if untried:
            warnings_.append(untried)
            progress.say(f"warning: {warnings_[-1]}")
        best = search.best
        progress.say(f"best trial {best.trial_id}: {best.hyperparameters.values['strategy']}, "
                     f"{plan.objective.metric} = {best.score:.4f}")

        with progress.phase("ensemble", "ensemble: scoring the candidates" if plan.ensemble > 1 else None):
            candidates = trial_candidates(plan, modality, hypermodel, search, split)
            if converged:  # few rare rows: the selection reads scores averaged over several fold layouts
                with _isolated("repeated fold layouts", progress, warnings_), sklearn_phase():
                    converged = repeat_cross_fitting(plan, hypermodel, split.validation, converged, progress, budget)
            chosen = choose_ensemble(plan, candidates + converged, split.validation.y)
            shortfall = shortfall_warning(plan, *as_selected(chosen, candidates + converged), split.validation.y)
            if shortfall:
                warnings_.append(shortfall)
                progress.say(f"warning: {shortfall}")
            if len(chosen.members) > 1 or chosen.members[0]["trial_id"] != best.trial_id:
                progress.say("ensemble: " + ", ".join(f"{member_label(m)} x{m['weight']}" for m in chosen.members)
                             + f"; {plan.objective.metric} = {plan.objective.score(split.validation.y, chosen.raw):.4f}")

        finished = None  # streamed, with finish_epochs: the chosen networks trained on over every training row
        with _isolated("the finish", progress, warnings_):
            chosen, finished = source.finish(plan, search, chosen, candidates + converged, modality, data, split,
                                             progress)
        held_out = source.score(config, chosen, modality, data, split, progress)  # streamed: every row of those parts
        validation_y, validation_raw = held_out.validation_y, held_out.validation_raw
        with progress.phase("decide"):
            decision = decide(plan, validation_y, validation_raw, chosen.prior, values.of("validation"))
            if data.is_binary:
                outcome = decision.outcome(plan, validation_y, validation_raw, values.of("validation"))
                if not outcome["reached"]:
                    warnings_.append(outcome["fallback"])
                    progress.say(f"warning: {outcome['fallback']}")
        with progress.phase("test", "test: scoring the test set once"):
            test_raw = modality.predict_raw(chosen.model, split.test)
            test_y, full_test_raw = held_out.test(split.test.y, test_raw)
            validation_score, test_score = decision.scores(validation_raw), decision.scores(full_test_raw)
            validation, test = _score(plan, data, decision, validation_y, test_y, validation_score, test_score, values)
            per_period = source.per_period(config, data, test_data, split, test_score, decision.threshold)
            operating = None
            if data.is_binary:
                from ..operating import operating_table, reliability_warnings

                operating = operating_table(validation_y, validation_score, chosen=decision.threshold,
                                            costs=_costs(plan), **values.of("validation"))
                for warning in reliability_warnings(validation_y, test_y):
                    warnings_.append(warning)
                    progress.say(f"warning: {warning}")
            leaderboard = [chosen_row(plan, chosen, split.validation, test_raw, split.test,
                                      progress.timing.get("search", 0.0) + progress.timing.get("ensemble", 0.0),
                                      values=sampled)]
            leaderboard += remedy_rows(plan, modality, search, split.test, values=sampled)
            leaderboard += [converged_row(plan, modality, c, split.validation, split.test, values=sampled)
                            for c in converged]
        explanations = None
        if data.is_binary and modality.kind == "table":
            with progress.phase("explain", "explain: permutation importance of each column on the test rows"), \
                    _isolated("the explanations", progress, warnings_):
                explanations = explain(plan, modality, chosen.model, decision, split, data, decision.scores(test_raw),
                                       budget=budget, weight=sampled.of("test")["sample_weight"])
        baseline_estimate = max((c.seconds for c in converged), default=0.0)
        if config.baseline and not budget.fits(baseline_estimate):
            progress.say("time limit: the baseline is skipped")
            warnings_.append("time limit: no HistGradientBoosting baseline")
        elif config.baseline:
            with progress.phase("baseline", "baseline: HistGradientBoosting"), \
                    _isolated("the baseline", progress, warnings_), sklearn_phase():
                folds = hypermodel.folds_of(split.train)[0] if plan.cross_fitted else None
                leaderboard.append(baseline_row(plan, modality, split, folds=folds, values=sampled))

        model, refitted = chosen.model, None
        refit_estimate = _refit_estimate(chosen, search, converged)
        if plan.cross_fitted and config.refit and not budget.fits(refit_estimate):
            progress.say(f"time limit: no refit (about {refit_estimate:.0f} s); model.keras is the tested model")
            warnings_.append("time limit: the chosen models were not refitted on every row")
        elif plan.cross_fitted and config.refit:
            with progress.phase("refit", "refit: retraining the chosen models on every row"), \
                    _isolated("the refit", progress, warnings_):
                model, refit_decision, refit_record = refit(plan, hypermodel, search, chosen, split, values.refit_rows())
                refitted = {"decision": refit_decision, "record": refit_record}
                progress.say(f"refit on all {refit_record['n_rows']:,} rows (test rows included): out-of-fold "
                             f"{plan.objective.metric} = {refit_record['validation_score']:.4f}")

        with progress.phase("write"):
            deployed_decision = refitted["decision"] if refitted is not None else decision
            write_model(folder.path, model, deployed_decision.calibrator.to_dict())
            write_json(folder.path / "history.json", history_of(search.tuner.oracle, best))
            write_scores(folder.path, validation_y, validation_raw, validation_score, test_y, full_test_raw,
                         test_score, values=values)
            record = metrics_record(
                plan=plan, data=data, test_data=test_data, diagnosis=diagnosis, split=split, modality=modality,
                search=search, chosen=chosen, decision=decision, refit=refitted,
                calibration=calibration_scores(validation_y, validation_raw, validation_score) if data.is_binary else {},
                validation=validation, test=test, operating=operating, explanations=explanations,
                leaderboard=leaderboard, per_period=per_period,
                seconds=progress.elapsed,
                timing=progress.timing, warnings=warnings_,
                memory={"peak_mb": progress.peak_now(), "peak_mb_after": dict(progress.peak_mb)},
                families=ensemble_families(plan, candidates + converged, chosen, split.validation.y,
                                           progress.timing.get("search", 0.0)))
            write_json(folder.path / "metrics.json", record.to_dict())
            write_split(folder.path, data.n_rows, split, hypermodel if plan.cross_fitted else None)
            source.write(folder.path, held_out, finished)
        if config.report:
            with progress.phase("report"), _isolated("the report", progress, warnings_):
                from ..report import write_report

                write_report(folder.path)
        final = folder.commit()
    metrics = read_json(final / "metrics.json")
    progress.say(summary(metrics))
    return RunResult(out=final, metrics=metrics)


def _stop_rules(plan, converged, y) -> list:
    """What ends the search before ``max_trials``: the converged candidates' dominance, a plateau."""
    dominance = dominance_stop(plan, converged, y)
    plateau = PlateauStop(plan.strategies, max_epochs=plan.max_epochs, direction=plan.objective.direction)
    return [plateau] if dominance is None else [dominance, plateau]


def _refit_estimate(chosen, search, converged) -> float:
    """Seconds a refit of ``chosen`` should take: its members' own training times."""
    seconds = {c.member.get("model", "") + str(c.member.get("C", c.member.get("config", ""))): c.seconds
               for c in converged}
    total = 0.0
    for member in chosen.members:
        if member["trial_id"] is not None:
            total += search.trial_log.seconds.get(member["trial_id"]) or 0.0
        else:
            total += seconds.get(member["model"] + str(member.get("C", member.get("config", ""))), 0.0)
    return total


def _diagnose(data, progress, counts=None) -> dict:
    """The class balance, told in one line: of ``data``, or of the whole data ``counts`` (per
    class) when ``data`` is a streamed run's sample."""
    diagnosis = describe_imbalance(data, counts)
    if data.is_binary:
        positive = data.classes[1]
        progress.say(f"{diagnosis['n_rows']:,} rows, positive class {positive!r}: {diagnosis['class_counts'][positive]:,} rows "
                     f"({diagnosis['positive_rate']:.3%}), imbalance ratio {diagnosis['imbalance_ratio']:.0f}:1")
    else:
        progress.say(f"{diagnosis['n_rows']:,} rows, {data.n_classes} classes, rarest {diagnosis['minority']!r} "
                     f"({diagnosis['positive_rate']:.3%}), imbalance ratio {diagnosis['imbalance_ratio']:.0f}:1")
    for warning in diagnosis["warnings"]:
        progress.say(f"warning: {warning}")
    return diagnosis


def _costs(plan) -> dict | None:
    """``{"fn", "fp"}`` when the objective or the threshold is about cost."""
    if plan.threshold[0] == "cost" or plan.objective.name == "cost" or plan.config.cost_column is not None:
        return {"fn": plan.config.cost_fn, "fp": plan.config.cost_fp}
    return None


def _score(plan, data, decision, validation_y, test_y, validation_score, test_score, values):
    """Validation and test metrics at the decision: bootstrap intervals, and for a binary task
    Wilson intervals of precision, recall and alert rate, and the cost in money."""
    costs = _costs(plan)
    kwargs = dict(threshold=decision.threshold if decision.threshold is not None else 0.5, costs=costs,
                  class_names=data.classes)
    validation = score_predictions(validation_y, validation_score, **kwargs, **values.of("validation"))
    test = score_predictions(test_y, test_score, **kwargs, **values.of("test"))
    if data.is_binary:
        from ..report import bootstrap_intervals

        from ..intervals import cost_summary, decision_intervals

        test_weight = values.of("test")["sample_weight"]
        test["intervals"] = bootstrap_intervals(test_y, test_score, decision.threshold,
                                                random_state=0 if plan.seed is None else plan.seed,
                                                sample_weight=test_weight)
        test["decision_intervals"] = decision_intervals(test_y, test_score, decision.threshold,
                                                        sample_weight=test_weight)
        test["alert_rate"] = float(np.mean(test_score >= decision.threshold))
        if costs is not None:
            for part, y, score in (("validation", validation_y, validation_score),
                                   ("test", test_y, test_score)):
                (validation if part == "validation" else test)["cost"] = cost_summary(
                    y, score, decision.threshold, costs["fn"], costs["fp"], **values.of(part),
                    n_resamples=1000 if part == "test" else 0, random_state=0 if plan.seed is None else plan.seed)
    return validation, test


@contextlib.contextmanager
def _isolated(what: str, progress, warnings_: list):
    """A phase after the search whose failure must not lose the search: it becomes a warning."""
    try:
        yield
    except RaretuneError:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded, shown, and the run goes on
        message = f"{what} failed ({type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}); skipped"
        warnings_.append(message)
        progress.say(f"warning: {message}")
