"""Where the run's rows come from: a table read into memory, or sharded Parquet or TFRecord streamed.

:func:`load_source` is the load stage. It returns the source the rest of the job asks, in
the same words whatever the data: its rows (``data``, ``test_data``), how they ``split``,
the network members to ``finish`` on every training row, the held-out labels and raw
scores the decision and the test metrics use (``score``), the test metrics per period, and
what it writes into the run folder. :class:`InMemorySource` holds the whole table;
:class:`~raretune.run._streamed.StreamedSource` holds the streaming pass's weighted sample
and streams the shards again where every row counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..datasets import load_data
from ._config import FAST_MAX_ROWS
from ._periods import period_metrics
from ._plan import split_data, subsample
from ._row_values import load_columns
from ._streamed import StreamedSource, is_streamed

__all__ = ["HeldOut", "InMemorySource", "load_source"]


@dataclass(frozen=True)
class HeldOut:
    """Labels and raw scores of the validation rows the decision is fitted on (in memory: the
    split's own; the test rows are scored in the test phase)."""

    validation_y: np.ndarray
    validation_raw: np.ndarray

    def test(self, y, raw) -> tuple:
        """The test labels and raw scores the metrics use: here the split's test rows, ``(y, raw)``."""
        return y, raw


@dataclass(frozen=True)
class InMemorySource:
    """A table (and a fixed test set) read whole; every stage sees every row.

    Attributes
    ----------
    data : TabularData or ImageData
    test_data : TabularData or ImageData or None
    """

    data: object
    test_data: object = None
    streamed = False

    @classmethod
    def load(cls, config, progress, *, max_rows: int | None = None) -> "InMemorySource":
        """The data (and a fixed test set), checked before anything is written; ``max_rows``:
        a stratified subsample of that many rows at most."""
        source = config.data if isinstance(config.data, (str, Path)) else type(config.data).__name__
        progress.say(f"loading {source}")
        split_columns = tuple(c for c in (config.time_column, config.group_column, config.segment_by) if c is not None)
        keep, drop = load_columns(config)
        data = load_data(config.data, target=config.target, positive=config.positive, data_dir=config.data_dir,
                         keep=keep + split_columns, drop=drop)
        test_data = None
        if config.test_data is not None:
            test_data = load_data(config.test_data, target=data.target, reference=data, data_dir=config.data_dir)
        if max_rows is not None:
            data = subsample(data, max_rows, config.seed)
        return cls(data, test_data)

    def class_counts(self, data) -> None:
        """``None``: ``data`` is every row, its own class counts are the data's."""
        return None

    def split(self, config, data, test_data):
        """Train, validation and test rows (:func:`~raretune.run._plan.split_data`)."""
        return split_data(config, data, test_data)

    def finish(self, plan, search, chosen, candidates, modality, data, split, progress) -> tuple:
        """``(chosen, None)``: the search already trained the networks on every training row."""
        return chosen, None

    def score(self, config, chosen, modality, data, split, progress) -> HeldOut:
        """The validation part's labels and the chosen model's raw scores of it."""
        return HeldOut(split.validation.y, chosen.raw)

    def per_period(self, config, data, test_data, split, test_score, threshold) -> dict | None:
        """Test metrics per period of the time column (:func:`~raretune.run._periods.period_metrics`)."""
        return period_metrics(config, data, test_data, split, test_score, threshold)

    def sample_values(self, split, values):
        """The row values every score of the split's rows uses (the trials', the ensemble's, the
        leaderboard's, the importance's): the run's own (``values``); every row stands for itself."""
        return values

    def write(self, path: Path, held_out, finished=None) -> None:
        """Nothing beyond the run's own files."""


def load_source(config, progress):
    """The load stage: the streaming pass for sharded Parquet or TFRecord, else the table read whole.

    Returns
    -------
    InMemorySource or StreamedSource
    """
    source = StreamedSource if is_streamed(config) else InMemorySource
    return source.load(config, progress, max_rows=FAST_MAX_ROWS if config.fast else None)
