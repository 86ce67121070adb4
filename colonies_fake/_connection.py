"""One client connection of the served fake: HTTP/1.1 with ``h11``, then perhaps a WebSocket with ``wsproto``.

``POST /api`` takes an envelope whatever its Content-Type and answers exactly
what ``FakeColonies.handle_api`` says; ``GET /health`` answers 200 with an
empty body; ``GET /pubsub`` upgrades to a WebSocket whose messages go to a
``_pubsub.Session`` (a request gorilla/websocket would not upgrade gets its 400);
anything else is 404 with ``404 page not found``, as gin answers (PROTOCOL.md 1).
Status lines carry Go's reason phrases, requests h11 cannot parse get Go's
plain-text error, and ``Expect: 100-continue`` is answered before the body is read.

A client that leaves while its request blocks in the fake (an assign long-poll,
an injected delay) cancels that request, as the real server's request context
does (PROTOCOL.md 7.4): one :class:`_PeerWatch` thread per server peeks at
those sockets.

With TLS the handshake runs on the connection's own thread within
``_HANDSHAKE_TIMEOUT``, so a client that never finishes it holds up no one
else; a handshake that fails only closes that connection.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import http
import logging
import selectors
import socket
import ssl
import threading
import time
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence

import h11
import wsproto
import wsproto.events as ws_events

from colonies_fake._errors import FakeClosed
from colonies_fake._pubsub import Session
from colonies_sync._crypto import SignerHint

if TYPE_CHECKING:
    from colonies_fake._core import FakeColonies
    from colonies_fake._http import FakeColoniesServer

__all__ = ["_Connection", "_PeerWatch"]

log = logging.getLogger("colonies_fake.http")

_TEXT = "text/plain; charset=utf-8"
_NOT_FOUND = b"404 page not found"
_MAX_HEADER_BYTES = (1 << 20) + 4096  # Go's net/http: DefaultMaxHeaderBytes and its 4 KiB slack (then 431)
# The real server takes any body (10 MiB payloads arrive base64-encoded twice, ~18 MiB); this only guards
# the test machine. A longer body is read to its end and dropped, so the client does see the 413.
_MAX_BODY = 64 * 1024 * 1024
_MAX_HELD = 1 << 20  # bytes a WebSocket takes in while its channel subscription blocks reading
_READ_SIZE = 65536
_LINGER = 0.5  # Go's rstAvoidanceDelay, in seconds
_WATCH_INTERVAL = 0.05  # how soon a newly blocked request is watched, in seconds
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)
_HANDSHAKE_TIMEOUT = 10.0  # seconds a client has to complete the TLS handshake
# Go's net/http (tlsRecordHeaderLooksLikeHTTP): the first five bytes, and what it writes back.
_PLAIN_HTTP_HEADS = frozenset({b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO"})
_PLAIN_HTTP_ANSWER = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
_DRAIN_SECONDS = 1.0
_HEAD_SECONDS = 0.5  # how long the rest of a split five-byte head may take to arrive


class _Gone(Exception):
    """The peer closed the connection, or the server is stopping."""


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return f"status code {status}"  # what Go's net/http writes for a code it has no text for


def _tokens(request: h11.Request, name: bytes) -> set[bytes]:
    return {token.strip().lower() for field, value in request.headers if field == name for token in value.split(b",")}


def _shutdown(sock: socket.socket, how: int) -> None:
    """Shut down the TCP connection under ``sock``, TLS or not.

    ``SSLSocket.shutdown`` would also drop the TLS state that another thread
    may be reading through; the base method only touches the descriptor.
    """
    socket.socket.shutdown(sock, how)


def _recv_ready(sock: socket.socket) -> Optional[bytes]:
    """Read what ``select`` found waiting: ``b""`` at end of stream, ``None`` if TLS held no data yet.

    A readable TLS socket may carry a record without application data (a key
    update, a partial record), on which a blocking read would wait; and a read
    returns one record, so what TLS already decrypted is taken too, as
    ``select`` cannot see it.
    """
    if not isinstance(sock, ssl.SSLSocket):
        return sock.recv(_READ_SIZE)
    sock.setblocking(False)
    try:
        chunks = [sock.recv(_READ_SIZE)]
        while chunks[-1] and sock.pending():
            chunks.append(sock.recv(_READ_SIZE))
        return b"".join(chunks)
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
        return None
    finally:
        sock.setblocking(True)


def _gorilla_upgrades(request: h11.Request) -> bool:
    """Whether gorilla/websocket's ``Upgrader`` (origin not checked) accepts this handshake."""
    key = next((value for field, value in request.headers if field == b"sec-websocket-key"), b"")
    try:
        key_ok = len(base64.b64decode(key, validate=True)) == 16
    except binascii.Error:
        key_ok = False
    return (
        b"upgrade" in _tokens(request, b"connection")
        and b"websocket" in _tokens(request, b"upgrade")
        and b"13" in _tokens(request, b"sec-websocket-version")
        and key_ok
    )


