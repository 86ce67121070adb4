"""FakeColoniesServer: routes, keep-alive, Nagle, readiness, and a stop() that leaves nothing behind."""

from __future__ import annotations

import os
import socket
import threading

import requests
from websocket import create_connection

from colonies_fake import FakeClock, FakeColonies, FakeColoniesServer
from colonies_sync import ColoniesClient, ColoniesConnectionError, FunctionSpec
from colonies_sync._rpc import encode_request


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_routes_answer_like_the_real_server() -> None:
    fake = FakeColonies()
    with FakeColoniesServer(fake) as server, requests.Session() as http:
        assert server.ready()
        health = http.get(server.url + "/health")
        assert (health.status_code, health.content) == (200, b"")
        for method, path in [("GET", "/api"), ("GET", "/nope"), ("POST", "/health"), ("PUT", "/api")]:
            reply = http.request(method, server.url + path)
            assert (reply.status_code, reply.text) == (404, "404 page not found"), (method, path)
        for content_type in ("application/json", "text/plain", "application/x-www-form-urlencoded", None):
            headers = {"Content-Type": content_type} if content_type else {}
            body = b'{"payloadtype":"versionmsg","payload":"eyJtc2d0eXBlIjoidmVyc2lvbm1zZyJ9","signature":""}'
            reply = http.post(server.url + "/api", data=body, headers=headers)
            assert reply.status_code == 200 and reply.headers["Content-Type"] == "text/plain; charset=utf-8"
    fake.close()


def test_port_zero_reports_the_real_port_and_server_info_follows_it() -> None:
    fake = FakeColonies()
    with FakeColoniesServer(fake, port=0) as server:
        assert server.port != 0
        info = ColoniesClient("127.0.0.1", server.port).get_server_info()
        assert info.backends == [{"type": "http", "port": server.port, "host": "127.0.0.1"}]
    fake.close()


def test_a_keep_alive_client_uses_one_connection_with_nagle_off() -> None:
    fake = FakeColonies()
    worker_key = fake.add_executor(fake.add_colony("dev").name, "w", "cli").prvkey
    with FakeColoniesServer(fake) as server, ColoniesClient("127.0.0.1", server.port, prvkey=worker_key) as client:
        client.get_colony("dev")
        assert server.open_connections() == 1
        for _ in range(20):
            client.get_colony("dev")
        assert server.open_connections() == 1
        # Without TCP_NODELAY a keep-alive exchange can stall ~40 ms on delayed ACKs (bench/ measures it).
        [connection] = server._connections
        assert connection.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    fake.close()


def test_stop_ends_every_connection_and_thread_and_closes_every_socket() -> None:
    fake = FakeColonies(clock=FakeClock(real_time_cap=False))
    colony = fake.add_colony("dev")
    worker = fake.add_executor("dev", "w", "cli")
    user = fake.add_user("dev", "u")
    threads_before = set(threading.enumerate())
    fds_before = _fds()
    server = FakeColoniesServer(fake).start()
    client = ColoniesClient("127.0.0.1", server.port, prvkey=user.prvkey)
    pid = client.submit_function_spec(FunctionSpec.create("f", "dev", "other", channels=["c"])).processid
    # A blocked long-poll, a process subscription and a channel subscription, all open at stop().
    outcome: list[BaseException] = []

    def long_poll() -> None:
        try:
            ColoniesClient("127.0.0.1", server.port, prvkey=worker.prvkey).assign("dev", timeout=60)
        except BaseException as exc:
            outcome.append(exc)

    poller = threading.Thread(target=long_poll)
    poller.start()
    fake.wait_for_assigns(1)
    sockets = []
    for msgtype, fields in [
        ("subscribeprocessmsg", {"processid": pid, "executortype": "", "state": 2, "timeout": 60}),
        ("subscribechannelmsg", {"processid": pid, "name": "c", "afterseq": 0, "timeout": 60}),
    ]:
        ws = create_connection(f"ws://127.0.0.1:{server.port}/pubsub", timeout=5)
        ws.send(encode_request({"msgtype": msgtype, **fields}, user.prvkey, client.crypto).decode())
        sockets.append(ws)
    fake.wait_until(lambda: fake.subscriptions(pid) == 2)
    assert server.open_connections() >= 4
    server.stop()
    poller.join(5)
    assert not poller.is_alive()
    assert isinstance(outcome[0], ColoniesConnectionError)
    for ws in sockets:
        ws.close()
    client.close()
    assert server.open_connections() == 0
    leftover = [t for t in set(threading.enumerate()) - threads_before if t.is_alive()]
    assert leftover == []
    assert _fds() == fds_before
    assert fake.subscriptions() == 0
    assert not server.errors
    fake.close()
    del colony


def test_a_stopped_server_refuses_connections_and_can_start_again_on_the_same_port() -> None:
    fake = FakeColonies()
    server = FakeColoniesServer(fake).start()
    port = server.port
    server.stop()
    server.stop()  # idempotent
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    again = FakeColoniesServer(fake, port=port).start()
    assert again.port == port and again.ready()
    again.stop()
    fake.close()


def test_an_exception_inside_a_handler_is_answered_500_and_recorded(monkeypatch) -> None:
    fake = FakeColonies()
    fake.add_colony("dev")
    worker = fake.add_executor("dev", "w", "cli")
    from colonies_fake import _handlers

    def broken(*args: object) -> object:
        raise RuntimeError("a bug in a handler")

    monkeypatch.setitem(_handlers.HANDLERS, "getcolonymsg", _handlers.HANDLERS["getcolonymsg"]._replace(fn=broken))
    with FakeColoniesServer(fake) as server, ColoniesClient("127.0.0.1", server.port, prvkey=worker.prvkey) as client:
        from colonies_sync import InternalServerError

        try:
            client.get_colony("dev")
        except InternalServerError as exc:
            assert exc.status == 500 and "a bug in a handler" in exc.message
        else:  # pragma: no cover - the assertion below explains
            raise AssertionError("expected a 500 envelope")
        assert client.version().buildversion  # still serving
        assert [str(e) for e in server.errors] == ["a bug in a handler"]
    fake.close()
