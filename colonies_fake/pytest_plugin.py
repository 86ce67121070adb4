"""pytest fixtures for testing against the fake ColonyOS (registered through ``pytest11``).

``colonies_fake``: a fresh :class:`~colonies_fake.FakeColonies` on a
:class:`~colonies_fake.FakeClock` for each test, closed afterwards. Errors the
fake recorded inside itself (a bug in a handler or a timer) fail the test at
teardown, so they are never silently lost.

Override any fixture in your own ``conftest.py`` as usual.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from colonies_fake._clock import FakeClock
from colonies_fake._core import FakeColonies


@pytest.fixture
def colonies_fake() -> Iterator[FakeColonies]:
    """A fresh fake ColonyOS with a fake clock; use ``colonies_fake.clock.advance(s)`` to move time."""
    fake = FakeColonies(clock=FakeClock())
    try:
        yield fake
    finally:
        fake.close()
    errors = [*fake.errors, *getattr(fake.clock, "errors", [])]
    if errors:
        raise AssertionError(f"the fake server recorded internal errors: {errors!r}") from errors[0]
