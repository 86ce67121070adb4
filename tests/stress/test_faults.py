"""Issue 8, faults: a server that dies, fails, stalls or goes silent never hangs a client.

Three parts, each bounding every wait it makes:

* a served fake killed in the middle of a channel stream and served again on
  the same port: the stream resumes without losing or repeating an entry, or
  ends with a clear, typed error;
* ``faults.fail_next`` and ``faults.delay``: each call raises the typed error
  within its timeout, after exactly one request (the client never retries an
  RPC; only streams reconnect, with the backoff of ``_subscription.py``), and
  loses nothing: the failed call changed nothing, the same call then works,
  once;
* a server that is down, one that accepts connections and never answers, and
  one that accepts the WebSocket upgrade and then says nothing: every call
  returns or raises within its timeout plus one second.

The calls are the rows of ``CALLS``, one for every public method of
``ColoniesClient`` and ``Channel`` that sends a request (a test fails when a
new one has no row), plus the subscriptions. What each call does in each case
is written down in the tables below: they are the documentation of the
client's fault behaviour.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import functools
import hashlib
import socket
import socketserver
import threading
import time
from typing import Any, Callable, Iterator, Optional

import attrs
import pytest

from colonies_fake import FakeColonies, FakeColoniesServer, RealClock
from colonies_sync import (
    Channel,
    ColoniesClient,
    ColoniesConnectionError,
    Colony,
    Crypto,
    Executor,
    ExecutorState,
    FunctionSpec,
    InternalServerError,
    MsgEntry,
    ProcessState,
    ServerInfo,
    ServerVersion,
    ServiceUnavailable,
    StreamError,
    User,
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


# --- 2b: every call, under injected failures and delays ---------------------------------------------

#: The keys of the members a World adds, the same in every world, so that one fake reset between
#: tests serves them all; and the ids of the members the rows add (add_colony, add_executor, add_user).
KEYS = {role: CRYPTO.generate_private_key() for role in ("colony", "executor", "user")}
NEW_IDS = {what: CRYPTO.id(CRYPTO.generate_private_key()) for what in ("colony", "executor", "user")}


def random_id() -> str:
    return CRYPTO.id(CRYPTO.generate_private_key())


class World:
    """Colony ``dev`` as the rows of CALLS expect it, and a client for each role that reaches it.

    On a fake (reached in-process when ``port`` is None, else at ``port``): ``running`` is
    RUNNING, submitted by user alice with channel "chat" and assigned to executor worker, which
    wrote "hello" on the channel, the log line "started" and the attribute stage=one;
    ``waiting`` is WAITING, the one process there is to assign; executor "pending" waits for
    approval; user "bob" and colony "lab" are there to be removed. Without a fake (a server that
    answers nothing) the ids are random. ``timeout`` is the clients'; ``wait`` and ``quiet`` are
    what the blocking rows pass as their own timeout and as their quiet time (or poll interval).
    """

    def __init__(
        self, fake: Optional[FakeColonies], port: Optional[int], *, timeout: float, wait: float, quiet: float
    ) -> None:
        self.fake = fake
        self.port = port
        self.timeout = timeout
        self.wait = wait
        self.quiet = quiet
        #: Every client of this world and of its forks, closed by :meth:`close`.
        self.clients: list[ColoniesClient] = []
        self.alice = CRYPTO.id(KEYS["user"])
        #: The executor in-process with the default timeout: what the rows' helpers write with.
        self.writer: Optional[ColoniesClient] = None
        if fake is None:
            self.server_key = CRYPTO.generate_private_key()
            self.running, self.waiting, self.attribute, self.worker = (random_id() for _ in range(4))
        else:
            self.server_key = fake.server_prvkey
            fake.add_colony("dev", prvkey=KEYS["colony"])
            fake.add_colony("lab")
            self.worker = fake.add_executor("dev", "worker", "test", prvkey=KEYS["executor"]).id
            fake.add_executor("dev", "pending", "test", approved=False)
            fake.add_user("dev", "alice", prvkey=KEYS["user"])
            fake.add_user("dev", "bob")
            self.writer = fake.client(KEYS["executor"])
            with fake.client(KEYS["user"]) as setup:
                self.running = running_process(setup, self.writer)
                spec = FunctionSpec.create("chat", "dev", "test", channels=["chat"])
                self.waiting = setup.submit_function_spec(spec).processid
            self.writer.channel_append(self.running, "chat", 1, 0, "hello")
            self.writer.add_log(self.running, "started")
            self.attribute = self.writer.add_attribute(self.running, "stage", "one").attributeid
        self._own_clients()

    def _own_clients(self) -> None:
        self.owner = self.client(self.server_key)
        self.colony = self.client(KEYS["colony"])
        self.ex = self.client(KEYS["executor"])
        self.sub = self.client(KEYS["user"])

    def client(self, prvkey: str) -> ColoniesClient:
        if self.port is None:
            assert self.fake is not None
            made = self.fake.client(prvkey, timeout=self.timeout)
        else:
            made = ColoniesClient("127.0.0.1", self.port, prvkey=prvkey, timeout=self.timeout)
        self.clients.append(made)
        return made

    def fork(self) -> World:
        """The same world with clients of its own (for calls made at the same time)."""
        twin = copy.copy(self)
        twin._own_clients()  # into the shared list: close() closes them
        return twin

    def close(self) -> None:
        """Close every client; raise what a close raised, if one did."""
        failures = []
        for made in [*self.clients, *([self.writer] if self.writer else [])]:
            try:
                made.close()
            except Exception as exc:  # reported below, after the others are closed
                failures.append(exc)
        if failures:
            raise failures[0]

    # What the rows look at afterwards, on the fake.
    def state(self, process_id: str) -> ProcessState:
        return self.present.process(process_id).state

    def executor_state(self, name: str) -> ExecutorState:
        return self.present.executor("dev", name).state

    def chat(self) -> list[str]:
        return texts(self.present.channel_log(self.running, "chat"))

    def channel(self) -> Channel:
        return self.sub.channel(self.running, "chat")

    @property
    def present(self) -> FakeColonies:
        assert self.fake is not None
        return self.fake


def snapshot(fake: FakeColonies) -> list[Any]:
    """Everything a call could change: colonies, executors, users, processes, logs and channels."""
    rows: list[Any] = []
    for colony in fake.colonies():
        rows.append((colony.render(), colony.paused))
        rows.extend(e.render() for e in fake.executors_of(colony.name))
        rows.extend(u.render() for u in fake.users_of(colony.name))
        for process in fake.processes(colony.name):
            rows.append((process, fake.logs(process.processid)))
            for name in process.spec.channels:
                with contextlib.suppress(KeyError):  # gone with a closed process
                    rows.append((name, fake.channel_log(process.processid, name)))
    return rows


@attrs.frozen
class Row:
    """One call as a test makes it, and what it gives (or changes) once it works."""

    call: Callable[[World], Any]
    #: Given the world and what the call returned when no fault was left: whether it did what it should.
    then: Callable[[World, Any], bool]
    #: The public methods it exercises ("Channel." for Channel's); by default the row's name.
    methods: tuple[str, ...] = ()
    #: It changes the server when it works (otherwise nothing may change, even then).
    changes: bool = False
    #: It has a timeout of its own (``World.wait``): a wait, a stream, a request.
    blocking: bool = False
    #: It opens a /pubsub WebSocket.
    pubsub: bool = False
    #: It appends through a Channel handle. One sender's appends to one channel go out one at a time
    #: (``sender_lock`` in _channel.py), so made at the same time they would wait for each other:
    #: the tests that make calls at the same time make these one after another.
    appends: bool = False
    #: Makes the world what the call needs, before anything is looked at (only ``resume_assignments`` needs it).
    setup: Optional[Callable[[World], Any]] = None
    #: For a blocking call that should return: what the other side does meanwhile (on a thread, once no
    #: injected failure is pending), so that it returns at once instead of at its timeout.
    meanwhile: Optional[Callable[[World], Any]] = None

    def exercises(self, name: str) -> tuple[str, ...]:
        return self.methods or (name,)


def _paused(w: World) -> None:
    with w.present.client(KEYS["colony"]) as owner:
        owner.pause_assignments("dev")


def _write(w: World) -> ColoniesClient:
    assert w.writer is not None
    return w.writer


def _answer(w: World) -> None:
    """Reply to alice's newest entry on the channel, once there is one."""
    asked: list[MsgEntry] = []

    def question() -> bool:
        asked[:] = [e for e in w.present.channel_log(w.running, "chat") if e.senderid == w.alice]
        return bool(asked)

    w.present.wait_until(question, JOIN)
    _write(w).channel(w.running, "chat").append("pong", in_reply_to=asked[-1].sequence)


