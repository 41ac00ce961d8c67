"""One search, many machines: Keras Tuner's chief/worker mode with leases on trials.

Keras Tuner distributes a search through three environment variables: every process sets
``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT`` (the chief's address) and a
``KERASTUNER_TUNER_ID``; the one whose id contains ``"chief"`` serves the oracle over gRPC,
the others run trials. raretune keeps that protocol (a plain Keras Tuner worker can still
join) and closes its gaps:

* **Leases.** A worker holds its trial only while it keeps sending heartbeats (a background
  thread, every ``min(lease / 4, 10)`` seconds). A trial whose worker has been silent for
  ``lease_seconds`` goes back to the pool with the same hyperparameters and the same trial
  id; the next worker that asks for a trial runs it. From then on the lost worker no longer
  owns the trial: its updates and its end are ignored (logged, never counted), and it learns
  from its next heartbeat that it should stop training that trial.
* **The chief ends.** Keras Tuner's ``start_server`` waits until every worker it ever saw
  has been told to stop, so one dead worker keeps it waiting forever. raretune's chief
  stops serving when the budget is spent, no trial is running or queued, and every worker
  has either been told to stop or been silent for a lease.
* **Workers wait instead of leaving early.** When the budget is spent but trials still
  run elsewhere, a worker asking for a trial is told to wait (``IDLE``), because a running
  trial may yet come back to the pool. The server sleeps a moment before answering
  ``IDLE``, so waiting workers do not spin.
* **A finished project runs nothing again.** Keras Tuner saves ``oracle.json`` in
  ``end_trial`` before it forgets the trial as ongoing, so a chief restarted after its last
  trial reloads a finished trial as "ongoing" and runs it again; such trials are dropped
  from the retry queue, and the state is saved again after every end.

A worker identifies itself to the chief with gRPC metadata (``raretune-tuner-id``). A plain
Keras Tuner worker sends none; its results are accepted while its trial is running (the
chief cannot tell which worker sent them) and it can lose a lease only by going silent on
``create_trial`` calls, as it sends no heartbeats: give such workers a lease longer than a
trial.

Chief and workers must see the same run folder (one machine, or a shared file system such as
NFS): workers write each trial's checkpoint there, and the chief loads the best one.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import keras

from .._errors import ConfigError, RunStateError

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "LeaseLostError",
    "LeasedOracle",
    "Role",
    "WorkerLease",
    "join_search",
    "kt_environment",
    "mirrored_strategy",
    "parse_address",
    "resolve_role",
    "run_worker",
    "serve_search",
]

#: Seconds a trial stays with a silent worker before it goes back to the pool.
DEFAULT_LEASE_SECONDS = 120.0
#: How long a worker waits for the chief to answer (Keras Tuner's own client waits 1 hour).
CHIEF_WAIT_SECONDS = 3600.0

_TUNER_ID_KEY = "raretune-tuner-id"
_LEASE_KEY = "raretune-lease"
_LEASE_SECONDS_KEY = "raretune-lease-seconds"
_ENV = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
_SERVER_THREADS = 32
_IDLE_WAIT_SECONDS = 1.0


# -- roles ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Role:
    """What this process is in a distributed search.

    Attributes
    ----------
    kind : {"chief", "worker"}
    tuner_id : str
        Keras Tuner's ``KERASTUNER_TUNER_ID`` (``"chief"`` for the chief).
    host : str
        The chief's address (the chief listens on it).
    port : int
    """

    kind: str
    tuner_id: str
    host: str
    port: int

    @property
    def address(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"

    def environment(self) -> dict:
        """Keras Tuner's environment variables for this role."""
        return {
            "KERASTUNER_TUNER_ID": self.tuner_id,
            "KERASTUNER_ORACLE_IP": self.host,
            "KERASTUNER_ORACLE_PORT": str(self.port),
        }


