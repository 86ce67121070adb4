"""The fake's replies equal the real server's recorded ones (tests/data/golden).

One generic replayer (``golden.py``) runs every published transcript; nothing
here is written for one scenario. This module runs them in-process, on a fake
clock, so the timing scenarios take no real time.
"""

from __future__ import annotations

import threading

import pytest
import requests

from colonies_fake import FakeClock, FakeColonies, FakeColoniesServer
from tests.parity import golden


class InProcessBackend:
    """Sends request bodies straight to a FakeColonies; moves its fake clock."""

    websocket = False

    def __init__(self, fake: FakeColonies) -> None:
        self.fake = fake
        self.server_prvkey = fake.server_prvkey

    def post(self, body: bytes) -> golden.HttpReply:
        reply = self.fake.handle_api(body)
        return golden.HttpReply(reply.status, reply.body)

    def advance(self, seconds: float) -> None:
        assert isinstance(self.fake.clock, FakeClock)
        self.fake.clock.advance(seconds)

    def wait_blocked(self, done: threading.Event) -> None:
        self.fake.wait_until(lambda: done.is_set() or self.fake.waiting_assigns() > 0, timeout=10)

    def connect(self) -> golden.WebSocket:
        raise golden.Unsupported("no WebSocket in-process")


class HttpBackend(InProcessBackend):
    """The same fake served on 127.0.0.1: requests over HTTP keep-alive, WebSockets to /pubsub."""

    websocket = True

    def __init__(self, fake: FakeColonies, server: FakeColoniesServer) -> None:
        super().__init__(fake)
        self.server = server
        self.session = requests.Session()
        self.session.trust_env = False

    def post(self, body: bytes) -> golden.HttpReply:
        reply = self.session.post(self.server.url + "/api", data=body, timeout=30)
        return golden.HttpReply(reply.status_code, reply.content, reply.headers.get("Content-Type"))

    def connect(self) -> golden.WebSocket:
        return golden.WebSocketClient(f"ws://{self.server.host}:{self.server.port}/pubsub")


def _params() -> list[object]:
    """Every transcript; those with WebSocket steps are replayed up to the first of them.

    In-process there is no WebSocket, so those scenarios must stop exactly there
    (``Unsupported``): any mismatch in the steps before fails the test.
    """
    params = []
    for path in golden.scenario_files():
        marks = []
        if golden.needs_websocket(golden.load(path)):
            marks.append(pytest.mark.xfail(raises=golden.Unsupported, strict=True, reason="WebSocket steps"))
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


@pytest.mark.parametrize("path", _params())
def test_fake_replays_golden_transcript(path) -> None:
    """Every reply of the recorded scenario matches, after the golden normalisation."""
    fake = FakeColonies(clock=FakeClock())
    try:
        golden.Replayer(golden.load(path), InProcessBackend(fake), fake.crypto).run()
    finally:
        fake.close()
    assert not fake.errors, fake.errors


@pytest.mark.parametrize("path", golden.scenario_files(), ids=lambda p: p.stem)
def test_served_fake_replays_golden_transcript_over_http_and_websocket(path) -> None:
    """The same transcripts over a real socket: status lines, content types, frames and their opcodes."""
    fake = FakeColonies(clock=FakeClock())
    with FakeColoniesServer(fake) as server:
        backend = HttpBackend(fake, server)
        replayer = golden.Replayer(golden.load(path), backend, fake.crypto)
        try:
            replayer.run()
        finally:
            replayer.close()
            backend.session.close()
    fake.close()
    assert not server.errors, server.errors


class _Corrupting(InProcessBackend):
    """Changes one character of the n-th error message, to prove the replayer notices."""

    def __init__(self, fake: FakeColonies, nth: int) -> None:
        super().__init__(fake)
        self.errors_seen = 0
        self.nth = nth

    def post(self, body: bytes) -> golden.HttpReply:
        reply = super().post(body)
        if b'"error":true' in reply.body:
            self.errors_seen += 1
            if self.errors_seen == self.nth:
                import base64
                import json

                envelope = json.loads(reply.body)
                payload = json.loads(base64.b64decode(envelope["payload"]))
                payload["message"] = payload["message"].replace("n", "m", 1)
                envelope["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
                return golden.HttpReply(reply.status, json.dumps(envelope).encode())
        return reply


def test_replayer_notices_a_changed_error_text() -> None:
    """The harness can fail: one altered letter in a server text is a mismatch."""
    fake = FakeColonies(clock=FakeClock())
    path = golden.GOLDEN_DIR / "process_submit_auth.json"
    with pytest.raises(golden.Mismatch, match="recorded"):
        golden.Replayer(golden.load(path), _Corrupting(fake, nth=2), fake.crypto).run()
    fake.close()


def test_replayer_notices_a_wrong_status() -> None:
    fake = FakeColonies(clock=FakeClock())

    class WrongStatus(InProcessBackend):
        def post(self, body: bytes) -> golden.HttpReply:
            reply = super().post(body)
            return golden.HttpReply(418 if reply.status == 403 else reply.status, reply.body)

    with pytest.raises(golden.Mismatch, match="HTTP 418"):
        golden.Replayer(golden.load(golden.GOLDEN_DIR / "colony_add_get.json"), WrongStatus(fake), fake.crypto).run()
    fake.close()
