"""Hostile input, property-based: fuzzed ``/api`` bodies and ``/pubsub`` first frames against the served fake.

Hypothesis draws arbitrary bytes and text, arbitrary JSON, and (most often)
mutations of valid signed envelopes built with the client's own
``encode_request``: fields of the wrong type, missing or renamed, huge numbers,
unicode (lone surrogates too), bad base64, bad signatures, junk or deeply nested
payloads, and valid signatures over junk payloads, signed by every kind of
caller. Whatever comes in:

* nothing goes wrong inside the server or the fake (``server.errors`` stays empty);
* every request is answered (or its connection dropped) within a bound;
* a 5xx only comes where the real server gives one (PROTOCOL.md 1.1, 2.3 and
  the tables of section 5): an empty 500 for a ``null`` envelope or message,
  and the few documented handler texts;
* a signed request of a normal client still gets its answer afterwards.

On ``/pubsub`` each case is the first frame on a fresh WebSocket; the answer
is checked against PROTOCOL.md 9.1-9.5: no JSON envelope or no recoverable
signature drops the connection without a frame, an unknown type is ignored,
and each subscription answers its errors with its own statuses.

Long-polls are defused (an assign or a channel subscription that would wait is
sent with timeout -1), so that "no answer" always means a hang. Sizes: a few
hundred cases per test by default, 10,000 with ``COLONIES_STRESS=1``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from websocket import ABNF, WebSocket, WebSocketException, WebSocketTimeoutException, create_connection

from colonies_fake import FakeColonies, FakeColoniesServer
from colonies_fake._handlers import HANDLERS
from colonies_sync import Crypto, FunctionSpec, InvalidSignature
from colonies_sync._rpc import encode_request
from tests.stress.scale import FULL, scaled

API_CASES = scaled(10_000, 300)
FRAME_CASES = scaled(10_000, 300)
ANSWER_WITHIN = 10.0  # seconds: every reply here is immediate, so this only catches hangs

CRYPTO = Crypto()


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,  # the same cases on every run: a failure here is reproducible as is
        database=None,  # and nothing is written into the checkout
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
        # Shrinking replays a failure many times (a hang costs ANSWER_WITHIN each): at full size that
        # could outlast the per-test timeout, so the stress run reports its first failure as found.
        phases=[phase for phase in Phase if not (FULL and phase is Phase.shrink)],
    )


# --- the world the fuzz runs against -------------------------------------------------------


@dataclass
class World:
    """A served fake with a colony ``dev`` (processes in several states, a channel with entries),
    the keys of every kind of caller, and a colony ``health`` the fuzz never names."""

    fake: FakeColonies
    server: FakeColoniesServer
    keys: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)
    pids: dict[str, str] = field(default_factory=dict)
    health_key: str = ""

    @property
    def url(self) -> str:
        return self.server.url

    def check_healthy(self, http: requests.Session, errors_before: int) -> None:
        """No error recorded since ``errors_before``, and a normal signed request gets its normal answer."""
        assert self.server.errors[errors_before:] == []
        body = encode_request({"msgtype": "getcolonymsg", "colonyname": "health"}, self.health_key, CRYPTO)
        reply = http.post(self.url + "/api", data=body, timeout=ANSWER_WITHIN)
        assert reply.status_code == 200, reply.text
        envelope = json.loads(reply.content)
        assert json.loads(base64.b64decode(envelope["payload"]))["name"] == "health"


@contextlib.contextmanager
def served_world() -> Iterator[World]:
    fake = FakeColonies(rate_limit=False)  # the fuzz appends far more than a real burst allows
    dev = fake.add_colony("dev")
    worker = fake.add_executor("dev", "worker", "test")
    pending = fake.add_executor("dev", "pending", "test", approved=False)
    alice = fake.add_user("dev", "alice")
    fake.add_colony("health")
    doctor = fake.add_executor("health", "doctor", "test")
    keys = {
        "worker": worker.prvkey,
        "alice": alice.prvkey,
        "pending": pending.prvkey,
        "colony-owner": dev.prvkey,
        "server-owner": fake.server_prvkey,
        "stranger": CRYPTO.generate_private_key(),
    }
    submitter = fake.client(alice.prvkey)
    executor = fake.client(worker.prvkey)
    pids = {}
    for name in ("success", "running", "waiting"):  # assign takes the oldest first
        spec = FunctionSpec.create("echo", "dev", "test", channels=["chat"], maxexectime=-1, maxwaittime=-1)
        pids[name] = submitter.submit_function_spec(spec).processid
    for n in range(3):
        submitter.channel_append(pids["waiting"], "chat", n + 1, 0, f"hello {n}")
    for name in ("success", "running"):
        assert executor.assign("dev", -1).processid == pids[name]
    executor.add_attribute(pids["running"], "answer", "42")
    executor.close_process(pids["success"], ["done"])
    ids = {name: CRYPTO.id(key) for name, key in keys.items()}
    with FakeColoniesServer(fake) as server:
        try:
            yield World(fake, server, keys, ids, pids, doctor.prvkey)
        finally:
            submitter.close()
            executor.close()
    fake.close()


def base_messages(world: World) -> list[dict[str, Any]]:
    """One valid message of every type the fake handles (and the WebSocket-only ones)."""
    waiting, running, success = world.pids["waiting"], world.pids["running"], world.pids["success"]
    spec = FunctionSpec.create("echo", "dev", "test", args=["x"], channels=["chat"], env={"A": "1"}).to_dict()
    attribute = {"targetid": running, "key": "k", "value": "v", "attributetype": 1, "targetcolonyname": "dev"}
    executor = {"executorid": "cd" * 32, "executortype": "test", "executorname": "fuzz-exec", "colonyname": "dev"}
    user = {"colonyname": "dev", "userid": "ef" * 32, "name": "fuzz-user", "email": "", "phone": ""}
    return [
        {"msgtype": "versionmsg", "buildversion": "", "buildtime": ""},
        {"msgtype": "getserverinfomsg"},
        {"msgtype": "getstatisticsmsg"},
        {"msgtype": "addcolonymsg", "colony": {"colonyid": "ab" * 32, "name": "fuzz"}},
        {"msgtype": "getcolonymsg", "colonyname": "dev"},
        {"msgtype": "getcoloniesmsg"},
        {"msgtype": "removecolonymsg", "colonyname": "fuzz"},
        {"msgtype": "getcolonystatsmsg", "colonyname": "dev"},
        {"msgtype": "addexecutormsg", "executor": executor},
        {"msgtype": "approveexecutormsg", "colonyname": "dev", "executorname": "fuzz-exec"},
        {"msgtype": "rejectexecutormsg", "colonyname": "dev", "executorname": "fuzz-exec"},
        {"msgtype": "removeexecutormsg", "colonyname": "dev", "executorname": "fuzz-exec"},
        {"msgtype": "getexecutorsmsg", "colonyname": "dev"},
        {"msgtype": "getexecutormsg", "colonyname": "dev", "executorname": "worker"},
        {"msgtype": "getexecutorbyidmsg", "colonyname": "dev", "executorid": world.ids["worker"]},
        {"msgtype": "addusermsg", "user": user},
        {"msgtype": "getusersmsg", "colonyname": "dev"},
        {"msgtype": "getusermsg", "colonyname": "dev", "name": "alice"},
        {"msgtype": "removeusermsg", "colonyname": "dev", "name": "fuzz-user"},
        {"msgtype": "getfunctionsmsg", "colonyname": "dev", "executorname": "worker"},
        {"msgtype": "submitfuncspecmsg", "spec": spec},
        {"msgtype": "assignprocessmsg", "colonyname": "dev", "timeout": -1, "availablecpu": "", "availablemem": ""},
        {"msgtype": "getprocessmsg", "processid": running},
        {"msgtype": "getprocessesmsg", "colonyname": "dev", "count": 10, "state": 0, "executortype": "test"},
        {"msgtype": "removeprocessmsg", "processid": success},
        {"msgtype": "removeallprocessesmsg", "colonyname": "dev", "state": 4},
        {"msgtype": "closesuccessfulmsg", "processid": running, "out": ["x"]},
        {"msgtype": "closefailedmsg", "processid": running, "errors": ["x"]},
        {"msgtype": "setoutputmsg", "processid": running, "out": [1, 2]},
        {"msgtype": "cancelprocessmsg", "processid": waiting},
        {"msgtype": "pauseassignmentsmsg", "colonyname": "dev"},
        {"msgtype": "resumeassignmentsmsg", "colonyname": "dev"},
        {"msgtype": "getpausestatusmsg", "colonyname": "dev"},
        {"msgtype": "addlogmsg", "processid": running, "message": "log line"},
        {"msgtype": "getlogsmsg", "colonyname": "dev", "processid": running, "count": 10, "since": 0, "latest": False},
        {"msgtype": "addattributemsg", "attribute": attribute},
        {"msgtype": "getattributemsg", "attributeid": CRYPTO.hash(f"{running}answer1")},
        {"msgtype": "channelappendmsg", "processid": waiting, "name": "chat", "sequence": 9, "payload": "aGk="},
        {"msgtype": "channelreadmsg", "processid": waiting, "name": "chat", "afterseq": 0, "limit": 0},
        *ws_messages(world),
    ]


def ws_messages(world: World) -> list[dict[str, Any]]:
    """One valid message of each ``/pubsub`` type."""
    waiting = world.pids["waiting"]
    return [
        {"msgtype": "subscribeprocessmsg", "processid": waiting, "executortype": "", "state": 0, "timeout": 5},
        {"msgtype": "subscribeprocessesmsg", "colonyname": "dev", "executortype": "test", "state": 0, "timeout": 5},
        {"msgtype": "subscribechannelmsg", "processid": waiting, "name": "chat", "afterseq": 0, "timeout": -1},
    ]


# --- strategies ----------------------------------------------------------------------------

ODD_STRINGS = ["", "\x00", "\ud800", "\udfff", "a\udc00b", "\U0001f600", "<>&", "\u2028", "\u212a", "\u017f", "\\", '"']
# Numbers and near-numbers that Go's decoder and Python's read differently, if at all.
RAW_NUMBERS = ["1e400", "-1e400", "-0", "1.0", "1E2", "01", "NaN", "Infinity", "-", "1e", "0x10", "9" * 40, "tru"]
HUGE_INTS = [2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**30, -(10**30)]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(HUGE_INTS),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.text(st.characters(exclude_categories=()), max_size=12),  # lone surrogates and controls too
    st.sampled_from(ODD_STRINGS),
)
json_values = st.recursive(
    scalars,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(st.text(st.characters(exclude_categories=()), max_size=8), kids, max_size=4)
    ),
    max_leaves=12,
)
signer_names = st.sampled_from(["worker", "alice", "pending", "colony-owner", "server-owner", "stranger"])


def _json_text(value: Any, ascii_only: bool) -> bytes:
    # Raw surrogates become invalid UTF-8 bytes, which the server must read as U+FFFD, as Go does.
    return json.dumps(value, ensure_ascii=ascii_only, separators=(",", ":")).encode("utf-8", "surrogatepass")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _fold(key: str) -> str:
    return key.lower()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def defuse(message: Any, payloadtype: str) -> Any:
    """The message with every wait cut short: a long-poll is not a hang, but would look like one."""
    if not isinstance(message, dict):
        return message
    timeouts = {k: v for k, v in message.items() if _fold(k) == "timeout"}
    rest = {k: v for k, v in message.items() if k not in timeouts}
    if payloadtype == "subscribechannelmsg":  # 0 (or none) means 30 s: a wait as well
        timeouts = {k: -1 if v is None or (_is_int(v) and v >= 0) else v for k, v in timeouts.items()}
        timeouts = timeouts or {"timeout": -1}
    elif payloadtype not in ("subscribeprocessmsg", "subscribeprocessesmsg"):  # an assign would long-poll
        timeouts = {k: -1 if _is_int(v) and v > 0 else v for k, v in timeouts.items()}
    return {**timeouts, **rest}  # first: a raw number spliced in for the last value never lands there


@dataclass
class Case:
    """One request body, how it was made, and the statuses its class must get (``None``: any documented one)."""

    label: str
    body: bytes
    expect: Optional[frozenset[int]] = None


@st.composite
def message_mutation(draw: st.DrawFn, message: dict[str, Any]) -> tuple[str, Any]:
    """A mutated message (or a replacement for it), and what was done."""
    kind = draw(st.sampled_from(["value", "delete", "extra", "msgtype", "case", "whole", "deep"]))
    out = dict(message)
    keys = sorted(out)
    if kind == "value":
        key = draw(st.sampled_from(keys))
        inner = out[key]
        if isinstance(inner, dict) and inner and draw(st.booleans()):
            inner = dict(inner)
            inner[draw(st.sampled_from(sorted(inner)))] = draw(json_values)
            out[key] = inner
        else:
            out[key] = draw(json_values)
    elif kind == "delete":
        del out[draw(st.sampled_from(keys))]
    elif kind == "extra":
        out.update(draw(st.dictionaries(st.text(max_size=10), json_values, min_size=1, max_size=3)))
    elif kind == "msgtype":
        out["msgtype"] = draw(st.one_of(json_values, st.sampled_from(["getcolonymsg", "MsgType", ""])))
    elif kind == "case":
        key = draw(st.sampled_from(keys))
        out[draw(st.sampled_from([key.upper(), key.title(), key.replace("k", "\u212a").replace("s", "\u017f")]))] = (
            out.pop(key)
        )
    elif kind == "whole":
        return kind, draw(json_values)
    else:  # deep: a list or object (as spec.args) nested far beyond anything real
        depth = draw(st.sampled_from([64, 300, 500, 700, 900, 1100, 5000, 20000]))
        nested = [(k, None) for k in keys if isinstance(out[k], (list, dict))]
        nested += [(k, i) for k in keys if isinstance(out[k], dict) for i in sorted(out[k])]
        nested = [(k, i) for k, i in nested if i is None or isinstance(out[k][i], (list, dict))]
        key, inner = draw(st.sampled_from(nested or [(k, None) for k in keys]))
        if inner is None:
            out[key] = "\x00DEEP\x00"
        else:
            out[key] = dict(out[key], **{inner: "\x00DEEP\x00"})
        return kind, (out, depth)
    return kind, out


def _payload_bytes(mutated: Any, ascii_only: bool, raw_number: Optional[str]) -> bytes:
    if isinstance(mutated, tuple):  # deep nesting, spliced into the text
        message, depth = mutated
        text = _json_text(message, True)
        return text.replace(b'"\\u0000DEEP\\u0000"', b"[" * depth + b"]" * depth)
    text = _json_text(mutated, ascii_only)
    if raw_number is not None and isinstance(mutated, dict) and mutated:
        # The last value becomes a raw number-like token: Go's number grammar at work.
        last = json.dumps(list(mutated)[-1], ensure_ascii=True)
        head = _json_text({k: v for k, v in list(mutated.items())[:-1]}, ascii_only)[:-1]
        sep = b"," if len(mutated) > 1 else b""
        text = head + sep + last.encode() + b":" + raw_number.encode() + b"}"
    return text


def _corrupt_base64(draw: st.DrawFn, payload: str) -> str:
    how = draw(st.sampled_from(["strip-padding", "urlsafe", "insert", "truncate", "append", "spaces", "newlines"]))
    if how == "strip-padding":
        return payload.rstrip("=")
    if how == "urlsafe":
        return payload.replace("+", "-").replace("/", "_") + draw(st.sampled_from(["", "-_"]))
    if how == "insert":
        at = draw(st.integers(0, len(payload)))
        return payload[:at] + draw(st.sampled_from(["!", "*", "=", "é", "\x00", "====", "\ud800"])) + payload[at:]
    if how == "truncate":
        return payload[: draw(st.integers(0, len(payload)))]
    if how == "append":
        return payload + draw(st.text(max_size=8))
    if how == "spaces":
        return " " + payload + " "
    return "\r\n".join(payload[i : i + 7] for i in range(0, len(payload), 7))


def _corrupt_signature(draw: st.DrawFn, signature: str, payload: str, key: str) -> str:
    how = draw(
        st.sampled_from(
            [
                "empty",
                "junk",
                "short",
                "long",
                "odd",
                "flip",
                "upper",
                "v",
                "r-zero",
                "high-s",
                "other-message",
                "non-string-hex",
            ]
        )
    )
    if how == "empty":
        return ""
    if how == "junk":
        return draw(st.text(max_size=140))
    if how == "short":
        return signature[:128]
    if how == "long":
        return signature + "00"
    if how == "odd":
        return signature[:-1]
    if how == "flip":
        at = draw(st.integers(0, len(signature) - 1))
        return signature[:at] + ("0" if signature[at] != "0" else "1") + signature[at + 1 :]
    if how == "upper":
        return signature.upper()
    if how == "v":
        return signature[:128] + format(draw(st.integers(0, 255)), "02x")
    if how == "r-zero":
        return "00" * 32 + signature[64:]
    if how == "high-s":
        n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
        s = int(signature[64:128], 16)
        v = int(signature[128:], 16) ^ 1
        return signature[:64] + format(n - s, "064x") + format(v, "02x")
    if how == "other-message":
        return CRYPTO.sign(_go_string(payload) + "x", key)
    return "\u0660" * 130  # digits to Python's int(), not to Go's hex decoder


@st.composite
def envelope_case(draw: st.DrawFn, world: World, bases: list[dict[str, Any]]) -> Case:
    """A valid signed envelope, then up to three of: message, payload, signature and envelope mutations."""
    base = draw(st.sampled_from(bases))
    payloadtype = base["msgtype"]
    signer = draw(signer_names)
    key = world.keys[signer]
    mode = draw(st.sampled_from(["handler", "handler", "handler", "mixed", "mixed", "valid"]))
    if mode == "handler":  # a well-signed junk message: what the handlers themselves make of it
        steps = ["message"]
    elif mode == "mixed":
        steps = draw(
            st.lists(
                st.sampled_from(["message", "base64", "signature", "envelope", "retype"]),
                min_size=1,
                max_size=3,
                unique=True,
            )
        )
    else:
        steps = []
    label = "+".join(steps) or "valid"
    message: Any = base
    if "message" in steps:
        kind, message = draw(message_mutation(base))
        label += f"({kind})"
    raw_number = draw(st.none() | st.sampled_from(RAW_NUMBERS)) if "message" in steps else None
    message = defuse(message, payloadtype) if not isinstance(message, tuple) else message
    payload = _b64(_payload_bytes(message, draw(st.booleans()), raw_number))
    signature = CRYPTO.sign(payload, key)
    if "base64" in steps:
        corrupted = _corrupt_base64(draw, payload)
        if draw(st.booleans()):  # a valid signature over the junk; else the old one, which names another caller
            signature = CRYPTO.sign(_go_string(corrupted), key)
        payload = corrupted
    if "signature" in steps:
        signature = _corrupt_signature(draw, signature, payload, key)
    if payloadtype in ("versionmsg", "getserverinfomsg") and draw(st.booleans()):
        signature = ""  # as the Go client sends them
    if "retype" in steps:
        payloadtype = draw(
            st.sampled_from([b["msgtype"] for b in bases]) | st.text(max_size=20) | st.sampled_from(ODD_STRINGS)
        )
    envelope: dict[str, Any] = {"payloadtype": payloadtype, "payload": payload, "signature": signature}
    expect: Optional[frozenset[int]] = None
    if "envelope" in steps:
        how = draw(st.sampled_from(["wrong-type", "delete", "case", "extra", "null-field", "duplicate"]))
        name = draw(st.sampled_from(sorted(envelope)))
        label += f"({how})"
        if how == "wrong-type":
            envelope[name] = draw(json_values.filter(lambda v: v is not None and not isinstance(v, str)))
            expect = frozenset({400})  # Go cannot decode the envelope
        elif how == "delete":
            del envelope[name]
        elif how == "case":
            envelope[draw(st.sampled_from([name.upper(), name.title(), name.capitalize()]))] = envelope.pop(name)
        elif how == "extra":
            envelope.update(draw(st.dictionaries(st.text(max_size=10), json_values, min_size=1, max_size=3)))
        elif how == "null-field":
            envelope[name] = None
        else:
            text = (
                _json_text(envelope, True)[:-1]
                + b","
                + json.dumps(name).encode()
                + b":"
                + _json_text(draw(json_values), True)
                + b"}"
            )
            return Case(label, text, None)
    return Case(label, _json_text(envelope, draw(st.booleans())), expect)


def api_cases(world: World) -> st.SearchStrategy[Case]:
    bases = base_messages(world)
    kinds = {
        "envelope": envelope_case(world, bases),
        "bytes": st.binary(max_size=200).map(lambda b: Case("bytes", b)),
        "text": st.text(max_size=200).map(lambda t: Case("text", t.encode("utf-8"))),
        "json": json_values.map(lambda v: Case("json", _json_text(v, True))),
    }
    # Mostly envelopes: junk that is not even an envelope is turned away at the first step.
    return st.sampled_from(["envelope"] * 4 + ["bytes", "text", "json"]).flatmap(kinds.__getitem__)


# --- what the real server may answer -------------------------------------------------------

# Every 5xx the real server's handlers write, by message type (PROTOCOL.md 5.2-5.8 and 1.1).
ALLOWED_5XX: dict[str, set[tuple[int, str]]] = {
    "getcolonymsg": {(500, "Failed to get colony, colony is nil")},
    "approveexecutormsg": {(500, "Failed to approve executor, executor is nil")},
    "rejectexecutormsg": {(500, "Failed to reject executor, executor is nil")},
    "removeexecutormsg": {(500, "Failed to remove executor, executor is nil")},
    "getexecutormsg": {(500, "Failed to get executor, executor is nil")},
    "getusermsg": {(500, "Failed to get user, user is nil")},
    "assignprocessmsg": {
        (500, "Failed to assign process, executor not found"),
        (503, "No processes available: colony assignments are paused"),
        (408, "Assignment timeout: colony assignments are paused"),
    },
    "removeprocessmsg": {(500, "Failed to remove process, process is nil")},
    "closesuccessfulmsg": {(500, "Failed to close process as successful, process is nil")},
    "closefailedmsg": {(500, "Failed to close process as failed, process is nil")},
    "setoutputmsg": {(500, "Failed to set output, process is nil")},
    "cancelprocessmsg": {(500, "Failed to cancel process, process is nil")},
    "addlogmsg": {(500, "Failed to add log, process is nil")},
    "getlogsmsg": {
        (500, "Failed to get logs, executor does not exist"),
        (500, "Failed to get logs, process does not exist"),
    },
    "channelappendmsg": {
        (500, "process has too many channels"),
        (500, "message payload exceeds maximum size"),
        (500, "rate limit exceeded"),
        (500, "channel log is full"),
    },
    "channelreadmsg": {(500, "process has too many channels")},
}
_SURROGATE = re.compile("[\ud800-\udfff]")


def _go_string(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text)


class _Null:
    """The envelope is the JSON literal ``null``."""


def _no_constants(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity are not JSON to Go


def _go_fields(body: bytes) -> Optional[dict[str, Any]] | type[_Null]:
    """The envelope's fields as Go's decoder reads them; ``None`` if it cannot, ``_Null`` for ``null``."""
    try:
        parsed = json.loads(
            body.decode("utf-8", "replace"), object_pairs_hook=lambda p: ("obj", p), parse_constant=_no_constants
        )
    except (ValueError, RecursionError):
        return None
    if parsed is None:
        return _Null
    if not (isinstance(parsed, tuple) and parsed[0] == "obj"):
        return None
    out = {"payloadtype": "", "payload": "", "signature": ""}
    for key, value in parsed[1]:
        name = _fold(_go_string(key))
        if name not in out or value is None:  # null leaves a Go string as it was
            continue
        if not isinstance(value, str):
            return None
        out[name] = _go_string(value)
    return out


def _lenient_b64(text: str) -> bytes:
    """Standard base64 as Go's DecodeString leaves it after an error: what decoded before it."""
    clean = text.replace("\r", "").replace("\n", "")
    out = b""
    for i in range(0, len(clean) - 3, 4):
        try:
            out += base64.b64decode(clean[i : i + 4], validate=True)
        except (binascii.Error, ValueError):
            break
        if "=" in clean[i : i + 4]:
            break
    return out


