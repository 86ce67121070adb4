"""What the fake answers a request with: an HTTP status and the envelope bytes the real server writes."""

from __future__ import annotations

from typing import Any, NamedTuple

from colonies_fake._gojson import dumps
from colonies_fake._pubsub import error_frame, reply_frame

__all__ = ["Reply", "envelope", "error_envelope"]


class Reply(NamedTuple):
    """An answer to one request: HTTP status and body bytes."""

    status: int
    body: bytes


def envelope(payloadtype: str, payload: Any) -> bytes:
    """A reply envelope as the real server writes it."""
    return reply_frame(payloadtype, dumps(payload)).encode("utf-8")


def error_envelope(status: int, message: str) -> Reply:
    """An error reply: the same status in the HTTP line and in the payload."""
    return Reply(status, error_frame(status, message).encode("utf-8"))
