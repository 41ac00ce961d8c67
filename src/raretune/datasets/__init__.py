"""Loading, diagnosing and splitting labelled data.

TFDS builders made locally (``synthetic_fraud``, ``synthetic_digits``) live in
``raretune.datasets.builders``; importing that module registers them with TFDS.
"""

from ._diagnosis import describe_imbalance
from ._images import ImageData, load_images
from ._loaders import MISSING_CATEGORY, load_data, read_frame, table_features, table_from_frame
from ._split import DataSplit, stratified_split
from ._table import TabularData

__all__ = [
    "MISSING_CATEGORY",
    "DataSplit",
    "ImageData",
    "TabularData",
    "describe_imbalance",
    "load_images",
    "load_data",
    "read_frame",
    "stratified_split",
    "table_features",
    "table_from_frame",
]
