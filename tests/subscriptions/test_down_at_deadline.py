"""A stream still down when its time is up ends with the connection error, and on time (issue 8, "Faults").

Found by tests/stress/test_faults.py: the reconnect backoff paused past the
deadline (a subscription of 2 s against a silent server ended after 3 s), and
a subscription that could not reconnect before its deadline ended with
``on_close``, as if nothing had happened, though entries or events written
while it was down were never delivered.
"""

from __future__ import annotations

import time

import pytest

from colonies_sync import ColoniesConnectionError, MsgEntry, ProcessState
from colonies_sync._subscription import Backoff
from tests.subscriptions.helpers import JOIN, Background, Recorder, World

TIMEOUT = 1.5
#: What the end may lag behind the deadline: an attempt in flight on the in-process transport, and scheduling.
LAG = 0.5


@pytest.fixture
def long_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every reconnect pause is 30 s: only the deadline can end one on time."""
    monkeypatch.setattr(Backoff, "next_delay", lambda self: 30.0)


def refuse_and_drop(world: World, wrapper, pid: str) -> float:
    world.wait_subscribed(1, pid)
    wrapper.refuse_streams = True
    assert world.fake.faults.drop_streams() == 1
    return time.monotonic()


def test_subscribe_channel_down_at_its_deadline_ends_then_with_the_connection_error(
    world: World, long_pauses: None
) -> None:
    pid = world.run()
    client, wrapper = world.wrapped("submitter")
    rec = Recorder()
    started = time.monotonic()
    sub = client.subscribe_channel(pid, "chat", 0, TIMEOUT, rec.on_item, **rec.callbacks())
    refuse_and_drop(world, wrapper, pid)
    # Once the dropped connection is gone from the fake, nothing more can reach the client on it.
    world.fake.wait_until(lambda: not world.fake.pubsub.sessions, JOIN)
    world.append(world.ex, pid, ["missed"])  # so this is never delivered
    rec.wait_ended(JOIN)
    assert time.monotonic() - started <= TIMEOUT + LAG
    [error] = rec.errors
    assert isinstance(error, ColoniesConnectionError)
    assert rec.closes == 0 and rec.entries == []
    with pytest.raises(ColoniesConnectionError):
        sub.join(JOIN)


def test_subscribe_process_down_at_its_deadline_ends_then_with_the_connection_error(
    world: World, long_pauses: None
) -> None:
    pid = world.run()
    client, wrapper = world.wrapped("submitter")
    rec = Recorder()
    started = time.monotonic()
    sub = client.subscribe_process("dev", pid, ProcessState.SUCCESS, TIMEOUT, rec.on_item, **rec.callbacks())
    refuse_and_drop(world, wrapper, pid)
    rec.wait_ended(JOIN)
    assert time.monotonic() - started <= TIMEOUT + LAG
    [error] = rec.errors
    assert isinstance(error, ColoniesConnectionError)
    with pytest.raises(ColoniesConnectionError):
        sub.join(JOIN)


def test_channel_stream_down_at_its_deadline_raises_the_connection_error_not_wait_timeout(
    world: World, long_pauses: None
) -> None:
    pid = world.run()
    client, wrapper = world.wrapped("submitter")
    got: list[MsgEntry] = []
    started = time.monotonic()
    reader = Background(lambda: got.extend(client.channel(pid, "chat").stream(timeout=TIMEOUT)))
    reader.start()
    refuse_and_drop(world, wrapper, pid)
    error = reader.failure(JOIN)
    assert time.monotonic() - started <= TIMEOUT + LAG
    assert isinstance(error, ColoniesConnectionError), repr(error)


def test_wait_with_streams_down_still_polls_to_its_own_timeout(world: World, long_pauses: None) -> None:
    """``wait`` polls while its stream is down, so a stream error at the deadline is its WaitTimeout."""
    pid = world.run()
    client, wrapper = world.wrapped("submitter")
    wrapper.refuse_streams = True
    started = time.monotonic()
    reader = Background(client.wait, pid, TIMEOUT, poll_interval=0.2)
    reader.start()
    error = reader.failure(JOIN)
    assert time.monotonic() - started <= TIMEOUT + LAG
    assert type(error).__name__ == "WaitTimeout", repr(error)
