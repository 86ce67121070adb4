"""Shared helpers for the fake's behaviour tests (PROTOCOL.md is the ground truth).

Nothing here waits in real time: threads are joined with a bounded ``join`` and
an assertion, and time moves only through ``FakeClock.advance``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from typing import Any, Callable, Iterator, Optional

import attrs
import pytest

from colonies_fake import FakeColonies
from colonies_sync import FunctionSpec, ServerError

JOIN_TIMEOUT = 5.0
DAY_NS = 86_400 * 1_000_000_000


@contextlib.contextmanager
def server_error(cls: type[ServerError], status: int, message: str) -> Iterator[Any]:
    """Expect ``cls`` with exactly this status and server text."""
    with pytest.raises(cls) as info:
        yield info
    assert (info.value.status, info.value.message) == (status, message)


def spec(
    colony: str = "dev",
    executortype: str = "test",
    funcname: str = "echo",
    *,
    conditions: Optional[dict[str, Any]] = None,
    **kwargs: Any,
) -> FunctionSpec:
    """A FunctionSpec with -1 limits unless given; ``conditions`` overrides Conditions fields."""
    fs = FunctionSpec.create(funcname, colony, executortype, **kwargs)
    if conditions:
        fs = attrs.evolve(fs, conditions=attrs.evolve(fs.conditions, **conditions))
    return fs


def at(fake: FakeColonies, offset: float = 0.0) -> dt.datetime:
    """The fake clock's time (plus ``offset`` seconds) as an aware UTC datetime."""
    return dt.datetime.fromtimestamp(fake.clock.time() + offset, tz=dt.timezone.utc)


class Background(threading.Thread):
    """Run one call on a thread, keeping its result or exception for the test to inspect."""

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(daemon=True)
        self._call = (fn, args, kwargs)
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self.clock: Any = None  # when set, ``ended_at`` records its time as the call returns
        self.ended_at: Optional[float] = None

    def run(self) -> None:
        fn, args, kwargs = self._call
        try:
            self.result = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the test, never lost
            self.error = exc
        finally:
            if self.clock is not None:
                self.ended_at = self.clock.time()

    def finish(self, timeout: float = JOIN_TIMEOUT) -> "Background":
        """Join, and fail the test if the thread is still running."""
        self.join(timeout)
        assert not self.is_alive(), "the background call did not finish"
        return self


class Threads:
    """Starts background calls and guarantees they are all joined at teardown."""

    def __init__(self, fake: FakeColonies) -> None:
        self.fake = fake
        self.started: list[Background] = []

    def start(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Background:
        thread = Background(fn, *args, **kwargs)
        thread.clock = self.fake.clock
        self.started.append(thread)
        thread.start()
        return thread

    def shutdown(self) -> None:
        if any(t.is_alive() for t in self.started):
            self.fake.close()  # ends every blocked long-poll
        for thread in self.started:
            thread.join(JOIN_TIMEOUT)
        assert not any(t.is_alive() for t in self.started), "a background call never finished"
