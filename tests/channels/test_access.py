"""Who may append to and read a channel, with the exact refusals (PROTOCOL.md 4, 5.8, 8.2; checklist 34).

Two checks, both required: approved membership of the process's colony, then
caller == the submitter or the channel's current executor.
"""

from __future__ import annotations

import pytest

from colonies_sync import (
    BadRequest,
    ChannelNotFound,
    Forbidden,
    FunctionSpec,
    NotFound,
    PayloadTooLarge,
    ProcessNotFound,
)
from tests.channels.helpers import (
    APPEND_INVALID_JSON,
    CHANNEL_NOT_FOUND,
    NOT_AUTHORIZED_READ,
    NOT_AUTHORIZED_WRITE,
    NOT_MEMBER_DEV,
    PAYLOAD_TOO_LARGE,
    PROCESS_NOT_FOUND,
    READ_INVALID_JSON,
    raw_append,
    raw_read,
    server_error,
)

UNKNOWN_PID = "f" * 64

#: role -> (status, text) expected for append and for read on a RUNNING process's channel.
REFUSED = {
    "other-executor": (NOT_AUTHORIZED_WRITE, NOT_AUTHORIZED_READ),
    "other-user": (NOT_AUTHORIZED_WRITE, NOT_AUTHORIZED_READ),
    "pending-executor": (NOT_MEMBER_DEV, NOT_MEMBER_DEV),
    "colony-owner": (NOT_MEMBER_DEV, NOT_MEMBER_DEV),
    "server-owner": (NOT_MEMBER_DEV, NOT_MEMBER_DEV),
    "other-colony-executor": (NOT_MEMBER_DEV, NOT_MEMBER_DEV),
    "stranger": (NOT_MEMBER_DEV, NOT_MEMBER_DEV),
}
ALL_ROLES = ["submitter", "executor", *REFUSED]


@pytest.mark.parametrize("role", ["submitter", "executor"])
def test_parties_may_append_and_read(world, role) -> None:
    pid = world.run()
    client = world.roles[role]
    client.channel_append(pid, "chat", 1, 0, f"from {role}")
    [entry] = client.channel_read(pid, "chat")
    assert (entry.senderid, entry.text) == (client.id, f"from {role}")


@pytest.mark.parametrize("role", sorted(REFUSED))
def test_everyone_else_is_refused_append_with_the_exact_403(world, role) -> None:
    pid = world.run()
    with server_error(Forbidden, 403, REFUSED[role][0]):
        world.roles[role].channel_append(pid, "chat", 1, 0, "intruder")
    assert world.fake.channel_log(pid, "chat") == []


@pytest.mark.parametrize("role", sorted(REFUSED))
def test_everyone_else_is_refused_read_with_the_exact_403(world, role) -> None:
    pid = world.run()
    world.sub.channel_append(pid, "chat", 1, 0, "secret")
    with server_error(Forbidden, 403, REFUSED[role][1]):
        world.roles[role].channel_read(pid, "chat")


@pytest.mark.parametrize("role", ALL_ROLES)
def test_unknown_process_is_404_for_every_caller(world, role) -> None:
    """Checked before membership: even an unknown key gets 404 `Process not found`."""
    client = world.roles[role]
    with server_error(ProcessNotFound, 404, PROCESS_NOT_FOUND):
        client.channel_append(UNKNOWN_PID, "chat", 1, 0, "x")
    with server_error(ProcessNotFound, 404, PROCESS_NOT_FOUND):
        client.channel_read(UNKNOWN_PID, "chat")


def test_process_and_channel_not_found_are_both_not_found(world) -> None:
    with pytest.raises(NotFound) as info:
        world.roles["stranger"].channel_read(UNKNOWN_PID, "chat")
    assert type(info.value) is ProcessNotFound
    pid = world.submit()
    with pytest.raises(NotFound) as info:
        world.sub.channel_read(pid, "nope")
    assert type(info.value) is ChannelNotFound


def test_user_who_is_not_the_submitter_is_refused_even_while_waiting(world) -> None:
    pid = world.submit()
    with server_error(Forbidden, 403, NOT_AUTHORIZED_WRITE):
        world.roles["other-user"].channel_append(pid, "chat", 1, 0, "x")


def test_an_executor_as_submitter_uses_its_channels_and_same_key_on_both_sides(world) -> None:
    """When one key submits and executes, both sides write with the same senderid (8.2)."""
    spec = FunctionSpec.create("chat", "dev", "test", channels=["chat"])
    pid = world.ex.submit_function_spec(spec).processid
    world.ex.channel_append(pid, "chat", 1, 0, "as submitter")
    world.assign()
    world.ex.channel_append(pid, "chat", 2, 0, "as executor")
    assert [(e.senderid, e.text) for e in world.ex.channel_read(pid, "chat")] == [
        (world.ex_id, "as submitter"),
        (world.ex_id, "as executor"),
    ]
    with server_error(Forbidden, 403, NOT_AUTHORIZED_READ):
        world.sub.channel_read(pid, "chat")


# --- the order of the checks (5.8 "errors in order") ------------------------------------------


def test_oversized_payload_from_a_member_who_is_not_a_party_is_the_payload_error(make_world) -> None:
    """The size check comes before the caller check: 500, not 403."""
    world = make_world(max_payload=8)
    pid = world.run()
    with server_error(PayloadTooLarge, 500, PAYLOAD_TOO_LARGE):
        world.ex2.channel_append(pid, "chat", 1, 0, b"x" * 9)
    with server_error(Forbidden, 403, NOT_AUTHORIZED_WRITE):
        world.ex2.channel_append(pid, "chat", 1, 0, b"x" * 8)


def test_oversized_payload_from_a_non_member_is_the_membership_error(make_world) -> None:
    world = make_world(max_payload=8)
    pid = world.run()
    with server_error(Forbidden, 403, NOT_MEMBER_DEV):
        world.roles["colony-owner"].channel_append(pid, "chat", 1, 0, b"x" * 9)


def test_oversized_payload_to_an_unknown_channel_is_channel_not_found(make_world) -> None:
    world = make_world(max_payload=8)
    pid = world.run()
    with server_error(ChannelNotFound, 404, CHANNEL_NOT_FOUND):
        world.sub.channel_append(pid, "nope", 1, 0, b"x" * 9)


def test_oversized_payload_to_an_unknown_process_is_process_not_found(make_world) -> None:
    world = make_world(max_payload=8)
    with server_error(ProcessNotFound, 404, PROCESS_NOT_FOUND):
        world.roles["stranger"].channel_append(UNKNOWN_PID, "chat", 1, 0, b"x" * 9)


def test_membership_is_checked_before_the_channel_name(world) -> None:
    pid = world.run()
    with server_error(Forbidden, 403, NOT_MEMBER_DEV):
        world.roles["stranger"].channel_read(pid, "nope")
    with server_error(Forbidden, 403, NOT_MEMBER_DEV):
        world.roles["colony-owner"].channel_append(pid, "nope", 1, 0, "x")


def test_channel_name_is_checked_before_the_caller(world) -> None:
    """A member that is not a party asking for an unknown name gets 404, not 403."""
    pid = world.run()
    with server_error(ChannelNotFound, 404, CHANNEL_NOT_FOUND):
        world.ex2.channel_read(pid, "nope")
    with server_error(ChannelNotFound, 404, CHANNEL_NOT_FOUND):
        world.ex2.channel_append(pid, "nope", 1, 0, "x")


def test_invalid_json_is_checked_before_the_process(world) -> None:
    stranger = world.roles["stranger"]
    with server_error(BadRequest, 400, APPEND_INVALID_JSON):
        raw_append(stranger, UNKNOWN_PID, "chat", sequence="1", payload="")
    with server_error(BadRequest, 400, READ_INVALID_JSON):
        raw_read(stranger, UNKNOWN_PID, "chat", afterseq="0")


def test_caller_is_checked_before_the_rate_limit_and_takes_no_token(make_world) -> None:
    """A refused outsider neither sees `rate limit exceeded` nor spends the process's tokens."""
    world = make_world(rate_burst=2, rate_per_second=1.0)
    pid = world.run()
    for i in range(5):
        with server_error(Forbidden, 403, NOT_AUTHORIZED_WRITE):
            world.ex2.channel_append(pid, "chat", i, 0, "x")
    world.sub.channel_append(pid, "chat", 1, 0, "first")
    world.ex.channel_append(pid, "chat", 1, 0, "second")
    assert len(world.fake.channel_log(pid, "chat")) == 2
