"""Keep Python's garbage collector off the objects that live for the whole run.

Keras Tuner calls ``gc.collect()`` before it builds every trial's model (and again through
``keras.backend.clear_session``), and reloading a trial's model goes through the same path.
A full collection walks every container object in the process: after TensorFlow and Keras are
imported that is about 400,000 objects, 0.3 to 1.5 s a call on this 2-core machine, and a
search of 40 trials makes over a hundred such calls. :func:`frozen_heap` collects once and
moves what exists then into the permanent generation (:func:`gc.freeze`), so each later
collection walks only the objects the run itself made; the objects are handed back to the
collector (:func:`gc.unfreeze`) when the outermost run ends.
"""

from __future__ import annotations

import contextlib
import gc

__all__ = ["frozen_heap"]

_depth = 0


@contextlib.contextmanager
def frozen_heap():
    """Freeze the heap as it is now for the duration of the block (nested blocks are free)."""
    global _depth
    if _depth == 0:
        import keras  # noqa: F401  (the framework's objects are most of what is frozen)

        gc.collect()
        gc.freeze()
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            gc.unfreeze()
