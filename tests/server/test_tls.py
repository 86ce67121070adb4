"""TLS: the client's ``https`` and ``wss`` with certificate checks, and the fake served over TLS.

A throwaway CA from ``trustme`` signs the fake's certificate. The client must
trust it only when told (``verify=`` the CA bundle), check the host name on
both paths, say plainly when it refuses a certificate, and skip the check only
with an explicit ``verify=False``. The served fake must shrug off clients that
fail or never finish the handshake, without recording them as server bugs.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import attrs
import pytest
import trustme
import urllib3
from websocket import create_connection

from colonies_fake import FakeClock, FakeColonies, FakeColoniesServer, Sandbox
from colonies_fake import _connection
from colonies_sync import (
    CertificateVerificationError,
    ColoniesClient,
    ColoniesConnectionError,
    Crypto,
    FunctionSpec,
    HttpTransport,
    MsgEntry,
    ProcessState,
    ProtocolError,
)
from colonies_sync import _subscription
from colonies_sync._rpc import encode_request

JOIN = 5.0  # the longest a test waits for something that should happen at once (real seconds)
CRYPTO = Crypto()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_path(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    """A server-side context with a certificate for ``names``, signed by ``ca``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


@attrs.frozen
class World:
    fake: FakeColonies
    server: FakeColoniesServer
    worker: str  # private keys
    user: str
    ca_path: str

    def client(self, key: str, **kwargs: Any) -> ColoniesClient:
        kwargs.setdefault("tls", True)
        kwargs.setdefault("verify", self.ca_path)
        return ColoniesClient("127.0.0.1", self.server.port, prvkey=key, timeout=JOIN, **kwargs)

    def running(self) -> str:
        """A running process with a channel ``chat``, set up in-process."""
        spec = FunctionSpec.create("f", "dev", "cli", channels=["chat"])
        pid = self.fake.client(self.user).submit_function_spec(spec).processid
        assert self.fake.client(self.worker).assign("dev", timeout=1).processid == pid
        return pid

    def no_open_connections(self) -> None:
        self.fake.wait_until(lambda: self.server.open_connections() == 0)


MakeWorld = Callable[..., World]


@pytest.fixture
def make_world(ca: trustme.CA, ca_path: str) -> Iterator[MakeWorld]:
    """Serve a fake over TLS with a certificate for the names given (by default 127.0.0.1 and localhost)."""
    made: list[World] = []

    def make(*names: str) -> World:
        fake = FakeColonies(clock=FakeClock(real_time_cap=False))
        fake.add_colony("dev")
        worker = fake.add_executor("dev", "w", "cli").prvkey
        user = fake.add_user("dev", "u").prvkey
        context = server_context(ca, *(names or ("127.0.0.1", "localhost")))
        server = FakeColoniesServer(fake, ssl_context=context).start()
        made.append(World(fake, server, worker, user, ca_path))
        return made[-1]

    yield make
    for world in made:
        world.server.stop()
        errors = world.server.errors
        world.fake.close()
        assert errors == []


@pytest.fixture
def world(make_world: MakeWorld) -> World:
    return make_world()


def tls_socket(world: World) -> ssl.SSLSocket:
    """A raw TLS connection to the served fake that trusts the throwaway CA."""
    context = ssl.create_default_context(cafile=world.ca_path)
    raw = socket.create_connection(("127.0.0.1", world.server.port), timeout=JOIN)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def post(body: bytes) -> bytes:
    return b"POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body


# --- the served fake over TLS ----------------------------------------------------------------------


def test_the_server_says_https_and_answers_health_and_server_info_over_tls(world: World) -> None:
    assert world.server.url == f"https://127.0.0.1:{world.server.port}"
    assert world.server.tls and world.server.ready()
    with world.client(world.user) as client:
        info = client.get_server_info()
    assert info.backends == [{"type": "http", "port": world.server.port, "host": "127.0.0.1", "tls": True}]


def test_a_server_without_a_context_still_says_http() -> None:
    fake = FakeColonies()
    with FakeColoniesServer(fake) as server:
        assert (server.tls, server.url) == (False, f"http://127.0.0.1:{server.port}")
        assert ColoniesClient("127.0.0.1", server.port).get_server_info().backends == [
            {"type": "http", "port": server.port, "host": "127.0.0.1"}
        ]
    fake.close()


