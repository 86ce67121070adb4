"""Control-flow exceptions between the fake's handlers and its dispatcher."""

from __future__ import annotations

__all__ = ["EmptyReply", "Fail", "FakeClosed"]


class Fail(Exception):
    """Answer the request with an error envelope: ``status`` and the server's ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class EmptyReply(Exception):
    """Answer with an empty body, as the real server does in a few odd places (PROTOCOL.md 1.1)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"empty reply with HTTP {status}")
        self.status = status


class FakeClosed(Exception):
    """The fake was closed while a request was in it: the connection goes away."""
