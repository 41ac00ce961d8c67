"""Resampling: imbalanced-learn-compatible samplers and streaming ``tf.data`` rebalancing.

:func:`rebalance` rebalances a ``tf.data.Dataset`` that does not fit in memory;
:func:`rebalance_arrays` gives rebalanced batches of in-memory arrays (the tuner's ``stream``
remedy). TensorFlow is imported on their first call, not on import.
"""

from ._cleaning import EditedNearestNeighbours, SMOTEENN, SMOTETomek, TomekLinks
from ._stream import rebalance, rebalance_arrays

__all__ = [
    "EditedNearestNeighbours",
    "SMOTEENN",
    "SMOTETomek",
    "TomekLinks",
    "rebalance",
    "rebalance_arrays",
]
