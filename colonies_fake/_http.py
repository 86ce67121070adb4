"""FakeColoniesServer: the fake over real HTTP and WebSocket on a local port.

``POST /api`` takes an envelope whatever its Content-Type and answers exactly
what ``FakeColonies.handle_api`` says; ``GET /health`` answers 200 with an
empty body; ``GET /pubsub`` upgrades to a WebSocket whose messages go to a
``_pubsub.Session``; anything else is 404 with ``404 page not found``, as gin
answers (PROTOCOL.md 1).

HTTP/1.1 is spoken with ``h11`` and WebSocket with ``wsproto``, two sans-I/O
libraries of the same family that hand a connection over cleanly at the
upgrade; the sockets are plain ``socketserver`` threads, one per connection,
with Nagle disabled so that keep-alive requests do not stall on delayed ACKs.

``stop()`` closes the listener and every open connection, ends blocked
requests (their long-polls see the connection go away) and joins every thread.
"""

from __future__ import annotations

import logging
import selectors
import socket
import socketserver
import threading
import traceback
from typing import TYPE_CHECKING, Any, Optional

import h11
import wsproto
import wsproto.events as ws_events

from colonies_fake._errors import FakeClosed
from colonies_fake._pubsub import Session

if TYPE_CHECKING:
    from colonies_fake._core import FakeColonies

__all__ = ["FakeColoniesServer"]

log = logging.getLogger("colonies_fake.http")

_TEXT = "text/plain; charset=utf-8"
_NOT_FOUND = b"404 page not found"
_MAX_BODY = 64 * 1024 * 1024  # the real server has no limit; this only guards the test machine
_READ_SIZE = 65536


class _Gone(Exception):
    """The peer closed the connection, or the server is stopping."""