def _signer(fields: dict[str, Any]) -> Optional[str]:
    try:
        return CRYPTO.recover_id(fields["payload"], fields["signature"])
    except InvalidSignature:
        return None


# The texts of a signature the server cannot recover a caller from (PROTOCOL.md 3.5; library texts vary).
SIGNATURE_ERRORS = ("Invalid signature", "encoding/hex: ", "Failed to recover public key", "Failed verify signature")
UNKNOWN_TYPE = "invalid rpcMsg.PayloadType: "


def check_api_answer(case: Case, status: int, body: bytes) -> None:
    """The answer fits the processing order of PROTOCOL.md 2.3 and the documented statuses."""
    where = (case.label, case.body[:300], status, body[:300])
    assert status in (200, 400, 403, 404, 408, 500, 503), where
    if case.expect is not None:
        assert status in case.expect, where
    fields = _go_fields(case.body)
    if fields is _Null:
        assert (status, body) == (500, b""), where  # a nil envelope: the real server panics
        return
    if not isinstance(fields, dict):
        assert status == 400 and body, where  # not an envelope: Go's JSON error
        return
    payloadtype = fields["payloadtype"]
    if not body:
        if status == 200:
            assert payloadtype == "getcolonystatsmsg", where  # a refused member gets nothing at all
        else:
            # A nil message (or a nil attribute in it) makes the real handler panic.
            nil_message = _lenient_b64(fields["payload"]).strip() == b"null"
            assert status == 500 and (nil_message or payloadtype == "addattributemsg"), where
            assert payloadtype in HANDLERS, where
        return
    envelope = json.loads(body)
    assert isinstance(envelope["payloadtype"], str) and isinstance(envelope["error"], bool), where
    payload = json.loads(base64.b64decode(envelope["payload"], validate=True))
    message = payload["message"] if envelope["error"] else None
    if envelope["error"]:
        assert envelope["payloadtype"] == "error" and payload["status"] == status != 200, where
        assert isinstance(message, str), where
        assert "internal error in the fake" not in message, where
        if status >= 500 or status == 408:
            assert (status, message) in ALLOWED_5XX.get(payloadtype, set()), where
    else:
        assert status == 200, where
        expected_type = "pausestatusreplymsg" if payloadtype == "getpausestatusmsg" else payloadtype
        assert envelope["payloadtype"] == expected_type, where
    # Then the steps of 2.3, in order: server info, signature, handler.
    if payloadtype == "getserverinfomsg":
        assert status == 200, where  # answered whatever the signature and payload
        return
    signature_refused = status == 403 and message is not None and message.startswith(SIGNATURE_ERRORS)
    if payloadtype != "versionmsg":
        assert signature_refused == (_signer(fields) is None), where
        if signature_refused:
            return
    if payloadtype not in HANDLERS:
        assert status == 403 and message is not None, where
        if payloadtype:
            assert message == UNKNOWN_TYPE + payloadtype, where
        else:
            assert message.startswith(UNKNOWN_TYPE + "empty (this usually means the client is misconfigured"), where
    else:
        assert message is None or not message.startswith(UNKNOWN_TYPE), where


