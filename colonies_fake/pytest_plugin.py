"""pytest fixtures for code that talks to ColonyOS (registered through the ``pytest11`` entry point).

Nothing to configure: install the package and ask for a fixture.
``colonies_fake``, ``colonies_colony``, ``colonies_executor`` and
``colonies_client`` give each test an in-process fake on a fake clock, with a
colony, an executor and a client in it; ``colonies_server`` is a served fake
shared by the session; ``colonies_backend`` runs one test on the in-process
fake, the served fake and a real ColonyOS. Each fixture's docstring says more.

Markers: ``fake_only`` (not run against the real server) and ``real_only``.
Errors recorded inside a fake (a bug in a handler or a timer) fail the test at
teardown, so they are never lost. Every fixture can be overridden in a
``conftest.py`` as usual.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import ssl
import time
from typing import Any, Iterator, Literal, Mapping, Optional, Union

import attrs
import pytest

from colonies_fake._clock import FakeClock
from colonies_fake._core import FakeColonies
from colonies_fake._keys import ColonyKeys, ExecutorKeys, UserKeys
from colonies_fake._http import FakeColoniesServer
from colonies_fake._transport import InProcessTransport
from colonies_sync import ColoniesClient, Colony, Crypto, Executor, Forbidden, NotFound, ProcessState, User
from colonies_sync._transport import tls_context

__all__ = ["BackendKind", "CleanupError", "ColoniesBackend"]

_REAL_VARIABLES = "COLONIES_TEST_SERVER_HOST, COLONIES_TEST_SERVER_PORT and COLONIES_TEST_SERVER_PRVKEY"
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("colonies", "ColonyOS fake and real servers")
    group.addoption(
        "--colonies-real",
        action="store_true",
        default=False,
        help=f"also run colonies_backend tests against the real ColonyOS named by {_REAL_VARIABLES}",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fake_only: run only against the fake backends (inprocess, http)")
    config.addinivalue_line("markers", "real_only: run only against a real ColonyOS server")


def _raise_recorded(errors: list[BaseException]) -> None:
    if errors:
        raise AssertionError(f"the fake server recorded internal errors: {errors!r}") from errors[0]


@pytest.fixture
def colonies_fake() -> Iterator[FakeColonies]:
    """A fresh :class:`~colonies_fake.FakeColonies` for each test, on a :class:`~colonies_fake.FakeClock`.

    Time stands still until the test moves it with ``colonies_fake.clock.advance(s)``.
    """
    fake = FakeColonies(clock=FakeClock())
    try:
        yield fake
    finally:
        fake.close()
    _raise_recorded([*fake.errors, *getattr(fake.clock, "errors", [])])


@pytest.fixture
def colonies_colony(colonies_fake: FakeColonies) -> ColonyKeys:
    """A colony ``test-colony`` on ``colonies_fake``; ``prvkey`` is its owner's key."""
    return colonies_fake.add_colony("test-colony")


@pytest.fixture
def colonies_executor(colonies_fake: FakeColonies, colonies_colony: ColonyKeys) -> ExecutorKeys:
    """An approved executor ``test-executor`` of type ``test`` in ``colonies_colony``."""
    return colonies_fake.add_executor(colonies_colony.name, "test-executor", "test")


@pytest.fixture
def colonies_client(colonies_fake: FakeColonies, colonies_executor: ExecutorKeys) -> Iterator[ColoniesClient]:
    """A client of ``colonies_fake``, in-process, signed by ``colonies_executor`` (it may submit and assign)."""
    client = colonies_fake.client(colonies_executor.prvkey)
    yield client
    client.close()


@pytest.fixture(scope="session")
def _colonies_session_server() -> Iterator[FakeColoniesServer]:
    fake = FakeColonies(clock=FakeClock())
    server = FakeColoniesServer(fake).start()
    yield server
    server.stop()
    fake.close()