def _peer_gone(sock: socket.socket) -> Optional[bool]:
    """True if the peer closed its end, False if it sent data (a peek cannot see past that), else None.

    An ``SSLSocket`` refuses flags, so the TCP stream under it is peeked: a
    client that just closes shows its end of stream the same way. One that
    first sends TLS's close_notify looks like one that sent data, and its
    request runs on, as a plain client's does after pipelining.
    """
    try:
        return socket.socket.recv(sock, 1, socket.MSG_PEEK | _DONTWAIT) == b""
    except BlockingIOError:
        return None
    except ConnectionError:
        return True
    except OSError:
        return False  # closed here: its request is over


class _PeerWatch:
    """One thread that cancels a blocked request once its client has gone (PROTOCOL.md 7.4).

    While a request blocks in ``handle_api`` its connection thread reads
    nothing, so only a peek at the socket shows the client's end of stream.
    """

    def __init__(self, fake: FakeColonies) -> None:
        self._fake = fake
        self._cond = threading.Condition()
        self._watched: dict[object, _Connection] = {}  # one token per blocked request
        self._stopping = False
        self._thread: Optional[threading.Thread] = None

    def start(self, name: str) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @contextlib.contextmanager
    def watching(self, connection: _Connection) -> Iterator[None]:
        """Cancel ``connection``'s request if its client goes while the block runs."""
        token = object()
        with self._cond:
            self._watched[token] = connection
            self._cond.notify()
        try:
            yield
        finally:
            with self._cond:
                self._watched.pop(token, None)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._watched or self._stopping):
                    self._cond.wait()
                if self._stopping:
                    return
                watched = list(self._watched.items())
            with selectors.DefaultSelector() as selector:
                for token, connection in watched:
                    with contextlib.suppress(ValueError, KeyError, OSError):  # closed meanwhile
                        selector.register(connection.sock, selectors.EVENT_READ, (token, connection))
                ready = [key.data for key, _ in selector.select(_WATCH_INTERVAL)]
            for token, connection in ready:
                gone = _peer_gone(connection.sock)
                if gone is None:
                    continue
                with self._cond:  # the request may have ended meanwhile: then its token is gone
                    if self._watched.pop(token, None) is not None and gone:
                        self._fake.abandon(connection.cancelled)


