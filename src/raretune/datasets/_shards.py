"""Sharded sources: which files, their rows in record batches, and each row's part.

A folder or a glob of ``.parquet`` files is read with ``pyarrow.dataset`` one record batch at
a time, never whole; a TFDS folder or a glob of its ``*.tfrecord*`` shards is read the same
way through ``tf.data`` (:mod:`raretune.datasets._tfrecord_shards`). Each row's part (train, validation, test) is decided from a stable hash:
of the ``id_column`` value when given, else of the file's name and the row's position in it.
The hash is a fixed function of those values (no process state, no random generator), so a
row falls in the same part on every pass, on every machine, whatever order the files are
listed in. :func:`hash_parts` and :func:`time_parts` turn a batch's keys (or times) into parts.
"""

from __future__ import annotations

import glob
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .._errors import ConfigError, DataError
from ._tfrecord_shards import TFRecordShards, is_tfrecord_source, tfrecord_source

__all__ = ["PART_CODES", "PartRule", "ShardedSource", "hash_parts", "is_sharded_source", "row_keys",
           "sharded_source", "time_parts", "time_values", "uniform"]

#: Part of a row as an int8 code (index into ``raretune.datasets.PARTS``).
PART_CODES = {"train": 0, "validation": 1, "test": 2}
#: Salts that make the part and the sampling draws independent functions of one row key.
_PART_SALT = np.uint64(0x5EED_0F_5A11)
_SAMPLE_SALT = np.uint64(0xB0_7711_E5EED)
_GLOB_CHARS = "*?["


def is_sharded_source(source) -> bool:
    """Whether ``source`` names a folder or a glob of shards (Parquet, or TFRecord written by TFDS),
    not one file and not ``tfds:NAME``."""
    if not isinstance(source, (str, os.PathLike)):
        return False
    text = os.fspath(source)
    if text.startswith("tfds:"):
        return False
    try:
        return any(c in text for c in _GLOB_CHARS) or Path(text).is_dir()
    except (OSError, ValueError):  # a name the file system cannot hold (a NUL byte, too long)
        return False


@dataclass(frozen=True)
class ShardedSource:
    """Parquet shards read in record batches.

    Attributes
    ----------
    files : tuple of pathlib.Path
        The shards, sorted by path.
    n_rows : int
        Rows in all shards (from the Parquet footers, without reading the rows).
    columns : tuple of str
        The columns of the first shard's schema.
    """

    files: tuple
    n_rows: int
    columns: tuple

    def batches(self, *, columns=None, batch_size: int = 65_536):
        """Yield ``(file_name, first_row, frame)``: every row once, one record batch at a time.

        Parameters
        ----------
        columns : sequence of str, optional
            Columns to read (all by default): Parquet reads only these from disk.
        batch_size : int
            Rows per record batch at most.

        Yields
        ------
        tuple of (str, int, pandas.DataFrame)
            The shard's file name (no folder), the position of the batch's first row in that
            shard, and the batch's rows.
        """
        import pyarrow.dataset as ds

        for path in self.files:
            first = 0
            for batch in ds.dataset(path, format="parquet").to_batches(columns=None if columns is None else list(columns),
                                                                      batch_size=batch_size):
                if batch.num_rows == 0:
                    continue
                yield path.name, first, batch.to_pandas()
                first += batch.num_rows


