"""The streamed run: sharded data (Parquet, or TFRecord shards written by TFDS) too large to load, searched on a weighted sample.

:func:`load_streamed` makes one streaming pass over the shards
(:func:`raretune.datasets.stream_pass`): class counts, column statistics, and a sample with
every rare row and a Bernoulli share of the majority class that fits the memory budget. The
search, the ensemble and the leaderboard work on that sample, split by the pass's stable
per-row parts (:func:`sampled_split`); they score its validation and test rows weighted back
to the data's balance (:meth:`StreamedSource.sample_values`). :func:`score_parts` then
streams the shards a second time with the chosen model and keeps the labels and raw scores
of *every* validation and test row (the rows themselves are dropped batch by batch): the
calibration and the threshold are fitted on the full validation part, so the probabilities
are those of the unsampled data, and the test metrics are exact on the full test part.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .._errors import ConfigError, DataError
from .._io import write_json
from .._readahead import readahead
from ..datasets import DataSplit, load_data, read_rows
from ..datasets._shards import PART_CODES, PartRule, is_sharded_source, sharded_source
from ..datasets._labels import label_name, rarer_label
from ..datasets._split import split_parts
from ..datasets._stream_pass import StreamPass, parse_memory, stream_pass
from ._row_values import RowValues

__all__ = ["PartScores", "StreamedSource", "check_streamed_options", "is_streamed", "load_streamed", "rarer_class",
           "sampled_split", "score_parts", "stream_summary"]

#: Rows per record batch when scoring (the model's predict is called once a batch).
_SCORE_BATCH = 262_144


def is_streamed(config) -> bool:
    """Whether the run's data is sharded Parquet or TFDS TFRecord (a folder or a glob) and is streamed."""
    return is_sharded_source(config.data)


def check_streamed_options(config) -> dict:
    """Options a streamed run cannot honour, refused in one line; the changes it implies.

    Returns
    -------
    dict
        Field changes for :class:`~raretune.run.RunConfig` (one hold-out validation part).
    """
    for name, flag in (("test_data", "--test-data"), ("group_column", "--group-column"), ("gap", "--gap"),
                       ("cost_column", "--cost-column"), ("weight_column", "--weight-column")):
        if getattr(config, name) is not None:
            raise ConfigError(f"{flag} is not available with sharded data (a folder or glob of Parquet or TFRecord shards).")
    if config.folds not in (None, 1):
        raise ConfigError("--folds applies to data read in memory; sharded data has one hold-out validation part.")
    if config.target is None:
        raise ConfigError("Sharded data needs --target: the label column.")
    parse_memory(config.memory_budget)
    return {"folds": 1}


def load_streamed(config, *, max_rows: int | None = None):
    """One streaming pass over ``config.data``: ``(pass, sample)``.

    Returns
    -------
    (StreamPass, TabularData)
        What the pass learnt, and its kept rows typed as a table (row ``i`` of the table is
        row ``i`` of ``pass.frame``).
    """
    rule = PartRule(validation_size=config.validation_size, test_size=config.test_size, id_column=config.id_column,
                    salt=0 if config.seed is None else int(config.seed), time_column=config.time_column)
    source = sharded_source(config.data)
    result = stream_pass(source, target=config.target, rule=rule, positive=config.positive,
                         memory_budget=parse_memory(config.memory_budget), max_rows=max_rows)
    keep = tuple(config.keep) + ((config.segment_by,) if config.segment_by is not None else ())
    # the id and time columns decide the parts; they are not features (as with an in-memory time split)
    drop = tuple(config.drop) + tuple(c for c in (config.id_column, config.time_column) if c is not None)
    # the sample keeps every rare row, so its own minority may be the data's majority (at 100M
    # rows: 303k frauds, 134k others); the positive class is the data's rarer one
    positive = config.positive if config.positive is not None else rarer_class(result.class_counts)
    sample = load_data(result.frame, target=config.target, positive=positive, keep=keep, drop=drop)
    return result, replace(sample, source=str(config.data))


def rarer_class(class_counts: dict):
    """Of exactly two labels (the pass's raw label values -> rows), the name of the rarer, as
    :func:`~raretune.datasets.load_data` picks it for the whole data; ``None`` for more classes."""
    if len(class_counts) != 2:
        return None
    return rarer_label({label_name(label): n for label, n in class_counts.items()})


def stream_summary(result: StreamPass, sample) -> str:
    """One line for the log: rows read, class counts, and what the sample kept."""
    counts = ", ".join(f"'{label}': {n:,}" for label, n in sorted(result.class_counts.items(), key=lambda kv: -kv[1]))
    sampled = ", ".join(f"'{v}'" for v in result.sampled)
    return (f"streamed {result.n_rows:,} rows ({counts}); kept every other row and {result.rate:.3%} of {sampled} "
            f"(weight {1 / result.rate:,.1f}): {sample.n_rows:,} rows in memory")


