"""Behaviours that must be the same on any ColonyOS server, written once against ``colonies_backend``.

They run in-process, over HTTP, and (with ``--colonies-real``) against a real
server, each in a colony of its own. Time-dependent checks use deadlines of a
second or two: ``backend.advance`` moves a fake clock at once and waits on a
real server.
"""

from __future__ import annotations

import threading

import pytest

from colonies_fake.pytest_plugin import ColoniesBackend
from colonies_sync import (
    BadRequest,
    ChannelNotFound,
    Forbidden,
    FunctionSpec,
    MsgEntry,
    NoProcessAvailable,
    ProcessNotFound,
    ProcessState,
    UnknownProcess,
)


def _spec(colony: str, **kwargs: object) -> FunctionSpec:
    return FunctionSpec.create("parity", colony, "parity-type", **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def world(colonies_backend: ColoniesBackend) -> dict[str, object]:
    colony = colonies_backend.colony()
    executor = colonies_backend.executor(colony, executortype="parity-type")
    other = colonies_backend.executor(colony, executortype="parity-type")
    user = colonies_backend.user(colony)
    return {
        "colony": colony,
        "executor": colonies_backend.client(executor.prvkey),
        "other": colonies_backend.client(other.prvkey),
        "user": colonies_backend.client(user.prvkey),
        "user_id": user.id,
        "executor_id": executor.id,
    }


def test_the_process_lifecycle(world: dict, colonies_backend: ColoniesBackend) -> None:
    colony, executor, user = world["colony"], world["executor"], world["user"]
    submitted = user.submit_function_spec(_spec(colony.name, args=["x", 1], kwargs={"k": "v"}))
    assert (submitted.state, submitted.isassigned, submitted.assignedexecutorid) == (ProcessState.WAITING, False, "")
    assert submitted.spec.conditions.cpu == "0m" and submitted.spec.conditions.mem == "0Mi"
    assigned = executor.assign(colony.name, timeout=-1)
    assert (assigned.processid, assigned.state, assigned.assignedexecutorid) == (
        submitted.processid,
        ProcessState.RUNNING,
        world["executor_id"],
    )
    executor.set_output(submitted.processid, ["early"])
    executor.close_process(submitted.processid)
    final = user.get_process(submitted.processid)
    assert (final.state, final.out, final.errors) == (ProcessState.SUCCESS, ["early"], [])
    with pytest.raises(NoProcessAvailable) as info:
        executor.assign(colony.name, timeout=-1)
    assert (info.value.status, info.value.message) == (404, "No process available for assignment")


def test_refusals_carry_the_real_texts(world: dict, colonies_backend: ColoniesBackend) -> None:
    colony, executor, other, user = world["colony"], world["executor"], world["other"], world["user"]
    pid = user.submit_function_spec(_spec(colony.name)).processid
    with pytest.raises(Forbidden) as info:
        executor.close_process(pid)
    assert info.value.message == "Failed to close process as successful, process is not assigned"
    executor.assign(colony.name, timeout=-1)
    with pytest.raises(Forbidden) as info:
        other.fail_process(pid, ["no"])
    assert info.value.message == "Failed to close process as failed, not allowed to close process as failed"
    with pytest.raises(BadRequest) as info:
        user.remove_process(pid)
    assert info.value.message == "Failed to remove process, cannot remove a running process"
    executor.fail_process(pid, ["broken"])
    with pytest.raises(BadRequest) as info:
        executor.close_process(pid)
    assert info.value.message == "Tried to set failed process as successful"
    stranger = colonies_backend.client(colonies_backend.crypto.generate_private_key())
    with pytest.raises(Forbidden) as info:
        stranger.get_process(pid)
    assert info.value.message == f"Access denied, not a member of Colony with name <{colony.name}>"
    with pytest.raises(ProcessNotFound) as info:
        user.get_process("0" * 64)
    assert (info.value.status, info.value.message) == (404, "Failed to get process, process not found")
    with pytest.raises(UnknownProcess) as info:
        executor.close_process("0" * 64)
    assert (info.value.status, info.value.message) == (500, "Failed to close process as successful, process is nil")


def test_the_channel_rules(world: dict, colonies_backend: ColoniesBackend) -> None:
    colony, executor, other, user = world["colony"], world["executor"], world["other"], world["user"]
    pid = user.submit_function_spec(_spec(colony.name, channels=["chat"])).processid
    user.channel_append(pid, "chat", 1, 0, "asked while waiting")  # channels exist from submit
    with pytest.raises(Forbidden) as info:
        executor.channel_read(pid, "chat")
    assert info.value.message == "Not authorized to read from channel"
    executor.assign(colony.name, timeout=-1)
    executor.channel_append(pid, "chat", 1, 1, b"\x00\xff")
    user.channel_append(pid, "chat", 2, 0, "", payload_type="end")
    entries = user.channel_read(pid, "chat", after_seq=1, limit=0)  # a log position, not a sequence
    assert [(e.senderid, e.sequence, e.inreplyto, e.payload, e.type) for e in entries] == [
        (world["executor_id"], 1, 1, b"\x00\xff", "data"),
        (world["user_id"], 2, 0, b"", "end"),
    ]
    with pytest.raises(Forbidden):
        other.channel_append(pid, "chat", 9, 0, "not a party")
    with pytest.raises(ChannelNotFound):
        user.channel_read(pid, "nope")
    executor.close_process(pid)
    with pytest.raises(ChannelNotFound) as info:
        user.channel_read(pid, "chat")
    assert (info.value.status, info.value.message) == (404, "Channel not found")


def test_an_exec_deadline_fails_a_process_without_retries(world: dict, colonies_backend: ColoniesBackend) -> None:
    colony, executor, user = world["colony"], world["executor"], world["user"]
    pid = user.submit_function_spec(_spec(colony.name, maxexectime=1, maxretries=0)).processid
    executor.assign(colony.name, timeout=-1)
    for _ in range(6):  # the real server checks once a second: give it up to six
        colonies_backend.advance(1)
        if user.get_process(pid).state is ProcessState.FAILED:
            break
    failed = user.get_process(pid)
    assert (failed.state, failed.errors) == (ProcessState.FAILED, ["Maximum execution time limit exceeded"])


@pytest.mark.parametrize("how", ["stream", "subscription"])
def test_channel_streams_deliver_history_then_live_entries_once(
    world: dict, colonies_backend: ColoniesBackend, how: str
) -> None:
    colony, executor, user = world["colony"], world["executor"], world["user"]
    pid = user.submit_function_spec(_spec(colony.name, channels=["c"])).processid
    executor.assign(colony.name, timeout=-1)
    channel = executor.channel(pid, "c")
    channel.append("history")
    received: list[MsgEntry] = []
    got_history = threading.Event()
    if how == "stream":
        iterator = user.channel(pid, "c").stream(timeout=30)
        received.append(next(iterator))
        for word in ("one", "two"):
            channel.append(word)
        channel.end()
        received.extend(iterator)
    else:
        done = threading.Event()

        def on_entries(entries: list[MsgEntry]) -> None:
            received.extend(entries)
            got_history.set()
            if any(e.type == "end" for e in entries):
                done.set()

        with user.subscribe_channel(pid, "c", 0, 30, on_entries) as subscription:
            assert got_history.wait(10)
            for word in ("one", "two"):
                channel.append(word)
            channel.end()
            assert done.wait(10)
        subscription.join(5)
    assert [(e.text, e.type) for e in received] == [("history", "data"), ("one", "data"), ("two", "data"), ("", "end")]


def test_waiting_for_a_process(world: dict, colonies_backend: ColoniesBackend) -> None:
    colony, executor, user = world["colony"], world["executor"], world["user"]
    pid = user.submit_function_spec(_spec(colony.name)).processid
    finished: list[object] = []
    waiter = threading.Thread(target=lambda: finished.append(user.wait(pid, timeout=30)))
    waiter.start()
    fake = colonies_backend.fake
    if fake is not None:  # make sure this tests waiting, not a process found already ended
        fake.wait_until(lambda: fake.subscriptions(pid) == 3)  # SUCCESS, FAILED, CANCELLED
    executor.assign(colony.name, timeout=-1)
    executor.close_process(pid, output=["result"])
    waiter.join(30)
    assert not waiter.is_alive()
    process = finished[0]
    assert process.state is ProcessState.SUCCESS and process.out == ["result"]  # type: ignore[attr-defined]
