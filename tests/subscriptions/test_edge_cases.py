"""Channel streams at their edges: renewal, resumption when the log is not where we counted, a process
that closes during a reconnect, entries that look alike, and a client closed under a live stream.

PROTOCOL.md 8.4-8.5 and 9.4; each test is a case that lost or repeated entries,
or ended a stream early, before the rule it checks was in place.
"""

from __future__ import annotations

import threading

import pytest

from colonies_sync import ColoniesClient, MsgEntry, StreamClosed, StreamError, WaitTimeout
from colonies_sync import _subscription
from colonies_sync._subscription import Backoff
from tests.subscriptions.helpers import JOIN, Background, Recorder, World, subscription_threads, triples


def consume(stream, into: list[MsgEntry]) -> None:
    for entry in stream:
        into.append(entry)


def test_a_stream_longer_than_one_server_subscription_is_renewed_not_ended(world: World) -> None:
    pid = world.run()
    client, wrapper = world.wrapped("submitter")
    got: list[MsgEntry] = []
    reader = Background(consume, client.channel(pid, "chat").stream(timeout=1000), got)
    reader.start()
    world.wait_subscribed(1, pid)
    world.append(world.ex, pid, ["before"])
    world.fake.clock.advance(_subscription._RENEW_SECONDS)  # the server ends the first step with []
    world.fake.wait_until(lambda: wrapper.opens == 2 and world.fake.subscriptions(pid) == 1, JOIN)  # renewed
    world.append(world.ex, pid, ["after"], start=2)
    world.ex.channel(pid, "chat").end()
    reader.finish()
    assert [e.text for e in got] == ["before", "after", ""]


def test_a_stream_that_asked_for_its_whole_time_ends_when_the_server_ends_it(world: World) -> None:
    pid = world.run()
    got: list[MsgEntry] = []
    reader = Background(consume, world.sub.channel(pid, "chat").stream(timeout=30), got)
    reader.start()
    world.wait_subscribed(1, pid)
    world.fake.clock.advance(30)  # [] at the server's timeout: the fake clock is the server's clock
    reader.join(JOIN)
    assert isinstance(reader.error, WaitTimeout)


def test_a_process_closed_while_the_stream_reconnects_ends_it_normally(world: World) -> None:
    pid = world.run()
    client, wrapper = world.wrapped("submitter")
    rec = Recorder()
    sub = client.subscribe_channel(pid, "chat", 0, 60, rec.on_item, **rec.callbacks())
    world.wait_subscribed(1, pid)
    world.append(world.ex, pid, ["last words"])
    rec.wait_entries(1)
    wrapper.refuse_streams = True
    assert world.fake.faults.drop_streams() == 1
    assert wrapper.refused.wait(JOIN)
    world.ex.close_process(pid)  # the channel is deleted while the client is away
    wrapper.refuse_streams = False
    rec.wait_ended()
    sub.join(JOIN)
    assert (rec.errors, rec.closes) == ([], 1)
    assert [e.text for e in rec.entries] == ["last words"]


def test_channel_stream_reports_a_close_during_a_reconnect_as_a_stream_error(world: World) -> None:
    pid = world.run()
    client, wrapper = world.wrapped("submitter")
    got: list[MsgEntry] = []
    reader = Background(consume, client.channel(pid, "chat").stream(timeout=60), got)
    reader.start()
    world.wait_subscribed(1, pid)
    wrapper.refuse_streams = True
    world.fake.faults.drop_streams()
    assert wrapper.refused.wait(JOIN)
    world.ex.close_process(pid)
    wrapper.refuse_streams = False
    reader.join(JOIN)
    assert isinstance(reader.error, StreamError)
    assert "ended (or is gone) before an end entry" in str(reader.error)


