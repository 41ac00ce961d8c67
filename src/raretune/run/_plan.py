"""What the run will do, decided once from the options and the data.

:func:`make_plan` turns a validated :class:`~raretune.run._config.RunConfig` and the split
data into a frozen :class:`RunPlan`: the search budget, cross-fitting folds, ensemble size,
the remedies (with samplers replaced by streaming on very large tables) and the decision
rule. Every later stage reads the plan; none changes it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .._errors import ConfigError, DataError
from ..datasets import DataSplit
from ..metrics import Objective
from ._config import RunConfig, threshold_rule

__all__ = ["DEFAULT_ENSEMBLE", "DEFAULT_FOLDS", "SMALL_DATA_ROWS", "RunPlan", "concat_rows", "fold_layout",
           "make_plan", "resolve_capacity", "search_split", "split_data", "subsample"]

#: Below this many training rows the default budget is 40 trials of up to 27 epochs, and
#: below this many training + validation rows tables are cross-fitted.
SMALL_DATA_ROWS = 20_000
#: Cross-fitting folds for small tables.
DEFAULT_FOLDS = 5
#: Trials (best first) that greedy ensemble selection considers with cross-fitting.
DEFAULT_ENSEMBLE = 10


@dataclass(frozen=True)
class RunPlan:
    """The resolved run: what every stage after the split reads.

    Attributes
    ----------
    config : RunConfig
        The user's options.
    objective : Objective
    strategies : tuple of str
        Remedies searched (defaults for the kind of data, samplers replaced by ``stream``
        above ``stream_above`` training rows).
    max_trials, max_epochs : int
    folds : int
        1: hold-out validation; K > 1: cross-fitting over train + validation.
    ensemble : int
        Trials considered by the ensemble selection (1: the best trial alone).
    threshold : tuple
        ``(rule, target)`` for :func:`raretune.thresholds.select_threshold`.
    notes : tuple of str
        What the plan changed and why, for the log.
    capacity : dict or None
        For ``threshold="capacity=N/PERIOD"``: :func:`raretune.thresholds.capacity_share` on
        the rows the threshold is chosen on (``threshold`` is then its ``"alerts"`` share).
    """

    config: RunConfig
    objective: Objective
    strategies: tuple
    max_trials: int
    max_epochs: int
    folds: int
    ensemble: int
    threshold: tuple
    notes: tuple = ()
    capacity: dict | None = None

    def on_rows(self, y, values: dict) -> "RunPlan":
        """This plan with its objective bound to the validation rows' ``cost`` and ``sample_weight``.

        Every stage that scores the validation rows (``y``, that very array) with
        ``plan.objective`` then uses them; scoring other rows with it is refused.
        """
        return replace(self, objective=self.objective.on_rows(y, **values))

    @property
    def cross_fitted(self) -> bool:
        """Whether trials are scored out of fold."""
        return self.folds > 1

    @property
    def seed(self):
        """The run's seed (``None``: fresh randomness)."""
        return self.config.seed


def make_plan(config: RunConfig, modality, split: DataSplit) -> RunPlan:
    """Resolve budget, folds, ensemble and remedies for this data.

    Parameters
    ----------
    config : RunConfig
        Validated options.
    modality : Modality
        Tables or images (:mod:`raretune.run._modality`).
    split : DataSplit
        The train / validation / test parts.

    Returns
    -------
    RunPlan

    Raises
    ------
    ConfigError, DataError
        Options this data cannot honour (``folds`` above the rarest class's count,
        cross-fitting images, a remedy for the other kind of data).
    """
    from ..remedies import check_strategies, get_remedy

    small = split.train.n_rows < SMALL_DATA_ROWS
    max_trials = config.max_trials if config.max_trials is not None else (40 if small else 20)
    max_epochs = config.max_epochs if config.max_epochs is not None else (27 if small else 9)
    strategies = check_strategies(modality.default_strategies if config.strategies is None else config.strategies,
                                  kind=modality.kind)
    notes = []
    if split.train.n_rows > config.stream_above:
        swapped = [s for s in strategies if get_remedy(s).resamples]
        if swapped:
            kept = [s for s in strategies if not get_remedy(s).resamples]
            strategies = tuple(dict.fromkeys(kept + ["stream"]))
            notes.append(f"{split.train.n_rows:,} training rows (over {config.stream_above:,}): {', '.join(swapped)} "
                         "replaced by streaming rebalancing (stream) to keep one copy of the data in memory")
    if max_trials < len(strategies):  # every remedy asked for gets a trial (Keras Tuner draws each first)
        notes.append(f"{len(strategies)} remedies for {max_trials} trials: the budget is raised to "
                     f"{len(strategies)} trials, one for each remedy")
        max_trials = len(strategies)
    folds = _folds(config, modality, split)
    ensemble = config.ensemble if config.ensemble is not None else (DEFAULT_ENSEMBLE if folds > 1 else 1)
    return RunPlan(config=config, objective=config.objective_, strategies=strategies, max_trials=max_trials,
                   max_epochs=max_epochs, folds=folds, ensemble=ensemble, threshold=threshold_rule(config),
                   notes=tuple(notes))


