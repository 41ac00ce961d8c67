"""Nobody joins a search uninvited: a shared token on every call, and optional TLS.

Every call a raretune worker makes carries the token as gRPC metadata
(``raretune-auth-token``); the chief's interceptor refuses a call without it, or with
another one, with ``UNAUTHENTICATED`` before the oracle sees it, and logs the refusal. The
token alone travels in clear text: on a network that others share, add TLS (the chief's
certificate and key; workers check it against ``tls_ca``). With ``tls_ca`` on the chief,
workers must also show a certificate signed by it (mutual TLS).

By default a chief refuses to listen on an address other machines can reach without a token.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..._errors import ConfigError

__all__ = ["AUTH_TOKEN_ENV", "Auth", "check_listen_address", "is_loopback", "open_channel", "token_interceptor"]

#: Environment variable read for the token when none is given.
AUTH_TOKEN_ENV = "RARETUNE_AUTH_TOKEN"
TOKEN_KEY = "raretune-auth-token"


@dataclass(frozen=True)
class Auth:
    """How chief and workers prove who they are.

    Attributes
    ----------
    token : str or None
        The shared secret every worker sends and the chief checks.
    tls_cert, tls_key : str or None
        PEM files. On the chief: its certificate chain and private key (TLS on). On a
        worker: its own certificate and key, for a chief that requires them (mutual TLS).
    tls_ca : str or None
        PEM file of trusted certificates. On a worker: what the chief's certificate must be
        signed by (its own certificate, if self-signed); giving it turns TLS on. On the
        chief: workers must show a certificate signed by it.

    Examples
    --------
    >>> Auth(token="s3cret").headers()
    (('raretune-auth-token', 's3cret'),)
    """

    token: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca: str | None = None

    def __post_init__(self):
        if self.token is not None and (not str(self.token).strip() or not str(self.token).isprintable()
                                       or str(self.token) != str(self.token).strip()):
            raise ConfigError("The auth token must be printable text without surrounding spaces.")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("TLS needs both a certificate (--tls-cert) and its private key (--tls-key).")
        for option, path in (("tls_cert", self.tls_cert), ("tls_key", self.tls_key), ("tls_ca", self.tls_ca)):
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"The '{option}' parameter of run must name a readable PEM file. Got {path!r} instead.")

    @classmethod
    def from_options(cls, *, token: str | None = None, token_file=None, tls_cert=None, tls_key=None,
                     tls_ca=None, environ=None) -> "Auth | None":
        """The ``Auth`` of a run's options: the token from ``token``, ``token_file`` or ``RARETUNE_AUTH_TOKEN``.

        Parameters
        ----------
        token : str, optional
        token_file : path-like, optional
            A file holding the token (surrounding whitespace ignored).
        tls_cert, tls_key, tls_ca : path-like, optional
        environ : mapping, optional
            Where to read ``RARETUNE_AUTH_TOKEN`` (default ``os.environ``).

        Returns
        -------
        Auth or None
            ``None`` when nothing is given.
        """
        if token is not None and token_file is not None:
            raise ConfigError("Pass the auth token or a file that holds it, not both.")
        if token_file is not None:
            try:
                token = Path(token_file).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                raise ConfigError(f"Cannot read the auth token file {str(token_file)!r}.") from None
        if token is None:
            token = (os.environ if environ is None else environ).get(AUTH_TOKEN_ENV) or None
        paths = [None if p is None else str(p) for p in (tls_cert, tls_key, tls_ca)]
        if token is None and not any(paths):
            return None
        return cls(token, *paths)

    @property
    def tls(self) -> bool:
        """Whether this side speaks TLS (the chief: it has a certificate; a worker: it has a CA)."""
        return self.tls_cert is not None or self.tls_ca is not None

    def headers(self) -> tuple:
        """The gRPC metadata a worker sends with every call."""
        return () if self.token is None else ((TOKEN_KEY, self.token),)

    def accepts(self, metadata) -> bool:
        """Whether a call's metadata carries this token (always, when there is no token)."""
        if self.token is None:
            return True
        sent = next((item.value for item in metadata or () if item.key == TOKEN_KEY), None)
        return isinstance(sent, str) and hmac.compare_digest(sent.encode(), self.token.encode())

    def server_credentials(self):
        """``grpc.ssl_server_credentials`` for the chief, or ``None`` without TLS."""
        import grpc

        if self.tls_cert is None:
            return None
        ca = _read(self.tls_ca)
        return grpc.ssl_server_credentials([(_read(self.tls_key), _read(self.tls_cert))],
                                           root_certificates=ca, require_client_auth=ca is not None)

    def channel(self, address: str):
        """A gRPC channel to the chief: TLS when :attr:`tls`, else plain."""
        import grpc

        if not self.tls:
            return grpc.insecure_channel(address)
        credentials = grpc.ssl_channel_credentials(root_certificates=_read(self.tls_ca),
                                                   private_key=_read(self.tls_key),
                                                   certificate_chain=_read(self.tls_cert))
        return grpc.secure_channel(address, credentials)


def _read(path) -> bytes | None:
    return None if path is None else Path(path).read_bytes()


def open_channel(address: str, auth: Auth | None):
    """A channel to the chief at ``address`` as ``auth`` says (plain without ``auth``)."""
    import grpc

    return grpc.insecure_channel(address) if auth is None else auth.channel(address)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost``, ``127.x.x.x``, ``::1``)."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: other machines may reach it


def check_listen_address(host: str, auth: Auth | None, *, allow_open: bool = False) -> None:
    """Refuse to serve a search to the network without a token.

    Raises
    ------
    ConfigError
        If ``host`` is not a loopback address, ``auth`` has no token and not ``allow_open``.
    """
    if allow_open or is_loopback(host) or (auth is not None and auth.token is not None):
        return
    raise ConfigError(
        f"The chief would listen on {host}, which other machines can reach, without a token: "
        f"give it one (--auth-token-file or {AUTH_TOKEN_ENV}) or listen on 127.0.0.1."
    )


def token_interceptor(auth: Auth, log: Callable[[str], None] | None = None):
    """A gRPC server interceptor that refuses calls without ``auth``'s token (``UNAUTHENTICATED``)."""
    import grpc

    def refuse(request, context):
        if log is not None:
            log(f"refused a call from {context.peer()}: missing or wrong auth token")
        context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong raretune auth token")

    refusal = grpc.unary_unary_rpc_method_handler(refuse)

    class _TokenInterceptor(grpc.ServerInterceptor):
        def intercept_service(self, continuation, handler_call_details):
            if auth.accepts(handler_call_details.invocation_metadata):
                return continuation(handler_call_details)
            return refusal

    return _TokenInterceptor()
