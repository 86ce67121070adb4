"""The transport seam: how a signed envelope reaches a server and its reply comes back.

A transport does two things. ``call(envelope, timeout) -> RawReply`` sends one
request envelope and returns the HTTP status and the raw reply body.
``open_stream(timeout) -> Stream`` opens a ``/pubsub`` connection whose frames
are envelopes both ways. Neither interprets what it carries; ``_rpc`` and
``_subscription`` do. ``HttpTransport`` talks to a real network;
``colonies_fake.InProcessTransport`` hands the same bytes to a fake server in
the same process, so the client's own code always runs.

Foreign exceptions (``urllib3``, ``websocket``) are translated here, once, into
``ColoniesConnectionError`` (``StreamClosed`` for a stream that went away).

With TLS, ``https`` and ``wss`` share one ``ssl.SSLContext`` built from
``verify``, so a certificate the RPCs refuse is refused by the streams too.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import warnings
from typing import NamedTuple, Optional, Protocol, Union, runtime_checkable

import urllib3
import websocket

from colonies_sync._exceptions import CertificateVerificationError, ColoniesConnectionError

__all__ = [
    "ClientClosed",
    "HttpTransport",
    "RawReply",
    "Stream",
    "StreamClosed",
    "Transport",
    "WebSocketStream",
    "tls_context",
]


class RawReply(NamedTuple):
    """What came back for one request: the HTTP status and the body bytes."""

    status: int
    body: bytes


class StreamClosed(ColoniesConnectionError):
    """The stream's connection went away (the server dropped it, or it was closed)."""


class ClientClosed(StreamClosed, ValueError):
    """The client is closed: what every use of a closed client raises, and what ``close()`` wakes waiters with.

    It is a :class:`~colonies_sync.StreamClosed` (so a stream or wait cut
    short by ``close()`` raises one kind of error), and so a
    ``ColoniesConnectionError``: a loop that retries on connection errors
    should stop on this one first, since retrying cannot help. It is also a
    ``ValueError``: using a closed client is a mistake in the calling code.
    """


@runtime_checkable
class Stream(Protocol):
    """A ``/pubsub`` connection: envelopes out, reply envelopes in, as text frames."""

    def send(self, frame: str) -> None:
        """Send one frame; raises ``StreamClosed`` if the connection is gone."""
        ...

    def receive(self, timeout: Optional[float]) -> Optional[str]:
        """The next frame, or ``None`` when ``timeout`` seconds pass without one.

        Raises ``StreamClosed`` when the connection is gone.
        """
        ...

    def close(self) -> None:
        """Close promptly (without waiting for the server); idempotent, safe from any thread."""
        ...


@runtime_checkable
class Transport(Protocol):
    """What ``ColoniesClient`` needs from a way of reaching a server."""

    def call(self, envelope: bytes, *, timeout: float) -> RawReply:
        """Send one request envelope and return the raw reply.

        ``timeout`` is the longest time, in seconds, to wait for the reply.
        Network failures and timeouts raise ``ColoniesConnectionError``.
        """
        ...

    def open_stream(self, *, timeout: float) -> Stream:
        """Open a ``/pubsub`` stream, waiting at most ``timeout`` seconds to connect."""
        ...

    def close(self) -> None:
        """Release connections and threads; further calls fail."""
        ...


_HEADERS = {"Content-Type": "application/json"}


