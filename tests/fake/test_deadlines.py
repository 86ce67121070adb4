"""Wait and exec deadlines, retries and releases (PROTOCOL.md 7.1, 7.3), on the fake clock.

The real server compares whole Unix seconds once a second, so a deadline at
``t0 + n`` fires at ``t0 + n + 1``. The fixture's FakeClock starts on a whole
second, so each test can show the state unchanged one second before.
"""

from __future__ import annotations

import pytest

from colonies_sync import Forbidden, NoProcessAvailable, ProcessState
from tests.fake.helpers import at, server_error, spec

WAIT_EXCEEDED = ["Maximum waiting time limit exceeded"]
EXEC_EXCEEDED = ["Maximum execution time limit exceeded"]
NOT_ASSIGNED_OK = "Failed to close process as successful, process is not assigned"
NOT_ASSIGNED_FAILED = "Failed to close process as failed, process is not assigned"


@pytest.fixture
def second(fake, colony):
    keys = fake.add_executor("dev", "worker-2", "test")
    return keys, fake.client(keys.prvkey)


def test_clock_starts_on_a_whole_second(fake) -> None:
    """Premise of the timing tests below."""
    assert fake.clock.time_ns() % 1_000_000_000 == 0


# --- maxwaittime --------------------------------------------------------------------------


def test_maxwaittime_sets_the_waitdeadline(fake, wc) -> None:
    """waitdeadline = submission + maxwaittime when maxwaittime > 0."""
    p = wc.submit_function_spec(spec(maxwaittime=60))
    assert p.waitdeadline == at(fake, 60)


def test_maxwaittime_expiry_fails_the_waiting_process(fake, wc) -> None:
    """maxwaittime 60: still WAITING after 60 s, FAILED `Maximum waiting time limit exceeded` at 61 s."""
    pid = wc.submit_function_spec(spec(maxwaittime=60)).processid
    fake.clock.advance(60)
    p = wc.get_process(pid)
    assert (p.state, p.errors, p.endtime) == (ProcessState.WAITING, [], None)
    fake.clock.advance(1)
    p = wc.get_process(pid)
    assert (p.state, p.errors) == (ProcessState.FAILED, WAIT_EXCEEDED)
    assert p.endtime == at(fake)
    assert (p.assignedexecutorid, p.isassigned) == ("", False)


def test_a_wait_expired_process_is_no_longer_assignable(fake, wc) -> None:
    wc.submit_function_spec(spec(maxwaittime=1))
    fake.clock.advance(2)
    with server_error(NoProcessAvailable, 404, "No process available for assignment"):
        wc.assign("dev", -1)


def test_maxwaittime_does_not_fire_once_the_process_is_assigned(fake, wc) -> None:
    """The wait deadline only applies to WAITING processes."""
    pid = wc.submit_function_spec(spec(maxwaittime=10)).processid
    wc.assign("dev", -1)
    fake.clock.advance(100)
    p = wc.get_process(pid)
    assert (p.state, p.errors) == (ProcessState.RUNNING, [])


@pytest.mark.parametrize("maxwaittime", [0, -1])
def test_maxwaittime_zero_and_minus_one_never_expire(fake, wc, maxwaittime) -> None:
    """maxwaittime 0 and -1 both mean no wait limit: WAITING after 30 days; no waitdeadline."""
    p = wc.submit_function_spec(spec(maxwaittime=maxwaittime))
    assert p.waitdeadline is None
    fake.clock.advance(30 * 86_400)
    p = wc.get_process(p.processid)
    assert (p.state, p.errors) == (ProcessState.WAITING, [])


# --- maxexectime ----------------------------------------------------------------------


def test_maxexectime_expiry_with_no_retries_fails_the_process(fake, wc, worker) -> None:
    """maxexectime 60, maxretries 0: RUNNING after 60 s, FAILED `Maximum execution time limit exceeded` at 61 s."""
    pid = wc.submit_function_spec(spec(maxexectime=60, maxretries=0)).processid
    assert wc.assign("dev", -1).execdeadline == at(fake, 60)
    fake.clock.advance(60)
    p = wc.get_process(pid)
    assert (p.state, p.errors, p.retries) == (ProcessState.RUNNING, [], 0)
    fake.clock.advance(1)
    p = wc.get_process(pid)
    assert (p.state, p.errors, p.retries) == (ProcessState.FAILED, EXEC_EXCEEDED, 0)
    assert p.endtime == at(fake)
    assert p.assignedexecutorid == worker.id


