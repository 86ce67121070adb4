"""The assign long-poll and pause/resume (PROTOCOL.md 7.4, 5.5), driven by the fake clock.

Every blocked assign runs on a background thread; the test waits for it to be
parked in the fake (``fake.wait_for_assigns``) instead of sleeping, moves the
fake clock, and joins the thread with a bounded timeout.
"""

from __future__ import annotations

from colonies_fake import FakeColonies
from colonies_sync import Forbidden, NoProcessAvailable, Process, ProcessState, RequestTimeout, ServerError
from tests.fake.helpers import Background, at, server_error, spec

NO_PROCESS = "No process available for assignment"
PAUSED_503 = "No processes available: colony assignments are paused"
PAUSED_408 = "Assignment timeout: colony assignments are paused"


def still_blocked(fake: FakeColonies, thread: Background, n: int = 1) -> None:
    """Assert the long-poll, woken by a clock move, looked at its deadline and parked again.

    The first check always answers "not yet", so ``wait_until`` releases the
    fake's lock once: the woken long-poll then runs (and re-parks or returns)
    before we look, instead of us seeing its stale registration.
    """
    checks: list[int] = []

    def settled() -> bool:
        checks.append(1)
        return len(checks) > 1 and (not thread.is_alive() or fake.waiting_assigns() >= n)

    fake.wait_until(settled)
    assert thread.is_alive(), f"the long-poll returned early: {thread.result!r} / {thread.error!r}"


def assert_no_process(thread: Background) -> None:
    thread.finish()
    assert thread.result is None
    assert isinstance(thread.error, NoProcessAvailable), thread.error
    assert (thread.error.status, thread.error.message) == (404, NO_PROCESS)


def test_long_poll_answers_404_once_the_fake_clock_passes_the_timeout(fake, wc, threads) -> None:
    """assign(timeout=10) blocks; advancing 9 s leaves it blocked, the 10th second ends it with 404."""
    t0 = fake.clock.time()
    t = threads.start(wc.assign, "dev", 10)
    fake.wait_for_assigns(1)
    fake.clock.advance(9)
    still_blocked(fake, t)
    fake.clock.advance(1)
    assert_no_process(t)
    assert t.ended_at == t0 + 10
    assert fake.waiting_assigns() == 0


def test_submit_wakes_a_waiting_assign_without_moving_the_clock(fake, wc, worker, threads) -> None:
    """A process submitted during the long-poll is handed to it at once (PROTOCOL.md 7.4)."""
    t = threads.start(wc.assign, "dev", 10)
    fake.wait_for_assigns(1)
    submitter = fake.client(fake.add_user("dev", "alice").prvkey)
    pid = submitter.submit_function_spec(spec()).processid
    t.finish()
    assert t.error is None
    assert isinstance(t.result, Process)
    assert (t.result.processid, t.result.state, t.result.assignedexecutorid) == (
        pid,
        ProcessState.RUNNING,
        worker.id,
    )
    assert t.result.starttime == at(fake)
    assert t.ended_at == fake.clock.time()


def test_a_submit_wakes_exactly_one_of_several_waiting_assigns(fake, wc, threads) -> None:
    """Three executors long-poll; one submit goes to exactly one of them, the others time out with 404."""
    keys = [fake.add_executor("dev", f"poller-{i}", "test") for i in range(3)]
    polls = [threads.start(fake.client(k.prvkey).assign, "dev", 10) for k in keys]
    fake.wait_for_assigns(3)
    pid = wc.submit_function_spec(spec()).processid
    fake.wait_until(lambda: fake.waiting_assigns() == 2)
    p = fake.process(pid)
    assert p.state == ProcessState.RUNNING
    assert p.assignedexecutorid in {k.id for k in keys}
    t0 = fake.clock.time()
    # The winner returns without any time passing (over HTTP its reply takes a moment to arrive).
    fake.wait_until(lambda: sum(not t.is_alive() for t in polls) == 1)
    fake.clock.advance(10)
    for t in polls:
        t.finish()
    winners = [t for t in polls if t.error is None]
    assert len(winners) == 1
    assert winners[0].result.processid == pid
    assert winners[0].ended_at == t0
    assert sorted(t.ended_at for t in polls if t is not winners[0]) == [t0 + 10, t0 + 10]
    assert winners[0].result.assignedexecutorid == p.assignedexecutorid
    for t in polls:
        if t is not winners[0]:
            assert_no_process(t)


def test_two_submits_feed_two_waiting_assigns_one_each(fake, wc, threads) -> None:
    """Each new WAITING process wakes one waiter: two submits, two distinct assignments."""
    keys = [fake.add_executor("dev", f"poller-{i}", "test") for i in range(2)]
    polls = [threads.start(fake.client(k.prvkey).assign, "dev", 10) for k in keys]
    fake.wait_for_assigns(2)
    pids = {wc.submit_function_spec(spec()).processid for _ in range(2)}
    for t in polls:
        t.finish()
        assert t.error is None
    assert {t.result.processid for t in polls} == pids
    assert {t.result.assignedexecutorid for t in polls} == {k.id for k in keys}


