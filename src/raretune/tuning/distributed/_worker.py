"""A worker of a distributed search: runs the chief's trials while it holds their leases.

A worker holds its trial only while it keeps sending heartbeats (a background thread, every
``min(lease / 4, 10)`` seconds). When the chief answers a heartbeat with "lost" (the worker
was silent for a lease and the trial went to another worker), training stops at the next
batch, before Keras Tuner's checkpoint callback can write over the new holder's checkpoint.

A worker identifies itself to the chief with gRPC metadata (``raretune-tuner-id``). A plain
Keras Tuner worker sends none; its results are accepted while its trial is running (the
chief cannot tell which worker sent them) and it can lose a lease only by going silent on
``create_trial`` calls, as it sends no heartbeats: give such workers a lease longer than a
trial.

Chief and workers must see the same run folder (one machine, or a shared file system such as
NFS): workers write each trial's checkpoint there, and the chief loads the best one.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Callable

import keras

from ..._errors import RunStateError
from ._auth import Auth, open_channel
from ._roles import CHIEF_WAIT_SECONDS, DEFAULT_LEASE_SECONDS, LEASE_KEY, LEASE_SECONDS_KEY, TUNER_ID_KEY, Role

__all__ = ["LeaseLostError", "WorkerLease", "join_search", "run_worker"]


class LeaseLostError(RuntimeError):
    """The chief gave this worker's trial to another worker; the trial stops here."""


class _TaggedStub:
    """A gRPC stub whose calls carry the worker's name and read the chief's lease length."""

    def __init__(self, stub, metadata, on_trailing):
        self._stub = stub
        self._metadata = metadata
        self._on_trailing = on_trailing

    def __getattr__(self, name):
        method = getattr(self._stub, name)

        def call(request, **kwargs):
            response, rpc = method.with_call(request, metadata=self._metadata, **kwargs)
            self._on_trailing(rpc.trailing_metadata())
            return response

        return call


class _LeaseGuard(keras.callbacks.Callback):
    """Stops training as soon as the worker learns that it lost its trial.

    It runs before Keras Tuner's checkpoint callback, so a lost trial writes no checkpoint
    over the one of the worker that now holds it.
    """

    def __init__(self, lease: "WorkerLease"):
        super().__init__()
        self.lease = lease

    def __deepcopy__(self, memo):  # Keras Tuner deep-copies callbacks; the lease is shared
        return self

    def _check(self):
        if self.lease.lost.is_set():
            raise LeaseLostError(f"the chief gave trial {self.lease.trial_id} to another worker")

    def on_train_batch_end(self, batch, logs=None):
        self._check()

    def on_epoch_end(self, epoch, logs=None):
        self._check()


class WorkerLease:
    """A worker's hold on its trial: named calls, heartbeats, and whether the hold was lost.

    Parameters
    ----------
    client : keras_tuner OracleClient
        The worker tuner's ``oracle`` (Keras Tuner's gRPC client); its calls are tagged
        with the worker's name from now on.
    lease_seconds : float
        Used until the chief states its own lease (it does with every answer).
    log : callable, optional
    auth : Auth, optional
        The token sent with every call; with TLS, calls go over a TLS channel to ``address``.
    address : str, optional
        The chief's ``HOST:PORT`` (default: Keras Tuner's environment variables, as its
        client reads them); used only for TLS.
    """

    def __init__(self, client, *, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 log: Callable[[str], None] | None = None, auth: Auth | None = None, address: str | None = None):
        self.tuner_id = client.tuner_id
        self.lease_seconds = float(lease_seconds)
        self.log = log
        self.lost = threading.Event()
        self.trial_id = None
        self.trials_run = []
        self._metadata = ((TUNER_ID_KEY, self.tuner_id), *(auth.headers() if auth is not None else ()))
        self._client = client
        self._plain_stub = self._stub = client.stub
        if auth is not None and auth.tls:
            from keras_tuner.src import protos

            # Keras Tuner's client opened a plain channel; TLS needs one of raretune's own
            if address is None:
                address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
            self._stub = protos.get_service_grpc().OracleStub(auth.channel(address))
        # this client's calls only (an instance attribute); close() puts the plain stub back
        client.stub = _TaggedStub(self._stub, self._metadata, self._read_trailing)
        self._stop = None
        self._thread = None

    @property
    def interval(self) -> float:
        """Seconds between heartbeats."""
        return max(0.2, min(self.lease_seconds / 4.0, 10.0))

    def _read_trailing(self, items) -> None:
        for item in items or ():
            if item.key == LEASE_SECONDS_KEY:
                try:
                    self.lease_seconds = float(item.value)
                except ValueError:
                    pass

    def start(self, trial_id: str) -> None:
        """Begin heartbeats for ``trial_id`` (called when the trial begins)."""
        self.stop()
        self.trial_id = trial_id
        self.trials_run.append(trial_id)
        self.lost.clear()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, args=(trial_id, self._stop), name=f"raretune-lease-{trial_id}", daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """End heartbeats (called when the trial ends)."""
        if self._stop is not None:
            self._stop.set()
            self._thread.join(timeout=self.interval + 5.0)
        self._stop = self._thread = None

    def close(self) -> None:
        """End heartbeats and give the client its plain stub back (the search is over)."""
        self.stop()
        self._client.stub = self._plain_stub

    def guard(self) -> keras.callbacks.Callback:
        """The Keras callback that stops a trial whose lease was lost."""
        return _LeaseGuard(self)

    def _beat(self, trial_id, stop):
        import grpc
        from keras_tuner.src import protos

        request = protos.get_service().GetTrialRequest(trial_id=trial_id)
        while not stop.wait(self.interval):
            try:
                _, rpc = self._stub.GetTrial.with_call(request, metadata=self._metadata, timeout=max(self.interval, 1.0))
            except grpc.RpcError:
                continue  # the chief is busy or unreachable: try again; the lease decides
            status = dict((item.key, item.value) for item in rpc.trailing_metadata() or ())
            self._read_trailing(rpc.trailing_metadata())
            if status.get(LEASE_KEY) == "lost":
                self.lost.set()
                if self.log is not None:
                    self.log(f"{self.tuner_id}: trial {trial_id} was given to another worker; stopping it")
                return