def test_maxexectime_with_one_retry_releases_then_fails(fake, wc, second) -> None:
    """maxretries 1: first expiry -> WAITING (retries 1, unassigned, endtime set); a second executor
    takes it; the second expiry -> FAILED."""
    keys2, client2 = second
    pid = wc.submit_function_spec(spec(maxexectime=60, maxretries=1)).processid
    wc.assign("dev", -1)
    fake.clock.advance(60)
    assert wc.get_process(pid).state == ProcessState.RUNNING
    fake.clock.advance(1)
    p = wc.get_process(pid)
    assert (p.state, p.retries, p.assignedexecutorid, p.isassigned) == (ProcessState.WAITING, 1, "", False)
    assert p.endtime == at(fake)
    assert p.errors == []

    fake.clock.advance(5)
    p = client2.assign("dev", -1)
    assert (p.processid, p.state, p.assignedexecutorid, p.retries) == (pid, ProcessState.RUNNING, keys2.id, 1)
    assert p.starttime == at(fake)
    assert p.execdeadline == at(fake, 60)
    fake.clock.advance(60)
    assert wc.get_process(pid).state == ProcessState.RUNNING
    fake.clock.advance(1)
    p = wc.get_process(pid)
    assert (p.state, p.errors, p.retries, p.assignedexecutorid) == (
        ProcessState.FAILED,
        EXEC_EXCEEDED,
        1,
        keys2.id,
    )


def test_maxretries_minus_one_requeues_forever(fake, wc) -> None:
    """maxretries -1: every expiry releases the process again; it never fails."""
    pid = wc.submit_function_spec(spec(maxexectime=10, maxretries=-1)).processid
    for round_ in range(1, 6):
        assert wc.assign("dev", -1).processid == pid
        fake.clock.advance(11)
        p = wc.get_process(pid)
        assert (p.state, p.retries, p.errors, p.isassigned) == (ProcessState.WAITING, round_, [], False)


def test_maxexectime_minus_one_never_expires(fake, wc) -> None:
    """maxexectime -1 is the only "no limit" value."""
    pid = wc.submit_function_spec(spec(maxexectime=-1, maxretries=0)).processid
    wc.assign("dev", -1)
    fake.clock.advance(30 * 86_400)
    assert wc.get_process(pid).state == ProcessState.RUNNING


def test_maxexectime_zero_fails_about_a_second_after_assign(fake, wc) -> None:
    """The trap: maxexectime 0 is an already-expired deadline; with maxretries 0 FAILED a second after assign."""
    pid = wc.submit_function_spec(spec(maxexectime=0, maxretries=0)).processid
    fake.clock.advance(100)  # no exec deadline runs while WAITING
    assert wc.get_process(pid).state == ProcessState.WAITING
    p = wc.assign("dev", -1)
    assert (p.state, p.execdeadline) == (ProcessState.RUNNING, None)
    fake.clock.advance(1)
    p = wc.get_process(pid)
    assert (p.state, p.errors, p.execdeadline) == (ProcessState.FAILED, EXEC_EXCEEDED, None)


def test_maxexectime_zero_with_retries_is_released_about_a_second_after_assign(fake, wc) -> None:
    """maxexectime 0 with maxretries 1: back to WAITING a second after assign, retries 1."""
    pid = wc.submit_function_spec(spec(maxexectime=0, maxretries=1)).processid
    wc.assign("dev", -1)
    fake.clock.advance(1)
    p = wc.get_process(pid)
    assert (p.state, p.retries, p.assignedexecutorid) == (ProcessState.WAITING, 1, "")


def test_close_before_the_exec_deadline_wins(fake, wc) -> None:
    """A process closed in time is not touched by its (now stale) deadline."""
    pid = wc.submit_function_spec(spec(maxexectime=60, maxretries=0)).processid
    wc.assign("dev", -1)
    fake.clock.advance(59)
    wc.close_process(pid, ["in time"])
    fake.clock.advance(10)
    p = wc.get_process(pid)
    assert (p.state, p.out, p.errors) == (ProcessState.SUCCESS, ["in time"], [])


def test_old_executor_close_after_release_gets_not_assigned(fake, wc) -> None:
    """After a release the old executor's close/fail gets 403 `... process is not assigned`."""
    pid = wc.submit_function_spec(spec(maxexectime=10, maxretries=1)).processid
    wc.assign("dev", -1)
    fake.clock.advance(11)
    with server_error(Forbidden, 403, NOT_ASSIGNED_OK):
        wc.close_process(pid, ["late"])
    with server_error(Forbidden, 403, NOT_ASSIGNED_FAILED):
        wc.fail_process(pid, ["late"])
    p = wc.get_process(pid)
    assert (p.state, p.out) == (ProcessState.WAITING, [])


