"""Where predict's rows come from and where its predictions go, one batch at a time.

Sources (:func:`table_files`): a CSV file, read in chunks of rows by pandas; a Parquet file,
or a folder or glob of Parquet files (shards), read in record batches by pyarrow; a TFDS
folder or a glob of its TFRecord shards, read in batches of records by ``tf.data``
(:mod:`raretune.datasets._tfrecord_shards`). Only the columns the model and the output need
are kept, and never a whole file is read at once, so memory stays near one batch (or one
Parquet row group, if that is larger) however long the input.

Targets (:func:`prediction_target`): CSV on standard output (``"-"``) or in a ``.csv`` file
(the header once), one ``.parquet`` file (a row group per batch), or a folder (an existing
one, or a name ending in ``/``) that receives one Parquet shard per input file, under the
same base name. Files are written under temporary names and put in place only when every
batch is written, so an error leaves nothing behind; on standard output nothing is written
before the first batch is scored.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .._errors import DataError, RunStateError
from .._io import atomic_path
from ._paths import check_output_file

if TYPE_CHECKING:
    from ..datasets._tfrecord_shards import TFRecordShards

__all__ = ["DEFAULT_BATCH_ROWS", "PredictionTarget", "TableFiles", "is_table_path", "prediction_target",
           "table_files", "write_predictions"]

#: Rows scored at a time: large enough that reading and the model's call cost little per row,
#: small enough that a batch of a few dozen columns takes tens of megabytes.
DEFAULT_BATCH_ROWS = 65_536

_PARQUET = (".parquet", ".pq")


def is_table_path(data) -> bool:
    """Whether ``data`` names table files (a path or a glob, not ``tfds:NAME``)."""
    return isinstance(data, (str, os.PathLike)) and not os.fspath(data).startswith("tfds:")


@dataclass(frozen=True)
class TableFiles:
    """The files of a table source: one CSV file, or one or more Parquet or TFRecord files (shards)."""

    paths: tuple
    kind: str  # "csv", "parquet" or "tfrecord"
    shown: str  # the source as the user wrote it
    records: TFRecordShards | None = None  # TFRecord shards: their folder's features

    def columns(self, path: Path) -> list:
        """The column names of one file (its header, its Parquet schema or its TFDS features)."""
        if self.records is not None:
            return list(self.records.columns)
        try:
            if self.kind == "csv":
                return [str(c) for c in pd.read_csv(path, nrows=0).columns]
            import pyarrow.parquet as pq

            return [str(c) for c in pq.read_schema(path).names]
        except pd.errors.EmptyDataError:
            raise DataError(f"File {str(path)!r} is empty.") from None
        except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
            raise DataError(f"Cannot parse {str(path)!r}: {_first_line(exc)}") from None

    def check_columns(self, needed, keep) -> None:
        """Refuse, before anything is read, a file that lacks a model column or a column to keep."""
        for path in self.paths:
            present = set(self.columns(path))
            missing = [name for name in needed if name not in present]
            if missing:
                raise DataError(f"Column {missing[0]!r} is missing from {str(path)!r}; it is needed by the model.")
            missing = [name for name in keep if name not in present]
            if missing:
                raise DataError(f"Column {missing[0]!r} (to keep) is not in {str(path)!r}; columns: "
                                f"{', '.join(self.columns(path)[:12])}.")

    def batches(self, columns, batch_rows: int):
        """``(path, frame)`` for every batch of at most ``batch_rows`` rows, files in order.

        ``columns`` are read (others are skipped). A Parquet index that pandas stored is
        read back as a column, like any other.
        """
        columns = list(dict.fromkeys(columns))
        for path in self.paths:
            try:
                for frame in self._read(path, columns, batch_rows):
                    if len(frame):  # a header-only CSV reads as one empty chunk
                        yield path, frame
            except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:  # pyarrow: ArrowInvalid
                raise DataError(f"Cannot parse {str(path)!r}: {_first_line(exc)}") from None

    def _read(self, path: Path, columns: list, batch_rows: int):
        if self.records is not None:
            one = replace(self.records, files=(path,))
            yield from (frame for _, _, frame in one.batches(columns=columns, batch_size=batch_rows))
            return
        if self.kind == "csv":
            # the same parser and type inference as the whole-file reader, a chunk at a time
            with pd.read_csv(path, usecols=columns, chunksize=batch_rows, low_memory=False) as chunks:
                yield from chunks
            return
        import pyarrow.parquet as pq

        with pq.ParquetFile(path) as handle:
            for batch in handle.iter_batches(batch_size=batch_rows, columns=columns):
                frame = batch.to_pandas()
                if not isinstance(frame.index, pd.RangeIndex):  # pandas' stored index: a column here
                    frame = frame.reset_index()
                yield frame


def table_files(data) -> TableFiles:
    """The files a path or glob names: a CSV or Parquet file, a folder or a glob of Parquet files,
    or a TFDS folder or a glob of its ``*.tfrecord*`` shards.

    Raises
    ------
    DataError
        Nothing to read: no such file, an empty file, another format, a folder or a glob
        with no Parquet file, or a glob that matches files other than Parquet ones (or other
        than TFRecord ones).
    """
    from ..datasets._tfrecord_shards import is_tfrecord_source, tfrecord_source

    text = os.fspath(data)
    path = Path(text)
    if is_tfrecord_source(text):
        records = tfrecord_source(text)
        return TableFiles(records.files, "tfrecord", text, records)
    if path.is_dir():
        paths = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in _PARQUET
                       and not p.name.startswith((".", "_")))  # hidden and marker files (_SUCCESS)
        if not paths:
            raise DataError(f"No Parquet files in the folder {text!r}.")
        return TableFiles(tuple(paths), "parquet", text)
    if not path.exists() and any(c in text for c in "*?["):
        paths = sorted(Path(p) for p in glob.glob(text) if Path(p).is_file())
        if not paths:
            raise DataError(f"No files match {text!r}.")
        other = [p for p in paths if p.suffix.lower() not in _PARQUET]
        if other:
            raise DataError(f"{text!r} matches {str(other[0])!r}; a glob of shards may match Parquet files only.")
        return TableFiles(tuple(paths), "parquet", text)
    suffix = path.suffix.lower()
    if suffix not in (".csv", *_PARQUET):
        raise DataError(f"Cannot read {text!r}: expected a .csv or .parquet file, a folder or glob of "
                        "Parquet files, or 'tfds:NAME'.")
    if not path.exists():
        raise DataError(f"File not found: {text!r}.")
    if path.stat().st_size == 0:
        raise DataError(f"File {text!r} is empty.")
    return TableFiles((path,), "csv" if suffix == ".csv" else "parquet", text)


@dataclass(frozen=True)
class PredictionTarget:
    """Where predictions go: ``kind`` is ``"stdout"``, ``"csv"``, ``"parquet"`` or ``"folder"``."""

    kind: str
    path: Path | None = None


def prediction_target(out) -> PredictionTarget:
    """Check ``out`` and tell what it is: ``None`` or ``"-"`` (CSV on standard output), a
    ``.parquet`` file, another file (CSV), or a folder (existing, or written with a final ``/``).

    Raises
    ------
    RunStateError
        The file or folder cannot be written (see :func:`~raretune.run._paths.check_output_file`),
        or the folder already holds files.
    """
    if out is None or os.fspath(out) == "-":
        return PredictionTarget("stdout")
    text = os.fspath(out)
    if text.endswith(("/", os.sep)) or Path(text).is_dir():
        folder = Path(os.path.normpath(text))
        if folder.exists() and not folder.is_dir():
            raise RunStateError(f"Cannot write the folder {text!r}: it is a file.")
        check_output_file(folder / "predictions.parquet")  # the checks of a file the folder will hold
        if folder.is_dir() and any(folder.iterdir()):
            raise RunStateError(f"Cannot write predictions into {text!r}: the folder holds files; name a new "
                                "or empty folder.")
        return PredictionTarget("folder", folder)
    path = check_output_file(text)
    return PredictionTarget("parquet" if path.suffix.lower() in _PARQUET else "csv", path)


def write_predictions(batches, target: PredictionTarget) -> int:
    """Write ``(path, frame)`` batches of predictions to ``target``; return the number of rows.

    ``path`` is the input file a batch came from (None for an in-memory source): a folder
    target writes each input file's batches to a Parquet file of the same base name. A
    frame's index is written when it is not a range (a DataFrame's own index).

    Raises
    ------
    DataError
        Two input files share a base name (folder target), or a column changes its type
        between batches in a way Parquet cannot hold in one file.
    """
    if target.kind == "stdout":
        rows = 0
        for _, frame in batches:
            frame.to_csv(sys.stdout, header=rows == 0, index=_has_index(frame))
            rows += len(frame)
        sys.stdout.flush()
        return rows
    if target.kind == "csv":
        with atomic_path(target.path, suffix=target.path.suffix or ".csv") as tmp, \
                open(tmp, "w", encoding="utf-8", newline="") as handle:
            rows = 0
            for _, frame in batches:
                frame.to_csv(handle, header=rows == 0, index=_has_index(frame))
                rows += len(frame)
        return rows
    if target.kind == "parquet":
        with atomic_path(target.path, suffix=target.path.suffix) as tmp:
            writer = _ParquetFile(tmp)
            try:
                for _, frame in batches:
                    writer.write(frame)
            finally:
                writer.close()
        return writer.rows
    return _write_folder(batches, target.path)


def _write_folder(batches, folder: Path) -> int:
    """One Parquet file per input file, staged in a hidden folder and moved in at the end."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".{folder.name}.{secrets.token_hex(4)}.tmp"
    staging.mkdir()
    rows, writer, names = 0, None, {}
    try:
        for path, frame in batches:
            name = _shard_name(Path(path)) if path is not None else "predictions.parquet"
            if names.setdefault(name, path) != path:
                raise DataError(f"Input files {str(names[name])!r} and {str(path)!r} would both write "
                                f"{name!r}; give shards distinct names or write one file (--out preds.parquet).")
            if writer is None or writer.path != staging / name:
                if writer is not None:
                    rows += writer.close()
                writer = _ParquetFile(staging / name)
            writer.write(frame)
        if writer is not None:
            rows += writer.close()
            writer = None
        if folder.is_dir():  # checked empty: move the shards in
            for shard in staging.iterdir():
                os.replace(shard, folder / shard.name)
            staging.rmdir()
        else:
            os.replace(staging, folder)
    finally:
        if writer is not None:
            writer.close()
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return rows


