"""Channel cleanup (PROTOCOL.md 8.7; checklist 40).

Close successful, close failed (also by the server's deadlines) and cancel
delete every channel of the process; a timeout release and removeprocess do not.
"""

from __future__ import annotations

import pytest

from colonies_sync import ChannelNotFound, ProcessNotFound, ProcessState
from tests.channels.helpers import (
    CHANNEL_NOT_FOUND,
    EXEC_EXCEEDED,
    PROCESS_NOT_FOUND,
    WAIT_EXCEEDED,
    server_error,
)


def assert_deleted(world, pid, names=("chat", "events")) -> None:
    for name in names:
        with pytest.raises(KeyError):
            world.fake.channel_log(pid, name)
        for client in (world.sub, world.ex):
            with server_error(ChannelNotFound, 404, CHANNEL_NOT_FOUND):
                client.channel_read(pid, name)
            with server_error(ChannelNotFound, 404, CHANNEL_NOT_FOUND):
                client.channel_append(pid, name, 99, 0, "late")


def fill(world, pid, names=("chat", "events")) -> None:
    for name in names:
        world.sub.channel_append(pid, name, 1, 0, f"{name} from submitter")
        world.ex.channel_append(pid, name, 1, 0, f"{name} from executor")


def test_close_successful_deletes_every_channel(world) -> None:
    pid = world.run(["chat", "events"])
    fill(world, pid)
    world.ex.close_process(pid, ["done"])
    assert world.sub.get_process(pid).state == ProcessState.SUCCESS
    assert_deleted(world, pid)


def test_close_failed_deletes_every_channel(world) -> None:
    pid = world.run(["chat", "events"])
    fill(world, pid)
    world.ex.fail_process(pid, ["boom"])
    assert world.sub.get_process(pid).state == ProcessState.FAILED
    assert_deleted(world, pid)


def test_cancel_of_a_waiting_process_deletes_its_channels(world) -> None:
    pid = world.submit(["chat", "events"])
    world.sub.channel_append(pid, "chat", 1, 0, "x")
    world.sub.cancel_process(pid)
    for name in ("chat", "events"):
        with pytest.raises(KeyError):
            world.fake.channel_log(pid, name)


def test_cancel_of_a_running_process_deletes_its_channels_and_their_entries(world) -> None:
    pid = world.run(["chat", "events"])
    fill(world, pid)
    world.sub.cancel_process(pid)
    for name in ("chat", "events"):
        with pytest.raises(KeyError):
            world.fake.channel_log(pid, name)
    assert world.sub.channel_read(pid, "chat") == []  # lazily re-created, empty (8.1)


def test_exec_timeout_failure_deletes_the_channels(world) -> None:
    """maxexectime 1 and maxretries 0: FAILED by the server at +2 s, channels gone."""
    pid = world.run(["chat", "events"], maxexectime=1, maxretries=0)
    fill(world, pid)
    world.fake.clock.advance(1)
    assert world.fake.channel_log(pid, "chat") != []
    world.fake.clock.advance(1)
    p = world.sub.get_process(pid)
    assert (p.state, p.errors) == (ProcessState.FAILED, EXEC_EXCEEDED)
    assert_deleted(world, pid)


def test_wait_timeout_failure_deletes_the_channels(world) -> None:
    pid = world.submit(["chat", "events"], maxwaittime=1)
    world.sub.channel_append(pid, "chat", 1, 0, "waiting")
    world.fake.clock.advance(2)
    p = world.sub.get_process(pid)
    assert (p.state, p.errors) == (ProcessState.FAILED, WAIT_EXCEEDED)
    for name in ("chat", "events"):
        with pytest.raises(KeyError):
            world.fake.channel_log(pid, name)
        with server_error(ChannelNotFound, 404, CHANNEL_NOT_FOUND):
            world.sub.channel_read(pid, name)
        with server_error(ChannelNotFound, 404, CHANNEL_NOT_FOUND):
            world.sub.channel_append(pid, name, 2, 0, "late")


def test_timeout_release_keeps_the_channels_and_their_entries(world) -> None:
    pid = world.run(["chat", "events"], maxexectime=1, maxretries=1)
    fill(world, pid)
    world.fake.clock.advance(2)
    p = world.sub.get_process(pid)
    assert (p.state, p.retries) == (ProcessState.WAITING, 1)
    expected = [(world.sub_id, "chat from submitter"), (world.ex_id, "chat from executor")]
    assert [(e.senderid, e.text) for e in world.fake.channel_log(pid, "chat")] == expected
    assert [(e.senderid, e.text) for e in world.sub.channel_read(pid, "chat")] == expected
    assert len(world.fake.channel_log(pid, "events")) == 2


def test_entries_survive_into_the_next_assignment_and_go_at_the_final_failure(world) -> None:
    pid = world.run(["chat"], maxexectime=1, maxretries=1)
    world.ex.channel_append(pid, "chat", 1, 0, "attempt 1")
    world.fake.clock.advance(2)
    assert world.assign(world.ex2).processid == pid
    world.ex2.channel_append(pid, "chat", 1, 0, "attempt 2")
    assert [e.text for e in world.ex2.channel_read(pid, "chat")] == ["attempt 1", "attempt 2"]
    world.fake.clock.advance(2)
    assert world.sub.get_process(pid).state == ProcessState.FAILED
    with server_error(ChannelNotFound, 404, CHANNEL_NOT_FOUND):
        world.ex2.channel_read(pid, "chat")


def test_cleanup_touches_only_that_process(world) -> None:
    done = world.run()
    other = world.submit()
    world.sub.channel_append(other, "chat", 1, 0, "keep me")
    world.ex.close_process(done, [])
    assert [e.text for e in world.sub.channel_read(other, "chat")] == ["keep me"]


def test_removeprocess_leaves_channel_calls_failing_with_process_not_found(world) -> None:
    pid = world.submit()
    world.sub.channel_append(pid, "chat", 1, 0, "orphan")
    world.sub.remove_process(pid)
    with server_error(ProcessNotFound, 404, PROCESS_NOT_FOUND):
        world.sub.channel_append(pid, "chat", 2, 0, "x")
    with server_error(ProcessNotFound, 404, PROCESS_NOT_FOUND):
        world.sub.channel_read(pid, "chat")


def test_removeprocess_does_not_delete_the_channels_they_leak(world) -> None:
    """8.7: removeprocessmsg is not a cleanup; the channel stays in memory."""
    pid = world.submit()
    world.sub.channel_append(pid, "chat", 1, 0, "orphan")
    world.sub.remove_process(pid)
    assert [e.text for e in world.fake.channel_log(pid, "chat")] == ["orphan"]
