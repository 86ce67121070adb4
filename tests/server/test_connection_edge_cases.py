"""The served fake at the edges of a connection: clients that leave, malformed requests, large ones.

A client that goes away ends its blocked request, as the real server's request
context does (PROTOCOL.md 7.4); requests h11 or the WebSocket handshake refuse
are answered as Go's net/http and gorilla/websocket answer them, and never
recorded as server bugs.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from typing import Any, Iterator

import attrs
import pytest
from websocket import create_connection

from colonies_fake import FakeClock, FakeColonies, FakeColoniesServer
from colonies_fake import _connection
from colonies_fake._errors import FakeClosed
from colonies_sync import Crypto, FunctionSpec, ProcessState
from colonies_sync._rpc import encode_request

CRYPTO = Crypto()
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # the RFC 6455 example: 16 bytes in base64
VERSION = b'{"payloadtype":"versionmsg","payload":"eyJtc2d0eXBlIjoidmVyc2lvbm1zZyJ9","signature":""}'


@attrs.frozen
class World:
    fake: FakeColonies
    server: FakeColoniesServer
    worker: str  # private keys
    user: str


@pytest.fixture
def world() -> Iterator[World]:
    fake = FakeColonies(clock=FakeClock(real_time_cap=False))
    fake.add_colony("dev")
    worker = fake.add_executor("dev", "w", "cli").prvkey
    user = fake.add_user("dev", "u").prvkey
    with FakeColoniesServer(fake) as server:
        yield World(fake, server, worker, user)
        errors = server.errors
    fake.close()
    assert not errors, errors


def _assign_body(world: World, timeout: int = 30) -> bytes:
    return encode_request(
        {"msgtype": "assignprocessmsg", "colonyname": "dev", "timeout": timeout}, world.worker, CRYPTO
    )


def _post(body: bytes) -> bytes:
    return b"POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body


def _connect(world: World) -> socket.socket:
    return socket.create_connection(("127.0.0.1", world.server.port), timeout=5)


def _reply(sock: socket.socket) -> http.client.HTTPResponse:
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response


def _submit(world: World) -> str:
    spec = FunctionSpec.create("f", "dev", "cli")
    return world.fake.client(world.user).submit_function_spec(spec).processid


def _closed_connections(world: World) -> None:
    world.fake.wait_until(lambda: world.server.open_connections() == 0)


# --- a client that leaves ends its request (PROTOCOL.md 7.4) ------------------------------------


def test_an_assign_whose_client_left_stops_waiting_and_takes_no_process(world: World) -> None:
    with _connect(world) as sock:
        sock.sendall(_post(_assign_body(world)))
        world.fake.wait_for_assigns(1)
    world.fake.wait_until(lambda: world.fake.waiting_assigns() == 0)
    pid = _submit(world)
    assert world.fake.process(pid).state == ProcessState.WAITING
    _closed_connections(world)


def test_an_assign_cancelled_before_it_is_woken_is_passed_over(world: World) -> None:
    """Between the cancel and the wake-up, a submitted process must not be handed to the departed waiter."""
    cancelled = threading.Event()
    outcome: list[BaseException] = []

    def poll() -> None:
        try:
            world.fake.handle_api(_assign_body(world), cancelled=cancelled)
        except BaseException as exc:
            outcome.append(exc)

    poller = threading.Thread(target=poll)
    poller.start()
    world.fake.wait_for_assigns(1)
    cancelled.set()  # not yet woken: abandon() does that
    pid = _submit(world)
    assert world.fake.process(pid).state == ProcessState.WAITING
    world.fake.abandon(cancelled)
    poller.join(5)
    assert not poller.is_alive() and isinstance(outcome[0], FakeClosed)


def test_a_request_cancelled_before_it_starts_takes_no_process(world: World) -> None:
    pid = _submit(world)
    cancelled = threading.Event()
    cancelled.set()
    with pytest.raises(FakeClosed):
        world.fake.handle_api(_assign_body(world), cancelled=cancelled)
    assert world.fake.process(pid).state == ProcessState.WAITING


def test_a_channel_subscription_whose_client_left_is_dropped_at_once(world: World) -> None:
    spec = FunctionSpec.create("f", "dev", "cli", channels=["c"])
    pid = world.fake.client(world.user).submit_function_spec(spec).processid
    ws = create_connection(f"ws://127.0.0.1:{world.server.port}/pubsub", timeout=5)
    message = {"msgtype": "subscribechannelmsg", "processid": pid, "name": "c", "afterseq": 0, "timeout": 60}
    ws.send(encode_request(message, world.user, CRYPTO).decode())
    world.fake.wait_until(lambda: world.fake.subscriptions(pid) == 1)
    ws.shutdown()  # gone without a close frame; the real server would linger until the 60 s timeout
    world.fake.wait_until(lambda: world.fake.subscriptions(pid) == 0)
    _closed_connections(world)


def test_a_pubsub_session_is_registered_under_the_fakes_lock(world: World, monkeypatch: Any) -> None:
    """Otherwise a reset in between orphans it, and ``stop()`` may wait for it forever."""
    locked: list[bool] = []

    class Sessions(set):  # type: ignore[type-arg]
        def add(self, session: Any) -> None:
            locked.append(world.fake._lock._is_owned())  # type: ignore[attr-defined]
            super().add(session)

    monkeypatch.setattr(world.fake.pubsub, "sessions", Sessions())
    ws = create_connection(f"ws://127.0.0.1:{world.server.port}/pubsub", timeout=5)
    world.fake.wait_until(lambda: bool(locked))
    ws.close()
    assert locked == [True]


# --- the injected delay ends with the request -----------------------------------------------------


def test_stop_ends_a_request_held_by_an_injected_delay_at_once(world: World) -> None:
    world.fake.faults.delay(8)
    sock = _connect(world)
    sock.sendall(_post(VERSION))
    world.fake.wait_until(lambda: world.fake.held_requests() == 1)
    started = time.monotonic()
    world.server.stop()
    assert time.monotonic() - started < 2
    assert world.fake.held_requests() == 0
    sock.close()


def test_a_delayed_request_whose_client_left_ends_at_once(world: World) -> None:
    world.fake.faults.delay(30)
    with _connect(world) as sock:
        sock.sendall(_post(VERSION))
        world.fake.wait_until(lambda: world.fake.held_requests() == 1)
    world.fake.wait_until(lambda: world.fake.held_requests() == 0)
    _closed_connections(world)


# --- malformed WebSocket handshakes get gorilla's 400 ---------------------------------------------


HANDSHAKE = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": KEY}


@pytest.mark.parametrize(
    "change",
    [
        {"Sec-WebSocket-Key": None},
        {"Sec-WebSocket-Version": None},
        {"Sec-WebSocket-Version": "8"},
        {"Connection": "keep-alive"},
        {"Sec-WebSocket-Key": "c2hvcnQ="},  # base64, but not of 16 bytes
    ],
    ids=["no key", "no version", "version 8", "no Connection: Upgrade", "short key"],
)
def test_a_malformed_upgrade_gets_gorillas_400_and_the_connection_serves_on(world: World, change: dict) -> None:
    headers = {name: value for name, value in {**HANDSHAKE, **change}.items() if value is not None}
    conn = http.client.HTTPConnection("127.0.0.1", world.server.port, timeout=5)
    conn.request("GET", "/pubsub", headers=headers)
    reply = conn.getresponse()
    assert (reply.status, reply.reason, reply.read()) == (400, "Bad Request", b"Bad Request\n")
    assert reply.getheader("Sec-Websocket-Version") == "13"
    assert reply.getheader("Content-Type") == "text/plain; charset=utf-8"
    conn.request("GET", "/health")
    assert conn.getresponse().status == 200
    conn.close()


def test_a_handshake_wsproto_cannot_take_is_answered_400_not_recorded(world: World) -> None:
    """HTTP/1.0 with no Host passes gorilla's checks but not wsproto's: a 400 beats a silent hang-up."""
    headers = b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in HANDSHAKE.items())
    with _connect(world) as sock:
        sock.sendall(b"GET /pubsub HTTP/1.0\r\n" + headers + b"\r\n")
        reply = _reply(sock)
        assert (reply.status, reply.read()) == (400, b"Bad Request\n")


def test_an_upgrade_with_token_lists_is_accepted_as_gorilla_accepts_it(world: World) -> None:
    tokens = {"Connection": "keep-alive, Upgrade", "Upgrade": "websocket, h2c", "Sec-WebSocket-Version": "13, 8"}
    headers = b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in {**HANDSHAKE, **tokens}.items())
    with _connect(world) as sock:
        sock.sendall(b"GET /pubsub HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        reply = _reply(sock)
        assert (reply.status, reply.reason) == (101, "Switching Protocols")


# --- errors while reading a request ---------------------------------------------------------------


def test_a_bad_chunk_header_gets_go_s_400_and_is_not_recorded(world: World) -> None:
    with _connect(world) as sock:
        sock.sendall(b"POST /api HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        reply = _reply(sock)
        assert (reply.status, reply.reason, reply.read()) == (400, "Bad Request", b"400 Bad Request")
        assert reply.getheader("Connection") == "close"


def test_a_client_that_leaves_mid_body_is_gone_not_a_server_error(world: World) -> None:
    with _connect(world) as sock:
        sock.sendall(b"POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(100) == b""  # nobody to answer
    _closed_connections(world)


def test_headers_past_go_s_limit_get_431(world: World) -> None:
    with _connect(world) as sock:
        try:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (2 << 20) + b"\r\n\r\n")
        except OSError:
            pass  # the server may answer and close before it has read everything
        reply = _reply(sock)
        assert (reply.status, reply.reason) == (431, "Request Header Fields Too Large")


def test_large_headers_within_go_s_limit_are_served(world: World) -> None:
    with _connect(world) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (512 << 10) + b"\r\n\r\n")
        assert _reply(sock).status == 200


# --- Expect: 100-continue, reason phrases, body size ----------------------------------------------


def test_expect_100_continue_is_answered_before_the_body_is_read(world: World) -> None:
    with _connect(world) as sock:
        sock.sendall(
            b"POST /api HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(VERSION)
        )
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"  # within the 5 s timeout, not after
        sock.sendall(VERSION)
        reply = _reply(sock)
        assert (reply.status, reply.reason) == (200, "OK")


def test_status_lines_carry_go_s_reason_phrases(world: World) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", world.server.port, timeout=5)
    for method, path, body, expected in [
        ("GET", "/health", None, (200, "OK")),
        ("GET", "/nope", None, (404, "Not Found")),
        ("POST", "/api", b"not json", (400, "Bad Request")),
        ("POST", "/api", b"null", (500, "Internal Server Error")),
    ]:
        conn.request(method, path, body=body)
        reply = conn.getresponse()
        reply.read()
        assert (reply.status, reply.reason) == expected, (method, path)
    conn.close()


def test_a_body_over_the_limit_is_read_and_answered_413(world: World, monkeypatch: Any) -> None:
    monkeypatch.setattr(_connection, "_MAX_BODY", 1000)
    conn = http.client.HTTPConnection("127.0.0.1", world.server.port, timeout=5)
    conn.request("POST", "/api", body=b"x" * 1001)
    reply = conn.getresponse()
    assert (reply.status, reply.reason, reply.read()) == (
        413,
        "Request Entity Too Large",
        b"http: request body too large",
    )
    conn.request("POST", "/api", body=VERSION)  # the body was read to its end: the connection serves on
    assert conn.getresponse().status == 200
    conn.close()


def test_a_twenty_mebibyte_body_is_taken(world: World) -> None:
    """The real server has no limit: 10 MiB payloads arrive base64-encoded twice, about 18 MiB."""
    conn = http.client.HTTPConnection("127.0.0.1", world.server.port, timeout=30)
    conn.request("POST", "/api", body=b"x" * (20 << 20))
    reply = conn.getresponse()
    assert reply.status == 400 and reply.read().startswith(b'{"payloadtype":"error"')
    conn.close()
