"""Helpers for the subscription tests (PROTOCOL.md 9, checklist items 41-46, issue 5).

Nothing here sleeps. Work on other threads is waited for with ``threading``
events and conditions with bounded timeouts, or with ``fake.wait_until``;
every thread is joined with a bounded ``join`` and an assertion; fake time
moves only through ``FakeClock.advance``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import threading
from typing import Any, Callable, Iterator, Optional

import attrs
import pytest
from websocket import (
    ABNF,
    WebSocket,
    WebSocketConnectionClosedException,
    WebSocketTimeoutException,
    create_connection,
)

from colonies_fake import FakeColonies, FakeColoniesServer
from colonies_sync import (
    ColoniesClient,
    ColoniesConnectionError,
    Crypto,
    FunctionSpec,
    MsgEntry,
    Process,
    ServerError,
)
from colonies_sync._rpc import encode_request

#: Longest a test waits for something that should happen at once (real seconds).
JOIN = 5.0
#: Fixed start of every fake clock here: 2023-11-14T22:13:20Z, a whole second.
START = 1_700_000_000
CRYPTO = Crypto()

# The server's texts, word for word (PROTOCOL.md 4, 8, 9).
PROCESS_NOT_FOUND = "Process not found"
CHANNEL_NOT_FOUND = "Channel not found"
NOT_AUTHORIZED_SUBSCRIBE = "Not authorized to subscribe to channel"
NOT_MEMBER_DEV = "Access denied, not a member of Colony with name <dev>"
SUBSCRIBE_CHANNEL_MSGTYPE = "Failed to subscribe to channel, msg.MsgType does not match rpcMsg.PayloadType"
SUBSCRIBE_PROCESS_MSGTYPE = "Failed to subscribe to process, msg.msgType does not match rpcMsg.PayloadType"
EXECUTOR_NOT_FOUND = "executor not found"
BUFFER_FULL = "subscriber disconnected: buffer full"


def invalid_process(process_id: str) -> str:
    """The 403 text of ``subscribeprocessmsg`` for an unknown process (no angle brackets)."""
    return f"Invalid process with Id {process_id}"


def unknown_id() -> str:
    """A well-formed process id that no process has."""
    return CRYPTO.id(CRYPTO.generate_private_key())


def subscription_threads(before: Optional[set[threading.Thread]] = None) -> list[threading.Thread]:
    """Live threads that subscriptions run on (named ``colonies-subscription:...``), except those in ``before``."""
    return [
        t
        for t in threading.enumerate()
        if t.name.startswith("colonies-subscription") and t.is_alive() and t not in (before or set())
    ]


@contextlib.contextmanager
def server_error(cls: type[ServerError], status: int, message: str) -> Iterator[Any]:
    """Expect ``cls`` carrying exactly this status and server text."""
    with pytest.raises(cls) as info:
        yield info
    assert (info.value.status, info.value.message) == (status, message)


def assert_server_error(exc: Optional[BaseException], cls: type[ServerError], status: int, message: str) -> None:
    assert isinstance(exc, cls), repr(exc)
    assert (exc.status, exc.message) == (status, message)


def triples(entries: list[MsgEntry]) -> list[tuple[str, int, str]]:
    """(sender, sequence, text) of each entry: what identifies an entry in these tests."""
    return [(e.senderid, e.sequence, e.text) for e in entries]


# --- recording callbacks ----------------------------------------------------------------------


class Recorder:
    """The callbacks of one subscription, recorded, with bounded waits on them.

    ``items`` are what ``on_process`` / ``on_entries`` got (a process or a
    batch each time); ``errors`` what ``on_error`` got; ``closes`` how often
    ``on_close`` ran; ``threads`` the names of the threads the callbacks ran on.
    ``block`` makes the item callback wait (bounded) on an event before it
    returns; ``raise_on`` makes it raise that exception.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.items: list[Any] = []
        self.errors: list[BaseException] = []
        self.closes = 0
        self.threads: set[str] = set()
        self.ended = threading.Event()
        self.block: Optional[threading.Event] = None
        self.blocked = threading.Event()
        self.raise_on: Optional[BaseException] = None

    def on_item(self, item: Any) -> None:
        with self._cond:
            self.items.append(item)
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()
        if self.block is not None and len(self.items) == 1:
            self.blocked.set()
            assert self.block.wait(JOIN), "the test never released the blocked callback"
        if self.raise_on is not None:
            raise self.raise_on

    def on_error(self, exc: BaseException) -> None:
        with self._cond:
            self.errors.append(exc)
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()
        self.ended.set()

    def on_close(self) -> None:
        with self._cond:
            self.closes += 1
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()
        self.ended.set()

    @property
    def entries(self) -> list[MsgEntry]:
        """Every channel entry received, batches flattened."""
        with self._cond:
            return [entry for batch in self.items for entry in batch]

    def wait_items(self, n: int, timeout: float = JOIN) -> list[Any]:
        """At least ``n`` items (fails the test after ``timeout``); a copy of all of them."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.items) >= n, timeout)
            assert ok, f"only {len(self.items)} of {n} callbacks after {timeout} s: {self.items!r}"
            return list(self.items)

    def wait_entries(self, n: int, timeout: float = JOIN) -> list[MsgEntry]:
        """At least ``n`` channel entries in all (fails after ``timeout``); all of them."""
        with self._cond:
            ok = self._cond.wait_for(lambda: sum(len(b) for b in self.items) >= n, timeout)
            got = [entry for batch in self.items for entry in batch]
            assert ok, f"only {len(got)} of {n} entries after {timeout} s"
            return got

    def wait_ended(self, timeout: float = JOIN) -> None:
        assert self.ended.wait(timeout), "the subscription did not end"

    def callbacks(self, **extra: Any) -> dict[str, Any]:
        """Keyword arguments ``on_error``/``on_close`` for ``subscribe_*``."""
        return {"on_error": self.on_error, "on_close": self.on_close, **extra}


# --- a colony with its parties ------------------------------------------------------------


@attrs.define
class World:
    """Colony ``dev``: submitter ``alice`` (a user), the executor ``worker-1`` (type ``test``),
    a second approved executor ``worker-2``, and keys for other roles. Clients made here are
    closed at teardown."""

    fake: FakeColonies
    keys: dict[str, str]
    clients: list[ColoniesClient] = attrs.field(factory=list)
    sub: ColoniesClient = attrs.field(default=None)
    ex: ColoniesClient = attrs.field(default=None)
    ex2: ColoniesClient = attrs.field(default=None)

    def client(self, role_or_key: str, **kwargs: Any) -> ColoniesClient:
        """A client signed by a role of :func:`build_world` (or a raw key), on this run's transport."""
        made = self.fake.client(self.keys.get(role_or_key, role_or_key), **kwargs)
        self.clients.append(made)
        return made

    def wrapped(self, role_or_key: str) -> tuple[ColoniesClient, WrappingTransport]:
        """A client whose transport (this run's) is wrapped by a :class:`WrappingTransport`."""
        key = self.keys.get(role_or_key, role_or_key)
        base = self.client(key)
        wrapper = WrappingTransport(base.transport)
        made = ColoniesClient(prvkey=key, transport=wrapper, server_clock=self.fake.server_clock())
        self.clients.append(made)
        return made, wrapper

    def close_clients(self) -> None:
        for made in self.clients:
            made.close()

    @property
    def sub_id(self) -> str:
        return CRYPTO.id(self.keys["submitter"])

    @property
    def ex_id(self) -> str:
        return CRYPTO.id(self.keys["executor"])

    @property
    def ex2_id(self) -> str:
        return CRYPTO.id(self.keys["other-executor"])

    def submit(self, channels: Optional[list[str]] = None, executortype: str = "test", **kwargs: Any) -> str:
        """Submit (as ``alice``) a process with ``channels`` (default ``["chat"]``); its id."""
        spec = FunctionSpec.create(
            "chat", "dev", executortype, channels=["chat"] if channels is None else channels, **kwargs
        )
        return self.sub.submit_function_spec(spec).processid

    def run(self, channels: Optional[list[str]] = None, **kwargs: Any) -> str:
        """Submit and assign to ``worker-1``; the process id."""
        pid = self.submit(channels, **kwargs)
        assert self.ex.assign("dev", -1).processid == pid
        return pid

    def append(self, client: ColoniesClient, pid: str, texts: list[str], start: int = 1, **kw: Any) -> None:
        """Append ``texts`` with sequences ``start``, ``start+1``, ... (plain data entries)."""
        for i, text in enumerate(texts):
            client.channel_append(pid, "chat", start + i, 0, text, **kw)

    def wait_subscribed(self, n: int = 1, process_id: Optional[str] = None, timeout: float = JOIN) -> None:
        """Until ``n`` subscriptions (of ``process_id``) are registered on the fake."""
        self.fake.wait_until(lambda: self.fake.subscriptions(process_id) == n, timeout)


def build_world(fake: FakeColonies) -> World:
    fake.add_colony("dev")
    fake.add_colony("prod")
    keys = {
        "submitter": fake.add_user("dev", "alice").prvkey,
        "executor": fake.add_executor("dev", "worker-1", "test").prvkey,
        "other-executor": fake.add_executor("dev", "worker-2", "test").prvkey,
        "other-type-executor": fake.add_executor("dev", "gpu-1", "gpu").prvkey,
        "other-colony-executor": fake.add_executor("prod", "prod-worker", "test").prvkey,
        "stranger": CRYPTO.generate_private_key(),
    }
    world = World(fake, keys)
    world.sub = world.client("submitter")
    world.ex = world.client("executor")
    world.ex2 = world.client("other-executor")
    return world


# --- wrapping the transport ---------------------------------------------------------------


class WrappingTransport:
    """Delegates to a real transport, with switches for tests.

    ``refuse_streams`` makes ``open_stream`` fail as a network would
    (``ColoniesConnectionError``); ``refused`` is set at each refusal and
    ``opens``/``refusals`` count. ``after_call(message, reply)`` runs after each
    API call has its reply and before the client sees it; ``messages`` lists the
    msgtype of every API call; ``frames`` the text of every frame the client's
    streams received.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.refuse_streams = False
        self.refused = threading.Event()
        self.opens = 0
        self.refusals = 0
        self.after_call: Optional[Callable[[dict[str, Any], Any], None]] = None
        self.messages: list[str] = []
        self.frames: list[str] = []
        self._lock = threading.Lock()

    def call(self, envelope: bytes, *, timeout: float) -> Any:
        message = json.loads(base64.b64decode(json.loads(envelope)["payload"]))
        reply = self.inner.call(envelope, timeout=timeout)
        with self._lock:
            self.messages.append(message["msgtype"])
        if self.after_call is not None:
            self.after_call(message, reply)
        return reply

    def open_stream(self, *, timeout: float) -> Any:
        with self._lock:
            if self.refuse_streams:
                self.refusals += 1
                self.refused.set()
                raise ColoniesConnectionError("the test refuses to open streams")
            self.opens += 1
        return _RecordingStream(self.inner.open_stream(timeout=timeout), self)

    def close(self) -> None:
        self.inner.close()


class _RecordingStream:
    def __init__(self, inner: Any, owner: WrappingTransport) -> None:
        self._inner = inner
        self._owner = owner

    def send(self, frame: str) -> None:
        self._inner.send(frame)

    def receive(self, timeout: Optional[float]) -> Optional[str]:
        got = self._inner.receive(timeout)
        if got is not None:
            with self._owner._lock:
                self._owner.frames.append(got)
        return got

    def close(self) -> None:
        self._inner.close()


class Background(threading.Thread):
    """One call on a thread; its result or exception is kept for the test."""

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(daemon=True, name="test-background")
        self._call = (fn, args, kwargs)
        self.result: Any = None
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        fn, args, kwargs = self._call
        try:
            self.result = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the test
            self.error = exc

    def finish(self, timeout: float = JOIN) -> Any:
        """Join (failing the test if still running), re-raise the thread's error, return its result."""
        self.join(timeout)
        assert not self.is_alive(), "the background call did not finish"
        if self.error is not None:
            raise self.error
        return self.result

    def failure(self, timeout: float = JOIN) -> BaseException:
        """Join (bounded) and return the exception the call raised (failing if it returned)."""
        self.join(timeout)
        assert not self.is_alive(), "the background call did not finish"
        assert self.error is not None, f"expected an exception, got {self.result!r}"
        return self.error