def test_a_signed_rpc_and_a_channel_subscription_run_over_https_and_wss_with_the_ca_bundle(world: World) -> None:
    pid = world.running()
    got: list[MsgEntry] = []
    arrived = threading.Event()

    def on_entries(batch: list[MsgEntry]) -> None:
        got.extend(batch)
        if len(got) >= 2:
            arrived.set()

    with world.client(world.user) as user, world.client(world.worker) as worker:
        assert user.get_process(pid).state is ProcessState.RUNNING  # a signed RPC over https
        worker.channel(pid, "chat").append("before")
        with user.subscribe_channel(pid, "chat", 0, 60, on_entries) as subscription:
            world.fake.wait_until(lambda: world.fake.subscriptions(pid) == 1)  # the wss stream is up
            worker.channel(pid, "chat").append("after")
            assert arrived.wait(JOIN), got
        subscription.join(JOIN)
        assert subscription.error is None
    assert [entry.text for entry in got] == ["before", "after"]
    world.no_open_connections()


def test_a_ca_bundle_may_be_given_as_a_path_object(world: World) -> None:
    with world.client(world.user, verify=Path(world.ca_path)) as client:
        assert client.version().buildversion == "colonies-fake"


def test_a_large_websocket_message_spanning_many_tls_records_is_read_whole(world: World) -> None:
    """A 16 KiB TLS record limit splits it; the server must read them all before it answers."""
    pid = world.running()
    context = ssl.create_default_context(cafile=world.ca_path)
    ws = create_connection(f"wss://127.0.0.1:{world.server.port}/pubsub", timeout=JOIN, sslopt={"context": context})
    try:
        message = {"msgtype": "subscribechannelmsg", "processid": pid, "name": "chat", "afterseq": 0, "timeout": 60}
        message["padding"] = "x" * 200_000  # unknown fields are ignored, as Go's encoding/json does
        ws.send(encode_request(message, world.user, CRYPTO).decode())
        world.fake.wait_until(lambda: world.fake.subscriptions(pid) == 1)
    finally:
        ws.shutdown()  # no close handshake: a subscribed session reads nothing
    world.fake.wait_until(lambda: world.fake.subscriptions(pid) == 0)


def test_an_assign_whose_tls_client_left_stops_waiting(world: World) -> None:
    """The peer watch cannot peek an SSLSocket; it peeks the TCP stream under it instead."""
    body = encode_request({"msgtype": "assignprocessmsg", "colonyname": "dev", "timeout": 60}, world.worker, CRYPTO)
    with tls_socket(world) as sock:
        sock.sendall(post(body))
        world.fake.wait_for_assigns(1)
    world.fake.wait_until(lambda: world.fake.waiting_assigns() == 0)
    spec = FunctionSpec.create("f", "dev", "cli")
    pid = world.fake.client(world.user).submit_function_spec(spec).processid
    assert world.fake.process(pid).state is ProcessState.WAITING  # not handed to the departed client
    world.no_open_connections()


def test_a_wss_channel_subscription_whose_client_left_is_dropped_at_once(world: World) -> None:
    pid = world.running()
    context = ssl.create_default_context(cafile=world.ca_path)
    ws = create_connection(f"wss://127.0.0.1:{world.server.port}/pubsub", timeout=JOIN, sslopt={"context": context})
    message = {"msgtype": "subscribechannelmsg", "processid": pid, "name": "chat", "afterseq": 0, "timeout": 60}
    ws.send(encode_request(message, world.user, CRYPTO).decode())
    world.fake.wait_until(lambda: world.fake.subscriptions(pid) == 1)
    ws.shutdown()  # gone without a close frame
    world.fake.wait_until(lambda: world.fake.subscriptions(pid) == 0)
    world.no_open_connections()


# --- the client's certificate checks -----------------------------------------------------------------


def assert_refused(exc: BaseException, url: str, reason: str) -> None:
    assert isinstance(exc, CertificateVerificationError) and isinstance(exc, ColoniesConnectionError)
    message = str(exc)
    assert message.startswith(f"TLS certificate verification failed for {url}: "), message
    assert reason in message, message
    assert "verify='/path/to/ca.pem'" in message and "verify=False" in message, message


def test_by_default_the_system_store_is_trusted_so_a_private_ca_is_refused_on_https(world: World) -> None:
    with world.client(world.user, verify=True) as client, pytest.raises(CertificateVerificationError) as info:
        client.version()
    assert_refused(info.value, f"https://127.0.0.1:{world.server.port}", "unable to get local issuer certificate")


