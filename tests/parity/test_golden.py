"""Every server gives the real server's recorded replies (tests/data/golden).

One generic replayer (``golden.py``) runs every published transcript; nothing
here is written for one scenario. Through ``colonies_backend`` it runs them
in-process and over HTTP (on a fake clock, so the timing scenarios take no real
time) and, with ``--colonies-real``, against a real ColonyOS.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Any, Callable

import pytest
import requests

from colonies_fake import FakeClock, FakeColonies
from colonies_fake._transport import InProcessStream
from colonies_fake.pytest_plugin import ColoniesBackend
from colonies_sync._transport import StreamClosed
from tests.parity import golden


class InProcessWebSocket:
    """A ``/pubsub`` connection without sockets: frames go straight to the fake's pub/sub session."""

    def __init__(self, fake: FakeColonies) -> None:
        self.stream = InProcessStream(fake)

    def send(self, text: str, binary: bool) -> None:
        self.stream.send(text, binary)

    def receive(self, timeout: float) -> "tuple[str, str] | None":
        try:
            frame = self.stream.receive_frame(timeout)
        except StreamClosed as exc:
            raise golden.Closed() from exc
        return None if frame is None else ("binary" if frame[1] else "text", frame[0])

    def close(self) -> None:
        self.stream.close()


class WireBackend:
    """What the replayer needs, on any ``colonies_backend``: raw bodies to /api, WebSockets, time."""

    def __init__(self, backend: ColoniesBackend) -> None:
        if backend.server_prvkey is None:
            pytest.skip("the golden scenarios create colonies: they need the server key")
        self.backend = backend
        self.fake = backend.fake
        self.server_prvkey = backend.server_prvkey
        self.websocket = True
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = backend.verify

    def post(self, body: bytes) -> golden.HttpReply:
        if self.backend.kind == "inprocess":
            assert self.fake is not None
            reply = self.fake.handle_api(body)
            return golden.HttpReply(reply.status, reply.body)
        answer = self.session.post(f"{self.backend.url}/api", data=body, timeout=60)
        return golden.HttpReply(answer.status_code, answer.content, answer.headers.get("Content-Type"))

    def advance(self, seconds: float) -> None:
        self.backend.advance(seconds)

    def wait_blocked(self, done: threading.Event) -> None:
        if self.fake is not None:
            self.fake.wait_until(lambda: done.is_set() or self.fake.waiting_assigns() > 0, timeout=10)  # type: ignore[union-attr]
        else:
            done.wait(0.5)  # a real server cannot tell us: give the long-poll time to reach it

    def connect(self) -> golden.WebSocket:
        if self.backend.kind == "inprocess":
            assert self.fake is not None
            return InProcessWebSocket(self.fake)
        return golden.WebSocketClient(self.backend.ws_url, ssl_context=self.backend.ssl_context())

    def close(self) -> None:
        self.session.close()


@pytest.mark.parametrize("path", golden.scenario_files(), ids=lambda p: p.stem)
def test_server_replays_golden_transcript(path, colonies_backend: ColoniesBackend) -> None:
    """Every reply and frame of the recorded scenario matches, after the golden normalisation.

    In-process, WebSocket steps go to the fake's pub/sub session directly,
    with the frame's opcode, as the served fake's connection loop does.
    """
    scenario = golden.load(path)
    wire = WireBackend(colonies_backend)
    replayer = golden.Replayer(scenario, wire, colonies_backend.crypto)
    try:
        replayer.run()
    finally:
        replayer.close()
        wire.close()


class _Corrupting:
    """Changes one character of the n-th error message, to prove the replayer notices."""

    websocket = False

    def __init__(self, fake: FakeColonies, nth: int) -> None:
        self.fake = fake
        self.server_prvkey = fake.server_prvkey
        self.errors_seen = 0
        self.nth = nth

    def post(self, body: bytes) -> golden.HttpReply:
        reply = self.fake.handle_api(body)
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
        return golden.HttpReply(reply.status, reply.body)

    def advance(self, seconds: float) -> None:
        self.fake.clock.advance(seconds)  # type: ignore[attr-defined]

    def wait_blocked(self, done: threading.Event) -> None:
        self.fake.wait_until(lambda: done.is_set() or self.fake.waiting_assigns() > 0, timeout=10)

    def connect(self) -> golden.WebSocket:
        raise golden.Unsupported("no WebSocket in-process")


