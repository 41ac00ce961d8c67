"""The whole job: data to tuned model, threshold, test metrics, report and predictions.

:func:`run` is what ``raretune run`` calls; :func:`predict` is what ``raretune predict``
calls. Both are plain functions over :class:`RunConfig` and a run folder (see
``docs/run-folder.md``).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from . import __version__
from ._errors import ConfigError, DataError, RunStateError
from ._io import atomic_path, read_json, write_json
from ._validation import check_number, check_option
from .datasets import ImageData, TabularData, describe_imbalance, load_data, stratified_split, table_features
from .metrics import get_objective, score_predictions
from .thresholds import THRESHOLD_RULES, ProbabilityCalibrator, select_threshold

__all__ = ["RunConfig", "RunResult", "run", "predict", "load_run", "DEFAULT_DATA", "is_run_dir"]

#: The embedded default dataset (generated locally through TFDS, never downloaded).
DEFAULT_DATA = "tfds:synthetic_fraud"
_FAST_DATA = "tfds:synthetic_fraud/small"
_FAST_MAX_ROWS = 20_000
_RUN_FILES = ("metrics.json", "config.json", "model.keras", "trials.json", "tuner")


@dataclass
class RunConfig:
    """Every option of a run (the CLI's flags map one to one onto these fields).

    Parameters
    ----------
    data : str, DataFrame, tuple or tf.data.Dataset
        What to train on (see :func:`raretune.datasets.load_data`). Default: the embedded
        ``synthetic_fraud`` dataset.
    target : str, optional
        Label column (default: the dataset's own label, ``is_fraud`` for the default data).
    positive : str, optional
        Positive class (default: the rarer one).
    test_data : optional
        A fixed test set, loaded like ``data``; then ``data`` is split into train and
        validation only.
    out : path, optional
        Run folder (default ``runs/<timestamp>``).
    strategies : sequence of str, optional
        Remedies to search (``raretune.tuning.REMEDIES``). Default: ``DEFAULT_STRATEGIES``
        for tables, ``DEFAULT_IMAGE_STRATEGIES`` for images.
    tuner : {"hyperband", "bayesian", "random"}
    objective : str
        ``"pr_auc"``, ``"roc_auc"``, ``"f1"``, ``"recall@precision=P"`` or ``"cost"``.
    threshold : str
        ``"auto"`` (follows the objective: F1, the objective's precision, or minimum cost),
        ``"f1"``, ``"precision=P"``, ``"recall=R"`` or ``"cost"``.
    cost_fn, cost_fp : float
        Costs of a missed positive and of a false alarm (objective and threshold "cost").
    calibration : {"auto", "none", "prior", "platt", "isotonic"}
    max_trials, max_epochs : int, optional
        Search budget. By default it follows the size of the training split: 20 trials of
        up to 9 epochs from 20,000 training rows up (Hyperband then runs one 9-model
        bracket and starts the next), 40 trials of up to 27 epochs below (one full
        27-model Hyperband bracket: small data trains fast, and needs more epochs).
    validation_size, test_size : float
        Split fractions.
    ensemble : int, optional
        Greedy ensemble selection (Caruana et al.) over the best ``ensemble`` trials: the
        saved model averages the trials (repeats allowed) whose averaged out-of-fold
        predictions score best. 1: the best trial alone. Default 10 with cross-fitting, 1
        without (a hold-out validation part is too small to choose weights on and then
        calibrate).
    refit : bool
        With cross-fitting, after the test set is scored once, retrain the chosen networks
        (same hyperparameters and epochs) on every row, test rows included, and refit the
        calibration and threshold on their out-of-fold predictions; ``model.keras`` and
        ``raretune predict`` then use the refitted ensemble, while ``metrics.json``'s test
        metrics remain those of the networks trained without the test rows (an honest
        estimate of the procedure). Small data is where every row counts.
    linear : bool
        With cross-fitting and an ensemble, also offer the ensemble selection fully
        converged logistic regressions (scikit-learn's L-BFGS, balanced class weights, a
        few regularisation strengths), cross-fitted on the same folds and written as Keras
        models (:func:`raretune.tuning.logistic_model`). The search's own linear trials
        get only a few epochs of Adam; on small, nearly linear tables the converged
        regression is the stronger candidate. Chosen only when its out-of-fold
        predictions help.
    trees : bool
        Likewise offer gradient-boosted trees (scikit-learn's ``HistGradientBoostingClassifier``,
        balanced class weights, two settings), cross-fitted on the same folds and compiled
        into built-in Keras layers (:func:`raretune.tuning.trees_model`), so the saved
        ensemble stays one plain-Keras model.
    folds : int, optional
        Cross-fitting for small tables. With K > 1 the training and validation parts are
        searched together: every trial trains K networks on K stratified folds, is scored on
        their pooled out-of-fold predictions (so every rare-class row counts in the choice),
        and the saved model averages the K networks; calibration and the threshold are
        fitted on the out-of-fold predictions. 1: a single hold-out validation part. By
        default 5 when the training and validation parts hold fewer than 20,000 rows
        (1 above, and with ``fast``), lowered to the rarest class's count there.
    seed : int or None
        One seed for the split, the search and training; 0 is a real seed.
    fast : bool
        A tiny run (small data, 4 trials, 2 epochs) for smoke tests.
    resume, overwrite : bool
        Continue the run in ``out``, or replace it. Without either an existing run is
        never touched.
    baseline : bool
        Also fit scikit-learn's HistGradientBoosting with class weights, for the leaderboard.
    stream_above : int
        Training sets with more rows than this never get a resampled copy in memory: the
        sampling remedies are replaced by streaming rebalancing inside ``tf.data``
        (``stream``), and the run says so.
    data_dir : path, optional
        TFDS data folder.
    chief : str, optional
        ``HOST:PORT``: serve the search to workers there (a distributed search; see
        :mod:`raretune.tuning._distributed`). Chief and workers share ``out``.
    worker : str, optional
        ``HOST:PORT`` of the chief: run trials for it. Needs ``worker_id``. Without ``chief``
        and ``worker``, Keras Tuner's ``KERASTUNER_*`` environment variables decide.
    worker_id : str, optional
        This worker's name, unique among the workers.
    lease_seconds : float
        A distributed trial whose worker is silent this long goes back to the pool.
    mirrored : bool
        Train each trial on all of this machine's GPUs (``tf.distribute.MirroredStrategy``).
    quiet, verbose : bool
        Less or more progress output on standard error.
    """

    data: object = DEFAULT_DATA
    target: str | None = None
    positive: str | None = None
    test_data: object = None
    out: str | os.PathLike | None = None
    strategies: tuple | None = None
    tuner: str = "hyperband"
    objective: str = "pr_auc"
    threshold: str = "auto"
    cost_fn: float = 1.0
    cost_fp: float = 1.0
    calibration: str = "auto"
    max_trials: int | None = None
    max_epochs: int | None = None
    validation_size: float = 0.15
    test_size: float = 0.15
    folds: int | None = None
    ensemble: int | None = None
    refit: bool = True
    linear: bool = True
    trees: bool = True
    seed: int | None = 0
    fast: bool = False
    resume: bool = False
    overwrite: bool = False
    baseline: bool = True
    stream_above: int = 1_000_000
    data_dir: str | None = None
    chief: str | None = None
    worker: str | None = None
    worker_id: str | None = None
    lease_seconds: float = 120.0
    mirrored: bool = False
    quiet: bool = False
    verbose: bool = False
    command: list = field(default_factory=list)

    def validated(self) -> "RunConfig":
        """Check every option; return a copy with ``fast`` and defaults applied."""
        from .tuning._remedies import check_strategies

        config = dataclasses.replace(self)
        if config.strategies is not None:
            config.strategies = check_strategies(config.strategies)
        check_option(config.tuner, "tuner", "run", ("hyperband", "bayesian", "random"))
        check_option(config.calibration, "calibration", "run", ("auto", "none", "prior", "platt", "isotonic"))
        if config.max_trials is not None:
            check_number(config.max_trials, "max_trials", "run", kind=int, low=1)
        if config.max_epochs is not None:
            check_number(config.max_epochs, "max_epochs", "run", kind=int, low=1)
        if config.folds is not None:
            check_number(config.folds, "folds", "run", kind=int, low=1, high=20)
        if config.ensemble is not None:
            check_number(config.ensemble, "ensemble", "run", kind=int, low=1, high=100)
        if config.seed is not None:
            check_number(config.seed, "seed", "run", kind=int, low=0, high=2**31 - 1)
        if config.resume and config.overwrite:
            raise ConfigError("Pass --resume or --overwrite, not both.")
        from .tuning._distributed import check_distributed_options

        check_distributed_options(config.chief, config.worker, config.worker_id, config.lease_seconds)
        if (config.chief is not None or config.worker is not None) and config.out is None:
            raise ConfigError("A distributed search needs --out: the run folder that chief and workers share.")
        if config.worker is not None and config.overwrite:
            raise ConfigError("A worker never replaces the run folder; pass --overwrite to the chief.")
        get_objective(config.objective, cost_fn=config.cost_fn, cost_fp=config.cost_fp)
        _threshold_rule(config)
        if config.fast:
            if isinstance(config.data, str) and config.data == DEFAULT_DATA:
                config.data = _FAST_DATA
            config.max_trials = 4 if config.max_trials is None else min(config.max_trials, 4)
            config.max_epochs = 2 if config.max_epochs is None else min(config.max_epochs, 2)
            config.folds = 1 if config.folds is None else config.folds
        return config

    def to_dict(self) -> dict:
        """JSON-ready options (data objects are described, not serialised)."""
        out = dataclasses.asdict(self)
        for key in ("data", "test_data"):
            value = out[key]
            if value is not None and not isinstance(value, (str, os.PathLike)):
                out[key] = f"<{type(value).__name__}>"
            elif value is not None:
                out[key] = str(value)
        out["out"] = None if self.out is None else str(self.out)
        out["strategies"] = None if self.strategies is None else list(self.strategies)
        return out


@dataclass
class RunResult:
    """What :func:`run` returns: the run folder and its record.

    Attributes
    ----------
    out : pathlib.Path
        The run folder.
    metrics : dict
        The content of ``metrics.json``.
    """

    out: Path
    metrics: dict

    @property
    def test(self) -> dict:
        """Test-set metrics."""
        return self.metrics["test"]


def _threshold_rule(config: RunConfig):
    """(rule, target) for :func:`select_threshold` from the config."""
    spec = config.threshold
    if spec == "auto":
        objective = get_objective(config.objective, cost_fn=config.cost_fn, cost_fp=config.cost_fp)
        if objective.name == "recall_at_precision":
            return "precision", objective.precision
        if objective.name == "cost":
            return "cost", None
        return "f1", None
    rule, _, value = str(spec).partition("=")
    check_option(rule, "threshold", "run", THRESHOLD_RULES)
    if rule in ("precision", "recall"):
        try:
            target = float(value)
        except ValueError:
            raise ConfigError(f"The threshold rule {rule!r} needs a value, e.g. '{rule}=0.9'; got {spec!r}.") from None
        check_number(target, "threshold target", "run", low=0, high=1, closed="right")
        return rule, target
    return rule, None


def _log(config: RunConfig, message: str, *, verbose_only: bool = False) -> None:
    if config.quiet or (verbose_only and not config.verbose):
        return
    print(f"[raretune] {message}", file=sys.stderr, flush=True)


def is_run_dir(path) -> bool:
    """Whether ``path`` holds (part of) a raretune run."""
    path = Path(path)
    return path.is_dir() and any((path / name).exists() for name in _RUN_FILES)


#: Below this many training rows the default budget is 40 trials of up to 27 epochs.
SMALL_DATA_ROWS = 20_000


def _resolve_budget(config: RunConfig, n_train: int) -> None:
    """Fill in the default search budget from the training split's size (see RunConfig)."""
    small = n_train < SMALL_DATA_ROWS
    if config.max_trials is None:
        config.max_trials = 40 if small else 20
    if config.max_epochs is None:
        config.max_epochs = 27 if small else 9


#: Default number of cross-fitting folds for small tables (see RunConfig.folds).
DEFAULT_FOLDS = 5
#: Default number of best trials that greedy ensemble selection considers with cross-fitting.
DEFAULT_ENSEMBLE = 10


def _resolve_folds(config: RunConfig, split) -> int:
    """Fill in ``config.folds`` from the data (see RunConfig) and return it."""
    search_counts = split.train.class_counts + split.validation.class_counts
    n_search = int(search_counts.sum())
    folds = config.folds
    if folds is None:
        folds = DEFAULT_FOLDS if n_search < SMALL_DATA_ROWS else 1
        folds = max(1, min(folds, int(search_counts.min())))  # every fold holds every class
    elif folds > int(search_counts.min()):
        raise DataError(
            f"--folds {folds} needs at least {folds} rows of every class in the training and "
            f"validation parts; the rarest has {int(search_counts.min())}."
        )
    config.folds = folds
    if config.ensemble is None:
        config.ensemble = DEFAULT_ENSEMBLE if folds > 1 else 1
    return folds


def _concat_rows(first, second):
    """Two tables of the same schema as one, ``first``'s rows first."""
    return first.with_rows(pd.concat([first.features, second.features], ignore_index=True),
                           np.concatenate([first.y, second.y]))


def _merge_search_rows(split):
    """The training and validation parts as one table (cross-fitting searches them together)."""
    from .datasets import DataSplit

    rows = _concat_rows(split.train, split.validation)
    return DataSplit(rows, rows, split.test)


def _streaming_strategies(config: RunConfig, n_train: int) -> tuple:
    """The remedies to search; above ``stream_above`` rows, samplers become ``stream``."""
    from .tuning._remedies import is_sampler

    if n_train <= config.stream_above:
        return tuple(config.strategies)
    swapped = [s for s in config.strategies if is_sampler(s)]
    if not swapped:
        return tuple(config.strategies)
    kept = [s for s in config.strategies if not is_sampler(s)]
    strategies = tuple(dict.fromkeys(kept + ["stream"]))
    _log(config, f"{n_train:,} training rows (over {config.stream_above:,}): {', '.join(swapped)} "
                 "replaced by streaming rebalancing (stream) to keep one copy of the data in memory")
    return strategies


def _fingerprint(data: TabularData, test: TabularData | None, config: RunConfig) -> str:
    digest = hashlib.sha256()
    for table in (data, test):
        if table is None:
            continue
        if isinstance(table, ImageData):
            digest.update(np.ascontiguousarray(table.images).tobytes())
            digest.update(np.asarray(table.y).tobytes())
            digest.update(json.dumps([table.classes, table.image_shape]).encode())
            continue
        digest.update(pd.util.hash_pandas_object(table.features, index=False).to_numpy().tobytes())
        digest.update(np.asarray(table.y).tobytes())
        digest.update(json.dumps([table.classes, table.numeric, table.categorical]).encode())
    search = {
        k: v
        for k, v in config.to_dict().items()
        if k in ("strategies", "tuner", "objective", "cost_fn", "cost_fp", "max_trials", "max_epochs",
                 "validation_size", "test_size", "folds", "ensemble", "seed", "target", "positive")
    }
    digest.update(json.dumps(search, sort_keys=True).encode())
    return digest.hexdigest()


def _subsample(data: TabularData, n_max: int, seed) -> TabularData:
    """At most ``n_max`` rows, every class kept in proportion (at least 3 rows each)."""
    if data.n_rows <= n_max:
        return data
    rng = np.random.default_rng(seed)
    keep = []
    for k in range(data.n_classes):
        rows = np.flatnonzero(data.y == k)
        n_k = max(min(rows.size, 3), int(round(rows.size * n_max / data.n_rows)))
        keep.append(rng.choice(rows, size=n_k, replace=False))
    return data.take(np.sort(np.concatenate(keep)))


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
        Bad data or options (one-line message); nothing in ``out`` is changed then.

    Examples
    --------
    >>> import raretune                                                    # doctest: +SKIP
    >>> result = raretune.run(data="transactions.csv", target="is_fraud")  # doctest: +SKIP
    >>> result.test["pr_auc"]                                              # doctest: +SKIP
    """
    with warnings.catch_warnings():
        for message in _NOISE:
            warnings.filterwarnings("ignore", message=message)
        return _run(dataclasses.replace(config or RunConfig(), **options).validated())


#: Library warnings that say nothing actionable to a raretune user.
_NOISE = (
    ".*Skipping variable loading for optimizer.*",
    ".*`shuffle=True` was passed, but will be ignored.*",
    ".*Your input ran out of data.*",
)


def _run(config: RunConfig) -> RunResult:
    started = time.monotonic()
    objective = get_objective(config.objective, cost_fn=config.cost_fn, cost_fp=config.cost_fp)
    from .tuning._distributed import resolve_role

    # chief, worker (from --chief/--worker or Keras Tuner's KERASTUNER_* variables) or None
    role = resolve_role(chief=config.chief, worker=config.worker, worker_id=config.worker_id)
    is_worker = role is not None and role.kind == "worker"
    if role is not None and config.out is None:
        raise ConfigError("A distributed search needs --out: the run folder that chief and workers share.")
    out = Path(config.out) if config.out is not None else Path("runs") / _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    config.out = out
    if out.exists() and not out.is_dir():
        raise RunStateError(f"--out {str(out)!r} is a file, not a folder.")
    existing = is_run_dir(out)
    if existing and not (config.resume or config.overwrite or is_worker):
        raise RunStateError(f"{str(out)!r} already holds a run; pass --resume to continue it or --overwrite to replace it.")
    if config.resume and not existing and not is_worker:
        raise RunStateError(f"Nothing to resume in {str(out)!r}: it holds no run.")

    # -- data (validated before anything is written) ---------------------------------------
    _log(config, f"loading {config.data if isinstance(config.data, (str, os.PathLike)) else type(config.data).__name__}")
    data = load_data(config.data, target=config.target, positive=config.positive, data_dir=config.data_dir)
    test_data = None
    if config.test_data is not None:
        test_data = load_data(config.test_data, target=data.target, reference=data, data_dir=config.data_dir)
    config.strategies = _strategies_for(config, data)
    if config.fast:
        data = _subsample(data, _FAST_MAX_ROWS, config.seed)
    diagnosis = describe_imbalance(data)
    if data.is_binary:
        _log(config, f"{data.n_rows:,} rows, positive class {data.classes[1]!r}: "
                     f"{diagnosis['class_counts'][data.classes[1]]:,} rows ({diagnosis['positive_rate']:.3%}), "
                     f"imbalance ratio {diagnosis['imbalance_ratio']:.0f}:1")
    else:
        _log(config, f"{data.n_rows:,} rows, {data.n_classes} classes, rarest {diagnosis['minority']!r} "
                     f"({diagnosis['positive_rate']:.3%}), imbalance ratio {diagnosis['imbalance_ratio']:.0f}:1")
    for warning in diagnosis["warnings"]:
        _log(config, f"warning: {warning}")
    split = stratified_split(
        data, validation_size=config.validation_size, test_size=config.test_size,
        test=test_data, random_state=config.seed,
    )
    _resolve_budget(config, split.train.n_rows)
    if isinstance(data, ImageData):
        if config.folds not in (None, 1):
            raise ConfigError("--folds applies to tables; image runs score a hold-out validation part.")
        config.folds = 1
        config.ensemble = 1 if config.ensemble is None else config.ensemble
    elif _resolve_folds(config, split) > 1:
        split = _merge_search_rows(split)
    fingerprint = _fingerprint(data, test_data, config)
    if config.resume and not is_worker:  # a worker checks the chief's fingerprint in join_search
        previous = _read_config(out)
        if previous.get("fingerprint") != fingerprint:
            raise RunStateError(
                f"{str(out)!r} was run on other data or another search space; resuming it with "
                "these would mix results. Use a new --out, or --overwrite."
            )
    if config.overwrite and existing:
        _remove_run(out)
    out.mkdir(parents=True, exist_ok=True)
    prepared = _Prepared(out, started, objective, data, test_data, diagnosis, split, fingerprint, role)
    if isinstance(data, ImageData):
        from ._run_images import run_images

        return run_images(config, prepared)

    # -- search ---------------------------------------------------------------------------
    from .tuning import FeatureSchema, TabularHyperModel
    import keras

    if config.seed is not None:
        keras.utils.set_random_seed(config.seed)
    schema = FeatureSchema.from_data(split.train)
    if not config.resume and not is_worker:
        write_json(out / "config.json", {
            "raretune_version": __version__, "config": config.to_dict(), "fingerprint": fingerprint,
            "schema": schema.to_dict(), "classes": list(data.classes), "target": data.target,
        })
    strategies = _streaming_strategies(config, split.train.n_rows)
    hypermodel = TabularHyperModel(
        schema, strategies=strategies, objective=objective, random_state=config.seed, folds=config.folds,
    )
    if config.folds > 1:
        _log(config, f"cross-fitting: {config.folds} folds over the {split.train.n_rows:,} training and validation "
                     "rows; trials are scored on out-of-fold predictions, the model averages the fold networks")
    return _search_and_finish(
        config, prepared, hypermodel,
        predict_part=lambda model, part: _predict(model, schema.inputs(part.features)),
        columns={"numeric": list(data.numeric), "categorical": list(data.categorical)},
    )


class _Prepared(NamedTuple):
    """A run's data, split and folder, ready for the search (shared by tables and images)."""

    out: Path
    started: float
    objective: object
    data: object
    test_data: object
    diagnosis: dict
    split: object
    fingerprint: str
    role: object = None  # distributed role (chief or worker), None for a local search


def _strategies_for(config: RunConfig, data) -> tuple:
    """The remedies to search: as configured, or the default for the data kind; checked against it."""
    from .tuning._remedies import DEFAULT_IMAGE_STRATEGIES, DEFAULT_STRATEGIES, check_strategies

    kind = "image" if isinstance(data, ImageData) else "table"
    default = DEFAULT_IMAGE_STRATEGIES if kind == "image" else DEFAULT_STRATEGIES
    return check_strategies(default if config.strategies is None else config.strategies, kind=kind)


def _search_and_finish(config: RunConfig, prepared: _Prepared, hypermodel, *, predict_part, columns: dict) -> RunResult:
    """Search, calibrate, choose the threshold, score the test set once and write the run.

    Shared by tables and images: ``predict_part(model, part)`` gives the network's raw
    scores for a split part, ``columns`` describes the inputs for ``metrics.json``.
    """
    from .tuning import completed_trials, make_tuner

    from .tuning import _distributed

    out, started, objective, data, test_data, diagnosis, split, fingerprint, role = prepared
    is_worker = role is not None and role.kind == "worker"

    def say(message):
        _log(config, message)

    trial_log = _TrialLog(out / "trials.json", config)
    if is_worker:  # the chief's config.json must carry this worker's fingerprint
        _distributed.join_search(role, out, fingerprint, log=say)
    with _distributed.kt_environment(role):
        try:
            tuner = make_tuner(
                config.tuner, hypermodel, objective, max_trials=config.max_trials, max_epochs=config.max_epochs,
                directory=out, project_name="tuner", seed=config.seed, overwrite=not (config.resume or is_worker),
                progress=trial_log.on_trial_end, verbose=config.verbose,
                distribution_strategy=_distributed.mirrored_strategy() if config.mirrored else None,
            )
        except (ValueError, KeyError, TypeError, OSError) as exc:
            if not config.resume:
                raise
            raise RunStateError(
                f"The tuner state in {str(out / 'tuner')!r} is damaged ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}); it cannot be resumed. "
                "Use --overwrite or a new --out."
            ) from None
        if not is_worker:  # a worker's oracle is the chief's, over gRPC; the chief keeps trials.json
            trial_log.oracle = tuner.oracle
        _log(config, f"search: {config.tuner}, up to {config.max_trials} trials of up to {config.max_epochs} epochs, "
                     f"objective {objective.describe()}, remedies {', '.join(hypermodel.strategies)}")
        search_started = time.monotonic()
        search = dict(train=split.train, validation=split.validation, epochs=config.max_epochs, verbose=0,
                      callbacks=_search_callbacks(config, out))
        if role is None:
            tuner.search(**search)
        elif role.kind == "chief":
            _distributed.serve_search(tuner, role, lease_seconds=config.lease_seconds,
                                      on_trial_end=trial_log.on_trial_end, log=say)
        else:
            ran = _distributed.run_worker(tuner, lease_seconds=config.lease_seconds, log=say, **search)
            say(f"{role.tuner_id}: the chief says the search is over; {len(ran)} trial(s) started here")
            return RunResult(out=out, metrics={"role": "worker", "tuner_id": role.tuner_id, "trials": ran})
    search_seconds = time.monotonic() - search_started
    trials = completed_trials(tuner.oracle)
    trial_log.write(tuner.oracle)
    if not trials:
        raise RunStateError("Every trial failed; see trials.json for the reasons.")
    reverse = objective.direction == "max"
    best = sorted(trials, key=lambda t: t.score, reverse=reverse)[0]
    model = tuner.load_model(best)
    settings = _remedy_of(best)
    _log(config, f"best trial {best.trial_id}: {settings['strategy']}, {objective.metric} = {best.score:.4f}")

    # -- ensemble, calibration, threshold, test ------------------------------------------
    folds = getattr(hypermodel, "folds", 1)

    def validation_raw(network):
        if folds > 1:  # cross-fitting: the validation rows are the search rows, scored out of fold
            return hypermodel.out_of_fold(network, split.validation)
        return predict_part(network, split.validation)

    val_raw = validation_raw(model)
    members = [{"trial_id": best.trial_id, "strategy": settings["strategy"], "weight": 1}]
    train_prior = _training_prior(hypermodel, split.train, best)
    n_candidates, converged = 1, []
    if (config.ensemble or 1) > 1:
        trial_pool = _distinct_configurations(sorted(trials, key=lambda t: t.score, reverse=reverse))[: config.ensemble]
        candidates = [_Candidate(members[0], model, val_raw, train_prior)] + [
            _Candidate({"trial_id": t.trial_id, "strategy": _remedy_of(t)["strategy"]}, network, validation_raw(network),
                       _training_prior(hypermodel, split.train, t))
            for t in trial_pool[1:] for network in [tuner.load_model(t)]
        ]
        if folds > 1:
            converged = _converged_candidates(config, hypermodel, split.validation)
            candidates += converged
        if config.calibration == "prior":  # only members trained under the best trial's prior
            candidates = [c for c in candidates if _same_prior(c.prior, train_prior)]
        n_candidates = len(candidates)
        if len(candidates) > 1:
            model, val_raw, members, train_prior = _select_ensemble(config, candidates, split, objective)
        if len(members) > 1 or members[0]["trial_id"] != best.trial_id:
            _log(config, "ensemble: " + ", ".join(f"{_member_label(m)} x{m['weight']}" for m in members)
                 + f"; {objective.metric} = {objective.score(split.validation.y, val_raw):.4f}")
    test_raw = predict_part(model, split.test)
    calibrator = ProbabilityCalibrator(config.calibration, train_prior=train_prior, random_state=config.seed or 0)
    if config.calibration == "prior" and calibrator.train_prior is None:
        raise ConfigError("Prior correction needs the training prior, which this remedy does not define.")
    calibrator.fit(split.validation.y, val_raw)
    val_score = calibrator.transform(val_raw)
    test_score = calibrator.transform(test_raw)
    costs = {"fn": config.cost_fn, "fp": config.cost_fp}
    threshold = None
    rule, target = _threshold_rule(config)
    if data.is_binary:
        threshold = select_threshold(
            split.validation.y, val_score, rule=rule, target=target, cost_fn=config.cost_fn, cost_fp=config.cost_fp
        )
    score_kwargs = dict(threshold=threshold if threshold is not None else 0.5, costs=costs if rule == "cost" or config.objective == "cost" else None, class_names=data.classes)
    val_metrics = score_predictions(split.validation.y, val_score, **score_kwargs)
    test_metrics = score_predictions(split.test.y, test_score, **score_kwargs)
    brier = _brier(split.validation.y, val_raw, val_score) if data.is_binary else {}
    if data.is_binary:
        test_metrics["intervals"] = _intervals(split.test.y, test_score, threshold, config.seed)

    leaderboard = _leaderboard(trials, objective, tuner, trial_log, test=split.test, predict_part=predict_part)
    leaderboard += [_converged_row(c, objective, split, predict_part) for c in converged]
    if config.baseline:
        leaderboard.append(_baseline(split, objective, config, folds=hypermodel.folds_of(split.train)[0] if folds > 1 else None))

    refit = None
    if folds > 1 and config.refit:
        model, refit = _refit(config, hypermodel, tuner, members, split, objective, train_prior)
        _log(config, f"refit on all {refit['n_rows']:,} rows (test rows included): out-of-fold "
                     f"{objective.metric} = {refit['validation_score']:.4f}")

    # -- artefacts ------------------------------------------------------------------------
    with atomic_path(out / "model.keras", suffix=".keras") as tmp:
        model.save(tmp)
    history = _history(tuner.oracle, best)
    write_json(out / "history.json", history)
    with atomic_path(out / "scores.npz", suffix=".npz") as tmp:
        np.savez_compressed(
            tmp, validation_y=split.validation.y, validation_score=val_score, validation_score_raw=val_raw,
            test_y=split.test.y, test_score=test_score, test_score_raw=test_raw,
        )
    n_failed = sum(1 for t in tuner.oracle.trials.values() if t.status in ("FAILED", "INVALID"))
    metrics = {
        "raretune_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": list(config.command) or ["raretune.run"],
        "versions": _versions(),
        "seconds": time.monotonic() - started,
        "task": {
            "type": "binary" if data.is_binary else "multiclass",
            "target": data.target,
            "classes": list(data.classes),
            "positive": data.classes[1] if data.is_binary else None,
        },
        "data": {
            "source": data.source,
            "n_rows": data.n_rows + (test_data.n_rows if test_data is not None else 0),
            "n_train": split.train.n_rows,
            "n_validation": split.validation.n_rows if folds == 1 else 0,  # cross-fitting: out of fold
            "n_test": split.test.n_rows,
            "folds": folds,
            "class_counts": diagnosis["class_counts"],
            "split_class_counts": {
                part: {name: int(c) for name, c in zip(data.classes, getattr(split, part).class_counts)}
                for part in (("train", "validation", "test") if folds == 1 else ("train", "test"))
            },
            "positive_rate": diagnosis["positive_rate"],
            "imbalance_ratio": diagnosis["imbalance_ratio"],
            "columns": columns,
            "notes": list(data.notes) + ([f"test rows from {test_data.source}"] if test_data is not None else [])
            + ([f"cross-fitting: the {split.train.n_rows:,} training rows are split into {folds} folds; "
                "validation scores are out-of-fold predictions"] if folds > 1 else []),
            "warnings": diagnosis["warnings"],
        },
        "search": {
            "tuner": config.tuner,
            "objective": objective.to_dict(),
            "max_trials": config.max_trials,
            "max_epochs": config.max_epochs,
            "folds": folds,
            "n_trials": len(tuner.oracle.trials),
            "n_failed": n_failed,
            "seconds": search_seconds,
            "strategies": list(hypermodel.strategies),
            "seed": config.seed,
        },
        "best": {
            "trial_id": best.trial_id,
            "strategy": settings["strategy"],
            "remedy": settings,
            "hyperparameters": {k: v for k, v in best.hyperparameters.values.items()},
            "validation_score": best.score,
        },
        "ensemble": {
            "candidates": n_candidates,
            "members": members,
            "validation_score": float(objective.score(split.validation.y, val_raw)),
        },
        "threshold": None if threshold is None else {"value": threshold, "rule": rule, "target": target},
        "calibration": {**calibrator.to_dict(), **brier},
        "costs": costs if (rule == "cost" or config.objective == "cost") else None,
        "validation": val_metrics,
        "test": test_metrics,
        "refit": refit,
        "leaderboard": leaderboard,
    }
    write_json(out / "metrics.json", metrics)
    _write_report(out, config)
    _log(config, _summary(metrics))
    return RunResult(out=out, metrics=read_json(out / "metrics.json"))


# -- pieces of the run ------------------------------------------------------------------------


def _search_callbacks(config: RunConfig, out: Path) -> list:
    """TensorBoard logs of every trial (Keras Tuner's hparams view) when TensorBoard is installed."""
    import importlib.util

    import keras

    callbacks = []
    if importlib.util.find_spec("tensorboard") is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(out / "tensorboard"), write_graph=False))
    else:
        _log(config, "TensorBoard is not installed: no search logs (pip install 'raretune[tensorboard]')",
             verbose_only=True)
    if config.verbose:

        class EpochLine(keras.callbacks.Callback):
            """--verbose: one line per epoch with the loss and the exact validation scores."""

            def on_epoch_end(self, epoch, logs=None):
                shown = "  ".join(f"{k} {v:.4f}" for k, v in (logs or {}).items() if isinstance(v, float))
                print(f"[raretune]     epoch {epoch + 1}: {shown}", file=sys.stderr, flush=True)

        callbacks.append(EpochLine())
    return callbacks


class _TrialLog:
    """Trial records kept beside Keras Tuner's state: wall time and failure reasons."""

    def __init__(self, path: Path, config: RunConfig):
        self.path = path
        self.config = config
        self.seconds = {}
        self.tuner_ids = {}  # which tuner ran each trial ("tuner0" on one machine, the worker's name)
        if path.exists() and config.resume:
            try:
                for record in read_json(path):
                    self.seconds[record["trial_id"]] = record.get("seconds")
                    self.tuner_ids[record["trial_id"]] = record.get("tuner_id")
            except (OSError, ValueError, KeyError, TypeError):
                pass

    oracle = None

    def on_trial_end(self, event: dict) -> None:
        self.seconds[event["trial_id"]] = event["seconds"]
        self.tuner_ids[event["trial_id"]] = event.get("tuner_id")
        if self.oracle is not None:
            self.write(self.oracle)  # after every trial, so a crash keeps the records
        score = "failed" if event["score"] is None else f"{event['score']:.4f}"
        best = "-" if event["best"] is None else f"{event['best']:.4f}"
        total = event["max_trials"] or "?"
        reason = f"  ({event['message'][0][:80]})" if event["status"] != "COMPLETED" and event["message"] else ""
        # a worker sees neither the other trials nor the best score: it names its trial instead
        which = f"trial {event['done']}/{total}" if event["done"] is not None else f"trial {event['trial_id']} ({event['tuner_id']})"
        _log(self.config, f"{which}  {event['strategy']:<14} score {score}  "
                          f"best {best}  {event['seconds']:.1f}s{reason}")

    def records(self, oracle) -> list:
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
        write_json(self.path, self.records(oracle))


def _remedy_of(trial) -> dict:
    from .tuning._remedies import remedy_settings

    return remedy_settings(trial.hyperparameters)


def _predict(model, inputs) -> np.ndarray:
    from .tuning._hypermodel import predict_proba

    return predict_proba(model, inputs)


def _training_prior(hypermodel, train: TabularData, trial):
    """The class prior the chosen network was trained under (after its remedy)."""
    from .weighting import class_weights

    settings = _remedy_of(trial)
    strategy = settings["strategy"]
    if strategy in ("focal", "bias_init"):
        return None
    if strategy == "balanced_bagging":
        return 1.0 / (1.0 + float(settings["bagging_neg_ratio"])) if train.is_binary else None
    if strategy == "augment":  # images: the class shares of the rebalanced stream
        from .tuning._image import stream_class_shares

        shares = stream_class_shares(train.y, float(settings["augment_ratio"]), n_classes=train.n_classes)
        return float(shares[1]) if train.is_binary else shares.tolist()
    rows = hypermodel.training_rows(train, settings, seed=hypermodel.trial_seed(trial.hyperparameters))
    counts = rows.class_counts.astype(float)
    if strategy == "class_weight":
        table = class_weights(rows.y, strength=float(settings["cw_strength"]), n_classes=rows.n_classes)
        counts = counts * np.array([table[k] for k in range(rows.n_classes)])
    if strategy == "stream":
        share = max(float(settings["stream_share"]), counts.min() / counts.sum())
        return share if rows.is_binary else None
    prior = counts / counts.sum()
    return float(prior[1]) if rows.is_binary else prior.tolist()


def _brier(y, raw, calibrated) -> dict:
    from sklearn.metrics import brier_score_loss, log_loss

    return {
        "brier_before": float(brier_score_loss(y, raw)),
        "brier_after": float(brier_score_loss(y, calibrated)),
        "log_loss_before": float(log_loss(y, np.clip(raw, 1e-7, 1 - 1e-7), labels=[0, 1])),
        "log_loss_after": float(log_loss(y, np.clip(calibrated, 1e-7, 1 - 1e-7), labels=[0, 1])),
    }


def _intervals(y, score, threshold, seed):
    try:
        from .report import bootstrap_intervals
    except ImportError:
        return None
    return bootstrap_intervals(y, score, threshold, random_state=0 if seed is None else seed)


def _refit(config, hypermodel, tuner, members, split, objective, train_prior):
    """Retrain the chosen ensemble's networks on every row; refit calibration and threshold.

    Each member trial is rebuilt from its hyperparameters and trained, cross-fitted over
    training and test rows together, for the epochs at which it scored best in the search;
    a converged member (logistic regression, boosted trees) is cross-fitted again on them.
    Returns ``(model, record)``: the averaged model and the ``metrics.json`` ``refit`` entry
    (the calibration and threshold that ``raretune predict`` uses).
    """
    from .tuning import TabularHyperModel
    from .tuning._ensemble import average_models

    started = time.monotonic()
    rows = _concat_rows(split.train, split.test)
    refitter = TabularHyperModel(
        hypermodel.schema, strategies=hypermodel.strategies, objective=objective, random_state=config.seed,
        memory_budget=hypermodel.memory_budget, folds=min(hypermodel.folds, int(rows.class_counts.min())),
    )
    networks, predictions, weights, epochs = [], [], [], []
    for member in members:
        if member["trial_id"] is None:  # a converged model: cross-fitted again on every row
            oof, network = _fit_converged(hypermodel.schema, rows, refitter.folds_of(rows)[0], member, config.seed)
            networks.append(network)
            predictions.append(oof)
            epochs.append(None)
        else:
            trial = tuner.oracle.trials[member["trial_id"]]
            hp = trial.hyperparameters.copy()
            network = refitter.build(hp)
            epochs.append(_best_epochs(trial))
            refitter.fit(hp, network, train=rows, epochs=epochs[-1])
            networks.append(network)
            predictions.append(refitter.out_of_fold(network, rows))
        weights.append(int(member["weight"]))
    raw = _weighted_average(predictions, weights)
    calibrator = ProbabilityCalibrator(config.calibration, train_prior=train_prior, random_state=config.seed or 0)
    calibrator.fit(rows.y, raw)
    score = calibrator.transform(raw)
    threshold = None
    rule, target = _threshold_rule(config)
    if rows.is_binary:
        threshold = select_threshold(rows.y, score, rule=rule, target=target, cost_fn=config.cost_fn, cost_fp=config.cost_fp)
    record = {
        "n_rows": rows.n_rows,
        "folds": refitter.folds,
        "members": [{**m, "epochs": e} for m, e in zip(members, epochs)],
        "validation_score": float(objective.score(rows.y, raw)),
        "calibration": calibrator.to_dict(),
        "threshold": None if threshold is None else {"value": threshold, "rule": rule, "target": target},
        "seconds": time.monotonic() - started,
    }
    return average_models(networks, weights), record


def _distinct_configurations(trials) -> list:
    """The first (best) trial of each configuration, in order.

    Hyperband trains a configuration in rounds, each round a trial of its own; averaging
    a configuration with its own shorter-trained snapshots adds weight, not diversity.
    """
    seen, out = set(), []
    for trial in trials:
        key = json.dumps({k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")},
                         sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(trial)
    return out


def _best_epochs(trial) -> int:
    """Epochs from scratch to a trial's best checkpoint.

    Keras Tuner counts ``best_step`` within the trial's own ``fit`` call; a trial that
    Hyperband continued from an earlier one started at ``tuner/initial_epoch``.
    """
    start = int(trial.hyperparameters.values.get("tuner/initial_epoch", 0) or 0)
    return start + int(trial.best_step) + 1


def _weighted_average(predictions, weights) -> np.ndarray:
    """Weighted mean of probability arrays, kept inside [0, 1] (sums of floats can pass 1 by an ulp)."""
    weights = np.asarray(weights, dtype="float64")
    total = sum(w * np.asarray(p, dtype="float64") for w, p in zip(weights / weights.sum(), predictions))
    return np.clip(total, 0.0, 1.0)


def _same_prior(a, b) -> bool:
    return a is not None and b is not None and bool(np.allclose(a, b))


#: Bootstrap repeats of the ensemble selection (bagged ensemble selection; few rare rows).
ENSEMBLE_BAGS = 10


class _Candidate(NamedTuple):
    """One model the ensemble selection may use: its ``members`` entry, model, scores, prior."""

    member: dict
    network: object
    raw: np.ndarray
    prior: object
    seconds: float = 0.0


def _member_label(member: dict) -> str:
    if member.get("model") == "logistic_regression":
        return f"logistic regression (C={member['C']:g})"
    if member.get("model") == "boosted_trees":
        return f"boosted trees ({member['config']})"
    return f"trial {member['trial_id']} ({member['strategy']})"


def _fit_converged(schema, rows, fold_ids, member: dict, seed):
    """Cross-fit one converged model (a ``members`` entry); ``(out-of-fold scores, Keras model or None)``."""
    from .tuning import cross_fit_logistic, cross_fit_trees, logistic_model, trees_model

    if member["model"] == "logistic_regression":
        raw, fitted = cross_fit_logistic(schema, rows, fold_ids, C=member["C"], random_state=seed)
        return raw, logistic_model(schema, fitted)
    raw, fitted = cross_fit_trees(schema, rows, fold_ids, config=member["config"], random_state=seed)
    return raw, trees_model(schema, fitted)


def _converged_candidates(config, hypermodel, rows) -> list:
    """Converged models cross-fitted on the search's folds: logistic regressions, boosted trees."""
    from .tuning import LINEAR_C, TREE_CONFIGS

    ids, _ = hypermodel.folds_of(rows)
    prior = 0.5 if rows.is_binary else [1.0 / rows.n_classes] * rows.n_classes  # balanced class weights
    members = ([{"model": "logistic_regression", "C": C} for C in LINEAR_C] if config.linear else []) + (
        [{"model": "boosted_trees", "config": name} for name in TREE_CONFIGS] if config.trees else [])
    out = []
    for member in members:
        started = time.monotonic()
        member = {"trial_id": None, **member, "strategy": "class_weight"}
        raw, network = _fit_converged(hypermodel.schema, rows, ids, member, config.seed)
        if network is not None:  # None: many classes, few categories, no linear layout (see logistic_model)
            out.append(_Candidate(member, network, raw, prior, time.monotonic() - started))
    return out


def _converged_row(candidate, objective, split, predict_part) -> dict:
    """A converged model's leaderboard row: out-of-fold scores, and test PR-AUC for information."""
    pr_auc = get_objective("pr_auc")
    return {
        "name": _member_label(candidate.member),
        "kind": "converged",
        "validation_score": float(objective.score(split.validation.y, candidate.raw)),
        "validation_pr_auc": float(pr_auc.score(split.validation.y, candidate.raw)),
        "test_pr_auc": float(pr_auc.score(split.test.y, predict_part(candidate.network, split.test))),
        "seconds": candidate.seconds,
    }


def _select_ensemble(config, candidates, split, objective):
    """Greedy ensemble selection over ``candidates`` (best trial first) on validation predictions.

    Returns ``(model, validation raw scores, members, training prior)``; the prior is kept
    only when every member was trained under the same one (else calibration cannot use a
    prior correction and chooses Platt or isotonic).
    """
    from .tuning._ensemble import average_models, greedy_ensemble

    counts = greedy_ensemble([c.raw for c in candidates], split.validation.y, objective, bags=ENSEMBLE_BAGS,
                             random_state=config.seed)
    chosen = [candidates[i] for i, c in enumerate(counts) if c > 0]
    weights = [int(c) for c in counts if c > 0]
    members = [{**c.member, "weight": w} for c, w in zip(chosen, weights)]
    if len(chosen) == 1:
        return chosen[0].network, chosen[0].raw, members, chosen[0].prior
    raw = _weighted_average([c.raw for c in chosen], weights)
    same = all(_same_prior(c.prior, chosen[0].prior) for c in chosen)
    return average_models([c.network for c in chosen], weights), raw, members, chosen[0].prior if same else None


def _leaderboard(trials, objective, tuner, trial_log, *, test=None, predict_part=None) -> list:
    """Best validation result of each remedy tried, with its trials' count and time.

    The test PR-AUC of each remedy's best network is shown for information only: the
    choice between them was made on validation data (``validation_score``).
    """
    by_strategy = {}
    reverse = objective.direction == "max"
    pr_auc_of = get_objective("pr_auc")
    for trial in sorted(trials, key=lambda t: t.score, reverse=reverse):
        strategy = trial.hyperparameters.values.get("strategy")
        if strategy in by_strategy:
            continue
        pr_auc = trial.metrics.get_best_value("val_pr_auc") if trial.metrics.exists("val_pr_auc") else None
        if objective.name == "pr_auc":
            pr_auc = trial.score
        same = [t for t in trials if t.hyperparameters.values.get("strategy") == strategy]
        seconds = [trial_log.seconds.get(t.trial_id) for t in same]
        row = {
            "name": strategy,
            "kind": "remedy",
            "trial_id": trial.trial_id,
            "validation_score": trial.score,
            "validation_pr_auc": pr_auc,
            "trials": len(same),
            "seconds": float(sum(x for x in seconds if x is not None)),
        }
        if test is not None and predict_part is not None:
            row["test_pr_auc"] = pr_auc_of.score(test.y, predict_part(tuner.load_model(trial), test))
        by_strategy[strategy] = row
    return list(by_strategy.values())


def _baseline(split, objective, config, *, folds=None) -> dict:
    """scikit-learn's HistGradientBoosting with balanced class weights, scored the same way.

    With cross-fitting (``folds``: each training row's fold id) its validation score is
    out of fold too, over the same folds.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    started = time.monotonic()

    def frame(table):
        if isinstance(table, ImageData):  # pixels as features
            return table.images.reshape(table.n_rows, -1)
        features = table.features.copy()
        for name in table.categorical:
            features[name] = pd.Categorical(features[name], categories=sorted(set(split.train.features[name])))
        return features

    model = HistGradientBoostingClassifier(
        class_weight="balanced", categorical_features="from_dtype", random_state=config.seed,
        max_iter=200, early_stopping=True,
    )
    scores = {}
    if folds is not None:
        from sklearn.model_selection import PredefinedSplit, cross_val_predict

        proba = cross_val_predict(model, frame(split.train), split.train.y, cv=PredefinedSplit(folds),
                                  method="predict_proba")
        proba = proba[:, 1] if split.train.is_binary else proba
        scores["validation"] = (objective.score(split.train.y, proba), get_objective("pr_auc").score(split.train.y, proba))
    model.fit(frame(split.train), split.train.y)
    for part in ("validation", "test") if folds is None else ("test",):
        table = getattr(split, part)
        proba = model.predict_proba(frame(table))
        proba = proba[:, 1] if table.is_binary else proba
        scores[part] = (objective.score(table.y, proba), get_objective("pr_auc").score(table.y, proba))
    return {
        "name": "hist_gradient_boosting",
        "kind": "baseline",
        "validation_score": scores["validation"][0],
        "validation_pr_auc": scores["validation"][1],
        "test_score": scores["test"][0],
        "test_pr_auc": scores["test"][1],
        "seconds": time.monotonic() - started,
    }


def _history(oracle, trial) -> dict:
    """Per-epoch logs of the chosen trial, following Hyperband's chain of parent trials."""
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


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for key, dist in [("tensorflow", "tensorflow-cpu"), ("keras", "keras"), ("keras_tuner", "keras-tuner"),
                      ("scikit_learn", "scikit-learn"), ("imbalanced_learn", "imbalanced-learn"),
                      ("tensorflow_datasets", "tensorflow-datasets")]:
        try:
            out[key] = version(dist)
        except PackageNotFoundError:
            if key == "tensorflow":
                try:
                    out[key] = version("tensorflow")
                except PackageNotFoundError:
                    pass
    return out


def _write_report(out: Path, config: RunConfig) -> None:
    try:
        from .report import write_report
    except ImportError:
        return
    write_report(out)


def _summary(metrics: dict) -> str:
    test = metrics["test"]
    lines = ["done: test set"]
    keys = ["pr_auc", "roc_auc", "f1", "precision", "recall", "mcc", "balanced_accuracy", "g_mean"]
    for key in keys:
        value = test.get(key)
        lines.append(f"  {key:<18} {'-' if value is None else f'{value:.4f}'}")
    if metrics["threshold"]:
        lines.append(f"  {'threshold':<18} {metrics['threshold']['value']:.4f} ({metrics['threshold']['rule']})")
    if metrics["task"]["type"] == "binary":
        lines.append(f"  {'positive rate':<18} {test['positive_rate']:.4f}")
    members = (metrics.get("ensemble") or {}).get("members") or []
    if len(members) > 1:
        lines.append(f"  ensemble of {len(members)} trials ({', '.join(sorted({m['strategy'] for m in members}))})")
    refit = metrics.get("refit")
    if refit:
        threshold = f"; threshold {refit['threshold']['value']:.4f}" if refit.get("threshold") else ""
        lines.append(f"  model.keras: refitted on all {refit['n_rows']:,} rows{threshold}")
    lines.append(f"  best remedy: {metrics['best']['strategy']}; {metrics['seconds']:.0f} s in all")
    return "\n".join(lines)


def _remove_run(out: Path) -> None:
    for name in list(_RUN_FILES) + ["report.html", "scores.npz", "history.json", "tensorboard"]:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _read_config(out: Path) -> dict:
    try:
        return read_json(out / "config.json")
    except (OSError, ValueError):
        raise RunStateError(f"{str(out)!r} has no readable config.json; it cannot be resumed.") from None


# -- using a finished run -------------------------------------------------------------------


def load_run(run_dir):
    """Load a finished run: its model, schema, calibration, threshold and classes.

    Returns
    -------
    dict
        ``model`` (keras.Model), ``schema`` (FeatureSchema; None for images), ``image``
        (the image schema as a dict; None for tables), ``calibrator``,
        ``threshold`` (float or None), ``classes``, ``target``, ``metrics``.

    Raises
    ------
    RunStateError
        If ``run_dir`` is not a finished run.
    """
    import keras

    from .tuning import FeatureSchema

    run_dir = Path(run_dir)
    needed = [run_dir / "model.keras", run_dir / "metrics.json", run_dir / "config.json"]
    if not run_dir.is_dir() or not all(p.exists() for p in needed):
        raise RunStateError(f"{str(run_dir)!r} is not a finished raretune run (no model.keras/metrics.json).")
    try:
        metrics = read_json(run_dir / "metrics.json")
        config = read_json(run_dir / "config.json")
    except (OSError, ValueError) as exc:
        raise RunStateError(f"{str(run_dir)!r} holds a damaged run record: {exc}") from None
    model = keras.models.load_model(run_dir / "model.keras", compile=False)
    deployed = metrics.get("refit") or metrics  # a refitted model comes with its own calibration and threshold
    return {
        "model": model,
        "schema": None if config.get("schema") is None else FeatureSchema.from_dict(config["schema"]),
        "image": config.get("image"),
        "calibrator": ProbabilityCalibrator.from_dict(deployed["calibration"]),
        "threshold": None if deployed.get("threshold") is None else deployed["threshold"]["value"],
        "classes": metrics["task"]["classes"],
        "target": metrics["task"]["target"],
        "metrics": metrics,
    }


def predict(run_dir, data, *, data_dir=None) -> pd.DataFrame:
    """Score new rows with a finished run.

    Parameters
    ----------
    run_dir : path
        A folder written by :func:`run`.
    data : str, path, DataFrame, tuple or tf.data.Dataset
        Rows to score; they need the run's feature columns (a label column is not needed
        and other columns are ignored). For an image run: ``"tfds:NAME"``, a dataset of
        images or ``(image, label)`` pairs, or an image array of the run's image shape.

    Returns
    -------
    pandas.DataFrame
        Binary: ``score`` (calibrated probability of the positive class) and
        ``prediction`` (0/1 at the run's threshold). Multiclass: ``score_<class>`` per class
        and ``prediction`` (the class name).
    """
    from .datasets import read_frame
    from .datasets._loaders import _frame_from_tfds, _frame_from_tf_dataset, _is_tf_dataset

    loaded = load_run(run_dir)
    if loaded["image"] is not None:
        from ._run_images import predict_images_run

        return predict_images_run(loaded, data, data_dir=data_dir)
    schema = loaded["schema"]
    if isinstance(data, (str, os.PathLike)) and str(data).startswith("tfds:"):
        frame, _, source = _frame_from_tfds(str(data), data_dir)
    elif isinstance(data, (str, os.PathLike)):
        frame, source = read_frame(data), str(data)
    elif isinstance(data, pd.DataFrame):
        frame, source = data, "DataFrame"
    elif _is_tf_dataset(data):
        frame, _ = _frame_from_tf_dataset(data, loaded["target"])
        source = "tf.data.Dataset"
    else:
        raise DataError(f"Cannot score a {type(data).__name__}: pass a path, 'tfds:NAME' or a DataFrame.")
    reference = TabularData(
        features=pd.DataFrame(columns=list(schema.columns)), y=np.zeros(0, dtype=int),
        classes=tuple(loaded["classes"]), target=loaded["target"],
        numeric=schema.numeric, categorical=schema.categorical,
    )
    features = table_features(frame, reference, source)
    return _score_frame(loaded, _predict(loaded["model"], schema.inputs(features)))


def _score_frame(loaded: dict, raw) -> pd.DataFrame:
    """Calibrated scores and predictions of a finished run (tables and images)."""
    score = loaded["calibrator"].transform(raw)
    if score.ndim == 1:
        return pd.DataFrame({"score": score, "prediction": (score >= loaded["threshold"]).astype(int)})
    out = pd.DataFrame({f"score_{name}": score[:, k] for k, name in enumerate(loaded["classes"])})
    out["prediction"] = np.asarray(loaded["classes"], dtype=object)[score.argmax(axis=1)]
    return out
