"""The exceptions of colonies-sync.

Every exception raised on purpose by this package derives from ``ColoniesError``::

    ColoniesError
    ├── ColoniesConnectionError      network failure or client-side timeout
    │   ├── CertificateVerificationError  TLS: the server's certificate was refused
    │   └── StreamClosed             a stream went away, or the client was closed (in ``_transport``)
    ├── ProtocolError                a reply that is not a valid envelope
    ├── CryptoError (ValueError)
    │   ├── InvalidPrivateKey        not a 64-hex-digit scalar in 1..n-1
    │   └── InvalidSignature         a signature the server would refuse
    ├── ServerError                  the server answered with an error envelope
    │   ├── BadRequest               400
    │   ├── Forbidden                403
    │   ├── NotFound                 404
    │   │   ├── ProcessNotFound
    │   │   ├── ChannelNotFound
    │   │   └── NoProcessAvailable   the assign long-poll found no work
    │   ├── RequestTimeout           408
    │   ├── InternalServerError      500
    │   │   ├── UnknownProcess       (also a ProcessNotFound)
    │   │   ├── RateLimitExceeded
    │   │   ├── ChannelFull
    │   │   └── PayloadTooLarge
    │   └── ServiceUnavailable       503
    ├── WaitTimeout (TimeoutError)   a wait_* helper or stream ran out of time
    └── StreamError                  an "error" channel entry, or a dropped subscriber

The real server reports an unknown process as 404 on some calls and as 500
("..., process is nil") on others; ``except ProcessNotFound`` catches both,
because the 500 form raises ``UnknownProcess``.

Using a client after ``close()`` raises ``StreamClosed`` ("the client is
closed"), and so does a call that another thread is blocked in when it is
closed (``wait*``, ``Channel.stream``): one error for "this client was closed",
which is also a ``ValueError`` for code written when calls raised that.

``ServerError`` keeps the server's ``status`` and ``message`` word for word, so
code can still branch on the text when the class is not specific enough.
Foreign exceptions (``urllib3``, ``websocket``, ``json``) are translated once,
at the transport boundary, with ``raise ... from exc``.
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = [
    "BadRequest",
    "CertificateVerificationError",
    "ChannelFull",
    "ChannelNotFound",
    "ColoniesConnectionError",
    "ColoniesError",
    "CryptoError",
    "Forbidden",
    "InternalServerError",
    "InvalidPrivateKey",
    "InvalidSignature",
    "NoProcessAvailable",
    "NotFound",
    "PayloadTooLarge",
    "ProcessNotFound",
    "ProtocolError",
    "RateLimitExceeded",
    "RequestTimeout",
    "ServerError",
    "ServiceUnavailable",
    "StreamError",
    "UnknownProcess",
    "WaitTimeout",
    "server_error",
]


class ColoniesError(Exception):
    """Base class of every error raised by colonies-sync."""


class ColoniesConnectionError(ColoniesError):
    """The server could not be reached, the connection broke, or the client timed out."""


class CertificateVerificationError(ColoniesConnectionError):
    """With TLS, the server's certificate failed the check: an untrusted CA, another host's name, expired.

    Retrying does not help, so subscriptions do not reconnect after it. Trust
    the server's CA with ``verify='/path/to/ca.pem'``, or, knowingly, turn the
    check off with ``verify=False``.
    """


class ProtocolError(ColoniesError):
    """The server's reply is not a valid ColonyOS envelope.

    ``status`` is the HTTP status and ``text`` the raw body (possibly empty), as
    received. The real server answers some failures this way (an empty body with
    HTTP 200 or 500), see PROTOCOL.md section 1.1.
    """

    def __init__(self, message: str, *, status: Optional[int] = None, text: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.text = text


class CryptoError(ColoniesError, ValueError):
    """A key or signature is malformed or invalid."""


class InvalidPrivateKey(CryptoError):
    """A private key is not 64 hex characters, or not a valid secp256k1 scalar."""


class InvalidSignature(CryptoError):
    """A signature the real server would refuse; the text is the server's."""


