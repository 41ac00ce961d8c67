"""Keras Tuner construction, with the defaults that make a search trustworthy.

What raretune changes in Keras Tuner's behaviour, and why:

* The objective always carries its direction (Keras Tuner guesses "min" for F1).
* ``seed=0`` is a real seed (the oracle's ``seed or random.randint(...)`` drops it).
* TensorBoard is imported only when a TensorBoard callback is used (Keras Tuner imports it
  in every trial, and ``tensorflow-cpu`` does not install it).
* Hyperband honours ``max_trials``.
* A failed trial (NaN loss) is never retried and never stops the search early.
* Finished trials are reported to a progress callback (trial i of N, best so far).
"""

from __future__ import annotations

import json
import time

import keras_tuner as kt
import numpy as np
from keras_tuner.src import utils as _kt_utils

from .._errors import ConfigError
from .._io import write_text
from .._validation import check_number, check_option
from ..metrics import Objective

__all__ = ["TUNERS", "make_tuner", "completed_trials", "trial_event"]

_original_save_json = _kt_utils.save_json


def _atomic_save_json(path, obj):
    """Keras Tuner's ``save_json``, but crash-safe for local paths (temp file + rename).

    Keras Tuner writes ``oracle.json``, ``tuner0.json`` and every ``trial.json`` in place, so
    a crash during a write leaves a truncated file and a project that no longer loads.
    """
    if "://" in str(path):
        return _original_save_json(path, obj)
    text = json.dumps(obj)
    write_text(path, text)
    return text


_kt_utils.save_json = _atomic_save_json

#: Tuner kinds accepted by :func:`make_tuner`.
TUNERS = ("hyperband", "bayesian", "random")


class _RaretuneTunerMixin:
    """Behaviour shared by raretune's Hyperband, Bayesian and random-search tuners."""

    progress = None  # callable(event: dict) or None

    def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
        if not any(type(cb).__name__ == "TensorBoard" for cb in callbacks):
            return
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            raise ConfigError(
                "A TensorBoard callback needs the 'tensorboard' package: pip install tensorboard."
            ) from None
        super()._configure_tensorboard_dir(callbacks, trial, execution)

    verbose = False

    def _try_run_and_update_trial(self, trial, *fit_args, **fit_kwargs):
        # Keras Tuner prints every failed trial's traceback (its DEBUG flag defaults to True);
        # raretune records the reason with the trial and prints one line instead.
        from keras_tuner.src import config as kt_config

        saved, kt_config.DEBUG = kt_config.DEBUG, self.verbose
        try:
            return super()._try_run_and_update_trial(trial, *fit_args, **fit_kwargs)
        finally:
            kt_config.DEBUG = saved

    lease = None  # WorkerLease on a worker of a distributed search (see _distributed)

    def run_trial(self, trial, *fit_args, **fit_kwargs):
        if self.lease is not None:
            # first of Keras Tuner's callbacks, so a lost trial stops before its checkpoint
            fit_kwargs["callbacks"] = [self.lease.guard(), *(fit_kwargs.get("callbacks") or [])]
        return super().run_trial(trial, *fit_args, **fit_kwargs)

    def on_trial_begin(self, trial):
        self._trial_started = time.monotonic()
        if self.lease is not None:
            self.lease.start(trial.trial_id)
        super().on_trial_begin(trial)

    def on_trial_end(self, trial):
        lost = False
        if self.lease is not None:  # heartbeats end before the trial does, so none says "lost"
            self.lease.stop()
            lost = self.lease.lost.is_set()
        super().on_trial_end(trial)
        seconds = time.monotonic() - getattr(self, "_trial_started", time.monotonic())
        if self.progress is not None:
            self.progress(trial_event(self.oracle, trial.trial_id, seconds=seconds, tuner_id=self.tuner_id,
                                      record=trial if lost else None))


def trial_event(oracle, trial_id: str, *, seconds: float, tuner_id: str | None = None, record=None) -> dict:
    """The progress event of a finished trial (what ``make_tuner``'s ``progress`` receives).

    ``oracle`` may be Keras Tuner's gRPC client on a worker; then ``done`` and ``best`` are
    ``None`` (the worker does not see the other trials). ``record``: the trial as this
    process knows it, instead of the oracle's.
    """
    record = oracle.get_trial(trial_id) if record is None else record
    done = best = None
    if hasattr(oracle, "trials"):
        best = _best_score(completed_trials(oracle), oracle.objective.direction)
        done = len([t for t in oracle.trials.values() if t.status in _ENDED])
    return {
        "event": "trial_end",
        "trial_id": trial_id,
        "tuner_id": tuner_id,
        "status": str(record.status),
        "score": record.score,
        "best": best,
        "done": done,
        "max_trials": oracle.max_trials,
        "seconds": seconds,
        "strategy": record.hyperparameters.values.get("strategy"),
        "message": (record.message or "").strip().splitlines()[-1:] if record.message else [],
    }


_ENDED = ("COMPLETED", "FAILED", "INVALID")


def _best_score(trials, direction):
    scores = [t.score for t in trials if t.score is not None and np.isfinite(t.score)]
    if not scores:
        return None
    return max(scores) if direction == "max" else min(scores)


def completed_trials(oracle) -> list:
    """Trials that finished with a finite score, in trial-id order (failed ones excluded)."""
    out = []
    for trial_id in sorted(oracle.trials):
        trial = oracle.trials[trial_id]
        if trial.status == "COMPLETED" and trial.score is not None and np.isfinite(trial.score):
            out.append(trial)
    return out


