"""Loading, diagnosing and splitting labelled data.

:func:`load_data` reads data to train on (tables or images, from any supported source);
:func:`read_rows` reads rows to score or evaluate with a finished run's schema, labels optional.
:func:`stratified_split`, :func:`time_split` (out of time) and :func:`group_split` (no group in
two parts) make a :class:`DataSplit`; :func:`split_record` lists every input row's part.

TFDS builders made locally (``synthetic_fraud``, ``synthetic_digits``) live in
``raretune.datasets.builders``; importing that module registers them with TFDS.
"""

from ._diagnosis import describe_imbalance
from ._group_split import group_split
from ._images import ImageData
from ._loaders import load_data, load_images, read_rows
from ._sources import read_frame
from ._shards import PartRule, ShardedSource, is_sharded_source, sharded_source
from ._split import DataSplit, split_record, stratified_split
from ._stream_pass import StreamPass, parse_memory, stream_pass
from ._tfrecord_shards import TFRecordShards
from ._table import MISSING_CATEGORY, TabularData, table_features, table_from_frame
from ._time_split import time_split

__all__ = [
    "MISSING_CATEGORY",
    "DataSplit",
    "ImageData",
    "PartRule",
    "ShardedSource",
    "StreamPass",
    "TFRecordShards",
    "TabularData",
    "describe_imbalance",
    "is_sharded_source",
    "group_split",
    "load_images",
    "load_data",
    "parse_memory",
    "read_frame",
    "read_rows",
    "sharded_source",
    "split_record",
    "stratified_split",
    "stream_pass",
    "table_features",
    "table_from_frame",
    "time_split",
]
