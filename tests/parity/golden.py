"""Replay the golden transcripts of the real server against any backend and compare.

A transcript (``shared/golden/*.json``, format ``colonies-golden/1``) records a
scenario on the real server: the world it built, then each request with the
reply, normalised (keys and random values became placeholders). The replayer
rebuilds the world on a backend with fresh keys and names, sends every request
with the placeholders filled in, and compares each reply with the recorded one
the way the golden README says: placeholders bind to the values a reply brings
(the same placeholder must always mean the same value), ``<time>`` and ``<ns>``
check the type, ``volatile`` paths check only presence and type, and everything
else must be equal.

The replayer is generic: it knows the step kinds and the few ways a recorded
request was deliberately damaged (a signature or payload made invalid, named by
the step), not any one scenario. Two things are data, not code:
``UNRECORDED`` rebuilds unrecorded steps for a scenario whose world does not
describe them, and ``OBSERVATIONS`` computes the derived facts of ``observed``
steps.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import ssl
import threading
from pathlib import Path
from typing import Any, Callable, Optional, Protocol

from colonies_sync._crypto import Crypto

# A copy of shared/golden (recorded on the real server), kept with the tests.
GOLDEN_DIR = Path(__file__).resolve().parents[1] / "data" / "golden"

_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
_PLACEHOLDER = re.compile(r"<(?:[a-z]+:[a-z0-9-]+|[a-z]+#\d+|time|ns)>")
_ZERO_TIME = "0001-01-01T00:00:00Z"
# Real seconds a long-poll may take to answer once server time has passed its deadline (the real
# server checks deadlines once a second); a bound for a failing run, not a wait that runs out.
_PAST_DEADLINE = 10.0


def scenario_files() -> list[Path]:
    """Every published transcript, by name."""
    return sorted(p for p in GOLDEN_DIR.glob("*.json") if p.name != "summary.json")


class HttpReply:
    """What a backend returned for one ``POST /api``."""

    def __init__(self, status: int, body: bytes, content_type: Optional[str] = None) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type


class WebSocket(Protocol):
    """A client WebSocket to ``/pubsub`` as the replayer needs it."""

    def send(self, text: str, binary: bool) -> None: ...

    def receive(self, timeout: float) -> Optional[tuple[str, str]]:
        """The next frame as (``"text"`` or ``"binary"``, text), ``None`` after ``timeout``; raises ``Closed``."""

    def close(self) -> None: ...


class Closed(Exception):
    """The server dropped the WebSocket connection."""


class Backend(Protocol):
    """Where the replayer sends requests, and how it moves that server's time."""

    server_prvkey: str
    websocket: bool

    def post(self, body: bytes) -> HttpReply: ...

    def connect(self) -> WebSocket:
        """A new WebSocket connection to ``/pubsub`` (only when ``websocket`` is true)."""

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of server time pass (instantly on a fake clock)."""

    def wait_blocked(self, done: threading.Event) -> None:
        """Return once a request sent on another thread is blocked in the server, or has finished."""


class Mismatch(AssertionError):
    """A reply differs from the recorded one."""


class Unsupported(NotImplementedError):
    """The backend cannot run this kind of step (every step before it was checked)."""


class Replayer:
    """Replays one scenario on one backend; :meth:`run` raises :class:`Mismatch` on the first difference."""

    def __init__(self, scenario: dict[str, Any], backend: Backend, crypto: Optional[Crypto] = None) -> None:
        self.scenario = scenario
        self.backend = backend
        self.crypto = crypto or Crypto()
        self.keys: dict[str, str] = {"server": backend.server_prvkey}
        self.bound: dict[str, Any] = {}  # placeholder -> actual value
        self.history: list[dict[str, Any]] = []  # per RPC step or frame: what was sent and what came back
        self.sockets: list[dict[str, Any]] = []  # WebSocket connections, in the order they were opened
        self.name = scenario["scenario"]

    # --- values for placeholders ---------------------------------------------------------

    def key(self, role: str) -> str:
        if role not in self.keys:
            self.keys[role] = self.crypto.generate_private_key()
        return self.keys[role]

    def value(self, placeholder: str) -> Any:
        """The value a placeholder stands for in a request, made up when nothing bound it yet."""
        if placeholder in self.bound:
            return self.bound[placeholder]
        kind, _, rest = placeholder[1:-1].partition(":")
        if rest:
            if kind == "id":
                value: Any = self.crypto.id(self.key(rest))
            elif kind == "prv":
                value = self.key(rest)
            elif kind == "colony":
                value = f"golden-{rest}-{secrets.token_hex(4)}"
            else:
                value = f"{rest}-{secrets.token_hex(4)}"
        else:  # <process#3> etc. never seen in a reply: an id the server does not know
            value = secrets.token_hex(32)
        self.bound[placeholder] = value
        return value

    def fill(self, template: Any) -> Any:
        """A request value with every placeholder replaced."""
        if isinstance(template, dict):
            return {k: self.fill(v) for k, v in template.items()}
        if isinstance(template, list):
            return [self.fill(v) for v in template]
        if isinstance(template, str):
            if _PLACEHOLDER.fullmatch(template):
                return self.value(template)
            return _PLACEHOLDER.sub(lambda m: str(self.value(m.group(0))), template)
        return template

    # --- requests ---------------------------------------------------------------------

    def envelope(self, payloadtype: str, payload_text: str, prvkey: Optional[str]) -> dict[str, str]:
        encoded = base64.b64encode(payload_text.encode("utf-8")).decode("ascii")
        signature = self.crypto.sign(encoded, prvkey) if prvkey else ""
        return {"payloadtype": payloadtype, "payload": encoded, "signature": signature}

    def rpc_body(self, step: dict[str, Any]) -> bytes:
        request = step["request"]
        if "raw_body" in request:
            return str(request["raw_body"]).encode("utf-8")
        caller = step.get("caller")
        prvkey = None if caller in (None, "anonymous", "raw") else self.key(caller)
        payloadtype = self.fill(request["payloadtype"])
        payload = request["payload"]
        env = self._damaged_payload(payloadtype, payload, prvkey)
        if env is None:
            text = payload if isinstance(payload, str) else json.dumps(self.fill(payload))
            env = self.envelope(payloadtype, text, prvkey)
        env["signature"] = _damage_signature(step["step"], env["signature"])
        return json.dumps(env).encode("utf-8")

    def _damaged_payload(self, payloadtype: str, payload: Any, prvkey: Optional[str]) -> Optional[dict[str, str]]:
        """Payloads recorded as a description (``{"note": ...}``) rather than as the message sent."""
        if not (isinstance(payload, dict) and "note" in payload):
            return None
        colony = self.value(self._first_colony())
        base = {"msgtype": payloadtype, "colonyname": colony}
        text = json.dumps(base)
        if payload.get("padding_removed"):
            while len(text.encode()) % 3 != 2:  # one "=" of padding to remove
                text += " "
            env = self.envelope(payloadtype, text, None)
            env["payload"] = env["payload"].rstrip("=")
        elif payload.get("has_urlsafe_chars"):
            # Go ignores unknown keys; "?" and "~" put 6-bit groups 62/63 ("+", "/") in the text.
            for shift in range(3):
                candidate = json.dumps({**base, "pad": "~" * shift + "???~~~"})
                standard = base64.b64encode(candidate.encode()).decode()
                if "+" in standard or "/" in standard:
                    break
            else:  # pragma: no cover - the loop always finds one
                raise AssertionError("no payload with url-safe characters found")
            env = {"payloadtype": payloadtype, "payload": standard.replace("+", "-").replace("/", "_")}
        else:
            env = self.envelope(payloadtype, text, None)
        env["signature"] = self.crypto.sign(env["payload"], prvkey) if prvkey else ""
        return env

    def _first_colony(self) -> str:
        for item in self.scenario.get("world", []):
            if item["kind"] == "colony":
                return str(item["colony"])
        return "<colony:main>"

    # --- the world --------------------------------------------------------------------

    def build_world(self, after_colony: Optional[str] = None, role: Optional[str] = None) -> None:
        """Create the world's unrecorded items.

        Items of a colony whose creation is itself a recorded step are made right
        after that step (``after_colony``), items in ``WORLD_LATER`` before the
        step named there (``role``), the others before the first step.
        """
        later = WORLD_LATER.get(self.name, {})
        recorded_colonies = {
            item["colony"]
            for item in self.scenario.get("world", [])
            if item["kind"] == "colony" and item.get("recorded")
        }
        for item in self.scenario.get("world", []):
            if item.get("recorded"):
                continue
            colony_of_item = item["colony"]
            if role is not None or item.get("role") in later:
                if item.get("role") != role:
                    continue
            elif (colony_of_item in recorded_colonies) != (after_colony is not None) or (
                after_colony is not None and colony_of_item != after_colony
            ):
                continue
            if item["kind"] == "colony":
                owner = self.key(item["owner"])
                self.setup(
                    "server",
                    "addcolonymsg",
                    {"colony": {"colonyid": self.crypto.id(owner), "name": self.value(item["colony"])}},
                )
            elif item["kind"] == "executor":
                colony = item["colony"]
                owner = self._owner_of(colony)
                executor = {
                    "executorid": self.crypto.id(self.key(item["role"])),
                    "executortype": item["executortype"],
                    "executorname": item["executorname"],
                    "colonyname": self.value(colony),
                    **self.fill(item.get("extra") or {}),
                }
                self.setup(owner, "addexecutormsg", {"executor": executor})
                if item.get("approved", True):
                    self.setup(
                        owner,
                        "approveexecutormsg",
                        {"colonyname": self.value(colony), "executorname": item["executorname"]},
                    )
            elif item["kind"] == "user":
                colony = item["colony"]
                user = {
                    "colonyname": self.value(colony),
                    "userid": self.crypto.id(self.key(item["role"])),
                    "name": item.get("name", item["role"]),
                    "email": "",
                    "phone": "",
                }
                self.setup(self._owner_of(colony), "addusermsg", {"user": user})
            else:  # pragma: no cover - a new kind in the format
                raise NotImplementedError(f"world item of kind {item['kind']!r}")

    def run_unrecorded(self, before: str) -> None:
        """Steps the runner made without recording them, placed before the step named ``before``."""
        for role, step_name in WORLD_LATER.get(self.name, {}).items():
            if before and step_name == before:
                self.build_world(role=role)
        for step in UNRECORDED.get(self.name, {}).get(before, []):
            message = {"msgtype": step["payloadtype"], **self.fill(step["payload"])}
            env = self.envelope(step["payloadtype"], json.dumps(message), self.key(step["caller"]))
            reply = self.backend.post(json.dumps(env).encode())
            self.history.append({"step": {"request": step}, "reply": reply, "elapsed": 0.0})
            if "bind" in step:
                decoded = _decode(reply.body)
                if reply.status != 200 or decoded is None:
                    raise Mismatch(f"{self.name}: unrecorded {step['payloadtype']} failed: {reply.body[:300]!r}")
                self.bound[step["bind"]] = json.loads(base64.b64decode(decoded["payload"]))["processid"]

    def _owner_of(self, colony: str) -> str:
        for item in self.scenario.get("world", []):
            if item["kind"] == "colony" and item["colony"] == colony:
                return str(item["owner"])
        raise KeyError(colony)

    def setup(self, caller: str, payloadtype: str, fields: dict[str, Any]) -> Any:
        message = {"msgtype": payloadtype, **fields}
        env = self.envelope(payloadtype, json.dumps(message), self.key(caller))
        reply = self.backend.post(json.dumps(env).encode())
        decoded = _decode(reply.body)
        if reply.status != 200 or decoded is None or decoded.get("error"):
            raise Mismatch(f"{self.name}: setup {payloadtype} failed: HTTP {reply.status} {reply.body[:300]!r}")
        return json.loads(base64.b64decode(decoded["payload"]))

    # --- running ------------------------------------------------------------------------

    def run(self) -> None:
        self.build_world()
        self.run_unrecorded("")
        for index, step in enumerate(self.scenario["steps"]):
            where = f"{self.name} step {index} ({step.get('step')!r})"
            self.run_unrecorded(step.get("step", ""))
            if "observed" in step:
                self.check_observation(step["observed"], where)
            elif "ws" in step:
                if not getattr(self.backend, "websocket", False):
                    raise Unsupported(f"{where}: WebSocket steps need a served backend")
                if step["ws"] == "send":
                    self.ws_send(step)
                else:
                    self.ws_frames(step, where)
            elif "condition_met" in step:
                self.poll_until_match(step, where)
            else:
                self.send_and_compare(step, where)
                request = step.get("request", {})
                if request.get("payloadtype") == "addcolonymsg" and isinstance(request.get("payload"), dict):
                    colony = (request["payload"].get("colony") or {}).get("name")
                    if colony and self.history[-1]["reply"].status == 200:
                        self.build_world(after_colony=colony)

    # --- WebSocket steps ----------------------------------------------------------------

    def ws_send(self, step: dict[str, Any]) -> None:
        """Send a frame: on the last socket when the step says "same socket" and it is open, else a new one.

        A socket is known by the upper-case word of the step that opened it
        (``subscribe RUNNING`` -> ``RUNNING``), which later frame steps name.
        """
        name = step["step"]
        if "same socket" in name and self.sockets and not self.sockets[-1]["closed"]:
            socket = self.sockets[-1]
        else:
            labels = re.findall(r"\b[A-Z]{3,}\b", name)
            socket = {"ws": self.backend.connect(), "label": labels[0] if labels else "", "closed": False, "timeout": 0}
            self.sockets.append(socket)
        request = step["request"]
        if "raw_text" in request:
            socket["ws"].send(request["raw_text"], False)
            return
        payload = request.get("payload")
        if isinstance(payload, dict) and isinstance(payload.get("timeout"), int):
            socket["timeout"] = max(socket["timeout"], payload["timeout"])
        body = self.rpc_body(step).decode("utf-8")
        socket["ws"].send(body, request.get("opcode") == "binary")

    def ws_frames(self, step: dict[str, Any], where: str) -> None:
        """Collect the frames a socket got and compare them, and whether it is still open.

        The recording watched a window of real time; here the frames are read as
        they come, and when the step waits for a timeout ("timeout" in its name,
        or a socket expected closed) server time is moved on second by second
        past the subscription's timeout.
        """
        labels = re.findall(r"\b[A-Z]{3,}\b", step["step"])
        chosen = [s for s in self.sockets if labels and s["label"] == labels[0]]
        socket = chosen[-1] if chosen else self.sockets[-1]
        expected = step["frames"]
        frames = self._collect(socket, len(expected), patience=0.5)
        waits_for_timeout = "timeout" in step["step"] or step.get("socket") == "closed"
        for _ in range(socket["timeout"] + 3):
            missing = len(frames) < len(expected)
            if socket["closed"] or not (missing or (waits_for_timeout and not expected)):
                break
            self.backend.advance(1.0)  # a recorded frame may wait on a timeout: let server time pass
            frames += self._collect(socket, len(expected) - len(frames), patience=0.5)
        if len(frames) < len(expected) and not socket["closed"]:
            frames += self._collect(socket, len(expected) - len(frames), patience=5.0)  # a slow machine
        if len(frames) != len(expected):
            raise Mismatch(f"{where}: {len(frames)} frames {[f[1][:120] for f in frames]}, recorded {len(expected)}")
        volatile = step.get("volatile", {})
        for i, ((opcode, text), want) in enumerate(zip(frames, expected, strict=True)):
            if opcode != want["opcode"]:
                raise Mismatch(f"{where}: frame {i} opcode {opcode}, recorded {want['opcode']}")
            decoded = json.loads(text)
            if sorted(decoded) != sorted(want["envelope_keys"]):
                raise Mismatch(f"{where}: frame {i} keys {sorted(decoded)}, recorded {want['envelope_keys']}")
            for key in ("payloadtype", "error"):
                if decoded[key] != want[key]:
                    raise Mismatch(f"{where}: frame {i} {key} {decoded[key]!r}, recorded {want[key]!r}")
            payload = json.loads(base64.b64decode(decoded["payload"]))
            self.match(want["payload"], payload, f"frames[{i}].payload", volatile, where)
            self.history.append({"step": step, "raw": decoded, "elapsed": 0.0})
        state = "closed" if socket["closed"] else "open"
        if state != step.get("socket", state):
            raise Mismatch(f"{where}: socket {state}, recorded {step['socket']}")

    def _collect(self, socket: dict[str, Any], wanted: int, patience: float) -> list[tuple[str, str]]:
        """Frames that arrive now: up to ``wanted`` (waiting ``patience`` s for each), then any extras."""
        got: list[tuple[str, str]] = []
        while not socket["closed"]:
            # Once the expected frames are in, a short quiet spell shows nothing else is coming.
            wait = patience if len(got) < wanted else 0.15
            try:
                frame = socket["ws"].receive(wait)
            except Closed:
                socket["closed"] = True
                break
            if frame is None:
                break
            got.append(frame)
        return got

    def close(self) -> None:
        """Close every WebSocket this replay opened."""
        for socket in self.sockets:
            socket["ws"].close()

    def send(self, step: dict[str, Any]) -> tuple[HttpReply, float]:
        """Send a step's request; a request that blocks (a long-poll) gets server time moved on."""
        body = self.rpc_body(step)
        timeout = (
            (step.get("request", {}).get("payload") or {})
            if isinstance(step.get("request", {}).get("payload"), dict)
            else {}
        )
        blocking = (
            step.get("request", {}).get("payloadtype") == "assignprocessmsg"
            and isinstance(timeout.get("timeout"), int)
            and timeout["timeout"] > 0
        )
        if not blocking:
            return self.backend.post(body), 0.0
        result: list[HttpReply] = []
        done = threading.Event()

        def call() -> None:
            try:
                result.append(self.backend.post(body))
            finally:
                done.set()

        thread = threading.Thread(target=call, daemon=True)
        thread.start()
        self.backend.wait_blocked(done)
        # Nothing else happens during a replay, so a request blocked now stays blocked until its
        # deadline: server time moves on a second at a time up to it, then the request must end.
        elapsed = 0.0
        while not done.is_set() and elapsed < timeout["timeout"]:
            self.backend.advance(1.0)
            elapsed += 1.0
        if not done.wait(_PAST_DEADLINE):
            raise Mismatch(f"{self.name}: a blocking request did not end at its deadline ({timeout['timeout']} s)")
        thread.join(_PAST_DEADLINE)
        if not result:
            raise Mismatch(f"{self.name}: a blocking request never returned")
        return result[0], elapsed

    def send_and_compare(self, step: dict[str, Any], where: str) -> None:
        reply, elapsed = self.send(step)
        self.compare_reply(step, reply, where)
        self.history.append({"step": step, "reply": reply, "elapsed": elapsed})

    def poll_until_match(self, step: dict[str, Any], where: str, limit: int = 30) -> None:
        last: Optional[Exception] = None
        for _ in range(limit):
            reply, _ = self.send(step)
            saved = dict(self.bound)
            try:
                self.compare_reply(step, reply, where)
            except Mismatch as exc:
                self.bound = saved
                last = exc
                self.backend.advance(1.0)
                continue
            self.history.append({"step": step, "reply": reply, "elapsed": 0.0})
            return
        raise Mismatch(f"{where}: condition never met: {last}")

    # --- comparing ------------------------------------------------------------------------

    def compare_reply(self, step: dict[str, Any], reply: HttpReply, where: str) -> None:
        expected_http = step.get("http", {})
        if reply.status != expected_http.get("status"):
            raise Mismatch(
                f"{where}: HTTP {reply.status}, recorded {expected_http.get('status')}; body {reply.body[:300]!r}"
            )
        if reply.content_type is not None and "content_type" in expected_http:
            if reply.content_type != expected_http["content_type"]:
                raise Mismatch(
                    f"{where}: content type {reply.content_type!r}, recorded {expected_http['content_type']!r}"
                )
        if "body" in step:
            if reply.body.decode("utf-8", "replace") != step["body"]:
                raise Mismatch(f"{where}: body {reply.body!r}, recorded {step['body']!r}")
            return
        decoded = _decode(reply.body)
        if decoded is None:
            raise Mismatch(f"{where}: not an envelope: {reply.body[:300]!r}")
        payload = json.loads(base64.b64decode(decoded["payload"])) if decoded.get("payload") else None
        if step.get("reply_is_list"):
            self.compare_listed(step, payload, where)
            return
        expected = step["reply"]
        if sorted(decoded) != sorted(expected["envelope_keys"]):
            raise Mismatch(f"{where}: envelope keys {sorted(decoded)}, recorded {expected['envelope_keys']}")
        for key in ("payloadtype", "error"):
            if decoded[key] != expected[key]:
                raise Mismatch(f"{where}: {key} {decoded[key]!r}, recorded {expected[key]!r}")
        volatile = step.get("volatile", {})
        if "payload_text" in expected:
            actual_text = base64.b64decode(decoded["payload"]).decode()
            self.match(expected["payload_text"], actual_text, "reply.payload", volatile, where)
            return
        sort_field = expected.get("list_sorted_by_runner")
        if sort_field and isinstance(payload, list):
            payload = sorted(payload, key=lambda item: str(item.get(sort_field)))
        self.match(expected["payload"], payload, "reply.payload", volatile, where)

    def compare_listed(self, step: dict[str, Any], payload: Any, where: str) -> None:
        """A list filtered to this scenario's own values (e.g. colonies on a shared server)."""
        ((field, expected_items),) = [
            (k, v) for k, v in step.items() if k not in ("step", "caller", "request", "http", "reply_is_list")
        ]
        ours = {self.bound[p] for p in self.bound if p.startswith("<colony:")}
        actual = [item for item in (payload or []) if item.get("name") in ours]
        self.match(expected_items, actual, f"reply.{field}", {}, where)

    def match(self, expected: Any, actual: Any, path: str, volatile: dict[str, str], where: str) -> None:
        for vpath in volatile:
            if path == vpath or path.startswith(vpath + ".") or path.startswith(vpath + "["):
                if _json_type(actual) != _json_type(expected):
                    raise Mismatch(f"{where}: {path} is a JSON {_json_type(actual)}, recorded a {_json_type(expected)}")
                return
        if isinstance(expected, dict):
            if not isinstance(actual, dict):
                raise Mismatch(f"{where}: {path} is {actual!r}, recorded an object")
            if set(expected) != set(actual):
                raise Mismatch(f"{where}: {path} keys {sorted(actual)}, recorded {sorted(expected)}")
            for key in expected:
                want, got = expected[key], actual[key]
                if key == "attributes":  # the README's normalisation, applied to both sides
                    want, got = _sorted_attributes(want), _sorted_attributes(got)
                self.match(want, got, f"{path}.{key}", volatile, where)
            return
        if isinstance(expected, list):
            if not isinstance(actual, list) or len(actual) != len(expected):
                raise Mismatch(f"{where}: {path} is {_short(actual)}, recorded {_short(expected)}")
            for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
                self.match(e, a, f"{path}[{i}]", volatile, where)
            return
        if isinstance(expected, str) and _PLACEHOLDER.search(expected):
            self.match_text(expected, actual, path, where)
            return
        if expected != actual or type(expected) is not type(actual):
            raise Mismatch(f"{where}: {path} is {_short(actual)}, recorded {_short(expected)}")

    def match_text(self, expected: str, actual: Any, path: str, where: str) -> None:
        if expected == "<time>":
            if not (isinstance(actual, str) and _TIME.match(actual) and actual != _ZERO_TIME):
                raise Mismatch(f"{where}: {path} is {actual!r}, recorded a timestamp")
            return
        if expected == "<ns>":
            if not (isinstance(actual, int) and not isinstance(actual, bool)):
                raise Mismatch(f"{where}: {path} is {actual!r}, recorded an integer nanosecond time")
            return
        if not isinstance(actual, str):
            raise Mismatch(f"{where}: {path} is {actual!r}, recorded {expected!r}")
        pattern = ""
        names: list[str] = []
        pos = 0
        for m in _PLACEHOLDER.finditer(expected):
            pattern += re.escape(expected[pos : m.start()])
            token = m.group(0)
            if token in self.bound and token not in names:
                pattern += re.escape(str(self.bound[token]))
            elif token in names:
                pattern += f"(?P=g{names.index(token)})"
            else:
                pattern += f"(?P<g{len(names)}>.+?)"
                names.append(token)
            pos = m.end()
        pattern += re.escape(expected[pos:])
        found = re.fullmatch(pattern, actual)
        if not found:
            raise Mismatch(f"{where}: {path} is {actual!r}, recorded {expected!r}")
        for i, token in enumerate(names):
            value = found.group(f"g{i}")
            if value in (v for k, v in self.bound.items() if k != token):
                raise Mismatch(f"{where}: {path}: {token} would equal another placeholder's value {value!r}")
            self.bound[token] = value

    # --- derived observations ---------------------------------------------------------

    def check_observation(self, observed: dict[str, Any], where: str) -> None:
        for name, expected in observed.items():
            check = OBSERVATIONS.get(name)
            if check is None:
                raise NotImplementedError(f"{where}: no check for observation {name!r}")
            actual = check(self)
            if actual != expected:
                raise Mismatch(f"{where}: observed {name} = {actual!r}, recorded {expected!r}")

    def last_payload(self) -> Any:
        decoded = _decode(self.history[-1]["reply"].body)
        assert decoded is not None
        return json.loads(base64.b64decode(decoded["payload"]))


