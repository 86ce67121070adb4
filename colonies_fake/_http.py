"""FakeColoniesServer: the fake over real HTTP and WebSocket on a local port.

What one connection speaks (routes, Go's error texts, the WebSocket upgrade,
cancelling requests whose client left, TLS handshakes) is in ``_connection``.
Here: the listener, one ``socketserver`` thread per connection with Nagle
disabled so that keep-alive requests do not stall on delayed ACKs, and the
lifecycle.

HTTP/1.1 is spoken with ``h11`` and WebSocket with ``wsproto``, two sans-I/O
libraries of the same family that hand a connection over cleanly at the
upgrade. Given an ``ssl.SSLContext`` the server speaks TLS (``https`` and
``wss``), as a TLS-terminating proxy in front of the real server would.

``stop()`` closes the listener and every open connection, ends blocked
requests (their long-polls see the connection go away) and joins every thread.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import ssl
import threading
import traceback
from typing import TYPE_CHECKING, Any, Optional

from colonies_fake._connection import _Connection, _PeerWatch

if TYPE_CHECKING:
    from colonies_fake._core import FakeColonies

__all__ = ["FakeColoniesServer"]

log = logging.getLogger("colonies_fake.http")


class _Handler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        owner = self.server.owner
        connection = _Connection(owner, self.request)
        if not owner._track(connection):
            return
        try:
            # Here, on the connection's thread, so that the accept loop never waits on a handshake.
            if owner.ssl_context is not None and not connection.handshake(owner.ssl_context):
                return
            connection.run()
        finally:
            owner._untrack(connection)


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    # socketserver's default backlog is 5: a burst of clients connecting at once would see SYNs
    # dropped and retried a second later. Go listens with the system's maximum.
    request_queue_size = socket.SOMAXCONN
    owner: FakeColoniesServer


class FakeColoniesServer:
    """Serve a :class:`FakeColonies` over HTTP and WebSocket on ``host:port`` (port 0 picks a free one).

    Use it as a context manager, or ``start()`` / ``stop()``. ``url`` is the
    base URL; ``errors`` lists exceptions raised inside the server or the fake.

    ``ssl_context`` (a server-side ``ssl.SSLContext`` holding the server's
    certificate chain and key) serves ``/api`` and ``/pubsub`` over TLS: then
    ``url`` starts with ``https``. Clients that fail the handshake are
    disconnected and are not recorded in ``errors``.
    """

    def __init__(
        self,
        fake: FakeColonies,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None:
        self.fake = fake
        self.ssl_context = ssl_context
        self._requested = (host, port)
        self._tcp: Optional[_TCPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self._connections: set[_Connection] = set()
        self._peers = _PeerWatch(fake)
        self._stopping = False
        self._errors: list[BaseException] = []

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeColoniesServer:
        """Bind, listen and serve on a background thread; returns once connections are accepted."""
        if self._tcp is not None:
            raise RuntimeError("the server is already started")
        tcp = _TCPServer(self._requested, _Handler, bind_and_activate=True)
        tcp.owner = self
        self._tcp = tcp
        self._stopping = False
        backend: dict[str, Any] = {"type": "http", "port": self.port, "host": self.host}
        if self.tls:
            backend["tls"] = True  # as the real server reports a TLS backend (PROTOCOL.md, getserverinfomsg)
        self.fake.server_info_backend = backend
        self._peers.start(f"colonies-fake-peers:{self.port}")
        self._thread = threading.Thread(
            target=tcp.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"colonies-fake-http:{self.port}",
            daemon=True,
        )
        self._thread.start()
        log.info("serving the fake ColonyOS on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving: close the listener and every connection, end blocked requests, join every thread."""
        tcp = self._tcp
        if tcp is None:
            return
        with self._lock:
            self._stopping = True
            connections = list(self._connections)
        tcp.shutdown()
        for connection in connections:
            connection.close()
        with self.fake._lock:
            self.fake.procs.wake_all()  # long-polls see their cancelled connection
            self.fake.pubsub.poke_all()
        tcp.server_close()  # joins the connection threads
        self._peers.stop()
        if self._thread is not None:
            self._thread.join(5)
        self._tcp = None
        self._thread = None
        log.info("stopped serving the fake ColonyOS")

    def __enter__(self) -> FakeColoniesServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True between ``start()`` and ``stop()``."""
        return self._tcp is not None

    @property
    def host(self) -> str:
        """The address the server listens on."""
        if self._tcp is None:
            return self._requested[0]
        return str(self._tcp.server_address[0])

    @property
    def port(self) -> int:
        """The port the server listens on (the real one when 0 was asked for)."""
        if self._tcp is None:
            return self._requested[1]
        return int(self._tcp.server_address[1])

    @property
    def tls(self) -> bool:
        """True if the server speaks TLS (it was given an ``ssl_context``)."""
        return self.ssl_context is not None

    @property
    def url(self) -> str:
        """``http://host:port``, or ``https://host:port`` with TLS."""
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised inside the server's threads or the fake's handlers, for tests."""
        return [*self._errors, *self.fake.errors]

    def clear_errors(self) -> None:
        """Forget the errors recorded so far (the fake's own are cleared by ``fake.reset()``)."""
        self._errors.clear()

    def ready(self, timeout: float = 5.0) -> bool:
        """True once ``GET /health`` answers 200 (the readiness check)."""
        if self._tcp is None:
            return False
        try:
            with socket.create_connection((self.host, self.port), timeout=timeout) as raw:
                sock = raw
                if self.tls:
                    # Whether it serves, not whom to trust: the certificate is the caller's business.
                    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                    sock = context.wrap_socket(raw)
                with sock:
                    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    return sock.recv(64).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    def open_connections(self) -> int:
        """How many client connections are open now."""
        with self._lock:
            return len(self._connections)

    # --- bookkeeping for the connection threads ------------------------------------------

    def _track(self, connection: _Connection) -> bool:
        """Count a new connection in, unless the server is stopping (then close it)."""
        with self._lock:
            if self._stopping:
                connection.close()
                return False
            self._connections.add(connection)
            return True

    def _untrack(self, connection: _Connection) -> None:
        """A connection thread is done: forget the connection and close its socket."""
        with self._lock:
            self._connections.discard(connection)
        try:
            connection.sock.close()
        except OSError:
            pass

    def _record(self, exc: BaseException) -> None:
        """Keep an unexpected exception for ``errors`` (and log it)."""
        log.error("error in the fake's HTTP server: %s", "".join(traceback.format_exception(exc)))
        self._errors.append(exc)
