"""``ColoniesClient.subscribe_process``: a thread that reports each time a process is (or enters) a state.

PROTOCOL.md 9.3 (and 7.5 for what an event carries); DESIGN.md "Decisions on
the details": the subscription keeps delivering every entry into the state,
``join()`` re-raises the error it ended with, ``close()`` is idempotent and
prompt; a callback's exception goes to ``on_error``. The server ends a process
subscription by dropping the socket at its timeout; the client's own clock
decides: a drop at its deadline ends the subscription with ``on_close``, an
earlier one (a network failure, or fake time moved past the server's timeout)
is resubscribed for the time left.
"""

from __future__ import annotations

import threading
import time

import pytest

import colonies_sync
from colonies_sync import Forbidden, Process, ProcessState
from colonies_sync._subscription import Subscription
from tests.subscriptions.helpers import (
    JOIN,
    Recorder,
    World,
    assert_server_error,
    invalid_process,
    subscription_threads,
    unknown_id,
)


def subscribe(world: World, pid: str, state: ProcessState, rec: Recorder, timeout: float = 100, client=None):
    client = client or world.sub
    return client.subscribe_process("dev", pid, state, timeout, rec.on_item, **rec.callbacks())


def test_an_event_comes_at_once_when_the_process_is_already_in_the_state(world: World) -> None:
    pid = world.submit()
    rec = Recorder()
    subscribe(world, pid, ProcessState.WAITING, rec, timeout=30)
    [event] = rec.wait_items(1)
    assert isinstance(event, Process)
    assert (event.processid, event.state, event.isassigned) == (pid, ProcessState.WAITING, False)
    assert event == world.sub.get_process(pid)
    sub = world.sub._subscriptions.copy().pop()
    sub.close()
    rec.wait_ended()
    assert len(rec.items) == 1
    assert rec.threads and all(name.startswith("colonies-subscription") for name in rec.threads), rec.threads
    assert threading.current_thread().name not in rec.threads


def test_every_later_entry_into_the_state_is_an_event_running_on_each_of_two_assignments(world: World) -> None:
    pid = world.submit(maxexectime=2, maxretries=3)
    rec = Recorder()
    sub = subscribe(world, pid, ProcessState.RUNNING, rec)
    world.wait_subscribed(1, pid)
    assert world.ex.assign("dev", -1).processid == pid
    [first] = rec.wait_items(1)
    assert (first.processid, first.state, first.assignedexecutorid, first.retries) == (
        pid,
        ProcessState.RUNNING,
        world.ex_id,
        0,
    )
    world.fake.clock.advance(3)  # past the exec deadline: released to WAITING (no RUNNING event)
    released = world.sub.get_process(pid)
    assert (released.state, released.retries) == (ProcessState.WAITING, 1)
    assert world.ex2.assign("dev", -1).processid == pid
    first_again, second = rec.wait_items(2)
    assert first_again == first
    assert (second.processid, second.state, second.assignedexecutorid, second.retries) == (
        pid,
        ProcessState.RUNNING,
        world.ex2_id,
        1,
    )
    assert not sub.closed  # still subscribed after two events
    sub.close()
    rec.wait_ended()
    assert len(rec.items) == 2
    assert (rec.errors, rec.closes) == ([], 1)


def test_the_success_event_may_carry_stale_output_so_compare_with_get_process(world: World) -> None:
    pid = world.run()
    rec = Recorder()
    with subscribe(world, pid, ProcessState.SUCCESS, rec):
        world.wait_subscribed(1, pid)
        world.ex.set_output(pid, ["early"])
        world.ex.close_process(pid, output=["final"])
        [event] = rec.wait_items(1)
    fresh = world.sub.get_process(pid)
    assert (event.processid, event.state) == (pid, ProcessState.SUCCESS)
    assert event.out == ["early"]  # the process as read before the close (PROTOCOL.md 7.5)
    assert event.endtime is None
    assert (fresh.state, fresh.out) == (ProcessState.SUCCESS, ["final"])
    assert fresh.endtime is not None


def test_anyone_with_a_valid_signature_may_subscribe_even_an_unknown_key(world: World) -> None:
    pid = world.submit()
    stranger = world.client("stranger")
    rec = Recorder()
    sub = subscribe(world, pid, ProcessState.WAITING, rec, client=stranger, timeout=30)
    [event] = rec.wait_items(1)
    assert (event.processid, event.state) == (pid, ProcessState.WAITING)
    sub.close()
    rec.wait_ended()
    assert (rec.errors, rec.closes) == ([], 1)


