"""Keras Tuner construction, with the defaults that make a search trustworthy.

What raretune changes in Keras Tuner's behaviour, and why, always in its own subclasses of
Keras Tuner's tuners and oracles (importing raretune changes nothing for other users of
Keras Tuner in the process):

* The objective always carries its direction (Keras Tuner guesses "min" for F1).
* ``seed=0`` is a real seed (the oracle's ``seed or random.randint(...)`` drops it).
* The oracle's first random draws try every remedy once.
* State files (``oracle.json``, ``trial.json``, the tuner's ``.json``) are written crash-safely.
* TensorBoard is imported only when a TensorBoard callback is used (Keras Tuner imports it
  in every trial, and ``tensorflow-cpu`` does not install it).
* Hyperband honours ``max_trials``.
* A failed trial (NaN loss) is never retried and never stops the search early, and its
  traceback is printed only when ``verbose``.
* Finished trials are reported to a progress callback (trial i of N, best so far).
"""

from __future__ import annotations

import json
import os
import time
import traceback

import keras_tuner as kt
import numpy as np
from keras_tuner.src import errors as kt_errors
from keras_tuner.src import utils as kt_utils
from keras_tuner.src.engine import hyperparameters as hp_module
from keras_tuner.src.engine import trial as trial_module

from .._errors import ConfigError
from .._io import write_text
from .._validation import check_number, check_option
from ..metrics import Objective

__all__ = ["TUNERS", "make_tuner", "completed_trials", "trial_event"]

#: Tuner kinds accepted by :func:`make_tuner`.
TUNERS = ("hyperband", "bayesian", "random")


def _write_state(path, state: dict) -> None:
    """Keras Tuner's ``save_json``, but crash-safe for local paths (temp file + rename).

    Keras Tuner writes ``oracle.json``, ``tuner0.json`` and every ``trial.json`` in place, so
    a crash during a write leaves a truncated file and a project that no longer loads. (It
    also writes each trial's ``build_config.json`` with its own writer, but before the trial
    ends: a crash there leaves an unfinished trial, which runs again and rewrites the file.)
    """
    if "://" in str(path):  # a remote file system (gs://...): Keras Tuner's own writer
        kt_utils.save_json(path, state)
    else:
        write_text(path, json.dumps(state))


# -- oracles ------------------------------------------------------------------------------------


class _RaretuneOracleMixin:
    """Behaviour shared by raretune's Hyperband, Bayesian and random-search oracles.

    Parameters
    ----------
    cover_strategies : sequence of str
        The remedies that the first random draws try once each, in this order.
    **kwargs
        Keras Tuner's oracle arguments.
    """

    def __init__(self, *, cover_strategies=(), **kwargs):
        super().__init__(**kwargs)
        self.cover_strategies = tuple(cover_strategies)
        if kwargs.get("seed") is not None:
            # Oracle.__init__ does `seed or random.randint(...)`, turning 0 into a random seed
            self.seed = self._seed_state = kwargs["seed"]

    def save(self):
        # Oracle.save and Oracle._save_trial (Keras Tuner 1.4.8), with the crash-safe writer
        _write_state(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial):
        _write_state(os.path.join(self._get_trial_dir(trial.trial_id), "trial.json"), trial.get_state())

    def _random_values(self):
        """Keras Tuner's random draw, but the first draws try every remedy once.

        Random draws can leave a remedy untried in a small budget (four remedies, twelve
        trials: a 3 % chance per remedy), and then the leaderboard cannot say whether it
        would have helped. Until each remedy has a trial, a fresh random draw keeps its other
        values and takes the first untried remedy instead; that remedy's own knobs are drawn
        at random. Which remedies have trials is read from the oracle's trials, so a resumed
        search carries on correctly.
        """
        values = super()._random_values()
        if values is None or len(self.cover_strategies) < 2:
            return values
        tried = {t.hyperparameters.values.get("strategy") for t in self.trials.values()}
        untried = [s for s in self.cover_strategies if s not in tried]
        if not untried or values.get("strategy") in untried:
            return values
        hps = hp_module.HyperParameters()
        for hp in self.hyperparameters.space:
            hps.merge([hp])
            if hp.name == "strategy":
                hps.values["strategy"] = untried[0]
            elif hps.is_active(hp):
                if hp.name in values:
                    hps.values[hp.name] = values[hp.name]
                else:
                    hps.values[hp.name] = hp.random_sample(self._seed_state)
                    self._seed_state += 1
        return hps.values


