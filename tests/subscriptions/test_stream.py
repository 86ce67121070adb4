"""``Channel.stream`` (an iterator over the history, then live entries) and ``Channel.request``.

Issue 5 and DESIGN.md: the stream ends after an entry of type ``"end"`` (which
it yields); an ``"error"`` entry raises ``StreamError`` carrying the entry (not
yielded); no end within the timeout raises ``WaitTimeout``; the process closing
without an end raises ``StreamError``; breaking out of the loop releases the
stream. ``request`` uses the stream and matches only entries after its own in
log order, written by the other side, whose ``inreplyto`` is its sequence.
"""

from __future__ import annotations

import threading
import time

import pytest

from colonies_sync import MsgEntry, StreamClosed, StreamError, WaitTimeout, _subscription
from tests.subscriptions.conftest import MakeWorld
from tests.subscriptions.helpers import (
    BUFFER_FULL,
    JOIN,
    Background,
    World,
    await_server_release,
    client_sockets,
    subscription_threads,
)


def consume(stream, into: list[MsgEntry]) -> None:
    for entry in stream:
        into.append(entry)


def test_stream_yields_history_then_live_and_stops_after_the_end_entry_which_it_yields(world: World) -> None:
    pid = world.run()
    writer = world.ex.channel(pid, "chat")
    writer.append("h1")
    writer.append("h2")
    got: list[MsgEntry] = []
    reader = Background(consume, world.sub.channel(pid, "chat").stream(timeout=10), got)
    reader.start()
    world.wait_subscribed(1, pid)
    writer.append("l1")
    writer.append("l2")
    writer.end("bye")
    reader.finish()
    writer.append("after the end")
    assert [(e.text, e.type, e.senderid) for e in got] == [
        ("h1", "data", world.ex_id),
        ("h2", "data", world.ex_id),
        ("l1", "data", world.ex_id),
        ("l2", "data", world.ex_id),
        ("bye", "end", world.ex_id),
    ]
    assert [e.sequence for e in got] == [e.sequence for e in world.fake.channel_log(pid, "chat")][:5]
    await_server_release(world, pid)


def test_stream_includes_both_sides_in_log_order(world: World) -> None:
    pid = world.run()
    mine = world.sub.channel(pid, "chat")
    theirs = world.ex.channel(pid, "chat")
    mine.append("q1")
    theirs.append("a1")
    mine.append("q2")
    theirs.end()
    got = list(mine.stream(timeout=10))
    assert [(e.senderid, e.text) for e in got] == [
        (world.sub_id, "q1"),
        (world.ex_id, "a1"),
        (world.sub_id, "q2"),
        (world.ex_id, ""),
    ]


def test_an_error_entry_raises_stream_error_carrying_it_and_is_not_yielded(world: World) -> None:
    pid = world.run()
    writer = world.ex.channel(pid, "chat")
    writer.append("a")
    got: list[MsgEntry] = []
    reader = Background(consume, world.sub.channel(pid, "chat").stream(timeout=10), got)
    reader.start()
    world.wait_subscribed(1, pid)
    sequence = writer.error("boom")
    writer.append("never seen")
    error = reader.failure()
    assert isinstance(error, StreamError)
    assert isinstance(error.entry, MsgEntry)
    assert (error.entry.type, error.entry.text, error.entry.senderid, error.entry.sequence) == (
        "error",
        "boom",
        world.ex_id,
        sequence,
    )
    assert "boom" in str(error)
    assert [e.text for e in got] == ["a"]


def test_no_end_within_the_timeout_raises_wait_timeout_after_yielding_what_came(world: World) -> None:
    pid = world.run()
    world.ex.channel(pid, "chat").append("only this")
    got: list[MsgEntry] = []
    started = time.monotonic()
    reader = Background(consume, world.sub.channel(pid, "chat").stream(timeout=0.3, quiet=0.1), got)
    reader.start()
    error = reader.failure()
    assert isinstance(error, WaitTimeout)
    assert isinstance(error, TimeoutError)
    assert time.monotonic() - started >= 0.3
    assert [e.text for e in got] == ["only this"]