def sampled_split(result: StreamPass, sample) -> DataSplit:
    """The sample's rows in the parts the pass gave them.

    Raises
    ------
    DataError
        A part of the sample without a row of some class.
    """
    indices = [np.flatnonzero(result.parts == code) for code in PART_CODES.values()]
    for name, rows in zip(PART_CODES, indices):
        present = np.bincount(sample.y[rows], minlength=sample.n_classes) > 0
        if not present.all():
            label = sample.classes[int(np.argmin(present))]
            raise DataError(f"The {name} part of the sharded data has no rows of class {label!r}; "
                            "more rows (or a larger --validation-size / --test-size) are needed.")
    return split_parts(sample, indices)


@dataclass(frozen=True)
class PartScores:
    """Labels and raw scores of every row of the streamed validation and test parts."""

    validation_y: np.ndarray
    validation_raw: np.ndarray
    test_y: np.ndarray
    test_raw: np.ndarray
    seconds: float
    n_rows: int

    @property
    def rows_per_second(self) -> float:
        """Rows read (all parts) per second of the scoring pass."""
        return self.n_rows / self.seconds if self.seconds > 0 else float("nan")

    def test(self, y, raw) -> tuple:
        """The test labels and raw scores the metrics use: every streamed test row's (the
        sample's ``y`` and ``raw`` are not used)."""
        return self.test_y, self.test_raw


@dataclass(frozen=True)
class StreamedSource:
    """Sharded Parquet or TFRecord: the streaming pass and its weighted sample (see the module's notes).

    Attributes
    ----------
    stream : StreamPass
        What the pass learnt (its ``rule`` puts every row in its part on every pass).
    data : TabularData
        The sample the search, the ensemble and the leaderboard work on.
    """

    stream: StreamPass
    data: object
    test_data = None
    streamed = True

    @classmethod
    def load(cls, config, progress, *, max_rows: int | None = None) -> "StreamedSource":
        """One streaming pass over the shards (:func:`load_streamed`; ``max_rows``: the first
        rows only), summed up in the log."""
        progress.say(f"streaming {config.data}")
        stream, data = load_streamed(config, max_rows=max_rows)
        progress.say(stream_summary(stream, data))
        return cls(stream, data)

    def class_counts(self, data) -> np.ndarray:
        """Rows per class of ``data.classes`` in every labelled row the pass read (the sample's
        balance is not the data's)."""
        by_name = {label_name(label): n for label, n in self.stream.class_counts.items()}
        return np.array([by_name.get(name, 0) for name in data.classes], dtype=np.int64)

    def split(self, config, data, test_data) -> DataSplit:
        """The sample's rows in the parts the pass gave them (:func:`sampled_split`)."""
        return sampled_split(self.stream, data)

    def finish(self, plan, search, chosen, candidates, modality, data, split, progress) -> tuple:
        """``(chosen, finished)``: with ``finish_epochs``, the chosen networks trained on over the
        full training part (:func:`~raretune.run._finish.finish_chosen`); else as they are, ``None``."""
        if not plan.config.finish_epochs:
            return chosen, None
        from ._finish import finish_chosen

        epochs = plan.config.finish_epochs
        with progress.phase("finish", f"finish: {epochs} epoch(s) of the chosen networks over every training row"):
            chosen, finished = finish_chosen(plan, search, chosen, candidates, modality, self.stream, data, split)
        read = sum(m.get("rows_read", 0) for m in finished["members"])
        progress.say(f"finished {sum('rows_read' in m for m in finished['members'])} network(s): {read:,} training "
                     f"rows read in {finished['seconds']:.1f} s")
        return chosen, finished

    def score(self, config, chosen, modality, data, split, progress) -> PartScores:
        """Stream the shards again: every validation and test row's label and raw score
        (:func:`score_parts`), so the calibration, the threshold and the test metrics use them all."""
        with progress.phase("score", "score: streaming the shards to score every validation and test row"):
            scored = score_parts(config, self.stream.rule, chosen.model, modality, data, self.stream.part_counts)
        progress.say(f"scored {scored.validation_y.size:,} validation and {scored.test_y.size:,} test rows "
                     f"({scored.rows_per_second:,.0f} rows/s read)")
        return scored

    def sample_values(self, split, values) -> RowValues:
        """The row values every score of the sample's rows uses (the trials', the ensemble's, the
        leaderboard's, the importance's): each validation and test row of the sample weighted by
        the rows of the data it stands for (``1 / rate`` for a row of a sampled class, 1 for the
        others), so that the search selects on, and the leaderboard shows, estimates of the full
        parts' figures. Training rows are not weighted. (``values`` holds nothing here: a
        streamed run has no cost or weight column.)"""
        return RowValues({part: {"cost": None, "sample_weight": self.stream.weights[split.indices[part]]}
                          for part in ("validation", "test")})

    def per_period(self, config, data, test_data, split, test_score, threshold) -> None:
        """No per-period table yet: the test rows' times are not kept by the scoring pass."""
        return None

    def write(self, path: Path, held_out: PartScores, finished: dict | None = None) -> None:
        """``stream.json``: the pass's record, how many rows were scored, and what was finished."""
        write_json(path / "stream.json", {**self.stream.record(), "scored": {
            "validation_rows": int(held_out.validation_y.size), "test_rows": int(held_out.test_y.size),
            "seconds": held_out.seconds}, **({} if finished is None else {"finish": finished})})