class _HyperbandOracle(_RaretuneOracleMixin, kt.oracles.HyperbandOracle):
    def __init__(self, *, max_trials: int | None = None, **kwargs):
        super().__init__(**kwargs)
        # Keras Tuner's Hyperband has no trial budget; Oracle.create_trial honours this one
        self.max_trials = max_trials


class _BayesianOracle(_RaretuneOracleMixin, kt.oracles.BayesianOptimizationOracle):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # drawn from the seed before the mixin could correct it
        self._random_state = np.random.RandomState(self.seed)
        self.gpr = self._make_gpr()


class _RandomOracle(_RaretuneOracleMixin, kt.oracles.RandomSearchOracle):
    pass


# -- tuners -------------------------------------------------------------------------------------


class _RaretuneTunerMixin:
    """Behaviour shared by raretune's Hyperband, Bayesian and random-search tuners."""

    progress = None  # callable(event: dict) or None
    verbose = False  # print the traceback of failed trials
    lease = None  # WorkerLease on a worker of a distributed search (see .distributed)

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

    def _try_run_and_update_trial(self, trial, *fit_args, **fit_kwargs):
        # Keras Tuner 1.4.8's, but the traceback of a failed trial is printed only when
        # `verbose` (Keras Tuner prints it whenever its module-wide DEBUG flag is set, the
        # default); the reason is kept with the trial either way.
        try:
            self._run_and_update_trial(trial, *fit_args, **fit_kwargs)
            trial.status = trial_module.TrialStatus.COMPLETED
        except kt_errors.FatalError:
            raise
        except Exception as exc:
            if self.verbose:
                traceback.print_exc()
            failed = isinstance(exc, kt_errors.FailedTrialError)
            trial.status = trial_module.TrialStatus.FAILED if failed else trial_module.TrialStatus.INVALID
            trial.message = traceback.format_exc()

    def save(self):
        # BaseTuner.save, with the crash-safe writer (a worker's oracle is the chief's)
        if not self._is_worker():
            self.oracle.save()
        _write_state(self._get_tuner_fname(), self.get_state())

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
        sent = trial
        if self._is_worker():
            from .distributed._protos import quiet_trial

            # the trial crosses the wire: a copy that serialises without Keras Tuner's print
            sent = quiet_trial(trial)
        super().on_trial_end(sent)
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
    def __init__(self, *, oracle, **kwargs):
        # kt.Hyperband.__init__ would build Keras Tuner's own oracle; raretune passes its own
        kt.Tuner.__init__(self, oracle=oracle, **kwargs)


class _Bayesian(_RaretuneTunerMixin, kt.BayesianOptimization):
    def __init__(self, *, oracle, **kwargs):
        kt.Tuner.__init__(self, oracle=oracle, **kwargs)


class _Random(_RaretuneTunerMixin, kt.RandomSearch):
    def __init__(self, *, oracle, **kwargs):
        self.seed = oracle.seed  # as kt.RandomSearch.__init__ sets it
        kt.Tuner.__init__(self, oracle=oracle, **kwargs)


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
        :mod:`raretune.tuning.distributed`) a worker's ``oracle`` is Keras Tuner's gRPC
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
    oracle_options = dict(
        objective=objective.keras_tuner(),
        seed=seed,
        max_retries_per_trial=0,
        # a NaN trial fails alone; the search goes on (raretune reports failures)
        max_consecutive_failed_trials=max_trials + 1,
        cover_strategies=tuple(getattr(hypermodel, "strategies", None) or ()),
    )
    if kind == "hyperband":
        oracle = _HyperbandOracle(max_epochs=max_epochs, factor=3, hyperband_iterations=1000, max_trials=max_trials,
                                  **oracle_options)
    elif kind == "bayesian":
        oracle = _BayesianOracle(max_trials=max_trials, num_initial_points=max(2, min(5, max_trials // 3)),
                                 **oracle_options)
    else:
        oracle = _RandomOracle(max_trials=max_trials, **oracle_options)
    tuner_class = {"hyperband": _Hyperband, "bayesian": _Bayesian, "random": _Random}[kind]
    tuner = tuner_class(oracle=oracle, hypermodel=hypermodel, directory=str(directory), project_name=project_name,
                        overwrite=overwrite, distribution_strategy=distribution_strategy)
    tuner.progress = progress
    tuner.verbose = verbose
    tuner.max_epochs = max_epochs
    return tuner