def test_replayer_notices_a_changed_error_text() -> None:
    """The harness can fail: one altered letter in a server text is a mismatch."""
    fake = FakeColonies(clock=FakeClock())
    path = golden.GOLDEN_DIR / "process_submit_auth.json"
    with pytest.raises(golden.Mismatch, match="recorded"):
        golden.Replayer(golden.load(path), _Corrupting(fake, nth=2), fake.crypto).run()
    fake.close()


def test_replayer_notices_a_wrong_status() -> None:
    fake = FakeColonies(clock=FakeClock())

    class WrongStatus(_Corrupting):
        def post(self, body: bytes) -> golden.HttpReply:
            reply = self.fake.handle_api(body)
            return golden.HttpReply(418 if reply.status == 403 else reply.status, reply.body)

    with pytest.raises(golden.Mismatch, match="HTTP 418"):
        golden.Replayer(golden.load(golden.GOLDEN_DIR / "colony_add_get.json"), WrongStatus(fake, 0), fake.crypto).run()
    fake.close()


def _rewrite_payloads(body: bytes, rewrite: Callable[[Any], None]) -> bytes:
    """A reply envelope whose JSON payload went through ``rewrite`` (changed in place); other bodies as they are."""
    try:
        envelope = json.loads(body)
        payload = json.loads(base64.b64decode(envelope["payload"]))
    except (ValueError, TypeError, KeyError):
        return body
    rewrite(payload)
    envelope["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    return json.dumps(envelope).encode()


class _Rewriting(_Corrupting):
    """Hands every reply payload to ``rewrite`` before the replayer sees it."""

    def __init__(self, fake: FakeColonies, rewrite: Callable[[Any], None]) -> None:
        super().__init__(fake, 0)
        self.rewrite = rewrite

    def post(self, body: bytes) -> golden.HttpReply:
        reply = self.fake.handle_api(body)
        return golden.HttpReply(reply.status, _rewrite_payloads(reply.body, self.rewrite))


def _reverse_attributes(payload: Any, reversed_lists: list[int], change: bool = False) -> None:
    """Reverse every process's ``attributes`` list of two or more (and with ``change``, alter its first value)."""
    for process in payload if isinstance(payload, list) else [payload]:
        attributes = process.get("attributes") if isinstance(process, dict) else None
        if isinstance(attributes, list) and len(attributes) > 1:
            attributes.reverse()
            reversed_lists.append(len(attributes))
            if change:
                attributes[0]["value"] += "!"


def test_replayer_sorts_attributes_on_both_sides() -> None:
    """The README's normalisation sorts a process's attributes by (type, key) before comparing:
    a server that lists them in another order matches, as long as they are the same attributes."""
    fake = FakeColonies(clock=FakeClock())
    reversed_lists: list[int] = []
    backend = _Rewriting(fake, lambda payload: _reverse_attributes(payload, reversed_lists))
    golden.Replayer(golden.load(golden.GOLDEN_DIR / "attributes.json"), backend, fake.crypto).run()
    assert reversed_lists, "no reply had attributes to reorder"
    fake.close()


def test_replayer_notices_a_changed_attribute_after_sorting() -> None:
    fake = FakeColonies(clock=FakeClock())
    reversed_lists: list[int] = []
    backend = _Rewriting(fake, lambda payload: _reverse_attributes(payload, reversed_lists, change=True))
    with pytest.raises(golden.Mismatch, match=r"attributes\[\d\]\.value"):
        golden.Replayer(golden.load(golden.GOLDEN_DIR / "attributes.json"), backend, fake.crypto).run()
    fake.close()


def _null_build_version(payload: Any) -> None:
    if isinstance(payload, dict) and "buildversion" in payload:
        payload["buildversion"] = None


def test_replayer_requires_the_recorded_json_type_on_a_volatile_path() -> None:
    """A volatile value is compared by presence and JSON type: ``null`` where a string was recorded differs."""
    fake = FakeColonies(clock=FakeClock())
    with pytest.raises(golden.Mismatch, match="buildversion is a JSON null, recorded a string"):
        golden.Replayer(
            golden.load(golden.GOLDEN_DIR / "server_version.json"), _Rewriting(fake, _null_build_version), fake.crypto
        ).run()
    fake.close()
