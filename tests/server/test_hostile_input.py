"""Bad input never takes the served fake down (1,000 random and malformed bodies, and frames).

Each input belongs to a class whose real answer is known (PROTOCOL.md 2.3, 9.1):
not JSON or not an envelope -> 400; ``null`` -> 500 with an empty body; a
signature that cannot be recovered -> 403; an unknown type -> 403; a payload
that does not decode -> 400. Every other answer must still be an envelope
whose payload status equals the HTTP status, and nothing may go wrong inside
the fake. On WebSocket, frames the real server drops the connection for are
dropped without a frame; an unknown type leaves the socket open and silent.
"""

from __future__ import annotations

import base64
import json
import random
import string
from typing import Any, Iterator

import pytest
import requests
from websocket import ABNF, WebSocketConnectionClosedException, WebSocketTimeoutException, create_connection

from colonies_fake import FakeColonies, FakeColoniesServer
from colonies_fake._handlers import HANDLERS
from colonies_sync import Crypto

SEED = 20261126
BODIES = 1000
FRAMES = 200
KEY = Crypto().generate_private_key()
TYPES = sorted(HANDLERS)


def _junk(rng: random.Random) -> str:
    return "".join(rng.choice(string.printable) for _ in range(rng.randint(0, 40)))


def _json_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(7 if depth < 3 else 4)
    if kind == 0:
        return rng.randint(-(2**70), 2**70)
    if kind == 1:
        return rng.random() * 1e10
    if kind == 2:
        return _junk(rng)
    if kind == 3:
        return rng.choice([True, False, None])
    if kind == 4:
        return [_json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {_junk(rng)[:8]: _json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def _signed(payloadtype: str, payload_text: str) -> str:
    encoded = base64.b64encode(payload_text.encode("utf-8", "replace")).decode()
    return json.dumps({"payloadtype": payloadtype, "payload": encoded, "signature": Crypto().sign(encoded, KEY)})


def _case(rng: random.Random) -> tuple[str, bytes, set[int]]:
    """(class, body, allowed statuses)."""
    pick = rng.randrange(8)
    if pick == 0:
        return "not json", bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64))), {400}
    if pick == 1:
        value = rng.choice([[], 42, "text", True, [1, 2], 3.5])
        return "not an object", json.dumps(value).encode(), {400}
    if pick == 2:
        return "null", b"null", {500}
    if pick == 3:
        env = {"payloadtype": _json_value(rng), "payload": _json_value(rng), "signature": _json_value(rng)}
        if all(isinstance(env[k], str) for k in env):
            env["payload"] = 5  # make sure one field has a wrong type
        return "wrong field types", json.dumps(env).encode(), {400}
    if pick == 4:
        payloadtype = rng.choice([t for t in TYPES if t != "versionmsg"])  # the one type answered unsigned
        env = {
            "payloadtype": payloadtype,
            "payload": "e30=",
            "signature": rng.choice(["", "zz", "00" * 64, _junk(rng)]),
        }
        return "bad signature", json.dumps(env).encode(), {403}
    if pick == 5:
        return "unknown type", _signed("no" + _junk(rng).replace('"', ""), "{}").encode(), {403}
    if pick == 6:
        payloadtype = rng.choice([t for t in TYPES if t != "getserverinfomsg"])
        text = rng.choice([_junk(rng), json.dumps(_json_value(rng)), "[]", "42"])
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict) or text == "null":
            text = "[" + text + "]"  # not an object: this class is "does not decode"
        return "payload does not decode", _signed(payloadtype, text).encode(), {400}
    payloadtype = rng.choice(TYPES)
    message = {k: _json_value(rng) for k in ("colonyname", "processid", "name", "state", "count", "timeout")}
    message["msgtype"] = payloadtype
    if payloadtype == "assignprocessmsg":
        message["timeout"] = -1  # a long-poll would only slow the test down
    return "random message", _signed(payloadtype, json.dumps(message)).encode(), {200, 400, 403, 404, 408, 500, 503}


@pytest.fixture
def server() -> Iterator[FakeColoniesServer]:
    fake = FakeColonies(rate_limit=False)
    fake.add_colony("dev")
    with FakeColoniesServer(fake) as served:
        yield served
    fake.close()


def test_a_thousand_bad_bodies_get_the_real_statuses_and_the_server_keeps_serving(
    server: FakeColoniesServer,
) -> None:
    rng = random.Random(SEED)
    seen: dict[str, int] = {}
    with requests.Session() as http:
        for _ in range(BODIES):
            kind, body, allowed = _case(rng)
            seen[kind] = seen.get(kind, 0) + 1
            reply = http.post(server.url + "/api", data=body, timeout=10)
            assert reply.status_code in allowed, (kind, body[:200], reply.status_code, reply.text[:200])
            if not reply.content:
                # The real server's empty answers: 500 when a handler dereferences a nil message
                # (a panic caught by gin), 200 for colony statistics refused to a non-member.
                assert kind in ("null", "random message") and reply.status_code in (500, 200), (kind, body[:200])
                continue
            envelope = reply.json()
            payload = json.loads(base64.b64decode(envelope["payload"]))
            if envelope["error"]:
                assert payload["status"] == reply.status_code, (kind, payload)
                assert not payload["message"].startswith("internal error in the fake"), (kind, body[:200], payload)
            else:
                assert reply.status_code == 200
        assert len(seen) == 8 and min(seen.values()) > 50  # every class was exercised
        assert http.get(server.url + "/health").status_code == 200
    assert not server.errors, server.errors


