"""One place that sizes the thread pools: TensorFlow's, and scikit-learn's OpenMP and BLAS.

TensorFlow trains in its own pools; scikit-learn's boosted trees use OpenMP. OpenMP
threads busy-wait between parallel regions, so when the cores are shared (TensorFlow's pool,
another job) two OpenMP threads on two cores can make a one-second fit take a minute and a
half: measured here, HistGradientBoosting on 4,000 x 8 rows took 88 s with 2 OpenMP threads
under load and 8 s with one. raretune runs its scikit-learn phases (converged candidates,
baseline) with one OpenMP thread and one BLAS thread per process.
"""

from __future__ import annotations

import contextlib
import os

__all__ = ["cores", "sklearn_phase"]


def cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def sklearn_phase():
    """Run scikit-learn fits with one OpenMP and one BLAS thread (restored afterwards)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield
