"""Issue 8, faults: a server that dies, fails, stalls or goes silent never hangs a client.

Three parts, each bounding every wait it makes:

* a served fake killed in the middle of a channel stream and served again on
  the same port: the stream resumes without losing or repeating an entry, or
  ends with a clear, typed error;
* ``faults.fail_next`` and ``faults.delay``: each call raises the typed error
  within its timeout, after exactly one request (the client never retries an
  RPC; only streams reconnect, with the backoff of ``_subscription.py``);
* a server that accepts connections and never answers (and one that accepts
  the WebSocket upgrade and then says nothing): every blocking call returns or
  raises within its timeout plus one second.

What each call does in each case is written down in the tables below: they are
the documentation of the client's fault behaviour.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import socket
import socketserver
import threading
import time
from typing import Any, Callable, Iterator, Optional

import pytest

from colonies_fake import FakeColonies, FakeColoniesServer, RealClock
from colonies_sync import (
    ColoniesClient,
    ColoniesConnectionError,
    Crypto,
    FunctionSpec,
    InternalServerError,
    MsgEntry,
    NoProcessAvailable,
    ProcessState,
    ServiceUnavailable,
    StreamError,
    WaitTimeout,
)
from colonies_sync import _subscription
from colonies_sync._subscription import Backoff
from tests.stress.scale import scaled

#: The longest a dropped stream may take to come back or give up: its backoff's pauses add up to 15.1 s at most.
RESUME = 20.0
#: Longest a test waits for something that should happen at once.
JOIN = 5.0
#: The client timeout of the fault tests: short, so that every bound is a few seconds.
CLIENT_TIMEOUT = 0.5
#: What the brief allows beyond a call's own timeout.
SLACK = 1.0
CRYPTO = Crypto()


class Recorder:
    """The callbacks of one subscription (or the entries of one stream), with bounded waits on them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.batches: list[list[MsgEntry]] = []
        self.errors: list[BaseException] = []
        self.closes = 0
        self.ended = threading.Event()

    def on_item(self, batch: list[MsgEntry]) -> None:
        with self._cond:
            self.batches.append(batch)
            self._cond.notify_all()

    def on_error(self, exc: BaseException) -> None:
        self.errors.append(exc)
        self.ended.set()

    def on_close(self) -> None:
        self.closes += 1
        self.ended.set()

    def callbacks(self, **extra: Any) -> dict[str, Any]:
        return {"on_error": self.on_error, "on_close": self.on_close, **extra}

    @property
    def entries(self) -> list[MsgEntry]:
        with self._cond:
            return [entry for batch in self.batches for entry in batch]

    def wait_entries(self, n: int, timeout: float = JOIN) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: sum(map(len, self.batches)) >= n, timeout), f"{n} entries not in"

    def wait_ended(self, timeout: float = JOIN) -> None:
        assert self.ended.wait(timeout), f"the subscription still runs after {timeout} s"