def _attributes(w: World) -> list[tuple[str, str]]:
    return sorted((a.key, a.value) for a in w.present.process(w.running).attributes)


RUNNING, SUCCESS = ProcessState.RUNNING, ProcessState.SUCCESS

# Every public method of ColoniesClient and Channel that sends a request to /api (test_the_calls_cover_... checks).
# fmt: off
CALLS: dict[str, Row] = {
    # server (unsigned)
    "version": Row(lambda w: w.sub.version(), lambda w, r: isinstance(r, ServerVersion)),
    "get_server_info": Row(lambda w: w.sub.get_server_info(), lambda w, r: isinstance(r, ServerInfo)),
    "rpc": Row(lambda w: w.sub.rpc("getprocessmsg", {"processid": w.running}),
               lambda w, r: r["processid"] == w.running),
    # colonies
    "add_colony": Row(lambda w: w.owner.add_colony(Colony(colonyid=NEW_IDS["colony"], name="new")),
                      lambda w, r: r.name == "new" and w.present.colony("new") is not None, changes=True),
    "get_colony": Row(lambda w: w.sub.get_colony("dev"), lambda w, r: r.name == "dev"),
    "get_colonies": Row(lambda w: w.owner.get_colonies(), lambda w, r: [c.name for c in r] == ["dev", "lab"]),
    "remove_colony": Row(lambda w: w.owner.remove_colony("lab"), lambda w, r: w.present.colony("lab") is None,
                         changes=True),
    # executors
    "add_executor": Row(lambda w: w.colony.add_executor(Executor(executorid=NEW_IDS["executor"], executortype="test",
                                                                 executorname="new", colonyname="dev")),
                        lambda w, r: w.executor_state("new") is ExecutorState.PENDING, changes=True),
    "approve_executor": Row(lambda w: w.colony.approve_executor("dev", "pending"),
                            lambda w, r: w.executor_state("pending") is ExecutorState.APPROVED, changes=True),
    "reject_executor": Row(lambda w: w.colony.reject_executor("dev", "pending"),
                           lambda w, r: w.executor_state("pending") is ExecutorState.REJECTED, changes=True),
    "remove_executor": Row(lambda w: w.colony.remove_executor("dev", "pending"),
                           lambda w, r: w.executor_state("pending") is ExecutorState.UNREGISTERED, changes=True),
    "get_executor": Row(lambda w: w.sub.get_executor("dev", "worker"), lambda w, r: r.executorid == w.worker),
    "get_executor_by_id": Row(lambda w: w.sub.get_executor_by_id("dev", w.worker),
                              lambda w, r: r.executorname == "worker"),
    "get_executors": Row(lambda w: w.sub.get_executors("dev"),
                         lambda w, r: sorted(e.executorname for e in r) == ["pending", "worker"]),
    # users
    "add_user": Row(lambda w: w.colony.add_user(User(colonyname="dev", userid=NEW_IDS["user"], name="carol")),
                    lambda w, r: w.present.user_by_name("dev", "carol") is not None, changes=True),
    "get_users": Row(lambda w: w.sub.get_users("dev"), lambda w, r: sorted(u.name for u in r) == ["alice", "bob"]),
    "get_user": Row(lambda w: w.sub.get_user("dev", "bob"), lambda w, r: r.name == "bob"),
    "remove_user": Row(lambda w: w.colony.remove_user("dev", "bob"),
                       lambda w, r: w.present.user_by_name("dev", "bob") is None, changes=True),
    # processes
    "submit_function_spec": Row(lambda w: w.sub.submit_function_spec(FunctionSpec.create("more", "dev", "test")),
                                lambda w, r: w.state(r.processid) is ProcessState.WAITING
                                and len(w.present.processes("dev")) == 3, changes=True),
    "assign(-1)": Row(lambda w: w.ex.assign("dev", -1),
                      lambda w, r: r.processid == w.waiting and w.state(w.waiting) is RUNNING,
                      methods=("assign",), changes=True),
    "assign(1)": Row(lambda w: w.ex.assign("dev", 1),
                     lambda w, r: r.processid == w.waiting and w.state(w.waiting) is RUNNING,
                     methods=("assign",), changes=True),
    "get_process": Row(lambda w: w.sub.get_process(w.running), lambda w, r: r.state is RUNNING),
    "get_processes": Row(lambda w: w.sub.get_processes("dev", RUNNING),
                         lambda w, r: [p.processid for p in r] == [w.running]),
    "close_process": Row(lambda w: w.ex.close_process(w.running, ["out"]),
                         lambda w, r: w.state(w.running) is SUCCESS and w.present.process(w.running).out == ["out"],
                         changes=True),
    "fail_process": Row(lambda w: w.ex.fail_process(w.running, "broken"),
                        lambda w, r: w.state(w.running) is ProcessState.FAILED
                        and w.present.process(w.running).errors == ["broken"], changes=True),
    "set_output": Row(lambda w: w.ex.set_output(w.running, ["partial"]),
                      lambda w, r: w.present.process(w.running).out == ["partial"], changes=True),
    "cancel_process": Row(lambda w: w.sub.cancel_process(w.waiting),
                          lambda w, r: w.state(w.waiting) is ProcessState.CANCELLED, changes=True),
    "remove_process": Row(lambda w: w.sub.remove_process(w.waiting),
                          lambda w, r: [p.processid for p in w.present.processes()] == [w.running], changes=True),
    "remove_all_processes": Row(lambda w: w.colony.remove_all_processes("dev"),
                                lambda w, r: w.present.processes() == [], changes=True),
    "pause_assignments": Row(lambda w: w.colony.pause_assignments("dev"),
                             lambda w, r: w.sub.get_pause_status("dev") is True, changes=True),
    "resume_assignments": Row(lambda w: w.colony.resume_assignments("dev"),
                              lambda w, r: w.sub.get_pause_status("dev") is False, changes=True, setup=_paused),
    "get_pause_status": Row(lambda w: w.sub.get_pause_status("dev"), lambda w, r: r is False),
    # logs and attributes
    "add_log": Row(lambda w: w.ex.add_log(w.running, "working"),
                   lambda w, r: [log.message for log in w.present.logs(w.running)] == ["started", "working"],
                   changes=True),
    "get_logs": Row(lambda w: w.sub.get_logs("dev", w.running), lambda w, r: [log.message for log in r] == ["started"]),
    "add_attribute": Row(lambda w: w.ex.add_attribute(w.running, "result", "42"),
                         lambda w, r: _attributes(w) == [("result", "42"), ("stage", "one")], changes=True),
    "get_attribute": Row(lambda w: w.sub.get_attribute(w.attribute), lambda w, r: (r.key, r.value) == ("stage", "one")),
    # channels
    "channel_append": Row(lambda w: w.sub.channel_append(w.running, "chat", 2, 0, "more"),
                          lambda w, r: w.chat() == ["hello", "more"], changes=True),
    "channel_read": Row(lambda w: w.sub.channel_read(w.running, "chat"), lambda w, r: texts(r) == ["hello"]),
    "Channel.append": Row(lambda w: w.channel().append("more"), lambda w, r: w.chat() == ["hello", "more"],
                          changes=True, appends=True),
    "Channel.end": Row(lambda w: w.channel().end("fin"), lambda w, r: w.chat() == ["hello", "fin"], changes=True,
                       appends=True),
    "Channel.error": Row(lambda w: w.channel().error("oops"), lambda w, r: w.chat() == ["hello", "oops"],
                         changes=True, appends=True),
    "Channel.read": Row(lambda w: w.channel().read(), lambda w, r: texts(r) == ["hello"]),
    # A stream reads the history and then, quiet, asks for the process: its one request to /api.
    "Channel.stream": Row(lambda w: texts(list(w.channel().stream(timeout=w.wait, quiet=w.quiet))),
                          lambda w, r: r == ["hello", "bye"], blocking=True, pubsub=True,
                          meanwhile=lambda w: _write(w).channel(w.running, "chat").end("bye")),
    # A request is an append, then wait_reply on a stream.
    "Channel.request": Row(lambda w: w.channel().request("ping", timeout=w.wait, quiet=w.quiet),
                           lambda w, r: r.text == "pong" and w.chat() == ["hello", "ping", "pong"],
                           methods=("Channel.request", "Channel.wait_reply"), changes=True, blocking=True,
                           pubsub=True, appends=True, meanwhile=_answer),
    # waiting: each starts with get_process
    "wait_for_running": Row(lambda w: w.sub.wait_for_running(w.waiting, w.wait, poll_interval=w.quiet),
                            lambda w, r: r.state is RUNNING, blocking=True,
                            meanwhile=lambda w: _write(w).assign("dev", -1)),
    "wait_for_state": Row(lambda w: w.sub.wait_for_state(w.running, SUCCESS, w.wait, poll_interval=w.quiet),
                          lambda w, r: r.state is SUCCESS, blocking=True, pubsub=True,
                          meanwhile=lambda w: _write(w).close_process(w.running)),
    "wait": Row(lambda w: w.sub.wait(w.running, w.wait, poll_interval=w.quiet),
                lambda w, r: r.state is SUCCESS, blocking=True, pubsub=True,
                meanwhile=lambda w: _write(w).close_process(w.running)),
}
# fmt: on

