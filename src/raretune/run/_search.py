"""The search stage: Keras Tuner over network and remedy, on one machine or as chief/worker.

:func:`search_trials` builds the tuner in the run folder, runs the search (locally, serving
it to workers as the chief, or running trials for a chief as a worker) and returns the
finished trials, best first. :class:`TrialLog` keeps ``trials.json`` (wall time, worker,
failure reason of every trial) beside Keras Tuner's own state.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from .._errors import RunStateError
from .._io import read_json, write_json
from ._eta import describe_left, planned_epochs, seconds_left, trained_epochs

__all__ = ["Search", "TrialLog", "distinct_configurations", "search_trials"]

_ENDED = ("COMPLETED", "FAILED", "INVALID")


@dataclass
class Search:
    """A finished search.

    Attributes
    ----------
    tuner : keras_tuner.Tuner
    ranked : list of keras_tuner Trial
        Completed trials with a finite score, best first.
    n_trials, n_failed : int
    trial_log : TrialLog
    worker_trials : list of str or None
        On a worker: the trial ids it started (the chief writes the run); else ``None``.
    stopped_early : dict or None
        Why the search started no more trials before ``max_trials`` (see :class:`TrialLog`).
    """

    tuner: object
    ranked: list
    n_trials: int
    n_failed: int
    trial_log: "TrialLog"
    worker_trials: list | None = None
    stopped_early: dict | None = None

    @property
    def best(self):
        """The best trial."""
        return self.ranked[0]


def search_trials(plan, split, hypermodel, out: Path, progress, *, role=None, resume: bool = False,
                  budget=None, stop_rules=()) -> Search:
    """Run the search and return its trials.

    Parameters
    ----------
    plan : RunPlan
    split : DataSplit
        The search's parts (with cross-fitting, train and validation are the same rows).
    hypermodel : keras_tuner.HyperModel
    out : Path
        The run folder (the tuner's project lives in ``out / "tuner"``).
    progress : Progress
    role : distributed Role or None
    resume : bool
        Reload the tuner's project instead of starting afresh.
    budget : Budget, optional
        A whole-run time limit: no trial starts after the search's deadline, and a running
        trial stops at its next epoch end.
    stop_rules : sequence of DominanceStop or PlateauStop
        The first that gives a reason ends the search (no trial starts after).

    Raises
    ------
    RunStateError
        A damaged project on resume; every trial failed.
    """
    from ..tuning import completed_trials, distributed, make_tuner

    config = plan.config
    is_worker = role is not None and role.kind == "worker"
    trial_log = TrialLog(out / "trials.json", progress, resume=resume, budget=budget, stop_rules=stop_rules,
                         max_epochs=plan.max_epochs)
    with distributed.kt_environment(role):
        try:
            tuner = make_tuner(
                config.tuner, hypermodel, plan.objective, max_trials=plan.max_trials, max_epochs=plan.max_epochs,
                directory=out, project_name="tuner", seed=plan.seed, overwrite=not (resume or is_worker),
                progress=trial_log.on_trial_end, verbose=config.verbose,
                distribution_strategy=distributed.mirrored_strategy() if config.mirrored else None,
            )
        except (ValueError, KeyError, TypeError, OSError) as exc:
            if not resume:
                raise
            reason = str(exc).splitlines()[0] if str(exc) else ""
            raise RunStateError(f"The tuner state in {str(out / 'tuner')!r} is damaged ({type(exc).__name__}: "
                                f"{reason}); it cannot be resumed. Use --overwrite or a new --out.") from None
        if not is_worker:  # a worker's oracle is the chief's, over gRPC; the chief keeps trials.json
            trial_log.oracle = tuner.oracle
        progress.say(f"search: {config.tuner}, up to {plan.max_trials} trials of up to {plan.max_epochs} epochs, "
                     f"objective {plan.objective.describe()}, remedies {', '.join(plan.strategies)}")
        callbacks = _callbacks(out, progress) + ([budget.callback()] if budget is not None and budget.limit else [])
        if budget is not None:
            budget.start_search()
        fit = dict(train=split.train, validation=split.validation, epochs=plan.max_epochs, verbose=0,
                   callbacks=callbacks)
        if role is None:
            tuner.search(**fit)
        elif role.kind == "chief":
            distributed.serve_search(tuner, role, lease_seconds=config.lease_seconds,
                                     on_trial_end=trial_log.on_trial_end, log=progress.say, auth=config.auth(),
                                     allow_open=config.allow_open_chief)
        else:
            ran = distributed.run_worker(tuner, lease_seconds=config.lease_seconds, log=progress.say,
                                         auth=config.auth(), **fit)
            progress.say(f"{role.tuner_id}: the chief says the search is over; {len(ran)} trial(s) started here")
            return Search(tuner, [], len(ran), 0, trial_log, worker_trials=ran)
    trial_log.write(tuner.oracle)
    trials = completed_trials(tuner.oracle)
    if not trials:
        raise RunStateError("Every trial failed; see trials.json for the reasons.")
    ranked = sorted(trials, key=lambda t: t.score, reverse=plan.objective.direction == "max")
    n_failed = sum(1 for t in tuner.oracle.trials.values() if t.status in ("FAILED", "INVALID"))
    return Search(tuner, ranked, len(tuner.oracle.trials), n_failed, trial_log, stopped_early=trial_log.stopped)


def _callbacks(out: Path, progress) -> list:
    """TensorBoard logs of every trial (Keras Tuner's hparams view) when TensorBoard is installed."""
    import keras

    callbacks = []
    if importlib.util.find_spec("tensorboard") is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(out / "tensorboard"), write_graph=False))
    else:
        progress.say("TensorBoard is not installed: no search logs (pip install 'raretune[tensorboard]')",
                     verbose_only=True)
    if progress.verbose:

        class EpochLine(keras.callbacks.Callback):
            """--verbose: one line per epoch with the loss and the exact validation scores."""

            def on_epoch_end(self, epoch, logs=None):
                shown = "  ".join(f"{k} {v:.4f}" for k, v in (logs or {}).items() if isinstance(v, float))
                print(f"[raretune]     epoch {epoch + 1}: {shown}", file=sys.stderr, flush=True)

        callbacks.append(EpochLine())
    return callbacks


