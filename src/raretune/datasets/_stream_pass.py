"""One streaming pass over Parquet shards: class counts, column statistics, and a weighted sample.

:func:`stream_pass` reads the shards once, a record batch at a time, and keeps

- the class counts of every row (and of each part, for a hashed split);
- each numeric column's count, mean and variance (per-batch moments combined exactly, Chan,
  Golub and LeVeque's parallel form of Welford's update) and each other column's most frequent
  values, over the training part (over every row with a time split, whose parts are known only
  at the end);
- a sample that fits a memory budget: every row of the rare classes, and each row of the
  majority class with probability ``rate``, weighted ``1 / rate``. Whether a row is kept is a
  fixed function of its key (:func:`raretune.datasets._shards.uniform`), so lowering the rate
  part-way through the pass (when the budget fills up) keeps exactly the rows a pass at the
  lower rate from the start would have kept: the sample stays a Bernoulli sample.

References
----------
T. F. Chan, G. H. Golub and R. J. LeVeque, "Updating formulae and a pairwise algorithm for
computing sample variances", 1979. X. He et al., "Practical lessons from predicting clicks on
ads at Facebook", ADKDD 2014 (negative down-sampling).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .._errors import ConfigError, DataError
from .._memory import available_memory
from ._shards import PART_CODES, PartRule, ShardedSource, time_parts, time_values, uniform

__all__ = ["StreamPass", "default_memory_budget", "parse_memory", "stream_pass"]

#: Distinct values tracked per categorical column before the rarest are pruned.
_TRACKED = 100
#: Times kept to place the cut points of a time split (a key-selected share of all rows).
_TIME_SAMPLE = 1_000_000
#: Share of the available memory the sample may take by default: the run copies it several
#: times (typed table, model inputs, resampled training rows).
_DEFAULT_SHARE = 0.125
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_memory(value) -> int | None:
    """Bytes from ``2GiB``, ``500MB``, ``1.5G`` or a number of bytes (``None`` stays ``None``).

    Examples
    --------
    >>> parse_memory("2GiB"), parse_memory("500MB"), parse_memory(1024)
    (2147483648, 500000000, 1024)
    """
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number, unit = float(value), ""
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(value))
        if match is None or match.group(2).lower() not in _UNITS:
            raise ConfigError(f"The 'memory_budget' parameter of run must be bytes like '2GiB' or '500MB'. "
                              f"Got {value!r} instead.")
        number, unit = float(match.group(1)), match.group(2).lower()
    size = int(number * _UNITS[unit])
    if size <= 0:
        raise ConfigError(f"The 'memory_budget' parameter of run must be positive. Got {value!r} instead.")
    return size


def default_memory_budget() -> int:
    """A safe share of the memory available now."""
    return int(available_memory() * _DEFAULT_SHARE)


@dataclass
class _Moments:
    """Count, mean and sum of squared deviations of one column, combined batch by batch."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, values: np.ndarray) -> None:
        values = values[~np.isnan(values)]
        n = values.size
        if n == 0:
            return
        mean = float(values.mean())
        m2 = float(((values - mean) ** 2).sum())
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.count * n / total
        self.count = total

    def to_dict(self) -> dict:
        return {"count": self.count, "mean": self.mean, "variance": self.m2 / self.count if self.count else float("nan")}


@dataclass(frozen=True)
class StreamPass:
    """What one pass over the shards learnt, and the weighted sample it kept.

    Attributes
    ----------
    frame : pandas.DataFrame
        The kept rows, every column, in shard order.
    parts : ndarray of int8
        Part of each kept row (0 train, 1 validation, 2 test).
    weights : ndarray of float64
        ``1 / rate`` for kept rows of the sampled class, 1 for the others: the number of rows of
        the data each kept row stands for (weighted sums over the sample estimate sums over
        all rows without bias).
    rate : float
        The probability with which a row of the sampled class was kept.
    sampled : list
        The label values sampled at ``rate`` (the majority class, or every class but ``positive``).
    class_counts : dict
        Label value to rows, over all rows read (rows without a label excluded).
    part_counts : dict or None
        Part name to ``{label: rows}`` (hashed split; ``None`` with a time split).
    numeric : dict
        Column to ``{"count", "mean", "variance"}`` (variance with divisor ``count``).
    vocabularies : dict
        Column to ``[(value, rows), ...]``, most frequent first, at most ``top_k``.
    rule : PartRule
        The rule that put each row in its part (with a time split, holding the cut points).
    n_rows : int
        Rows read (with a label).
    n_unlabelled : int
        Rows without a label, left out.
    """

    frame: pd.DataFrame
    parts: np.ndarray
    weights: np.ndarray
    rate: float
    sampled: list
    class_counts: dict
    part_counts: dict | None
    numeric: dict
    vocabularies: dict
    rule: PartRule
    n_rows: int
    n_unlabelled: int = 0

    def record(self) -> dict:
        """JSON-ready summary (no rows)."""
        def key(label):
            return label.item() if hasattr(label, "item") else label

        return {
            "n_rows": self.n_rows, "n_unlabelled": self.n_unlabelled, "n_kept": int(len(self.frame)),
            "rate": self.rate, "sampled": [str(v) for v in self.sampled],
            "class_counts": {str(key(k)): int(v) for k, v in self.class_counts.items()},
            "part_counts": None if self.part_counts is None else
            {p: {str(key(k)): int(v) for k, v in c.items()} for p, c in self.part_counts.items()},
            "numeric": self.numeric,
            "vocabularies": {c: [[str(key(v)), int(n)] for v, n in vocab] for c, vocab in self.vocabularies.items()},
            "split": self.rule.to_dict(),
        }


