"""The process state machine: every transition and every refusal of PROTOCOL.md 7.1 (texts of 5.5-5.7)."""

from __future__ import annotations

import hashlib
from typing import Callable

import pytest

from colonies_fake import ColonyKeys, ExecutorKeys, FakeColonies
from colonies_sync import (
    AttributeType,
    BadRequest,
    ColoniesClient,
    Crypto,
    Forbidden,
    InternalServerError,
    NotFound,
    ProcessNotFound,
    ProcessState,
)
from tests.fake.helpers import at, server_error, spec

NOT_ASSIGNED_OK = "Failed to close process as successful, process is not assigned"
NOT_ASSIGNED_FAILED = "Failed to close process as failed, process is not assigned"
NOT_ALLOWED_OK = "Failed to close process as successful, not allowed to close process as successful"
NOT_ALLOWED_FAILED = "Failed to close process as failed, not allowed to close process as failed"
SET_OUTPUT_NOT_RUNNING = "Failed to set output, process is not running"
ATTRIBUTE_NOT_RUNNING = "Failed to add attribute, process is not running"
LOG_NOT_ALLOWED = "Failed to add log, not allowed to add log, only the assigned Executor may att logs"


@pytest.fixture
def other(fake: FakeColonies, colony: ColonyKeys) -> ExecutorKeys:
    """A second approved executor of ``dev`` with the same type as ``worker-1``."""
    return fake.add_executor("dev", "worker-2", "test")


@pytest.fixture
def oc(fake: FakeColonies, other: ExecutorKeys) -> ColoniesClient:
    return fake.client(other.prvkey)


def _waiting(fake: FakeColonies, wc: ColoniesClient) -> str:
    return wc.submit_function_spec(spec()).processid


def _running(fake: FakeColonies, wc: ColoniesClient) -> str:
    pid = _waiting(fake, wc)
    assert wc.assign("dev", -1).processid == pid
    return pid


def _success(fake: FakeColonies, wc: ColoniesClient) -> str:
    pid = _running(fake, wc)
    wc.close_process(pid, ["done"])
    return pid


def _failed(fake: FakeColonies, wc: ColoniesClient) -> str:
    pid = _running(fake, wc)
    wc.fail_process(pid, ["boom"])
    return pid


def _cancelled_waiting(fake: FakeColonies, wc: ColoniesClient) -> str:
    pid = _waiting(fake, wc)
    wc.cancel_process(pid)
    return pid


def _cancelled_running(fake: FakeColonies, wc: ColoniesClient) -> str:
    pid = _running(fake, wc)
    wc.cancel_process(pid)
    return pid


def _released(fake: FakeColonies, wc: ColoniesClient) -> str:
    """Assigned to worker-1, then put back to WAITING by its exec deadline (one retry left)."""
    pid = wc.submit_function_spec(spec(maxexectime=1, maxretries=1)).processid
    assert wc.assign("dev", -1).processid == pid
    fake.clock.advance(2)
    p = fake.process(pid)
    assert (p.state, p.retries, p.assignedexecutorid) == (ProcessState.WAITING, 1, "")
    return pid


MAKERS: dict[str, Callable[[FakeColonies, ColoniesClient], str]] = {
    "waiting": _waiting,
    "running": _running,
    "success": _success,
    "failed": _failed,
    "cancelled-waiting": _cancelled_waiting,
    "cancelled-running": _cancelled_running,
    "released": _released,
}
STATE_OF = {
    "waiting": ProcessState.WAITING,
    "running": ProcessState.RUNNING,
    "success": ProcessState.SUCCESS,
    "failed": ProcessState.FAILED,
    "cancelled-waiting": ProcessState.CANCELLED,
    "cancelled-running": ProcessState.CANCELLED,
    "released": ProcessState.WAITING,
}


def make(fake: FakeColonies, wc: ColoniesClient, name: str) -> str:
    pid = MAKERS[name](fake, wc)
    assert fake.process(pid).state == STATE_OF[name]
    return pid


# --- accepted transitions -----------------------------------------------------------------


def test_submit_creates_a_waiting_process_owned_by_the_caller(fake, wc, worker) -> None:
    """(new) -> WAITING: state 0, unassigned, initiator = the submitting executor, no start/end time."""
    p = wc.submit_function_spec(spec(args=["hello"]))
    assert p.state == ProcessState.WAITING
    assert len(p.processid) == 64 and int(p.processid, 16) >= 0
    assert (p.initiatorid, p.initiatorname) == (worker.id, "worker-1")
    assert (p.assignedexecutorid, p.isassigned, p.retries) == ("", False, 0)
    assert p.submissiontime == at(fake)
    assert (p.starttime, p.endtime, p.waitdeadline, p.execdeadline) == (None, None, None, None)
    assert (p.out, p.errors, p.spec.args) == ([], [], ["hello"])
    assert fake.process(p.processid).state == ProcessState.WAITING


def test_assign_moves_waiting_to_running_and_records_the_executor(fake, wc, worker) -> None:
    """WAITING -> RUNNING: isassigned, assignedexecutorid = caller, starttime now, execdeadline now+maxexectime."""
    pid = wc.submit_function_spec(spec(maxexectime=30)).processid
    fake.clock.advance(5)
    p = wc.assign("dev", -1)
    assert p.processid == pid
    assert (p.state, p.isassigned, p.assignedexecutorid) == (ProcessState.RUNNING, True, worker.id)
    assert p.starttime == at(fake)
    assert p.execdeadline == at(fake, 30)
    stored = fake.process(pid)
    assert (stored.state, stored.assignedexecutorid, stored.starttime) == (ProcessState.RUNNING, worker.id, at(fake))


def test_assign_leaves_execdeadline_unset_when_maxexectime_is_not_positive(fake, wc) -> None:
    """execdeadline is only set when maxexectime > 0 (PROTOCOL.md 6.1)."""
    wc.submit_function_spec(spec(maxexectime=-1))
    assert wc.assign("dev", -1).execdeadline is None


def test_close_successful_moves_running_to_success_with_output(fake, wc) -> None:
    """RUNNING -> SUCCESS by the assigned executor: output stored, endtime = now, still assigned."""
    pid = make(fake, wc, "running")
    fake.clock.advance(3)
    wc.close_process(pid, ["result", 42])
    p = wc.get_process(pid)
    assert p.state == ProcessState.SUCCESS
    assert p.out == ["result", 42]
    assert p.endtime == at(fake)
    assert (p.isassigned, p.errors) == (True, [])


def test_repeat_close_successful_is_accepted_and_replaces_output_and_endtime(fake, wc) -> None:
    """SUCCESS -> SUCCESS: a second close succeeds, overwrites the output and moves endtime."""
    pid = make(fake, wc, "running")
    wc.close_process(pid, ["first"])
    first_end = wc.get_process(pid).endtime
    fake.clock.advance(7)
    wc.close_process(pid, ["second"])
    p = wc.get_process(pid)
    assert (p.state, p.out) == (ProcessState.SUCCESS, ["second"])
    assert p.endtime == at(fake)
    assert p.endtime != first_end


def test_repeat_close_successful_without_output_keeps_the_previous_output(fake, wc) -> None:
    """A close with an empty ``out`` keeps what was stored before (PROTOCOL.md 5.5)."""
    pid = make(fake, wc, "running")
    wc.close_process(pid, ["kept"])
    wc.close_process(pid)
    assert wc.get_process(pid).out == ["kept"]


def test_close_failed_moves_running_to_failed_with_errors(fake, wc) -> None:
    """RUNNING -> FAILED by the assigned executor: errors stored, endtime = now."""
    pid = make(fake, wc, "running")
    fake.clock.advance(2)
    wc.fail_process(pid, ["bad input", "gave up"])
    p = wc.get_process(pid)
    assert (p.state, p.errors) == (ProcessState.FAILED, ["bad input", "gave up"])
    assert p.endtime == at(fake)
    assert (p.assignedexecutorid, p.isassigned) == (wc.id, True)


