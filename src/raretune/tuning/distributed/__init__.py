"""One search, many machines: Keras Tuner's chief/worker mode with leases on trials.

raretune keeps Keras Tuner's protocol (a plain Keras Tuner worker can still join) and closes
its gaps: trials are leased to workers and come back to the pool when a worker goes silent,
the chief ends when the search is over even if a worker died, workers wait instead of leaving
while a trial may still come back, and a finished project runs nothing again.

The modules follow ``keras_tuner/src/distribute``'s split:

* :mod:`._roles`: who this process is (:class:`Role`, :func:`resolve_role`,
  :func:`kt_environment`) and the protocol's constants;
* :mod:`._chief`: the leased oracle and the chief's search (:class:`LeasedOracle`,
  :func:`serve_search`), served by :mod:`._servicer`;
* :mod:`._worker`: the worker's lease and search (:class:`WorkerLease`, :func:`join_search`,
  :func:`run_worker`);
* :mod:`._auth`: who may join (:class:`Auth`: a shared token on every call, optional TLS).

Importing this package changes nothing in Keras Tuner: its stray ``print`` in
``Parent.to_proto`` is avoided by serialising quiet copies (:mod:`._protos`), and the oracle's
internal queues are touched in one adapter (:mod:`._oracle_queue`).
"""

from __future__ import annotations

import importlib

from ._auth import AUTH_TOKEN_ENV, Auth
from ._roles import (
    DEFAULT_LEASE_SECONDS,
    Role,
    check_distributed_options,
    kt_environment,
    mirrored_strategy,
    parse_address,
    resolve_role,
)

# the chief's and the worker's sides import Keras and gRPC: loaded on first use, so that a
# run's option checks (check_distributed_options) answer without TensorFlow
_LAZY = {"LeasedOracle": "._chief", "serve_search": "._chief", "LeaseLostError": "._worker",
         "WorkerLease": "._worker", "join_search": "._worker", "run_worker": "._worker"}

__all__ = [
    "AUTH_TOKEN_ENV",
    "DEFAULT_LEASE_SECONDS",
    "Auth",
    "LeaseLostError",
    "LeasedOracle",
    "Role",
    "WorkerLease",
    "check_distributed_options",
    "join_search",
    "kt_environment",
    "mirrored_strategy",
    "parse_address",
    "resolve_role",
    "run_worker",
    "serve_search",
]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value

