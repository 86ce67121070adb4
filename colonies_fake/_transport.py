"""InProcessTransport: the client's transport seam, wired straight to a FakeColonies.

The client builds and signs the same envelope bytes it would send over HTTP;
this transport hands them to ``FakeColonies.handle_api`` and returns the status
and body the served fake would put on the wire. Streams go to a ``_pubsub``
session, exactly as a served WebSocket's frames do. Nothing is skipped, so
tests on it exercise the client's whole code path.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import TYPE_CHECKING, Optional

from colonies_fake._errors import FakeClosed
from colonies_fake._pubsub import Session
from colonies_sync._crypto import SignerHint
from colonies_sync._exceptions import ColoniesConnectionError
from colonies_sync._transport import RawReply, StreamClosed

if TYPE_CHECKING:
    from colonies_fake._core import FakeColonies

__all__ = ["InProcessStream", "InProcessTransport"]


class InProcessTransport:
    """A ``Transport`` that calls a :class:`FakeColonies` directly (no sockets, no threads)."""

    def __init__(self, fake: FakeColonies) -> None:
        self.fake = fake
        self._closed = False
        self._hint = SignerHint()  # one client's requests, as on one connection

    def call(self, envelope: bytes, *, timeout: float) -> RawReply:
        """Hand the envelope to the fake; a closed fake or a timeout is a connection error."""
        if self._closed:
            raise ColoniesConnectionError("the transport is closed")
        try:
            reply = self.fake.handle_api(envelope, timeout=timeout, hint=self._hint)
        except FakeClosed as exc:
            raise ColoniesConnectionError("the fake server closed the connection") from exc
        except TimeoutError as exc:
            raise ColoniesConnectionError(f"no reply within {timeout:g} s") from exc
        return RawReply(reply.status, reply.body)

    def open_stream(self, *, timeout: float) -> InProcessStream:
        """A pub/sub stream to the fake, as a ``/pubsub`` WebSocket would be."""
        if self._closed:
            raise ColoniesConnectionError("the transport is closed")
        if self.fake.closed:
            raise ColoniesConnectionError("the fake server is closed")
        return InProcessStream(self.fake)

    def close(self) -> None:
        """Mark the transport closed (the fake itself keeps running)."""
        self._closed = True

    def __repr__(self) -> str:
        return f"InProcessTransport({self.fake!r})"


class InProcessStream:
    """A ``Stream`` onto a fake's pub/sub session, with the served connection's semantics.

    Frames sent while a channel subscription lasts wait until it ends, as the
    real server's read loop is blocked then.
    """

    def __init__(self, fake: FakeColonies) -> None:
        self._fake = fake
        self._wake = threading.Condition()  # never held while taking the fake's lock
        self._poked = False
        self._closed = False
        self._incoming: collections.deque[tuple[str, bool]] = collections.deque()
        self._frames: collections.deque[tuple[str, bool]] = collections.deque()  # (text, binary opcode)
        with fake._lock:
            self._session = Session(fake, self._poke)

    def _poke(self) -> None:
        # Called with the fake's lock held: only take our own, briefly.
        with self._wake:
            self._poked = True
            self._wake.notify_all()

    def send(self, frame: str, binary: bool = False) -> None:
        """Hand one frame to the session (queued while a channel subscription blocks reading).

        ``binary`` stands for the WebSocket opcode: the fake answers a
        subscription in the opcode it came in, as the real server does.
        """
        if self._closed:
            raise StreamClosed("the stream is closed")
        with self._fake._lock:
            self._incoming.append((frame, binary))
            self._pump()

    def _pump(self) -> bool:
        """Deliver queued frames while the session reads; returns whether the connection is dropped."""
        while self._incoming and self._session.reading():
            self._session.receive(*self._incoming.popleft())
        frames, drop = self._session.collect()
        self._frames.extend(frames)
        if not drop:
            while self._incoming and self._session.reading():  # a channel subscription just ended
                self._session.receive(*self._incoming.popleft())
                frames, drop = self._session.collect()
                self._frames.extend(frames)
        return drop

    def receive(self, timeout: Optional[float]) -> Optional[str]:
        """The next frame, ``None`` after ``timeout`` seconds; ``StreamClosed`` once dropped."""
        frame = self.receive_frame(timeout)
        return None if frame is None else frame[0]

    def receive_frame(self, timeout: Optional[float]) -> Optional[tuple[str, bool]]:
        """Like :meth:`receive`, with the frame's opcode: ``(text, binary)``."""
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._closed:
                raise StreamClosed("the stream is closed")
            with self._fake._lock:
                drop = self._pump()
                wait = self._session.wait_seconds()
            if self._frames:
                return self._frames.popleft()
            if drop:
                self.close()
                raise StreamClosed("the fake server dropped the stream")
            remaining = None if end is None else end - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            with self._wake:
                if not self._poked:
                    waits = [w for w in (remaining, wait) if w is not None]
                    self._wake.wait(min(waits) if waits else None)
                self._poked = False

    def close(self) -> None:
        """Forget the session's subscriptions; idempotent."""
        if self._closed:
            return
        self._closed = True
        with self._fake._lock:
            self._session.close()
        self._poke()