def test_close_failed_with_null_errors_stores_null(fake, wc) -> None:
    """closefailed with `errors: null` stores NULL; reads then show `null` (PROTOCOL.md 5.5)."""
    pid = make(fake, wc, "running")
    wc.rpc("closefailedmsg", {"processid": pid, "errors": None})
    raw = wc.rpc("getprocessmsg", {"processid": pid})
    assert (raw["state"], raw["errors"]) == (3, None)


def test_cancel_waiting_process(fake, wc) -> None:
    """WAITING -> CANCELLED: endtime set, never assigned, no longer assignable."""
    pid = make(fake, wc, "waiting")
    fake.clock.advance(1)
    wc.cancel_process(pid)
    p = wc.get_process(pid)
    assert (p.state, p.assignedexecutorid, p.isassigned) == (ProcessState.CANCELLED, "", False)
    assert p.endtime == at(fake)
    with server_error(NotFound, 404, "No process available for assignment"):
        wc.assign("dev", -1)


def test_cancel_running_process_keeps_the_assignment(fake, wc, worker) -> None:
    """RUNNING -> CANCELLED keeps assignedexecutorid and isassigned (PROTOCOL.md 5.5)."""
    pid = make(fake, wc, "running")
    wc.cancel_process(pid)
    p = wc.get_process(pid)
    assert (p.state, p.assignedexecutorid, p.isassigned) == (ProcessState.CANCELLED, worker.id, True)
    assert p.endtime == at(fake)


@pytest.mark.parametrize("who", ["other-executor", "user"])
def test_any_approved_member_may_cancel_not_only_the_submitter(fake, wc, oc, who) -> None:
    """Cancel is allowed for every approved member of the colony (PROTOCOL.md 7.1)."""
    pid = make(fake, wc, "running")
    canceller = oc if who == "other-executor" else fake.client(fake.add_user("dev", "alice").prvkey)
    canceller.cancel_process(pid)
    assert fake.process(pid).state == ProcessState.CANCELLED


def test_set_output_replaces_the_output_of_a_running_process(fake, wc) -> None:
    """setoutput on RUNNING replaces the output; an empty list is a no-op; a later close without out keeps it."""
    pid = make(fake, wc, "running")
    wc.set_output(pid, ["a"])
    wc.set_output(pid, ["b", "c"])
    assert wc.get_process(pid).out == ["b", "c"]
    wc.set_output(pid, [])
    assert wc.get_process(pid).out == ["b", "c"]
    assert wc.get_process(pid).state == ProcessState.RUNNING
    wc.close_process(pid)
    assert (wc.get_process(pid).state, wc.get_process(pid).out) == (ProcessState.SUCCESS, ["b", "c"])


def test_add_log_to_a_running_process(fake, wc) -> None:
    """addlog on RUNNING by the assigned executor stores executorname and a nanosecond timestamp."""
    pid = make(fake, wc, "running")
    fake.clock.advance(4)
    wc.add_log(pid, "step 1")
    logs = wc.get_logs("dev", pid)
    assert [(log.processid, log.colonyname, log.executorname, log.message) for log in logs] == [
        (pid, "dev", "worker-1", "step 1")
    ]
    assert logs[0].timestamp == fake.clock.time_ns()


def test_add_attribute_to_a_running_process(fake, wc) -> None:
    """addattribute on RUNNING: id = SHA3-256(targetid + key + type); it shows up on the process."""
    pid = make(fake, wc, "running")
    attribute = wc.add_attribute(pid, "answer", "42")
    expected_id = hashlib.sha3_256(f"{pid}answer{int(AttributeType.OUT)}".encode()).hexdigest()
    assert attribute.attributeid == expected_id
    assert (attribute.targetid, attribute.key, attribute.value) == (pid, "answer", "42")
    assert attribute.attributetype == AttributeType.OUT
    assert [(a.attributeid, a.key, a.value) for a in wc.get_process(pid).attributes] == [(expected_id, "answer", "42")]
    assert wc.get_attribute(expected_id).value == "42"


@pytest.mark.parametrize("name", ["waiting", "success", "failed", "cancelled-waiting", "cancelled-running"])
def test_remove_deletes_a_process_that_is_not_running(fake, wc, name) -> None:
    """Any non-RUNNING process -> deleted; getprocess then answers 404."""
    pid = make(fake, wc, name)
    wc.remove_process(pid)
    with server_error(ProcessNotFound, 404, "Failed to get process, process not found"):
        wc.get_process(pid)
    with pytest.raises(KeyError):
        fake.process(pid)