def test_an_unknown_process_ends_with_forbidden_on_error_and_join_re_raises_it(world: World) -> None:
    pid = unknown_id()
    rec = Recorder()
    sub = subscribe(world, pid, ProcessState.SUCCESS, rec)
    rec.wait_ended()
    [error] = rec.errors
    assert_server_error(error, Forbidden, 403, invalid_process(pid))
    assert str(error).count("<") == 0
    with pytest.raises(Forbidden) as info:
        sub.join(JOIN)
    assert info.value is error
    assert sub.error is error
    assert sub.closed
    assert (rec.items, rec.closes) == ([], 0)


def test_it_ends_with_on_close_at_the_client_s_own_deadline(world: World) -> None:
    pid = world.submit()
    rec = Recorder()
    started = time.monotonic()
    sub = subscribe(world, pid, ProcessState.RUNNING, rec, timeout=1)
    world.wait_subscribed(1, pid)
    assert world.ex.assign("dev", -1).processid == pid
    [event] = rec.wait_items(1)
    assert event.state is ProcessState.RUNNING
    rec.wait_ended()
    assert time.monotonic() - started >= 1.0
    sub.join(JOIN)  # ended normally: nothing to re-raise
    assert (rec.closes, rec.errors, sub.error, sub.closed) == (1, [], None, True)
    assert len(rec.items) == 1
    world.fake.wait_until(lambda: world.fake.subscriptions() == 0, JOIN)


@pytest.mark.parametrize("cause", ["network", "server time past the timeout, client not told"])
def test_a_drop_before_the_deadline_is_resubscribed_and_no_event_is_lost(world: World, cause: str) -> None:
    pid = world.submit()
    rec = Recorder()
    # Without server_clock the client knows only real time: a server whose clock ran ahead ended early.
    client = world.sub if cause == "network" else world.client("submitter", server_clock=None)
    with subscribe(world, pid, ProcessState.RUNNING, rec, timeout=60, client=client):
        world.wait_subscribed(1, pid)
        if cause == "network":
            assert world.fake.faults.drop_streams() == 1
        else:
            world.fake.clock.advance(61)  # the fake ends its side of the subscription
        world.wait_subscribed(1, pid)  # the client subscribed again
        assert world.ex.assign("dev", -1).processid == pid
        [event] = rec.wait_items(1)
        assert (event.processid, event.state) == (pid, ProcessState.RUNNING)
        assert not rec.ended.is_set()
    assert (rec.errors, rec.closes) == ([], 1)


def test_advancing_the_fake_s_clock_past_the_timeout_ends_it_at_once(world: World) -> None:
    """Clients of a fake on a FakeClock follow its clock: no real minute is waited out here."""
    pid = world.submit()
    rec = Recorder()
    sub = subscribe(world, pid, ProcessState.RUNNING, rec, timeout=60)
    world.wait_subscribed(1, pid)
    world.fake.clock.advance(61)
    rec.wait_ended()  # JOIN seconds at most, far less than the 60 s timeout
    sub.join(JOIN)
    assert (rec.items, rec.errors, rec.closes) == ([], [], 1)
    world.fake.wait_until(lambda: world.fake.subscriptions() == 0, JOIN)


@pytest.mark.parametrize("steps", [[10.5], [5.0, 5.5], [2.0, 2.0, 2.0, 2.0, 2.0, 0.5]])
def test_a_fractional_timeout_ends_when_the_fake_s_clock_reaches_it_however_it_gets_there(
    world: World, steps: list[float]
) -> None:
    """The fake ends its side at a whole second; the client looks at the fake's clock itself."""
    pid = world.submit()
    rec = Recorder()
    subscribe(world, pid, ProcessState.RUNNING, rec, timeout=10.5)  # longer than the test waits in real time
    world.wait_subscribed(1, pid)
    for step in steps:
        world.fake.clock.advance(step)
    rec.wait_ended()
    assert (rec.items, rec.errors, rec.closes) == ([], [], 1)


def test_the_event_repeated_after_a_resubscription_is_not_delivered_twice(world: World) -> None:
    pid = world.submit(maxexectime=2, maxretries=3)
    assert world.ex.assign("dev", -1).processid == pid
    rec = Recorder()
    with subscribe(world, pid, ProcessState.RUNNING, rec, timeout=60):
        [first] = rec.wait_items(1)  # already RUNNING: sent at once
        world.wait_subscribed(1, pid)
        world.fake.faults.drop_streams()  # a dropped connection no longer counts, at once
        world.wait_subscribed(1, pid)  # resubscribed: the server sends the RUNNING process again
        world.fake.clock.advance(3)  # released to WAITING...
        assert world.ex2.assign("dev", -1).processid == pid  # ...and RUNNING again: a new event
        got = rec.wait_items(2)
    assert got[0] == first
    assert (got[1].assignedexecutorid, got[1].retries) == (world.ex2_id, 1)
    assert len(rec.items) == 2
    assert (rec.errors, rec.closes) == ([], 1)


