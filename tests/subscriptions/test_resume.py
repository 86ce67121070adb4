"""Channel streams that survive disconnects (issue 5, "Resume"; PROTOCOL.md 9.4).

When the WebSocket drops in the middle of a channel stream the client
reconnects with a bounded, jittered exponential backoff that ``close()``
interrupts, and resumes from the log position it already delivered: nothing is
lost and nothing is delivered twice, including the server's replay/live
double delivery.
"""

from __future__ import annotations

import threading
import time

import pytest

from colonies_sync import ColoniesConnectionError
from colonies_sync import _subscription
from colonies_sync._subscription import Backoff
from tests.subscriptions.conftest import MakeWorld
from tests.subscriptions.helpers import JOIN, Recorder, World, subscription_threads, triples

CHAT_ENTRIES = 1000
DROPS = 20


def test_streamed_chat_1000_entries_with_20_dropped_streams_arrive_exactly_once_in_log_order(
    make_world: MakeWorld,
) -> None:
    world = make_world(rate_limit=False)
    pid = world.run()
    client, wrapper = world.wrapped("submitter")
    rec = Recorder()
    sub = client.subscribe_channel(pid, "chat", 0, 60, rec.on_item, **rec.callbacks())
    world.wait_subscribed(1, pid)
    # Every resubscription repeats its last replayed entry as a live one, as the real race can.
    world.fake.faults.double_delivery(DROPS)
    every = CHAT_ENTRIES // DROPS
    cut: list[int] = []
    for i in range(CHAT_ENTRIES):
        world.ex.channel_append(pid, "chat", i + 1, 0, f"entry {i + 1}")
        if i % every == every // 2:  # mid-stream: entries before and after each drop
            # The stream that was cut last time has been re-opened and is subscribed again.
            opened = len(cut) + 1
            world.fake.wait_until(
                lambda: wrapper.opens == opened and world.fake.subscriptions(pid) == 1,  # noqa: B023
                JOIN,
            )
            cut.append(world.fake.faults.drop_streams())
    got = rec.wait_entries(CHAT_ENTRIES, timeout=20)
    # It comes back after the last drop too (one reconnect per drop), then is closed.
    world.fake.wait_until(lambda: wrapper.opens == DROPS + 1 and world.fake.subscriptions(pid) == 1, JOIN)
    sub.close()
    expected = [(world.ex_id, i + 1, f"entry {i + 1}") for i in range(CHAT_ENTRIES)]
    assert triples(got) == expected  # every entry once, in log order
    assert triples(world.fake.channel_log(pid, "chat")) == expected
    unused = 0
    while world.fake.faults.take_double_delivery():
        unused += 1
    assert unused < DROPS  # resubscriptions did repeat an entry, and it was dropped
    assert cut == [1] * DROPS  # each drop cut the live subscription
    assert wrapper.opens == DROPS + 1  # no more than one reconnect per drop
    assert (rec.errors, rec.closes) == ([], 1)


def test_entries_appended_while_reconnecting_fails_arrive_once_when_it_succeeds(world: World) -> None:
    pid = world.run()
    client, wrapper = world.wrapped("submitter")
    rec = Recorder()
    with client.subscribe_channel(pid, "chat", 0, 60, rec.on_item, **rec.callbacks()):
        world.wait_subscribed(1, pid)
        world.append(world.ex, pid, ["a", "b"])
        rec.wait_entries(2)
        wrapper.refuse_streams = True
        assert world.fake.faults.drop_streams() == 1
        world.fake.wait_until(lambda: wrapper.refusals >= 2, JOIN)  # two reconnects failed
        world.append(world.ex, pid, ["c", "d", "e"], start=3)  # written during the outage
        wrapper.refuse_streams = False
        got = rec.wait_entries(5)
        world.append(world.ex, pid, ["f"], start=6)
        got = rec.wait_entries(6)
    assert triples(got) == [(world.ex_id, i + 1, t) for i, t in enumerate("abcdef")]
    assert wrapper.opens == 2
    assert rec.errors == []


def test_close_during_a_reconnect_backoff_returns_within_one_second(world: World, monkeypatch) -> None:
    in_backoff = threading.Event()
    delays = iter([0.0])  # the first pause is short, the one after the failed reconnect is 30 s

    def next_delay(self: Backoff) -> float:
        delay = next(delays, 30.0)
        if delay:
            in_backoff.set()
        return delay

    monkeypatch.setattr(Backoff, "next_delay", next_delay)
    pid = world.run()
    client, wrapper = world.wrapped("submitter")
    rec = Recorder()
    before = set(threading.enumerate())
    sub = client.subscribe_channel(pid, "chat", 0, 60, rec.on_item, **rec.callbacks())
    world.wait_subscribed(1, pid)
    wrapper.refuse_streams = True
    assert world.fake.faults.drop_streams() == 1
    assert in_backoff.wait(JOIN)
    assert wrapper.refusals == 1
    started = time.monotonic()
    sub.close()
    assert time.monotonic() - started < 1.0
    assert sub.closed
    assert subscription_threads(before) == []
    assert (rec.closes, rec.errors) == (1, [])


def test_when_every_reconnect_fails_it_gives_up_with_on_error_after_bounded_attempts(world: World, monkeypatch) -> None:
    monkeypatch.setattr(_subscription.random, "uniform", lambda low, high: 0.0)  # no pauses
    pid = world.run()
    client, wrapper = world.wrapped("submitter")
    rec = Recorder()
    sub = client.subscribe_channel(pid, "chat", 0, 60, rec.on_item, **rec.callbacks())
    world.wait_subscribed(1, pid)
    wrapper.refuse_streams = True
    world.fake.faults.drop_streams()
    rec.wait_ended()
    [error] = rec.errors
    assert isinstance(error, ColoniesConnectionError)
    with pytest.raises(ColoniesConnectionError):
        sub.join(JOIN)
    assert 1 <= wrapper.refusals <= Backoff().attempts


def test_backoff_is_exponential_with_full_jitter_bounded_in_delay_and_attempts(monkeypatch) -> None:
    monkeypatch.setattr(_subscription.random, "uniform", lambda low, high: high)  # the largest jitter
    backoff = Backoff(first=0.1, cap=2.0, attempts=6)
    assert [backoff.next_delay() for _ in range(7)] == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, None]
    backoff.reset()
    assert backoff.next_delay() == 0.1
    monkeypatch.setattr(_subscription.random, "uniform", lambda low, high: low)
    assert Backoff().next_delay() == 0