# --- raw WebSocket frames -----------------------------------------------------------------


def connect(server: FakeColoniesServer) -> WebSocket:
    """A raw ``/pubsub`` connection (websocket-client sends no pings)."""
    return create_connection(f"ws://127.0.0.1:{server.port}/pubsub", timeout=JOIN)


def signed(message: dict[str, Any], prvkey: str) -> str:
    """A signed request envelope for ``message``, as the text of one frame."""
    return encode_request(message, prvkey, CRYPTO).decode("ascii")


def process_msg(process_id: str, state: int, timeout: int = 100, executortype: str = "") -> dict[str, Any]:
    return {
        "msgtype": "subscribeprocessmsg",
        "colonyname": "dev",
        "processid": process_id,
        "executortype": executortype,
        "state": state,
        "timeout": timeout,
    }


def channel_msg(process_id: str, name: str = "chat", afterseq: int = 0, timeout: int = 100) -> dict[str, Any]:
    return {
        "msgtype": "subscribechannelmsg",
        "processid": process_id,
        "name": name,
        "afterseq": afterseq,
        "timeout": timeout,
    }


@attrs.frozen
class Frame:
    """One frame from the server: the envelope's fields and its decoded payload."""

    envelope: dict[str, Any]
    payload: Any
    opcode: int

    @property
    def payloadtype(self) -> str:
        return str(self.envelope["payloadtype"])

    @property
    def error(self) -> Any:
        return self.envelope["error"]


