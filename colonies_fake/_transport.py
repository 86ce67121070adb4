"""InProcessTransport: the client's transport seam, wired straight to a FakeColonies.

The client builds and signs the same envelope bytes it would send over HTTP;
this transport hands them to ``FakeColonies.handle_api`` and returns the status
and body the served fake would put on the wire. Nothing is skipped, so tests on
it exercise the client's whole code path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from colonies_fake._errors import FakeClosed
from colonies_sync._exceptions import ColoniesConnectionError
from colonies_sync._transport import RawReply

if TYPE_CHECKING:
    from colonies_fake._core import FakeColonies

__all__ = ["InProcessTransport"]


class InProcessTransport:
    """A ``Transport`` that calls a :class:`FakeColonies` directly (no sockets, no threads)."""

    def __init__(self, fake: FakeColonies) -> None:
        self.fake = fake
        self._closed = False

    def call(self, envelope: bytes, *, timeout: float) -> RawReply:
        """Hand the envelope to the fake; a closed fake or a timeout is a connection error."""
        if self._closed:
            raise ColoniesConnectionError("the transport is closed")
        try:
            reply = self.fake.handle_api(envelope, timeout=timeout)
        except FakeClosed as exc:
            raise ColoniesConnectionError("the fake server closed the connection") from exc
        except TimeoutError as exc:
            raise ColoniesConnectionError(f"no reply within {timeout:g} s") from exc
        return RawReply(reply.status, reply.body)

    def close(self) -> None:
        """Mark the transport closed (the fake itself keeps running)."""
        self._closed = True

    def __repr__(self) -> str:
        return f"InProcessTransport({self.fake!r})"