def test_remove_all_with_state_minus_one_deletes_running_processes_too(fake, wc, owner) -> None:
    """removeallprocesses state -1 deletes every state, RUNNING included (colony owner)."""
    pids = [make(fake, wc, name) for name in ("running", "success", "failed", "cancelled-running", "waiting")]
    owner.remove_all_processes("dev", -1)
    assert fake.processes("dev") == []
    for pid in pids:
        with server_error(ProcessNotFound, 404, "Failed to get process, process not found"):
            wc.get_process(pid)


# --- refused transitions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cls", "status", "message"),
    [
        ("waiting", Forbidden, 403, NOT_ASSIGNED_OK),
        ("cancelled-waiting", Forbidden, 403, NOT_ASSIGNED_OK),
        ("released", Forbidden, 403, NOT_ASSIGNED_OK),
        ("failed", BadRequest, 400, "Tried to set failed process as successful"),
        ("cancelled-running", BadRequest, 400, "Tried to set cancelled process as successful"),
    ],
)
def test_close_successful_is_refused(fake, wc, name, cls, status, message) -> None:
    """closesuccessful on a never-assigned/released (403) or FAILED/CANCELLED (400) process; state unchanged."""
    pid = make(fake, wc, name)
    before = fake.process(pid)
    with server_error(cls, status, message):
        wc.close_process(pid, ["x"])
    after = fake.process(pid)
    assert (after.state, after.out, after.endtime) == (before.state, before.out, before.endtime)


@pytest.mark.parametrize(
    ("name", "cls", "status", "message"),
    [
        ("waiting", Forbidden, 403, NOT_ASSIGNED_FAILED),
        ("cancelled-waiting", Forbidden, 403, NOT_ASSIGNED_FAILED),
        ("released", Forbidden, 403, NOT_ASSIGNED_FAILED),
        ("success", BadRequest, 400, "Tried to set successful process as failed"),
        ("failed", BadRequest, 400, "Tried to set failed process as failed"),
        ("cancelled-running", BadRequest, 400, "Tried to set cancelled process as failed"),
    ],
)
def test_close_failed_is_refused(fake, wc, name, cls, status, message) -> None:
    """closefailed on a never-assigned/released (403) or SUCCESS/FAILED/CANCELLED (400) process; state unchanged."""
    pid = make(fake, wc, name)
    before = fake.process(pid)
    with server_error(cls, status, message):
        wc.fail_process(pid, ["x"])
    after = fake.process(pid)
    assert (after.state, after.errors) == (before.state, before.errors)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("success", "Tried to cancel successful process"),
        ("failed", "Tried to cancel failed process"),
        ("cancelled-waiting", "Tried to cancel already cancelled process"),
        ("cancelled-running", "Tried to cancel already cancelled process"),
    ],
)
def test_cancel_of_a_finished_process_is_refused(fake, wc, name, message) -> None:
    """cancel of SUCCESS / FAILED / CANCELLED -> 400 with the server's text; state unchanged."""
    pid = make(fake, wc, name)
    with server_error(BadRequest, 400, message):
        wc.cancel_process(pid)
    assert fake.process(pid).state == STATE_OF[name]


def test_remove_of_a_running_process_is_refused(fake, wc) -> None:
    """removeprocess of RUNNING -> 400; the process stays RUNNING."""
    pid = make(fake, wc, "running")
    with server_error(BadRequest, 400, "Failed to remove process, cannot remove a running process"):
        wc.remove_process(pid)
    assert fake.process(pid).state == ProcessState.RUNNING


