"""A closed client raises one error wherever it is used: ``StreamClosed`` ("the client is closed").

It is a ``ColoniesError`` (a ``ColoniesConnectionError``), and also a
``ValueError``, which ``rpc()`` and ``subscribe_*()`` raised for a closed
client before. The waits woken by ``close()`` are in tests/subscriptions/test_wait.py.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Optional

import pytest

from colonies_sync import ColoniesClient, ColoniesConnectionError, ColoniesError, FunctionSpec, RawReply, StreamClosed

from .conftest import World

JOIN = 5.0


def _assert_client_closed(error: BaseException) -> None:
    assert isinstance(error, StreamClosed), repr(error)
    assert isinstance(error, ColoniesError) and isinstance(error, ValueError)
    assert str(error) == "the client is closed"


def _process(world: World) -> str:
    spec = FunctionSpec.create("echo", "dev", "cli", channels=["chat"])
    pid = world.submitter.submit_function_spec(spec).processid
    assert world.executor.assign("dev", -1).processid == pid
    return pid


CALLS: dict[str, Callable[[ColoniesClient, str], Any]] = {
    "rpc": lambda client, pid: client.rpc("getprocessmsg", {"processid": pid}),
    "get_process": lambda client, pid: client.get_process(pid),
    "channel_read": lambda client, pid: client.channel_read(pid, "chat"),
    "subscribe_process": lambda client, pid: client.subscribe_process("dev", pid, 1, 10, lambda p: None),
    "subscribe_channel": lambda client, pid: client.subscribe_channel(pid, "chat", 0, 10, lambda b: None),
    "channel.stream": lambda client, pid: next(iter(client.channel(pid, "chat").stream(timeout=10))),
    "channel.append": lambda client, pid: client.channel(pid, "chat").append("hi"),
}


@pytest.mark.parametrize("call", list(CALLS))
def test_every_call_on_a_closed_client_raises_stream_closed(world: World, call: str) -> None:
    pid = _process(world)
    client = world.fake.client(world.user.prvkey)
    client.close()
    with pytest.raises(StreamClosed) as info:
        CALLS[call](client, pid)
    _assert_client_closed(info.value)
    assert world.fake.subscriptions(pid) == 0


class _Holding:
    """Passes calls through, holding the first one until released, after the client was closed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.entered = threading.Event()
        self.release = threading.Event()

    def call(self, envelope: bytes, *, timeout: float) -> RawReply:
        self.entered.set()
        assert self.release.wait(JOIN), "the test never released the call"
        return self.inner.call(envelope, timeout=timeout)  # refused now: the transport is closed

    def open_stream(self, *, timeout: float) -> Any:
        return self.inner.open_stream(timeout=timeout)

    def close(self) -> None:
        self.inner.close()


def test_a_call_the_transport_refuses_because_close_closed_it_raises_stream_closed(world: World) -> None:
    """The transport's own "closed" connection error is reported as the client's closed error, chained."""
    base = world.fake.client(world.user.prvkey)
    holding = _Holding(base.transport)
    client = ColoniesClient(prvkey=world.user.prvkey, transport=holding)
    errors: list[Optional[BaseException]] = []

    def call() -> None:
        try:
            client.get_colony("dev")
            errors.append(None)
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    assert holding.entered.wait(JOIN)
    client.close()
    holding.release.set()
    caller.join(JOIN)
    assert not caller.is_alive()
    [error] = errors
    assert error is not None
    _assert_client_closed(error)
    assert isinstance(error.__cause__, ColoniesConnectionError)
    base.close()