@pytest.fixture
def colonies_server(_colonies_session_server: FakeColoniesServer) -> Iterator[FakeColoniesServer]:
    """The session's served fake on 127.0.0.1 (``.url``, ``.port``, ``.fake``), reset for this test.

    The reset keeps the fake's :class:`~colonies_fake.FakeClock`: time that a
    test advanced stays advanced for the next. Read times relative to
    ``colonies_server.fake.clock.time()``, or use ``colonies_fake`` for a
    clock of the test's own.
    """
    server = _colonies_session_server
    server.fake.reset()
    server.clear_errors()
    yield server
    errors = list(server.errors)
    server.fake.reset()
    server.clear_errors()
    _raise_recorded(errors)


BackendKind = Literal["inprocess", "http", "real"]


class CleanupError(Exception):
    """What a :class:`ColoniesBackend` made could not all be removed; ``failures`` says what and why.

    The rest was still removed: one failure does not stop the cleanup.
    """

    def __init__(self, failures: list[str]) -> None:
        lines = "\n".join(f"  {failure}" for failure in failures)
        super().__init__(f"colonies_backend could not remove what it made; it may still be on the server:\n{lines}")
        self.failures = failures


class _BackendClient(ColoniesClient):
    """A client that tells its backend what it created and removed, so that the backend can clean up."""

    def __init__(self, *args: Any, backend: ColoniesBackend, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._backend = backend

    def rpc(
        self,
        msgtype: str,
        fields: Optional[Mapping[str, Any]] = None,
        *,
        prvkey: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> Any:
        reply = super().rpc(msgtype, fields, prvkey=prvkey, timeout=timeout)
        self._backend._note(msgtype, fields or {}, prvkey if prvkey is not None else self._prvkey, reply)
        return reply


def _field(fields: Mapping[str, Any], *path: str) -> Any:
    """``fields[path[0]][path[1]]...``, or ``None`` where the request had no such field."""
    value: Any = fields
    for name in path:
        value = value.get(name) if isinstance(value, Mapping) else None
    return value


@attrs.define(eq=False)
class ColoniesBackend:
    """One server a parity test runs against: the in-process fake, the served fake, or a real ColonyOS.

    ``client(key)`` makes a client; ``colony()``, ``executor()`` and ``user()``
    create what a test needs (on a real server through RPCs with its keys, in a
    colony of this test's own); ``advance(s)`` lets ``s`` seconds pass (at once
    on the fakes, in real time on a real server). ``fake`` is the fake behind
    the backend, ``None`` for a real server.

    ``tls`` and ``verify`` are what every client of the backend is given
    (``verify``: ``True`` for the system's certificate store, or a CA bundle's
    path); ``url`` and ``ws_url`` are the server's addresses with the matching
    scheme, and ``ssl_context()`` the TLS settings, for code that reaches the
    server without a ``ColoniesClient``.

    ``close()`` removes what the backend made: the colonies it created, and in
    a ``given_colony`` (which it did not create) the executors and users added
    and the processes submitted through its clients. What it cannot remove it
    lists in a :class:`CleanupError`, after removing the rest.
    """

    kind: BackendKind
    server_prvkey: Optional[str] = attrs.field(repr=False)
    host: str = ""
    port: int = 0
    fake: Optional[FakeColonies] = None
    given_colony: Optional[ColonyKeys] = None
    crypto: Crypto = attrs.field(factory=Crypto)
    tls: bool = attrs.field(default=False, kw_only=True)
    verify: Union[bool, str] = attrs.field(default=True, kw_only=True)
    _clients: list[ColoniesClient] = attrs.field(factory=list)
    _colonies: list[ColonyKeys] = attrs.field(factory=list)
    # In the given colony: what the backend's clients made there (process id -> the key that submitted it).
    _processes: dict[str, Optional[str]] = attrs.field(factory=dict, repr=False)
    _executors: dict[str, None] = attrs.field(factory=dict)  # names, in the order they were added
    _users: dict[str, None] = attrs.field(factory=dict)
    _members: dict[tuple[str, str], str] = attrs.field(factory=dict, repr=False)  # ("user", name) -> its key

    @property
    def url(self) -> str:
        """``http://host:port``, or ``https://host:port`` with TLS (not for the in-process backend)."""
        if self.kind == "inprocess":
            raise ValueError("the in-process backend has no URL: it is reached without a socket")
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """The WebSocket address, ``ws://host:port/pubsub`` (``wss://...`` with TLS)."""
        return "ws" + self.url[len("http") :] + "/pubsub"

    def ssl_context(self) -> Optional[ssl.SSLContext]:
        """The TLS settings of this backend's clients (certificate and host name checked), ``None`` without TLS."""
        return tls_context(self.verify) if self.tls else None

    def client(self, prvkey: Optional[str] = None, **kwargs: Any) -> ColoniesClient:
        """A client of this backend, signed with ``prvkey`` (and with the backend's ``tls`` and ``verify``).

        On a fake with a ``FakeClock`` the client follows that clock too (``server_clock``).
        """
        if self.fake is not None:
            kwargs.setdefault("server_clock", self.fake.server_clock())
        if self.kind == "inprocess":
            assert self.fake is not None
            made = _BackendClient(prvkey=prvkey, transport=InProcessTransport(self.fake), backend=self, **kwargs)
        else:
            kwargs.setdefault("tls", self.tls)
            kwargs.setdefault("verify", self.verify)
            made = _BackendClient(self.host, self.port, prvkey=prvkey, backend=self, **kwargs)
        self._clients.append(made)
        return made

    def colony(self, name: Optional[str] = None) -> ColonyKeys:
        """A new colony for this test (or the configured one when there is no server key)."""
        if self.server_prvkey is None:
            if self.given_colony is None:
                raise RuntimeError("this backend has neither a server key nor a colony")
            return self.given_colony
        name = name or f"test-{secrets.token_hex(6)}"
        key = self.crypto.generate_private_key()
        colony = Colony(colonyid=self.crypto.id(key), name=name)
        self.client(self.server_prvkey).add_colony(colony)
        keys = ColonyKeys(name, colony.colonyid, key)
        self._colonies.append(keys)
        return keys

    def executor(
        self, colony: ColonyKeys, name: Optional[str] = None, executortype: str = "test", *, approved: bool = True
    ) -> ExecutorKeys:
        """A new executor of ``colony``, approved unless told otherwise."""
        name = name or f"executor-{secrets.token_hex(4)}"
        key = self.crypto.generate_private_key()
        owner = self.client(colony.prvkey)
        owner.add_executor(
            Executor(
                executorid=self.crypto.id(key), executortype=executortype, executorname=name, colonyname=colony.name
            )
        )
        if approved:
            owner.approve_executor(colony.name, name)
            self._members[("executor", name)] = key
        return ExecutorKeys(name, self.crypto.id(key), key, executortype, colony.name)

    def user(self, colony: ColonyKeys, name: Optional[str] = None) -> UserKeys:
        """A new user of ``colony``."""
        name = name or f"user-{secrets.token_hex(4)}"
        key = self.crypto.generate_private_key()
        self.client(colony.prvkey).add_user(User(colonyname=colony.name, userid=self.crypto.id(key), name=name))
        self._members[("user", name)] = key
        return UserKeys(name, self.crypto.id(key), key, colony.name)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of server time pass: instantly on a fake, really on a real server."""
        if self.fake is not None:
            self.fake.clock.advance(seconds)  # type: ignore[attr-defined]
        else:
            time.sleep(seconds)

    def _note(self, msgtype: str, fields: Mapping[str, Any], key: Optional[str], reply: Any) -> None:
        """Record what a request that succeeded made or removed (called by the backend's clients)."""
        if msgtype == "removecolonymsg":
            self._colonies = [c for c in self._colonies if c.name != fields.get("colonyname")]
        if self.given_colony is None:
            return  # everything else is in colonies of the backend's own, removed whole
        given = self.given_colony.name
        if msgtype == "submitfuncspecmsg" and _field(fields, "spec", "conditions", "colonyname") == given:
            self._processes[str(_field(reply, "processid"))] = key
        elif msgtype == "addexecutormsg" and _field(fields, "executor", "colonyname") == given:
            self._executors[str(_field(fields, "executor", "executorname"))] = None
        elif msgtype == "addusermsg" and _field(fields, "user", "colonyname") == given:
            self._users[str(_field(fields, "user", "name"))] = None
        elif msgtype == "removeexecutormsg" and fields.get("colonyname") == given:
            self._executors.pop(fields.get("executorname", ""), None)
            self._members.pop(("executor", fields.get("executorname", "")), None)
        elif msgtype == "rejectexecutormsg" and fields.get("colonyname") == given:
            self._members.pop(("executor", fields.get("executorname", "")), None)  # no longer a member
        elif msgtype == "removeusermsg" and fields.get("colonyname") == given:
            self._users.pop(fields.get("name", ""), None)
            self._members.pop(("user", fields.get("name", "")), None)
        elif msgtype == "removeprocessmsg" and not fields.get("all"):
            self._processes.pop(fields.get("processid", ""), None)
        elif msgtype == "removeallprocessesmsg" and fields.get("colonyname") == given and fields.get("state") == -1:
            self._processes.clear()

    def close(self) -> None:
        """Remove what this backend made and close its clients; raise :class:`CleanupError` for what remains.

        In the given colony: its processes first (a RUNNING one is cancelled,
        as a process cannot be removed while it runs), with the key that
        submitted it or another member's; then its executors and users, with
        the colony owner's key. Then the colonies it created, with the server
        key. A failure is recorded and the cleanup goes on.
        """
        failures: list[str] = []
        first: list[BaseException] = []

        @contextlib.contextmanager
        def attempt(what: str) -> Iterator[None]:
            try:
                yield
            except Exception as exc:  # recorded, and the rest is still removed
                failures.append(f"{what}: {type(exc).__name__}: {exc}")
                first.append(exc)

        given = self.given_colony
        if given is not None:
            for pid, key in list(self._processes.items()):
                with attempt(f"process {pid} in colony {given.name!r}"):
                    self._remove_process(pid, key)
            if self._executors or self._users:
                owner = self.client(given.prvkey)
                for name in list(self._executors):
                    with attempt(f"executor {name!r} in colony {given.name!r}"):
                        owner.remove_executor(given.name, name)
                for name in list(self._users):
                    with attempt(f"user {name!r} in colony {given.name!r}"):
                        owner.remove_user(given.name, name)
        for colony in list(self._colonies):
            with attempt(f"colony {colony.name!r}"):
                self.client(self.server_prvkey).remove_colony(colony.name)
        self._processes.clear()
        self._executors.clear()
        self._users.clear()
        self._members.clear()
        self._colonies.clear()
        for client in self._clients:
            client.close()
        self._clients.clear()
        if failures:
            raise CleanupError(failures) from first[0]

    def _remove_process(self, pid: str, submitter: Optional[str]) -> None:
        """Cancel (if it runs) and remove a process, as its submitter or, if that one is gone, another member."""
        keys = [k for k in dict.fromkeys([submitter, *self._members.values()]) if k is not None]
        refused: Optional[Forbidden] = None
        for key in keys:
            client = self.client(key)
            try:
                process = client.get_process(pid)
            except NotFound:
                return  # removed already
            except Forbidden as exc:  # this key is no longer a member: try the next
                refused = refused or exc
                continue
            if process.state == ProcessState.RUNNING:
                client.cancel_process(pid)
            client.remove_process(pid)
            return
        if refused is not None:
            raise refused
        raise RuntimeError("no key of a colony member to remove it with")


def _real_backend(config: pytest.Config) -> ColoniesBackend:
    if not config.getoption("--colonies-real"):
        pytest.skip("the real-server variant runs with --colonies-real")
    env = os.environ
    host, port = env.get("COLONIES_TEST_SERVER_HOST"), env.get("COLONIES_TEST_SERVER_PORT")
    server_key = env.get("COLONIES_TEST_SERVER_PRVKEY") or None
    colony_name, colony_key = env.get("COLONIES_TEST_COLONY_NAME"), env.get("COLONIES_TEST_COLONY_PRVKEY")
    if not host or not port or not (server_key or (colony_name and colony_key)):
        pytest.skip(
            f"no real ColonyOS configured: set {_REAL_VARIABLES} "
            "(or COLONIES_TEST_COLONY_NAME and COLONIES_TEST_COLONY_PRVKEY instead of the server key)"
        )
    tls_text = env.get("COLONIES_TEST_SERVER_TLS", "")
    if tls_text.strip().lower() not in _TRUE | _FALSE:
        pytest.fail(f"COLONIES_TEST_SERVER_TLS must be true or false, not {tls_text!r}", pytrace=False)
    tls = tls_text.strip().lower() in _TRUE
    verify: Union[bool, str] = True  # the system's certificate store
    ca = env.get("COLONIES_TEST_SERVER_CA") or None
    if ca is not None:
        if not tls:
            pytest.fail("COLONIES_TEST_SERVER_CA is set but COLONIES_TEST_SERVER_TLS is not true", pytrace=False)
        try:
            tls_context(ca)
        except ValueError as exc:
            pytest.fail(f"COLONIES_TEST_SERVER_CA: {exc}", pytrace=False)
        verify = ca
    given = None
    if colony_name and colony_key:
        given = ColonyKeys(colony_name, Crypto().id(colony_key), colony_key)
    return ColoniesBackend("real", server_key, host, int(port), given_colony=given, tls=tls, verify=verify)


@pytest.fixture(params=["inprocess", "http", "real"])
def colonies_backend(request: pytest.FixtureRequest) -> Iterator[ColoniesBackend]:
    """The test runs once per backend: ``inprocess``, ``http`` (the served fake) and ``real``.

    ``real`` is a real ColonyOS named by ``COLONIES_TEST_SERVER_HOST``,
    ``_PORT`` and ``_PRVKEY`` (or ``COLONIES_TEST_COLONY_NAME`` and
    ``COLONIES_TEST_COLONY_PRVKEY`` for an existing colony), with
    ``COLONIES_TEST_SERVER_TLS`` and ``_CA`` for https and wss. It runs with
    ``--colonies-real``, and is skipped with the reason otherwise. What a test
    made through the backend is removed after it; what cannot be is a
    :class:`CleanupError` at teardown. The markers ``fake_only`` and
    ``real_only`` restrict a test to the fakes or to the real server.
    """
    kind: BackendKind = request.param
    marker_fake, marker_real = (request.node.get_closest_marker(m) for m in ("fake_only", "real_only"))
    if kind == "real" and marker_fake is not None:
        pytest.skip("fake_only: not run against a real server")
    if kind != "real" and marker_real is not None:
        pytest.skip("real_only: not run against the fake")
    server: Optional[FakeColoniesServer] = None
    if kind == "real":
        backend = _real_backend(request.config)
    else:
        fake = FakeColonies(clock=FakeClock())
        if kind == "http":
            server = FakeColoniesServer(fake).start()
            backend = ColoniesBackend(kind, fake.server_prvkey, server.host, server.port, fake)
        else:
            backend = ColoniesBackend(kind, fake.server_prvkey, fake=fake)
    cleanup: Optional[CleanupError] = None
    try:
        yield backend
    finally:
        try:
            backend.close()
        except CleanupError as exc:  # reported below, once the servers stopped; the test's own outcome stands
            cleanup = exc
        finally:
            if server is not None:
                server.stop()
            if backend.fake is not None:
                backend.fake.close()
    if backend.fake is not None:
        _raise_recorded([*backend.fake.errors, *(server.errors if server else [])])
    if cleanup is not None:
        raise cleanup
