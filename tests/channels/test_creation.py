"""Channel creation, naming and who may use a channel when (PROTOCOL.md 8.1, 8.2; checklist 33, 34)."""

from __future__ import annotations

import pytest

from colonies_sync import ChannelNotFound, Forbidden, InternalServerError, ProcessState
from tests.channels.helpers import (
    CHANNEL_NOT_FOUND,
    NOT_AUTHORIZED_READ,
    NOT_AUTHORIZED_WRITE,
    TOO_MANY_CHANNELS,
    server_error,
)

# --- created at submit ----------------------------------------------------------------------


def test_channels_exist_right_after_submit_with_an_empty_log(world) -> None:
    pid = world.submit(["chat", "events"])
    assert world.fake.channel_log(pid, "chat") == []
    assert world.fake.channel_log(pid, "events") == []
    assert world.sub.channel_read(pid, "chat") == []


def test_submitter_can_append_and_read_while_the_process_is_waiting(world) -> None:
    pid = world.submit()
    world.sub.channel_append(pid, "chat", 1, 0, "hello")
    assert world.sub.get_process(pid).state == ProcessState.WAITING
    [entry] = world.sub.channel_read(pid, "chat")
    assert (entry.sequence, entry.payload, entry.senderid) == (1, b"hello", world.sub_id)


def test_executor_is_refused_before_assign(world) -> None:
    pid = world.submit()
    world.sub.channel_append(pid, "chat", 1, 0, "hello")
    with server_error(Forbidden, 403, NOT_AUTHORIZED_WRITE):
        world.ex.channel_append(pid, "chat", 1, 0, "too early")
    with server_error(Forbidden, 403, NOT_AUTHORIZED_READ):
        world.ex.channel_read(pid, "chat")
    assert [e.payload for e in world.fake.channel_log(pid, "chat")] == [b"hello"]


def test_executor_may_append_and_read_after_assign(world) -> None:
    pid = world.submit()
    world.sub.channel_append(pid, "chat", 1, 0, "question")
    world.assign()
    world.ex.channel_append(pid, "chat", 1, 1, "answer")
    entries = world.ex.channel_read(pid, "chat")
    assert [(e.senderid, e.payload) for e in entries] == [(world.sub_id, b"question"), (world.ex_id, b"answer")]


def test_assign_gives_the_executor_every_channel_of_the_process(world) -> None:
    pid = world.run(["a", "b", "c"])
    for name in ("a", "b", "c"):
        world.ex.channel_append(pid, name, 1, 0, name)
        assert [e.payload for e in world.ex.channel_read(pid, name)] == [name.encode()]


# --- re-assign after a timeout release --------------------------------------------------------


def test_reassign_after_timeout_release_overwrites_the_executor(world) -> None:
    """maxexectime 1, maxretries 1: released to WAITING at +2 s; worker-2 takes it; worker-1 is refused."""
    pid = world.run(maxexectime=1, maxretries=1)
    world.ex.channel_append(pid, "chat", 1, 0, "from worker-1")
    world.fake.clock.advance(2)
    p = world.sub.get_process(pid)
    assert (p.state, p.retries) == (ProcessState.WAITING, 1)
    assert world.assign(world.ex2).processid == pid
    with server_error(Forbidden, 403, NOT_AUTHORIZED_WRITE):
        world.ex.channel_append(pid, "chat", 2, 0, "old executor")
    with server_error(Forbidden, 403, NOT_AUTHORIZED_READ):
        world.ex.channel_read(pid, "chat")
    world.ex2.channel_append(pid, "chat", 1, 0, "from worker-2")
    assert [(e.senderid, e.payload) for e in world.ex2.channel_read(pid, "chat")] == [
        (world.ex_id, b"from worker-1"),
        (world.ex2_id, b"from worker-2"),
    ]


def test_released_executor_keeps_access_until_another_is_assigned(world) -> None:
    """PROTOCOL.md 8.2: after a timeout release the old executor keeps access until a re-assign."""
    pid = world.run(maxexectime=1, maxretries=1)
    world.fake.clock.advance(2)
    assert world.sub.get_process(pid).state == ProcessState.WAITING
    world.ex.channel_append(pid, "chat", 1, 0, "still here")
    assert [e.payload for e in world.ex.channel_read(pid, "chat")] == [b"still here"]
    with server_error(Forbidden, 403, NOT_AUTHORIZED_WRITE):
        world.ex2.channel_append(pid, "chat", 1, 0, "not assigned yet")


# --- names ---------------------------------------------------------------------------------


def test_name_not_in_spec_is_channel_not_found_for_append_and_read(world) -> None:
    pid = world.run(["chat"])
    for client in (world.sub, world.ex):
        with server_error(ChannelNotFound, 404, CHANNEL_NOT_FOUND):
            client.channel_append(pid, "other", 1, 0, "x")
        with server_error(ChannelNotFound, 404, CHANNEL_NOT_FOUND):
            client.channel_read(pid, "other")


def test_channel_names_are_case_sensitive(world) -> None:
    pid = world.submit(["chat"])
    with server_error(ChannelNotFound, 404, CHANNEL_NOT_FOUND):
        world.sub.channel_append(pid, "Chat", 1, 0, "x")


