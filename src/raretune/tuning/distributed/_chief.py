"""The chief of a distributed search: Keras Tuner's oracle, served over gRPC with leases.

* **Leases.** A worker holds its trial only while it keeps sending heartbeats (see
  :mod:`._worker`). A trial whose worker has been silent for ``lease_seconds`` goes back to
  the pool with the same hyperparameters and the same trial id; the next worker that asks
  for a trial runs it. From then on the lost worker no longer owns the trial: its updates
  and its end are ignored (logged, never counted), and it learns from its next heartbeat
  that it should stop training that trial.
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
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from ._auth import Auth, check_listen_address, is_loopback
from ._oracle_queue import OracleQueue
from ._roles import DEFAULT_LEASE_SECONDS, Role
from ._servicer import start_server

__all__ = ["LeasedOracle", "serve_search"]


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
        self._queue = OracleQueue(oracle)
        # Keras Tuner saved the last finished trial as still ongoing (see the module notes);
        # its reload queued it for a retry. A finished trial never runs again.
        if self._queue.forget_ended():
            oracle.save()
        for tuner_id, trial_id in self._queue.running().items():
            self._hand_out(trial_id, tuner_id, now)

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
                if self._queue.busy():
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
            if self._queue.will_retry(trial_id):  # Keras Tuner will retry it
                self._release(trial_id)
                return True
            owner = self._owner.get(trial_id)
            seconds = now - self._started.get(trial_id, now)
            self._release(trial_id)
            if self.on_trial_end is not None:
                from .._tuner import trial_event

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

    def save(self) -> None:
        """Save the oracle's state (between calls of the servicer)."""
        with self._lock:
            self.oracle.save()

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
            return spent and not self._queue.busy()

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
        for tuner_id, trial_id in self._queue.running().items():
            last = self._beat.get(trial_id)
            if last is None:  # not handed out through this wrapper: its lease starts now
                self._hand_out(trial_id, tuner_id, now)
                continue
            if now - last < self.lease_seconds:
                continue
            self._queue.requeue(tuner_id)
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


def serve_search(tuner, role: Role, *, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 on_trial_end: Callable[[dict], None] | None = None,
                 log: Callable[[str], None] | None = None, poll_seconds: float = 0.5,
                 auth: Auth | None = None, allow_open: bool = False) -> LeasedOracle:
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
    auth : Auth, optional
        The token every call must carry, and TLS (see :class:`Auth`).
    allow_open : bool
        Serve a non-loopback address without a token (anyone who reaches it can join).

    Returns
    -------
    LeasedOracle

    Raises
    ------
    ConfigError
        If ``role.host`` is reachable from other machines and there is no token (and not
        ``allow_open``).
    RunStateError
        If the chief cannot listen on ``role.address``.
    """
    check_listen_address(role.host, auth, allow_open=allow_open)
    oracle = tuner.oracle
    oracle.verbose = 0
    leased = LeasedOracle(oracle, lease_seconds=lease_seconds, on_trial_end=on_trial_end, log=log)
    tuner.save()
    if leased.finished():
        if log is not None:
            log("the search in this run folder is complete; no trial runs again")
        return leased
    server = start_server(leased, role.address, auth=auth, log=log)
    if log is not None and not (auth is not None and auth.tls) and not is_loopback(role.host):
        log("chief: calls travel unencrypted (the token too); give the chief --tls-cert and --tls-key")
    if log is not None:
        log(f"chief: serving the search on {role.address} (lease {lease_seconds:g} s); "
            f"start workers with --worker {role.address} --worker-id NAME")
    try:
        while not (leased.finished() and leased.released()):
            time.sleep(poll_seconds)
            leased.reclaim_expired()
    finally:
        server.stop(grace=1.0).wait(5.0)
        leased.save()
    return leased