def test_fuzzed_api_bodies_get_documented_answers_and_the_server_keeps_serving() -> None:
    seen: dict[str, int] = {}
    with served_world() as world, requests.Session() as http:

        @_settings(API_CASES)
        @given(case=api_cases(world))
        def run(case: Case) -> None:
            seen[case.label.split("(")[0]] = seen.get(case.label.split("(")[0], 0) + 1
            errors_before = len(world.server.errors)
            reply = http.post(world.url + "/api", data=case.body, timeout=ANSWER_WITHIN)
            check_api_answer(case, reply.status_code, reply.content)
            world.check_healthy(http, errors_before)

        run()
        assert sum(seen.values()) >= API_CASES, seen
        steps = {step for label in seen for step in label.split("+")}
        assert {"bytes", "text", "json", "valid", "message", "base64", "signature", "envelope", "retype"} <= steps, seen


# --- /pubsub ------------------------------------------------------------------------------

_probes = itertools.count()


@dataclass
class FrameOutcome:
    frames: list[tuple[int, Any]]  # (opcode, decoded envelope) before the probe's answer
    end: str  # "open": the probe was answered; "dropped": the connection went without a frame


def _probe(world: World) -> tuple[str, str]:
    """A frame answered at once with a text no fuzzed frame can produce: its answer marks "all before it is in"."""
    process_id = f"probe-{next(_probes)}"
    message = {"msgtype": "subscribeprocessmsg", "processid": process_id, "executortype": "", "state": 0, "timeout": 5}
    return encode_request(message, world.keys["stranger"], CRYPTO).decode(), f"Invalid process with Id {process_id}"


