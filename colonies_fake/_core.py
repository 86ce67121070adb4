"""FakeColonies: all the state of a fake ColonyOS server, one lock, an injected clock.

``handle_api(body)`` takes the bytes of a ``POST /api`` body and returns the
HTTP status and body the real server would send, following its processing
order (PROTOCOL.md 2.3): parse the envelope, answer the two unsigned types,
recover the signer, find the handler, decode the payload as Go would, check
``msgtype``, then authorise and act. Handlers live in ``_handlers``, one module
per domain; the process lifecycle lives in ``_processes`` and the channels in
``_channels``. This module holds the colonies, executors, users and logs, the
authorisation checks, the bootstrap helpers and the inspection helpers.

This module never imports the client package at import time: it decodes
envelopes itself, so client and fake cannot share a bug. It does use the shared
crypto and, for the inspection helpers, the shared data model.
"""

from __future__ import annotations

import html
import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Optional


from colonies_fake import _messages as msgs
from colonies_fake._channels import ChannelLimits, ChannelRouter
from colonies_fake._clock import Clock, FakeClock
from colonies_fake._errors import EmptyReply, Fail, FakeClosed
from colonies_fake._faults import Faults
from colonies_fake._keys import ColonyKeys, ExecutorKeys, UserKeys
from colonies_fake._replies import Reply, envelope, error_envelope
from colonies_fake._gojson import GoJSONError, decode_message, dumps, go_b64decode, parse
from colonies_fake._records import (
    UNREGISTERED,
    APPROVED,
    Colony,
    Executor,
    Log,
    User,
    db_time,
)
from colonies_fake._processes import ProcessTable
from colonies_fake._pubsub import PubSub
from colonies_fake._schema import ENVELOPE, EXECUTOR, USER
from colonies_sync._crypto import Crypto, SignerHint
from colonies_sync._exceptions import InvalidSignature

if TYPE_CHECKING:
    import colonies_sync
    from colonies_sync import ColoniesClient

__all__ = ["FakeColonies"]

log = logging.getLogger("colonies_fake")


class Answer(NamedTuple):
    """A handler's reply when its payloadtype is not the request's (``getpausestatusmsg``)."""

    payloadtype: str
    payload: Any


class Call(NamedTuple):
    """Who sent a request and as what type; ``cancelled`` is set when its connection goes away."""

    caller: str
    payloadtype: str
    cancelled: Optional[threading.Event] = None