class HttpTransport:
    """``POST /api`` over HTTP(S) with a pool of keep-alive connections (``urllib3``).

    Safe to share between threads: the pool hands each call its own
    connection. ``connect_timeout`` bounds the TCP and TLS set-up; the read
    timeout of each call is the ``timeout`` it is given.

    With ``tls=True`` both ``https`` and ``wss`` check the server's
    certificate and host name. ``verify`` says against what: ``True`` (the
    default) trusts the system's certificate store (OpenSSL's default paths,
    which ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` can point elsewhere), a path
    trusts the CA bundle file (or OpenSSL hashed directory) there instead, and
    ``False`` turns the check off: then every request and stream warns with
    ``urllib3.exceptions.InsecureRequestWarning``. A certificate that fails
    the check raises ``CertificateVerificationError`` (a
    ``ColoniesConnectionError``). Without TLS, ``verify`` is ignored. Requests
    and streams both connect directly: proxy settings in the environment
    (``http_proxy``, ``https_proxy``) are not used.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: bool = False,
        verify: Union[bool, str, os.PathLike[str]] = True,
        connect_timeout: float = 10.0,
        pool_maxsize: int = 32,
    ) -> None:
        scheme = "https" if tls else "http"
        # For the stream's own socket: the bare host, whether or not it came in URL brackets.
        self._address = (host[1:-1] if host.startswith("[") and host.endswith("]") else host, int(port))
        self.base_url = f"{scheme}://{_host_for_url(host)}:{int(port)}"
        self.ws_url = f"{'wss' if tls else 'ws'}://{_host_for_url(host)}:{int(port)}/pubsub"
        self._connect_timeout = connect_timeout
        self._ssl_context = tls_context(verify) if tls else None
        tls_options = {"ssl_context": self._ssl_context} if self._ssl_context is not None else {}
        # No retries: a request may have changed the server's state, so the caller decides.
        self._pool = urllib3.connection_from_url(
            self.base_url, maxsize=pool_maxsize, block=False, retries=False, **tls_options
        )
        self._closed = False
        self._lock = threading.Lock()

    def call(self, envelope: bytes, *, timeout: float) -> RawReply:
        """POST the envelope to ``/api`` and return the status and body."""
        if self._closed:
            raise ColoniesConnectionError("the transport is closed")
        try:
            resp = self._pool.urlopen(
                "POST",
                "/api",
                body=envelope,
                headers=_HEADERS,
                timeout=urllib3.Timeout(connect=min(self._connect_timeout, timeout), read=timeout),
                redirect=False,
            )
        except urllib3.exceptions.NewConnectionError as exc:  # a subclass of the connect timeout, tested first
            raise ColoniesConnectionError(f"cannot reach {self.base_url}: {exc}") from exc
        except urllib3.exceptions.ConnectTimeoutError as exc:
            raise ColoniesConnectionError(f"cannot reach {self.base_url}: no connection within {timeout:g} s") from exc
        except urllib3.exceptions.TimeoutError as exc:
            raise ColoniesConnectionError(f"no reply from {self.base_url} within {timeout:g} s") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise _connection_error(f"cannot reach {self.base_url}", self.base_url, exc) from exc
        return RawReply(resp.status, resp.data)

    def open_stream(self, *, timeout: float) -> Stream:
        """Connect a WebSocket to ``/pubsub`` (no pings: the server never answers them mid-stream)."""
        if self._closed:
            raise ColoniesConnectionError("the transport is closed")
        if self._ssl_context is not None and self._ssl_context.verify_mode == ssl.CERT_NONE:
            # The same warning urllib3 gives each unverified request, so that both paths say it.
            warnings.warn(
                f"Unverified WSS connection is being made to {self.ws_url} (verify=False). "
                "Adding certificate verification is strongly advised.",
                urllib3.exceptions.InsecureRequestWarning,
                stacklevel=2,
            )
        connect_timeout = min(self._connect_timeout, timeout)
        try:
            # Our own socket (and TLS on it with our context), so that streams connect as requests
            # do: websocket-client would otherwise take proxies and CA bundles from the environment.
            sock = socket.create_connection(self._address, timeout=connect_timeout)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self._ssl_context is not None:
                    sock = self._ssl_context.wrap_socket(sock, server_hostname=self._address[0])
                ws = websocket.create_connection(
                    self.ws_url, timeout=connect_timeout, enable_multithread=True, socket=sock, redirect_limit=0
                )
            except BaseException:
                sock.close()
                raise
        except (websocket.WebSocketException, OSError) as exc:
            raise _connection_error(f"cannot open a stream to {self.ws_url}", self.ws_url, exc) from exc
        return WebSocketStream(ws, self.ws_url)

    def close(self) -> None:
        """Close every pooled connection. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._pool.close()

    def __repr__(self) -> str:
        return f"HttpTransport({self.base_url!r})"