def distinct_configurations(trials) -> list:
    """The first (best) trial of each configuration, in order.

    Hyperband trains a configuration in rounds, each round a trial of its own; averaging
    a configuration with its own shorter-trained snapshots adds weight, not diversity.
    """
    import json

    seen, out = set(), []
    for trial in trials:
        key = json.dumps({k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")},
                         sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(trial)
    return out


class TrialLog:
    """Trial records kept beside Keras Tuner's state: wall time, worker and failure reasons.

    Parameters
    ----------
    path : Path
        ``trials.json``.
    progress : Progress
        Where the one line per finished trial goes.
    resume : bool
        Keep the records of an earlier, interrupted search.
    budget : Budget, optional
        When the search's share of a time limit is spent, the oracle starts no more trials.
    stop_rules : sequence of DominanceStop or PlateauStop
        When one gives a reason (the converged candidates dominate, the best score stopped
        moving), the oracle starts no more trials.
    max_epochs : int, optional
        Epochs of a full trial. With it the time left counts the epochs still to train
        (Hyperband's schedule, when the oracle is Hyperband's); without it, trials.
    """

    oracle = None  # set once the chief's or local oracle exists: records are rewritten after every trial

    def __init__(self, path: Path, progress, *, resume: bool = False, budget=None, stop_rules=(),
                 max_epochs: int | None = None):
        self.path = path
        self.max_epochs = max_epochs
        self.progress = progress
        self.budget = budget
        self.stop_rules = tuple(stop_rules)
        self.stopped_early = False
        self.stopped = None  # {"after_trials", "cause", "reason"} once the search is cut short
        self.seconds = {}
        self.tuner_ids = {}  # which tuner ran each trial ("tuner0" on one machine, the worker's name)
        if path.exists() and resume:
            try:
                for record in read_json(path):
                    self.seconds[record["trial_id"]] = record.get("seconds")
                    self.tuner_ids[record["trial_id"]] = record.get("tuner_id")
            except (OSError, ValueError, KeyError, TypeError):
                pass

    def on_trial_end(self, event: dict) -> None:
        """Record a finished trial and print its line (Keras Tuner's progress callback)."""
        self.seconds[event["trial_id"]] = event["seconds"]
        self.tuner_ids[event["trial_id"]] = event.get("tuner_id")
        stop_line = None
        if self.oracle is not None:
            self.write(self.oracle)  # after every trial, so a crash keeps the records
            if self.budget is not None and self.budget.search_over() and not self.stopped_early:
                self._stop("time_limit", "the search's share of the time limit is spent")
                stop_line = f"time limit: the search stops after {len(self.oracle.trials)} trials"
            outcomes = [(t.hyperparameters.values.get("strategy"), t.score,
                         int(t.hyperparameters.values.get("tuner/epochs", self.max_epochs or 0)))
                        for t in self.oracle.trials.values() if t.status in _ENDED]
            for rule in self.stop_rules:
                why = None if self.stopped_early else rule.reason(outcomes)
                if why is not None:
                    self._stop(rule.cause, why)
                    stop_line = f"search: stops after {len(self.oracle.trials)} trials: {why}"
        score = "failed" if event["score"] is None else f"{event['score']:.4f}"
        best = "-" if event["best"] is None else f"{event['best']:.4f}"
        total = event["max_trials"] or "?"
        reason = f"  ({event['message'][0][:80]})" if event["status"] != "COMPLETED" and event["message"] else ""
        # a worker sees neither the other trials nor the best score: it names its trial instead
        # the trial's id first: the number the report, trials.json and the leaderboard show
        which = (f"trial {event['trial_id']} ({event['done']}/{total} done)" if event["done"] is not None
                 else f"trial {event['trial_id']} ({event['tuner_id']})")
        eta = ""
        if event["done"] is not None and event["max_trials"]:
            left = self.seconds_left(int(event["done"]), int(event["max_trials"]))
            if left is not None:
                eta = f"  {describe_left(left)}"
        self.progress.say(f"{which}  {event['strategy']:<14} score {score}  best {best}  "
                          f"{event['seconds']:.1f}s{eta}{reason}")
        if stop_line is not None:  # after the trial's own line
            self.progress.say(stop_line)

    def seconds_left(self, done: int, max_trials: int) -> float | None:
        """Seconds the search still needs by its plan, after ``done`` trials (``None``: unknown).

        The plan, not the outcome: a search cut short (time limit, dominance) says so on
        its own line.
        """
        times = {t: s for t, s in self.seconds.items() if s is not None}
        if self.max_epochs is None:  # every trial counts as one unit
            return seconds_left([(s, 1) for s in times.values()], [1] * (max_trials - done))
        trials = getattr(self.oracle, "trials", None) or {}
        finished = [(s, trained_epochs(trials[t].hyperparameters.values, self.max_epochs) if t in trials
                     else self.max_epochs) for t, s in times.items()]
        plan = planned_epochs(self.oracle, max_epochs=self.max_epochs, max_trials=max_trials)
        return seconds_left(finished, plan[done:])

    def _stop(self, cause: str, reason: str) -> None:
        # Keras Tuner creates no trial past max_trials: the search ends after this one
        self.oracle.max_trials = len(self.oracle.trials)
        self.stopped_early = True
        self.stopped = {"after_trials": len(self.oracle.trials), "cause": cause, "reason": reason}

    def records(self, oracle) -> list:
        """One record per trial, in trial-id order."""
        out = []
        for trial_id in sorted(oracle.trials):
            trial = oracle.trials[trial_id]
            message = (trial.message or "").strip().splitlines()
            out.append({
                "trial_id": trial_id,
                "status": str(trial.status),
                "score": trial.score,
                "best_step": trial.best_step,
                "strategy": trial.hyperparameters.values.get("strategy"),
                "hyperparameters": dict(trial.hyperparameters.values),
                "seconds": self.seconds.get(trial_id),
                "tuner_id": self.tuner_ids.get(trial_id),
                "message": message[-1] if message else None,
            })
        return out

    def write(self, oracle) -> None:
        """Rewrite ``trials.json``."""
        write_json(self.path, self.records(oracle))