class Background(threading.Thread):
    """One call on a thread; what it raised is kept for the test."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        super().__init__(daemon=True, name="test-background")
        self._call = (fn, args)
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        fn, args = self._call
        try:
            fn(*args)
        except BaseException as exc:  # handed to the test
            self.error = exc

    def finish(self, timeout: float) -> None:
        self.join(timeout)
        assert not self.is_alive(), f"the call still runs after {timeout} s"
        if self.error is not None:
            raise self.error


def collect(stream: Iterator[MsgEntry], rec: Recorder) -> None:
    """Feed a ``Channel.stream`` into a recorder, one entry per item."""
    for entry in stream:
        rec.on_item([entry])


def texts(entries: list[MsgEntry]) -> list[str]:
    return [entry.text for entry in entries]


# --- a served fake that can be killed and served again ----------------------------------------


class Site:
    """A fake on a RealClock served on 127.0.0.1, its members, and everything to clean up."""

    def __init__(self) -> None:
        self.fake = FakeColonies(clock=RealClock())
        self.fakes = [self.fake]
        self.keys = {"colony": self.fake.add_colony("dev").prvkey}
        self.keys["executor"] = self.fake.add_executor("dev", "worker", "test").prvkey
        self.keys["user"] = self.fake.add_user("dev", "alice").prvkey
        self.server: Optional[FakeColoniesServer] = FakeColoniesServer(self.fake).start()
        self.servers = [self.server]
        self.port = self.server.port
        self.clients: list[ColoniesClient] = []

    def client(self, role: str) -> ColoniesClient:
        made = ColoniesClient("127.0.0.1", self.port, prvkey=self.keys[role], timeout=2.0)
        self.clients.append(made)
        return made

    def inprocess(self, role: str) -> ColoniesClient:
        """A client that reaches the first fake directly, whatever happens to the server."""
        made = self.fakes[0].client(self.keys[role])
        self.clients.append(made)
        return made

    def kill(self) -> None:
        assert self.server is not None
        self.server.stop()
        self.server = None

    def serve(self, fake: FakeColonies) -> None:
        """Serve ``fake`` on the port the first server had."""
        if fake not in self.fakes:
            self.fakes.append(fake)
        self.server = FakeColoniesServer(fake, port=self.port).start()
        self.servers.append(self.server)

    def new_fake(self, members: bool) -> FakeColonies:
        """A fresh fake, as a restarted server with an empty database; ``members``: bootstrapped as before."""
        fake = FakeColonies(clock=RealClock())
        if members:
            fake.add_colony("dev", prvkey=self.keys["colony"])
            fake.add_executor("dev", "worker", "test", prvkey=self.keys["executor"])
            fake.add_user("dev", "alice", prvkey=self.keys["user"])
        return fake

    def close(self) -> None:
        for made in self.clients:
            made.close()
        for server in self.servers:
            server.stop()
        for fake in self.fakes:
            fake.close()
        errors = [e for server in self.servers for e in server.errors] + [e for f in self.fakes for e in f.errors]
        assert errors == []


@pytest.fixture
def site() -> Iterator[Site]:
    made = Site()
    try:
        yield made
    finally:
        made.close()


def running_process(client: ColoniesClient, executor: ColoniesClient) -> str:
    pid = client.submit_function_spec(FunctionSpec.create("chat", "dev", "test", channels=["chat"])).processid
    assert executor.assign("dev", -1).processid == pid
    return pid


# --- 2a: killed in the middle of a stream, served again on the same port -----------------------

#: How each reader ends, by what comes back on the port. "same fake": the fake itself is served
#: again (a restarted front end); its stream resumes where it was. "new fake": a server with an
#: empty database that knows the same keys; "empty fake": one that knows nobody. Either answers
#: "Process not found" (the process is looked up first), which the client cannot tell from a
#: removed process and reports as it reports a process that ended: ``StreamError`` ("closed
#: before an end entry") for a stream, ``on_close`` for a subscription. "nothing": the port
#: stays closed; the reader gives up at its deadline with the connection error.
RESTARTS = {
    "same fake": {"stream": None, "subscribe_channel": None},
    "new fake": {"stream": StreamError, "subscribe_channel": None},
    "empty fake": {"stream": StreamError, "subscribe_channel": None},
    "nothing": {"stream": ColoniesConnectionError, "subscribe_channel": ColoniesConnectionError},
}
#: The readers' own timeout when nothing comes back: they must end by then (a closed port refuses at once).
DEADLINE = 3.0


@pytest.mark.parametrize("reader_kind", ["stream", "subscribe_channel"])
@pytest.mark.parametrize("restart", list(RESTARTS))
def test_a_stream_cut_by_a_killed_server_resumes_or_ends_with_a_clear_error(
    site: Site, reader_kind: str, restart: str
) -> None:
    sub = site.client("user")
    writer = site.inprocess("executor")  # writes to the first fake, whatever the port serves
    pid = running_process(site.inprocess("user"), writer)
    chat = writer.channel(pid, "chat")
    timeout = DEADLINE if restart == "nothing" else 60.0
    rec = Recorder()
    if reader_kind == "stream":
        reader: Any = Background(collect, sub.channel(pid, "chat").stream(timeout=timeout, quiet=0.5), rec)
        reader.start()
    else:
        reader = sub.subscribe_channel(pid, "chat", 0, timeout, rec.on_item, **rec.callbacks(quiet=0.5))
    for text in ("e0", "e1", "e2"):
        chat.append(text)
    rec.wait_entries(3)

    site.kill()
    killed = time.monotonic()
    chat.append("e3")  # while nothing serves the port
    if restart == "same fake":
        site.serve(site.fake)
        chat.append("e4")
        chat.end("fin")
        rec.wait_entries(6, timeout=RESUME)
        if reader_kind == "subscribe_channel":
            writer.close_process(pid)  # a subscription outlives the end entry: the process closing ends it
    elif restart != "nothing":
        site.serve(site.new_fake(members=restart == "new fake"))

    expected = RESTARTS[restart][reader_kind]
    bound = DEADLINE + SLACK if restart == "nothing" else RESUME
    if reader_kind == "stream":
        reader.join(bound)
        assert not reader.is_alive(), f"the stream still runs {bound} s after the kill"
        error = reader.error
    else:
        rec.wait_ended(bound)
        with contextlib.suppress(Exception):  # its error is looked at below
            reader.join(JOIN)
        assert reader.closed
        error = reader.error
        assert rec.closes == (1 if expected is None else 0)
    elapsed = time.monotonic() - killed
    assert elapsed <= bound
    if expected is None:
        assert error is None, repr(error)
    else:
        assert isinstance(error, expected), repr(error)
    if restart == "same fake":
        assert texts(rec.entries) == ["e0", "e1", "e2", "e3", "e4", "fin"]  # each once, in log order
    else:
        assert texts(rec.entries) == ["e0", "e1", "e2"]


def test_a_stream_whose_server_never_comes_back_gives_up_after_its_backoff(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no deadline, the reconnect attempts run out: ``ColoniesConnectionError``, within the backoff's bound.

    The full run keeps the real ten attempts (pauses of 15.1 s at most); the
    default run allows three (0.7 s at most), the same code path.
    """
    attempts = scaled(10, 3)
    backoff = Backoff(attempts=attempts)
    most = sum(min(backoff.cap, backoff.first * 2**n) for n in range(attempts))
    monkeypatch.setattr(_subscription, "Backoff", functools.partial(Backoff, attempts=attempts))
    sub = site.client("user")
    writer = site.inprocess("executor")
    pid = running_process(site.inprocess("user"), writer)
    writer.channel(pid, "chat").append("e0")
    rec = Recorder()
    subscription = sub.subscribe_channel(pid, "chat", 0, None, rec.on_item, **rec.callbacks())
    stream = Background(collect, sub.channel(pid, "chat").stream(timeout=None), Recorder())
    stream.start()
    rec.wait_entries(1)
    site.fake.wait_until(lambda: site.fake.subscriptions(pid) == 2, JOIN)
    site.kill()
    killed = time.monotonic()
    bound = most + SLACK  # each attempt is refused at once
    rec.wait_ended(bound)
    stream.join(bound)
    assert not stream.is_alive()
    assert time.monotonic() - killed <= bound
    assert isinstance(subscription.error, ColoniesConnectionError), repr(subscription.error)
    assert isinstance(stream.error, ColoniesConnectionError), repr(stream.error)
    with pytest.raises(ColoniesConnectionError):
        subscription.join(0)