def parse_address(value, option: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` into its parts, with a one-line error naming ``option``.

    Parameters
    ----------
    value : str
        ``"127.0.0.1:8470"``, ``"node-1:8470"``, ``"[::1]:8470"``.
    option : str
        The option's name, for the message (``"chief"``).

    Returns
    -------
    (str, int)

    Raises
    ------
    ConfigError
        If ``value`` is not ``HOST:PORT`` with a port in [1, 65535].

    Examples
    --------
    >>> parse_address("127.0.0.1:8470", "chief")
    ('127.0.0.1', 8470)
    """
    text = str(value)
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(f"The '{option}' parameter of run must be HOST:PORT with a port in [1, 65535]. Got {text!r} instead.")
    return host, int(port)


def check_distributed_options(chief, worker, worker_id, lease_seconds) -> None:
    """Validate the distributed fields of a run's configuration (one-line ``ConfigError``)."""
    if chief is not None and worker is not None:
        raise ConfigError("Pass --chief or --worker, not both.")
    if chief is not None:
        parse_address(chief, "chief")
        if worker_id is not None:
            raise ConfigError("--worker-id names a worker; the chief is always 'chief'.")
    if worker is not None:
        parse_address(worker, "worker")
        if worker_id is None or not str(worker_id).strip():
            raise ConfigError("A worker needs a name: pass --worker-id NAME (unique per worker).")
    if worker is None and chief is None and worker_id is not None:
        raise ConfigError("--worker-id needs --worker HOST:PORT (the chief's address).")
    if worker_id is not None and ("chief" in str(worker_id) or not str(worker_id).isprintable()
                                  or any(c.isspace() for c in str(worker_id))):
        raise ConfigError(
            f"The 'worker_id' parameter of run must be a name without spaces and without 'chief' "
            f"(Keras Tuner treats such an id as the chief). Got {worker_id!r} instead."
        )
    if isinstance(lease_seconds, bool) or not isinstance(lease_seconds, (int, float)) or not lease_seconds > 0:
        raise ConfigError(f"The 'lease_seconds' parameter of run must be a number > 0. Got {lease_seconds!r} instead.")


def resolve_role(*, chief=None, worker=None, worker_id=None, environ=None) -> Role | None:
    """This process's role: from the flags, else from Keras Tuner's environment variables.

    Parameters
    ----------
    chief, worker : str, optional
        ``HOST:PORT`` of the chief (``--chief`` / ``--worker``).
    worker_id : str, optional
        The worker's name (``--worker-id``).
    environ : mapping, optional
        Where to read ``KERASTUNER_*`` (default ``os.environ``).

    Returns
    -------
    Role or None
        ``None`` for a one-machine run.
    """
    if chief is not None:
        return Role("chief", "chief", *parse_address(chief, "chief"))
    if worker is not None:
        return Role("worker", str(worker_id), *parse_address(worker, "worker"))
    environ = os.environ if environ is None else environ
    if "KERASTUNER_ORACLE_IP" not in environ:
        return None
    missing = [name for name in _ENV if not environ.get(name)]
    if missing:
        raise ConfigError(f"KERASTUNER_ORACLE_IP is set but {missing[0]} is not; set all of {', '.join(_ENV)}.")
    host = environ["KERASTUNER_ORACLE_IP"]
    host, port = parse_address(f"{host}:{environ['KERASTUNER_ORACLE_PORT']}", "KERASTUNER_ORACLE_PORT")
    tuner_id = environ["KERASTUNER_TUNER_ID"]
    return Role("chief" if "chief" in tuner_id else "worker", tuner_id, host, port)


@contextlib.contextmanager
def kt_environment(role: Role | None):
    """Set Keras Tuner's environment variables for ``role`` while the block runs.

    Keras Tuner reads them when a tuner is built and while it searches; they are restored
    afterwards, so a library call leaves the process as it found it. ``None`` changes nothing.
    """
    if role is None:
        yield
        return
    saved = {name: os.environ.get(name) for name in _ENV}
    os.environ.update(role.environment())
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# -- the chief's oracle -----------------------------------------------------------------------


class LeasedOracle:
    """A Keras Tuner oracle wrapped with leases, ownership checks and a clear end.

    The gRPC servicer of :func:`serve_search` talks to this wrapper, never to the oracle
    directly; every call holds one lock.

    Parameters
    ----------
    oracle : keras_tuner.Oracle
        The chief's oracle (reloaded from disk when the project is resumed).
    lease_seconds : float
        A trial whose worker has sent nothing for this long goes back to the pool.
    on_trial_end : callable, optional
        Called with an event dict (as :func:`raretune.tuning._tuner.trial_event`, plus
        ``tuner_id``) after every trial that ends for good.
    log : callable, optional
        Called with one-line messages (reclaimed trials, ignored late results).
    clock : callable
        Seconds, monotonic (a test may pass a fake clock).
    """

    def __init__(self, oracle, *, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 on_trial_end: Callable[[dict], None] | None = None,
                 log: Callable[[str], None] | None = None, clock: Callable[[], float] = time.monotonic):
        self.oracle = oracle
        self.lease_seconds = float(lease_seconds)
        self.on_trial_end = on_trial_end
        self.log = log
        self.clock = clock
        self._lock = threading.RLock()
        now = clock()
        self._owner = {}    # trial_id -> tuner_id of the worker that holds it
        self._beat = {}     # trial_id -> last word from its owner
        self._started = {}  # trial_id -> when its owner got it
        self._seen = {}     # tuner_id -> last word from that worker
        self._stopped = set()
        self._search_over = False
        ended = set(oracle.end_order)
        # Keras Tuner saved the last finished trial as still ongoing (see the module notes);
        # its reload queued it for a retry. A finished trial never runs again.
        queue = [t for t in dict.fromkeys(oracle._retry_queue) if t not in ended]
        repaired = queue != oracle._retry_queue
        oracle._retry_queue = queue
        for tuner_id, trial in list(oracle.ongoing_trials.items()):
            if trial.trial_id in ended:
                del oracle.ongoing_trials[tuner_id]
                repaired = True
            else:
                self._hand_out(trial.trial_id, tuner_id, now)
        if repaired:
            oracle.save()

    # -- what the servicer calls ------------------------------------------------------------

    def create_trial(self, tuner_id: str):
        """Keras Tuner's ``create_trial``, after reclaiming expired leases.

        When the budget is spent but trials still run (or wait for a worker), the answer is
        ``IDLE``, not ``STOPPED``: such a trial may still come back to the pool.
        """
        from keras_tuner.src.engine import trial as trial_module

        with self._lock:
            now = self.clock()
            self._seen[tuner_id] = now
            self._reclaim(now)
            trial = self.oracle.create_trial(tuner_id)
            if trial.status == trial_module.TrialStatus.RUNNING:
                if self._owner.get(trial.trial_id) != tuner_id:
                    self._hand_out(trial.trial_id, tuner_id, now)
            elif trial.status == trial_module.TrialStatus.STOPPED:
                if self.oracle.ongoing_trials or self.oracle._retry_queue:
                    self.oracle.tuner_ids.add(tuner_id)
                    trial.status = trial_module.TrialStatus.IDLE
                else:
                    self._search_over = True
                    self._stopped.add(tuner_id)
            return trial

    def update_trial(self, trial_id: str, metrics, step: int = 0, *, tuner_id: str | None = None):
        """Keras Tuner's ``update_trial``, ignored unless ``tuner_id`` holds the trial."""
        with self._lock:
            if not self._accepts(trial_id, tuner_id, "results"):
                return self.oracle.get_trial(trial_id)
            self._beat[trial_id] = self.clock()
            return self.oracle.update_trial(trial_id, metrics, step=step)

    def end_trial(self, trial, *, tuner_id: str | None = None) -> bool:
        """Keras Tuner's ``end_trial``, ignored unless ``tuner_id`` holds the trial.

        Returns
        -------
        bool
            Whether the end was counted.
        """
        with self._lock:
            trial_id = trial.trial_id
            if not self._accepts(trial_id, tuner_id, "end"):
                return False
            now = self.clock()
            self.oracle.end_trial(trial)
            # Keras Tuner saved its state before it forgot the trial as ongoing
            self.oracle.save()
            if trial_id in self.oracle._retry_queue:  # Keras Tuner will retry it
                self._release(trial_id)
                return True
            owner = self._owner.get(trial_id)
            seconds = now - self._started.get(trial_id, now)
            self._release(trial_id)
            if self.on_trial_end is not None:
                from ._tuner import trial_event

                try:
                    self.on_trial_end(trial_event(self.oracle, trial_id, seconds=seconds, tuner_id=owner))
                except Exception as exc:  # a progress record must not stop the search
                    self._say(f"could not record trial {trial_id}: {type(exc).__name__}: {exc}")
            return True

    def heartbeat(self, tuner_id: str, trial_id: str) -> bool:
        """Record that ``tuner_id`` is alive and working on ``trial_id``.

        Returns
        -------
        bool
            Whether ``tuner_id`` still holds ``trial_id`` (``False``: stop working on it).
        """
        with self._lock:
            now = self.clock()
            self._seen[tuner_id] = now
            if self._owner.get(trial_id) == tuner_id:
                self._beat[trial_id] = now
                return True
            return False

    def touch(self, tuner_id: str | None) -> None:
        """Record any word from ``tuner_id``."""
        if tuner_id is not None:
            with self._lock:
                self._seen[tuner_id] = self.clock()

    def get_trial(self, trial_id: str):
        with self._lock:
            return self.oracle.get_trial(trial_id)

    def get_space(self):
        with self._lock:
            return self.oracle.get_space()

    def update_space(self, hyperparameters) -> None:
        with self._lock:
            self.oracle.update_space(hyperparameters)

    def get_best_trials(self, num_trials: int = 1):
        with self._lock:
            return self.oracle.get_best_trials(num_trials)

    # -- what the chief's loop asks ---------------------------------------------------------

    def reclaim_expired(self) -> list:
        """Give back to the pool every trial whose worker has been silent for a lease.

        Returns
        -------
        list of str
            The trial ids given back.
        """
        with self._lock:
            return self._reclaim(self.clock())

    def finished(self) -> bool:
        """Whether the search is over: budget spent (or the oracle stopped), nothing running or queued."""
        with self._lock:
            oracle = self.oracle
            spent = self._search_over or bool(oracle.max_trials and len(oracle.trials) >= oracle.max_trials)
            return spent and not oracle.ongoing_trials and not oracle._retry_queue

    def released(self) -> bool:
        """Whether every worker seen has been told to stop, or has been silent for a lease."""
        with self._lock:
            now = self.clock()
            return all(t in self._stopped or now - seen >= self.lease_seconds for t, seen in self._seen.items())

    @property
    def owners(self) -> dict:
        """``{trial_id: tuner_id}`` of the trials running now."""
        with self._lock:
            return dict(self._owner)

    # -- internals ------------------------------------------------------------------------

    def _hand_out(self, trial_id, tuner_id, now):
        self._owner[trial_id] = tuner_id
        self._beat[trial_id] = now
        self._started[trial_id] = now

    def _release(self, trial_id):
        self._owner.pop(trial_id, None)
        self._beat.pop(trial_id, None)
        self._started.pop(trial_id, None)

    def _accepts(self, trial_id, tuner_id, what) -> bool:
        owner = self._owner.get(trial_id)
        if tuner_id is not None:
            self._seen[tuner_id] = self.clock()
        if owner is not None and (tuner_id is None or tuner_id == owner):
            return True
        holder = f"it is now {owner}'s" if owner is not None else "it is no longer running"
        self._say(f"ignored the {what} of trial {trial_id} from {tuner_id or 'an unnamed worker'}: {holder}")
        return False

    def _reclaim(self, now) -> list:
        reclaimed = []
        for tuner_id, trial in list(self.oracle.ongoing_trials.items()):
            trial_id = trial.trial_id
            last = self._beat.get(trial_id)
            if last is None:  # not handed out through this wrapper: its lease starts now
                self._hand_out(trial_id, tuner_id, now)
                continue
            if now - last < self.lease_seconds:
                continue
            del self.oracle.ongoing_trials[tuner_id]
            if trial_id not in self.oracle._retry_queue:
                self.oracle._retry_queue.append(trial_id)
            self._release(trial_id)
            reclaimed.append(trial_id)
            self._say(f"trial {trial_id}: no word from {tuner_id} for {now - last:.0f} s; "
                      "the trial goes back to the pool")
        if reclaimed:
            self.oracle.save()
        return reclaimed

    def _say(self, message):
        if self.log is not None:
            self.log(message)


def _parent_to_proto(self):
    """Keras Tuner 1.4.8's ``conditions.Parent.to_proto`` without its stray ``print``.

    The original prints the condition's first value to standard output every time a trial
    crosses the wire, i.e. a line such as ``class_weight`` per call in chief and workers.
    """
    from keras_tuner.src import protos

    proto = protos.get_proto()
    first = self.values[0]
    if isinstance(first, str):
        kind = "string_value"
    elif isinstance(first, bool):
        kind = "boolean_value"
    elif isinstance(first, int):
        kind = "int_value"
    else:
        kind = "float_value"
    values = [proto.Value(**{kind: value}) for value in self.values]
    return proto.Condition(parent=proto.Condition.Parent(name=self.name, values=values))


def _quiet_keras_tuner() -> None:
    """Apply :func:`_parent_to_proto` (done by :func:`serve_search` and :func:`run_worker`)."""
    from keras_tuner.src.engine import conditions

    conditions.Parent.to_proto = _parent_to_proto


def _metadata_value(context, key):
    for item in context.invocation_metadata():
        if item.key == key:
            return item.value
    return None


def _make_servicer(leased: LeasedOracle, *, idle_wait: float = _IDLE_WAIT_SECONDS):
    """Keras Tuner's gRPC servicer, talking to ``leased`` and reading the worker's name."""
    from keras_tuner.src import protos
    from keras_tuner.src.engine import hyperparameters as hp_module
    from keras_tuner.src.engine import trial as trial_module

    service = protos.get_service()
    lease_item = (_LEASE_SECONDS_KEY, repr(leased.lease_seconds))

    class _Servicer(protos.get_service_grpc().OracleServicer):
        def _tuner(self, context):
            tuner_id = _metadata_value(context, _TUNER_ID_KEY)
            leased.touch(tuner_id)
            return tuner_id

        def GetSpace(self, request, context):
            self._tuner(context)
            context.set_trailing_metadata((lease_item,))
            return service.GetSpaceResponse(hyperparameters=leased.get_space().to_proto())

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
            return service.CreateTrialResponse(trial=trial.to_proto())

        def UpdateTrial(self, request, context):
            context.set_trailing_metadata((lease_item,))
            trial = leased.update_trial(request.trial_id, dict(request.metrics), step=request.step,
                                        tuner_id=self._tuner(context))
            return service.UpdateTrialResponse(trial=trial.to_proto())

        def EndTrial(self, request, context):
            context.set_trailing_metadata((lease_item,))
            leased.end_trial(trial_module.Trial.from_proto(request.trial), tuner_id=self._tuner(context))
            return service.EndTrialResponse()

        def GetTrial(self, request, context):
            tuner_id = _metadata_value(context, _TUNER_ID_KEY)
            items = [lease_item]
            if tuner_id is not None:
                held = leased.heartbeat(tuner_id, request.trial_id)
                items.append((_LEASE_KEY, "held" if held else "lost"))
            context.set_trailing_metadata(tuple(items))
            return service.GetTrialResponse(trial=leased.get_trial(request.trial_id).to_proto())

        def GetBestTrials(self, request, context):
            self._tuner(context)
            context.set_trailing_metadata((lease_item,))
            trials = leased.get_best_trials(request.num_trials)
            return service.GetBestTrialsResponse(trials=[t.to_proto() for t in trials])

    return _Servicer()


def serve_search(tuner, role: Role, *, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 on_trial_end: Callable[[dict], None] | None = None,
                 log: Callable[[str], None] | None = None, poll_seconds: float = 0.5) -> LeasedOracle:
    """Serve ``tuner``'s oracle to the workers until the search is over; the chief's ``search``.

    Returns once the budget is spent, no trial runs or waits, and every worker seen has been
    told to stop or has been silent for a lease. A project that is already complete returns
    at once, without serving: nothing runs again.

    Parameters
    ----------
    tuner : keras_tuner.Tuner
        Built with Keras Tuner's environment set to the chief (:func:`kt_environment`).
    role : Role
        The chief's role (its address is where it listens).
    lease_seconds : float
    on_trial_end, log : callable, optional
        See :class:`LeasedOracle`.
    poll_seconds : float
        How often the chief checks leases and the end of the search.

    Returns
    -------
    LeasedOracle

    Raises
    ------
    RunStateError
        If the chief cannot listen on ``role.address``.
    """
    import grpc
    from concurrent import futures
    from keras_tuner.src import protos

    _quiet_keras_tuner()
    oracle = tuner.oracle
    oracle.verbose = 0
    leased = LeasedOracle(oracle, lease_seconds=lease_seconds, on_trial_end=on_trial_end, log=log)
    tuner.save()
    if leased.finished():
        if log is not None:
            log("the search in this run folder is complete; no trial runs again")
        return leased
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=_SERVER_THREADS))
    protos.get_service_grpc().add_OracleServicer_to_server(_make_servicer(leased), server)
    try:
        bound = server.add_insecure_port(role.address)
    except RuntimeError:
        bound = 0
    if not bound:
        raise RunStateError(f"The chief cannot listen on {role.address} (address in use, or not this machine's?).")
    server.start()
    if log is not None:
        log(f"chief: serving the search on {role.address} (lease {lease_seconds:g} s); "
            f"start workers with --worker {role.address} --worker-id NAME")
    try:
        while not (leased.finished() and leased.released()):
            time.sleep(poll_seconds)
            leased.reclaim_expired()
    finally:
        server.stop(grace=1.0).wait(5.0)
        with leased._lock:
            oracle.save()
    return leased


# -- the worker's side ------------------------------------------------------------------------


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
    """

    def __init__(self, client, *, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 log: Callable[[str], None] | None = None):
        self.tuner_id = client.tuner_id
        self.lease_seconds = float(lease_seconds)
        self.log = log
        self.lost = threading.Event()
        self.trial_id = None
        self.trials_run = []
        self._metadata = ((_TUNER_ID_KEY, self.tuner_id),)
        self._stub = client.stub
        client.stub = _TaggedStub(client.stub, self._metadata, self._read_trailing)
        self._stop = None
        self._thread = None

    @property
    def interval(self) -> float:
        """Seconds between heartbeats."""
        return max(0.2, min(self.lease_seconds / 4.0, 10.0))

    def _read_trailing(self, items) -> None:
        for item in items or ():
            if item.key == _LEASE_SECONDS_KEY:
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
            if status.get(_LEASE_KEY) == "lost":
                self.lost.set()
                if self.log is not None:
                    self.log(f"{self.tuner_id}: trial {trial_id} was given to another worker; stopping it")
                return


def join_search(role: Role, out, fingerprint: str, *, timeout: float = CHIEF_WAIT_SECONDS,
                log: Callable[[str], None] | None = None) -> None:
    """Wait for the chief, then check that this worker's data and search match the chief's.

    The chief writes ``config.json`` (with the fingerprint of data and search space) into
    the shared run folder before it serves; a worker that loaded other data, or split it
    with another seed, would train on rows the chief never validates on.

    Raises
    ------
    RunStateError
        No chief answered within ``timeout``; the run folder holds no chief's
        ``config.json`` (not shared?); or the fingerprints differ.
    """
    import grpc

    if log is not None:
        log(f"{role.tuner_id}: waiting for the chief at {role.address}")
    channel = grpc.insecure_channel(role.address)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        raise RunStateError(f"No chief answered at {role.address} within {timeout:.0f} s.") from None
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


def run_worker(tuner, *, lease_seconds: float = DEFAULT_LEASE_SECONDS,
               log: Callable[[str], None] | None = None, **search_kwargs) -> list:
    """Run trials for the chief until it says the search is over; a worker's ``search``.

    Parameters
    ----------
    tuner : raretune tuner
        Built with Keras Tuner's environment set to this worker (:func:`kt_environment`),
        so that its ``oracle`` is Keras Tuner's gRPC client.
    lease_seconds : float
        Until the chief states its own.
    **search_kwargs
        Passed to ``tuner.search``.

    Returns
    -------
    list of str
        The trial ids this worker started (a lost trial included).
    """
    if not hasattr(tuner.oracle, "stub"):
        raise RunStateError("This tuner was not built as a worker (Keras Tuner's environment was not set).")
    _quiet_keras_tuner()
    lease = WorkerLease(tuner.oracle, lease_seconds=lease_seconds, log=log)
    tuner.lease = lease
    try:
        tuner.search(**search_kwargs)
    finally:
        lease.stop()
        tuner.lease = None
    return list(lease.trials_run)


def mirrored_strategy():
    """``tf.distribute.MirroredStrategy()`` over this machine's GPUs (the CPU if it has none).

    Each trial then trains one model on all local GPUs, batches split between them; pass it
    to :func:`raretune.tuning.make_tuner` as ``distribution_strategy``. To run one trial per
    GPU instead, start one worker per GPU, each with its own ``CUDA_VISIBLE_DEVICES``.
    """
    import tensorflow as tf

    return tf.distribute.MirroredStrategy()
