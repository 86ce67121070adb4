"""Deadlines of blocking waits: real time, and optionally the server's clock too.

Every wait ends after its timeout in real time. A client given the server's
clock (a fake's ``FakeClock``) also ends a wait as soon as that clock passes
the deadline, so that a test which advances the fake's clock sees timeouts at
once, as the fake's own subscriptions do, instead of waiting them out.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

__all__ = ["Deadline"]

# How long a wait blocks at a time when a server clock is given, in real seconds: the test that
# owns that clock may move it at any moment, and only a look at it tells.
_SLICE = 0.25


class Deadline:
    """The end of a wait ``seconds`` from now (``None``: no end)."""

    __slots__ = ("_real_at", "_clock", "_server_at")

    def __init__(self, seconds: Optional[float], server_clock: Optional[Callable[[], float]] = None) -> None:
        self._real_at = None if seconds is None else time.monotonic() + seconds
        self._clock = None if seconds is None else server_clock
        self._server_at = None if self._clock is None or seconds is None else self._clock() + seconds

    def left(self) -> Optional[float]:
        """Seconds left to wait, by whichever clock is nearer the end (0.0 once one is there); ``None`` for no end.

        Also what a subscription asks the server for, so that a server on the
        given clock ends its side when this deadline passes there.
        """
        if self._real_at is None:
            return None
        left = max(0.0, self._real_at - time.monotonic())
        if self._clock is not None and self._server_at is not None:
            left = min(left, max(0.0, self._server_at - self._clock()))
        return left

    def slice(self, seconds: float) -> float:
        """How long to block now for a wait of ``seconds``: short slices while a server clock can jump."""
        return min(seconds, _SLICE) if self._clock is not None else seconds

    def passed(self) -> bool:
        """Whether the wait is over."""
        left = self.left()
        return left is not None and left <= 0.0