@pytest.mark.parametrize("timeout", [60, 10.5])
def test_advancing_the_fake_s_clock_past_the_timeout_raises_wait_timeout_at_once(world: World, timeout: float) -> None:
    pid = world.run()
    got: list[MsgEntry] = []
    # A minute's quiet spell: only the fake's clock can end this stream within the test's patience.
    reader = Background(consume, world.sub.channel(pid, "chat").stream(timeout=timeout, quiet=60), got)
    reader.start()
    world.wait_subscribed(1, pid)
    world.fake.clock.advance(timeout)  # the client's own deadline passed (and the fake's, at a whole second)
    assert isinstance(reader.failure(), WaitTimeout)
    assert got == []


@pytest.mark.parametrize("ending", ["close", "fail", "cancel"])
def test_the_process_closing_without_an_end_raises_stream_error(world: World, ending: str) -> None:
    pid = world.run()
    writer = world.ex.channel(pid, "chat")
    writer.append("partial")
    got: list[MsgEntry] = []
    reader = Background(consume, world.sub.channel(pid, "chat").stream(timeout=30, quiet=0.1), got)
    reader.start()
    world.wait_subscribed(1, pid)
    if ending == "close":
        world.ex.close_process(pid, output=["done"])
    elif ending == "fail":
        world.ex.fail_process(pid, errors=["x"])
    else:
        world.sub.cancel_process(pid)
    error = reader.failure()
    assert type(error) is StreamError  # not a WaitTimeout: the client noticed the close
    assert error.entry is None
    assert [e.text for e in got] == ["partial"]


def test_the_servers_double_delivery_is_not_yielded_twice(world: World) -> None:
    pid = world.run()
    writer = world.ex.channel(pid, "chat")
    writer.append("a")
    writer.append("b")
    world.fake.faults.double_delivery()  # "b" comes again as a live frame after the replay
    got: list[MsgEntry] = []
    reader = Background(consume, world.sub.channel(pid, "chat").stream(timeout=10), got)
    reader.start()
    world.wait_subscribed(1, pid)
    writer.append("c")
    writer.end()
    reader.finish()
    assert world.fake.faults.take_double_delivery() is False  # the fault was used
    assert [(e.text, e.type) for e in got] == [("a", "data"), ("b", "data"), ("c", "data"), ("", "end")]


@pytest.mark.inprocess_only  # see test_subscribe_channel.py: over HTTP the socket buffers absorb the queue
def test_a_slow_reader_cut_off_by_the_server_raises_stream_error_carrying_the_synthetic_entry(
    make_world: MakeWorld,
) -> None:
    world = make_world(subscriber_buffer=3)
    pid = world.run()
    world.append(world.ex, pid, ["e1"])
    holding, release = threading.Event(), threading.Event()
    got: list[str] = []

    def read() -> None:
        for entry in world.sub.channel(pid, "chat").stream(timeout=30, quiet=0.2):
            got.append(entry.text)
            if len(got) == 1:  # the reader dawdles: nothing more is read meanwhile
                holding.set()
                assert release.wait(JOIN)

    reader = Background(read)
    reader.start()
    assert holding.wait(JOIN)
    world.append(world.ex, pid, ["e2", "e3", "e4", "e5", "e6"], start=2)  # the fourth overflows the buffer
    release.set()
    error = reader.failure()
    assert isinstance(error, StreamError)
    assert isinstance(error.entry, MsgEntry)
    assert (error.entry.error, error.entry.sequence, error.entry.senderid) == (BUFFER_FULL, 0, "")
    assert got == ["e1", "e3", "e4"]  # e5 overflowed: the oldest queued (e2) made room for the synthetic entry


def test_breaking_out_of_the_loop_releases_the_stream(world: World, transport: str) -> None:
    pid = world.run()
    world.append(world.ex, pid, ["one", "two", "three"])
    sockets = client_sockets(world.sub)
    threads = set(threading.enumerate())
    seen = []
    for entry in world.sub.channel(pid, "chat").stream(timeout=30):
        seen.append(entry.text)
        assert world.fake.subscriptions(pid) == 1
        assert client_sockets(world.sub) == sockets + (transport == "http")  # the stream's WebSocket
        break
    assert seen == ["one"]
    assert client_sockets(world.sub) == sockets  # the WebSocket is closed
    assert subscription_threads(threads) == []
    await_server_release(world, pid)
    world.fake.wait_until(lambda: set(threading.enumerate()) <= threads, JOIN)  # the server's side too