# --- 2b: injected failures and delays -------------------------------------------------------------


class Calls:
    """One colony on a RealClock fake, reached in-process or over HTTP, and the calls under test."""

    def __init__(self, transport: str, timeout: float) -> None:
        self.fake = FakeColonies(clock=RealClock())
        self.fake.add_colony("dev")
        executor = self.fake.add_executor("dev", "worker", "test")
        user = self.fake.add_user("dev", "alice")
        self.server = None if transport == "inprocess" else FakeColoniesServer(self.fake).start()
        self.sub = self.client(user.prvkey, timeout)
        self.ex = self.client(executor.prvkey, timeout)
        setup = self.fake.client(user.prvkey)
        #: The executor in-process with the default timeout: a delay only holds its requests.
        self.writer = self.fake.client(executor.prvkey)
        self.running = running_process(setup, self.writer)
        self.writer.channel_append(self.running, "chat", 1, 0, "hello")
        # A second process stays WAITING: an assign could take it.
        self.waiting = setup.submit_function_spec(FunctionSpec.create("chat", "dev", "test", channels=["chat"]))
        self._extra = [setup, self.writer]

    def client(self, prvkey: str, timeout: float) -> ColoniesClient:
        if self.server is None:
            return self.fake.client(prvkey, timeout=timeout)
        return ColoniesClient("127.0.0.1", self.server.port, prvkey=prvkey, timeout=timeout)

    def state(self) -> tuple[int, ProcessState, int]:
        """What a call that failed must not have changed: processes, the waiting one's state, the log."""
        return (
            len(self.fake.processes("dev")),
            self.fake.process(self.waiting.processid).state,
            len(self.fake.channel_log(self.running, "chat")),
        )

    def close(self) -> None:
        self.fake.faults.clear()
        for made in (self.sub, self.ex, *self._extra):
            made.close()
        if self.server is not None:
            self.server.stop()
            assert self.server.errors == []
        self.fake.close()
        assert self.fake.errors == []

    # Each call, as a test makes it. A stream reads the history and then, quiet, asks for the process.
    def run(self, name: str) -> Any:
        pid = self.running
        if name == "get_process":
            return self.sub.get_process(pid)
        if name == "submit":
            return self.sub.submit_function_spec(FunctionSpec.create("more", "dev", "test"))
        if name == "assign(-1)":
            return self.ex.assign("dev", -1)
        if name == "assign(1)":
            return self.ex.assign("dev", 1)
        if name == "channel append":
            return self.sub.channel(pid, "chat").append("more")
        if name == "channel read":
            return self.sub.channel(pid, "chat").read()
        if name == "wait":
            return self.sub.wait(pid, timeout=1)
        if name == "stream":
            return list(self.sub.channel(pid, "chat").stream(timeout=1, quiet=0.2))
        if name == "request":
            return self.sub.channel(pid, "chat").request("ping", timeout=1, quiet=0.2)
        raise AssertionError(name)