def _decode(body: bytes) -> Optional[dict[str, Any]]:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) and "payload" in value else None


def _sorted_attributes(value: Any) -> Any:
    """A process's ``attributes`` list sorted by (``attributetype``, ``key``), as the README normalises it.

    Anything else (not a list of attribute objects, or values that do not
    compare) is returned as it is, for ``match`` to report.
    """
    if not (isinstance(value, list) and all(isinstance(a, dict) and {"attributetype", "key"} <= set(a) for a in value)):
        return value
    try:
        return sorted(value, key=lambda a: (a["attributetype"], a["key"]))
    except TypeError:
        return value


def _json_type(value: Any) -> str:
    """The JSON type of a decoded value: null, boolean, number, string, array or object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a decoded JSON value: {value!r}")


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) < 200 else text[:200] + "..."


def _damage_signature(step_name: str, signature: str) -> str:
    """The signature damage a step's name describes (envelope scenarios), else the signature."""
    name = step_name.lower()
    if "non-hex signature" in name:
        return "xx" + signature[2:]
    if "odd-length" in name:
        return signature[:-1]
    if "empty signature" in name:
        return ""
    if "64-byte signature" in name:
        return signature[:128]
    if "66-byte signature" in name:
        return signature + "00"
    if "recovery byte 27" in name:
        return signature[:128] + f"{int(signature[128:], 16) + 27:02x}"
    if name.startswith("r = 0"):
        return "00" * 32 + signature[64:]
    if "high-s twin" in name:
        s = int(signature[64:128], 16)
        return signature[:64] + f"{_N - s:064x}" + f"{int(signature[128:], 16) ^ 1:02x}"
    if "garbage signature" in name:
        return "garbage"
    if name == "bad signature":
        return "xx" + signature[2:]
    return signature