class _ParquetFile:
    """A Parquet file written a row group per batch; the first batch fixes the column types."""

    def __init__(self, path: Path):
        self.path, self.rows, self._writer, self._schema = Path(path), 0, None, None

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        index = _has_index(frame)
        if self._writer is None:
            table = pa.Table.from_pandas(frame, preserve_index=index)
            self._schema = table.schema
            self._writer = pq.ParquetWriter(self.path, self._schema)
        else:
            try:  # a later batch's inferred types (int, then float with a gap) follow the first's
                table = pa.Table.from_pandas(frame, schema=self._schema, preserve_index=index)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
                raise DataError(f"A column changes type between batches ({_first_line(exc)}); write CSV, or "
                                "use a larger --batch-rows.") from None
        self._writer.write_table(table)
        self.rows += len(frame)

    def close(self) -> int:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        return self.rows


def _shard_name(path: Path) -> str:
    """The Parquet file an input shard's predictions go to: ``part-0.parquet`` for ``part-0.csv``,
    ``NAME-train-00001-of-00004.parquet`` for TFDS's ``NAME-train.tfrecord-00001-of-00004``."""
    if ".tfrecord" in path.name:  # its suffix holds the shard number: keep it
        return path.name.replace(".tfrecord", "", 1) + ".parquet"
    return path.stem + ".parquet"


def _has_index(frame: pd.DataFrame) -> bool:
    return not isinstance(frame.index, pd.RangeIndex)  # a DataFrame's own index is kept


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