#: Public members of ColoniesClient and Channel that send no request of their own, and where they are tested.
NOT_RPCS = {
    "close": "releases connections and ends subscriptions; tests/subscriptions/test_leaks.py, and every test "
    "here closes its clients (the silent-server test checks that close() raises nothing)",
    "closed": "a property",
    "crypto": "a property",
    "id": "a property (the key's id, computed locally)",
    "transport": "a property",
    "from_env": "a constructor; tests/client/test_rpcs.py::test_from_env_reads_the_colonies_variables",
    "set_private_key": "checks and keeps the key, locally (every client made with prvkey= runs it)",
    "signing_key": "picks the key locally; every stream and subscription here signs with it",
    "channel": "makes a Channel handle; its methods are rows (Channel.*)",
}


def subscribed(w: World, start: Callable[[Recorder], Any]) -> Any:
    """A subscription, joined (bounded) and its error raised, or ``"closed"`` when it ended normally."""
    rec = Recorder()
    subscription = start(rec)
    rec.wait_ended(w.wait + CLIENT_TIMEOUT + SLACK)
    subscription.join(JOIN)
    assert rec.closes == 1
    return "closed"


#: The subscriptions: public, but they talk only over a /pubsub WebSocket, so ``fail_next`` and
#: ``delay`` (which act on /api requests) do not reach them; a channel subscription's one /api
#: request, the process check when it is quiet, is the code Channel.stream's row runs. They are
#: calls of the silent-server test below, and of the killed-server tests above; dropped and
#: refused streams: tests/subscriptions/test_resume.py and test_down_at_deadline.py.
SUBSCRIPTIONS: dict[str, Callable[[World], Any]] = {
    "subscribe_process": lambda w: subscribed(
        w, lambda rec: w.sub.subscribe_process("dev", w.running, SUCCESS, w.wait, rec.on_item, **rec.callbacks())
    ),
    "subscribe_channel": lambda w: subscribed(
        w,
        lambda rec: w.sub.subscribe_channel(w.running, "chat", 0, w.wait, rec.on_item, **rec.callbacks(quiet=w.quiet)),
    ),
}


