"""Resampling: imbalanced-learn-compatible samplers and a streaming ``tf.data`` rebalance.

TensorFlow is imported on the first call of :func:`rebalance`, not on import.
"""

from ._cleaning import EditedNearestNeighbours, SMOTEENN, SMOTETomek, TomekLinks
from ._stream import rebalance

__all__ = [
    "EditedNearestNeighbours",
    "SMOTEENN",
    "SMOTETomek",
    "TomekLinks",
    "rebalance",
]