def _folds(config: RunConfig, modality, split: DataSplit) -> int:
    if not modality.cross_fits:
        if config.folds not in (None, 1):
            raise ConfigError("--folds applies to tables; image runs score a hold-out validation part.")
        return 1
    counts = split.train.class_counts + split.validation.class_counts
    if config.folds is None:
        folds = DEFAULT_FOLDS if int(counts.sum()) < SMALL_DATA_ROWS else 1
        return max(1, min(folds, int(counts.min())))  # every fold holds every class
    if config.folds > int(counts.min()):
        raise DataError(f"--folds {config.folds} needs at least {config.folds} rows of every class in the training "
                        f"and validation parts; the rarest has {int(counts.min())}.")
    return config.folds


def resolve_capacity(plan: RunPlan, data, split: DataSplit) -> RunPlan:
    """The plan with ``capacity=N/PERIOD`` turned into the ``"alerts"`` share it means.

    The rows the threshold is chosen on (validation, or with cross-fitting the searched
    training and validation rows) arrive at some rate a period; ``N`` of them a period is
    the share flagged. Any other rule leaves the plan as it is.

    Parameters
    ----------
    plan : RunPlan
    data : TabularData
        The loaded table, its time column still among the features.
    split : DataSplit
        The out-of-time split, with ``indices``.

    Raises
    ------
    DataError
        The validation rows span no time, or the capacity covers all of them.
    """
    from ..thresholds import capacity_share

    rule, target = plan.threshold
    if rule != "capacity":
        return plan
    parts = ("train", "validation") if plan.cross_fitted else ("validation",)
    rows = np.concatenate([split.indices[part] for part in parts])
    times = _seconds(data.features[plan.config.time_column].to_numpy()[rows])
    capacity = capacity_share(*target, times)
    note = (f"capacity {capacity['alerts']:g} alerts a {capacity['period']}: the validation rows arrive at "
            f"{capacity['rows_per_period']:,.1f} a {capacity['period']}, so the threshold flags the top "
            f"{capacity['alert_share']:.3%} of rows (alerts={capacity['alert_share']:.4g})")
    return dataclasses.replace(plan, threshold=("alerts", capacity["alert_share"]), capacity=capacity,
                               notes=plan.notes + (note,))


def _seconds(values) -> np.ndarray:
    """Times in seconds: numbers as they are (the unit load_data gives dates), dates since 1970."""
    values = pd.Series(values)
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype="float64")
    if not pd.api.types.is_datetime64_any_dtype(values):
        values = pd.to_datetime(values, format="ISO8601")
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.astype("datetime64[ns]").astype("int64").to_numpy(dtype="float64") / 1e9


def split_data(config: RunConfig, data, test_data=None) -> DataSplit:
    """Train / validation / test: out of time, by group, or stratified at random (the default)."""
    from ..datasets import group_split, stratified_split, time_split

    sizes = dict(validation_size=config.validation_size, test_size=config.test_size, test=test_data)
    if config.time_column is not None:
        return time_split(data, time_column=config.time_column, gap=config.gap, group_column=config.group_column,
                          **sizes)
    if config.gap is not None:
        raise ConfigError("--gap needs --time-column: it is a period of time left out between the parts.")
    if config.group_column is not None:
        return group_split(data, group_column=config.group_column, random_state=config.seed, **sizes)
    return stratified_split(data, random_state=config.seed, **sizes)


def fold_layout(config: RunConfig, data, split: DataSplit) -> dict:
    """What cross-fitting folds must respect, aligned with the search rows (train, then validation).

    ``{"groups": ...}`` keeps each group in one fold, ``{"order": ...}`` makes folds
    contiguous blocks of time; ``{}`` for stratified random folds.
    """
    rows = np.concatenate([split.indices["train"], split.indices["validation"]])
    layout = {}
    if config.group_column is not None:
        layout["groups"] = data.features[config.group_column].to_numpy()[rows]
    if config.time_column is not None:
        layout["order"] = data.features[config.time_column].to_numpy()[rows]
    return layout


def search_split(plan: RunPlan, split: DataSplit) -> DataSplit:
    """The parts the search sees: with cross-fitting, train and validation as one table.

    With cross-fitting, ``train`` and ``validation`` are both the merged search rows: trials
    train on their folds and are scored out of fold on the same rows.
    """
    if not plan.cross_fitted:
        return split
    rows = concat_rows(split.train, split.validation)
    return DataSplit(rows, rows, split.test, indices=split.indices)


def concat_rows(first, second):
    """Two tables of the same schema as one, ``first``'s rows first."""
    return first.with_rows(pd.concat([first.features, second.features], ignore_index=True),
                           np.concatenate([first.y, second.y]))


def subsample(data, n_max: int, seed):
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
