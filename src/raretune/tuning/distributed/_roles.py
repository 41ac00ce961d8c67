"""Who this process is in a distributed search: chief or worker, and where the chief listens.

Keras Tuner distributes a search through three environment variables: every process sets
``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT`` (the chief's address) and a
``KERASTUNER_TUNER_ID``; the one whose id contains ``"chief"`` serves the oracle over gRPC,
the others run trials. This module reads the flags or those variables into a :class:`Role`,
sets the variables while a tuner is built (:func:`kt_environment`), and holds the protocol's
constants shared by chief and workers.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from ..._errors import ConfigError
from ._auth import Auth, check_listen_address

__all__ = [
    "CHIEF_WAIT_SECONDS",
    "DEFAULT_LEASE_SECONDS",
    "Role",
    "check_distributed_options",
    "kt_environment",
    "mirrored_strategy",
    "parse_address",
    "resolve_role",
]

#: Seconds a trial stays with a silent worker before it goes back to the pool.
DEFAULT_LEASE_SECONDS = 120.0
#: How long a worker waits for the chief to answer (Keras Tuner's own client waits 1 hour).
CHIEF_WAIT_SECONDS = 3600.0

# gRPC metadata keys: the worker's name (sent with every call), the chief's answer to a
# heartbeat ("held" / "lost") and the chief's lease length (sent with every answer)
TUNER_ID_KEY = "raretune-tuner-id"
LEASE_KEY = "raretune-lease"
LEASE_SECONDS_KEY = "raretune-lease-seconds"
_ENV = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")


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


def check_distributed_options(chief, worker, worker_id, lease_seconds, *, auth: Auth | None = None,
                              allow_open: bool = False) -> None:
    """Validate the distributed fields of a run's configuration.

    Parameters
    ----------
    chief, worker : str or None
        ``HOST:PORT`` of the chief (``--chief`` / ``--worker``).
    worker_id : str or None
        The worker's name (``--worker-id``).
    lease_seconds : float
    auth : Auth, optional
        A chief that listens on an address other machines can reach needs its token.
    allow_open : bool
        Let such a chief listen without a token.

    Raises
    ------
    ConfigError
        One line naming the option that is wrong.
    """
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
    if chief is not None:
        check_listen_address(parse_address(chief, "chief")[0], auth, allow_open=allow_open)


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


def mirrored_strategy():
    """``tf.distribute.MirroredStrategy()`` over this machine's GPUs (the CPU if it has none).

    Each trial then trains one model on all local GPUs, batches split between them; pass it
    to :func:`raretune.tuning.make_tuner` as ``distribution_strategy``. To run one trial per
    GPU instead, start one worker per GPU, each with its own ``CUDA_VISIBLE_DEVICES``.
    """
    import tensorflow as tf

    return tf.distribute.MirroredStrategy()