@pytest.mark.parametrize(
    ("name", "message"),
    [
        # setoutput checks the executor before the state: a WAITING process has no executor.
        ("waiting", NOT_ALLOWED_OK),
        ("released", NOT_ALLOWED_OK),
        ("success", SET_OUTPUT_NOT_RUNNING),
        ("failed", SET_OUTPUT_NOT_RUNNING),
        ("cancelled-running", SET_OUTPUT_NOT_RUNNING),
    ],
)
def test_set_output_outside_running_is_refused(fake, wc, name, message) -> None:
    """setoutput on a non-RUNNING process -> 403 (`not allowed` on WAITING, `not running` once closed)."""
    pid = make(fake, wc, name)
    before = fake.process(pid).out
    with server_error(Forbidden, 403, message):
        wc.set_output(pid, ["late"])
    assert fake.process(pid).out == before


@pytest.mark.parametrize("name", ["waiting", "released", "success", "failed", "cancelled-running"])
def test_add_log_outside_running_is_refused(fake, wc, name) -> None:
    """addlog on a non-RUNNING process -> 403 `Failed to set output, process is not running` (sic)."""
    pid = make(fake, wc, name)
    with server_error(Forbidden, 403, SET_OUTPUT_NOT_RUNNING):
        wc.add_log(pid, "late")
    assert fake.logs(pid) == []


@pytest.mark.parametrize("name", ["waiting", "released", "success", "failed", "cancelled-running"])
def test_add_attribute_outside_running_is_refused(fake, wc, name) -> None:
    """addattribute on a non-RUNNING process -> 403 `Failed to add attribute, process is not running`."""
    pid = make(fake, wc, name)
    with server_error(Forbidden, 403, ATTRIBUTE_NOT_RUNNING):
        wc.add_attribute(pid, "k", "v")
    assert [a.key for a in fake.process(pid).attributes] == []


def test_close_successful_by_another_executor_is_refused(fake, wc, oc, worker) -> None:
    """Only the assigned executor may close: another one gets 403 `not allowed`, the process stays RUNNING."""
    pid = make(fake, wc, "running")
    with server_error(Forbidden, 403, NOT_ALLOWED_OK):
        oc.close_process(pid, ["stolen"])
    p = fake.process(pid)
    assert (p.state, p.assignedexecutorid, p.out) == (ProcessState.RUNNING, worker.id, [])


def test_close_failed_by_another_executor_is_refused(fake, wc, oc) -> None:
    """closefailed by a non-assigned executor -> 403 `... not allowed to close process as failed`."""
    pid = make(fake, wc, "running")
    with server_error(Forbidden, 403, NOT_ALLOWED_FAILED):
        oc.fail_process(pid, ["nope"])
    assert fake.process(pid).state == ProcessState.RUNNING


def test_close_by_a_user_of_the_colony_is_refused(fake, wc) -> None:
    """A user (a member, but not the assigned executor) gets the `not allowed` 403 too."""
    pid = make(fake, wc, "running")
    alice = fake.client(fake.add_user("dev", "alice").prvkey)
    with server_error(Forbidden, 403, NOT_ALLOWED_OK):
        alice.close_process(pid)
    with server_error(Forbidden, 403, NOT_ALLOWED_FAILED):
        alice.fail_process(pid)


def test_set_output_by_another_executor_is_refused(fake, wc, oc) -> None:
    """setoutput by a non-assigned executor -> 403 with the close-successful text (sic)."""
    pid = make(fake, wc, "running")
    with server_error(Forbidden, 403, NOT_ALLOWED_OK):
        oc.set_output(pid, ["x"])
    assert fake.process(pid).out == []


def test_add_log_by_another_executor_is_refused(fake, wc, oc) -> None:
    """addlog by a non-assigned executor of a RUNNING process -> 403 `... may att logs` (sic)."""
    pid = make(fake, wc, "running")
    with server_error(Forbidden, 403, LOG_NOT_ALLOWED):
        oc.add_log(pid, "x")
    assert fake.logs(pid) == []


def test_add_attribute_by_another_executor_names_the_assigned_one(fake, wc, oc, worker) -> None:
    """addattribute by a non-assigned executor -> 403 naming the assigned executor's id."""
    pid = make(fake, wc, "running")
    message = f"Failed to add attribute, only executor with id <{worker.id}> is allowed to set attributes"
    with server_error(Forbidden, 403, message):
        oc.add_attribute(pid, "k", "v")