CALLS = [
    "get_process",
    "submit",
    "assign(-1)",
    "assign(1)",
    "channel append",
    "channel read",
    "wait",
    "stream",
    "request",
]
#: What each call gives once the fault is gone (the "success" of the calls that wait for a while).
AFTERWARDS: dict[str, Any] = {"wait": WaitTimeout, "stream": WaitTimeout, "request": WaitTimeout}


@contextlib.contextmanager
def calls(transport: str, timeout: float = 2.0) -> Iterator[Calls]:
    made = Calls(transport, timeout)
    try:
        yield made
    finally:
        made.close()


def outcome(fn: Callable[[], Any]) -> tuple[Any, float]:
    """What ``fn`` raised (or returned), and how long it took."""
    started = time.monotonic()
    try:
        result: Any = fn()
    except Exception as exc:  # the outcome under test
        result = exc
    return result, time.monotonic() - started


@pytest.mark.parametrize("transport", ["inprocess", "http"])
@pytest.mark.parametrize(
    "status, message, cls",
    [(500, "injected fault", InternalServerError), (503, "try again later", ServiceUnavailable)],
)
@pytest.mark.parametrize("name", CALLS)
def test_fail_next_raises_the_typed_error_once_and_the_call_makes_one_request(
    transport: str, status: int, message: str, cls: type, name: str
) -> None:
    """``fail_next(1)``: the call raises the server's error as its class, after one request, changing nothing.

    A hidden retry would have succeeded with the second request; the fault is
    consumed (one request was made), and the same call then works. A stream
    makes no RPC until it has been quiet for ``quiet`` seconds and asks for the
    process: that request gets the fault, which says nothing about the process,
    so the stream asks again later and runs to its own timeout.
    """
    with calls(transport) as world:
        before = world.state()
        world.fake.faults.fail_next(1, status, message)
        error, elapsed = outcome(lambda: world.run(name))
        if name == "stream":
            assert isinstance(error, WaitTimeout), repr(error)
        else:
            assert type(error) is cls, repr(error)
            assert (error.status, error.message) == (status, message)
        assert elapsed <= 2.0 + SLACK
        assert world.fake.faults.take_failure() is None  # consumed by exactly the one request
        assert world.state() == before
        again, _ = outcome(lambda: world.run(name))
        expected = AFTERWARDS.get(name)
        if expected is not None:
            assert isinstance(again, expected), repr(again)
        elif name == "assign(-1)" or name == "assign(1)":
            assert again.processid == world.waiting.processid
        else:
            assert not isinstance(again, Exception), repr(again)