def _time_ns(text: str) -> int:
    from colonies_fake._gojson import parse_time_ns

    value = parse_time_ns(text)
    assert value is not None
    return value


def _payload_of(replayer: Replayer, offset: int = 1) -> Any:
    decoded = _decode(replayer.history[-offset]["reply"].body)
    assert decoded is not None
    return json.loads(base64.b64decode(decoded["payload"]))


def _raw_text(replayer: Replayer) -> str:
    decoded = _decode(replayer.history[-1]["reply"].body)
    assert decoded is not None
    return base64.b64decode(decoded["payload"]).decode()


def _assign_order(replayer: Replayer) -> list[str]:
    names = []
    for item in replayer.history:
        if item["step"]["request"].get("payloadtype") != "assignprocessmsg":
            continue
        reply: HttpReply = item["reply"]
        names.append(
            json.loads(base64.b64decode(_decode(reply.body)["payload"]))["spec"]["funcname"]
            if reply.status == 200
            else f"HTTP {reply.status}"
        )  # type: ignore[index]
    return names


OBSERVATIONS: dict[str, Callable[[Replayer], Any]] = {
    "waited_at_least_0_9s": lambda r: r.history[-1]["elapsed"] >= 0.9,
    "returned_within_3s": lambda r: r.history[-1]["elapsed"] <= 3,
    "funcnames": _assign_order,
    "equals_sha3_of_target_key_type": lambda r: (
        _payload_of(r)["attributeid"]
        == r.crypto.hash(f"{_payload_of(r)['targetid']}{_payload_of(r)['key']}{_payload_of(r)['attributetype']}")
    ),
    "payload": lambda r: (r.history[-1].get("raw") or _decode(r.history[-1]["reply"].body))["payload"],  # type: ignore[index]
    "execdeadline_minus_starttime_s": lambda r: round(
        (_time_ns(_payload_of(r)["execdeadline"]) - _time_ns(_payload_of(r)["starttime"])) / 1e9
    ),
    "submissiontime_ends_with_Z": lambda r: _payload_of(r)["submissiontime"].endswith("Z"),
    "zero_time_literal": lambda r: _payload_of(r)["starttime"],
    "escaped_as_u003c": lambda r: "\\u003c" in _raw_text(r),
    "literal_present": lambda r: "<" in _raw_text(r),
    "prioritytime_minus_submission_days": lambda r: round(
        (_payload_of(r)["prioritytime"] - _time_ns(_payload_of(r)["submissiontime"])) / 86_400e9
    ),
    "waitdeadline_minus_submission_s": lambda r: round(
        (_time_ns(_payload_of(r)["waitdeadline"]) - _time_ns(_payload_of(r)["submissiontime"])) / 1e9
    ),
}


