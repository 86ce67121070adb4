"""Process messages (PROTOCOL.md 5.5): checks and replies; the lifecycle itself is in ``_processes``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from colonies_fake import _messages as msgs
from colonies_fake._core import Answer
from colonies_fake._errors import Fail
from colonies_fake._handlers import handler
from colonies_fake._parsers import ResourceError, parse_cpu, parse_mem
from colonies_fake._records import CANCELLED, FAILED, RUNNING, SUCCESS, WAITING, Process, db_time
from colonies_fake._scheduler import UNLIMITED

if TYPE_CHECKING:
    from colonies_fake._core import Call, FakeColonies

_MIN_PRIORITY, _MAX_PRIORITY = -50000, 50000


@handler("submitfuncspecmsg", msgs.SUBMIT_INVALID_JSON, msgs.SUBMIT_MSGTYPE)
def submit(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    spec = msg["spec"]
    if spec is None:
        raise Fail(400, msgs.SUBMIT_SPEC_NIL)
    colony = spec["conditions"]["colonyname"]
    fake.require_membership(call.caller, colony, approved=True)
    if not _MIN_PRIORITY <= spec["priority"] <= _MAX_PRIORITY:
        raise Fail(400, msgs.SUBMIT_PRIORITY)
    executor = fake.executor_by_id(call.caller)
    if executor is not None:
        initiator = executor.name
    else:
        user = fake.user_by_id(colony, call.caller)
        if user is None:  # pragma: no cover - membership guarantees one of the two
            raise Fail(500, msgs.NO_INITIATOR)
        initiator = user.name
    cond = spec["conditions"]
    try:
        resources = (
            parse_cpu(cond["cpu"]),
            parse_mem(cond["mem"]),
            parse_mem(cond["storage"]),
            parse_mem(cond["gpu"]["mem"]),
        )
    except ResourceError as exc:
        raise Fail(400, str(exc)) from None
    return fake.procs.submit(call.caller, initiator, spec, resources)


@handler("assignprocessmsg", msgs.ASSIGN_INVALID_JSON, msgs.ASSIGN_MSGTYPE)
def assign(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    colony = msg["colonyname"]
    fake.require_membership(call.caller, colony, approved=True)
    timeout = msg["timeout"]
    if timeout == 0:
        raise Fail(400, msgs.ASSIGN_ZERO_TIMEOUT)
    executor = fake.executor_by_id(call.caller)
    if executor is None:
        raise Fail(500, msgs.ASSIGN_NOT_EXECUTOR)
    try:
        cpu = UNLIMITED if msg["availablecpu"] == "" else parse_cpu(msg["availablecpu"])
        mem = UNLIMITED if msg["availablemem"] == "" else parse_mem(msg["availablemem"])
    except ResourceError as exc:
        raise Fail(400, str(exc)) from None
    executor.data["lastheardfromtime"] = db_time(fake.now_ns())
    return fake.procs.assign_wait(executor, colony, timeout, cpu, mem, call.cancelled)


def _process(fake: FakeColonies, process_id: str, nil_status: int, nil_text: str) -> Process:
    p = fake.procs.get(process_id)
    if p is None:
        raise Fail(nil_status, nil_text)
    return p


@handler("getprocessmsg", msgs.GET_PROCESS_INVALID_JSON, msgs.GET_PROCESS_MSGTYPE)
def get_process(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    p = _process(fake, msg["processid"], 404, msgs.GET_PROCESS_NOT_FOUND)  # existence is visible to anyone
    fake.require_membership(call.caller, p.colonyname, approved=True)
    return p.render()


def _order(state: int) -> Callable[[Process], tuple[int, int]]:
    if state == WAITING:
        return lambda p: (p.prioritytime, p.seq)
    if state == RUNNING:
        return lambda p: (p.starttime or 0, p.seq)
    return lambda p: (-(p.endtime or 0), p.seq)


def _filter(msg: dict[str, Any]) -> Callable[[Process], bool]:
    """Only one filter applies: executortype, else initiator (a user name), else label."""
    executortype, initiator, label = msg["executortype"], msg["initiator"], msg["label"]
    if executortype:
        return lambda p: p.executortype == executortype
    if initiator:
        return lambda p: p.initiatorname == initiator
    if label:
        return lambda p: p.spec["label"] == label
    return lambda p: True


@handler("getprocessesmsg", msgs.GET_PROCESSES_INVALID_JSON, msgs.GET_PROCESSES_MSGTYPE)
def get_processes(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    colony = msg["colonyname"]
    fake.require_membership(call.caller, colony, approved=True)
    count = msg["count"]
    if count > msgs.MAX_COUNT:
        raise Fail(400, msgs.count_too_large())
    initiator = msg["initiator"]
    if initiator and fake.user_by_name(colony, initiator) is None:
        raise Fail(400, msgs.user_missing(initiator))
    state = msg["state"]
    if state not in (WAITING, RUNNING, SUCCESS, FAILED, CANCELLED):
        raise Fail(400, msgs.GET_PROCESSES_INVALID_STATE)
    if count < 0:
        raise Fail(400, msgs.NEGATIVE_LIMIT)
    keep = _filter(msg)
    chosen = sorted((p for p in fake.procs.of_colony(colony) if p.state == state and keep(p)), key=_order(state))
    return [p.render() for p in chosen[:count]] or None


@handler("removeprocessmsg", msgs.REMOVE_PROCESS_INVALID_JSON, msgs.REMOVE_PROCESS_MSGTYPE)
def remove_process(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    p = _process(fake, msg["processid"], 500, msgs.REMOVE_PROCESS_NIL)
    fake.require_membership(call.caller, p.colonyname, approved=True)
    if p.state == RUNNING:
        raise Fail(400, msgs.REMOVE_PROCESS_RUNNING)
    fake.procs.delete(p)
    return {}


@handler("removeallprocessesmsg", msgs.REMOVE_ALL_INVALID_JSON, msgs.REMOVE_ALL_MSGTYPE)
def remove_all_processes(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    colony = msg["colonyname"]
    fake.require_colony_owner(call.caller, colony)
    state = msg["state"]
    if state == RUNNING:
        raise Fail(400, msgs.REMOVE_ALL_RUNNING)
    if state not in (-1, WAITING, SUCCESS, FAILED, CANCELLED):
        raise Fail(400, msgs.REMOVE_ALL_INVALID_STATE)
    for p in fake.procs.of_colony(colony):
        if state == -1 or p.state == state:
            fake.procs.delete(p)
    return {}


def _closable(fake: FakeColonies, call: Call, process_id: str, texts: tuple[str, str, str]) -> Process:
    """The checks before a close, in the real order: exists (500), member, assigned, to the caller."""
    nil, not_assigned, not_allowed = texts
    p = _process(fake, process_id, 500, nil)
    fake.require_membership(call.caller, p.colonyname, approved=True)
    if p.assignedexecutorid == "":
        raise Fail(403, not_assigned)
    if p.assignedexecutorid != call.caller:
        raise Fail(403, not_allowed)
    return p


@handler("closesuccessfulmsg", msgs.CLOSE_OK_INVALID_JSON, msgs.CLOSE_OK_MSGTYPE)
def close_successful(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    texts = (msgs.CLOSE_OK_NIL, msgs.CLOSE_OK_NOT_ASSIGNED, msgs.CLOSE_OK_NOT_ALLOWED)
    p = _closable(fake, call, msg["processid"], texts)
    fake.procs.close_successful(p, msg["out"], fake.executor_by_id(call.caller))
    return {}


@handler("closefailedmsg", msgs.CLOSE_FAILED_INVALID_JSON, msgs.CLOSE_FAILED_MSGTYPE)
def close_failed(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    texts = (msgs.CLOSE_FAILED_NIL, msgs.CLOSE_FAILED_NOT_ASSIGNED, msgs.CLOSE_FAILED_NOT_ALLOWED)
    fake.procs.close_failed(_closable(fake, call, msg["processid"], texts), msg["errors"])
    return {}


@handler("setoutputmsg", msgs.SET_OUTPUT_INVALID_JSON, msgs.SET_OUTPUT_MSGTYPE)
def set_output(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    p = _process(fake, msg["processid"], 500, msgs.SET_OUTPUT_NIL)
    fake.require_membership(call.caller, p.colonyname, approved=True)
    if p.assignedexecutorid != call.caller:  # no separate "not assigned" check here
        raise Fail(403, msgs.CLOSE_OK_NOT_ALLOWED)
    if p.state != RUNNING:
        raise Fail(403, msgs.SET_OUTPUT_NOT_RUNNING)
    if msg["out"]:
        p.output = msg["out"]
    return {}


@handler("cancelprocessmsg", msgs.CANCEL_INVALID_JSON, msgs.CANCEL_MSGTYPE)
def cancel_process(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    p = _process(fake, msg["processid"], 500, msgs.CANCEL_NIL)
    fake.require_membership(call.caller, p.colonyname, approved=True)
    fake.procs.cancel(p)
    return {}


@handler("pauseassignmentsmsg", msgs.PAUSE_INVALID_JSON, msgs.PAUSE_MSGTYPE)
def pause_assignments(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    colony = fake.require_colony_owner(call.caller, msg["colonyname"])
    colony.paused = True
    return {}


@handler("resumeassignmentsmsg", msgs.RESUME_INVALID_JSON, msgs.RESUME_MSGTYPE)
def resume_assignments(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    colony = fake.require_colony_owner(call.caller, msg["colonyname"])
    colony.paused = False
    fake.procs.wake_colony(colony.name)
    return {}


@handler("getpausestatusmsg", msgs.PAUSE_STATUS_INVALID_JSON, msgs.PAUSE_STATUS_MSGTYPE)
def get_pause_status(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    fake.require_membership(call.caller, msg["colonyname"], approved=False)
    colony = fake.colony(msg["colonyname"])
    paused = bool(colony and colony.paused)
    return Answer(
        "pausestatusreplymsg",
        {"msgtype": "pausestatusreplymsg", "colonyname": msg["colonyname"], "ispaused": paused},
    )