#: Under ``delay(2)`` with a 0.5 s client timeout: what each call gives. Every RPC gives up with
#: ColoniesConnectionError at its read timeout (the assign long-poll's is its own timeout plus the
#: client's). Streams do not go through ``/api``: a stream only asks for the process when quiet,
#: and a request that times out there counts as "the network: let the stream decide", so it runs
#: to its own timeout. ``request`` appends first, and that append times out.
DELAYED = {name: ColoniesConnectionError for name in CALLS}
DELAYED["stream"] = WaitTimeout
DELAYED_BOUND = {"assign(1)": 1 + CLIENT_TIMEOUT, "stream": 1.0 + CLIENT_TIMEOUT}


@pytest.mark.parametrize("transport", ["inprocess", "http"])
@pytest.mark.parametrize("name", CALLS)
def test_delay_longer_than_the_client_timeout_raises_within_the_timeout_and_changes_nothing(
    transport: str, name: str
) -> None:
    with calls(transport, timeout=CLIENT_TIMEOUT) as world:
        before = world.state()
        world.fake.faults.delay(2.0)
        error, elapsed = outcome(lambda: world.run(name))
        assert isinstance(error, DELAYED[name]), repr(error)
        assert elapsed <= DELAYED_BOUND.get(name, CLIENT_TIMEOUT) + SLACK, elapsed
        # The request the client gave up on is dropped unanswered, not carried out late.
        world.fake.wait_until(lambda: world.fake.held_requests() == 0, 2.0 + JOIN)
        assert world.state() == before


@pytest.mark.parametrize("transport", ["inprocess", "http"])
def test_a_delay_shorter_than_the_client_timeout_only_slows_calls_down(transport: str) -> None:
    with calls(transport, timeout=2.0) as world:
        world.fake.faults.delay(0.3)
        result, elapsed = outcome(lambda: world.sub.get_process(world.running))
        assert result.state is ProcessState.RUNNING
        assert 0.3 <= elapsed <= 0.3 + SLACK


@pytest.mark.parametrize("transport", ["inprocess", "http"])
def test_a_stream_keeps_going_while_its_process_checks_time_out(transport: str) -> None:
    """A delayed server answers no RPC in time; the stream itself still delivers, to its end entry."""
    with calls(transport, timeout=CLIENT_TIMEOUT) as world:
        world.fake.faults.delay(1.0)
        rec = Recorder()
        reader = Background(collect, world.sub.channel(world.running, "chat").stream(timeout=10, quiet=0.2), rec)
        reader.start()
        rec.wait_entries(1)
        world.writer.channel(world.running, "chat").end("bye")
        reader.finish(JOIN)
        assert texts(rec.entries) == ["hello", "bye"]


