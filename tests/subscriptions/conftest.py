"""Fixtures for the subscription tests: a fake on a FakeClock, a colony with its parties, and
clients that are all closed (their subscriptions with them) at teardown.

Every test here runs twice: with ``fake.client(key)`` on the in-process
transport, and over HTTP/WebSocket to a served fake (tests/_transports.py).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

pytest.register_assert_rewrite("tests.subscriptions.helpers")

from colonies_fake import ChannelLimits, FakeClock, FakeColonies, FakeColoniesServer  # noqa: E402
from tests.subscriptions.helpers import START, World, build_world  # noqa: E402

MakeWorld = Callable[..., World]


@pytest.fixture
def make_world() -> Iterator[MakeWorld]:
    """``make_world(rate_limit=True, **limits)``: a fresh fake on a FakeClock and its :class:`World`.

    Keyword arguments other than ``rate_limit`` are ``ChannelLimits`` fields. At
    teardown every client is closed (stopping its subscriptions), and internal
    errors the fake recorded fail the test. Leaks are asserted by the tests
    themselves (test_leaks.py and the close tests), not here, so that one leak
    is reported once.
    """
    worlds: list[World] = []

    def make(rate_limit: bool = True, **limits: Any) -> World:
        fake = FakeColonies(clock=FakeClock(start=START), rate_limit=rate_limit, limits=ChannelLimits(**limits))
        world = build_world(fake)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        # Drop the server side first, so a client blocked in a read ends at once whatever
        # its close() does; what close() alone achieves is asserted by the tests.
        world.fake.faults.drop_streams()
        world.close_clients()
    for world in worlds:
        world.fake.close()
    errors = [e for world in worlds for e in world.fake.errors]
    if errors:
        raise AssertionError(f"the fake server recorded internal errors: {errors!r}") from errors[0]


@pytest.fixture
def world(make_world: MakeWorld) -> World:
    """A world on a fake with the real server's limits."""
    return make_world()


@pytest.fixture
def fake(world: World) -> FakeColonies:
    return world.fake


@pytest.fixture
def served(world: World) -> Iterator[FakeColoniesServer]:
    """The world's fake served on 127.0.0.1, for raw WebSocket frames (in both runs)."""
    server = FakeColoniesServer(world.fake).start()
    yield server
    server.stop()
    assert not server.errors, server.errors


from tests._transports import generate as pytest_generate_tests  # noqa: E402,F401  (in-process and HTTP)
from tests._transports import transport  # noqa: E402,F401