def join_search(role: Role, out, fingerprint: str, *, timeout: float = CHIEF_WAIT_SECONDS,
                log: Callable[[str], None] | None = None, auth: Auth | None = None) -> None:
    """Wait for the chief, then check that this worker's data and search match the chief's.

    The chief writes ``config.json`` (with the fingerprint of data and search space) into
    the shared run folder before it serves; a worker that loaded other data, or split it
    with another seed, would train on rows the chief never validates on.

    Parameters
    ----------
    role : Role
        This worker's role (the chief's address).
    out : path-like
        The shared run folder.
    fingerprint : str
        This worker's fingerprint of data and search space.
    timeout : float
        Seconds to wait for the chief.
    log : callable, optional
    auth : Auth, optional
        The token (checked now, with one call) and TLS settings.

    Raises
    ------
    RunStateError
        No chief answered within ``timeout`` (a TLS mismatch looks the same); the chief
        refused this worker's token; the run folder holds no chief's ``config.json`` (not
        shared?); or the fingerprints differ.
    """
    import grpc
    from keras_tuner.src import protos

    if log is not None:
        log(f"{role.tuner_id}: waiting for the chief at {role.address}")
    channel = open_channel(role.address, auth)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
        # one call, without the worker's name (the chief then does not count it as a worker)
        protos.get_service_grpc().OracleStub(channel).GetSpace(
            protos.get_service().GetSpaceRequest(), metadata=auth.headers() if auth is not None else (),
            timeout=min(timeout, 60.0))
    except grpc.FutureTimeoutError:
        raise RunStateError(f"No chief answered at {role.address} within {timeout:.0f} s.") from None
    except grpc.RpcError as exc:
        raise _refusal(exc, role.address) from None
    finally:
        channel.close()
    path = Path(out) / "config.json"
    try:
        chief = json.loads(path.read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError):
        raise RunStateError(
            f"The chief at {role.address} answers, but {str(path)!r} holds no readable run record: "
            "chief and workers must share the run folder (--out on one machine or a shared file system)."
        ) from None
    if chief != fingerprint:
        raise RunStateError(
            f"This worker's data or search options differ from the chief's (fingerprint in {str(path)!r}); "
            "start every worker with the chief's --data, --target, --strategies, --tuner, --objective, "
            "--max-trials, --max-epochs and --seed."
        )


def _refusal(exc, address: str) -> Exception:
    """The ``RunStateError`` for a gRPC error from the chief (the error itself if unexpected)."""
    import grpc

    if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
        return RunStateError(f"The chief at {address} refused this worker: its auth token is missing or differs.")
    return RunStateError(f"The chief at {address} failed to answer: {exc.code().name}: {exc.details()}")


def run_worker(tuner, *, lease_seconds: float = DEFAULT_LEASE_SECONDS,
               log: Callable[[str], None] | None = None, auth: Auth | None = None, **search_kwargs) -> list:
    """Run trials for the chief until it says the search is over; a worker's ``search``.

    Parameters
    ----------
    tuner : raretune tuner
        Built with Keras Tuner's environment set to this worker (:func:`kt_environment`),
        so that its ``oracle`` is Keras Tuner's gRPC client.
    lease_seconds : float
        Until the chief states its own.
    log : callable, optional
    auth : Auth, optional
        The token sent with every call, and TLS settings.
    **search_kwargs
        Passed to ``tuner.search``.

    Returns
    -------
    list of str
        The trial ids this worker started (a lost trial included).
    """
    if not hasattr(tuner.oracle, "stub"):
        raise RunStateError("This tuner was not built as a worker (Keras Tuner's environment was not set).")
    import grpc

    lease = WorkerLease(tuner.oracle, lease_seconds=lease_seconds, log=log, auth=auth)
    tuner.lease = lease
    try:
        tuner.search(**search_kwargs)
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.UNAUTHENTICATED:
            raise
        address = f"{os.environ.get('KERASTUNER_ORACLE_IP')}:{os.environ.get('KERASTUNER_ORACLE_PORT')}"
        raise _refusal(exc, address) from None
    finally:
        lease.close()
        tuner.lease = None
    return list(lease.trials_run)