def _answer(reply: requests.Response) -> tuple[int, str]:
    return reply.status_code, json.loads(base64.b64decode(reply.json()["payload"]))["message"]


NOT_MEMBER = "Access denied, not a member of Colony with name <dev>"


@pytest.mark.parametrize(
    ("body", "answers"),
    [
        # A \u escape of a lone surrogate reads as U+FFFD (Go's decoder), and is echoed as such.
        (_signed("\ud800x", "{}"), {(403, "invalid rpcMsg.PayloadType: \ufffdx")}),
        (
            _signed("getcolonymsg", '{"msgtype":"getcolonymsg","colonyname":"\\udfff"}'),
            {(403, "Colony with name <\ufffd> does not exists")},
        ),
        # A later null leaves a string field as it was: the request goes on as a getcolonymsg.
        (
            _signed("getcolonymsg", '{"msgtype":"getcolonymsg","colonyname":"dev"}')[:-1] + ',"payloadtype":null}',
            {(403, NOT_MEMBER)},
        ),
        # Nesting Go takes but the fake cannot follow: refused as too deep, never a crash.
        (
            _signed("closesuccessfulmsg", '{"msgtype":"closesuccessfulmsg","out":' + "[" * 700 + "]" * 700 + "}"),
            {
                (400, "Failed to close successful, invalid JSON"),
                (500, "Failed to close process as successful, process is nil"),  # decoded whole
            },
        ),
    ],
    ids=["surrogate-payloadtype", "surrogate-field", "null-after-value", "deep"],
)
def test_go_decoding_corners_are_answered_as_go_reads_them(
    server: FakeColoniesServer, body: str, answers: set[tuple[int, str]]
) -> None:
    """Found by tests/stress/test_fuzz.py: each of these made the fake answer 500 "internal error"
    or misread the envelope."""
    reply = requests.post(server.url + "/api", data=body.encode(), timeout=10)
    assert _answer(reply) in answers
    assert not server.errors, server.errors


PROBE = _signed("subscribechannelmsg", json.dumps({"msgtype": "probe"}))
PROBE_ANSWER = "Failed to subscribe to channel, msg.MsgType does not match rpcMsg.PayloadType"


def _receive(ws: Any, wait: float) -> Any:
    ws.settimeout(wait)
    try:
        opcode, data = ws.recv_data()
    except WebSocketTimeoutException:
        return "silent"
    except (WebSocketConnectionClosedException, ConnectionError, OSError):
        return "dropped"
    return "dropped" if opcode == ABNF.OPCODE_CLOSE else json.loads(data)


def test_random_frames_are_dropped_ignored_or_answered_as_the_real_server_does(server: FakeColoniesServer) -> None:
    rng = random.Random(SEED + 1)
    url = f"ws://127.0.0.1:{server.port}/pubsub"
    ws = create_connection(url, timeout=5)
    for _ in range(FRAMES):
        pick = rng.randrange(4)
        binary = rng.random() < 0.3
        if pick == 0:  # not an envelope: the connection goes, without a frame
            frame, expect = rng.choice([_junk(rng) or "x", "[]", "null", "42"]), "dropped"
        elif pick == 1:  # a signature that cannot be recovered: likewise
            frame, expect = (
                json.dumps({"payloadtype": "subscribeprocessmsg", "payload": "e30=", "signature": "00"}),
                "dropped",
            )
        elif pick == 2:  # an unknown type, validly signed: ignored (checked by the next frame's answer)
            frame, expect = _signed("nosuchmsg", "{}"), "silent"
        else:  # a channel subscription whose payload does not decode: an error frame, socket open
            frame, expect = _signed("subscribechannelmsg", rng.choice(["[]", "42", _junk(rng) or "x"])), "error 400"
        ws.send(frame.encode() if binary else frame, opcode=ABNF.OPCODE_BINARY if binary else ABNF.OPCODE_TEXT)
        if expect == "silent":
            ws.send(PROBE)  # answered at once: if nothing came for the ignored frame, this answer comes first
            got = _receive(ws, 5)
            assert got not in ("dropped", "silent") and got["payloadtype"] == "error", (frame, got)
            assert json.loads(base64.b64decode(got["payload"]))["message"] == PROBE_ANSWER
            continue
        got = _receive(ws, 5)
        if expect == "error 400":
            assert got not in ("dropped", "silent") and got["error"] is True, (frame, got)
            assert json.loads(base64.b64decode(got["payload"]))["status"] == 400
        else:
            assert got == expect, (frame, got)
        if got == "dropped":
            ws.close()
            ws = create_connection(url, timeout=5)
    ws.close()
    assert requests.get(server.url + "/health", timeout=5).status_code == 200
    assert not server.errors, server.errors
