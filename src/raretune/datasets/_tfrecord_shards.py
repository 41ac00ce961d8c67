"""TFRecord shards written by TFDS, read a batch of records at a time.

A folder that TFDS prepared (``features.json``, ``dataset_info.json`` and files named like
``NAME-SPLIT.tfrecord-00000-of-00004``), or a glob of such ``*.tfrecord*`` files in one of
them, is read with ``tf.data.TFRecordDataset`` one file after another, ``batch_size``
serialized records at a time, and never whole. Each batch is decoded with the dataset's own
features (``features.json``): features that are all scalars stored as they decode (numbers,
text) in one batched ``tf.io.parse_example``, any others example by example through
``features.deserialize_example``, as TFDS's ``as_dataset`` does. The frames hold the columns
and values of the in-memory reader of ``tfds:NAME`` (text as Python strings), so the streaming
pass and the per-row parts (:class:`~raretune.datasets.PartRule`) treat them as Parquet batches.

Telling such a source apart needs no TensorFlow; reading it imports TensorFlow and TFDS.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .._errors import DataError
from ._tfdata import columns_from_batch, decode_bytes, scalar_parse_spec

__all__ = ["TFRecordShards", "is_tfrecord_source", "tfrecord_source"]

_MARK = ".tfrecord"
_FEATURES = "features.json"


def _is_record_file(path: Path) -> bool:
    return path.is_file() and _MARK in path.name


def is_tfrecord_source(source) -> bool:
    """Whether ``source`` names a TFDS folder of TFRecord shards or a glob of ``*.tfrecord*`` files.

    A folder counts when it holds TFDS's ``features.json`` and at least one ``*.tfrecord*``
    file; a glob counts when one of the files it matches is named ``*.tfrecord*``.
    """
    text = os.fspath(source)
    try:
        path = Path(text)
        if path.is_dir():
            return (path / _FEATURES).is_file() and any(_is_record_file(p) for p in path.iterdir())
        return any(_is_record_file(Path(p)) for p in glob.iglob(text, recursive=True))
    except (OSError, ValueError):  # a name the file system cannot hold
        return False


@dataclass(frozen=True)
class TFRecordShards:
    """TFRecord shards of one TFDS dataset folder, read in batches of records.

    Attributes
    ----------
    files : tuple of pathlib.Path
        The shards, sorted by path (for TFDS's names: split by split, shard by shard).
    n_rows : int
        Records in all shards (from ``dataset_info.json``'s shard lengths where it lists a
        file, else counted).
    columns : tuple of str
        The columns each batch has.
    folder : pathlib.Path
        The folder holding ``features.json``.
    """

    files: tuple
    n_rows: int
    columns: tuple
    folder: Path

    def batches(self, *, columns=None, batch_size: int = 65_536):
        """Yield ``(file_name, first_row, frame)``: every record once, one batch at a time.

        Parameters
        ----------
        columns : sequence of str, optional
            Columns to keep (all by default); scalar features outside them are not parsed.
        batch_size : int
            Records per batch at most.

        Yields
        ------
        tuple of (str, int, pandas.DataFrame)
            The shard's file name (no folder), the position of the batch's first record in
            that shard, and the batch's rows.
        """
        decode = _Decoder(self.folder, columns)
        for path in self.files:
            first = 0
            for frame in decode.frames(path, batch_size):
                yield path.name, first, frame
                first += len(frame)


class _Decoder:
    """Serialized records of one dataset to DataFrames, by its features."""

    def __init__(self, folder: Path, columns=None):
        import tensorflow_datasets as tfds

        self.features = tfds.features.FeatureConnector.from_config(str(folder))
        self.spec = scalar_parse_spec(self.features)
        self.columns = None if columns is None else list(columns)
        if self.spec is not None and self.columns is not None:
            self.spec = {name: self.spec[name] for name in self.columns if name in self.spec}

    def _dataset(self, path: Path, batch_size: int):
        import tensorflow as tf

        records = tf.data.TFRecordDataset(str(path))
        if self.spec is not None:
            spec = self.spec
            dataset = records.batch(batch_size).map(lambda batch: tf.io.parse_example(batch, spec))
        else:
            dataset = records.map(self.features.deserialize_example).batch(batch_size)
        options = tf.data.Options()
        # no prefetch: one batch is held at a time, whatever tf.data's defaults become
        options.experimental_optimization.inject_prefetch = False
        return dataset.with_options(options)

    def frames(self, path: Path, batch_size: int):
        """The frames of one shard, ``batch_size`` records each (the last may be shorter)."""
        import tensorflow as tf

        batches = iter(self._dataset(path, batch_size).as_numpy_iterator())
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except tf.errors.OpError as exc:  # a corrupt, truncated or vanished shard
                reason = str(exc.message).splitlines()[0] if exc.message else type(exc).__name__
                raise DataError(f"Cannot read the TFRecord shard {str(path)!r}: {reason}") from None
            columns = columns_from_batch(batch, None, "")
            # the features' order, as the in-memory TFDS reader has it (parse_example sorts by name)
            order = list(self.spec) if self.spec is not None else list(columns)
            if self.columns is not None:
                order = [c for c in self.columns if c in columns]
            frame = decode_bytes(pd.DataFrame({name: columns[name] for name in order}))
            if len(frame):
                yield frame


def tfrecord_source(source) -> TFRecordShards:
    """The TFRecord shards a TFDS folder or a glob names, with one-line errors.

    Raises
    ------
    DataError
        The shards lie in several folders, their folder has no ``features.json``, a glob
        matches other files too, a shard cannot be read, or the shards hold no records.
    """
    text = os.fspath(source)
    path = Path(text)
    if path.is_dir():
        folder = path
        files = sorted(p for p in path.iterdir() if _is_record_file(p))
    else:
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        other = [p for p in files if _MARK not in p.name]
        if other:
            raise DataError(f"{text!r} matches {other[0].name!r}, which is not a TFRecord shard; "
                            "a glob of shards must match TFRecord files only.")
        folders = {p.parent for p in files}
        if len(folders) != 1:
            raise DataError(f"{text!r} matches TFRecord shards in {len(folders)} folders; name the shards of "
                            "one TFDS dataset folder.")
        folder = folders.pop()
    if not files:
        raise DataError(f"No TFRecord shard in {text!r}.")
    if not (folder / _FEATURES).is_file():
        raise DataError(f"The folder {str(folder)!r} has no features.json; TFRecord shards are read with the "
                        "features TFDS wrote beside them.")
    try:
        lengths = _listed_lengths(folder)
        n_rows = sum(lengths[p.name] if p.name in lengths else _count_records(p) for p in files)
        columns = _columns(folder, files)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - TensorFlow and TFDS raise several kinds for a bad file
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"Cannot read the TFRecord shards of {text!r}: {reason}") from None
    if n_rows == 0:
        raise DataError(f"The TFRecord shards of {text!r} hold no records.")
    return TFRecordShards(tuple(files), int(n_rows), tuple(columns), folder)


def _listed_lengths(folder: Path) -> dict:
    """File name to records, for the shards ``dataset_info.json`` lists (none without it)."""
    if not (folder / "dataset_info.json").is_file():
        return {}
    import tensorflow_datasets as tfds

    lengths = {}
    for split in tfds.builder_from_directory(str(folder)).info.splits.values():
        for filepath, length in zip(split.filepaths, split.shard_lengths):
            lengths[Path(os.fspath(filepath)).name] = int(length)
    return lengths


def _count_records(path: Path) -> int:
    import tensorflow as tf

    return int(tf.data.TFRecordDataset(str(path)).reduce(np.int64(0), lambda n, _: n + 1))


def _columns(folder: Path, files) -> list:
    """The columns of a decoded batch: the scalar features' names, else those of a first record."""
    decoder = _Decoder(folder)
    if decoder.spec is not None:
        return list(decoder.spec)
    for path in files:
        for frame in decoder.frames(path, 1):
            return list(frame.columns)
    return []
