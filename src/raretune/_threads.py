"""One place that sizes the thread pools: TensorFlow's, and scikit-learn's OpenMP and BLAS.

TensorFlow trains in its own pools; scikit-learn's boosted trees use OpenMP. OpenMP
threads busy-wait between parallel regions, so when the cores are shared (TensorFlow's pool,
another job) two OpenMP threads on two cores can make a one-second fit take a minute and a
half: measured here, HistGradientBoosting on 4,000 x 8 rows took 88 s with 2 OpenMP threads
under load and 8 s with one. raretune runs its scikit-learn phases (converged candidates,
baseline) with one OpenMP thread and one BLAS thread per process.

TensorFlow's two pools (intra-op: the threads inside one op, such as a matrix product;
inter-op: independent ops and the input pipeline run side by side) are sized once, at the
start of a run, by :func:`size_tensorflow_pools`: intra-op one thread per core this process
may use (:func:`cores`, which follows CPU affinity, e.g. ``taskset``), inter-op two. TensorFlow
fixes both when its runtime starts (the first op, tensor or model) and refuses a different
size afterwards; then raretune leaves them as they are and says so.

``RARETUNE_THREADS`` overrides the intra-op size (``RARETUNE_THREADS=4``), for a process
that shares its cores with others; ``RARETUNE_THREADS=0`` leaves both pools to TensorFlow.
"""

from __future__ import annotations

import contextlib
import os
from typing import NamedTuple

from ._errors import ConfigError

__all__ = ["THREADS_ENV", "TensorFlowPools", "cores", "size_tensorflow_pools", "sklearn_phase", "tensorflow_threads"]

#: The environment variable that overrides the size of TensorFlow's intra-op pool.
THREADS_ENV = "RARETUNE_THREADS"

#: TensorFlow's inter-op pool: the training step and the input pipeline side by side; more
#: threads only contend for the same cores with the intra-op pool.
INTER_OP_THREADS = 2


class TensorFlowPools(NamedTuple):
    """TensorFlow's pool sizes after :func:`size_tensorflow_pools` (``0``: TensorFlow's own choice).

    Attributes
    ----------
    intra_op, inter_op : int
        What TensorFlow reports now.
    applied : bool
        Whether the requested sizes are in force (``False``: TensorFlow had already started
        with other sizes, or ``RARETUNE_THREADS=0`` left them to TensorFlow).
    """

    intra_op: int
    inter_op: int
    applied: bool


def cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def tensorflow_threads(environ=None) -> tuple[int, int] | None:
    """The ``(intra_op, inter_op)`` sizes raretune asks of TensorFlow, or ``None`` for TensorFlow's own.

    Parameters
    ----------
    environ : mapping, optional
        Where to read ``RARETUNE_THREADS`` (default ``os.environ``).

    Raises
    ------
    ConfigError
        ``RARETUNE_THREADS`` is not a whole number >= 0.

    Examples
    --------
    >>> tensorflow_threads({"RARETUNE_THREADS": "3"})
    (3, 2)
    >>> tensorflow_threads({"RARETUNE_THREADS": "0"}) is None
    True
    """
    value = (os.environ if environ is None else environ).get(THREADS_ENV, "").strip()
    if not value:
        intra = cores()
    else:
        try:
            intra = int(value)
        except ValueError:
            intra = -1
        if intra < 0:
            raise ConfigError(f"The environment variable {THREADS_ENV} must be a whole number >= 0 "
                              f"(0: TensorFlow's own sizes). Got {value!r} instead.")
        if intra == 0:
            return None
    return intra, min(INTER_OP_THREADS, intra)


def size_tensorflow_pools(environ=None) -> TensorFlowPools:
    """Size TensorFlow's intra-op and inter-op pools (see :func:`tensorflow_threads`).

    Call it before TensorFlow's runtime starts: TensorFlow 2.21 fixes both pools then and
    raises ``RuntimeError`` for a different size afterwards (the same size is accepted).
    A late call changes nothing and reports ``applied=False``; it never raises for that.

    Parameters
    ----------
    environ : mapping, optional
        Where to read ``RARETUNE_THREADS`` (default ``os.environ``).

    Returns
    -------
    TensorFlowPools
    """
    wanted = tensorflow_threads(environ)
    import tensorflow as tf

    threading = tf.config.threading
    applied = False
    if wanted is not None:
        try:
            threading.set_intra_op_parallelism_threads(wanted[0])
            threading.set_inter_op_parallelism_threads(wanted[1])
            applied = True
        except RuntimeError:  # the runtime has started: its pools stay as they are
            applied = False
    intra, inter = threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads()
    return TensorFlowPools(intra, inter, applied and (intra, inter) == wanted)


@contextlib.contextmanager
def sklearn_phase():
    """Run scikit-learn fits with one OpenMP and one BLAS thread (restored afterwards)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield
