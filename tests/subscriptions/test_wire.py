"""``/pubsub`` frame by frame on the served fake: PROTOCOL.md 9 and checklist items 41-46 (and 9.5).

Raw WebSocket connections (websocket-client, which sends no pings), signed
envelopes from ``colonies_sync._rpc.encode_request``. The fake's clock is a
FakeClock, so timeouts are reached with ``advance``. To show that *no* frame
was sent, a probe whose answer comes at once is sent after the event in
question: frames are ordered, so if the probe's answer is the next frame,
nothing came before it. Setup calls go through ``fake.client`` (in-process or
HTTP, per run); the frames always go over a real socket.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Iterator

import pytest
from websocket import ABNF, WebSocket

from colonies_fake import FakeColoniesServer
from colonies_fake._transport import InProcessStream
from colonies_sync import ProcessState
from colonies_sync._rpc import encode_payload
from tests.subscriptions.helpers import (
    CHANNEL_NOT_FOUND,
    CLOSE_FRAME,
    CRYPTO,
    DROPPED,
    EXECUTOR_NOT_FOUND,
    NOT_AUTHORIZED_SUBSCRIBE,
    NOT_MEMBER_DEV,
    PROCESS_NOT_FOUND,
    SUBSCRIBE_CHANNEL_MSGTYPE,
    SUBSCRIBE_PROCESS_MSGTYPE,
    Frame,
    World,
    b64,
    channel_msg,
    connect,
    entries_of,
    error_of,
    frame,
    invalid_process,
    process_msg,
    process_of,
    receive,
    signed,
    unknown_id,
)

START_TEXT = "2023-11-14T22:13:20Z"  # the fake clock's start, as Go writes it


@pytest.fixture
def ws(served: FakeColoniesServer) -> Iterator[WebSocket]:
    sock = connect(served)
    yield sock
    sock.shutdown()  # abrupt: a server inside a channel subscription does not read a close frame


def signed_as(payloadtype: str, message: dict[str, Any], prvkey: str) -> str:
    """An envelope whose payloadtype differs from the message's msgtype."""
    payload = encode_payload(message)
    return json.dumps({"payloadtype": payloadtype, "payload": payload, "signature": CRYPTO.sign(payload, prvkey)})


def entry(world: World, sender: str, sequence: int, text: str, **extra: Any) -> dict[str, Any]:
    """A channel entry exactly as the server writes it, appended at the clock's start."""
    return {
        "sequence": sequence,
        **extra,
        "timestamp": START_TEXT,
        "senderid": sender,
        "payload": b64(text),
        "type": "data",
    }


def probe(ws: WebSocket, world: World, pid: str, state: int) -> None:
    """Ask for an event that comes at once (``pid`` is in ``state``)."""
    ws.send(signed(process_msg(pid, state), world.keys["stranger"]))


def next_is_probe(ws: WebSocket, pid: str, state: int) -> None:
    got = process_of(frame(ws))
    assert (got.processid, got.state) == (pid, state), "another frame came before the probe's answer"


# --- 41: the first frame ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["not json", "{", "[]", "null", '"text"'])
def test_41_a_first_frame_that_is_not_an_envelope_drops_the_socket_without_a_frame(ws: WebSocket, text: str) -> None:
    ws.send(text)
    assert receive(ws) == DROPPED


@pytest.mark.parametrize("signature", ["00", "zz", "", "ab" * 65])
def test_41_an_unrecoverable_signature_drops_the_socket_without_a_frame(
    world: World, ws: WebSocket, signature: str
) -> None:
    pid = world.submit()
    envelope = json.loads(signed(process_msg(pid, 0), world.keys["submitter"]))
    envelope["signature"] = signature
    ws.send(json.dumps(envelope))
    assert receive(ws) == DROPPED


def test_41_an_unknown_payloadtype_is_ignored_and_the_socket_stays_usable(world: World, ws: WebSocket) -> None:
    pid = world.submit()
    ws.send(signed({"msgtype": "nosuchmsg", "processid": pid}, world.keys["submitter"]))
    probe(ws, world, pid, ProcessState.WAITING)
    next_is_probe(ws, pid, ProcessState.WAITING)


def test_a_binary_request_is_answered_with_binary_frames(world: World, ws: WebSocket) -> None:
    pid = world.submit()
    ws.send(signed(process_msg(pid, 0), world.keys["submitter"]).encode(), opcode=ABNF.OPCODE_BINARY)
    got = frame(ws)
    assert got.opcode == ABNF.OPCODE_BINARY
    assert process_of(got).processid == pid
    ws.send(signed(process_msg(pid, 0), world.keys["submitter"]))
    assert frame(ws).opcode == ABNF.OPCODE_TEXT


def test_an_in_process_stream_keeps_the_opcode_too(world: World) -> None:
    pid = world.submit()
    stream = InProcessStream(world.fake)
    try:
        stream.send(signed(process_msg(pid, 0), world.keys["submitter"]), binary=True)
        got = stream.receive_frame(5)
        assert got is not None and got[1] is True
        assert json.loads(base64.b64decode(json.loads(got[0])["payload"]))["processid"] == pid
        stream.send(signed(process_msg(pid, 0), world.keys["submitter"]))
        got = stream.receive_frame(5)
        assert got is not None and got[1] is False
    finally:
        stream.close()


# --- 42: subscribeprocessmsg -----------------------------------------------------------------


def test_42_subscribe_process_has_no_authorisation_an_unknown_key_gets_the_event(world: World, ws: WebSocket) -> None:
    pid = world.submit()
    ws.send(signed(process_msg(pid, ProcessState.WAITING), world.keys["stranger"]))
    event = process_of(frame(ws))
    assert event == world.sub.get_process(pid)


def test_42_an_unknown_process_gets_error_frame_403_and_the_socket_stays_usable(world: World, ws: WebSocket) -> None:
    missing = unknown_id()
    ws.send(signed(process_msg(missing, ProcessState.RUNNING), world.keys["submitter"]))
    assert error_of(frame(ws)) == (403, invalid_process(missing))
    assert invalid_process(missing) == f"Invalid process with Id {missing}"
    pid = world.submit()
    probe(ws, world, pid, ProcessState.WAITING)
    next_is_probe(ws, pid, ProcessState.WAITING)


def test_42_a_msgtype_that_is_not_the_payloadtype_gets_error_frame_403(world: World, ws: WebSocket) -> None:
    pid = world.submit()
    message = {**process_msg(pid, 0), "msgtype": "subscribechannelmsg"}
    ws.send(signed_as("subscribeprocessmsg", message, world.keys["submitter"]))
    assert error_of(frame(ws)) == (403, SUBSCRIBE_PROCESS_MSGTYPE)


def test_42_an_event_at_once_when_already_in_the_state_then_one_per_later_entry(world: World, ws: WebSocket) -> None:
    pid = world.submit(maxexectime=2, maxretries=3)
    assert world.ex.assign("dev", -1).processid == pid
    ws.send(signed(process_msg(pid, ProcessState.RUNNING), world.keys["submitter"]))
    now = process_of(frame(ws))  # already RUNNING: at once
    assert (now.state, now.assignedexecutorid) == (ProcessState.RUNNING, world.ex_id)
    world.fake.clock.advance(3)  # released to WAITING: no frame for this subscription
    assert world.ex2.assign("dev", -1).processid == pid
    again = process_of(frame(ws))
    assert (again.state, again.assignedexecutorid, again.retries) == (ProcessState.RUNNING, world.ex2_id, 1)
    other = world.submit()
    probe(ws, world, other, ProcessState.WAITING)
    next_is_probe(ws, other, ProcessState.WAITING)


def test_several_process_subscriptions_share_one_socket(world: World, ws: WebSocket) -> None:
    first, second = world.submit(), world.submit()
    ws.send(signed(process_msg(first, ProcessState.RUNNING), world.keys["submitter"]))
    ws.send(signed(process_msg(second, ProcessState.RUNNING), world.keys["submitter"]))
    world.wait_subscribed(2)
    assert world.ex.assign("dev", -1).processid == first
    assert world.ex.assign("dev", -1).processid == second
    assert [process_of(frame(ws)).processid for _ in range(2)] == [first, second]


def test_42_the_socket_is_dropped_without_a_close_frame_at_the_timeout(world: World, ws: WebSocket) -> None:
    pid = world.submit()
    ws.send(signed(process_msg(pid, ProcessState.RUNNING, timeout=5), world.keys["submitter"]))
    world.wait_subscribed(1, pid)
    world.fake.clock.advance(4)
    probe(ws, world, pid, ProcessState.WAITING)  # still open one second before
    next_is_probe(ws, pid, ProcessState.WAITING)
    world.fake.clock.advance(1)
    assert receive(ws) == DROPPED  # no frame and no close frame


# --- 43: executortype -------------------------------------------------------------------------


@pytest.mark.parametrize("executortype, live", [("", True), ("test", True), ("gpu", False), ("Test", False)])
def test_43_executortype_must_be_empty_or_the_process_type_for_live_events(
    world: World, ws: WebSocket, executortype: str, live: bool
) -> None:
    pid = world.submit()
    ws.send(signed(process_msg(pid, ProcessState.RUNNING, executortype=executortype), world.keys["submitter"]))
    world.wait_subscribed(1, pid)
    assert world.ex.assign("dev", -1).processid == pid
    other = world.submit()
    probe(ws, world, other, ProcessState.WAITING)
    if live:
        assert process_of(frame(ws)).processid == pid
    next_is_probe(ws, other, ProcessState.WAITING)


def test_43_a_wrong_executortype_still_gets_the_immediate_event(world: World, ws: WebSocket) -> None:
    pid = world.submit()
    ws.send(signed(process_msg(pid, ProcessState.WAITING, executortype="gpu"), world.keys["submitter"]))
    assert process_of(frame(ws)).processid == pid


# --- 44: subscribechannelmsg ---------------------------------------------------------------


@pytest.mark.parametrize(
    "case, status, message",
    [
        ("unknown process", 404, PROCESS_NOT_FOUND),
        ("not a member", 403, NOT_MEMBER_DEV),
        ("unknown channel", 404, CHANNEL_NOT_FOUND),
        ("member who is not a party", 403, NOT_AUTHORIZED_SUBSCRIBE),
        ("msgtype mismatch", 400, SUBSCRIBE_CHANNEL_MSGTYPE),
    ],
)
def test_44_channel_error_frames_and_the_socket_stays_open(
    world: World, ws: WebSocket, case: str, status: int, message: str
) -> None:
    pid = world.run()
    world.ex.channel_append(pid, "chat", 1, 0, "a")
    key, msg = world.keys["submitter"], channel_msg(pid)
    if case == "unknown process":
        msg = channel_msg(unknown_id())
    elif case == "not a member":
        key = world.keys["other-colony-executor"]
    elif case == "unknown channel":
        msg = channel_msg(pid, "nope")
    elif case == "member who is not a party":
        key = world.keys["other-executor"]
    if case == "msgtype mismatch":
        ws.send(signed_as("subscribechannelmsg", {**msg, "msgtype": "subscribeprocessmsg"}, key))
    else:
        ws.send(signed(msg, key))
    assert error_of(frame(ws)) == (status, message)
    ws.send(signed(channel_msg(pid), world.keys["submitter"]))  # the socket is still served
    assert entries_of(frame(ws)) == [entry(world, world.ex_id, 1, "a")]


def test_44_a_payload_that_does_not_decode_gets_error_frame_400(world: World, ws: WebSocket) -> None:
    pid = world.run()
    ws.send(signed({**channel_msg(pid), "afterseq": "one"}, world.keys["submitter"]))
    status, message = error_of(frame(ws))
    assert status == 400 and message


def test_44_the_replay_is_one_frame_then_one_frame_per_new_entry(world: World, ws: WebSocket) -> None:
    pid = world.run()
    world.ex.channel_append(pid, "chat", 1, 0, "a")
    world.sub.channel_append(pid, "chat", 1, 0, "b")
    world.ex.channel_append(pid, "chat", 2, 1, "c", payload_type="end")
    ws.send(signed(channel_msg(pid), world.keys["submitter"]))
    assert entries_of(frame(ws)) == [
        entry(world, world.ex_id, 1, "a"),
        entry(world, world.sub_id, 1, "b"),
        {**entry(world, world.ex_id, 2, "c", inreplyto=1), "type": "end"},
    ]
    world.ex.channel_append(pid, "chat", 3, 0, "d")
    world.sub.channel_append(pid, "chat", 2, 0, "e")
    assert entries_of(frame(ws)) == [entry(world, world.ex_id, 3, "d")]
    assert entries_of(frame(ws)) == [entry(world, world.sub_id, 2, "e")]


@pytest.mark.parametrize("afterseq, expected", [(1, ["b", "c"]), (-2, ["a", "b", "c"]), (3, None), (7, None)])
def test_44_afterseq_is_the_log_index_the_replay_starts_at(
    world: World, ws: WebSocket, afterseq: int, expected: Any
) -> None:
    pid = world.run()
    for i, text in enumerate("abc"):
        world.ex.channel_append(pid, "chat", i + 1, 0, text)
    ws.send(signed(channel_msg(pid, afterseq=afterseq), world.keys["submitter"]))
    if expected is not None:
        assert [base64.b64decode(e["payload"]).decode() for e in entries_of(frame(ws))] == expected
    else:  # no replay frame: the first frame is the next live entry
        world.wait_subscribed(1, pid)
        world.ex.channel_append(pid, "chat", 4, 0, "d")
        assert entries_of(frame(ws)) == [entry(world, world.ex_id, 4, "d")]


def test_44_an_empty_list_frame_at_the_timeout_and_the_socket_is_left_open(world: World, ws: WebSocket) -> None:
    pid = world.run()
    world.ex.channel_append(pid, "chat", 1, 0, "a")
    ws.send(signed(channel_msg(pid, timeout=5), world.keys["submitter"]))
    assert len(entries_of(frame(ws))) == 1
    world.fake.clock.advance(5)
    end = frame(ws)
    assert entries_of(end) == []
    assert end.envelope == {"payloadtype": "subscribechannelmsg", "payload": "W10=", "error": False}
    ws.send(signed(channel_msg(pid, timeout=5), world.keys["submitter"]))  # the same socket, served again
    assert entries_of(frame(ws)) == [entry(world, world.ex_id, 1, "a")]


def test_44_timeout_zero_means_thirty_seconds(world: World, ws: WebSocket) -> None:
    pid = world.run()
    ws.send(signed(channel_msg(pid, timeout=0), world.keys["submitter"]))
    world.wait_subscribed(1, pid)
    world.fake.clock.advance(29)
    world.ex.channel_append(pid, "chat", 1, 0, "still live")
    assert [base64.b64decode(e["payload"]) for e in entries_of(frame(ws))] == [b"still live"]  # no [] yet
    world.fake.clock.advance(1)
    assert entries_of(frame(ws)) == []


def test_44_a_negative_timeout_ends_right_after_the_replay(world: World, ws: WebSocket) -> None:
    pid = world.run()
    world.ex.channel_append(pid, "chat", 1, 0, "a")
    ws.send(signed(channel_msg(pid, timeout=-1), world.keys["submitter"]))
    assert len(entries_of(frame(ws))) == 1
    assert entries_of(frame(ws)) == []


def test_the_double_delivery_fault_repeats_the_last_replayed_entry_as_a_live_frame(world: World, ws: WebSocket) -> None:
    pid = world.run()
    world.ex.channel_append(pid, "chat", 1, 0, "a")
    world.ex.channel_append(pid, "chat", 2, 0, "b")
    world.fake.faults.double_delivery()
    ws.send(signed(channel_msg(pid), world.keys["submitter"]))
    assert entries_of(frame(ws)) == [entry(world, world.ex_id, 1, "a"), entry(world, world.ex_id, 2, "b")]
    assert entries_of(frame(ws)) == [entry(world, world.ex_id, 2, "b")]


# --- 45: the process closes ------------------------------------------------------------------


@pytest.mark.parametrize(
    "ending, state",
    [("close", ProcessState.SUCCESS), ("fail", ProcessState.FAILED), ("cancel", ProcessState.CANCELLED)],
)
def test_45_no_frame_when_the_process_closes_during_a_channel_subscription(
    world: World, ws: WebSocket, ending: str, state: ProcessState
) -> None:
    pid = world.run()
    ws.send(signed(channel_msg(pid, timeout=5), world.keys["submitter"]))
    world.wait_subscribed(1, pid)
    world.ex.channel_append(pid, "chat", 1, 0, "a")
    assert len(entries_of(frame(ws))) == 1
    if ending == "close":
        world.ex.close_process(pid)
    elif ending == "fail":
        world.ex.fail_process(pid, errors=["x"])
    else:
        world.sub.cancel_process(pid)
    world.fake.clock.advance(10)  # past the subscription's timeout: still no [] (it ended at the close)
    probe(ws, world, pid, state)  # read once the subscription has ended; answered at once
    next_is_probe(ws, pid, state)


def test_45_after_a_close_a_new_channel_subscription_on_the_socket_gets_404(world: World, ws: WebSocket) -> None:
    pid = world.run()
    ws.send(signed(channel_msg(pid), world.keys["submitter"]))
    world.wait_subscribed(1, pid)
    world.ex.close_process(pid)
    ws.send(signed(channel_msg(pid), world.keys["submitter"]))
    assert error_of(frame(ws)) == (404, CHANNEL_NOT_FOUND)


# --- 46: frame formats ---------------------------------------------------------------------


def test_46_event_channel_and_error_frames_have_their_payloadtypes_and_error_flags(
    world: World, served: FakeColoniesServer
) -> None:
    pid = world.run()
    world.ex.channel_append(pid, "chat", 1, 0, "a")
    kinds: list[Frame] = []
    for message in (process_msg(pid, ProcessState.RUNNING), channel_msg(pid), process_msg(unknown_id(), 1)):
        sock = connect(served)
        try:
            sock.send(signed(message, world.keys["submitter"]))
            kinds.append(frame(sock))
        finally:
            sock.shutdown()
    assert [(f.envelope["payloadtype"], f.envelope["error"]) for f in kinds] == [
        ("subscribeprocessmsg", False),
        ("subscribechannelmsg", False),
        ("error", True),
    ]
    assert all(sorted(f.envelope) == ["error", "payload", "payloadtype"] for f in kinds)
    assert all(f.opcode == ABNF.OPCODE_TEXT for f in kinds)
    assert kinds[2].payload == {"status": 403, "message": kinds[2].payload["message"]}


# --- 9.5: subscribeprocessesmsg ----------------------------------------------------------------


def processes_msg(executortype: str = "test", state: int = 0, timeout: int = 100) -> dict[str, Any]:
    return {
        "msgtype": "subscribeprocessesmsg",
        "colonyname": "dev",
        "executortype": executortype,
        "state": state,
        "timeout": timeout,
    }


@pytest.mark.parametrize("role", ["stranger", "submitter"])
def test_9_5_a_caller_that_is_not_an_executor_gets_error_frame_403(world: World, ws: WebSocket, role: str) -> None:
    ws.send(signed(processes_msg(), world.keys[role]))
    assert error_of(frame(ws)) == (403, EXECUTOR_NOT_FOUND)


def test_9_5_each_submit_of_the_type_wakes_one_subscriber_in_turn(world: World, served: FakeColoniesServer) -> None:
    spare = world.submit()  # WAITING before anyone subscribed: used as a probe
    socks = [connect(served), connect(served)]
    try:
        socks[0].send(signed(processes_msg(), world.keys["executor"]))
        socks[1].send(signed(processes_msg(), world.keys["other-executor"]))
        world.wait_subscribed(2)
        first = world.submit()
        world.submit(executortype="gpu")  # another type: nobody here
        second = world.submit()
        for sock in socks:
            probe(sock, world, spare, ProcessState.WAITING)
        woken = []
        for sock in socks:
            event = process_of(frame(sock))
            assert (event.state, event.spec.conditions.executortype) == (ProcessState.WAITING, "test")
            woken.append(event.processid)
            next_is_probe(sock, spare, ProcessState.WAITING)  # exactly one event per socket
        assert sorted(woken) == sorted([first, second])
    finally:
        for sock in socks:
            sock.shutdown()


def test_9_5_the_socket_is_dropped_at_the_timeout(world: World, ws: WebSocket) -> None:
    ws.send(signed(processes_msg(timeout=3), world.keys["executor"]))
    world.wait_subscribed(1)
    world.fake.clock.advance(3)
    got = receive(ws)
    assert got == DROPPED and got != CLOSE_FRAME