class _Connection:
    """One accepted socket: HTTP/1.1 requests, then possibly a WebSocket."""

    def __init__(self, server: FakeColoniesServer, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.cancelled = threading.Event()  # set by stop(): a blocked request must give up
        self.http = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_BODY)

    # --- HTTP ---------------------------------------------------------------------------------

    def _receive(self) -> None:
        if self.cancelled.is_set():
            raise _Gone()
        try:
            data = self.sock.recv(_READ_SIZE)
        except OSError:
            data = b""
        self.http.receive_data(data)

    def _next_event(self) -> Any:
        while True:
            event = self.http.next_event()
            if event is h11.NEED_DATA:
                self._receive()
                continue
            return event

    def _send(self, *events: Any) -> None:
        data = b"".join(self.http.send(event) or b"" for event in events)
        self.sock.sendall(data)

    def _respond(self, status: int, body: bytes, content_type: Optional[str] = _TEXT) -> None:
        headers = [("Content-Length", str(len(body)))]
        if content_type:
            headers.append(("Content-Type", content_type))
        self._send(h11.Response(status_code=status, headers=headers), h11.Data(data=body), h11.EndOfMessage())

    def run(self) -> None:
        try:
            while True:
                try:
                    event = self._next_event()
                except h11.RemoteProtocolError as exc:
                    if self.http.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                        self._respond(exc.error_status_hint, b"Bad Request")
                    return
                if isinstance(event, h11.ConnectionClosed):
                    return
                if not isinstance(event, h11.Request):
                    return
                if self._handle(event):
                    return  # the connection became a WebSocket, which has now ended
                if self.http.our_state is h11.MUST_CLOSE or self.http.their_state is h11.MUST_CLOSE:
                    return
                try:
                    self.http.start_next_cycle()
                except h11.LocalProtocolError:
                    return
        except (_Gone, OSError):
            return
        except Exception as exc:  # a bug in the server: record it for tests, keep serving others
            self.server.record(exc)

    def _read_body(self) -> bytes:
        chunks = []
        while True:
            event = self._next_event()
            if isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            else:
                raise _Gone()

    def _handle(self, request: h11.Request) -> bool:
        method = request.method.decode("ascii", "replace")
        path = request.target.decode("latin-1").split("?", 1)[0]
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in request.headers}
        if method == "GET" and path == "/pubsub" and "websocket" in headers.get("upgrade", "").lower():
            self._websocket(request)
            return True
        body = self._read_body()
        if method == "POST" and path == "/api":
            try:
                reply = self.server.fake.handle_api(body, cancelled=self.cancelled)
            except FakeClosed:
                raise _Gone() from None
            self._respond(reply.status, reply.body, _TEXT if reply.body else None)
        elif method == "GET" and path == "/health":
            self._respond(200, b"", None)
        elif method == "GET" and path == "/pubsub":
            self._respond(400, b"Bad Request")  # gorilla's answer to a plain GET on the WebSocket path
        else:
            self._respond(404, _NOT_FOUND, "text/plain")
        return False

    # --- WebSocket ------------------------------------------------------------------------

    def _websocket(self, request: h11.Request) -> None:
        """Hand the connection to wsproto and serve a pub/sub session until it ends."""
        raw = b"%s %s HTTP/1.1\r\n" % (request.method, request.target)
        raw += b"".join(name + b": " + value + b"\r\n" for name, value in request.headers) + b"\r\n"
        ws = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
        ws.receive_data(raw + bytes(self.http.trailing_data[0]))
        waker_r, waker_w = socket.socketpair()
        waker_w.setblocking(False)

        def poke() -> None:
            try:
                waker_w.send(b"\0")
            except OSError:
                pass  # the buffer is full: a wake-up is already pending

        session = Session(self.server.fake, poke)
        selector = selectors.DefaultSelector()
        selector.register(waker_r, selectors.EVENT_READ)
        reading = False
        ws_started = False
        parts: list[Any] = []
        try:
            while not self.cancelled.is_set():
                # While a channel subscription lasts the real server reads nothing, pings included;
                # what arrives meanwhile waits in wsproto's buffer until it ends.
                for event in ws.events() if reading or not ws_started else ():
                    if isinstance(event, ws_events.Request):
                        self.sock.sendall(ws.send(ws_events.AcceptConnection()))
                        ws_started = True
                    elif isinstance(event, (ws_events.TextMessage, ws_events.BytesMessage)):
                        parts.append(event.data)
                        if event.message_finished:
                            binary = isinstance(event, ws_events.BytesMessage)
                            data = b"".join(parts) if binary else "".join(parts)
                            parts = []
                            with self.server.fake._lock:
                                session.receive(data, binary)
                            if not session.reading():
                                break
                    elif isinstance(event, ws_events.Ping):
                        self.sock.sendall(ws.send(event.response()))
                    elif isinstance(event, ws_events.CloseConnection):
                        self.sock.sendall(ws.send(event.response()))
                        return
                with self.server.fake._lock:
                    frames, drop = session.collect()
                    want_read = session.reading()
                    wait = session.wait_seconds()
                for frame, binary in frames:
                    data = frame.encode("utf-8")
                    message = ws_events.BytesMessage(data=data) if binary else ws_events.TextMessage(data=frame)
                    self.sock.sendall(ws.send(message))
                if drop:
                    return  # dropped without a close frame, as the real server does
                if want_read != reading:
                    if want_read:
                        selector.register(self.sock, selectors.EVENT_READ)
                    else:
                        selector.unregister(self.sock)
                    reading = want_read
                    if reading:
                        continue  # first hand out what arrived while not reading
                for key, _ in selector.select(wait):
                    if key.fileobj is waker_r:
                        waker_r.recv(4096)
                    else:
                        data = self.sock.recv(_READ_SIZE)
                        if not data:
                            return
                        ws.receive_data(data)
        except wsproto.utilities.RemoteProtocolError:
            return
        finally:
            selector.close()
            with self.server.fake._lock:
                session.close()
            waker_r.close()
            waker_w.close()

    def close(self) -> None:
        """Force the socket shut (stop): the connection thread then ends."""
        self.cancelled.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Handler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        owner = self.server.owner
        connection = _Connection(owner, self.request)
        if not owner.track(connection):
            return
        try:
            connection.run()
        finally:
            owner.untrack(connection)


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    owner: FakeColoniesServer


class FakeColoniesServer:
    """Serve a :class:`FakeColonies` over HTTP and WebSocket on ``host:port`` (port 0 picks a free one).

    Use it as a context manager, or ``start()`` / ``stop()``. ``url`` is the
    base URL; ``errors`` lists exceptions raised inside the server or the fake.
    """

    def __init__(self, fake: FakeColonies, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = fake
        self._requested = (host, port)
        self._tcp: Optional[_TCPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self._connections: set[_Connection] = set()
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
        self.fake.server_info_backend = {"type": "http", "port": self.port, "host": self.host}
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
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

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
            with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return sock.recv(64).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    def open_connections(self) -> int:
        """How many client connections are open now."""
        with self._lock:
            return len(self._connections)

    # --- bookkeeping for the connection threads ------------------------------------------

    def track(self, connection: _Connection) -> bool:
        with self._lock:
            if self._stopping:
                connection.close()
                return False
            self._connections.add(connection)
            return True

    def untrack(self, connection: _Connection) -> None:
        with self._lock:
            self._connections.discard(connection)
        try:
            connection.sock.close()
        except OSError:
            pass

    def record(self, exc: BaseException) -> None:
        log.error("error in the fake's HTTP server: %s", "".join(traceback.format_exception(exc)))
        self._errors.append(exc)