# --- 2c: a server that stops answering ------------------------------------------------------------

_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class _MuteHandler(socketserver.BaseRequestHandler):
    server: MuteServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        if not self.server.track(sock):
            return
        try:
            self._serve(sock)
        except OSError:
            pass  # the client or stop() closed it
        finally:
            self.server.untrack(sock)

    def _serve(self, sock: socket.socket) -> None:
        buffered = b""
        while True:
            while b"\r\n\r\n" not in buffered:
                data = sock.recv(65536)
                if not data:
                    return
                buffered += data
            head, _, buffered = buffered.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            target = lines[0].split(b" ")[1]
            headers = {k.strip().lower(): v.strip() for k, v in (line.split(b":", 1) for line in lines[1:])}
            if target == b"/pubsub" and b"sec-websocket-key" in headers:
                accept = base64.b64encode(hashlib.sha1(headers[b"sec-websocket-key"] + _WS_GUID).digest())
                sock.sendall(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
                )
                break  # then not one frame
            length = int(headers.get(b"content-length", b"0"))
            while len(buffered) < length:
                data = sock.recv(65536)
                if not data:
                    return
                buffered += data
            body, buffered = buffered[:length], buffered[length:]
            if self.server.api is None:
                break  # then no answer
            reply = self.server.api.handle_api(body)
            head = b"HTTP/1.1 %d OK\r\nContent-Length: %d\r\n\r\n" % (reply.status, len(reply.body))
            sock.sendall(head + reply.body)
        while sock.recv(65536):  # read and ignore until the client (or stop()) closes
            pass


class MuteServer(socketserver.ThreadingTCPServer):
    """Accepts connections and WebSocket upgrades, then sends nothing; ``api`` (a fake) answers ``/api`` if set."""

    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, api: Optional[FakeColonies] = None) -> None:
        super().__init__(("127.0.0.1", 0), _MuteHandler)
        self.api = api
        self._socks: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = False
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def track(self, sock: socket.socket) -> bool:
        with self._lock:
            if not self._stopping:
                self._socks.add(sock)
            return not self._stopping

    def untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.discard(sock)

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            socks = list(self._socks)
        self.shutdown()
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.server_close()  # joins the connection threads
        self._thread.join(JOIN)


@contextlib.contextmanager
def silent_server(kind: str) -> Iterator[tuple[int, Optional[FakeColonies]]]:
    """``deaf``: a listening socket nobody accepts on (the kernel completes the TCP handshake, nothing
    answers); ``mute``: the upgrade is accepted, nothing else answered; ``mute streams``: ``/api``
    answered by a fake, streams silent after the upgrade."""
    if kind == "deaf":
        with socket.create_server(("127.0.0.1", 0), backlog=64) as listener:
            yield listener.getsockname()[1], None
        return
    api = None
    if kind == "mute streams":
        api = FakeColonies(clock=RealClock())
        api.add_colony("dev")
    server = MuteServer(api)
    try:
        yield server.port, api
    finally:
        server.stop()
        if api is not None:
            api.close()
            assert api.errors == []


#: A call's own timeout in the silent-server tests, in seconds.
WAIT = 2.0


