"""Fault injection: failed, delayed and dropped requests and streams, for tests of error handling."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Optional

from colonies_fake._replies import Reply, error_envelope

if TYPE_CHECKING:
    from colonies_fake._core import FakeColonies

__all__ = ["Faults"]


class Faults:
    """Fault injection for tests.

    ``fail_next(n, status=500, message=...)`` answers the next ``n`` API calls
    with that error envelope; ``delay(seconds)`` holds every API call that long
    (real time) before handling it; ``drop_streams()`` cuts every open
    WebSocket (in-process streams too) without a close frame;
    ``double_delivery(n=1)`` makes the next ``n`` channel subscriptions send
    their last replayed entry again as a live one, as the real server's
    replay/live race can (PROTOCOL.md 9.4); ``clear()`` undoes the lasting ones.
    """

    def __init__(self, fake: Optional[FakeColonies] = None) -> None:
        self._fake = fake
        self._lock = threading.Lock()
        self._fail_count = 0
        self._fail_status = 500
        self._fail_message = ""
        self._delay = 0.0
        self._double_deliveries = 0

    def fail_next(self, n: int = 1, status: int = 500, message: str = "injected fault") -> None:
        """Answer the next ``n`` requests with ``status`` and ``message``."""
        with self._lock:
            self._fail_count = n
            self._fail_status = status
            self._fail_message = message

    def delay(self, seconds: float) -> None:
        """Hold every request ``seconds`` (real time) before handling it; 0 turns it off.

        A held request ends early, unanswered, when its client goes away or the fake closes.
        """
        with self._lock:
            self._delay = max(0.0, seconds)

    def drop_streams(self) -> int:
        """Cut every open WebSocket stream now, as a network failure would; returns how many."""
        if self._fake is None:
            return 0
        with self._fake._lock:
            count = len(self._fake.pubsub.sessions)
            self._fake.pubsub.drop_all()
        return count

    def double_delivery(self, n: int = 1) -> None:
        """The next ``n`` channel subscriptions deliver their last replayed entry twice."""
        with self._lock:
            self._double_deliveries = n

    def take_double_delivery(self) -> bool:
        """Whether this channel subscription should repeat its last replayed entry."""
        with self._lock:
            if self._double_deliveries <= 0:
                return False
            self._double_deliveries -= 1
            return True

    def clear(self) -> None:
        """Turn off every fault."""
        with self._lock:
            self._fail_count = 0
            self._delay = 0.0
            self._double_deliveries = 0

    @property
    def pending_failures(self) -> int:
        """How many of the failures asked for with :meth:`fail_next` are still to come."""
        return self._fail_count

    @property
    def current_delay(self) -> float:
        """The delay now applied to each request, in seconds."""
        return self._delay

    def take_failure(self) -> Optional[Reply]:
        """The injected failure for this request, if one is pending."""
        with self._lock:
            if self._fail_count <= 0:
                return None
            self._fail_count -= 1
            return error_envelope(self._fail_status, self._fail_message)