def exchange(world: World, frame: bytes, binary: bool) -> FrameOutcome:
    """Send ``frame`` first on a fresh socket, then a probe; read until the probe's answer or the drop."""
    ws: WebSocket = create_connection(f"ws://127.0.0.1:{world.server.port}/pubsub", timeout=ANSWER_WITHIN)
    probe, probe_answer = _probe(world)
    frames: list[tuple[int, Any]] = []
    try:
        ws.send(frame if binary else frame.decode("utf-8"), opcode=ABNF.OPCODE_BINARY if binary else ABNF.OPCODE_TEXT)
        with contextlib.suppress(OSError, WebSocketException):  # already dropped: the read below sees it
            ws.send(probe)
        while True:
            try:
                opcode, data = ws.recv_data(control_frame=True)
            except WebSocketTimeoutException:
                raise AssertionError(f"no answer within {ANSWER_WITHIN} s; frames so far {frames}") from None
            except (OSError, WebSocketException):
                return FrameOutcome(frames, "dropped")
            assert opcode != ABNF.OPCODE_CLOSE, ("a close frame: the real server just drops", frames)
            if opcode in (ABNF.OPCODE_PING, ABNF.OPCODE_PONG):
                continue
            envelope = json.loads(data)
            if envelope.get("error") and envelope["payloadtype"] == "error":
                message = json.loads(base64.b64decode(envelope["payload"]))["message"]
                if message == probe_answer:
                    return FrameOutcome(frames, "open")
            frames.append((opcode, envelope))
    finally:
        ws.close()