def blocking_call(client: ColoniesClient, name: str, pid: str) -> Callable[[], Any]:
    """The call under test; a subscription is joined (bounded) and its error raised, or ``"closed"``."""

    def subscribed(start: Callable[..., Any]) -> Any:
        rec = Recorder()
        subscription = start(rec)
        rec.wait_ended(WAIT + CLIENT_TIMEOUT + SLACK)
        subscription.join(JOIN)
        assert rec.closes == 1
        return "closed"

    calls: dict[str, Callable[[], Any]] = {
        "assign(1)": lambda: client.assign("dev", 1),
        "assign(-1)": lambda: client.assign("dev", -1),
        "wait_for_running": lambda: client.wait_for_running(pid, WAIT),
        "wait_for_state": lambda: client.wait_for_state(pid, ProcessState.SUCCESS, WAIT),
        "wait": lambda: client.wait(pid, WAIT),
        "subscribe_process": lambda: subscribed(
            lambda rec: client.subscribe_process("dev", pid, ProcessState.SUCCESS, WAIT, rec.on_item, **rec.callbacks())
        ),
        "subscribe_channel": lambda: subscribed(
            lambda rec: client.subscribe_channel(pid, "chat", 0, WAIT, rec.on_item, **rec.callbacks(quiet=0.5))
        ),
        "stream": lambda: list(client.channel(pid, "chat").stream(timeout=WAIT, quiet=0.5)),
        "request": lambda: client.channel(pid, "chat").request("ping", timeout=WAIT, quiet=0.5),
    }
    return calls[name]


#: Each call's bound: its own timeout (``assign(t)``: t, plus the client timeout for the reply) plus SLACK.
BOUNDS = {"assign(1)": 1 + CLIENT_TIMEOUT, "assign(-1)": CLIENT_TIMEOUT}
#: What each call gives, by server. RPCs give up at the client timeout; a WebSocket that cannot
#: be opened is retried with backoff until the call's deadline, then its error is raised; a
#: stream that is open but silent ends at its timeout as an idle one does.
SILENT = {
    "deaf": {"*": ColoniesConnectionError},
    "mute": {
        "*": ColoniesConnectionError,
        "subscribe_process": "closed",
        "subscribe_channel": "closed",
        "stream": WaitTimeout,
    },
    "mute streams": {
        "*": WaitTimeout,
        "assign(1)": NoProcessAvailable,
        "assign(-1)": NoProcessAvailable,
        "subscribe_process": "closed",
        "subscribe_channel": "closed",
    },
}
BLOCKING = [
    "assign(1)",
    "assign(-1)",
    "wait_for_running",
    "wait_for_state",
    "wait",
    "subscribe_process",
    "subscribe_channel",
    "stream",
    "request",
]


@pytest.mark.parametrize("kind", list(SILENT))
@pytest.mark.parametrize("name", BLOCKING)
def test_every_blocking_call_ends_within_its_timeout_when_the_server_stops_answering(kind: str, name: str) -> None:
    with silent_server(kind) as (port, api):
        if api is None:  # nobody answers: any key, any process id
            prvkey = CRYPTO.generate_private_key()
            pid = CRYPTO.id(CRYPTO.generate_private_key())
        else:
            executor = api.add_executor("dev", "worker", "test")
            user = api.add_user("dev", "alice")
            prvkey = executor.prvkey if name.startswith("assign") else user.prvkey
            with api.client(user.prvkey) as setup, api.client(executor.prvkey) as setup_ex:
                pid = running_process(setup, setup_ex)
                if name == "wait_for_running":  # one that stays WAITING, polled to the timeout
                    pid = setup.submit_function_spec(FunctionSpec.create("idle", "dev", "nobody")).processid
        with ColoniesClient("127.0.0.1", port, prvkey=prvkey, timeout=CLIENT_TIMEOUT) as client:
            result, elapsed = outcome(blocking_call(client, name, pid))
            closing, _ = outcome(client.close)
        expected = SILENT[kind].get(name, SILENT[kind]["*"])
        if isinstance(expected, str):
            assert result == expected, repr(result)
        else:
            assert isinstance(result, expected), repr(result)
        assert elapsed <= BOUNDS.get(name, WAIT) + SLACK, f"{name} took {elapsed:.2f} s"
        assert closing is None
