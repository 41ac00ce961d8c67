"""What the user asked for: the frozen options of a run, checked once.

:class:`RunConfig` holds the user's options exactly as given (the CLI's flags map one to one
onto its fields). Nothing changes it after :meth:`RunConfig.validated`; what the run decides
from the data (budget, folds, remedies) lives in :class:`~raretune.run._plan.RunPlan`.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from .._errors import ConfigError
from .._validation import check_number, check_option
from ..metrics import get_objective
from ..thresholds import parse_threshold_spec

__all__ = ["CANDIDATE_FAMILIES", "DEFAULT_DATA", "FAST_DATA", "RunConfig", "threshold_rule"]

#: The embedded default dataset (generated locally through TFDS, never downloaded).
DEFAULT_DATA = "tfds:synthetic_fraud"
#: The converged candidate families a cross-fitted run offers its ensemble: the option that
#: switches each off (``--no-<option>``, with ``-`` for ``_``), and what it holds.
CANDIDATE_FAMILIES = (
    ("linear", "converged logistic regressions"),
    ("trees", "boosted trees (compiled into Keras layers)"),
    ("forests", "random forests and extra trees"),
    ("smote_linear", "SMOTE + logistic regression"),
    ("knn", "k-nearest neighbours (small tables only)"),
)
#: What ``fast`` trains on instead of the default data.
FAST_DATA = "tfds:synthetic_fraud/small"
#: ``fast`` keeps at most this many rows of any other data.
FAST_MAX_ROWS = 20_000

_TUNERS = ("hyperband", "bayesian", "random")
_CALIBRATIONS = ("auto", "none", "prior", "platt", "isotonic")
#: Options that decide what is searched: a resumed run or a worker must have the same ones.
SEARCH_OPTIONS = ("keep", "drop", "time_column", "group_column", "gap", "cost_column", "weight_column", "strategies", "tuner", "objective", "cost_fn", "cost_fp", "max_trials", "max_epochs",
                  "validation_size", "test_size", "folds", "ensemble", "seed", "target", "positive",
                  "id_column")


@dataclass(frozen=True)
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
    keep, drop : sequence of str
        Columns to keep although they look like identifiers (unique per row, or a sequence
        number), which are dropped by default with a warning; columns to leave out.
    time_column : str, optional
        Out-of-time validation: train, validation and test are consecutive periods of this
        column (numbers, dates or ISO text); cross-fitting folds are contiguous time blocks.
        The column is not a feature.
    group_column : str, optional
        Entity-aware validation (customer, card, device): no group in two parts, nor in two
        cross-fitting folds. With ``time_column``, time decides the parts and groups are kept
        whole inside the folds. The column is not a feature.
    gap : str, optional
        With ``time_column``: a period left out after training and after validation (label
        maturity), e.g. ``"30d"``, ``"12h"``, or a number in the time column's units.
    cost_column : str, optional
        Money as the objective: what missing each positive costs is that row's value of
        this column (e.g. the amount); a false alarm costs ``cost_fp``. The objective and
        threshold ``"cost"`` minimise the money lost (``cost_fn`` is then unused), and the
        record gives money lost and saved against flagging nobody, with bootstrap intervals,
        and amount-weighted recall. The column stays a feature (the amount is usually a
        legitimate signal); name it in ``drop`` too to use it only as the cost. Values must
        be numbers >= 0, none missing.
    weight_column : str, optional
        Sample weights (numbers >= 0, none missing), honoured by training (multiplied into
        the remedy's row weights), the search objective, the threshold and the metrics.
        Never a feature.
    segment_by : str, optional
        A column whose values (e.g. countries) get a table of test metrics each.
    out : path, optional
        Run folder (default ``runs/<timestamp>``).
    strategies : sequence of str, optional
        Remedies to search (``raretune.remedies.REMEDIES``). Default: the remedies' default
        for the kind of data (tables or images).
    tuner : {"hyperband", "bayesian", "random"}
    objective : str
        ``"pr_auc"``, ``"roc_auc"``, ``"f1"``, ``"recall@precision=P"`` or ``"cost"``.
    threshold : str
        ``"auto"`` (follows the objective: F1, the objective's precision, or minimum cost),
        ``"f1"``, ``"precision=P"``, ``"recall=R"``, ``"alerts=R"`` (flag the top R of rows,
        e.g. ``"alerts=0.5%"``: an analysts' capacity), ``"capacity=N/PERIOD"`` (N alerts an
        hour, day, week or month, turned into an alert share from the validation rows' time
        span; needs ``time_column``) or ``"cost"``.
    cost_fn, cost_fp : float
        Costs of a missed positive and of a false alarm (objective and threshold "cost").
    calibration : {"auto", "none", "prior", "platt", "isotonic"}
    max_trials, max_epochs : int, optional
        Search budget. By default it follows the size of the training split: 20 trials of
        up to 9 epochs from 20,000 training rows up, 40 trials of up to 27 epochs below.
    time_limit : float or str, optional
        A limit on the whole run, from loading to the report: seconds, or ``"90s"``,
        ``"10m"``, ``"1h"``. The search stops starting trials when its share is spent; the
        converged candidates, baseline and refit run only if they fit in what is left.
    validation_size, test_size : float
        Split fractions.
    folds : int, optional
        Cross-fitting for small tables: with K > 1 the training and validation parts are
        searched together, every trial trains K networks on K stratified folds and is
        scored on their pooled out-of-fold predictions. 1: a hold-out validation part.
        Default 5 below 20,000 training and validation rows (1 above, and with ``fast``),
        lowered to the rarest class's count.
    ensemble : int, optional
        Greedy ensemble selection over the best ``ensemble`` trials (and, with
        cross-fitting, the converged models). Default 10 with cross-fitting, else 1.
    refit : bool
        With cross-fitting, retrain the chosen models on every row after the test set is
        scored; ``model.keras`` and ``raretune predict`` then use them.
    linear, trees : bool
        With cross-fitting, offer the ensemble converged logistic regressions and
        gradient-boosted trees (compiled into Keras layers).
    forests, smote_linear : bool
        With cross-fitting, offer the ensemble random forests and extra trees (balanced
        class weights per bootstrap sample, compiled into Keras layers) and a logistic
        regression fitted after SMOTE.
    knn : bool
        With cross-fitting, offer the ensemble k-nearest neighbours over the stored fold
        training rows (distance-weighted, balanced votes), on tables small enough that the
        compiled model stays under ``raretune.models.export.DEFAULT_MAX_KNN_VALUES``.
    seed : int or None
        One seed for the split, the search and training; 0 is a real seed.
    fast : bool
        A tiny run (small data, 4 trials, 2 epochs, no cross-fitting) for smoke tests.
    resume, overwrite : bool
        Continue the run in ``out``, or replace it. Without either an existing run is
        never touched.
    baseline : bool
        Also fit scikit-learn's HistGradientBoosting with class weights, for the leaderboard.
    report : bool
        Write ``report.html`` (``raretune report RUN_DIR`` writes it later from the run's files).
    stream_above : int
        Training sets with more rows than this never get a resampled copy in memory: the
        sampling remedies are replaced by ``stream``.
    data_dir : path, optional
        TFDS data folder.
    memory_budget : str or int, optional
        Sharded data (``data`` a folder or glob of Parquet or TFRecord shards): bytes the in-memory sample
        may take, e.g. ``"2GiB"`` (default: an eighth of the memory available).
    id_column : str, optional
        Sharded data: the column whose hash decides each row's part (default: the row's file
        name and position in it). The column is not a feature.
    finish_epochs : int
        Sharded data: after the ensemble is chosen, train its networks this many more epochs
        over every training row, streamed from the shards (0: no finish).
    chief, worker, worker_id, lease_seconds, mirrored
        A search over several machines (see :mod:`raretune.tuning.distributed`).
    auth_token_file, tls_cert, tls_key, tls_ca, allow_open_chief
        Who may join a distributed search: a shared token (read from this file, or from
        ``RARETUNE_AUTH_TOKEN``) sent with every call, optional TLS (the chief's certificate
        and key; a CA to check client certificates). A chief refuses to listen on an
        address other than loopback without a token unless ``allow_open_chief``.
    quiet, verbose : bool
        Less or more progress output on standard error.
    command : tuple of str
        The command line that started the run, for the record.
    """

    data: object = DEFAULT_DATA
    target: str | None = None
    positive: str | None = None
    test_data: object = None
    keep: tuple = ()
    drop: tuple = ()
    time_column: str | None = None
    group_column: str | None = None
    gap: str | None = None
    cost_column: str | None = None
    weight_column: str | None = None
    segment_by: str | None = None
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
    time_limit: float | str | None = None
    validation_size: float = 0.15
    test_size: float = 0.15
    folds: int | None = None
    ensemble: int | None = None
    refit: bool = True
    linear: bool = True
    trees: bool = True
    forests: bool = True
    smote_linear: bool = True
    knn: bool = True
    seed: int | None = 0
    fast: bool = False
    resume: bool = False
    overwrite: bool = False
    baseline: bool = True
    report: bool = True
    stream_above: int = 1_000_000
    data_dir: str | None = None
    memory_budget: str | int | None = None
    id_column: str | None = None
    finish_epochs: int = 0
    chief: str | None = None
    worker: str | None = None
    worker_id: str | None = None
    lease_seconds: float = 120.0
    mirrored: bool = False
    auth_token_file: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca: str | None = None
    allow_open_chief: bool = False
    quiet: bool = False
    verbose: bool = False
    command: tuple = ()

    def validated(self) -> "RunConfig":
        """Check every option; return a copy with ``fast`` applied.

        Raises
        ------
        ConfigError
            One line naming the option and the value.
        """
        from ..remedies import check_strategies
        from ..tuning import distributed

        changes = {"command": tuple(self.command), "keep": _names(self.keep, "keep"), "drop": _names(self.drop, "drop")}
        if self.strategies is not None:
            changes["strategies"] = check_strategies(self.strategies)
        check_option(self.tuner, "tuner", "run", _TUNERS)
        check_option(self.calibration, "calibration", "run", _CALIBRATIONS)
        for name, low, high in (("max_trials", 1, None), ("max_epochs", 1, None), ("folds", 1, 20),
                                ("ensemble", 1, 100), ("seed", 0, 2**31 - 1)):
            if getattr(self, name) is not None:
                check_number(getattr(self, name), name, "run", kind=int, low=low, high=high)
        for name in ("cost_fn", "cost_fp"):
            check_number(getattr(self, name), name, "run", low=0, closed="neither")
        check_number(self.finish_epochs, "finish_epochs", "run", kind=int, low=0)
        from ._budget import parse_duration

        changes["time_limit"] = parse_duration(self.time_limit)
        if self.resume and self.overwrite:
            raise ConfigError("Pass --resume or --overwrite, not both.")
        distributed.check_distributed_options(self.chief, self.worker, self.worker_id, self.lease_seconds,
                                              auth=self.auth(), allow_open=self.allow_open_chief)
        if (self.chief is not None or self.worker is not None) and self.out is None:
            raise ConfigError("A distributed search needs --out: the run folder that chief and workers share.")
        if self.worker is not None and self.overwrite:
            raise ConfigError("A worker never replaces the run folder; pass --overwrite to the chief.")
        for name in ("cost_column", "weight_column"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ConfigError(f"The {name!r} parameter of run must be a column name. Got {value!r} instead.")
        get_objective(self.objective, cost_fn=self.cost_fn, cost_fp=self.cost_fp)
        if threshold_rule(self)[0] == "capacity" and self.time_column is None:
            raise ConfigError(f"--threshold {self.threshold} needs --time-column: alerts per period are counted in time.")
        from ._streamed import check_streamed_options, is_streamed

        if is_streamed(self):
            changes.update(check_streamed_options(self))
        elif self.memory_budget is not None or self.id_column is not None:
            raise ConfigError("--memory-budget and --id-column apply to sharded data "
                              "(a folder or glob of Parquet or TFRecord shards).")
        elif self.finish_epochs:
            raise ConfigError("--finish-epochs applies to sharded data (a folder or glob of Parquet or TFRecord "
                              "shards), whose search saw a sample; in-memory data is searched on every row.")
        if self.fast:
            if isinstance(self.data, str) and self.data == DEFAULT_DATA:
                changes["data"] = FAST_DATA
            changes["max_trials"] = 4 if self.max_trials is None else min(self.max_trials, 4)
            changes["max_epochs"] = 2 if self.max_epochs is None else min(self.max_epochs, 2)
            changes["folds"] = 1 if self.folds is None else self.folds
        return dataclasses.replace(self, **changes)

    def auth(self):
        """Who may join a distributed search (``None``: no token, no TLS)."""
        from ..tuning import distributed

        return distributed.Auth.from_options(token_file=self.auth_token_file, tls_cert=self.tls_cert,
                                             tls_key=self.tls_key, tls_ca=self.tls_ca)

    @property
    def objective_(self):
        """The search objective, direction stated."""
        return get_objective(self.objective, cost_fn=self.cost_fn, cost_fp=self.cost_fp, cost_column=self.cost_column)

    def to_dict(self) -> dict:
        """JSON-ready options (data objects are described, not serialised)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for key in ("data", "test_data"):
            value = out[key]
            if value is not None and not isinstance(value, (str, os.PathLike)):
                out[key] = f"<{type(value).__name__}>"
            elif value is not None:
                out[key] = str(value)
        out["out"] = None if self.out is None else str(self.out)
        out["strategies"] = None if self.strategies is None else list(self.strategies)
        out["command"] = list(self.command)
        out["keep"], out["drop"] = list(self.keep), list(self.drop)
        return out


def _names(value, option: str) -> tuple:
    """Column names from a comma-separated string or a sequence of strings."""
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"The {option!r} parameter of run must be column names. Got {value!r} instead.")
    return tuple(value)


def threshold_rule(config: RunConfig) -> tuple:
    """``(rule, target)`` for :func:`raretune.thresholds.select_threshold` from the config.

    ``"auto"`` follows the objective: the objective's precision floor for
    ``recall@precision=P``, the lowest cost for ``cost``, else the best F1.
    ``"capacity=N/PERIOD"`` gives ``("capacity", (N, period))``, which the plan turns into
    an ``"alerts"`` share (:func:`raretune.run._plan.resolve_capacity`).
    """
    spec = config.threshold
    if spec == "auto":
        objective = config.objective_
        if objective.name == "recall_at_precision":
            return "precision", objective.precision
        if objective.name == "cost":
            return "cost", None
        return "f1", None
    if not isinstance(spec, str):
        raise ConfigError(f"The 'threshold' parameter of run must be a str like 'f1', 'precision=0.9', "
                          f"'alerts=0.5%' or 'capacity=200/day'. Got {spec!r} instead.")
    return parse_threshold_spec(spec)