WS_TYPES = ("subscribeprocessmsg", "subscribeprocessesmsg", "subscribechannelmsg")
WS_ERROR_STATUSES = {
    "subscribeprocessmsg": {403},
    "subscribeprocessesmsg": {403},
    "subscribechannelmsg": {400, 403, 404, 500},
}


def check_frame_answer(frame: bytes, binary: bool, outcome: FrameOutcome, expect: Optional[str]) -> None:
    where = (frame[:300], binary, outcome)
    fields = _go_fields(frame)
    if not isinstance(fields, dict) or _signer(fields) is None:
        # Not a JSON envelope, or no signer: the connection goes, without a frame (PROTOCOL.md 9.1).
        assert (outcome.end, outcome.frames) == ("dropped", []), where
        return
    payloadtype = fields["payloadtype"]
    if payloadtype not in WS_TYPES:
        assert (outcome.end, outcome.frames) == ("open", []), where  # ignored; the socket stays usable
        return
    want_opcode = ABNF.OPCODE_BINARY if binary else ABNF.OPCODE_TEXT
    for opcode, envelope in outcome.frames:
        assert opcode == want_opcode, where  # answers use the opcode of the request
        payload = json.loads(base64.b64decode(envelope["payload"], validate=True))
        if envelope["error"]:
            assert envelope["payloadtype"] == "error", where
            assert payload["status"] in WS_ERROR_STATUSES[payloadtype], where
            assert "internal error in the fake" not in payload["message"], where
        else:
            event_type = "subscribechannelmsg" if payloadtype == "subscribechannelmsg" else "subscribeprocessmsg"
            assert envelope["payloadtype"] == event_type, where
            assert isinstance(payload, list if event_type == "subscribechannelmsg" else dict), where
    if expect == "silent":
        assert (outcome.end, outcome.frames) == ("open", []), where
    elif expect is not None:
        assert outcome.end == "open" and len(outcome.frames) == 1, (expect, where)
        envelope = outcome.frames[0][1]
        assert envelope["error"], (expect, where)
        status = json.loads(base64.b64decode(envelope["payload"]))["status"]
        assert expect == f"error {status}", where
    elif outcome.end == "dropped":
        # Only a process subscription's timeout drops the socket, and a positive one not at once.
        assert payloadtype != "subscribechannelmsg", where
        assert not _positive_timeout(fields["payload"]), where


