"""``wait_for_running`` (polling), ``wait_for_state`` and ``wait`` (WebSocket, polling as a fallback).

Issue 5 and DESIGN.md: ``wait_for_running`` returns once the state is no
longer WAITING and does not hang if the process finishes quickly; ``wait``
returns at SUCCESS, FAILED or CANCELLED and re-reads the process, because the
SUCCESS event may be stale (PROTOCOL.md 7.5); all three raise ``WaitTimeout``,
which is also a ``TimeoutError``.

Determinism without sleeps: a wrapping transport acts between two polls, and
the tests wait for the client's subscriptions to be registered on the fake
before they change the process. ``poll_interval=30`` keeps polling out of the
tests that are about events.

Closing the client from another thread ends each wait at once with
``StreamClosed`` ("the client is closed"), the error every call on a closed
client raises: the waits' timeouts, poll intervals and backoff pauses are a
minute there, so only the wake-up on close can end them within ``JOIN``.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any, Callable

import pytest

from colonies_sync import ColoniesClient, ColoniesError, Process, ProcessState, StreamClosed, WaitTimeout
from colonies_sync import _subscription
from tests.subscriptions.helpers import JOIN, Background, World, await_server_release


def _on_first_poll(world: World, wrapper: Any, action: Any) -> None:
    """Run ``action`` once, right after the first ``getprocessmsg`` reply and before the client sees it."""
    done: list[bool] = []

    def after_call(message: dict[str, Any], reply: Any) -> None:
        if message["msgtype"] == "getprocessmsg" and not done:
            done.append(True)
            action()

    wrapper.after_call = after_call


# --- wait_for_running ------------------------------------------------------------------------


def test_wait_for_running_returns_a_process_assigned_and_closed_between_two_polls(world: World) -> None:
    pid = world.submit()
    client, wrapper = world.wrapped("submitter")

    def assign_and_close() -> None:
        assert world.ex.assign("dev", -1).processid == pid
        world.ex.close_process(pid, output=["quick"])

    _on_first_poll(world, wrapper, assign_and_close)
    started = time.monotonic()
    process = client.wait_for_running(pid, timeout=10, poll_interval=0.05)
    assert time.monotonic() - started < JOIN
    assert (process.processid, process.state, process.out) == (pid, ProcessState.SUCCESS, ["quick"])
    assert wrapper.messages == ["getprocessmsg", "getprocessmsg"]  # the first saw WAITING, the second SUCCESS


def test_wait_for_running_returns_the_running_process(world: World) -> None:
    pid = world.submit()
    client, wrapper = world.wrapped("submitter")
    _on_first_poll(world, wrapper, lambda: world.ex.assign("dev", -1))
    process = client.wait_for_running(pid, timeout=10, poll_interval=0.05)
    assert (process.state, process.assignedexecutorid, process.isassigned) == (
        ProcessState.RUNNING,
        world.ex_id,
        True,
    )
    assert wrapper.messages == ["getprocessmsg", "getprocessmsg"]


def test_wait_for_running_returns_at_once_when_not_waiting(world: World) -> None:
    pid = world.run()
    client, wrapper = world.wrapped("submitter")
    assert client.wait_for_running(pid, timeout=10, poll_interval=30).state is ProcessState.RUNNING
    assert wrapper.messages == ["getprocessmsg"]


def test_wait_for_running_times_out_with_wait_timeout_which_is_a_timeout_error(world: World) -> None:
    pid = world.submit()
    client, wrapper = world.wrapped("submitter")
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as info:
        client.wait_for_running(pid, timeout=0.3, poll_interval=0.05)
    elapsed = time.monotonic() - started
    assert isinstance(info.value, TimeoutError)
    assert pid in str(info.value)
    assert 0.3 <= elapsed < JOIN
    assert wrapper.messages.count("getprocessmsg") >= 2


# --- wait_for_state ----------------------------------------------------------------------


def test_wait_for_state_running_returns_on_the_event(world: World) -> None:
    pid = world.submit()
    client, wrapper = world.wrapped("submitter")
    waiter = Background(client.wait_for_state, pid, ProcessState.RUNNING, timeout=10, poll_interval=30)
    waiter.start()
    world.wait_subscribed(1, pid)
    assert world.ex.assign("dev", -1).processid == pid
    process = waiter.finish()
    assert (process.processid, process.state, process.assignedexecutorid) == (pid, ProcessState.RUNNING, world.ex_id)
    assert wrapper.opens == 1
    world.fake.wait_until(lambda: world.fake.subscriptions(pid) == 0, JOIN)  # closed after the first event


def test_wait_for_state_returns_at_once_when_already_in_the_state(world: World) -> None:
    pid = world.run()
    client, wrapper = world.wrapped("submitter")
    assert client.wait_for_state(pid, ProcessState.RUNNING, timeout=10).state is ProcessState.RUNNING
    assert wrapper.opens == 0


def test_wait_for_state_times_out_with_wait_timeout(world: World) -> None:
    pid = world.submit()
    client, _ = world.wrapped("submitter")
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as info:
        client.wait_for_state(pid, ProcessState.RUNNING, timeout=0.3, poll_interval=0.1)
    assert isinstance(info.value, TimeoutError)
    assert 0.3 <= time.monotonic() - started < JOIN


@pytest.mark.parametrize("how", ["wait_for_state", "wait"])
def test_advancing_the_fake_s_clock_past_the_timeout_ends_a_wait_at_once(world: World, how: str) -> None:
    """The client follows the fake's FakeClock: the minute's timeout is not waited out in real time."""
    pid = world.run()
    client, _ = world.wrapped("submitter")
    if how == "wait":
        waiter = Background(client.wait, pid, timeout=60, poll_interval=30)
    else:
        waiter = Background(client.wait_for_state, pid, ProcessState.SUCCESS, timeout=60, poll_interval=30)
    waiter.start()
    world.wait_subscribed(3 if how == "wait" else 1, pid)  # wait: SUCCESS, FAILED, CANCELLED
    world.fake.clock.advance(61)
    error = waiter.failure()
    assert isinstance(error, WaitTimeout)
    world.fake.wait_until(lambda: world.fake.subscriptions(pid) == 0, JOIN)


def test_wait_for_state_falls_back_to_polling_when_streams_cannot_be_opened(world: World) -> None:
    pid = world.submit()
    client, wrapper = world.wrapped("submitter")
    wrapper.refuse_streams = True
    waiter = Background(client.wait_for_state, pid, ProcessState.RUNNING, timeout=10, poll_interval=0.05)
    waiter.start()
    assert wrapper.refused.wait(JOIN)
    assert world.ex.assign("dev", -1).processid == pid
    process = waiter.finish()
    assert (process.state, process.assignedexecutorid) == (ProcessState.RUNNING, world.ex_id)
    assert wrapper.opens == 0


# --- wait ----------------------------------------------------------------------------------


@pytest.mark.parametrize("ending", [ProcessState.SUCCESS, ProcessState.FAILED, ProcessState.CANCELLED])
def test_wait_returns_at_each_terminal_state_with_the_process_re_read(world: World, ending: ProcessState) -> None:
    pid = world.run()
    client, wrapper = world.wrapped("submitter")
    waiter = Background(client.wait, pid, timeout=10, poll_interval=30)
    waiter.start()
    world.wait_subscribed(3, pid)  # SUCCESS, FAILED and CANCELLED on one stream
    if ending is ProcessState.SUCCESS:
        world.ex.close_process(pid, output=["result"])
    elif ending is ProcessState.FAILED:
        world.ex.fail_process(pid, errors=["it broke"])
    else:
        world.sub.cancel_process(pid)
    process = waiter.finish()
    assert process == world.sub.get_process(pid)
    assert process.state is ending
    assert (process.out, process.errors) == {
        ProcessState.SUCCESS: (["result"], []),
        ProcessState.FAILED: ([], ["it broke"]),
        ProcessState.CANCELLED: ([], []),
    }[ending]
    assert process.endtime is not None
    assert wrapper.opens == 1


def test_wait_re_reads_the_process_because_the_success_event_is_stale(world: World) -> None:
    pid = world.run()
    world.ex.set_output(pid, ["early"])
    client, wrapper = world.wrapped("submitter")
    waiter = Background(client.wait, pid, timeout=10, poll_interval=30)
    waiter.start()
    world.wait_subscribed(3, pid)
    world.ex.close_process(pid, output=["final"])
    process = waiter.finish()
    [frame] = wrapper.frames  # the one event the wait received
    event = Process.from_dict(json.loads(base64.b64decode(json.loads(frame)["payload"])))
    assert (event.state, event.out, event.endtime) == (ProcessState.SUCCESS, ["early"], None)  # stale
    assert (process.state, process.out) == (ProcessState.SUCCESS, ["final"])
    assert process.endtime is not None
    assert wrapper.messages[-1] == "getprocessmsg"


def test_wait_returns_at_once_for_a_finished_process(world: World) -> None:
    pid = world.run()
    world.ex.close_process(pid, output=["x"])
    client, wrapper = world.wrapped("submitter")
    process = client.wait(pid, timeout=10)
    assert (process.state, process.out) == (ProcessState.SUCCESS, ["x"])
    assert (wrapper.opens, wrapper.messages) == (0, ["getprocessmsg"])


def test_wait_falls_back_to_polling_when_streams_cannot_be_opened(world: World) -> None:
    pid = world.run()
    client, wrapper = world.wrapped("submitter")
    wrapper.refuse_streams = True
    waiter = Background(client.wait, pid, timeout=10, poll_interval=0.05)
    waiter.start()
    assert wrapper.refused.wait(JOIN)
    world.ex.close_process(pid, output=["polled"])
    process = waiter.finish()
    assert (process.state, process.out) == (ProcessState.SUCCESS, ["polled"])
    assert wrapper.opens == 0
    assert wrapper.refusals >= 1


def test_wait_times_out_with_wait_timeout_which_is_a_timeout_error(world: World) -> None:
    pid = world.run()
    client, _ = world.wrapped("submitter")
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as info:
        client.wait(pid, timeout=0.3, poll_interval=0.1)
    assert isinstance(info.value, TimeoutError)
    assert 0.3 <= time.monotonic() - started < JOIN
    world.fake.wait_until(lambda: world.fake.subscriptions(pid) == 0, JOIN)


# --- close() from another thread ---------------------------------------------------------------

WAITS: dict[str, Callable[[ColoniesClient, str], Process]] = {
    "wait_for_running": lambda client, pid: client.wait_for_running(pid, timeout=60, poll_interval=60),
    "wait_for_state": lambda client, pid: client.wait_for_state(
        pid, ProcessState.RUNNING, timeout=60, poll_interval=60
    ),
    "wait": lambda client, pid: client.wait(pid, timeout=60, poll_interval=60),
}
# What each wait subscribes to on the fake: wait_for_running only polls.
SUBSCRIPTIONS = {"wait_for_running": 0, "wait_for_state": 1, "wait": 3}


def _assert_client_closed(error: BaseException) -> None:
    """The one error for "this client was closed": a StreamClosed (a ColoniesError), also a ValueError."""
    assert isinstance(error, StreamClosed), repr(error)
    assert isinstance(error, ColoniesError) and isinstance(error, ValueError)
    assert str(error) == "the client is closed"


def _count_polls(wrapper: Any) -> Callable[[int], None]:
    """``wait_polls(n)``: until ``n`` getprocessmsg replies reached the client (failing after ``JOIN``)."""
    polls = threading.Condition()
    count = [0]

    def after_call(message: dict[str, Any], reply: Any) -> None:
        if message["msgtype"] == "getprocessmsg":
            with polls:
                count[0] += 1
                polls.notify_all()

    wrapper.after_call = after_call

    def wait_polls(n: int) -> None:
        with polls:
            assert polls.wait_for(lambda: count[0] >= n, JOIN), f"only {count[0]} of {n} polls"

    return wait_polls


@pytest.mark.parametrize("how", list(WAITS))
def test_closing_the_client_ends_a_wait_on_another_thread_at_once_with_stream_closed(world: World, how: str) -> None:
    """The waiter is polling (pausing a minute) or on a stream (quiet for a minute): close() wakes it."""
    pid = world.submit()
    client, wrapper = world.wrapped("submitter")
    wait_polls = _count_polls(wrapper)
    waiter = Background(WAITS[how], client, pid)
    waiter.start()
    wait_polls(1)  # it read the process, WAITING, and went on to wait
    if SUBSCRIPTIONS[how]:
        world.wait_subscribed(SUBSCRIPTIONS[how], pid)
    client.close()
    _assert_client_closed(waiter.failure(JOIN))
    await_server_release(world, pid)
    assert world.fake.process(pid).state is ProcessState.WAITING  # nothing else happened to it


@pytest.mark.parametrize("how", ["wait_for_state", "wait"])
def test_closing_the_client_ends_a_wait_in_its_reconnect_backoff_at_once(world: World, how: str, monkeypatch) -> None:
    """Streams refused: the wait polls and pauses a minute between attempts to connect; close() ends the pause."""
    monkeypatch.setattr(_subscription.random, "uniform", lambda low, high: 60.0)
    pid = world.submit()
    client, wrapper = world.wrapped("submitter")
    wrapper.refuse_streams = True
    wait_polls = _count_polls(wrapper)
    waiter = Background(WAITS[how], client, pid)
    waiter.start()
    assert wrapper.refused.wait(JOIN)
    wait_polls(2)  # the first read, and the poll after the refused stream: next comes the backoff pause
    client.close()
    _assert_client_closed(waiter.failure(JOIN))
    assert wrapper.refusals == 1


@pytest.mark.parametrize("how", list(WAITS))
def test_a_wait_started_after_close_raises_the_same_error(world: World, how: str) -> None:
    pid = world.submit()
    client, wrapper = world.wrapped("submitter")
    client.close()
    with pytest.raises(StreamClosed) as info:
        WAITS[how](client, pid)
    _assert_client_closed(info.value)
    assert (wrapper.messages, wrapper.opens) == ([], 0)


@pytest.mark.parametrize("how", list(WAITS))
def test_closing_one_client_does_not_disturb_another_client_s_wait(world: World, how: str) -> None:
    """The wake-up belongs to the client closed: a wait on another client goes on and returns."""
    pid = world.submit()
    client, wrapper = world.wrapped("submitter")
    other, _ = world.wrapped("submitter")
    wait_polls = _count_polls(wrapper)
    waiter = Background(
        {
            "wait_for_running": lambda: client.wait_for_running(pid, timeout=60, poll_interval=0.05),
            "wait_for_state": lambda: client.wait_for_state(pid, ProcessState.RUNNING, timeout=60, poll_interval=60),
            "wait": lambda: client.wait(pid, timeout=60, poll_interval=60),
        }[how]
    )
    waiter.start()
    wait_polls(1)
    if SUBSCRIPTIONS[how]:
        world.wait_subscribed(SUBSCRIPTIONS[how], pid)
    other.close()
    assert world.ex.assign("dev", -1).processid == pid
    if how == "wait":
        world.ex.close_process(pid, output=["done"])
    process = waiter.finish()
    assert process.state is (ProcessState.SUCCESS if how == "wait" else ProcessState.RUNNING)
