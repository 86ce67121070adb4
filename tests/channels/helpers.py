"""Helpers for the channel tests (PROTOCOL.md 5.8, 6.11, 8 and checklist items 33-40).

Nothing here sleeps: background work runs on threads that are joined with a
bounded ``join`` and an assertion, and fake time moves only through
``FakeClock.advance``.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
from typing import Any, Iterator, Optional

import attrs
import pytest

from colonies_fake import FakeColonies
from colonies_sync import ColoniesClient, FunctionSpec, Process, ServerError
from tests.subscriptions.helpers import Background  # noqa: F401  (one helper for both folders)

JOIN_TIMEOUT = 5.0
#: Fixed start of every fake clock here: 2023-11-14T22:13:20Z, a whole second.
START = 1_700_000_000

# The server's texts, word for word (PROTOCOL.md 4, 5.8, 8.6).
PROCESS_NOT_FOUND = "Process not found"
CHANNEL_NOT_FOUND = "Channel not found"
TOO_MANY_CHANNELS = "process has too many channels"
PAYLOAD_TOO_LARGE = "message payload exceeds maximum size"
NOT_AUTHORIZED_WRITE = "Not authorized to write to channel"
NOT_AUTHORIZED_READ = "Not authorized to read from channel"
RATE_LIMITED = "rate limit exceeded"
CHANNEL_FULL = "channel log is full"
APPEND_INVALID_JSON = "Failed to append to channel, invalid JSON"
READ_INVALID_JSON = "Failed to read from channel, invalid JSON"
NOT_MEMBER_DEV = "Access denied, not a member of Colony with name <dev>"
EXEC_EXCEEDED = ["Maximum execution time limit exceeded"]
WAIT_EXCEEDED = ["Maximum waiting time limit exceeded"]


@contextlib.contextmanager
def server_error(cls: type[ServerError], status: int, message: str) -> Iterator[Any]:
    """Expect ``cls`` carrying exactly this status and server text."""
    with pytest.raises(cls) as info:
        yield info
    assert (info.value.status, info.value.message) == (status, message)


def at(fake: FakeColonies, offset: float = 0.0) -> dt.datetime:
    """The fake clock's time (plus ``offset`` seconds) as an aware UTC datetime."""
    return dt.datetime.fromtimestamp(fake.clock.time() + offset, tz=dt.timezone.utc)


def raw_append(client: ColoniesClient, pid: str, name: str, **fields: Any) -> Any:
    """``channelappendmsg`` with exactly ``fields`` besides processid and name (any wire form)."""
    return client.rpc("channelappendmsg", {"processid": pid, "name": name, **fields})


def raw_read(client: ColoniesClient, pid: str, name: str, afterseq: Any = 0, limit: Any = 0) -> Any:
    """``channelreadmsg`` returning the decoded reply as the server sent it (list of dicts)."""
    return client.rpc("channelreadmsg", {"processid": pid, "name": name, "afterseq": afterseq, "limit": limit})


@attrs.define
class World:
    """A colony ``dev`` with: the submitter (user ``alice``), the executor ``worker-1`` that is
    assigned, a second approved executor ``worker-2``, and clients for every other role."""

    fake: FakeColonies
    sub: ColoniesClient
    ex: ColoniesClient
    ex2: ColoniesClient
    roles: dict[str, ColoniesClient]
    keys: dict[str, str]

    @property
    def sub_id(self) -> str:
        assert self.sub.id is not None
        return self.sub.id

    @property
    def ex_id(self) -> str:
        assert self.ex.id is not None
        return self.ex.id

    @property
    def ex2_id(self) -> str:
        assert self.ex2.id is not None
        return self.ex2.id

    def submit(self, channels: Optional[list[str]] = None, **kwargs: Any) -> str:
        """Submit (as ``alice``) a process with ``channels`` (default ``["chat"]``); its id."""
        spec = FunctionSpec.create("chat", "dev", "test", channels=["chat"] if channels is None else channels, **kwargs)
        return self.sub.submit_function_spec(spec).processid

    def assign(self, client: Optional[ColoniesClient] = None) -> Process:
        """``worker-1`` (or ``client``) takes the next process, without waiting."""
        return (client or self.ex).assign("dev", -1)

    def run(self, channels: Optional[list[str]] = None, **kwargs: Any) -> str:
        """Submit and assign to ``worker-1``; the process id."""
        pid = self.submit(channels, **kwargs)
        assert self.assign().processid == pid
        return pid


def build_world(fake: FakeColonies) -> World:
    dev = fake.add_colony("dev")
    fake.add_colony("prod")
    keys = {
        "submitter": fake.add_user("dev", "alice").prvkey,
        "executor": fake.add_executor("dev", "worker-1", "test").prvkey,
        "other-executor": fake.add_executor("dev", "worker-2", "test").prvkey,
        "other-user": fake.add_user("dev", "bob").prvkey,
        "pending-executor": fake.add_executor("dev", "pending-1", "test", approved=False).prvkey,
        "colony-owner": dev.prvkey,
        "server-owner": fake.server_prvkey,
        "other-colony-executor": fake.add_executor("prod", "prod-worker", "test").prvkey,
        "stranger": fake.crypto.generate_private_key(),
    }
    roles = {name: fake.client(key) for name, key in keys.items()}
    return World(fake, roles["submitter"], roles["executor"], roles["other-executor"], roles, keys)


class RecordingTransport:
    """Wraps a transport and keeps every request message (the decoded payload of each envelope)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.sent: list[dict[str, Any]] = []

    def call(self, envelope: bytes, *, timeout: float) -> Any:
        self.sent.append(json.loads(base64.b64decode(json.loads(envelope)["payload"])))
        return self.inner.call(envelope, timeout=timeout)

    def close(self) -> None:
        self.inner.close()