def _positive_timeout(payload: str) -> bool:
    try:
        message = json.loads(_lenient_b64(payload))
    except (ValueError, RecursionError):
        return False
    if not isinstance(message, dict):
        return False
    timeouts = [v for k, v in message.items() if _fold(k) == "timeout"]
    return bool(timeouts) and all(type(v) is int and v > 0 for v in timeouts)


@dataclass
class FrameCase:
    label: str
    frame: bytes
    binary: bool
    expect: Optional[str] = None  # "silent" or "error <status>" when the class decides it

    def __post_init__(self) -> None:
        try:
            self.frame.decode("utf-8")
        except UnicodeDecodeError:
            self.binary = True  # a text frame must be UTF-8: such bytes go in a binary one


@st.composite
def frame_case(draw: st.DrawFn, world: World) -> FrameCase:
    binary = draw(st.booleans())
    pick = draw(st.sampled_from(["bytes", "text", "json", "unknown-type", "undecodable", "msgtype", "envelope"]))
    if pick == "bytes":
        return FrameCase(pick, draw(st.binary(max_size=200)), True)
    if pick == "text":
        return FrameCase(pick, draw(st.text(max_size=200)).encode("utf-8"), binary)
    if pick == "json":
        return FrameCase(pick, _json_text(draw(json_values), True), binary)
    key = world.keys[draw(signer_names)]
    if pick == "unknown-type":
        payloadtype = draw(st.sampled_from(["getcolonymsg", "nosuchmsg", "SUBSCRIBEPROCESSMSG", ""]) | st.text())
        message = draw(st.sampled_from(base_messages(world)))
        payload = _b64(_json_text(dict(message, msgtype=payloadtype), True))
        body = {"payloadtype": payloadtype, "payload": payload, "signature": CRYPTO.sign(payload, key)}
        expect = None if payloadtype in WS_TYPES else "silent"
        return FrameCase(pick, _json_text(body, True), binary, expect)
    payloadtype = draw(st.sampled_from(WS_TYPES))
    if pick == "undecodable":
        junk = draw(st.one_of(st.text(max_size=30).map(str.encode), st.sampled_from([b"[]", b"42", b'"x"', b"{"])))
        payload = _b64(junk)
        body = {"payloadtype": payloadtype, "payload": payload, "signature": CRYPTO.sign(payload, key)}
        try:
            json.loads(junk)
            decodes = True
        except ValueError:
            decodes = False
        expect = {
            "subscribeprocessmsg": "silent",
            "subscribeprocessesmsg": "error 403",
            "subscribechannelmsg": "error 400",
        }
        return FrameCase(pick, _json_text(body, True), binary, None if decodes else expect[payloadtype])
    if pick == "msgtype":
        message = next(m for m in ws_messages(world) if m["msgtype"] == payloadtype)
        mutated = defuse(dict(message, msgtype=draw(st.sampled_from(["getcolonymsg", "", "x"]))), payloadtype)
        payload = _b64(_json_text(mutated, True))
        body = {"payloadtype": payloadtype, "payload": payload, "signature": CRYPTO.sign(payload, key)}
        status = 400 if payloadtype == "subscribechannelmsg" else 403
        return FrameCase(pick, _json_text(body, True), binary, f"error {status}")
    case = draw(envelope_case(world, ws_messages(world)))
    return FrameCase(f"envelope:{case.label}", case.body, binary)


def test_fuzzed_first_frames_on_pubsub_are_dropped_ignored_or_answered_as_documented() -> None:
    seen: dict[str, int] = {}
    with served_world() as world, requests.Session() as http:

        @_settings(FRAME_CASES)
        @given(case=frame_case(world))
        def run(case: FrameCase) -> None:
            seen[case.label.split(":")[0]] = seen.get(case.label.split(":")[0], 0) + 1
            errors_before = len(world.server.errors)
            outcome = exchange(world, case.frame, case.binary)
            check_frame_answer(case.frame, case.binary, outcome, case.expect)
            world.check_healthy(http, errors_before)

        run()
        assert sum(seen.values()) >= FRAME_CASES, seen
        assert set(seen) == {"bytes", "text", "json", "unknown-type", "undecodable", "msgtype", "envelope"}, seen
