"""The process state machine: every transition and every refusal of PROTOCOL.md 7.1 (texts of 5.5-5.7),
then the same rules and those of the channels under random interleavings (a Hypothesis state machine)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from colonies_fake import ColonyKeys, ExecutorKeys, FakeColonies
from colonies_sync import (
    AttributeType,
    BadRequest,
    ChannelNotFound,
    ColoniesClient,
    Crypto,
    Forbidden,
    InternalServerError,
    NoProcessAvailable,
    NotFound,
    ProcessNotFound,
    ProcessState,
    ServerError,
)
from tests.fake.helpers import DAY_NS, at, server_error, spec
from tests.stress.scale import scaled

NOT_ASSIGNED_OK = "Failed to close process as successful, process is not assigned"
NOT_ASSIGNED_FAILED = "Failed to close process as failed, process is not assigned"
NOT_ALLOWED_OK = "Failed to close process as successful, not allowed to close process as successful"
NOT_ALLOWED_FAILED = "Failed to close process as failed, not allowed to close process as failed"
SET_OUTPUT_NOT_RUNNING = "Failed to set output, process is not running"
ATTRIBUTE_NOT_RUNNING = "Failed to add attribute, process is not running"
LOG_NOT_ALLOWED = "Failed to add log, not allowed to add log, only the assigned Executor may att logs"
CLOSE_OK_NIL = "Failed to close process as successful, process is nil"
CLOSE_FAILED_NIL = "Failed to close process as failed, process is nil"


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


# --- the same rules, explored by a Hypothesis state machine ------------------------------------
#
# Random interleavings of submit (with channels and random limits), assign, close, fail, cancel,
# remove, channel append and read by every kind of caller, and clock jumps that fire deadlines.
# A small model predicts every answer (PROTOCOL.md 7.1, 7.3, 8.1-8.5, 8.7); after every step the
# fake's processes and channel logs must match it, and each state change must be a legal one.

W, R, S, F, C = (
    ProcessState.WAITING,
    ProcessState.RUNNING,
    ProcessState.SUCCESS,
    ProcessState.FAILED,
    ProcessState.CANCELLED,
)
NS = 1_000_000_000
# Every edge of PROTOCOL.md 7.1; those the server takes on its own are the only ones a clock jump may take.
LEGAL = {(W, R), (R, S), (S, S), (R, F), (R, W), (W, F), (W, C), (R, C)}
BY_SERVER = {(R, W), (R, F), (W, F)}
PARTIES = ["submitter", "owner", "former", "e1", "e2", "u", "s"]
NAMES = ["its", "its", "a", "b", "c", "zz"]
SUBMIT_ARGS: dict[str, st.SearchStrategy[Any]] = {
    "role": st.sampled_from(["e1", "e2", "u"]),
    "channels": st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3) | st.just([]),
    "maxexectime": st.sampled_from([1, 2, 5, 30, -1, 0]),
    "maxwaittime": st.sampled_from([-1, 30, 0, 3, -1, 30, 1, -2]),
    "maxretries": st.sampled_from([-1, 1, 2, 0]),
    "priority": st.sampled_from([0, 0, 1, -1]),
}
ON_REMOVED: dict[str, tuple[Callable[[ColoniesClient, str], Any], type[ServerError], int, str]] = {
    "close": (lambda c, pid: c.close_process(pid), InternalServerError, 500, CLOSE_OK_NIL),
    "fail": (lambda c, pid: c.fail_process(pid), InternalServerError, 500, CLOSE_FAILED_NIL),
    "cancel": (
        lambda c, pid: c.cancel_process(pid),
        InternalServerError,
        500,
        "Failed to cancel process, process is nil",
    ),
    "remove": (
        lambda c, pid: c.remove_process(pid),
        InternalServerError,
        500,
        "Failed to remove process, process is nil",
    ),
    "get": (lambda c, pid: c.get_process(pid), ProcessNotFound, 404, "Failed to get process, process not found"),
    "append": (lambda c, pid: c.channel_append(pid, "a", 1, 0, "x"), ProcessNotFound, 404, "Process not found"),
    "read": (lambda c, pid: c.channel_read(pid, "a"), ProcessNotFound, 404, "Process not found"),
}
SM_EXAMPLES = scaled(2_000, 100)
SM_STEPS = scaled(60, 50)
# No shrinking: it replays a failing program thousands of times, which can outlast the 120 s per-test
# timeout (and then reads as a flaky failure). A failure is reported as found, every step listed.
SM_PHASES = [phase for phase in Phase if phase is not Phase.shrink]


def _reachable(edges: set[tuple[ProcessState, ProcessState]]) -> set[tuple[ProcessState, ProcessState]]:
    closure = set(edges) | {(s, s) for s in ProcessState}
    while True:
        more = {(a, d) for a, b in closure for c, d in closure if b == c} - closure
        if not more:
            return closure
        closure |= more


AFTER_CLIENT_STEP = LEGAL | {(s, s) for s in ProcessState}
AFTER_CLOCK_JUMP = _reachable(BY_SERVER)


@dataclass
class ModelProcess:
    """What should be true of one process."""

    pid: str
    submitter: str  # a role
    spec_channels: list[str]
    maxexectime: int
    maxwaittime: int
    maxretries: int
    prioritytime: int
    state: ProcessState = W
    owner: str = ""  # the role in assignedexecutorid ("" when none)
    former: str = ""  # the executor a timeout took it from
    retries: int = 0
    removed: bool = False
    exec_due: Optional[int] = None  # whole second at which the timeout loop looks at it
    wait_due: Optional[int] = None
    # Channels in the fake's memory: name -> (executor role, [(sender role, sequence)]).
    channels: dict[str, tuple[str, list[tuple[str, int]]]] = field(default_factory=dict)


class ProcessRules(RuleBasedStateMachine):
    """Executors e1, e2 and user u of ``dev`` (every one may submit), and s, a stranger."""

    procs = Bundle("procs")

    def __init__(self) -> None:
        super().__init__()
        self.fake = FakeColonies()
        self.fake.add_colony("dev")
        keys = {
            "e1": self.fake.add_executor("dev", "e1", "test").prvkey,
            "e2": self.fake.add_executor("dev", "e2", "test").prvkey,
            "u": self.fake.add_user("dev", "u").prvkey,
            "s": Crypto().generate_private_key(),
        }
        self.ids = {role: Crypto().id(key) for role, key in keys.items()}
        self.clients = {role: self.fake.client(key) for role, key in keys.items()}
        self.model: dict[str, ModelProcess] = {}
        self.seen: dict[str, ProcessState] = {}
        self.step_edges = AFTER_CLIENT_STEP
        # Each sender counts up on its own, from its own base (as the docs suggest: client 1..., executor 100...).
        self.sequences = {"u": 0, "e1": 100, "e2": 50, "s": 0}
        self.gone: list[str] = []  # removed processes

    def teardown(self) -> None:
        for client in self.clients.values():
            client.close()
        self.fake.close()
        assert not self.fake.errors, self.fake.errors

    # --- helpers -------------------------------------------------------------------------

    def now(self) -> int:
        return self.fake.clock.time_ns()

    def _wait_due(self, p: ModelProcess, now: int) -> Optional[int]:
        if p.maxwaittime in (-1, 0):
            return None
        return (now + p.maxwaittime * NS if p.maxwaittime > 0 else now) // NS + 1

    def _ended(self, p: ModelProcess, state: ProcessState) -> None:
        p.state = state
        p.exec_due = p.wait_due = None
        p.channels.clear()  # close, fail and cancel delete the channels (8.7)

    def _outcome(self, call: Callable[[], Any], expected: Optional[tuple[type[ServerError], int, str]]) -> Any:
        try:
            result = call()
        except ServerError as exc:
            assert expected is not None, f"unexpected {exc!r}"
            cls, status, message = expected
            assert isinstance(exc, cls) and (exc.status, exc.message) == (status, message), (exc, expected)
            return None
        assert expected is None, f"expected {expected}, got success"
        return result

    def _closing(self, p: ModelProcess, role: str, texts: tuple[str, str, str]) -> Optional[Any]:
        nil, not_assigned, not_allowed = texts
        if p.removed:
            return (InternalServerError, 500, nil)
        if role == "s":
            return (Forbidden, 403, "Access denied, not a member of Colony with name <dev>")
        if p.owner == "":
            return (Forbidden, 403, not_assigned)
        if p.owner != role:
            return (Forbidden, 403, not_allowed)
        return None

    def _channel(self, p: ModelProcess, role: str, name: str, refusal: str) -> Any:
        """The error a channel call must get (``None``: it goes through). A channel the server would
        create lazily on this call is created in the model too, even if the call is then refused."""
        if p.removed:
            return (ProcessNotFound, 404, "Process not found")
        if role == "s":
            return (Forbidden, 403, "Access denied, not a member of Colony with name <dev>")
        if name not in p.channels:
            if p.state in (S, F) or name not in p.spec_channels:
                return (ChannelNotFound, 404, "Channel not found")
            p.channels[name] = (p.owner, [])  # the CANCELLED quirk of 8.1: back, empty
        executor, _ = p.channels[name]
        if role not in (p.submitter, executor):
            return (Forbidden, 403, refusal)
        return None

    def _who(self, p: ModelProcess, who: str) -> str:
        """A role; "owner", "submitter" and "former" (drawn as often as the others) reach the parties."""
        if who == "owner":
            return p.owner or "e1"
        if who == "former":
            return p.former or "e2"
        if who == "submitter":
            return p.submitter
        return who

    def _name(self, p: ModelProcess, name: str) -> str:
        """A channel name; "its" is the process's first one (when it has any)."""
        return (p.spec_channels or ["a"])[0] if name == "its" else name

    # --- rules -----------------------------------------------------------------------------

    @initialize(target=procs, first=st.fixed_dictionaries(SUBMIT_ARGS), second=st.fixed_dictionaries(SUBMIT_ARGS))
    def first_processes(self, first: dict[str, Any], second: dict[str, Any]) -> Any:
        return multiple(self.submit(**first), self.submit(**second))

    @rule(target=procs, **SUBMIT_ARGS)
    def submit(
        self, role: str, channels: list[str], maxexectime: int, maxwaittime: int, maxretries: int, priority: int
    ) -> str:
        self.step_edges = AFTER_CLIENT_STEP
        fs = spec(
            channels=channels,
            maxexectime=maxexectime,
            maxwaittime=maxwaittime,
            maxretries=maxretries,
            priority=priority,
        )
        p = self.clients[role].submit_function_spec(fs)
        assert (p.state, p.initiatorid, p.assignedexecutorid, p.isassigned) == (W, self.ids[role], "", False)
        now = self.now()
        model = ModelProcess(p.processid, role, channels, maxexectime, maxwaittime, maxretries, now - priority * DAY_NS)
        model.wait_due = self._wait_due(model, now)
        model.channels = {name: ("", []) for name in channels}  # exist from submit on (8.1)
        self.model[p.processid] = model
        return p.processid

    @rule(role=st.sampled_from(["e1", "e2"]))
    def assign(self, role: str) -> None:
        self.step_edges = AFTER_CLIENT_STEP
        waiting = [p for p in self.model.values() if p.state == W and not p.removed]
        if not waiting:
            self._outcome(
                lambda: self.clients[role].assign("dev", -1),
                (NoProcessAvailable, 404, "No process available for assignment"),
            )
            return
        got = self._outcome(lambda: self.clients[role].assign("dev", -1), None)
        first = min(p.prioritytime for p in waiting)
        assert got.processid in {p.pid for p in waiting if p.prioritytime == first}  # highest priority first
        assert (got.state, got.assignedexecutorid) == (R, self.ids[role])
        p = self.model[got.processid]
        now = self.now()
        p.state, p.owner, p.wait_due = R, role, None
        if p.maxexectime != -1:
            p.exec_due = (now + p.maxexectime * NS if p.maxexectime > 0 else now) // NS + 1
        p.channels = {name: (role, log) for name, (_, log) in p.channels.items()}  # the new executor's now

    @rule(pid=procs, who=st.sampled_from(["owner", "owner", "e1", "e2", "u", "s"]))
    def close(self, pid: str, who: str) -> None:
        self.step_edges = AFTER_CLIENT_STEP
        p = self.model[pid]
        role = self._who(p, who)
        expected = self._closing(p, role, (CLOSE_OK_NIL, NOT_ASSIGNED_OK, NOT_ALLOWED_OK))
        if expected is None and p.state in (F, C):
            expected = (
                BadRequest,
                400,
                f"Tried to set {'failed' if p.state == F else 'cancelled'} process as successful",
            )
        self._outcome(lambda: self.clients[role].close_process(pid, ["out"]), expected)
        if expected is None:
            self._ended(p, S)

    @rule(pid=procs, who=st.sampled_from(["owner", "owner", "e1", "e2", "u", "s"]))
    def fail(self, pid: str, who: str) -> None:
        self.step_edges = AFTER_CLIENT_STEP
        p = self.model[pid]
        role = self._who(p, who)
        expected = self._closing(p, role, (CLOSE_FAILED_NIL, NOT_ASSIGNED_FAILED, NOT_ALLOWED_FAILED))
        if expected is None and p.state in (S, F, C):
            word = {S: "successful", F: "failed", C: "cancelled"}[p.state]
            expected = (BadRequest, 400, f"Tried to set {word} process as failed")
        self._outcome(lambda: self.clients[role].fail_process(pid, ["boom"]), expected)
        if expected is None:
            self._ended(p, F)

    @rule(pid=procs, role=st.sampled_from(["e1", "e2", "u", "s"]))
    def cancel(self, pid: str, role: str) -> None:
        self.step_edges = AFTER_CLIENT_STEP
        p = self.model[pid]
        refusals = {
            S: "Tried to cancel successful process",
            F: "Tried to cancel failed process",
            C: "Tried to cancel already cancelled process",
        }
        if p.removed:
            expected: Any = (InternalServerError, 500, "Failed to cancel process, process is nil")
        elif role == "s":
            expected = (Forbidden, 403, "Access denied, not a member of Colony with name <dev>")
        elif p.state in refusals:
            expected = (BadRequest, 400, refusals[p.state])
        else:
            expected = None
        self._outcome(lambda: self.clients[role].cancel_process(pid), expected)
        if expected is None:
            self._ended(p, C)

    @rule(target=procs, pid=consumes(procs), role=st.sampled_from(["e1", "e2", "u"]))
    def remove(self, pid: str, role: str) -> Any:
        self.step_edges = AFTER_CLIENT_STEP
        p = self.model[pid]
        if p.state == R:
            self._outcome(
                lambda: self.clients[role].remove_process(pid),
                (BadRequest, 400, "Failed to remove process, cannot remove a running process"),
            )
            return pid  # still there
        self._outcome(lambda: self.clients[role].remove_process(pid), None)
        p.removed = True
        self.gone.append(pid)
        return multiple()

    @precondition(lambda self: bool(self.gone))
    @rule(i=st.integers(0, 99), role=st.sampled_from(["e1", "e2", "u", "s"]), op=st.sampled_from(sorted(ON_REMOVED)))
    def use_removed(self, i: int, role: str, op: str) -> None:
        """Every call on a removed process gets its own "not found" answer (5.5, 5.8), before any auth."""
        self.step_edges = AFTER_CLIENT_STEP
        pid = self.gone[i % len(self.gone)]
        call, cls, status, message = ON_REMOVED[op]
        self._outcome(lambda: call(self.clients[role], pid), (cls, status, message))

    @rule(pid=procs, who=st.sampled_from(PARTIES), name=st.sampled_from(NAMES))
    def append(self, pid: str, who: str, name: str) -> None:
        self.step_edges = AFTER_CLIENT_STEP
        p = self.model[pid]
        role, name = self._who(p, who), self._name(p, name)
        self.sequences[role] += 1  # each sender's sequences only grow
        seq = self.sequences[role]
        expected = self._channel(p, role, name, "Not authorized to write to channel")
        self._outcome(lambda: self.clients[role].channel_append(pid, name, seq, 0, f"{role}:{seq}"), expected)
        if expected is None:
            p.channels[name][1].append((role, seq))

    @rule(
        pid=procs,
        who=st.sampled_from(PARTIES),
        name=st.sampled_from(NAMES),
        after=st.integers(0, 6),
        limit=st.sampled_from([0, 1, 2, 100]),
    )
    def read(self, pid: str, who: str, name: str, after: int, limit: int) -> None:
        self.step_edges = AFTER_CLIENT_STEP
        p = self.model[pid]
        role, name = self._who(p, who), self._name(p, name)
        expected = self._channel(p, role, name, "Not authorized to read from channel")
        entries = self._outcome(lambda: self.clients[role].channel_read(pid, name, after, limit), expected)
        if expected is None:
            log = p.channels[name][1]
            want = log[after:] if limit <= 0 else log[after : after + limit]  # positions, not sequences (8.5)
            assert [(e.senderid, e.sequence) for e in entries] == [(self.ids[r], s) for r, s in want]

    @rule(seconds=st.sampled_from([0.5, 1, 1, 2, 3, 7, 31]))
    def advance(self, seconds: float) -> None:
        """Time passes: the 1-second timeout loop of 7.3 fires whatever is due, in time order."""
        self.step_edges = AFTER_CLOCK_JUMP
        target = self.now() + int(round(seconds * NS))
        while True:
            due = [
                (when, kind, p.pid)
                for p in self.model.values()
                if not p.removed
                for kind, when in ((0, p.exec_due), (1, p.wait_due))
                if when is not None and when * NS <= target
            ]
            if not due:
                break
            when, kind, pid = min(due)
            p = self.model[pid]
            if kind == 0:  # RUNNING past its exec deadline
                if p.maxretries > -1 and p.retries >= p.maxretries:
                    self._ended(p, F)
                else:  # released: back to WAITING, channels kept (and the old executor's, until a new assign)
                    p.state, p.owner, p.former, p.exec_due = W, "", p.owner, None
                    p.retries += 1
                    p.wait_due = self._wait_due(p, when * NS)
            else:  # WAITING past its wait deadline
                self._ended(p, F)
        self.fake.clock.advance(seconds)

    # --- what must hold after every step ------------------------------------------------------

    @invariant()
    def processes_match_the_model(self) -> None:
        # The fake's own records, read directly: cheap enough to run after every step.
        executors = {self.ids["e1"], self.ids["e2"]}
        for pid, p in self.model.items():
            got = self.fake.procs.get(pid)
            if p.removed:
                assert got is None, pid
                continue
            assert got is not None, pid
            state = ProcessState(got.state)
            before = self.seen.get(pid, W)
            assert (before, state) in self.step_edges, (pid, before, state)
            self.seen[pid] = state
            assert (state, got.retries) == (p.state, p.retries), (pid, state, p.state)
            # At most one executor, and only a RUNNING process is assigned (a finished one keeps its last).
            if state == R:
                assert got.isassigned and got.assignedexecutorid in executors, pid
            if state == W:
                assert (got.isassigned, got.assignedexecutorid) == (False, ""), pid
            assert got.assignedexecutorid == (self.ids[p.owner] if p.owner else ""), pid

    @invariant()
    def channels_match_the_model(self) -> None:
        for pid, p in self.model.items():
            if p.removed:
                continue
            channels = self.fake.channels.channels_of(pid)
            # Gone after close, fail and cancel (8.7), and never made for a name the spec lacks.
            assert sorted(channels) == sorted(p.channels), (pid, sorted(channels), sorted(p.channels))
            for name, (executor, log) in p.channels.items():
                channel = channels[name]
                assert (channel.submitter, channel.executor) == (self.ids[p.submitter], self.ids.get(executor, ""))
                # Every entry stays at its position while senders' sequences grow.
                got = [(e.senderid, e.sequence) for e in channel.log]
                assert got == [(self.ids[r], s) for r, s in log], (pid, name)


@pytest.mark.inprocess_only
def test_random_interleavings_keep_the_process_and_channel_rules() -> None:
    run_state_machine_as_test(
        ProcessRules,
        settings=settings(
            max_examples=SM_EXAMPLES,
            stateful_step_count=SM_STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            phases=SM_PHASES,
        ),
    )
