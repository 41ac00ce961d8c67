"""``metrics.json`` as typed records: what a run writes, and what the report reads back.

The run builds a :class:`MetricsRecord` from its stages and writes ``to_dict()``; the report
and ``raretune predict`` read a file back with :meth:`MetricsRecord.from_dict`, which checks
the shape and raises one clear error for a damaged or foreign file. ``docs/run-folder.md``
documents every key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ._errors import RunStateError

__all__ = [
    "BestRecord",
    "DataRecord",
    "DeployedRecord",
    "EnsembleRecord",
    "MetricsRecord",
    "SearchRecord",
    "TaskRecord",
]


class _Record:
    """A section of ``metrics.json``: a frozen dataclass with a dict form."""

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, state, where: str = "metrics.json"):
        """Rebuild from a dict; unknown keys are ignored, missing required keys refused."""
        if not isinstance(state, dict):
            raise RunStateError(f"{where}: '{cls._key}' must be an object, not {type(state).__name__}.")
        required = [f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        missing = [name for name in required if name not in state]
        if missing:
            raise RunStateError(f"{where}: '{cls._key}' lacks {missing[0]!r}; the file is damaged or not raretune's.")
        return cls(**{f.name: state[f.name] for f in dataclasses.fields(cls) if f.name in state})


@dataclass(frozen=True)
class TaskRecord(_Record):
    """``task``: binary or multiclass, the label and its classes (positive last for binary)."""

    _key = "task"
    type: str
    target: str
    classes: list
    positive: str | None = None


@dataclass(frozen=True)
class DataRecord(_Record):
    """``data``: where the rows came from and how they were split."""

    _key = "data"
    source: str
    n_rows: int
    n_train: int
    n_validation: int
    n_test: int
    folds: int
    class_counts: dict
    split_class_counts: dict
    positive_rate: float
    imbalance_ratio: float
    columns: dict
    notes: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


@dataclass(frozen=True)
class SearchRecord(_Record):
    """``search``: tuner, objective (direction stated), budget, trials run and failed."""

    _key = "search"
    tuner: str
    objective: dict
    max_trials: int
    max_epochs: int
    folds: int
    n_trials: int
    n_failed: int
    seconds: float
    strategies: list
    seed: int | None = None
    # {"after_trials", "cause" ("time_limit", "converged_candidates" or "plateau"), "reason"} when cut short
    stopped_early: dict | None = None


@dataclass(frozen=True)
class BestRecord(_Record):
    """``best``: the best trial of the search."""

    _key = "best"
    trial_id: str
    strategy: str
    remedy: dict
    hyperparameters: dict
    validation_score: float


@dataclass(frozen=True)
class EnsembleRecord(_Record):
    """``ensemble``: the candidates offered and the members chosen, with their weights; how
    they were selected (``selection``: fold layouts, bags, rounds) and, per candidate
    family, its time, best out-of-fold score and weight in the ensemble (``families``)."""

    _key = "ensemble"
    candidates: int
    members: list
    validation_score: float
    selection: dict | None = None
    families: dict | None = None


@dataclass(frozen=True)
class DeployedRecord(_Record):
    """``deployed``: what ``model.keras`` and ``raretune predict`` use — the threshold in force.

    ``model`` is ``"refit"`` when the saved model was retrained on every row (its
    calibration and threshold come from its own out-of-fold scores), else ``"tested"``.
    """

    _key = "deployed"
    model: str
    calibration: dict
    threshold: dict | None


@dataclass(frozen=True)
class MetricsRecord(_Record):
    """The whole of ``metrics.json``."""

    _key = "metrics"
    raretune_version: str
    created: str
    command: list
    versions: dict
    seconds: float
    task: TaskRecord
    data: DataRecord
    search: SearchRecord
    best: BestRecord
    ensemble: EnsembleRecord
    threshold: dict | None
    calibration: dict
    validation: dict
    test: dict
    leaderboard: list
    deployed: DeployedRecord | None = None
    operating: list | None = None
    explanations: dict | None = None
    costs: dict | None = None
    refit: dict | None = None
    per_period: dict | None = None  # out-of-time runs: test metrics per day, week or month
    timing: dict = field(default_factory=dict)
    memory: dict | None = None  # {"peak_mb", "peak_mb_after"}: the process's peak resident memory
    warnings: list = field(default_factory=list)

    _SECTIONS = {"task": TaskRecord, "data": DataRecord, "search": SearchRecord, "best": BestRecord,
                 "ensemble": EnsembleRecord, "deployed": DeployedRecord}

    def to_dict(self) -> dict:
        out = super().to_dict()
        for key in self._SECTIONS:
            if out[key] is not None:
                out[key] = out[key].to_dict()
        return out

    @classmethod
    def from_dict(cls, state, where: str = "metrics.json") -> "MetricsRecord":
        record = super().from_dict(state, where)
        sections = {key: kind.from_dict(state[key], where) for key, kind in cls._SECTIONS.items()
                    if state.get(key) is not None}
        return dataclasses.replace(record, **sections)