def test_process_without_channels_has_none(world) -> None:
    pid = world.submit([])
    with server_error(ChannelNotFound, 404, CHANNEL_NOT_FOUND):
        world.sub.channel_read(pid, "chat")


def test_any_string_is_a_valid_name_even_empty(world) -> None:
    pid = world.submit(["", "with space/and:punctuation", "ünïcode"])
    for name in ("", "with space/and:punctuation", "ünïcode"):
        world.sub.channel_append(pid, name, 1, 0, name)
        assert [e.text for e in world.sub.channel_read(pid, name)] == [name]


def test_duplicate_name_in_spec_is_one_channel_and_the_spec_keeps_it(world) -> None:
    pid = world.submit(["chat", "chat"])
    assert world.sub.get_process(pid).spec.channels == ["chat", "chat"]
    world.sub.channel_append(pid, "chat", 1, 0, "once")
    assert [e.payload for e in world.fake.channel_log(pid, "chat")] == [b"once"]


def test_duplicate_names_do_not_use_up_the_channel_limit(make_world) -> None:
    world = make_world(max_channels=2)
    pid = world.submit(["a", "a", "b"])
    assert world.fake.channel_log(pid, "a") == []
    assert world.fake.channel_log(pid, "b") == []


def test_names_past_max_channels_are_not_created_at_submit(make_world) -> None:
    world = make_world(max_channels=2)
    pid = world.submit(["a", "b", "c", "d"])
    assert world.fake.channel_log(pid, "a") == []
    assert world.fake.channel_log(pid, "b") == []
    for name in ("c", "d"):
        with pytest.raises(KeyError):
            world.fake.channel_log(pid, name)


def test_touching_a_spec_name_past_the_limit_is_too_many_channels(make_world) -> None:
    """The name is in the spec but was not created; lazy creation with 2 of 2 channels → 500."""
    world = make_world(max_channels=2)
    pid = world.run(["a", "b", "c"])
    for client in (world.sub, world.ex):
        with server_error(InternalServerError, 500, TOO_MANY_CHANNELS):
            client.channel_append(pid, "c", 1, 0, "x")
        with server_error(InternalServerError, 500, TOO_MANY_CHANNELS):
            client.channel_read(pid, "c")


def test_too_many_channels_comes_before_the_caller_check(make_world) -> None:
    """5.8 error order: 500 `process has too many channels` precedes 403 `Not authorized ...`."""
    world = make_world(max_channels=1)
    pid = world.run(["a", "b"])
    with server_error(InternalServerError, 500, TOO_MANY_CHANNELS):
        world.ex2.channel_append(pid, "b", 1, 0, "x")
    with server_error(InternalServerError, 500, TOO_MANY_CHANNELS):
        world.ex2.channel_read(pid, "b")


def test_a_name_not_in_the_spec_is_404_even_at_the_channel_limit(make_world) -> None:
    world = make_world(max_channels=1)
    pid = world.submit(["a", "b"])
    with server_error(ChannelNotFound, 404, CHANNEL_NOT_FOUND):
        world.sub.channel_append(pid, "zzz", 1, 0, "x")


# --- lazy re-creation (8.1) ------------------------------------------------------------------


def test_after_cancel_a_read_gives_an_empty_log_and_an_append_works(world) -> None:
    pid = world.submit()
    world.sub.channel_append(pid, "chat", 1, 0, "before cancel")
    world.sub.cancel_process(pid)
    assert world.sub.channel_read(pid, "chat") == []
    world.sub.channel_append(pid, "chat", 2, 0, "after cancel")
    assert [e.payload for e in world.sub.channel_read(pid, "chat")] == [b"after cancel"]


def test_after_cancel_of_a_running_process_the_channel_comes_back_empty(world) -> None:
    pid = world.run()
    world.ex.channel_append(pid, "chat", 1, 0, "before cancel")
    world.sub.cancel_process(pid)
    assert world.sub.channel_read(pid, "chat") == []


def test_after_cancel_a_name_not_in_the_spec_is_still_not_found(world) -> None:
    pid = world.submit(["chat"])
    world.sub.cancel_process(pid)
    with server_error(ChannelNotFound, 404, CHANNEL_NOT_FOUND):
        world.sub.channel_read(pid, "other")


def test_no_lazy_recreation_after_close_successful(world) -> None:
    pid = world.run()
    world.ex.close_process(pid, ["done"])
    for client in (world.sub, world.ex):
        with server_error(ChannelNotFound, 404, CHANNEL_NOT_FOUND):
            client.channel_read(pid, "chat")
        with server_error(ChannelNotFound, 404, CHANNEL_NOT_FOUND):
            client.channel_append(pid, "chat", 1, 0, "x")


def test_no_lazy_recreation_after_close_failed(world) -> None:
    pid = world.run()
    world.ex.fail_process(pid, ["boom"])
    for client in (world.sub, world.ex):
        with server_error(ChannelNotFound, 404, CHANNEL_NOT_FOUND):
            client.channel_read(pid, "chat")
        with server_error(ChannelNotFound, 404, CHANNEL_NOT_FOUND):
            client.channel_append(pid, "chat", 1, 0, "x")
