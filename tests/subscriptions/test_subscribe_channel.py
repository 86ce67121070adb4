"""``ColoniesClient.subscribe_channel``: the history from a log position, then live entries, on a thread.

PROTOCOL.md 9.4 and 8.5; DESIGN.md "Decisions on the details": the client
tracks the log index it delivered and drops the server's double delivery; when
the stream goes quiet it checks the process and ends with ``on_close`` once it
is closed (the real server ends the subscription without a frame then). ``[]``
at the server's timeout (fake time) also ends it with ``on_close``. Error
frames end it with ``on_error``, and ``join()`` re-raises.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import pytest

from colonies_sync import ChannelNotFound, Forbidden, MsgEntry, ProcessNotFound, ServerError, StreamError
from tests.subscriptions.conftest import MakeWorld
from tests.subscriptions.helpers import (
    BUFFER_FULL,
    CHANNEL_NOT_FOUND,
    JOIN,
    NOT_AUTHORIZED_SUBSCRIBE,
    NOT_MEMBER_DEV,
    PROCESS_NOT_FOUND,
    Recorder,
    World,
    WrappingTransport,
    assert_server_error,
    subscription_threads,
    triples,
    unknown_id,
)


def subscribe(world: World, pid: str, rec: Recorder, after: int = 0, timeout=100, client=None, name="chat", **kw):
    client = client or world.sub
    return client.subscribe_channel(pid, name, after, timeout, rec.on_item, **rec.callbacks(**kw))


def test_replay_then_live_entries_arrive_in_log_order_replay_as_one_batch(world: World) -> None:
    pid = world.run()
    world.append(world.ex, pid, ["h1", "h2", "h3"])
    rec = Recorder()
    with subscribe(world, pid, rec):
        [replay] = rec.wait_items(1)
        assert triples(replay) == [(world.ex_id, 1, "h1"), (world.ex_id, 2, "h2"), (world.ex_id, 3, "h3")]
        world.append(world.ex, pid, ["l1"], start=4)
        world.append(world.sub, pid, ["s1"], start=1)
        world.append(world.ex, pid, ["l2"], start=5)
        got = rec.wait_entries(6)
        assert [len(batch) for batch in rec.items] == [3, 1, 1, 1]
    assert all(isinstance(e, MsgEntry) for e in got)
    assert triples(got) == triples(world.fake.channel_log(pid, "chat"))
    assert triples(got)[3:] == [(world.ex_id, 4, "l1"), (world.sub_id, 1, "s1"), (world.ex_id, 5, "l2")]
    assert [e.type for e in got] == ["data"] * 6
    assert all(name.startswith("colonies-subscription") for name in rec.threads), rec.threads
    assert (rec.errors, rec.closes) == ([], 1)


def test_the_server_timeout_frame_ends_it_with_on_close(world: World) -> None:
    pid = world.run()
    rec = Recorder()
    sub = subscribe(world, pid, rec, timeout=30)
    world.wait_subscribed(1, pid)
    world.fake.clock.advance(29)  # one second short: still live
    world.append(world.ex, pid, ["still here"])
    assert triples(rec.wait_entries(1)) == [(world.ex_id, 1, "still here")]
    world.fake.clock.advance(1)  # the server sends [] and ends the subscription
    rec.wait_ended()
    sub.join(JOIN)
    assert (rec.closes, rec.errors, sub.error, sub.closed) == (1, [], None, True)
    assert len(rec.items) == 1  # no empty batch is handed to on_entries


@pytest.mark.parametrize("ending", ["close", "fail", "cancel"])
def test_the_silent_end_when_the_process_closes_ends_it_with_on_close(world: World, ending: str) -> None:
    pid = world.run()
    rec = Recorder()
    sub = subscribe(world, pid, rec, quiet=0.2)
    world.wait_subscribed(1, pid)
    world.append(world.ex, pid, ["last words"])
    assert triples(rec.wait_entries(1)) == [(world.ex_id, 1, "last words")]
    if ending == "close":
        world.ex.close_process(pid, output=["done"])
    elif ending == "fail":
        world.ex.fail_process(pid, errors=["broken"])
    else:
        world.sub.cancel_process(pid)
    rec.wait_ended()  # no frame comes: the client notices through its quiet check
    sub.join(JOIN)
    assert (rec.closes, rec.errors, sub.error) == (1, [], None)
    assert len(rec.entries) == 1


@pytest.mark.parametrize(
    "case, cls, status, message",
    [
        ("unknown process", ProcessNotFound, 404, PROCESS_NOT_FOUND),
        ("unknown channel", ChannelNotFound, 404, CHANNEL_NOT_FOUND),
        ("member who is not a party", Forbidden, 403, NOT_AUTHORIZED_SUBSCRIBE),
        ("not a member", Forbidden, 403, NOT_MEMBER_DEV),
    ],
)
def test_error_frames_end_it_with_on_error_and_join_re_raises(
    world: World, case: str, cls: type[ServerError], status: int, message: str
) -> None:
    pid = world.run()
    world.append(world.ex, pid, ["secret"])
    client, target, name = world.sub, pid, "chat"
    if case == "unknown process":
        target = unknown_id()
    elif case == "unknown channel":
        name = "nope"
    elif case == "member who is not a party":
        client = world.ex2
    else:
        client = world.client("other-colony-executor")
    rec = Recorder()
    sub = subscribe(world, target, rec, client=client, name=name)
    rec.wait_ended()
    [error] = rec.errors
    assert_server_error(error, cls, status, message)
    with pytest.raises(cls) as info:
        sub.join(JOIN)
    assert info.value is error
    assert (sub.error, rec.items, rec.closes) == (error, [], 0)


def test_after_seq_is_a_log_position_not_a_sequence(world: World) -> None:
    pid = world.run()
    world.sub.channel_append(pid, "chat", 1, 0, "s1")
    world.sub.channel_append(pid, "chat", 2, 0, "s2")
    world.ex.channel_append(pid, "chat", 1, 0, "e1")
    rec = Recorder()
    with subscribe(world, pid, rec, after=1):
        [replay] = rec.wait_items(1)
    assert triples(replay) == [(world.sub_id, 2, "s2"), (world.ex_id, 1, "e1")]


def test_after_seq_at_the_end_gets_no_replay_only_live_entries(world: World) -> None:
    pid = world.run()
    world.append(world.ex, pid, ["a", "b"])
    rec = Recorder()
    with subscribe(world, pid, rec, after=2):
        world.wait_subscribed(1, pid)
        world.append(world.ex, pid, ["c"], start=3)
        [first] = rec.wait_items(1)
    assert triples(first) == [(world.ex_id, 3, "c")]


def test_a_negative_after_seq_replays_everything(world: World) -> None:
    pid = world.run()
    world.append(world.ex, pid, ["a", "b"])
    rec = Recorder()
    with subscribe(world, pid, rec, after=-2):
        [replay] = rec.wait_items(1)
    assert triples(replay) == [(world.ex_id, 1, "a"), (world.ex_id, 2, "b")]


def test_the_servers_double_delivery_never_reaches_on_entries_twice(world: World) -> None:
    pid = world.run()
    world.append(world.ex, pid, ["a", "b", "c"])
    world.fake.faults.double_delivery()  # the next subscription repeats "c" as a live frame
    rec = Recorder()
    with subscribe(world, pid, rec):
        world.wait_subscribed(1, pid)
        world.append(world.ex, pid, ["d"], start=4)  # its frame comes after the repeated one
        got = rec.wait_entries(4)
        assert world.fake.faults.take_double_delivery() is False  # the fault was used by this subscription
    assert triples(got) == [(world.ex_id, i + 1, t) for i, t in enumerate("abcd")]
    assert [len(batch) for batch in rec.items] == [3, 1]


# --- a slow subscriber ----------------------------------------------------------------------
# Over HTTP the served fake writes queued entries into the socket at once, so its queue
# only fills once megabytes sit in the TCP buffers; a three-entry buffer is exercised
# deterministically in-process, where the client's reads drain the queue.


def _cut_off(make_world: MakeWorld) -> tuple[World, str, Recorder, Any, WrappingTransport]:
    world = make_world(subscriber_buffer=3)
    pid = world.run()
    world.append(world.ex, pid, ["e1"])
    rec = Recorder()
    rec.block = threading.Event()
    client, wrapper = world.wrapped("submitter")
    sub = subscribe(world, pid, rec, quiet=0.2, client=client)
    assert rec.blocked.wait(JOIN)  # on_entries holds the first batch: nothing more is read
    world.append(world.ex, pid, ["e2", "e3", "e4", "e5", "e6"], start=2)
    rec.block.set()
    return world, pid, rec, sub, wrapper


@pytest.mark.inprocess_only
def test_a_slow_subscriber_cut_off_by_the_server_gets_the_synthetic_error_entry(make_world: MakeWorld) -> None:
    """The synthetic entry is not channel data: it is carried by the StreamError, not handed to on_entries."""
    world, pid, rec, sub, wrapper = _cut_off(make_world)
    got = rec.wait_entries(3)
    rec.wait_ended()
    # The overflow drains the oldest queued entry (e2), as the real router does, for the synthetic one.
    assert triples(got) == [(world.ex_id, 1, "e1"), (world.ex_id, 3, "e3"), (world.ex_id, 4, "e4")]
    [error] = rec.errors
    synthetic = error.entry
    assert (synthetic.error, synthetic.sequence, synthetic.senderid, synthetic.payload, synthetic.type) == (
        BUFFER_FULL,
        0,
        "",
        b"",
        "",
    )
    sub.close()
    # On the wire: exactly the real server's synthetic entry (PROTOCOL.md 9.4), one per frame.
    last = json.loads(base64.b64decode(json.loads(wrapper.frames[3])["payload"]))
    assert last == [
        {
            "sequence": 0,
            "timestamp": "0001-01-01T00:00:00Z",
            "senderid": "",
            "payload": None,
            "error": BUFFER_FULL,
        }
    ]
    assert synthetic.timestamp is None  # Go's zero time, read as unset


@pytest.mark.inprocess_only
def test_a_slow_subscriber_cut_off_by_the_server_ends_with_stream_error(make_world: MakeWorld) -> None:
    """DESIGN.md: StreamError is raised for a subscriber that the server dropped; a stream's
    error goes to on_error. The server sends nothing after the synthetic entry, so a client
    that keeps waiting would sit silent until its timeout, never told of the entries lost."""
    world, pid, rec, sub, wrapper = _cut_off(make_world)
    rec.wait_entries(3)
    rec.wait_ended()
    [error] = rec.errors
    assert isinstance(error, StreamError)
    assert error.entry is not None and error.entry.error == BUFFER_FULL
    with pytest.raises(StreamError):
        sub.join(JOIN)
    assert rec.closes == 0


# --- timeouts and lifecycle ------------------------------------------------------------------


def test_the_client_deadline_ends_it_with_on_close_when_the_server_says_nothing(world: World) -> None:
    pid = world.run()
    rec = Recorder()
    started = time.monotonic()
    sub = subscribe(world, pid, rec, timeout=0.3, quiet=0.1)
    rec.wait_ended()
    assert time.monotonic() - started >= 0.3
    sub.join(JOIN)
    assert (rec.closes, rec.errors, rec.items) == (1, [], [])


def test_close_is_prompt_and_idempotent(world: World) -> None:
    pid = world.run()
    rec = Recorder()
    before = set(threading.enumerate())
    sub = subscribe(world, pid, rec)
    world.wait_subscribed(1, pid)
    started = time.monotonic()
    sub.close()
    sub.close()
    assert time.monotonic() - started < 1.0
    assert sub.closed
    assert subscription_threads(before) == []
    assert (rec.closes, rec.errors) == (1, [])


@pytest.mark.parametrize("timeout", [0, -5])
def test_the_timeout_must_be_positive_or_none(world: World, timeout: float) -> None:
    pid = world.run()
    with pytest.raises(ValueError):
        world.sub.subscribe_channel(pid, "chat", 0, timeout, lambda batch: None)


def test_a_callback_exception_goes_to_on_error_and_join_re_raises_it(world: World) -> None:
    pid = world.run()
    world.append(world.ex, pid, ["x"])
    rec = Recorder()
    boom = KeyError("in on_entries")
    rec.raise_on = boom
    sub = subscribe(world, pid, rec)
    rec.wait_ended()
    assert rec.errors == [boom]
    with pytest.raises(KeyError) as info:
        sub.join(JOIN)
    assert info.value is boom
    assert (rec.closes, len(rec.items)) == (0, 1)