DROPPED = "dropped"  # the connection went away with no close frame
CLOSE_FRAME = "close frame"
SILENT = "silent"


def receive(ws: WebSocket, wait: float = JOIN) -> Any:
    """The next frame as a :class:`Frame`, or ``DROPPED``, ``CLOSE_FRAME`` or ``SILENT`` (after ``wait`` s)."""
    ws.settimeout(wait)
    try:
        opcode, data = ws.recv_data(control_frame=True)
    except WebSocketTimeoutException:
        return SILENT
    except (WebSocketConnectionClosedException, ConnectionError, OSError):
        return DROPPED
    if opcode == ABNF.OPCODE_CLOSE:
        return CLOSE_FRAME
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    envelope = json.loads(text)
    return Frame(envelope, json.loads(base64.b64decode(envelope["payload"])), opcode)


def frame(ws: WebSocket, wait: float = JOIN) -> Frame:
    """The next frame, which must be one (not a drop or silence)."""
    got = receive(ws, wait)
    assert isinstance(got, Frame), f"expected a frame, got {got!r}"
    return got


def process_of(got: Frame) -> Process:
    assert (got.payloadtype, got.error) == ("subscribeprocessmsg", False), got
    return Process.from_dict(got.payload)


def entries_of(got: Frame) -> list[dict[str, Any]]:
    assert (got.payloadtype, got.error) == ("subscribechannelmsg", False), got
    assert isinstance(got.payload, list), got
    return got.payload


def error_of(got: Frame) -> tuple[int, str]:
    assert (got.payloadtype, got.error) == ("error", True), got
    assert set(got.payload) == {"status", "message"}, got.payload
    return got.payload["status"], got.payload["message"]


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


# --- what is left behind ---------------------------------------------------------------------


def client_sockets(client: ColoniesClient) -> int:
    """Open TCP sockets of this process (any client's) connected to the client's server; 0 in-process.

    Counts sockets whose *remote* port is the server's, so the served fake's own
    sockets (local port) are not included; compare with a count taken before.
    Reads /proc (Linux).
    """
    from colonies_sync import HttpTransport

    if not isinstance(client.transport, HttpTransport):
        return 0
    port = client.port
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[9] in inodes:
                count += 1
    return count


def await_server_release(world: World, pid: str) -> None:
    """Until the fake holds no subscription of ``pid`` (failing the test after ``JOIN`` seconds).

    In-process a closed stream ends its session at once. The served fake reads
    the socket even while a channel subscription lasts (where the real server
    reads nothing), so a client that went away ends its session as soon as its
    close or end of stream arrives, without the fake having to write to it.
    """
    try:
        world.fake.wait_until(lambda: world.fake.subscriptions(pid) == 0, JOIN)
    except TimeoutError:
        raise AssertionError(f"the fake still holds {world.fake.subscriptions(pid)} subscription(s) of {pid}") from None