def test_closing_right_after_subscribing_is_a_normal_end(world: World) -> None:
    pid = world.submit()
    for _ in range(50):
        rec = Recorder()
        subscribe(world, pid, ProcessState.SUCCESS, rec).close()
        rec.wait_ended()
        assert (rec.errors, rec.closes) == ([], 1)


def test_a_callback_exception_goes_to_on_error_ends_the_subscription_and_join_re_raises_it(world: World) -> None:
    pid = world.submit()
    rec = Recorder()
    boom = ValueError("boom in the callback")
    rec.raise_on = boom
    sub = subscribe(world, pid, ProcessState.WAITING, rec)
    rec.wait_ended()
    assert rec.errors == [boom]
    with pytest.raises(ValueError) as info:
        sub.join(JOIN)
    assert info.value is boom
    assert (sub.error, sub.closed, rec.closes, len(rec.items)) == (boom, True, 0, 1)
    world.fake.wait_until(lambda: world.fake.subscriptions(pid) == 0, JOIN)


def test_a_callback_exception_without_on_error_is_not_lost_join_re_raises_it(world: World) -> None:
    pid = world.submit()
    boom = RuntimeError("nobody listens")

    def on_process(process: Process) -> None:
        raise boom

    sub = world.sub.subscribe_process("dev", pid, ProcessState.WAITING, 100, on_process)
    with pytest.raises(RuntimeError) as info:
        sub.join(JOIN)
    assert info.value is boom
    assert sub.error is boom


def test_close_is_prompt_idempotent_and_reports_on_close_once(world: World) -> None:
    pid = world.submit()
    rec = Recorder()
    before = set(threading.enumerate())
    sub = subscribe(world, pid, ProcessState.RUNNING, rec)
    assert isinstance(sub, Subscription)
    world.wait_subscribed(1, pid)
    assert not sub.closed
    started = time.monotonic()
    sub.close()
    assert time.monotonic() - started < 1.0
    assert sub.closed
    assert subscription_threads(before) == []
    started = time.monotonic()
    sub.close()  # again: nothing happens
    sub.close()
    assert time.monotonic() - started < 0.5
    sub.join(JOIN)
    assert (rec.closes, rec.errors, rec.items, sub.error) == (1, [], [], None)
    world.fake.wait_until(lambda: world.fake.subscriptions() == 0, JOIN)


def test_the_context_manager_closes_the_subscription(world: World) -> None:
    pid = world.submit()
    rec = Recorder()
    before = set(threading.enumerate())
    with subscribe(world, pid, ProcessState.RUNNING, rec) as sub:
        world.wait_subscribed(1, pid)
        assert not sub.closed
    assert sub.closed
    assert subscription_threads(before) == []
    assert rec.closes == 1
    world.fake.wait_until(lambda: world.fake.subscriptions() == 0, JOIN)


def test_client_close_stops_every_subscription_it_owns(world: World) -> None:
    pid = world.submit()
    client = world.client("submitter")
    recs = [Recorder(), Recorder()]
    before = set(threading.enumerate())
    subs = [
        subscribe(world, pid, ProcessState.RUNNING, recs[0], client=client),
        subscribe(world, pid, ProcessState.SUCCESS, recs[1], client=client),
    ]
    world.wait_subscribed(2, pid)
    started = time.monotonic()
    client.close()
    assert time.monotonic() - started < 1.0
    assert all(s.closed for s in subs)
    assert subscription_threads(before) == []
    assert [(r.closes, r.errors) for r in recs] == [(1, []), (1, [])]
    world.fake.wait_until(lambda: world.fake.subscriptions() == 0, JOIN)
    with pytest.raises(ValueError):
        subscribe(world, pid, ProcessState.RUNNING, Recorder(), client=client)


def test_subscription_is_exported_from_colonies_sync() -> None:
    """DESIGN.md, public API: ``colonies_sync`` exports ``Subscription`` (the type ``subscribe_*`` return)."""
    assert "Subscription" in colonies_sync.__all__
    assert colonies_sync.Subscription is Subscription


@pytest.mark.parametrize("timeout", [0, -1])
def test_the_timeout_must_be_positive(world: World, timeout: float) -> None:
    pid = world.submit()
    before = set(threading.enumerate())
    with pytest.raises(ValueError):
        world.sub.subscribe_process("dev", pid, ProcessState.RUNNING, timeout, lambda p: None)
    assert subscription_threads(before) == []