def test_by_default_a_private_ca_is_refused_on_wss_too(world: World) -> None:
    with pytest.raises(CertificateVerificationError) as info:
        HttpTransport("127.0.0.1", world.server.port, tls=True).open_stream(timeout=JOIN)
    url = f"wss://127.0.0.1:{world.server.port}/pubsub"
    assert_refused(info.value, url, "unable to get local issuer certificate")


def test_a_subscription_refused_a_certificate_fails_at_once_without_reconnecting(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = world.running()
    pauses: list[int] = []
    monkeypatch.setattr(_subscription.Backoff, "next_delay", lambda self: pauses.append(1))
    errors: list[BaseException] = []
    with world.client(world.user, verify=True) as client:
        subscription = client.subscribe_channel(pid, "chat", 0, 60, lambda batch: None, on_error=errors.append)
        with pytest.raises(CertificateVerificationError):
            subscription.join(JOIN)
    assert pauses == []  # a refused certificate is not retried: the next attempt would meet the same one
    assert len(errors) == 1 and isinstance(errors[0], CertificateVerificationError)


def test_a_certificate_for_another_host_name_is_refused_on_https_and_wss(make_world: MakeWorld) -> None:
    world = make_world("colonies.example.org")  # signed by the trusted CA, but not for 127.0.0.1
    with world.client(world.user) as client, pytest.raises(CertificateVerificationError) as info:
        client.version()
    assert_refused(info.value, f"https://127.0.0.1:{world.server.port}", "mismatch")
    with pytest.raises(CertificateVerificationError) as info:
        HttpTransport("127.0.0.1", world.server.port, tls=True, verify=world.ca_path).open_stream(timeout=JOIN)
    assert_refused(info.value, f"wss://127.0.0.1:{world.server.port}/pubsub", "mismatch")


def test_the_host_name_is_checked_against_the_name_connected_to(make_world: MakeWorld) -> None:
    world = make_world("localhost")
    port = world.server.port
    with ColoniesClient("localhost", port, tls=True, verify=world.ca_path, timeout=JOIN) as client:
        assert client.version().buildversion == "colonies-fake"
    with ColoniesClient("127.0.0.1", port, tls=True, verify=world.ca_path, timeout=JOIN) as client:
        with pytest.raises(CertificateVerificationError, match="mismatch"):
            client.version()


def test_verify_false_skips_the_check_and_warns_on_https_and_wss(world: World) -> None:
    pid = world.running()
    with world.client(world.user, verify=False) as client:
        with pytest.warns(urllib3.exceptions.InsecureRequestWarning, match="Unverified HTTPS request"):
            assert client.get_process(pid).state is ProcessState.RUNNING
        with pytest.warns(urllib3.exceptions.InsecureRequestWarning, match="Unverified WSS connection"):
            stream = HttpTransport("127.0.0.1", world.server.port, tls=True, verify=False).open_stream(timeout=JOIN)
        stream.close()


def test_verify_is_checked_at_construction() -> None:
    with pytest.raises(ValueError, match="cannot load a CA bundle"):
        ColoniesClient("127.0.0.1", 1, tls=True, verify="/nonexistent/ca.pem")
    with pytest.raises(TypeError, match="verify must be"):
        ColoniesClient("127.0.0.1", 1, tls=True, verify=1)  # type: ignore[arg-type]
    ColoniesClient("127.0.0.1", 1, verify="/nonexistent/ca.pem").close()  # without TLS it is not used


# --- clients that fail the handshake ---------------------------------------------------------------


def test_a_plain_http_client_gets_go_s_answer_and_is_not_a_server_error(world: World) -> None:
    """Go's net/http answers plain HTTP on a TLS port with a 400 and a sentence; so does the fake."""
    with ColoniesClient("127.0.0.1", world.server.port, timeout=JOIN) as client:
        with pytest.raises(ProtocolError) as info:
            client.version()
    assert (info.value.status, info.value.text) == (400, "Client sent an HTTP request to an HTTPS server.\n")
    with pytest.raises(ColoniesConnectionError, match="400"):
        HttpTransport("127.0.0.1", world.server.port).open_stream(timeout=JOIN)
    world.no_open_connections()
    assert world.server.errors == []


def test_a_plain_request_whose_first_bytes_come_apart_still_gets_go_s_answer(world: World) -> None:
    with socket.create_connection(("127.0.0.1", world.server.port), timeout=JOIN) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b"PO")  # a head too short to tell TLS from HTTP yet
        sock.settimeout(0.2)
        with pytest.raises(TimeoutError):
            sock.recv(1)  # the server waits for more: no answer, no close, on two bytes
        sock.settimeout(JOIN)
        sock.sendall(b"ST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer == b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
    world.no_open_connections()
    assert world.server.errors == []


def closed_by_the_server(sock: socket.socket) -> None:
    """Read until the server closes the connection (a timeout fails the test: then it did not)."""
    sock.settimeout(JOIN)
    try:
        while sock.recv(4096):
            pass  # a TLS alert, perhaps
    except ConnectionResetError:
        pass  # closed with our bytes unread


JUNK = [
    b"\x16\x03\x01\x00\x05hello",  # a TLS record header, then nonsense
    b"\x00" * 64,
    b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",  # plain HTTP (answered, then closed)
    b"POST",  # plain HTTP cut short before five bytes
    b"",  # nothing at all
]


def test_the_server_stays_healthy_after_bad_handshakes(world: World) -> None:
    port = world.server.port
    for junk in JUNK:
        with socket.create_connection(("127.0.0.1", port), timeout=JOIN) as sock:
            sock.sendall(junk)
            with contextlib.suppress(OSError):  # the server may have closed already
                sock.shutdown(socket.SHUT_WR)
            closed_by_the_server(sock)
    for _ in range(3):  # clients that refuse the server's certificate, mid-handshake
        with pytest.raises(CertificateVerificationError):
            ColoniesClient("127.0.0.1", port, tls=True, timeout=JOIN).version()
    world.no_open_connections()
    assert world.server.ready()
    with world.client(world.user) as client:
        assert client.version().buildversion == "colonies-fake"
    assert world.server.errors == []


def test_a_client_that_never_finishes_the_handshake_is_dropped_at_the_timeout(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_connection, "_HANDSHAKE_TIMEOUT", 0.2)
    with socket.create_connection(("127.0.0.1", world.server.port), timeout=JOIN) as sock:
        sock.sendall(b"\x16\x03\x01")  # the start of a record, then silence
        closed_by_the_server(sock)
    world.no_open_connections()


def test_a_stalled_handshake_holds_up_no_one_and_stop_ends_it_leaving_no_threads(ca: trustme.CA, ca_path: str) -> None:
    threads_before = set(threading.enumerate())
    fake = FakeColonies(clock=FakeClock(real_time_cap=False))
    fake.add_colony("dev")
    user = fake.add_user("dev", "u").prvkey
    server = FakeColoniesServer(fake, ssl_context=server_context(ca, "127.0.0.1")).start()
    stalled = [socket.create_connection(("127.0.0.1", server.port), timeout=JOIN) for _ in range(3)]
    stalled[0].sendall(b"\x16\x03\x01")
    fake.wait_until(lambda: server.open_connections() == 3)
    # With the handshakes on the accept loop, this would wait out _HANDSHAKE_TIMEOUT (10 s) for each.
    client = ColoniesClient("127.0.0.1", server.port, tls=True, verify=ca_path, prvkey=user, timeout=JOIN)
    assert client.version().buildversion == "colonies-fake"
    pid = fake.client(user).submit_function_spec(FunctionSpec.create("f", "dev", "cli")).processid
    subscription = client.subscribe_process("dev", pid, ProcessState.RUNNING, 60, lambda process: None)
    fake.wait_until(lambda: fake.subscriptions(pid) == 1)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < _connection._HANDSHAKE_TIMEOUT / 2  # stop() cut the handshakes short
    for sock in stalled:
        closed_by_the_server(sock)
        sock.close()
    subscription.close()
    client.close()
    leftover = [t for t in set(threading.enumerate()) - threads_before if t.is_alive()]
    assert leftover == []
    assert server.open_connections() == 0 and server.errors == []
    fake.close()


# --- the Sandbox and the environment ----------------------------------------------------------------


def test_a_sandbox_served_over_tls_hands_out_tls_clients_and_tls_settings(ca: trustme.CA, ca_path: str) -> None:
    with Sandbox(ssl_context=server_context(ca, "127.0.0.1")) as sandbox:
        assert sandbox.server.url.startswith("https://")
        env = sandbox.env()
        assert env["COLONIES_TLS"] == env["COLONIES_SERVER_TLS"] == "true"
        with ColoniesClient.from_env(env, verify=ca_path) as client:
            assert client.tls and client.get_colony(sandbox.colony.name).name == sandbox.colony.name
        assert sandbox.client("user", verify=ca_path).version().buildversion == "colonies-fake"
        with pytest.raises(CertificateVerificationError):
            ColoniesClient.from_env(env).version()  # the environment alone trusts only the system store
        assert sandbox.server.errors == []