class _Hyperband(_RaretuneTunerMixin, kt.Hyperband):
    pass


class _Bayesian(_RaretuneTunerMixin, kt.BayesianOptimization):
    pass


class _Random(_RaretuneTunerMixin, kt.RandomSearch):
    pass


def _cover_every_strategy(oracle, strategies) -> None:
    """Make the oracle's first random draws try every remedy once, in the order given.

    Random draws can leave a remedy untried in a small budget (four remedies, twelve trials:
    a 3 % chance per remedy), and then the leaderboard cannot say whether it would have
    helped. Until each remedy has a trial, a fresh random draw keeps its other values and
    takes the first untried remedy instead; its own knobs are drawn at random. Which remedies
    have trials is read from the oracle's trials, so a resumed search carries on correctly.
    """
    from keras_tuner.src.engine import hyperparameters as hp_module

    original = oracle._random_values

    def random_values():
        values = original()
        if values is None:
            return values
        tried = {t.hyperparameters.values.get("strategy") for t in oracle.trials.values()}
        untried = [s for s in strategies if s not in tried]
        if not untried or values.get("strategy") in untried:
            return values
        hps = hp_module.HyperParameters()
        for hp in oracle.hyperparameters.space:
            hps.merge([hp])
            if hp.name == "strategy":
                hps.values["strategy"] = untried[0]
            elif hps.is_active(hp):
                if hp.name in values:
                    hps.values[hp.name] = values[hp.name]
                else:
                    hps.values[hp.name] = hp.random_sample(oracle._seed_state)
                    oracle._seed_state += 1
        return hps.values

    oracle._random_values = random_values


def make_tuner(
    kind: str,
    hypermodel,
    objective: Objective,
    *,
    max_trials: int = 20,
    max_epochs: int = 10,
    directory=".",
    project_name: str = "tuner",
    seed: int | None = None,
    overwrite: bool = False,
    progress=None,
    verbose: bool = False,
    distribution_strategy=None,
):
    """Build a Keras Tuner tuner for ``hypermodel`` with an explicit objective direction.

    Parameters
    ----------
    kind : {"hyperband", "bayesian", "random"}
    hypermodel : keras_tuner.HyperModel
    objective : Objective
        Its ``keras_tuner()`` form, with the direction, is what the tuner optimises.
    max_trials : int
        Trials in all (Hyperband stops creating trials past it).
    max_epochs : int
        Hyperband's largest budget; the other tuners train every trial this long.
    directory, project_name : str
        Where Keras Tuner keeps its state; an existing project is reloaded (resume).
    seed : int or None
        Seed of the oracle; 0 is a real seed.
    overwrite : bool
        Start afresh, deleting an existing project of that name.
    progress : callable, optional
        Called with a dict after each trial.
    verbose : bool
        Print the traceback of failed trials.
    distribution_strategy : tf.distribute.Strategy, optional
        Train each trial under it, e.g. ``tf.distribute.MirroredStrategy()`` for all the
        GPUs of this machine.

    Returns
    -------
    keras_tuner.Tuner
        In a distributed search (Keras Tuner's environment set, see
        :mod:`raretune.tuning._distributed`) a worker's ``oracle`` is Keras Tuner's gRPC
        client; seeding and remedy coverage then happen on the chief's oracle.
    """
    check_option(kind, "tuner", "make_tuner", TUNERS)
    if hasattr(hypermodel, "objective"):
        # the hypermodel's validation scorer must log the metric the oracle reads
        if hypermodel.objective is None:
            hypermodel.objective = objective
        elif hypermodel.objective != objective:
            raise ConfigError(
                f"The hypermodel scores {hypermodel.objective.metric} but the tuner optimises "
                f"{objective.metric}; give both the same objective."
            )
    check_number(max_trials, "max_trials", "make_tuner", kind=int, low=1)
    check_number(max_epochs, "max_epochs", "make_tuner", kind=int, low=1)
    common = dict(
        hypermodel=hypermodel,
        objective=objective.keras_tuner(),
        seed=seed,
        directory=str(directory),
        project_name=project_name,
        overwrite=overwrite,
        max_retries_per_trial=0,
        # a NaN trial fails alone; the search goes on (raretune reports failures)
        max_consecutive_failed_trials=max_trials + 1,
        distribution_strategy=distribution_strategy,
    )
    if kind == "hyperband":
        tuner = _Hyperband(max_epochs=max_epochs, factor=3, hyperband_iterations=1000, **common)
    elif kind == "bayesian":
        tuner = _Bayesian(max_trials=max_trials, num_initial_points=max(2, min(5, max_trials // 3)), **common)
    else:
        tuner = _Random(max_trials=max_trials, **common)
    oracle = tuner.oracle
    oracle.max_trials = max_trials
    is_worker = not hasattr(oracle, "trials")  # Keras Tuner's gRPC client to the chief's oracle
    if seed is not None and not is_worker and not oracle.trials:
        # Oracle.__init__ does `seed or random.randint(...)`, turning 0 into a random seed
        oracle.seed = seed
        oracle._seed_state = seed
        if hasattr(oracle, "_random_state"):
            oracle._random_state = np.random.RandomState(seed)
        if hasattr(oracle, "gpr"):
            oracle.gpr.random_state = seed
    strategies = getattr(hypermodel, "strategies", None)
    if strategies and len(strategies) > 1 and not is_worker:
        _cover_every_strategy(oracle, list(strategies))
    tuner.progress = progress
    tuner.verbose = verbose
    tuner.max_epochs = max_epochs
    return tuner