def test_entries_alike_in_sender_sequence_and_time_are_all_delivered(world: World) -> None:
    pid = world.run()
    rec = Recorder()
    with world.sub.subscribe_channel(pid, "chat", 0, 60, rec.on_item, **rec.callbacks()):
        world.wait_subscribed(1, pid)
        for text in ["a", "b", "c"]:  # one fake-clock tick, one sender, one sequence
            world.ex.channel_append(pid, "chat", 7, 0, text)
        got = rec.wait_entries(3)
    assert [(e.sequence, e.text) for e in got] == [(7, "a"), (7, "b"), (7, "c")]
    assert len({e.timestamp for e in got}) == 1


def test_a_start_past_the_end_of_the_log_resumes_at_the_real_end(world: World) -> None:
    pid = world.run()
    world.append(world.ex, pid, ["h1", "h2"])
    client, wrapper = world.wrapped("submitter")
    rec = Recorder()
    # 100 is past the end (a sequence number passed as a position): live entries still come.
    with client.subscribe_channel(pid, "chat", 100, 60, rec.on_item, **rec.callbacks()):
        world.wait_subscribed(1, pid)
        world.append(world.ex, pid, ["l1"], start=3)
        rec.wait_entries(1)
        wrapper.refuse_streams = True
        world.fake.faults.drop_streams()
        assert wrapper.refused.wait(JOIN)
        world.append(world.ex, pid, ["during the outage"], start=4)
        wrapper.refuse_streams = False
        world.wait_subscribed(1, pid)
        world.append(world.ex, pid, ["after"], start=5)
        got = rec.wait_entries(3)
    assert [e.text for e in got] == ["l1", "during the outage", "after"]


def test_a_resume_finds_its_place_after_an_out_of_order_append_moved_entries(world: World) -> None:
    pid = world.run()
    client, wrapper = world.wrapped("submitter")
    rec = Recorder()
    with client.subscribe_channel(pid, "chat", 0, 60, rec.on_item, **rec.callbacks()):
        world.wait_subscribed(1, pid)
        world.append(world.ex, pid, ["s10"], start=10)
        rec.wait_entries(1)
        wrapper.refuse_streams = True
        world.fake.faults.drop_streams()
        assert wrapper.refused.wait(JOIN)
        # A smaller sequence from the same sender goes in front of s10 (PROTOCOL.md 8.4), so
        # position 1 now holds s10 again: resuming by count alone would deliver it twice.
        world.append(world.ex, pid, ["s5"], start=5)
        wrapper.refuse_streams = False
        world.wait_subscribed(1, pid)
        world.append(world.ex, pid, ["s11"], start=11)
        got = rec.wait_entries(2)
    # s5 went in front of what was delivered, where a resume from a position cannot see it
    # (the Channel handle never appends a smaller sequence, so its streams never meet this).
    assert [e.text for e in got] == ["s10", "s11"]
    assert [e.text for e in world.fake.channel_log(pid, "chat")] == ["s5", "s10", "s11"]


def test_idle_drops_of_healthy_connections_do_not_exhaust_the_backoff(world: World, monkeypatch) -> None:
    monkeypatch.setattr(_subscription, "_HEALTHY_SECONDS", 0.0)  # every connection counts as having lived
    monkeypatch.setattr(_subscription.random, "uniform", lambda low, high: 0.0)
    pid = world.run()
    rec = Recorder()
    with world.sub.subscribe_channel(pid, "chat", 0, 60, rec.on_item, **rec.callbacks()):
        for _ in range(Backoff().attempts + 5):
            world.wait_subscribed(1, pid)
            assert world.fake.faults.drop_streams() == 1
        world.wait_subscribed(1, pid)
        world.append(world.ex, pid, ["still here"])
        assert [e.text for e in rec.wait_entries(1)] == ["still here"]
    assert (rec.errors, rec.closes) == ([], 1)


def test_connections_that_drop_at_once_count_as_failures(world: World, monkeypatch) -> None:
    monkeypatch.setattr(_subscription, "_HEALTHY_SECONDS", 3600.0)  # none lives long enough
    monkeypatch.setattr(_subscription.random, "uniform", lambda low, high: 0.0)
    pid = world.run()
    rec = Recorder()
    sub = world.sub.subscribe_channel(pid, "chat", 0, 60, rec.on_item, **rec.callbacks())
    for _ in range(Backoff().attempts + 1):
        world.wait_subscribed(1, pid)
        world.fake.faults.drop_streams()
    rec.wait_ended()
    with pytest.raises(StreamClosed):
        sub.join(JOIN)