class _Connection:
    """One accepted socket: HTTP/1.1 requests, then possibly a WebSocket."""

    def __init__(self, server: FakeColoniesServer, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.cancelled = threading.Event()  # set by stop() or when the client goes: a blocked request gives up
        self.hint = SignerHint()  # a connection usually carries one client's requests
        self.http = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEADER_BYTES)
        self._eof = False

    # --- HTTP ---------------------------------------------------------------------------------

    def _receive(self) -> None:
        if self.cancelled.is_set():
            raise _Gone()
        try:
            data = self.sock.recv(_READ_SIZE)
        except OSError:
            data = b""
        self._eof = not data
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

    def _respond(
        self,
        status: int,
        body: bytes,
        content_type: Optional[str] = _TEXT,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        fields = [("Content-Length", str(len(body))), *headers]
        if content_type:
            fields.append(("Content-Type", content_type))
        response = h11.Response(status_code=status, headers=fields, reason=_phrase(status).encode())
        self._send(response, h11.Data(data=body), h11.EndOfMessage())

    def run(self) -> None:
        try:
            while True:
                try:
                    event = self._next_event()
                    if not isinstance(event, h11.Request):
                        return  # ConnectionClosed
                    if self._handle(event):
                        return  # the connection became a WebSocket, which has now ended
                except h11.RemoteProtocolError as exc:
                    if self._eof:
                        return  # the client left mid-request: nobody to answer
                    if self.http.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                        status = exc.error_status_hint
                        message = f"{status} {_phrase(status)}".encode()  # as Go's net/http answers
                        self._respond(status, message, _TEXT, [("Connection", "close")])
                        self._linger()
                    return
                if self.http.our_state is h11.MUST_CLOSE or self.http.their_state is h11.MUST_CLOSE:
                    return
                try:
                    self.http.start_next_cycle()
                except h11.LocalProtocolError:
                    return
        except (_Gone, OSError):
            return
        except Exception as exc:  # a bug in the server: record it for tests, keep serving others
            self.server._record(exc)

    def _linger(self) -> None:
        """Half-close, then read what the client still sends for a while, as Go's closeWriteAndWait does.

        Closing with unread bytes would reset the connection, and a reset can
        destroy the answer before the client reads it.
        """
        with contextlib.suppress(OSError):
            _shutdown(self.sock, socket.SHUT_WR)
            end = time.monotonic() + _LINGER
            while (left := end - time.monotonic()) > 0:
                self.sock.settimeout(left)
                if not self.sock.recv(_READ_SIZE):
                    return

    def _read_body(self) -> Optional[bytes]:
        """The request body; ``None`` if it is longer than ``_MAX_BODY`` (then read to its end and dropped)."""
        if self.http.they_are_waiting_for_100_continue:
            self._send(h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue"))
        chunks = []
        size = 0
        while True:
            event = self._next_event()
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size <= _MAX_BODY:
                    chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks) if size <= _MAX_BODY else None
            else:
                raise _Gone()

    def _handle(self, request: h11.Request) -> bool:
        method = request.method.decode("ascii", "replace")
        path = request.target.decode("latin-1").split("?", 1)[0]
        if method == "GET" and path == "/pubsub" and _gorilla_upgrades(request) and self._upgrade(request):
            return True
        body = self._read_body()
        if body is None:
            self._respond(413, b"http: request body too large")  # the error of Go's http.MaxBytesReader
        elif method == "POST" and path == "/api":
            try:
                with self.server._peers.watching(self):
                    reply = self.server.fake.handle_api(body, cancelled=self.cancelled, hint=self.hint)
            except FakeClosed:
                raise _Gone() from None
            self._respond(reply.status, reply.body, _TEXT if reply.body else None)
        elif method == "GET" and path == "/pubsub":
            # gorilla's http.Error for a handshake it refuses
            headers = [("Sec-Websocket-Version", "13"), ("X-Content-Type-Options", "nosniff")]
            self._respond(400, b"Bad Request\n", _TEXT, headers)
        elif method == "GET" and path == "/health":
            self._respond(200, b"", None)
        else:
            self._respond(404, _NOT_FOUND, "text/plain")
        return False

    # --- WebSocket ------------------------------------------------------------------------

    def _upgrade(self, request: h11.Request) -> bool:
        """Hand the connection to wsproto and serve a pub/sub session; False if wsproto refuses the handshake."""
        exact = {b"upgrade": b"websocket", b"sec-websocket-version": b"13"}  # gorilla took them as token lists
        raw = b"%s %s HTTP/1.1\r\n" % (request.method, request.target)
        raw += b"".join(name + b": " + exact.get(name, value) + b"\r\n" for name, value in request.headers)
        raw += b"\r\n"
        ws = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
        try:
            ws.receive_data(raw + bytes(self.http.trailing_data[0]))
        except wsproto.utilities.RemoteProtocolError:
            return False  # nothing was sent yet: answered over HTTP, as gorilla does
        self._websocket(ws)
        return True

    def _websocket(self, ws: wsproto.WSConnection) -> None:
        """Serve one pub/sub session until it ends."""
        waker_r, waker_w = socket.socketpair()
        waker_w.setblocking(False)

        def poke() -> None:
            try:
                waker_w.send(b"\0")
            except OSError:
                pass  # the buffer is full: a wake-up is already pending

        with self.server.fake._lock:  # a reset or a PubSub walk must not see it half made
            session = Session(self.server.fake, poke)
        selector = selectors.DefaultSelector()
        selector.register(waker_r, selectors.EVENT_READ)
        reading = False
        watching = False
        held = 0
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
                    reading = want_read
                    held = 0
                    if reading:
                        continue  # first hand out what arrived while not reading
                # The socket is read even while the session is not, so that a client that leaves
                # ends its channel subscription at once; past _MAX_HELD, TCP holds the rest back.
                if watching != (reading or held < _MAX_HELD):
                    if watching:
                        selector.unregister(self.sock)
                    else:
                        selector.register(self.sock, selectors.EVENT_READ)
                    watching = not watching
                for key, _ in selector.select(wait):
                    if key.fileobj is waker_r:
                        waker_r.recv(4096)
                    else:
                        received = _recv_ready(self.sock)
                        if received is None:
                            continue
                        if not received:
                            return
                        ws.receive_data(received)
                        held += 0 if reading else len(received)
        except wsproto.utilities.RemoteProtocolError:
            return
        finally:
            selector.close()
            with self.server.fake._lock:
                session.close()
            waker_r.close()
            waker_w.close()

    def handshake(self, context: ssl.SSLContext) -> bool:
        """Wrap the socket in TLS and complete the handshake; False (and logged) if it fails or times out.

        A client speaking plain HTTP gets Go's net/http answer (written when a
        TLS record header looks like an HTTP method) rather than a reset. The
        real server leaves TLS to a proxy in front of it, whose wording varies.
        """
        try:
            if self._peek_head() in _PLAIN_HTTP_HEADS:
                self.sock.sendall(_PLAIN_HTTP_ANSWER)
                log.debug("plain HTTP on the TLS port: answered 400")
                try:
                    self._drain()
                except OSError:
                    pass  # the client went first: nothing more to do
                return False
            sock = context.wrap_socket(self.sock, server_side=True, do_handshake_on_connect=False)
            self.sock = sock
            # close() sets cancelled before it shuts self.sock: if it shut the socket wrap_socket
            # just detached, this sees it.
            if self.cancelled.is_set():
                return False
            sock.settimeout(_HANDSHAKE_TIMEOUT)  # one deadline for the whole handshake
            sock.do_handshake()
            sock.settimeout(None)
        except (OSError, ValueError) as exc:  # ssl.SSLError and timeouts are OSErrors
            log.debug("TLS handshake failed: %s", exc)
            return False
        return True

    def _peek_head(self) -> bytes:
        """The first five bytes the client sent, left unread (fewer if it sends no more soon).

        A peek returns what has arrived, which may be less than asked for when
        the first segment is split: look again, briefly, until the five are in.
        """
        self.sock.settimeout(_HANDSHAKE_TIMEOUT)
        head = self.sock.recv(5, socket.MSG_PEEK)  # waits for the first bytes (b"": the client left)
        end = time.monotonic() + _HEAD_SECONDS
        while head and len(head) < 5 and time.monotonic() < end and not self.cancelled.is_set():
            self.cancelled.wait(0.005)
            head = self.sock.recv(5, socket.MSG_PEEK)
        return head

    def _drain(self) -> None:
        """Finish sending, then read what the client still sends (briefly): closing with unread
        bytes would reset the connection, and the client could lose the answer."""
        _shutdown(self.sock, socket.SHUT_WR)
        self.sock.settimeout(_DRAIN_SECONDS)
        end = time.monotonic() + _DRAIN_SECONDS
        while time.monotonic() < end and not self.cancelled.is_set() and self.sock.recv(65536):
            pass

    def close(self) -> None:
        """Force the socket shut (stop): the connection thread then ends."""
        self.cancelled.set()
        try:
            _shutdown(self.sock, socket.SHUT_RDWR)
        except OSError:
            pass
