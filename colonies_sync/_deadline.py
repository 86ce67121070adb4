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


class Deadline:
    """The end of a wait ``seconds`` from now (``None``: no end)."""

    __slots__ = ("_real_at", "_clock", "_server_at")

    def __init__(self, seconds: Optional[float], server_clock: Optional[Callable[[], float]] = None) -> None:
        self._real_at = None if seconds is None else time.monotonic() + seconds
        self._clock = None if seconds is None else server_clock
        self._server_at = None if self._clock is None or seconds is None else self._clock() + seconds

    def left(self) -> Optional[float]:
        """Real seconds left to wait: 0.0 once either clock has reached the end; ``None`` for no end."""
        if self._real_at is None:
            return None
        if self._clock is not None and self._server_at is not None and self._clock() >= self._server_at:
            return 0.0
        return max(0.0, self._real_at - time.monotonic())

    def passed(self) -> bool:
        """Whether the wait is over."""
        left = self.left()
        return left is not None and left <= 0.0