def test_release_re_arms_the_wait_deadline(fake, wc) -> None:
    """After a release, waitdeadline = release time + maxwaittime, and it fires from there (PROTOCOL.md 7.1)."""
    pid = wc.submit_function_spec(spec(maxwaittime=30, maxexectime=60, maxretries=1)).processid
    wc.assign("dev", -1)
    fake.clock.advance(61)  # released at t0 + 61
    p = wc.get_process(pid)
    assert (p.state, p.waitdeadline) == (ProcessState.WAITING, at(fake, 30))
    fake.clock.advance(30)
    assert wc.get_process(pid).state == ProcessState.WAITING
    fake.clock.advance(1)
    p = wc.get_process(pid)
    assert (p.state, p.errors) == (ProcessState.FAILED, WAIT_EXCEEDED)


def test_a_release_wakes_a_waiting_assign(fake, wc, second, threads) -> None:
    """The release puts the process back to WAITING, which hands it to a long-polling executor."""
    keys2, client2 = second
    pid = wc.submit_function_spec(spec(maxexectime=10, maxretries=1)).processid
    wc.assign("dev", -1)
    t = threads.start(client2.assign, "dev", 60)
    fake.wait_for_assigns(1)
    fake.clock.advance(11)
    t.finish()
    assert t.error is None
    assert (t.result.processid, t.result.assignedexecutorid, t.result.retries) == (pid, keys2.id, 1)
    assert fake.process(pid).state == ProcessState.RUNNING


def test_cancelled_process_ignores_its_deadlines(fake, wc) -> None:
    pid = wc.submit_function_spec(spec(maxwaittime=5, maxexectime=5, maxretries=0)).processid
    wc.cancel_process(pid)
    fake.clock.advance(60)
    p = wc.get_process(pid)
    assert (p.state, p.errors) == (ProcessState.CANCELLED, [])


def test_stale_wait_deadline_does_not_fire_after_a_release(fake, wc) -> None:
    """maxwaittime 100, released at t0+11: the original t0+100 deadline is void, the re-armed t0+111 one fires."""
    pid = wc.submit_function_spec(spec(maxwaittime=100, maxexectime=10, maxretries=1)).processid
    wc.assign("dev", -1)
    fake.clock.advance(11)
    assert fake.process(pid).waitdeadline == at(fake, 100)
    fake.clock.advance(90)  # t0 + 101: past the original deadline
    p = wc.get_process(pid)
    assert (p.state, p.errors) == (ProcessState.WAITING, [])
    fake.clock.advance(10)  # t0 + 111: the re-armed deadline itself
    assert wc.get_process(pid).state == ProcessState.WAITING
    fake.clock.advance(1)
    p = wc.get_process(pid)
    assert (p.state, p.errors) == (ProcessState.FAILED, WAIT_EXCEEDED)


@pytest.mark.parametrize("maxexectime", [0, -5])
def test_any_maxexectime_other_than_minus_one_is_a_limit(fake, wc, maxexectime) -> None:
    """0 or a negative value other than -1 leaves execdeadline unset, which counts as already expired."""
    pid = wc.submit_function_spec(spec(maxexectime=maxexectime, maxretries=0)).processid
    wc.assign("dev", -1)
    fake.clock.advance(1)
    p = wc.get_process(pid)
    assert (p.state, p.errors) == (ProcessState.FAILED, EXEC_EXCEEDED)


def test_maxretries_below_minus_one_also_requeues_forever(fake, wc) -> None:
    """maxretries < -1 behaves as -1 (PROTOCOL.md 7.3)."""
    pid = wc.submit_function_spec(spec(maxexectime=1, maxretries=-3)).processid
    for round_ in range(1, 4):
        wc.assign("dev", -1)
        fake.clock.advance(2)
        assert (wc.get_process(pid).state, wc.get_process(pid).retries) == (ProcessState.WAITING, round_)


def test_negative_maxwaittime_other_than_minus_one_expires_at_once(fake, wc) -> None:
    """7.3 skips only maxwaittime -1 and 0; with -5 the waitdeadline stays unset (zero time), so the
    next scan fails the process."""
    p = wc.submit_function_spec(spec(maxwaittime=-5))
    assert p.waitdeadline is None
    fake.clock.advance(1)
    p = wc.get_process(p.processid)
    assert (p.state, p.errors) == (ProcessState.FAILED, WAIT_EXCEEDED)