def test_closing_the_iterator_releases_the_stream(world: World) -> None:
    pid = world.run()
    world.append(world.ex, pid, ["one", "two"])
    sockets = client_sockets(world.sub)
    stream = world.sub.channel(pid, "chat").stream(timeout=30)
    assert next(stream).text == "one"
    world.wait_subscribed(1, pid)
    stream.close()
    assert client_sockets(world.sub) == sockets
    await_server_release(world, pid)
    with pytest.raises(StopIteration):
        next(stream)


# --- request / wait_reply ----------------------------------------------------------------


def test_request_finds_the_reply_on_the_stream_and_ignores_our_own_entries_and_other_replies(world: World) -> None:
    pid = world.run()
    asker = world.sub.channel(pid, "chat")
    same_key = world.client("submitter").channel(pid, "chat")  # another handle of the asker's key
    answerer = world.ex.channel(pid, "chat")

    def respond() -> MsgEntry:
        # Waiting for the asker's subscription proves that request() uses a stream.
        world.fake.wait_until(
            lambda: world.fake.subscriptions(pid) == 1 and len(world.fake.channel_log(pid, "chat")) == 1, JOIN
        )
        [question] = world.fake.channel_log(pid, "chat")
        same_key.append("our own echo", in_reply_to=question.sequence)
        answerer.append("a reply to another entry", in_reply_to=question.sequence + 1)
        answerer.append("4", in_reply_to=question.sequence)
        answerer.append("a second answer", in_reply_to=question.sequence)
        return question

    responder = Background(respond)
    responder.start()
    reply = asker.request("What is 2+2?", timeout=10)
    question = responder.finish()
    assert (question.text, question.senderid) == ("What is 2+2?", world.sub_id)
    assert (reply.text, reply.inreplyto, reply.senderid) == ("4", question.sequence, world.ex_id)
    await_server_release(world, pid)


def test_wait_reply_ignores_a_matching_entry_written_before_ours_in_log_order(world: World) -> None:
    pid = world.run()
    ours = 5_000
    world.ex.channel_append(pid, "chat", 1, ours, "too early")  # names our sequence before we wrote it
    world.sub.channel_append(pid, "chat", ours, 0, "question")
    world.ex.channel_append(pid, "chat", 2, ours, "the answer")
    reply = world.sub.channel(pid, "chat").wait_reply(ours, timeout=10)
    assert (reply.text, reply.sequence, reply.inreplyto) == ("the answer", 2, ours)


def test_request_without_a_reply_raises_wait_timeout(world: World) -> None:
    pid = world.run()
    started = time.monotonic()
    with pytest.raises(WaitTimeout):
        world.sub.channel(pid, "chat").request("anyone?", timeout=0.3, quiet=0.1)
    assert time.monotonic() - started >= 0.3


def test_request_raises_stream_error_when_the_process_closes_first(world: World) -> None:
    pid = world.run()
    asker = Background(world.sub.channel(pid, "chat").request, "anyone?", timeout=30, quiet=0.1)
    asker.start()
    world.wait_subscribed(1, pid)
    world.ex.close_process(pid)
    error = asker.failure()
    assert type(error) is StreamError


@pytest.mark.parametrize("how", ["stream", "request"])
def test_closing_the_client_ends_a_stream_in_its_reconnect_backoff_at_once(world: World, how: str, monkeypatch) -> None:
    """Streams refused and a minute's pause before the next attempt: close() ends the pause at once."""
    monkeypatch.setattr(_subscription.random, "uniform", lambda low, high: 60.0)
    pid = world.run()
    client, wrapper = world.wrapped("submitter")
    wrapper.refuse_streams = True
    channel = client.channel(pid, "chat")
    if how == "stream":
        reader = Background(consume, channel.stream(timeout=120), [])
    else:
        reader = Background(channel.request, "anyone?", timeout=120)
    reader.start()
    assert wrapper.refused.wait(JOIN)  # the first attempt was refused: the reader is in its pause now
    client.close()
    error = reader.failure(JOIN)
    assert isinstance(error, StreamClosed) and str(error) == "the client is closed"
    assert wrapper.refusals == 1
