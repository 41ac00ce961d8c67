"""The chief's gRPC server: Keras Tuner's ``Oracle`` service, answered by a :class:`LeasedOracle`.

Every answer carries the chief's lease length; an answer to a named worker's ``GetTrial``
(its heartbeat) also says whether it still holds the trial. Trials are serialised through
:mod:`._protos`, so Keras Tuner's stray ``print`` stays silent.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

from ..._errors import RunStateError
from ._auth import Auth, token_interceptor
from ._protos import space_to_proto, trial_to_proto
from ._roles import LEASE_KEY, LEASE_SECONDS_KEY, TUNER_ID_KEY

if TYPE_CHECKING:
    from ._chief import LeasedOracle

__all__ = ["start_server"]

_SERVER_THREADS = 32
_IDLE_WAIT_SECONDS = 1.0


def _metadata_value(context, key):
    for item in context.invocation_metadata():
        if item.key == key:
            return item.value
    return None


def _make_servicer(leased: "LeasedOracle", *, idle_wait: float = _IDLE_WAIT_SECONDS):
    """Keras Tuner's gRPC servicer, talking to ``leased`` and reading the worker's name."""
    from keras_tuner.src import protos
    from keras_tuner.src.engine import hyperparameters as hp_module
    from keras_tuner.src.engine import trial as trial_module

    service = protos.get_service()
    lease_item = (LEASE_SECONDS_KEY, repr(leased.lease_seconds))

    class _Servicer(protos.get_service_grpc().OracleServicer):
        def _tuner(self, context):
            tuner_id = _metadata_value(context, TUNER_ID_KEY)
            leased.touch(tuner_id)
            return tuner_id

        def GetSpace(self, request, context):
            self._tuner(context)
            context.set_trailing_metadata((lease_item,))
            return service.GetSpaceResponse(hyperparameters=space_to_proto(leased.get_space()))

        def UpdateSpace(self, request, context):
            self._tuner(context)
            context.set_trailing_metadata((lease_item,))
            leased.update_space(hp_module.HyperParameters.from_proto(request.hyperparameters))
            return service.UpdateSpaceResponse()

        def CreateTrial(self, request, context):
            context.set_trailing_metadata((lease_item,))
            trial = leased.create_trial(request.tuner_id)
            if trial.status == trial_module.TrialStatus.IDLE:
                time.sleep(idle_wait)  # outside the lock: a waiting worker does not spin
            return service.CreateTrialResponse(trial=trial_to_proto(trial))

        def UpdateTrial(self, request, context):
            context.set_trailing_metadata((lease_item,))
            trial = leased.update_trial(request.trial_id, dict(request.metrics), step=request.step,
                                        tuner_id=self._tuner(context))
            return service.UpdateTrialResponse(trial=trial_to_proto(trial))

        def EndTrial(self, request, context):
            context.set_trailing_metadata((lease_item,))
            leased.end_trial(trial_module.Trial.from_proto(request.trial), tuner_id=self._tuner(context))
            return service.EndTrialResponse()

        def GetTrial(self, request, context):
            tuner_id = _metadata_value(context, TUNER_ID_KEY)
            items = [lease_item]
            if tuner_id is not None:
                held = leased.heartbeat(tuner_id, request.trial_id)
                items.append((LEASE_KEY, "held" if held else "lost"))
            context.set_trailing_metadata(tuple(items))
            return service.GetTrialResponse(trial=trial_to_proto(leased.get_trial(request.trial_id)))

        def GetBestTrials(self, request, context):
            self._tuner(context)
            context.set_trailing_metadata((lease_item,))
            trials = leased.get_best_trials(request.num_trials)
            return service.GetBestTrialsResponse(trials=[trial_to_proto(t) for t in trials])

    return _Servicer()


def start_server(leased: "LeasedOracle", address: str, *, auth: Auth | None = None,
                 log: Callable[[str], None] | None = None):
    """Start a gRPC server for ``leased`` on ``address`` (what :func:`serve_search` serves).

    Parameters
    ----------
    leased : LeasedOracle
    address : str
        ``HOST:PORT`` to listen on.
    auth : Auth, optional
        With a token, calls without it are refused (``UNAUTHENTICATED``) and logged; with a
        certificate, the server speaks TLS.
    log : callable, optional

    Returns
    -------
    grpc.Server
        Started; the caller stops it.

    Raises
    ------
    RunStateError
        If nothing can listen on ``address``.
    """
    import grpc
    from concurrent import futures
    from keras_tuner.src import protos

    interceptors = [token_interceptor(auth, log)] if auth is not None and auth.token is not None else []
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=_SERVER_THREADS), interceptors=interceptors)
    protos.get_service_grpc().add_OracleServicer_to_server(_make_servicer(leased), server)
    credentials = None if auth is None else auth.server_credentials()
    try:
        if credentials is None:
            bound = server.add_insecure_port(address)
        else:
            bound = server.add_secure_port(address, credentials)
    except RuntimeError:
        bound = 0
    if not bound:
        raise RunStateError(f"The chief cannot listen on {address} (address in use, or not this machine's?).")
    server.start()
    return server
