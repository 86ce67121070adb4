"""HttpTransport: POST /api over keep-alive HTTP, errors translated at the boundary.

These run against a tiny stdlib HTTP server on 127.0.0.1 that answers with
canned bodies, so they test only the transport (the fake's own HTTP front end
is tested with it elsewhere).
"""

from __future__ import annotations

import http.server
import socket
import threading
from typing import Iterator

import pytest

from colonies_sync import ColoniesClient, ColoniesConnectionError, HttpTransport, ProtocolError, ServerError
from colonies_sync._transport import RawReply


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        server: _Server = self.server  # type: ignore[assignment]
        server.requests.append((self.path, self.headers.get("Content-Type"), body, self.client_address[1]))
        if server.hold is not None:
            server.hold.wait(5)
        status, reply = server.reply
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    requests: list[tuple[str, str | None, bytes, int]]
    reply: tuple[int, bytes]
    hold: threading.Event | None

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out leaves a broken pipe behind: expected here


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.requests = []
    srv.reply = (200, b'{"payloadtype":"versionmsg","payload":"e30=","error":false}')
    srv.hold = None
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    if srv.hold is not None:
        srv.hold.set()
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def test_posts_the_envelope_to_api_and_returns_status_and_body(server: _Server) -> None:
    transport = HttpTransport("127.0.0.1", server.server_address[1])
    server.reply = (403, b"raw reply")
    assert transport.call(b'{"x":1}', timeout=5) == RawReply(403, b"raw reply")
    path, content_type, body, _ = server.requests[0]
    assert (path, content_type, body) == ("/api", "application/json", b'{"x":1}')
    transport.close()


def test_reuses_one_connection_for_consecutive_calls(server: _Server) -> None:
    transport = HttpTransport("127.0.0.1", server.server_address[1])
    for _ in range(5):
        transport.call(b"{}", timeout=5)
    client_ports = {port for *_, port in server.requests}
    assert len(client_ports) == 1
    transport.close()


def test_a_refused_connection_is_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        transport = HttpTransport("127.0.0.1", port)
        with pytest.raises(ColoniesConnectionError, match="cannot reach http://127.0.0.1"):
            transport.call(b"{}", timeout=5)


def test_no_reply_within_the_timeout_is_a_connection_error(server: _Server) -> None:
    server.hold = threading.Event()
    transport = HttpTransport("127.0.0.1", server.server_address[1])
    with pytest.raises(ColoniesConnectionError, match="no reply .* within 0.2 s"):
        transport.call(b"{}", timeout=0.2)
    server.hold.set()
    transport.close()


def test_a_closed_transport_refuses_calls(server: _Server) -> None:
    transport = HttpTransport("127.0.0.1", server.server_address[1])
    transport.close()
    transport.close()  # idempotent
    with pytest.raises(ColoniesConnectionError, match="closed"):
        transport.call(b"{}", timeout=5)


def test_client_maps_an_empty_200_body_to_a_protocol_error(server: _Server) -> None:
    server.reply = (200, b"")
    with ColoniesClient("127.0.0.1", server.server_address[1], prvkey="11" * 32) as client:
        with pytest.raises(ProtocolError) as info:
            client.rpc("getcolonystatsmsg", {"colonyname": "dev"})
    assert info.value.status == 200 and info.value.text == ""


def test_client_maps_an_error_envelope_whatever_the_http_status(server: _Server) -> None:
    # {"status":400,"message":"bad"} with HTTP 200: the envelope decides, not the status line.
    server.reply = (200, b'{"payloadtype":"error","payload":"eyJzdGF0dXMiOjQwMCwibWVzc2FnZSI6ImJhZCJ9","error":true}')
    with ColoniesClient("127.0.0.1", server.server_address[1], prvkey="11" * 32) as client:
        with pytest.raises(ServerError) as info:
            client.get_colony("dev")
    assert (info.value.status, info.value.message, info.value.http_status) == (400, "bad", 200)


def test_urls_for_tls_and_ipv6() -> None:
    assert HttpTransport("::1", 443, tls=True).base_url == "https://[::1]:443"
    assert HttpTransport("localhost", 50080).ws_url == "ws://localhost:50080/pubsub"
    # The stream's own socket takes the bare address, with or without the URL's brackets.
    for given in ("::1", "[::1]"):
        transport = HttpTransport(given, 50080)
        assert (transport.base_url, transport._address) == ("http://[::1]:50080", ("::1", 50080))


def test_requests_and_streams_both_ignore_proxies_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """One rule for both paths: a proxy in the environment is used by neither (here it would refuse)."""
    from colonies_fake import FakeColonies, FakeColoniesServer

    with socket.socket() as closed:  # bound, never listening: connecting to it is refused
        closed.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{closed.getsockname()[1]}"
        for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy)
        for name in ("no_proxy", "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
        with FakeColonies() as fake, FakeColoniesServer(fake) as served:
            transport = HttpTransport("127.0.0.1", served.port)
            try:
                assert (
                    transport.call(b"{}", timeout=5).status == 403
                )  # the fake answered (an empty envelope), not the proxy
                stream = transport.open_stream(timeout=5)
                stream.close()
            finally:
                transport.close()