class WebSocketStream:
    """A ``Stream`` over websocket-client, closed abruptly (the server may not read a close frame)."""

    def __init__(self, ws: websocket.WebSocket, url: str) -> None:
        self._ws = ws
        self._url = url
        self._closed = False
        self._lock = threading.Lock()

    def send(self, frame: str) -> None:
        """Send a text frame."""
        try:
            self._ws.send(frame)
        except (websocket.WebSocketException, OSError) as exc:
            raise StreamClosed(f"the stream to {self._url} is closed: {exc}") from exc

    def receive(self, timeout: Optional[float]) -> Optional[str]:
        """The next text or binary frame as text, ``None`` after ``timeout``."""
        if self._closed:
            raise StreamClosed("the stream is closed")
        try:
            self._ws.settimeout(timeout)
            opcode, data = self._ws.recv_data()
        except websocket.WebSocketTimeoutException:
            return None
        except (websocket.WebSocketException, OSError, ValueError) as exc:
            raise StreamClosed(f"the stream to {self._url} was closed: {exc}") from exc
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise StreamClosed(f"the server closed the stream to {self._url}")
        return bytes(data).decode("utf-8", "replace") if not isinstance(data, str) else data

    def close(self) -> None:
        """Shut the socket without the close handshake (a streaming server is not reading)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        sock = getattr(self._ws, "sock", None)
        try:
            if sock is not None:
                # shutdown() wakes a thread blocked in recv(); close() alone would not.
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already gone
        try:
            self._ws.shutdown()  # type: ignore[no-untyped-call]
        except Exception:  # already gone
            pass


def _host_for_url(host: str) -> str:
    # A bare IPv6 literal needs brackets in a URL.
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def tls_context(verify: Union[bool, str, os.PathLike[str]]) -> ssl.SSLContext:
    """The client's TLS settings for ``verify`` (see :class:`HttpTransport`), for ``https`` and ``wss`` alike.

    A path that holds no readable CA bundle raises ``ValueError`` here, at
    construction, rather than on the first request.
    """
    if verify is False:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False  # must come first: OpenSSL refuses CERT_NONE while names are checked
        context.verify_mode = ssl.CERT_NONE
        return context
    if verify is True:
        return ssl.create_default_context()
    if not isinstance(verify, (str, os.PathLike)):
        raise TypeError(f"verify must be True, False or the path of a CA bundle, not {verify!r}")
    path = os.fspath(verify)
    try:
        if os.path.isdir(path):
            return ssl.create_default_context(capath=path)
        return ssl.create_default_context(cafile=path)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError: a file that holds no certificate
        raise ValueError(f"verify={path!r}: cannot load a CA bundle from it: {exc}") from exc


def _connection_error(prefix: str, url: str, exc: BaseException) -> ColoniesConnectionError:
    """``prefix: exc``, or a message that names a refused certificate as what it is."""
    cause: Optional[BaseException] = exc
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = (cause.verify_message or cause.reason or str(cause)).rstrip(".")
            return CertificateVerificationError(
                f"TLS certificate verification failed for {url}: {reason}. Pass verify='/path/to/ca.pem' "
                "to trust the CA that signed the server's certificate, or verify=False to skip the check"
            )
        seen.add(id(cause))
        cause = (
            cause.__cause__ or cause.__context__ or next((a for a in cause.args if isinstance(a, BaseException)), None)
        )
    return ColoniesConnectionError(f"{prefix}: {exc}")