class ServerError(ColoniesError):
    """The server replied with an error envelope.

    ``status`` is the status in the error payload (the real server puts the same
    number in the HTTP status line), ``message`` the server's text, word for word,
    and ``http_status`` the HTTP status actually received.
    """

    status_code: Optional[int] = None

    def __init__(self, status: int, message: str, *, http_status: Optional[int] = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.http_status = status if http_status is None else http_status

    def __reduce__(self) -> Any:
        return (_rebuild_server_error, (type(self), self.status, self.message, self.http_status))


def _rebuild_server_error(cls: type, status: int, message: str, http_status: int) -> ServerError:
    err: ServerError = cls(status, message, http_status=http_status)
    return err


class BadRequest(ServerError):
    """HTTP 400: the request was malformed or not allowed in the current state."""

    status_code = 400


class Forbidden(ServerError):
    """HTTP 403: the signer may not do this, or the signature was refused."""

    status_code = 403


class NotFound(ServerError):
    """HTTP 404: the thing asked for does not exist."""

    status_code = 404


class ProcessNotFound(NotFound):
    """The process does not exist (or was removed)."""


class ChannelNotFound(NotFound):
    """The channel does not exist: not declared in the spec, or deleted at close."""


class NoProcessAvailable(NotFound):
    """``assign`` found no matching process before its timeout."""


class RequestTimeout(ServerError):
    """HTTP 408: the server gave up waiting (e.g. assign while the colony is paused)."""

    status_code = 408


class InternalServerError(ServerError):
    """HTTP 500: the server refused or failed; the message says why."""

    status_code = 500


class UnknownProcess(InternalServerError, ProcessNotFound):
    """The process does not exist, reported the real server's other way: HTTP 500 "..., process is nil".

    Close, fail, set output, cancel, remove and add-log answer an unknown process
    so; ``status`` stays 500, and ``except ProcessNotFound`` catches it too.
    """


class ServiceUnavailable(ServerError):
    """HTTP 503: e.g. a single-attempt assign while the colony's assignments are paused."""

    status_code = 503


class RateLimitExceeded(InternalServerError):
    """Too many channel appends for one process (the real server answers 500)."""


class ChannelFull(InternalServerError):
    """The channel holds the maximum number of entries (10,000 on the real server)."""


class PayloadTooLarge(InternalServerError):
    """A channel payload is larger than the server allows (10 MiB on the real server)."""


class WaitTimeout(ColoniesError, TimeoutError):
    """A wait, stream or request did not finish within its timeout."""


class StreamError(ColoniesError):
    """A channel stream ended in error: an ``"error"`` entry or a dropped subscriber.

    ``entry`` holds the channel entry that caused it, when there is one.
    """

    def __init__(self, message: str, *, entry: Any = None) -> None:
        super().__init__(message)
        self.entry = entry


_BY_STATUS: dict[int, type[ServerError]] = {
    400: BadRequest,
    403: Forbidden,
    404: NotFound,
    408: RequestTimeout,
    500: InternalServerError,
    503: ServiceUnavailable,
}

# Exact server texts that deserve a more specific class (PROTOCOL.md sections 5 and 8).
_BY_MESSAGE: dict[tuple[int, str], type[ServerError]] = {
    (404, "Process not found"): ProcessNotFound,
    (404, "Failed to get process, process not found"): ProcessNotFound,
    (404, "Failed to add attribute, process not found"): ProcessNotFound,
    (404, "Failed to get attribute, process not found"): ProcessNotFound,
    (404, "Channel not found"): ChannelNotFound,
    (404, "No process available for assignment"): NoProcessAvailable,
    (500, "rate limit exceeded"): RateLimitExceeded,
    (500, "channel log is full"): ChannelFull,
    (500, "message payload exceeds maximum size"): PayloadTooLarge,
}


_UNKNOWN_PROCESS_SUFFIXES = (", process is nil", ", process does not exist")


def server_error(status: int, message: str, *, http_status: Optional[int] = None) -> ServerError:
    """The most specific :class:`ServerError` for a server's ``status`` and ``message``."""
    cls = _BY_MESSAGE.get((status, message))
    if cls is None and status == 500 and message.endswith(_UNKNOWN_PROCESS_SUFFIXES):
        cls = UnknownProcess
    if cls is None:
        cls = _BY_STATUS.get(status, ServerError)
    return cls(status, message, http_status=http_status)