def sharded_source(source) -> ShardedSource | TFRecordShards:
    """The shards a folder or glob names, with one-line errors.

    A TFDS folder (with ``features.json``) or a glob of ``*.tfrecord*`` files gives
    :class:`~raretune.datasets._tfrecord_shards.TFRecordShards`; anything else is Parquet. Both
    have ``files``, ``n_rows``, ``columns`` and the same ``batches``.

    Raises
    ------
    DataError
        No Parquet file matches, a shard cannot be read, or the shards have different columns
        (for TFRecord shards, see :func:`~raretune.datasets._tfrecord_shards.tfrecord_source`).
    """
    import pyarrow.dataset as ds

    text = os.fspath(source)
    if is_tfrecord_source(text):
        return tfrecord_source(text)
    if Path(text).is_dir():
        files = sorted(p for p in Path(text).rglob("*") if p.is_file() and p.suffix.lower() in (".parquet", ".pq"))
    else:
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        other = [p for p in files if p.suffix.lower() not in (".parquet", ".pq")]
        if other:
            raise DataError(f"{text!r} matches {other[0].name!r}, which is not a .parquet file; "
                            "sharded data must be Parquet files only.")
    if not files:
        raise DataError(f"No .parquet file in {text!r}.")
    names = [p.name for p in files]
    if len(set(names)) != len(names):
        # the row key hashes the file name, so two shards of one name would share keys
        raise DataError(f"Two shards of {text!r} have the same file name; shard names must be unique.")
    try:
        dataset = ds.dataset([str(p) for p in files], format="parquet")
        n_rows = int(dataset.count_rows())
        columns = tuple(dataset.schema.names)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds for a bad file
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"Cannot read the Parquet shards of {text!r}: {reason}") from None
    if n_rows == 0:
        raise DataError(f"The Parquet shards of {text!r} hold no rows.")
    for path, fragment in zip(files, dataset.get_fragments()):
        if tuple(fragment.physical_schema.names) != columns:
            raise DataError(f"Shard {str(path)!r} has other columns than {files[0].name!r}; "
                            "every shard must have the same columns.")
    return ShardedSource(tuple(files), n_rows, columns)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a fixed bijection of uint64 whose output bits all depend on every input bit."""
    x = np.asarray(x, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def row_keys(file_name: str, first_row: int, frame: pd.DataFrame, id_column: str | None = None) -> np.ndarray:
    """A stable 64-bit key per row: of its id, or of (file name, position in the file).

    Parameters
    ----------
    file_name : str
        The shard's file name (no folder: the same shard mounted elsewhere keeps its keys).
    first_row : int
        Position of ``frame``'s first row in its shard.
    frame : pandas.DataFrame
    id_column : str, optional
        A column identifying the row; its values are hashed with pandas' fixed-key hash, so
        equal ids get equal keys in any shard.

    Returns
    -------
    ndarray of uint64, shape (len(frame),)
    """
    if id_column is not None:
        values = frame[id_column]
        if values.isna().any():
            raise DataError(f"The id column {id_column!r} has missing values; every row needs an id.")
        return _mix(pd.util.hash_array(values.to_numpy()))
    digest = hashlib.blake2b(file_name.encode("utf-8"), digest_size=8).digest()
    base = np.uint64(int.from_bytes(digest, "little"))
    positions = np.arange(first_row, first_row + len(frame), dtype=np.uint64)
    return _mix(_mix(positions) ^ base)


def uniform(keys: np.ndarray, salt: int, draw: str = "part") -> np.ndarray:
    """A number in [0, 1) per key, a fixed function of (key, salt, draw): the row's 'random' draw.

    ``draw`` is ``"part"`` (which part the row is in) or ``"sample"`` (whether the row is
    kept); the two draws of one row are independent.
    """
    base = _PART_SALT if draw == "part" else _SAMPLE_SALT
    with np.errstate(over="ignore"):
        mixed = _mix(keys ^ _mix(np.uint64(salt) + base))
    return (mixed >> np.uint64(11)).astype(np.float64) / float(2**53)


def hash_parts(keys: np.ndarray, *, validation_size: float, test_size: float, salt: int = 0) -> np.ndarray:
    """The part of each row (int8, :data:`PART_CODES`) from its key: test with probability
    ``test_size``, validation with ``validation_size``, train otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> parts = hash_parts(np.arange(100_000, dtype=np.uint64), validation_size=0.15, test_size=0.15)
    >>> np.round(np.bincount(parts) / parts.size, 2).tolist()
    [0.7, 0.15, 0.15]
    """
    if validation_size <= 0 or test_size < 0 or validation_size + test_size >= 1:
        raise ConfigError(f"validation_size + test_size must be below 1; got {validation_size + test_size:g}.")
    u = uniform(keys, salt, "part")
    return np.where(u < test_size, 2, np.where(u < test_size + validation_size, 1, 0)).astype(np.int8)


def time_values(values: pd.Series, column: str) -> np.ndarray:
    """Times as float64 (numbers as they are, dates and ISO text as nanoseconds since 1970)."""
    if values.isna().any():
        raise DataError(f"The time column {column!r} has missing values; fill them or drop those rows.")
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=np.float64)
    try:
        stamps = pd.to_datetime(values, utc=True)
    except (ValueError, TypeError):
        raise DataError(f"The time column {column!r} holds values that are neither numbers nor dates.") from None
    return stamps.dt.as_unit("ns").astype("int64").to_numpy(dtype=np.float64)


def time_parts(times: np.ndarray, cuts) -> np.ndarray:
    """The part of each row from its time: before ``cuts[0]`` train, before ``cuts[1]``
    validation, else test (int8, :data:`PART_CODES`)."""
    return np.searchsorted(np.asarray(cuts, dtype=np.float64), times, side="right").astype(np.int8)


@dataclass(frozen=True)
class PartRule:
    """How a row's part is decided: by hash (of ``id_column`` or the row's place) or by time cuts.

    Attributes
    ----------
    validation_size, test_size : float
        Shares of the parts (hash split; with ``cuts`` they only set where the cuts fall).
    id_column : str, optional
        The column whose value keys the row (else its file name and position).
    salt : int
        Mixed into every draw (the run's seed), so another seed gives another split.
    time_column : str, optional
        With ``cuts``: parts are consecutive periods of this column.
    cuts : tuple of two floats, optional
        Times where validation and test begin (see :func:`time_values` for their unit).
    """

    validation_size: float = 0.15
    test_size: float = 0.15
    id_column: str | None = None
    salt: int = 0
    time_column: str | None = None
    cuts: tuple | None = None

    def keys(self, file_name: str, first_row: int, frame: pd.DataFrame) -> np.ndarray:
        """The rows' stable keys (see :func:`row_keys`)."""
        return row_keys(file_name, first_row, frame, self.id_column)

    def parts(self, keys: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
        """The part code of each row (int8, :data:`PART_CODES`)."""
        if self.time_column is not None:
            if self.cuts is None:
                raise ValueError("The time cut points are not known yet (they come from the streaming pass).")
            return time_parts(time_values(frame[self.time_column], self.time_column), self.cuts)
        return hash_parts(keys, validation_size=self.validation_size, test_size=self.test_size, salt=self.salt)

    def to_dict(self) -> dict:
        """JSON-ready form (for the run's record)."""
        return {"validation_size": self.validation_size, "test_size": self.test_size, "id_column": self.id_column,
                "salt": self.salt, "time_column": self.time_column,
                "cuts": None if self.cuts is None else [float(c) for c in self.cuts]}
