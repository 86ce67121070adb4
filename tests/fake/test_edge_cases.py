"""Edge cases of the lifecycle found in review: reset, a long-poll spanning deadlines, removals, resume."""

from __future__ import annotations

from typing import Iterator

import pytest

from colonies_fake import ColonyKeys, FakeClock, FakeColonies
from colonies_sync import ColoniesConnectionError, FunctionSpec, NoProcessAvailable, ProcessState

from .helpers import Threads


@pytest.fixture
def fake() -> Iterator[FakeColonies]:
    fake = FakeColonies(clock=FakeClock(real_time_cap=False))
    yield fake
    fake.close()
    assert not fake.errors, fake.errors


@pytest.fixture
def colony(fake: FakeColonies) -> ColonyKeys:
    return fake.add_colony("dev")


@pytest.fixture
def threads(fake: FakeColonies) -> Iterator[Threads]:
    started = Threads(fake)
    yield started
    started.shutdown()


def spec(**kwargs: object) -> FunctionSpec:
    return FunctionSpec.create("f", "dev", "cli", **kwargs)  # type: ignore[arg-type]


def test_reset_ends_a_blocked_long_poll_as_a_dropped_connection(
    fake: FakeColonies, colony: ColonyKeys, threads: Threads
) -> None:
    """A reset (the session server fixture does one per test) must not leave a request blocked forever."""
    worker = fake.add_executor("dev", "w", "cli")
    call = threads.start(fake.client(worker.prvkey).assign, "dev", 60)
    fake.wait_for_assigns(1)
    fake.reset()
    call.finish()
    assert isinstance(call.error, ColoniesConnectionError)
    assert fake.waiting_assigns() == 0


def test_a_long_poll_is_not_handed_a_process_released_after_its_own_timeout(
    fake: FakeColonies, colony: ColonyKeys, threads: Threads
) -> None:
    """One advance() past both: the assign answers 404 at its deadline; the release comes later."""
    worker = fake.add_executor("dev", "w", "cli")
    other = fake.add_executor("dev", "other", "cli")
    submitter = fake.client(fake.add_user("dev", "u").prvkey)
    pid = submitter.submit_function_spec(spec(maxexectime=10, maxretries=1)).processid
    fake.client(other.prvkey).assign("dev", timeout=-1)
    call = threads.start(fake.client(worker.prvkey).assign, "dev", 5)
    fake.wait_for_assigns(1)
    fake.clock.advance(20)  # the long-poll expires at +5, the release happens at +11
    call.finish()
    assert isinstance(call.error, NoProcessAvailable)
    assert fake.process(pid).state is ProcessState.WAITING


def test_removing_an_executor_requeues_its_process_which_keeps_its_wait_deadline(
    fake: FakeColonies, colony: ColonyKeys
) -> None:
    worker = fake.add_executor("dev", "w", "cli")
    submitter = fake.client(fake.add_user("dev", "u").prvkey)
    pid = submitter.submit_function_spec(spec(maxwaittime=10)).processid
    fake.client(worker.prvkey).assign("dev", timeout=-1)
    fake.client(colony.prvkey).remove_executor("dev", "w")
    requeued = fake.process(pid)
    assert (requeued.state, requeued.assignedexecutorid, requeued.isassigned) == (ProcessState.WAITING, "", False)
    fake.clock.advance(11)
    failed = fake.process(pid)
    assert failed.state is ProcessState.FAILED and failed.errors == ["Maximum waiting time limit exceeded"]


def test_removing_an_executor_does_not_wake_a_blocked_assign(
    fake: FakeColonies, colony: ColonyKeys, threads: Threads
) -> None:
    """The real server requeues with a plain database update: no event, so a waiting assign sleeps on."""
    worker = fake.add_executor("dev", "w", "cli")
    waiting = fake.add_executor("dev", "waiting", "cli")
    submitter = fake.client(fake.add_user("dev", "u").prvkey)
    pid = submitter.submit_function_spec(spec()).processid
    fake.client(worker.prvkey).assign("dev", timeout=-1)
    call = threads.start(fake.client(waiting.prvkey).assign, "dev", 10)
    fake.wait_for_assigns(1)
    fake.client(colony.prvkey).remove_executor("dev", "w")
    fake.clock.advance(10)
    call.finish()
    assert isinstance(call.error, NoProcessAvailable)
    assert fake.client(waiting.prvkey).assign("dev", timeout=-1).processid == pid  # the next assign finds it


def test_removing_a_colony_removes_its_logs(fake: FakeColonies, colony: ColonyKeys) -> None:
    """Logs are looked up by executor name across colonies: a new colony must not see the old one's."""
    worker = fake.add_executor("dev", "w", "cli")
    client = fake.client(worker.prvkey)
    pid = client.submit_function_spec(spec()).processid
    client.assign("dev", timeout=-1)
    client.add_log(pid, "old secret")
    fake.client(fake.server_prvkey).remove_colony("dev")
    fake.add_colony("dev")
    again = fake.add_executor("dev", "w", "cli")
    assert fake.client(again.prvkey).get_logs("dev", executor_name="w") == []
    assert fake.logs(pid) == []


@pytest.mark.inprocess_only
def test_after_a_resume_a_waiting_assign_gets_the_highest_priority_process(
    fake: FakeColonies, colony: ColonyKeys, threads: Threads
) -> None:
    """A submit landing between the resume and the woken assign must not jump the queue."""
    worker = fake.add_executor("dev", "w", "cli")
    owner = fake.client(colony.prvkey)
    submitter = fake.client(fake.add_user("dev", "u").prvkey)
    owner.pause_assignments("dev")
    call = threads.start(fake.client(worker.prvkey).assign, "dev", 60)
    fake.wait_for_assigns(1)
    urgent = submitter.submit_function_spec(spec(priority=10)).processid
    with fake._lock:  # resume and submit before the woken assign can run
        owner.resume_assignments("dev")
        submitter.submit_function_spec(spec(priority=0))
    call.finish()
    assert call.error is None and call.result.processid == urgent


def test_a_negative_count_gets_the_database_s_limit_error(fake: FakeColonies, colony: ColonyKeys) -> None:
    """The real server passes count on to PostgreSQL's LIMIT, whose error text comes back as a 400."""
    from colonies_sync import BadRequest

    worker = fake.add_executor(colony.name, "w", "cli")
    client = fake.client(worker.prvkey)
    pid = client.submit_function_spec(spec()).processid
    calls = [
        lambda: client.get_processes(colony.name, ProcessState.WAITING, count=-1),
        lambda: client.get_logs(colony.name, process_id=pid, count=-1),
    ]
    for call in calls:
        with pytest.raises(BadRequest) as info:
            call()
        assert (info.value.status, info.value.message) == (400, "pq: LIMIT must not be negative")
    client.close()