def test_closing_the_client_ends_a_stream_being_iterated_with_stream_closed(world: World) -> None:
    pid = world.run()
    client = world.client("submitter")
    stream = client.channel(pid, "chat").stream(timeout=60)
    world.append(world.ex, pid, ["one"])
    assert next(stream).text == "one"  # suspended with its WebSocket open
    assert world.fake.subscriptions(pid) == 1
    client.close()
    world.fake.wait_until(lambda: world.fake.subscriptions(pid) == 0, JOIN)
    with pytest.raises(StreamClosed):
        next(stream)


def test_close_while_subscriptions_are_being_started_leaves_none_running(world: World) -> None:
    pid = world.run()
    before = set(threading.enumerate())
    for _ in range(20):
        client = world.client("submitter")
        started = threading.Event()

        def start_many(client: ColoniesClient = client, started: threading.Event = started) -> None:
            started.set()
            for _ in range(20):
                try:
                    client.subscribe_channel(pid, "chat", 0, 60, lambda batch: None)
                except ValueError:  # the client is closed
                    return

        starter = threading.Thread(target=start_many)
        starter.start()
        assert started.wait(JOIN)
        client.close()
        starter.join(JOIN)
        assert not starter.is_alive()
    world.fake.wait_until(lambda: not subscription_threads(before), JOIN)
    world.fake.wait_until(lambda: world.fake.subscriptions(pid) == 0, JOIN)


def test_appends_to_other_channels_of_the_same_sender_are_not_held_up(world: World) -> None:
    pid = world.run(channels=["slow", "fast"])
    client, wrapper = world.wrapped("executor")
    holding, release = threading.Event(), threading.Event()

    def hold_slow(message, reply) -> None:
        if message["msgtype"] == "channelappendmsg" and message["name"] == "slow":
            holding.set()
            assert release.wait(JOIN)

    wrapper.after_call = hold_slow
    slow = Background(client.channel(pid, "slow").append, "waits")
    slow.start()
    assert holding.wait(JOIN)
    try:
        client.channel(pid, "fast").append("goes ahead")  # would block behind "slow" with one lock per sender
    finally:
        release.set()
    slow.join(JOIN)
    assert slow.error is None
    assert [e.text for e in world.fake.channel_log(pid, "fast")] == ["goes ahead"]
    assert triples(world.fake.channel_log(pid, "slow"))[0][2] == "waits"


def test_a_server_error_while_a_quiet_stream_checks_its_process_does_not_end_it(world: World) -> None:
    pid = world.run()
    got: list[MsgEntry] = []
    reader = Background(consume, world.sub.channel(pid, "chat").stream(timeout=30, quiet=0.1), got)
    reader.start()
    world.wait_subscribed(1, pid)
    world.fake.faults.fail_next(1, 500, "database unavailable")  # only the stream's checks make requests now
    world.fake.wait_until(lambda: world.fake.faults.pending_failures == 0, JOIN)
    world.append(world.ex, pid, ["still streaming"])
    world.ex.channel(pid, "chat").end()
    reader.join(JOIN)
    assert reader.error is None
    assert [e.text for e in got] == ["still streaming", ""]


@pytest.mark.inprocess_only
def test_a_subscription_that_meets_its_closed_client_ends_normally() -> None:
    """close() sets the client's flag before it stops each subscription: one that meets the flag in
    between (in a reconnect, an RPC) ends as closed, with on_close, not with an error."""
    from colonies_sync._subscription import Subscription
    from colonies_sync._transport import ClientClosed

    def body(control: object) -> None:
        raise ClientClosed("the client is closed")

    closed, errors = threading.Event(), []
    sub = Subscription("test", body, on_error=errors.append, on_close=closed.set)
    assert closed.wait(JOIN)
    sub.join(JOIN)
    assert (errors, sub.error) == ([], None)
