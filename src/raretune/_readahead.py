"""Read the next batch while this one is scored: one background thread, one batch ahead.

Streaming predict reads a batch (Parquet decoding, pandas conversion, typing the columns)
and then scores it and writes the scores; done in turn, the reading waits for the model
and the model for the reading. :func:`readahead` prepares batch ``k + 1`` in a thread while
the caller works on batch ``k`` (pyarrow, NumPy and TensorFlow release the GIL in their
heavy parts), so the slower of the two sets the pace rather than their sum. At most one
prepared batch waits, so memory stays that of two batches.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator

__all__ = ["readahead"]

_DONE = object()


def readahead(items: Iterable, prepare: Callable = lambda item: item) -> Iterator:
    """Yield ``prepare(item)`` for every item in order, the next one prepared in a thread.

    ``items`` is advanced and ``prepare`` called in one background thread only, one item
    ahead of the caller. An exception raised there is raised to the caller, in order, at the
    item it belongs to. When the caller stops early, at most one more item is read.

    Examples
    --------
    >>> list(readahead(range(4), lambda k: k * k))
    [0, 1, 4, 9]
    """
    iterator = iter(items)

    def step():
        item = next(iterator, _DONE)
        return item if item is _DONE else prepare(item)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="raretune-readahead") as pool:
        pending = pool.submit(step)
        while True:
            prepared = pending.result()
            if prepared is _DONE:
                return
            pending = pool.submit(step)
            yield prepared