@dataclass
class _Kept:
    """The kept rows so far, chunk by chunk, with the draw that kept each one."""

    frames: list = field(default_factory=list)
    parts: list = field(default_factory=list)
    draws: list = field(default_factory=list)
    sampled: list = field(default_factory=list)
    times: list = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return sum(len(f) for f in self.frames)

    def thin(self, rate: float) -> None:
        """Keep only the sampled-class rows whose draw is below the new, lower ``rate``."""
        for i, frame in enumerate(self.frames):
            keep = ~self.sampled[i] | (self.draws[i] < rate)
            if not keep.all():
                self.frames[i] = frame.loc[keep]
                for name in ("parts", "draws", "sampled", "times"):
                    chunks = getattr(self, name)
                    if chunks[i] is not None:
                        chunks[i] = chunks[i][keep]


def stream_pass(
    source: ShardedSource,
    *,
    target: str,
    rule: PartRule,
    positive=None,
    memory_budget: int | None = None,
    max_rows: int | None = None,
    top_k: int = 20,
    batch_size: int = 65_536,
) -> StreamPass:
    """Read every shard once; count, summarise and keep a weighted sample that fits in memory.

    Parameters
    ----------
    source : ShardedSource or TFRecordShards
        The shards (see :func:`~raretune.datasets.sharded_source`).
    target : str
        The label column.
    rule : PartRule
        How rows are split; a time rule gets its cut points from this pass (the returned
        ``rule`` holds them).
    positive : object, optional
        The positive class: every other class is sampled. By default the class most frequent
        in the first batch is sampled, and the pass checks it is the majority of all rows.
    memory_budget : int, optional
        Bytes the kept rows may take as a DataFrame (default :func:`default_memory_budget`).
    max_rows : int, optional
        At most about this many kept rows (``fast`` runs).
    top_k : int
        Values kept in each categorical column's vocabulary.
    batch_size : int
        Rows per record batch.

    Returns
    -------
    StreamPass

    Raises
    ------
    DataError
        An unknown target or time column, a label column with one class, the rare classes
        alone over the budget, or a sampled class that turns out not to be the majority.
    """
    if target not in source.columns:
        raise DataError(f"Unknown target column {target!r}; columns: {', '.join(map(str, source.columns[:20]))}.")
    for column in (rule.id_column, rule.time_column):
        if column is not None and column not in source.columns:
            raise DataError(f"Unknown column {column!r}; columns: {', '.join(map(str, source.columns[:20]))}.")
    budget = default_memory_budget() if memory_budget is None else int(memory_budget)
    by_time = rule.time_column is not None
    skip = {target, rule.id_column, rule.time_column}
    counts, part_counts = Counter(), {p: Counter() for p in PART_CODES}
    moments, values = {}, {}
    kept, sampled, budget_rows, rate = _Kept(), None, None, 1.0
    time_share = min(1.0, _TIME_SAMPLE / source.n_rows)
    time_sample, n_unlabelled = [], 0

    for file_name, first_row, frame in source.batches(batch_size=batch_size):
        keys = rule.keys(file_name, first_row, frame)
        labelled = frame[target].notna().to_numpy()
        if not labelled.all():
            n_unlabelled += int((~labelled).sum())
            frame, keys = frame.loc[labelled], keys[labelled]
            if len(frame) == 0:
                continue
        labels = frame[target]
        if sampled is None:  # the first batch decides the sampled classes and the row size
            sampled = _sampled_classes(labels, positive)
            row_bytes = frame.memory_usage(deep=True).sum() / len(frame) + 24  # part, draw, weight
            budget_rows = max(1, int(budget // row_bytes))
            if max_rows is not None:
                budget_rows = min(budget_rows, int(max_rows))
            rate = min(1.0, budget_rows / source.n_rows)
        counts.update(labels.value_counts().to_dict())
        if by_time:
            times = time_values(frame[rule.time_column], rule.time_column)
            time_sample.append(times[uniform(keys, rule.salt, "part") < time_share])
            parts, in_stats = None, np.ones(len(frame), dtype=bool)
        else:
            times = None
            parts = rule.parts(keys, frame)
            for name, code in PART_CODES.items():
                part_counts[name].update(labels[parts == code].value_counts().to_dict())
            in_stats = parts == PART_CODES["train"]
        _update_stats(frame.loc[in_stats], skip, moments, values, top_k)

        is_sampled = labels.isin(sampled).to_numpy()
        draws = uniform(keys, rule.salt, "sample")
        keep = ~is_sampled | (draws < rate)
        kept.frames.append(frame.loc[keep])
        kept.parts.append(None if parts is None else parts[keep])
        kept.draws.append(draws[keep])
        kept.sampled.append(is_sampled[keep])
        kept.times.append(None if times is None else times[keep])
        while kept.n_rows > budget_rows:
            rare = sum(int((~s).sum()) for s in kept.sampled)
            if rare >= budget_rows:
                raise DataError(f"The rare classes alone have {rare:,} rows, more than the {budget_rows:,} rows "
                                f"the memory budget ({budget / 2**30:.2f} GiB) holds; raise --memory-budget.")
            rate /= 2
            kept.thin(rate)

    if sampled is None:
        raise DataError("The shards hold no labelled rows.")
    if len(counts) < 2:
        raise DataError(f"The label {target!r} has one class only ({next(iter(counts))!r}); nothing to classify.")
    if positive is None and counts[sampled[0]] != max(counts.values()):
        raise DataError(f"Class {sampled[0]!r} led the first batch but is not the majority of all rows; "
                        "name the positive class with --positive.")
    frame = pd.concat(kept.frames, ignore_index=True)
    is_sampled = np.concatenate(kept.sampled)
    if by_time:
        cuts = _time_cuts(np.concatenate(time_sample), rule)
        rule = replace(rule, cuts=cuts)
        parts = time_parts(np.concatenate(kept.times), cuts)
    else:
        parts = np.concatenate(kept.parts)
    weights = np.where(is_sampled, 1.0 / rate, 1.0)
    return StreamPass(
        frame=frame, parts=parts.astype(np.int8), weights=weights, rate=float(rate), sampled=list(sampled),
        class_counts=dict(counts), part_counts=None if by_time else {p: dict(c) for p, c in part_counts.items()},
        numeric={c: m.to_dict() for c, m in moments.items()},
        vocabularies={c: counter.most_common(top_k) for c, counter in values.items()},
        rule=rule, n_rows=int(sum(counts.values())), n_unlabelled=n_unlabelled,
    )


def _sampled_classes(labels: pd.Series, positive) -> list:
    """The label values sampled: every value but ``positive``, or the first batch's majority."""
    if positive is not None:
        present = labels.unique().tolist()
        return [v for v in present if str(v) != str(positive)]
    return [labels.value_counts().index[0]]


def _update_stats(frame: pd.DataFrame, skip: set, moments: dict, values: dict, top_k: int) -> None:
    """Add a batch's rows to the numeric moments and the categorical value counts."""
    for column in frame.columns:
        if column in skip:
            continue
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            moments.setdefault(column, _Moments()).add(series.to_numpy(dtype=np.float64))
            continue
        counter = values.setdefault(column, Counter())
        counter.update(series.dropna().astype(str).value_counts().to_dict())
        if len(counter) > _TRACKED * top_k:
            # keep the most frequent: exact top-k while a column has at most this many values
            values[column] = Counter(dict(counter.most_common(10 * top_k)))


def _time_cuts(times: np.ndarray, rule: PartRule) -> tuple:
    """The times where validation and test begin: quantiles of a key-selected share of all times."""
    train_share = 1.0 - rule.validation_size - rule.test_size
    low, high = np.quantile(times, [train_share, 1.0 - rule.test_size])
    return float(low), float(high)