def public_methods() -> set[str]:
    """Every public member of ColoniesClient, and of Channel as ``Channel.<name>``."""
    client = {name for name in dir(ColoniesClient) if not name.startswith("_")}
    return client | {f"Channel.{name}" for name in dir(Channel) if not name.startswith("_")}


def test_the_calls_cover_every_public_method_that_sends_a_request() -> None:
    """A public method added to ColoniesClient or Channel fails this until CALLS has a row for it.

    Or, for a method that sends no request, until NOT_RPCS says why.
    """
    covered = {method for name, row in CALLS.items() for method in row.exercises(name)}
    excluded = set(NOT_RPCS) | set(SUBSCRIPTIONS)
    public = public_methods()
    assert covered.isdisjoint(excluded), covered & excluded
    assert sorted(public - covered - excluded) == [], "give each a row in CALLS (or, if it sends nothing, NOT_RPCS)"
    assert sorted((covered | excluded) - public) == [], "rows or exclusions for methods that are gone"


TRANSPORTS = ["inprocess", "http"]


class Fakes:
    """One fake per transport for the whole module, the http one served, reset for each world.

    Serving a fake for each test would cost more than the calls it makes.
    """

    def __init__(self) -> None:
        self.fakes = {transport: FakeColonies(clock=RealClock()) for transport in TRANSPORTS}
        self.server = FakeColoniesServer(self.fakes["http"]).start()

    @contextlib.contextmanager
    def world(self, transport: str, *, timeout: float, wait: float = 1.0, quiet: float = 0.2) -> Iterator[World]:
        fake = self.fakes[transport]
        fake.reset()
        made = World(
            fake, None if transport == "inprocess" else self.server.port, timeout=timeout, wait=wait, quiet=quiet
        )
        try:
            yield made
        finally:
            fake.faults.clear()
            made.close()
        assert fake.errors == []
        assert self.server.errors == []

    def close(self) -> None:
        self.server.stop()
        for fake in self.fakes.values():
            fake.close()
        assert self.server.errors == []
        assert [e for fake in self.fakes.values() for e in fake.errors] == []


