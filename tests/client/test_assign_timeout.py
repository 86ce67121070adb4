"""How long ``assign`` waits for a server that has stopped answering (issue 8, "Faults").

Found by tests/stress/test_faults.py: the HTTP read of an assign was allowed
``max(client timeout, long-poll + 10 s)``, so with a 0.5 s client timeout a
single attempt (``timeout=-1``, answered at once by any server) hung for 9 s,
and ``assign(1)`` for 11 s. A client timeout shorter than the 10 s margin is
now the margin, and a single attempt gets the client timeout like any call.
"""

from __future__ import annotations

import socket
import time
from typing import Iterator

import pytest

from colonies_sync import ColoniesClient, ColoniesConnectionError, Crypto

# No fake is involved: the in-process run alone is enough.
pytestmark = pytest.mark.inprocess_only

CLIENT_TIMEOUT = 0.5


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose connections the kernel accepts and nobody ever answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as listener:
        yield listener.getsockname()[1]


@pytest.mark.parametrize("timeout, bound", [(-1, CLIENT_TIMEOUT), (1, 1 + CLIENT_TIMEOUT), (2, 2 + CLIENT_TIMEOUT)])
def test_assign_gives_up_on_a_silent_server_after_its_long_poll_plus_the_short_client_timeout(
    silent_port: int, timeout: float, bound: float
) -> None:
    with ColoniesClient("127.0.0.1", silent_port, prvkey=Crypto().generate_private_key(), timeout=CLIENT_TIMEOUT) as c:
        started = time.monotonic()
        with pytest.raises(ColoniesConnectionError, match=f"within {bound:g} s"):
            c.assign("dev", timeout)
        assert bound <= time.monotonic() - started < bound + 0.5


class _Recording:
    """A transport that records the read timeout of each call and answers nothing useful."""

    def __init__(self) -> None:
        self.timeouts: list[float] = []

    def call(self, envelope: bytes, *, timeout: float) -> object:
        self.timeouts.append(timeout)
        raise ColoniesConnectionError("not answering")

    def open_stream(self, *, timeout: float) -> object:
        raise ColoniesConnectionError("not answering")

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "client_timeout, assign_timeout, read_timeout",
    [
        (30.0, -1, 30.0),  # a single attempt: the client timeout, as before
        (30.0, 10, 30.0),  # the client timeout covers long-poll and margin, as before
        (30.0, 60, 70.0),  # a long-poll longer than the client timeout gets the 10 s margin, as before
        (0.5, -1, 0.5),  # was 9 s
        (0.5, 1, 1.5),  # was 11 s
        (5.0, 20, 25.0),  # was 30 s
    ],
)
def test_the_read_timeout_of_assign(client_timeout: float, assign_timeout: int, read_timeout: float) -> None:
    transport = _Recording()
    client = ColoniesClient(prvkey=Crypto().generate_private_key(), timeout=client_timeout, transport=transport)
    with pytest.raises(ColoniesConnectionError):
        client.assign("dev", assign_timeout)
    assert transport.timeouts == [read_timeout]