def _submit(funcname: str) -> dict[str, Any]:
    return {
        "caller": "exec-a",
        "payloadtype": "submitfuncspecmsg",
        "payload": {
            "spec": {
                "funcname": funcname,
                "args": [],
                "kwargs": {},
                "priority": 0,
                "maxwaittime": -1,
                "maxexectime": -1,
                "maxretries": 0,
                "conditions": {"colonyname": "<colony:main>", "executortype": "golden-type"},
                "label": "",
            }
        },
    }


_ASSIGN = {
    "caller": "exec-a",
    "payloadtype": "assignprocessmsg",
    "payload": {"colonyname": "<colony:main>", "timeout": -1, "availablecpu": "", "availablemem": ""},
}

# Steps a scenario made without recording them, rebuilt from what its later
# steps show, keyed by the name of the recorded step they came before ("" = right
# after the world was built). get_processes_by_state: p1, p2 and p3 submitted and
# assigned, p4 and p5 left waiting. assign_priority_order: assigns #2 to #4.
UNRECORDED: dict[str, dict[str, list[dict[str, Any]]]] = {
    "get_processes_by_state": {
        "": [
            {**_submit("p1"), "bind": "<process#1>"},
            {**_submit("p2"), "bind": "<process#2>"},
            {**_submit("p3"), "bind": "<process#5>"},
            _ASSIGN,
            _ASSIGN,
            _ASSIGN,
            {**_submit("p4"), "bind": "<process#4>"},
            {**_submit("p5"), "bind": "<process#3>"},
        ]
    },
    "assign_priority_order": {"assign #5": [_ASSIGN, _ASSIGN, _ASSIGN]},
}