class FakeColonies:
    """A fake ColonyOS server, in-process.

    ``FakeColonies(clock=None, server_prvkey=None, rate_limit=True)``: the clock
    defaults to a :class:`FakeClock`; the server key is generated unless given
    (its holder is the server owner). Thread-safe: one lock guards all state.
    """

    def __init__(
        self,
        clock: Optional[Clock] = None,
        server_prvkey: Optional[str] = None,
        rate_limit: bool = True,
        *,
        limits: Optional[ChannelLimits] = None,
        crypto: Optional[Crypto] = None,
    ) -> None:
        self.crypto = crypto or Crypto()
        self.clock: Clock = clock if clock is not None else FakeClock()
        self.server_prvkey = server_prvkey or self.crypto.generate_private_key()
        self.server_id = self.crypto.id(self.server_prvkey)
        #: Whether channel appends are rate-limited per process, as on the real server.
        self.rate_limit = rate_limit
        #: Channel limits; the defaults are the real server's.
        self.limits = limits or ChannelLimits()
        self.faults = Faults(self)
        self.errors: list[BaseException] = []
        #: What ``getserverinfomsg`` reports as the HTTP backend (the served fake sets the port).
        self.server_info_backend: dict[str, Any] = {"type": "http", "port": 50080, "host": "0.0.0.0"}
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._closed = False
        self._held = 0  # requests the injected delay is holding now
        self._init_state()
        self.clock.add_listener(self._on_clock_jump)

    def _init_state(self) -> None:
        self._colonies: dict[str, Colony] = {}
        self._executors: dict[tuple[str, str], Executor] = {}  # (colony, name)
        self._executors_by_id: dict[str, list[Executor]] = {}  # insertion order = database row order
        self._users: dict[tuple[str, str], User] = {}  # (colony, name)
        self.procs = ProcessTable(self, self._lock, self._changed)
        self.channels = ChannelRouter(self.clock, self.limits, lambda: self.rate_limit)
        self.pubsub = PubSub(self)
        self._logs_by_process: dict[str, list[Log]] = {}
        self._logs_by_executor: dict[str, list[Log]] = {}

    # --- lifecycle of the fake itself -------------------------------------------------------

    def close(self) -> None:
        """Stop timers and end every blocked request (their connections go away). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self.procs.stop()
            self.pubsub.poke_all()
        self.clock.remove_listener(self._on_clock_jump)
        join = getattr(self.clock, "join", None)
        if join is not None:  # a RealClock's scheduler thread ends once no timer is pending
            join(1.0)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._closed

    def reset(self) -> None:
        """Forget every colony, executor, user, process, channel and log; keep the server key and clock.

        Blocked requests end as their connections would on a restarted server
        (``FakeClosed``); the fake itself stays open.
        """
        with self._lock:
            self.procs.stop(retire=True)
            self.pubsub.drop_all()
            self._init_state()
            self.faults.clear()
            self.errors.clear()

    def __repr__(self) -> str:
        with self._lock:
            processes = len(self.procs)
            colonies = len(self._colonies)
        clock = type(self.clock).__name__
        return f"FakeColonies(colonies={colonies}, processes={processes}, clock={clock}, closed={self._closed})"

    def _repr_html_(self) -> str:
        """The fake's contents for Jupyter: colonies with their executors, users and process counts."""
        with self._lock:
            rows = []
            for colony in self.colonies():
                executors = ", ".join(f"{e.name} ({e.executortype})" for e in self.executors_of(colony.name))
                users = ", ".join(u.name for u in self.users_of(colony.name))
                states: dict[str, int] = {}
                for p in self.procs.of_colony(colony.name):
                    name = ("WAITING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED")[p.state]
                    states[name] = states.get(name, 0) + 1
                counts = ", ".join(f"{n} {s}" for s, n in states.items()) or "none"
                rows.append(
                    f"<tr><td>{html.escape(colony.name)}</td><td>{html.escape(executors)}</td>"
                    f"<td>{html.escape(users)}</td><td>{html.escape(counts)}</td></tr>"
                )
        head = "<tr><th>colony</th><th>executors</th><th>users</th><th>processes</th></tr>"
        return f"<table><caption>{html.escape(repr(self))}</caption>{head}{''.join(rows)}</table>"

    def __enter__(self) -> FakeColonies:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _on_clock_jump(self) -> None:
        # Blocked long-polls and WebSocket connections re-check their deadlines against the new time.
        with self._lock:
            self.procs.wake_all()
            self.pubsub.poke_all()

    # --- request entry point ------------------------------------------------------------

    def handle_api(
        self,
        body: bytes | str,
        *,
        timeout: Optional[float] = None,
        cancelled: Optional[threading.Event] = None,
        hint: Optional[SignerHint] = None,
    ) -> Reply:
        """Answer one ``POST /api`` body as the real server would.

        ``timeout`` is how long the caller will wait (a client's read timeout):
        with an injected delay longer than that, ``TimeoutError`` is raised after
        ``timeout`` seconds, as a client would see it. ``cancelled`` is set, with
        :meth:`abandon`, by a front end whose client went away: a blocked
        long-poll or injected delay then ends, and no process is assigned.
        Raises ``FakeClosed`` when the fake is closed or the request cancelled.
        """
        if self._closed:
            raise FakeClosed("the fake server is closed")
        if cancelled is not None and cancelled.is_set():
            raise FakeClosed("the connection went away")
        delay = self.faults.current_delay
        if delay:
            self._hold(delay if timeout is None else min(delay, timeout), cancelled)
            if timeout is not None and delay > timeout:
                raise TimeoutError(f"no reply within {timeout:g} s (injected delay {delay:g} s)")
        injected = self.faults.take_failure()
        if injected is not None:
            return injected
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        try:
            return self._dispatch(data, cancelled, hint)
        except FakeClosed:
            raise
        except Exception as exc:  # a bug in the fake: record it, answer like a crashing server would
            self.errors.append(exc)
            return error_envelope(500, f"internal error in the fake server: {type(exc).__name__}: {exc}")

    def _hold(self, seconds: float, cancelled: Optional[threading.Event]) -> None:
        """The injected delay; ``FakeClosed`` as soon as the fake closes or the request is cancelled."""

        def ended() -> bool:
            return self._closed or (cancelled is not None and cancelled.is_set())

        with self._lock:
            self._held += 1
            self._changed.notify_all()
            try:
                self._changed.wait_for(ended, seconds)  # close(), abandon() and a server's stop() notify
            finally:
                self._held -= 1
                self._changed.notify_all()
        if self._closed:
            raise FakeClosed("the fake server is closed")
        if cancelled is not None and cancelled.is_set():
            raise FakeClosed("the connection went away")

    def abandon(self, cancelled: threading.Event) -> None:
        """A front end's client went away: cancel its request (``cancelled``) and wake it wherever it waits."""
        with self._lock:
            cancelled.set()
            self.procs.wake_cancelled(cancelled)
            self._changed.notify_all()

    def _dispatch(
        self, body: bytes, cancelled: Optional[threading.Event] = None, hint: Optional[SignerHint] = None
    ) -> Reply:
        from colonies_fake._handlers import HANDLERS, server_info

        try:
            raw = parse(body)
            if raw is None:
                return Reply(500, b"")  # a nil envelope: the real server panics
            env = ENVELOPE.decode(raw)
        except GoJSONError as exc:
            return error_envelope(400, str(exc))
        payloadtype: str = env["payloadtype"]
        if payloadtype == "getserverinfomsg":
            return Reply(200, envelope(payloadtype, server_info(self)))
        caller = ""
        if payloadtype != "versionmsg":
            try:
                caller = self.crypto.recover_id(env["payload"], env["signature"], hint=hint)
            except InvalidSignature as exc:
                return error_envelope(403, str(exc))
        handler = HANDLERS.get(payloadtype)
        if handler is None:
            if payloadtype == "":
                return error_envelope(403, msgs.EMPTY_PAYLOADTYPE)
            return error_envelope(403, msgs.unknown_payloadtype(payloadtype))
        try:
            msg = decode_message(handler.schema, parse(go_b64decode(env["payload"])))
        except GoJSONError:
            return error_envelope(400, handler.invalid_json)
        if msg is None:
            return Reply(500, b"")  # a nil message: the real server panics
        if msg["msgtype"] != payloadtype:
            return error_envelope(400, handler.msgtype_mismatch)
        try:
            with self._lock:
                try:
                    result = handler.fn(self, Call(caller, payloadtype, cancelled), msg)
                finally:
                    self._changed.notify_all()
        except Fail as fail:
            log.debug("%s from %.12s: %d %s", payloadtype, caller, fail.status, fail.message)
            return error_envelope(fail.status, fail.message)
        except EmptyReply as empty:
            return Reply(empty.status, b"")
        log.debug("%s from %.12s: 200", payloadtype, caller)
        if isinstance(result, Answer):
            return Reply(200, envelope(result.payloadtype, result.payload))
        return Reply(200, envelope(payloadtype, result))

    def _call_as(self, caller: str, message: dict[str, Any]) -> Any:
        """Handle ``message`` as if ``caller`` had signed it, and return the reply payload.

        For seeding large worlds in benchmarks and tests: it skips the envelope
        and the signature (what a signed request costs), nothing else. Raises
        ``Fail`` for a refused request.
        """
        from colonies_fake._handlers import HANDLERS

        handler = HANDLERS[message["msgtype"]]
        msg = decode_message(handler.schema, parse(json.dumps(message).encode("utf-8")))
        if msg is None:
            raise ValueError("the message is null")
        with self._lock:
            try:
                result = handler.fn(self, Call(caller, message["msgtype"]), msg)
            finally:
                self._changed.notify_all()
        return result.payload if isinstance(result, Answer) else result

    # --- lookups and authorisation (PROTOCOL.md 4) ---------------------------------------

    def now_ns(self) -> int:
        """The clock's time in nanoseconds."""
        return self.clock.time_ns()

    def colony(self, name: str) -> Optional[Colony]:
        """The colony named ``name``, if any."""
        return self._colonies.get(name)

    def colonies(self) -> list[Colony]:
        """Every colony, in creation order (the real database's row order)."""
        return list(self._colonies.values())

    def executor_by_id(self, executor_id: str) -> Optional[Executor]:
        """The first executor row with this id, in any colony, as the real database returns it."""
        rows = self._executors_by_id.get(executor_id)
        return rows[0] if rows else None

    def executor_by_name(self, colony: str, name: str) -> Optional[Executor]:
        """The executor ``name`` of ``colony``, in any state."""
        return self._executors.get((colony, name))

    def executors_of(self, colony: str) -> list[Executor]:
        """Every executor row of a colony, in any state, in creation order."""
        return [e for (c, _), e in self._executors.items() if c == colony]

    def user_by_id(self, colony: str, user_id: str) -> Optional[User]:
        """The first user of ``colony`` with this id (ids may repeat there)."""
        for (c, _), user in self._users.items():
            if c == colony and user.userid == user_id:
                return user
        return None

    def user_by_name(self, colony: str, name: str) -> Optional[User]:
        """The user ``name`` of ``colony``, if any."""
        return self._users.get((colony, name))

    def users_of(self, colony: str) -> list[User]:
        """Every user of a colony, in creation order."""
        return [u for (c, _), u in self._users.items() if c == colony]

    def require_server_owner(self, caller: str) -> None:
        """``Fail(403)`` unless ``caller`` holds the server key."""
        if caller != self.server_id:
            raise Fail(403, msgs.NOT_SERVER_OWNER)

    def require_colony_owner(self, caller: str, colony_name: str) -> Colony:
        """The colony, if ``caller`` owns it; else ``Fail(403)`` with the real texts."""
        if colony_name == "":
            raise Fail(403, msgs.EMPTY_COLONY_NAME)
        colony = self._colonies.get(colony_name)
        if colony is None:
            raise Fail(403, msgs.colony_missing(colony_name))
        if caller != colony.colonyid:
            raise Fail(403, msgs.NOT_COLONY_OWNER)
        return colony

    def require_membership(self, caller: str, colony_name: str, approved: bool = True) -> None:
        """Approved (or any-state) executor of the colony, or a user of it.

        The real validator tries the executor first and, whatever that check
        said, reports the user check's error; so only two texts are ever seen.
        """
        if colony_name not in self._colonies:
            raise Fail(403, msgs.colony_missing(colony_name))
        executor = self.executor_by_id(caller)
        if executor is not None and executor.colonyname == colony_name:
            if not approved or executor.state == APPROVED:
                return
        if self.user_by_id(colony_name, caller) is not None:
            return
        raise Fail(403, msgs.not_member(colony_name))

    # --- colonies, executors and users --------------------------------------------------

    def store_colony(self, name: str, colonyid: str) -> Colony:
        """Add a colony row (checks are the caller's job)."""
        colony = Colony(name, colonyid)
        self._colonies[name] = colony
        return colony

    def delete_colony(self, name: str) -> None:
        """Remove a colony with its executors, users, processes and logs (not its channels, as for real)."""
        self._colonies.pop(name, None)
        for key in [k for k in self._executors if k[0] == name]:
            executor = self._executors.pop(key)
            rows = self._executors_by_id.get(executor.executorid, [])
            if executor in rows:
                rows.remove(executor)
            if not rows:
                self._executors_by_id.pop(executor.executorid, None)
        for key in [k for k in self._users if k[0] == name]:
            del self._users[key]
        for p in self.procs.of_colony(name):
            self.procs.delete(p)
        for index in (self._logs_by_process, self._logs_by_executor):
            for owner, logs in list(index.items()):
                kept = [log for log in logs if log.colonyname != name]
                if kept:
                    index[owner] = kept
                else:
                    del index[owner]

    def store_executor(self, data: dict[str, Any]) -> Executor:
        """Add an executor row (checks are the caller's job); ids may repeat, as in the real database."""
        executor = Executor(data)
        self._executors[(executor.colonyname, executor.name)] = executor
        self._executors_by_id.setdefault(executor.executorid, []).append(executor)
        return executor

    def store_user(self, data: dict[str, Any]) -> User:
        """Add a user row (checks are the caller's job)."""
        user = User(data)
        self._users[(user.colonyname, user.name)] = user
        return user

    def delete_user(self, user: User) -> None:
        """Forget a user."""
        self._users.pop((user.colonyname, user.name), None)

    def unregister_executor(self, executor: Executor) -> None:
        """State UNREGISTERED (the row stays), and its RUNNING processes go back to WAITING."""
        executor.data["state"] = UNREGISTERED
        self.procs.unregister(executor.executorid)

    # --- bootstrap helpers (no RPC, no keys needed) --------------------------------------

    def add_colony(self, name: str, *, prvkey: Optional[str] = None) -> ColonyKeys:
        """Create a colony with a new owner key (or ``prvkey``); returns its name, id and key."""
        prvkey = prvkey or self.crypto.generate_private_key()
        colonyid = self.crypto.id(prvkey)
        with self._lock:
            if name in self._colonies:
                raise ValueError(f"colony {name!r} already exists")
            self.store_colony(name, colonyid)
        return ColonyKeys(name, colonyid, prvkey)

    def add_executor(
        self,
        colony: str,
        name: str,
        executortype: str = "test",
        *,
        approved: bool = True,
        prvkey: Optional[str] = None,
        locationname: str = "",
    ) -> ExecutorKeys:
        """Register an executor (approved unless ``approved=False``) with a new key."""
        prvkey = prvkey or self.crypto.generate_private_key()
        executor_id = self.crypto.id(prvkey)
        data = EXECUTOR.zero()
        data.update(
            executorid=executor_id,
            executortype=executortype,
            executorname=name,
            colonyname=colony,
            state=APPROVED if approved else 0,
            locationname=locationname,
        )
        with self._lock:
            if colony not in self._colonies:
                raise ValueError(f"no colony named {colony!r}")
            if (colony, name) in self._executors:
                raise ValueError(f"executor {name!r} already exists in colony {colony!r}")
            data["commissiontime"] = db_time(self.now_ns())
            self.store_executor(data)
        return ExecutorKeys(name, executor_id, prvkey, executortype, colony)

    def add_user(
        self, colony: str, name: str, *, prvkey: Optional[str] = None, email: str = "", phone: str = ""
    ) -> UserKeys:
        """Add a user to a colony with a new key."""
        prvkey = prvkey or self.crypto.generate_private_key()
        user_id = self.crypto.id(prvkey)
        data = USER.zero()
        data.update(colonyname=colony, userid=user_id, name=name, email=email, phone=phone)
        with self._lock:
            if colony not in self._colonies:
                raise ValueError(f"no colony named {colony!r}")
            if (colony, name) in self._users:
                raise ValueError(f"user {name!r} already exists in colony {colony!r}")
            self.store_user(data)
        return UserKeys(name, user_id, prvkey, colony)

    def client(self, prvkey: Optional[str] = None, **kwargs: Any) -> ColoniesClient:
        """A ``ColoniesClient`` that reaches this fake in-process, signing with ``prvkey``.

        On a ``FakeClock`` the client's waits also end when the clock passes
        their timeout (its ``server_clock``), as the fake's subscriptions do.
        """
        from colonies_fake._transport import InProcessTransport
        from colonies_sync import ColoniesClient

        kwargs.setdefault("server_clock", self.server_clock())
        return ColoniesClient(prvkey=prvkey, transport=InProcessTransport(self), **kwargs)

    def server_clock(self) -> Optional[Callable[[], float]]:
        """What to give a client as ``server_clock``: the clock's time on a ``FakeClock``, else ``None``."""
        return self.clock.time if isinstance(self.clock, FakeClock) else None

    # --- inspection for tests ------------------------------------------------------------

    def process(self, process_id: str) -> colonies_sync.Process:
        """The process as a client would see it; ``KeyError`` if there is none."""
        from colonies_sync import Process as ProcessModel

        with self._lock:
            p = self.procs.get(process_id)
            if p is None:
                raise KeyError(process_id)
            return ProcessModel.from_dict(_roundtrip(p.render()))

    def processes(self, colony: Optional[str] = None, state: Optional[int] = None) -> list[colonies_sync.Process]:
        """Every process (of a colony, in a state), in submission order."""
        from colonies_sync import Process as ProcessModel

        with self._lock:
            chosen = [
                p
                for p in self.procs.all()
                if (colony is None or p.colonyname == colony) and (state is None or p.state == int(state))
            ]
            return [ProcessModel.from_dict(_roundtrip(p.render())) for p in sorted(chosen, key=lambda p: p.seq)]

    def executor(self, colony: str, name: str) -> colonies_sync.Executor:
        """An executor as a client would see it; ``KeyError`` if there is none."""
        from colonies_sync import Executor as ExecutorModel

        with self._lock:
            executor = self._executors.get((colony, name))
            if executor is None:
                raise KeyError((colony, name))
            return ExecutorModel.from_dict(_roundtrip(executor.render()))

    def logs(self, process_id: str) -> list[colonies_sync.Log]:
        """The log lines of a process, oldest first."""
        from colonies_sync import Log as LogModel

        with self._lock:
            return [LogModel.from_dict(log.render()) for log in self._logs_by_process.get(process_id, [])]

    def channel_log(self, process_id: str, name: str) -> list[colonies_sync.MsgEntry]:
        """The entries of a channel in log order, as a reader would get them; ``KeyError`` if it does not exist."""
        from colonies_sync import MsgEntry as MsgEntryModel

        with self._lock:
            channel = self.channels.channels_of(process_id).get(name)
            if channel is None:
                raise KeyError((process_id, name))
            return [MsgEntryModel.from_dict(_roundtrip(entry.render())) for entry in channel.log]

    def add_log_record(self, log: Log) -> None:
        """Store a log line under its process and its executor's name."""
        self._logs_by_process.setdefault(log.processid, []).append(log)
        self._logs_by_executor.setdefault(log.executorname, []).append(log)

    def log_records(self, *, process_id: str = "", executor_name: str = "") -> list[Log]:
        """Log lines of an executor (by name, across colonies, as the real query does) or of a process."""
        if executor_name:
            return self._logs_by_executor.get(executor_name, [])
        return self._logs_by_process.get(process_id, [])

    def subscriptions(self, process_id: Optional[str] = None) -> int:
        """How many WebSocket subscriptions (process and channel ones) are live, for one process or all.

        For tests that must not race a subscriber connecting on another thread.
        """
        with self._lock:
            return self.pubsub.count(process_id)

    def waiting_assigns(self, colony: Optional[str] = None) -> int:
        """How many assign long-polls are blocked now (of one colony)."""
        with self._lock:
            return self.procs.waiting_count(colony)

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Block until ``predicate()`` holds, re-checking whenever the fake's state changes.

        For tests that must not race a request running on another thread. Raises
        ``TimeoutError`` after ``timeout`` real seconds. The predicate runs with
        the fake's lock held, so it may read the fake freely.
        """
        end = time.monotonic() + timeout
        with self._lock:
            while not predicate():
                remaining = end - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met within {timeout} s")
                # Also re-check now and then: the predicate may look outside the fake.
                self._changed.wait(min(remaining, 0.05))

    def held_requests(self) -> int:
        """How many requests the injected delay (``faults.delay``) is holding now."""
        with self._lock:
            return self._held

    def wait_for_assigns(self, n: int, timeout: float = 5.0, colony: Optional[str] = None) -> None:
        """Block until at least ``n`` assign long-polls are waiting, or raise ``TimeoutError``."""
        self.wait_until(lambda: self.waiting_assigns(colony) >= n, timeout)


def _roundtrip(value: Any) -> Any:
    import json

    return json.loads(dumps(value))
