"""pytest fixtures for code that talks to ColonyOS (registered through the ``pytest11`` entry point).

Nothing to configure: install the package and ask for a fixture.

``colonies_fake``
    A fresh :class:`~colonies_fake.FakeColonies` on a
    :class:`~colonies_fake.FakeClock` for each test (``clock.advance(s)``
    moves time).
``colonies_colony``, ``colonies_executor``, ``colonies_client``
    A colony (keys), an approved executor in it (keys) and a
    :class:`~colonies_sync.ColoniesClient` signed by that executor, on
    ``colonies_fake``.
``colonies_server``
    A :class:`~colonies_fake.FakeColoniesServer` on 127.0.0.1, one per
    session, whose fake is reset before each test.
``colonies_backend``
    The same test on three backends: ``inprocess``, ``http`` (the served
    fake) and ``real`` (a real ColonyOS named by ``COLONIES_TEST_SERVER_HOST``,
    ``_PORT`` and ``_SERVER_PRVKEY``, or ``COLONIES_TEST_COLONY_NAME`` and
    ``COLONIES_TEST_COLONY_PRVKEY`` for an existing colony; run with
    ``--colonies-real``; skipped with the reason otherwise).

Markers: ``fake_only`` (not run against the real server) and ``real_only``.
Errors recorded inside a fake (a bug in a handler or a timer) fail the test at
teardown, so they are never lost. Every fixture can be overridden in a
``conftest.py`` as usual.
"""

from __future__ import annotations

import os
import secrets
import time
from typing import Any, Iterator, Optional

import attrs
import pytest

from colonies_fake._clock import FakeClock
from colonies_fake._core import ColonyKeys, ExecutorKeys, FakeColonies, UserKeys
from colonies_fake._http import FakeColoniesServer
from colonies_sync import ColoniesClient, Colony, Crypto, Executor, User

__all__ = ["ColoniesBackend"]

_REAL_VARIABLES = "COLONIES_TEST_SERVER_HOST, COLONIES_TEST_SERVER_PORT and COLONIES_TEST_SERVER_PRVKEY"


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
    """A fresh fake ColonyOS with a fake clock; use ``colonies_fake.clock.advance(s)`` to move time."""
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
    """The session's served fake on 127.0.0.1 (``.url``, ``.port``, ``.fake``), reset for this test."""
    server = _colonies_session_server
    server.fake.reset()
    server.clear_errors()
    yield server
    errors = list(server.errors)
    server.fake.reset()
    server.clear_errors()
    _raise_recorded(errors)


@attrs.define(eq=False)
class ColoniesBackend:
    """One server a parity test runs against: the in-process fake, the served fake, or a real ColonyOS.

    ``client(key)`` makes a client; ``colony()``, ``executor()`` and ``user()``
    create what a test needs (on a real server through RPCs with its keys, in a
    colony of this test's own); ``advance(s)`` lets ``s`` seconds pass (at once
    on the fakes, in real time on a real server). ``fake`` is the fake behind
    the backend, ``None`` for a real server.
    """

    kind: str
    server_prvkey: Optional[str] = attrs.field(repr=False)
    host: str = ""
    port: int = 0
    fake: Optional[FakeColonies] = None
    given_colony: Optional[ColonyKeys] = None
    crypto: Crypto = attrs.field(factory=Crypto)
    _clients: list[ColoniesClient] = attrs.field(factory=list)
    _colonies: list[ColonyKeys] = attrs.field(factory=list)

    def client(self, prvkey: Optional[str] = None, **kwargs: Any) -> ColoniesClient:
        """A client of this backend, signed with ``prvkey``."""
        if self.kind == "inprocess":
            assert self.fake is not None
            made = self.fake.client(prvkey, **kwargs)
        else:
            made = ColoniesClient(self.host, self.port, prvkey=prvkey, **kwargs)
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
        return ExecutorKeys(name, self.crypto.id(key), key, executortype, colony.name)

    def user(self, colony: ColonyKeys, name: Optional[str] = None) -> UserKeys:
        """A new user of ``colony``."""
        name = name or f"user-{secrets.token_hex(4)}"
        key = self.crypto.generate_private_key()
        self.client(colony.prvkey).add_user(User(colonyname=colony.name, userid=self.crypto.id(key), name=name))
        return UserKeys(name, self.crypto.id(key), key, colony.name)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of server time pass: instantly on a fake, really on a real server."""
        if self.fake is not None:
            self.fake.clock.advance(seconds)  # type: ignore[attr-defined]
        else:
            time.sleep(seconds)

    def close(self) -> None:
        """Remove the colonies this backend created and close its clients."""
        for colony in self._colonies:
            try:
                self.client(self.server_prvkey).remove_colony(colony.name)
            except Exception:  # cleanup is best effort: the test's outcome stands
                pass
        for client in self._clients:
            client.close()


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
    given = None
    if colony_name and colony_key:
        given = ColonyKeys(colony_name, Crypto().id(colony_key), colony_key)
    return ColoniesBackend("real", server_key, host, int(port), given_colony=given)


@pytest.fixture(params=["inprocess", "http", "real"])
def colonies_backend(request: pytest.FixtureRequest) -> Iterator[ColoniesBackend]:
    """A backend to run one test against: the in-process fake, the served fake, or a real ColonyOS."""
    kind = request.param
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
    try:
        yield backend
    finally:
        backend.close()
        if server is not None:
            server.stop()
        if backend.fake is not None:
            backend.fake.close()
    if backend.fake is not None:
        _raise_recorded([*backend.fake.errors, *(server.errors if server else [])])
