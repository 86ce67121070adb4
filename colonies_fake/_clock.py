"""Time for the fake server: ``RealClock`` and ``FakeClock``.

The fake never sleeps and never reads the system clock directly: it asks its
clock for the time, schedules timers with ``call_at`` and bounds blocking waits
with ``deadline``. ``RealClock`` follows the wall clock. ``FakeClock`` stands
still until a test calls ``advance()``, which fires every timer that falls due,
in time order, before it returns, then wakes every blocked waiter so it can see
its deadline has passed.

A blocking wait on a ``FakeClock`` (an assign long-poll, say) also ends after a
generous span of *real* time (three times its timeout, at least 5 s) unless
``real_time_cap=False``: a test that forgets to advance the clock then gets the
timeout answer instead of hanging. Timers (process deadlines) never fire in
real time on a ``FakeClock``.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Callable, Optional, Protocol

__all__ = ["Clock", "Deadline", "FakeClock", "RealClock", "Timer"]


class Timer:
    """A scheduled callback; :meth:`cancel` stops it if it has not run."""

    __slots__ = ("when", "callback", "cancelled", "_on_cancel")

    def __init__(
        self, when: float, callback: Callable[[], None], on_cancel: Optional[Callable[[], None]] = None
    ) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False
        self._on_cancel = on_cancel

    def cancel(self) -> None:
        """Do not run the callback (no effect once it has run)."""
        self.cancelled = True
        if self._on_cancel is not None:
            self._on_cancel()


class Deadline:
    """When a blocking wait must give up, on a given clock."""

    __slots__ = ("_clock", "_at", "_real_at")

    def __init__(self, clock: Clock, at: float, real_at: Optional[float]) -> None:
        self._clock = clock
        self._at = at
        self._real_at = real_at

    def expired(self) -> bool:
        """True once the clock (or, for a capped fake clock, real time) has reached it."""
        if self._clock.time() >= self._at:
            return True
        return self._real_at is not None and time.monotonic() >= self._real_at

    def remaining(self) -> Optional[float]:
        """Real seconds until a waiter must look again, or ``None`` when only a clock jump can end it."""
        if self._real_at is None:
            return None
        return max(0.0, self._real_at - time.monotonic())

    def wait(self, cond: threading.Condition) -> None:
        """Wait on ``cond`` (held by the caller) until notified or at most until the deadline."""
        if self._real_at is None:
            cond.wait()
        else:
            cond.wait(max(0.0, self._real_at - time.monotonic()))


class Clock(Protocol):
    """What the fake needs from a clock."""

    def time(self) -> float:
        """Seconds since the Unix epoch."""
        ...

    def time_ns(self) -> int:
        """Nanoseconds since the Unix epoch."""
        ...

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` once the clock reaches ``when`` (epoch seconds)."""
        ...

    def deadline(self, seconds: float) -> Deadline:
        """A deadline ``seconds`` from now for a blocking wait."""
        ...

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever time jumps (``FakeClock.advance``)."""
        ...

    def remove_listener(self, listener: Callable[[], None]) -> None:
        """Stop calling ``listener``."""
        ...


class RealClock:
    """The wall clock. Timers run on one scheduler thread that exists only while timers are pending."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._thread: Optional[threading.Thread] = None
        self.errors: list[BaseException] = []

    def time(self) -> float:
        """Seconds since the Unix epoch."""
        return time.time()

    def time_ns(self) -> int:
        """Nanoseconds since the Unix epoch."""
        return time.time_ns()

    def deadline(self, seconds: float) -> Deadline:
        """A deadline ``seconds`` from now (measured on the monotonic clock)."""
        return Deadline(self, float("inf"), time.monotonic() + max(0.0, seconds))

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` on the scheduler thread at wall time ``when``."""
        timer = Timer(when, callback, self._poke)
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._seq), timer))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="colonies-fake-clock", daemon=True)
                self._thread.start()
            else:
                self._cond.notify()
        return timer

    def _poke(self) -> None:
        with self._cond:
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._thread = None
                    return
                when, _, timer = self._heap[0]
                delay = when - time.time()
                if delay > 0:
                    self._cond.wait(delay)  # a new or cancelled timer notifies
                    continue
                heapq.heappop(self._heap)
            try:
                timer.callback()
            except BaseException as exc:  # the owner reads .errors; the scheduler must go on
                self.errors.append(exc)

    def join(self, timeout: Optional[float] = None) -> None:
        """Wait for the scheduler thread to finish (it does once no timer is pending)."""
        thread = self._thread
        if thread is not None:
            with self._cond:
                self._cond.notify()
            thread.join(timeout)

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Real time never jumps: nothing to listen to."""

    def remove_listener(self, listener: Callable[[], None]) -> None:
        """Real time never jumps: nothing to listen to."""


class FakeClock:
    """A clock that moves only when told to.

    ``FakeClock(start=None)`` starts at the current wall time rounded down to a
    whole second (pass ``start`` in epoch seconds for a fixed one). ``advance(s)``
    moves it forward, firing due timers in order, each with the clock set to its
    due time, and then wakes every waiter.
    """

    def __init__(self, start: Optional[float] = None, *, real_time_cap: bool = True) -> None:
        self._now_ns = int((time.time() // 1 if start is None else start) * 1_000_000_000)
        self._lock = threading.RLock()
        self._advance_lock = threading.Lock()
        # Due times in integer nanoseconds: float seconds lose precision at epoch scale.
        self._heap: list[tuple[int, int, Timer]] = []
        self._seq = itertools.count()
        self._listeners: list[Callable[[], None]] = []
        self.real_time_cap = real_time_cap

    def time(self) -> float:
        """The fake time in epoch seconds."""
        return self._now_ns / 1e9

    def time_ns(self) -> int:
        """The fake time in epoch nanoseconds."""
        return self._now_ns

    def deadline(self, seconds: float) -> Deadline:
        """A deadline ``seconds`` of fake time from now (also real time with the cap)."""
        seconds = max(0.0, seconds)
        # The real-time cap is a safety net for a test that never advances the
        # clock, so it is generous: work done before advance() must not trip it.
        real_at = time.monotonic() + max(5.0, 3.0 * seconds) if self.real_time_cap else None
        return Deadline(self, self.time() + seconds, real_at)

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` when ``advance`` reaches ``when`` (or at the next advance if already due)."""
        timer = Timer(when, callback)
        with self._lock:
            heapq.heappush(self._heap, (int(round(when * 1e9)), next(self._seq), timer))
        return timer

    def pending(self) -> int:
        """How many timers wait to fire (cancelled ones excluded)."""
        with self._lock:
            return sum(1 for _, _, t in self._heap if not t.cancelled)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing due timers and waking waiters.

        Runs the timers in the calling thread, so their effects are visible when
        this returns. Concurrent calls are serialised.
        """
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._advance_lock:
            target = self._now_ns + int(round(seconds * 1_000_000_000))
            while True:
                with self._lock:
                    while self._heap and self._heap[0][2].cancelled:
                        heapq.heappop(self._heap)
                    if not self._heap or self._heap[0][0] > target:
                        break
                    when_ns, _, timer = heapq.heappop(self._heap)
                    self._now_ns = max(self._now_ns, when_ns)
                timer.callback()
            with self._lock:
                self._now_ns = target
                listeners = list(self._listeners)
            for listener in listeners:
                listener()

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each ``advance``."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], None]) -> None:
        """Stop calling ``listener``."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)