@pytest.fixture(scope="module")
def fakes() -> Iterator[Fakes]:
    made = Fakes()
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


def attempt(w: World, row: Row, helped: bool) -> tuple[Any, float]:
    """The row's call and how long it took; ``helped``: its ``meanwhile`` runs alongside, once no failure is pending."""
    meanwhile = row.meanwhile
    if not helped or meanwhile is None:
        return outcome(lambda: row.call(w))

    def other_side() -> None:
        w.present.wait_until(lambda: w.present.faults.pending_failures == 0, JOIN)
        meanwhile(w)

    helper = Background(other_side)
    helper.start()
    result = outcome(lambda: row.call(w))
    helper.finish(JOIN)
    return result


def spy(monkeypatch: pytest.MonkeyPatch, w: World, methods: tuple[str, ...]) -> set[str]:
    """Record which of ``methods`` the world's own clients call (the rows' helpers do not count)."""
    called: set[str] = set()

    def wrap(qualified: str, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def spied(self: Any, *args: Any, **kwargs: Any) -> Any:
            caller = self.client if isinstance(self, Channel) else self
            if any(caller is made for made in w.clients):
                called.add(qualified)
            return method(self, *args, **kwargs)

        return spied

    for qualified in methods:
        owner, _, name = qualified.rpartition(".")
        cls: type = Channel if owner == "Channel" else ColoniesClient
        monkeypatch.setattr(cls, name, wrap(qualified, getattr(cls, name)))
    return called


def concurrently(
    world: World,
    calls: dict[str, Callable[[World], Any]],
    bound: float,
    *,
    warm: bool = False,
    arm: Optional[Callable[[], Any]] = None,
) -> dict[str, tuple[Any, float]]:
    """The calls at the same time, each with clients of its own: what each gave, and how long it took.

    Each call has a thread of its own, except the Channel appends, which take turns on one (see
    ``Row.appends``). ``warm``: each client first makes a request, so that the calls find their
    connections open, as a client that has been talking to the server does (a burst of new
    connections overflows a listen backlog, and a dropped SYN costs a second). ``arm`` (the
    fault) runs after that, just before the calls.
    """
    results: dict[str, tuple[Any, float]] = {}
    appends = [name for name in calls if name in CALLS and CALLS[name].appends]
    lanes = [[name] for name in calls if name not in appends] + ([appends] if appends else [])
    start = threading.Barrier(len(lanes))

    def run(lane: list[str], twin: World) -> None:
        start.wait(JOIN)
        for name in lane:
            results[name] = outcome(functools.partial(calls[name], twin))

    twins = [world.fork() for _ in lanes]
    if warm:
        for twin in twins:
            for made in (twin.owner, twin.colony, twin.ex, twin.sub):
                made.version()
    if arm is not None:
        arm()
    threads = [Background(run, lane, twin) for lane, twin in zip(lanes, twins, strict=True)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + JOIN + bound * max(map(len, lanes))
    for thread in threads:
        thread.finish(max(0.0, deadline - time.monotonic()))
    return results


FAILURES = [(500, "injected fault", InternalServerError), (503, "try again later", ServiceUnavailable)]
#: The calls whose injected failure lands on a request on the side, and which go on: a stream
#: makes no request to /api until it has been quiet and asks for the process; a 5xx there says
#: nothing about the process, so the stream asks again later, and it ends at its end entry.
GOES_ON = {"Channel.stream"}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("status, message, cls", FAILURES)
@pytest.mark.parametrize("name", list(CALLS))
def test_fail_next_raises_the_typed_error_once_and_the_call_makes_one_request(
    fakes: Fakes, monkeypatch: pytest.MonkeyPatch, transport: str, status: int, message: str, cls: type, name: str
) -> None:
    """``fail_next(1)``: the call raises the server's error as its class, after one request, changing nothing.

    A hidden retry would have succeeded with the second request; the fault is
    consumed (one request was made), and the same call then works: it gives
    what it should and changes what it should, once.
    """
    row = CALLS[name]
    with fakes.world(transport, timeout=2.0, wait=JOIN, quiet=0.1) as w:
        if row.setup is not None:
            row.setup(w)
        called = spy(monkeypatch, w, row.exercises(name))
        before = snapshot(w.present)
        w.present.faults.fail_next(1, status, message)
        error, elapsed = attempt(w, row, helped=name in GOES_ON)
        if name in GOES_ON:
            assert row.then(w, error), repr(error)
        else:
            assert type(error) is cls, repr(error)
            assert (error.status, error.message) == (status, message)
            assert snapshot(w.present) == before  # nothing half done
        assert elapsed <= 2.0 + SLACK
        assert w.present.faults.take_failure() is None  # consumed by exactly the one request
        again, _ = attempt(w, row, helped=True)
        assert not isinstance(again, Exception), repr(again)
        assert row.then(w, again), repr(again)
        if not row.changes and row.meanwhile is None:
            assert snapshot(w.present) == before
        assert called == set(row.exercises(name))


#: Under ``delay(2)`` with a 0.5 s client timeout, what each call gives (ColoniesConnectionError unless
#: said here): every request to /api gives up at its read timeout (the assign long-poll's is its own
#: timeout plus the client's). A stream does not go through /api: it only asks for the process when
#: quiet, and a check that times out counts as "the network: let the stream decide", so it runs to
#: its own timeout. ``request`` appends first, and the waits first get the process: those time out.
DELAYED: dict[str, type] = {"Channel.stream": WaitTimeout}
#: The streams' own timeout under delay.
DELAY_WAIT = 1.0
DELAYED_BOUND = {"assign(1)": 1 + CLIENT_TIMEOUT, "Channel.stream": DELAY_WAIT + CLIENT_TIMEOUT}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_delay_longer_than_the_client_timeout_makes_every_call_give_up_in_time_and_change_nothing(
    fakes: Fakes, transport: str
) -> None:
    """Every call at once, each on its own thread and clients: each gives up within its bound, and no request
    the client gave up on is carried out late."""
    with fakes.world(transport, timeout=CLIENT_TIMEOUT, wait=DELAY_WAIT, quiet=0.2) as w:
        for row in CALLS.values():
            if row.setup is not None:
                row.setup(w)
        before = snapshot(w.present)
        calls = {name: row.call for name, row in CALLS.items()}
        arm = functools.partial(w.present.faults.delay, 2.0)
        results = concurrently(w, calls, 2.0, warm=w.port is not None, arm=arm)
        wrong = {}
        for name, (result, elapsed) in results.items():
            bound = DELAYED_BOUND.get(name, CLIENT_TIMEOUT) + SLACK
            if not isinstance(result, DELAYED.get(name, ColoniesConnectionError)) or elapsed > bound:
                wrong[name] = (repr(result), round(elapsed, 2))
        assert wrong == {}
        assert sorted(results) == sorted(CALLS)
        # The requests the clients gave up on are dropped unanswered, not carried out late.
        w.present.wait_until(lambda: w.present.held_requests() == 0, 2.0 + JOIN)
        assert snapshot(w.present) == before


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_delay_shorter_than_the_client_timeout_only_slows_calls_down(fakes: Fakes, transport: str) -> None:
    with fakes.world(transport, timeout=2.0) as w:
        w.present.faults.delay(0.3)
        result, elapsed = outcome(lambda: w.sub.get_process(w.running))
        assert result.state is ProcessState.RUNNING
        assert 0.3 <= elapsed <= 0.3 + SLACK


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_stream_keeps_going_while_its_process_checks_time_out(fakes: Fakes, transport: str) -> None:
    """A delayed server answers no RPC in time; the stream itself still delivers, to its end entry."""
    with fakes.world(transport, timeout=CLIENT_TIMEOUT) as w:
        w.present.faults.delay(1.0)
        rec = Recorder()
        reader = Background(collect, w.channel().stream(timeout=10, quiet=0.2), rec)
        reader.start()
        rec.wait_entries(1)
        _write(w).channel(w.running, "chat").end("bye")
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
    request_queue_size = 128  # every call of a test connects at once

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
    """``down``: nothing listens (each connection is refused at once); ``deaf``: a listening socket
    nobody accepts on (the kernel completes the TCP handshake, nothing answers); ``mute``: the
    upgrade is accepted, nothing else answered; ``mute streams``: ``/api`` answered by a fake,
    streams silent after the upgrade."""
    if kind == "down":
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]
        yield port, None
        return
    if kind == "deaf":
        with socket.create_server(("127.0.0.1", 0), backlog=256) as listener:
            yield listener.getsockname()[1], None
        return
    api = FakeColonies(clock=RealClock()) if kind == "mute streams" else None
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
#: Every call of the silent-server test: the rows of CALLS and the subscriptions.
SILENT_CALLS: dict[str, Callable[[World], Any]] = {**{name: row.call for name, row in CALLS.items()}, **SUBSCRIPTIONS}
#: The calls that open a /pubsub WebSocket: all that a server answering /api but not streams can hold up.
PUBSUB = [name for name, row in CALLS.items() if row.pubsub] + list(SUBSCRIPTIONS)
#: What each call gives, by server. RPCs give up at the client timeout (a refused connection at
#: once); a WebSocket that cannot be opened is retried with backoff until the call's deadline, then
#: its error is raised; a stream that is open but silent ends at its timeout as an idle one does.
#: The waits and ``request`` start with a request to /api, so they end with its error.
SILENT = {
    "down": {"*": ColoniesConnectionError},
    "deaf": {"*": ColoniesConnectionError},
    "mute": {
        "*": ColoniesConnectionError,
        "subscribe_process": "closed",
        "subscribe_channel": "closed",
        "Channel.stream": WaitTimeout,
    },
    "mute streams": {"*": WaitTimeout, "subscribe_process": "closed", "subscribe_channel": "closed"},
}


def silent_bound(name: str) -> float:
    """A call's own timeout: the ``timeout`` it is given if blocking, else the client's (``assign(t)``: t more)."""
    if name in SUBSCRIPTIONS or CALLS[name].blocking:
        return WAIT
    return 1 + CLIENT_TIMEOUT if name == "assign(1)" else CLIENT_TIMEOUT


@pytest.mark.parametrize("kind", list(SILENT))
def test_every_call_ends_within_its_timeout_when_the_server_is_down_or_stops_answering(kind: str) -> None:
    """Every call at once (each on its own thread and clients), ending within its own timeout plus SLACK.

    ``mute streams`` answers /api, so there only the calls that open a WebSocket are made.
    """
    with silent_server(kind) as (port, api):
        world = World(api, port, timeout=CLIENT_TIMEOUT, wait=WAIT, quiet=0.5)  # api None: random ids
        try:
            names = PUBSUB if kind == "mute streams" else list(SILENT_CALLS)
            results = concurrently(world, {name: SILENT_CALLS[name] for name in names}, WAIT + SLACK)
        finally:
            closing, _ = outcome(world.close)
    wrong = {}
    for name, (result, elapsed) in results.items():
        expected = SILENT[kind].get(name, SILENT[kind]["*"])
        right = result == expected if isinstance(expected, str) else isinstance(result, expected)
        if not right or elapsed > silent_bound(name) + SLACK:
            wrong[name] = (repr(result), round(elapsed, 2))
    assert wrong == {}
    assert sorted(results) == sorted(names)
    assert closing is None