# World items that a scenario's steps show were created later than the world
# list implies, by role, with the step they came before. empty_lists: its first
# step is named "executors of a colony without executors" and the recorded
# reply is null, so exec-a was added after it.
WORLD_LATER: dict[str, dict[str, str]] = {
    "empty_lists": {"exec-a": "waiting processes"},
}


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


class WebSocketClient:
    """A ``/pubsub`` connection made with websocket-client (the library pycolonies uses)."""

    def __init__(self, url: str, ssl_context: Optional[ssl.SSLContext] = None) -> None:
        import websocket

        self._websocket = websocket
        sslopt = {"context": ssl_context} if ssl_context is not None else None
        self._ws = websocket.create_connection(url, timeout=5, sslopt=sslopt)

    def send(self, text: str, binary: bool) -> None:
        opcode = self._websocket.ABNF.OPCODE_BINARY if binary else self._websocket.ABNF.OPCODE_TEXT
        self._ws.send(text.encode() if binary else text, opcode=opcode)

    def receive(self, timeout: float) -> Optional[tuple[str, str]]:
        self._ws.settimeout(timeout)
        try:
            opcode, data = self._ws.recv_data()
        except self._websocket.WebSocketTimeoutException:
            return None
        except (self._websocket.WebSocketConnectionClosedException, ConnectionError, OSError) as exc:
            raise Closed() from exc
        if opcode == self._websocket.ABNF.OPCODE_CLOSE:
            raise Closed()
        kind = "binary" if opcode == self._websocket.ABNF.OPCODE_BINARY else "text"
        return kind, data.decode("utf-8")

    def close(self) -> None:
        try:
            self._ws.close(timeout=0.2)
        except Exception:  # already gone
            pass