def test_a_submit_for_another_executortype_does_not_wake_the_waiter(fake, wc, threads) -> None:
    """A `gpu` long-poll is not woken by a `test` process; it times out and the process stays WAITING."""
    gpu = fake.client(fake.add_executor("dev", "gpu-1", "gpu").prvkey)
    t = threads.start(gpu.assign, "dev", 10)
    fake.wait_for_assigns(1)
    pid = wc.submit_function_spec(spec(executortype="test")).processid
    assert fake.process(pid).state == ProcessState.WAITING
    assert t.is_alive()
    fake.clock.advance(10)
    assert_no_process(t)
    assert fake.process(pid).state == ProcessState.WAITING


def test_a_waiting_process_is_taken_at_once_by_a_long_poll(fake, wc, worker) -> None:
    """With work already WAITING, assign(timeout=10) returns immediately (no thread needed)."""
    pid = wc.submit_function_spec(spec()).processid
    p = wc.assign("dev", 10)
    assert (p.processid, p.assignedexecutorid) == (pid, worker.id)


# --- pause / resume ----------------------------------------------------------------------


def test_pause_status_follows_pause_and_resume(fake, owner, wc) -> None:
    """getpausestatus: False, then True after pause, False after resume."""
    assert wc.get_pause_status("dev") is False
    owner.pause_assignments("dev")
    assert wc.get_pause_status("dev") is True
    owner.resume_assignments("dev")
    assert wc.get_pause_status("dev") is False


def test_pause_status_is_readable_by_a_pending_executor(fake, colony, owner) -> None:
    """getpausestatus needs member(any) only."""
    pending = fake.client(fake.add_executor("dev", "newbie", "test", approved=False).prvkey)
    owner.pause_assignments("dev")
    assert pending.get_pause_status("dev") is True


def test_pause_and_resume_need_the_colony_owner(fake, wc) -> None:
    """An executor pausing or resuming gets 403 `Access denied, not colony owner`."""
    with server_error(Forbidden, 403, "Access denied, not colony owner"):
        wc.pause_assignments("dev")
    with server_error(Forbidden, 403, "Access denied, not colony owner"):
        wc.resume_assignments("dev")
    assert wc.get_pause_status("dev") is False


def test_assign_with_negative_timeout_while_paused_is_503(fake, owner, wc) -> None:
    """Paused colony, timeout -1: 503 even though a process is WAITING; it stays WAITING."""
    pid = wc.submit_function_spec(spec()).processid
    owner.pause_assignments("dev")
    with server_error(ServerError, 503, PAUSED_503):
        wc.assign("dev", -1)
    assert fake.process(pid).state == ProcessState.WAITING


def test_assign_with_positive_timeout_while_paused_is_408_after_the_timeout(fake, owner, wc, threads) -> None:
    """Paused colony, timeout 5: blocked until the clock passes 5 s, then 408; the process stays WAITING."""
    pid = wc.submit_function_spec(spec()).processid
    owner.pause_assignments("dev")
    t0 = fake.clock.time()
    t = threads.start(wc.assign, "dev", 5)
    fake.wait_for_assigns(1)
    fake.clock.advance(4)
    still_blocked(fake, t)
    fake.clock.advance(1)
    t.finish()
    assert t.ended_at == t0 + 5
    assert isinstance(t.error, RequestTimeout), t.error
    assert (t.error.status, t.error.message) == (408, PAUSED_408)
    assert fake.process(pid).state == ProcessState.WAITING


def test_resume_lets_a_waiting_assign_take_the_process(fake, owner, wc, worker, threads) -> None:
    """While paused, a submit is not handed to the waiting assign; resume hands it over at once."""
    owner.pause_assignments("dev")
    t = threads.start(wc.assign, "dev", 10)
    fake.wait_for_assigns(1)
    pid = wc.submit_function_spec(spec()).processid
    assert fake.process(pid).state == ProcessState.WAITING
    assert t.is_alive()
    owner.resume_assignments("dev")
    t.finish()
    assert t.ended_at == fake.clock.time()  # no clock move needed
    assert t.error is None
    assert (t.result.processid, t.result.assignedexecutorid) == (pid, worker.id)
    assert fake.process(pid).state == ProcessState.RUNNING


def test_single_attempt_works_again_after_resume(fake, owner, wc) -> None:
    pid = wc.submit_function_spec(spec()).processid
    owner.pause_assignments("dev")
    owner.resume_assignments("dev")
    assert wc.assign("dev", -1).processid == pid
