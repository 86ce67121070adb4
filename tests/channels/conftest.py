"""Fixtures for the channel tests: fakes on a fixed FakeClock, with default or small limits."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

pytest.register_assert_rewrite("tests.channels.helpers")

from colonies_fake import ChannelLimits, FakeClock, FakeColonies  # noqa: E402
from tests.channels.helpers import START, World, build_world  # noqa: E402

MakeWorld = Callable[..., World]


@pytest.fixture
def make_world() -> Iterator[MakeWorld]:
    """``make_world(rate_limit=True, **limits)``: a fresh fake and its :class:`World`.

    Keyword arguments other than ``rate_limit`` are ``ChannelLimits`` fields.
    Every fake is closed at teardown, and internal errors it recorded fail the test.
    """
    fakes: list[FakeColonies] = []

    def make(rate_limit: bool = True, **limits: Any) -> World:
        fake = FakeColonies(clock=FakeClock(start=START), rate_limit=rate_limit, limits=ChannelLimits(**limits))
        fakes.append(fake)
        return build_world(fake)

    yield make
    for fake in fakes:
        fake.close()
    errors = [e for fake in fakes for e in fake.errors]
    if errors:
        raise AssertionError(f"the fake server recorded internal errors: {errors!r}") from errors[0]


@pytest.fixture
def world(make_world: MakeWorld) -> World:
    """A world on a fake with the real server's limits."""
    return make_world()


@pytest.fixture
def fake(world: World) -> FakeColonies:
    return world.fake


from tests._transports import generate as pytest_generate_tests  # noqa: E402,F401  (in-process and HTTP)
from tests._transports import transport  # noqa: E402,F401