def score_parts(config, rule: PartRule, model, modality, reference, part_counts: dict | None = None) -> PartScores:
    """Stream the shards again and score every validation and test row with ``model``.

    The next batch is read, keyed, typed and made into the model's inputs in a thread while
    one is scored (:func:`~raretune._readahead.readahead`).

    Parameters
    ----------
    config : RunConfig
        ``data`` (the shards) and ``target``.
    rule : PartRule
        The pass's rule (with a time split, its cut points).
    model : keras.Model
        The chosen (uncalibrated) model.
    modality : TableModality
        Its ``inputs`` and ``predict_inputs``.
    reference : TabularData
        The sample: the columns, kinds and classes rows are read with.
    part_counts : dict, optional
        The pass's labelled rows per part and class (:class:`StreamPass`): the held-out
        arrays are allocated once at that size.

    Returns
    -------
    PartScores
        Rows without a label, or with one the sample never held, are left out.
    """
    import time

    start = time.perf_counter()
    source = sharded_source(config.data)
    wanted = (PART_CODES["validation"], PART_CODES["test"])
    label_type = np.int8 if reference.n_classes <= 127 else np.int32
    # a Keras model's outputs are float32: kept as such (predict_proba widens them, exactly)
    raw_type = np.float32 if getattr(model, "compute_dtype", None) == "float32" else np.float64
    counted = {code: None if part_counts is None else sum(part_counts.get(name, {}).values())
               for name, code in PART_CODES.items() if code in wanted}
    kept = {code: _Kept(counted[code], label_type, raw_type) for code in wanted}

    def held_out(batch):  # in the readahead's thread, while the batch before is scored
        file_name, first_row, frame = batch
        keys = rule.keys(file_name, first_row, frame)  # keyed before dropping rows, as in the pass
        labelled = frame[config.target].notna().to_numpy()
        frame, keys = frame.loc[labelled], keys[labelled]
        parts = rule.parts(keys, frame)
        chosen = np.isin(parts, wanted)
        if not chosen.any():
            return len(labelled), None, None, None
        rows = read_rows(frame.loc[chosen], reference)
        return len(labelled), parts[chosen], rows.y, modality.inputs(rows)

    n_rows = 0
    for n_read, parts, y, inputs in readahead(source.batches(batch_size=_SCORE_BATCH), held_out):
        n_rows += n_read
        if y is None:
            continue
        raw = np.asarray(modality.predict_inputs(model, inputs))
        known = y >= 0
        for code in wanted:
            mask = (parts == code) & known
            kept[code].add(y[mask], raw[mask])
    (validation_y, validation_raw), (test_y, test_raw) = (kept[code].arrays() for code in wanted)
    return PartScores(validation_y=validation_y, validation_raw=validation_raw, test_y=test_y, test_raw=test_raw,
                      seconds=time.perf_counter() - start, n_rows=n_rows)


class _Kept:
    """One part's labels and raw scores, batch by batch.

    At 100M rows the validation and test parts hold 30M rows, so they are written into arrays
    sized by the pass's count of the part's labelled rows (a byte a label, four bytes a
    float32 score), not gathered in chunks and joined (twice the memory at the join). Without
    a count (a time split), or when the shards now hold more rows than the pass counted,
    chunks are joined at the end.
    """

    def __init__(self, capacity: int | None, label_type, raw_type):
        self.y = np.empty(capacity or 0, dtype=label_type)
        self.raw = np.empty(capacity or 0, dtype=raw_type)
        self.filled = 0  # rows written in place; the rest go to chunks
        self.chunks = []

    def add(self, y: np.ndarray, raw: np.ndarray) -> None:
        end = self.filled + len(y)
        if not self.chunks and end <= len(self.y):
            self.y[self.filled:end], self.raw[self.filled:end] = y, raw
            self.filled = end
        else:
            self.chunks.append((y.astype(self.y.dtype), raw.astype(self.raw.dtype)))

    def arrays(self) -> tuple:
        """``(labels, raw scores)`` of every row added, in order."""
        head = (self.y[:self.filled], self.raw[:self.filled])
        if not self.chunks:
            return head
        pairs = [head, *self.chunks]
        return np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])