def test_not_running_check_comes_before_the_executor_check_for_logs_and_attributes(fake, wc, oc) -> None:
    """On a closed process another executor sees `not running`, not `not allowed` (PROTOCOL.md 5.6, 5.7)."""
    pid = make(fake, wc, "success")
    with server_error(Forbidden, 403, SET_OUTPUT_NOT_RUNNING):
        oc.add_log(pid, "x")
    with server_error(Forbidden, 403, ATTRIBUTE_NOT_RUNNING):
        oc.add_attribute(pid, "k", "v")


def test_close_after_release_and_reassign_gets_not_allowed(fake, wc, oc, other) -> None:
    """After a timeout release and a new assign, the old executor's close gets `not allowed` (PROTOCOL.md 7.3)."""
    pid = make(fake, wc, "released")
    assert oc.assign("dev", -1).processid == pid
    with server_error(Forbidden, 403, NOT_ALLOWED_OK):
        wc.close_process(pid)
    with server_error(Forbidden, 403, NOT_ALLOWED_FAILED):
        wc.fail_process(pid)
    oc.close_process(pid, ["ok"])
    p = fake.process(pid)
    assert (p.state, p.assignedexecutorid, p.out) == (ProcessState.SUCCESS, other.id, ["ok"])


UNKNOWN = "0" * 64


@pytest.mark.parametrize(
    ("call", "cls", "status", "message"),
    [
        (
            lambda c: c.close_process(UNKNOWN),
            InternalServerError,
            500,
            "Failed to close process as successful, process is nil",
        ),
        (
            lambda c: c.fail_process(UNKNOWN),
            InternalServerError,
            500,
            "Failed to close process as failed, process is nil",
        ),
        (lambda c: c.set_output(UNKNOWN, ["x"]), InternalServerError, 500, "Failed to set output, process is nil"),
        (lambda c: c.cancel_process(UNKNOWN), InternalServerError, 500, "Failed to cancel process, process is nil"),
        (lambda c: c.remove_process(UNKNOWN), InternalServerError, 500, "Failed to remove process, process is nil"),
        (lambda c: c.add_log(UNKNOWN, "x"), InternalServerError, 500, "Failed to add log, process is nil"),
        (
            lambda c: c.add_attribute(UNKNOWN, "k", "v"),
            ProcessNotFound,
            404,
            "Failed to add attribute, process not found",
        ),
        (lambda c: c.get_process(UNKNOWN), ProcessNotFound, 404, "Failed to get process, process not found"),
    ],
    ids=["close", "fail", "setoutput", "cancel", "remove", "addlog", "addattribute", "getprocess"],
)
@pytest.mark.parametrize("who", ["executor", "stranger"])
def test_operations_on_an_unknown_process(fake, colony, wc, who, call, cls, status, message) -> None:
    """Each process RPC on an id that does not exist answers its own `process is nil` / `not found` error;
    the lookup comes before authorisation, so an unknown key gets the same answer."""
    client = wc if who == "executor" else fake.client(Crypto().generate_private_key())
    with server_error(cls, status, message):
        call(client)


def test_attribute_state_follows_the_process_state(fake, wc, worker) -> None:
    """Attribute.state mirrors its process: updated on assign/close, 0 again after a release (PROTOCOL.md 6.7)."""
    pid = wc.submit_function_spec(spec(env={"E": "1"}, maxexectime=10, maxretries=1)).processid
    assert [a.state for a in fake.process(pid).attributes] == [ProcessState.WAITING]
    wc.assign("dev", -1)
    assert [a.state for a in wc.get_process(pid).attributes] == [ProcessState.RUNNING]
    out = wc.add_attribute(pid, "k", "v", colony_name="dev")
    assert (out.targetcolonyname, out.targetprocessgraphid) == ("dev", "")
    fake.clock.advance(11)  # released
    assert sorted(a.state for a in wc.get_process(pid).attributes) == [ProcessState.WAITING] * 2
    wc.assign("dev", -1)
    wc.close_process(pid)
    assert sorted(a.state for a in wc.get_process(pid).attributes) == [ProcessState.SUCCESS] * 2
    assert wc.get_attribute(out.attributeid).state == ProcessState.SUCCESS
