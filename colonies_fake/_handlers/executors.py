"""Executor messages (PROTOCOL.md 5.3)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from colonies_fake import _messages as msgs
from colonies_fake._errors import Fail
from colonies_fake._handlers import handler
from colonies_fake._handlers.functions import remove_functions
from colonies_fake._records import APPROVED, PENDING, REJECTED, db_time

if TYPE_CHECKING:
    from colonies_fake._core import Call, FakeColonies
    from colonies_fake._records import Executor


@handler("addexecutormsg", msgs.ADD_EXECUTOR_INVALID_JSON, msgs.ADD_EXECUTOR_MSGTYPE)
def add_executor(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    data = msg["executor"]
    if data is None:
        raise Fail(400, msgs.ADD_EXECUTOR_NIL)
    fake.require_colony_owner(call.caller, data["colonyname"])
    if fake.executor_by_name(data["colonyname"], data["executorname"]) is not None:
        raise Fail(400, msgs.executor_exists(data["executorname"], data["colonyname"]))
    data["state"] = PENDING
    data["commissiontime"] = db_time(fake.now_ns())
    if data["lastheardfromtime"] is not None:
        data["lastheardfromtime"] = db_time(data["lastheardfromtime"])
    fake.store_executor(data)
    # The real handler reads the new row back by id: with a reused id that is the older row.
    stored = fake.executor_by_id(data["executorid"])
    assert stored is not None
    return stored.render()


def _named(fake: FakeColonies, msg: dict[str, Any], nil_text: str) -> Executor:
    executor = fake.executor_by_name(msg["colonyname"], msg["executorname"])
    if executor is None:
        raise Fail(500, nil_text)  # looked up before the ownership check
    return executor


def _owned(fake: FakeColonies, call: Call, msg: dict[str, Any], nil_text: str) -> Executor:
    executor = _named(fake, msg, nil_text)
    fake.require_colony_owner(call.caller, msg["colonyname"])
    return executor


@handler("approveexecutormsg", msgs.APPROVE_EXECUTOR_INVALID_JSON, msgs.APPROVE_EXECUTOR_MSGTYPE)
def approve_executor(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    _owned(fake, call, msg, msgs.APPROVE_EXECUTOR_NIL).data["state"] = APPROVED
    return {}


@handler("rejectexecutormsg", msgs.REJECT_EXECUTOR_INVALID_JSON, msgs.REJECT_EXECUTOR_MSGTYPE)
def reject_executor(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    _owned(fake, call, msg, msgs.REJECT_EXECUTOR_NIL).data["state"] = REJECTED
    return {}


@handler("removeexecutormsg", msgs.REMOVE_EXECUTOR_INVALID_JSON, msgs.REMOVE_EXECUTOR_MSGTYPE)
def remove_executor(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    executor = _owned(fake, call, msg, msgs.REMOVE_EXECUTOR_NIL)
    fake.unregister_executor(executor)
    # The row stays (UNREGISTERED), its functions go (pkg/database/postgresql/executors.go RemoveExecutorByName).
    remove_functions(fake, executor.colonyname, lambda f: f.executorname == executor.name)
    return {}


@handler("getexecutorsmsg", msgs.GET_EXECUTORS_INVALID_JSON, msgs.GET_EXECUTORS_MSGTYPE)
def get_executors(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    fake.require_membership(call.caller, msg["colonyname"], approved=False)
    return [e.render() for e in fake.executors_of(msg["colonyname"])] or None


@handler("getexecutormsg", msgs.GET_EXECUTOR_INVALID_JSON, msgs.GET_EXECUTOR_MSGTYPE)
def get_executor(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    executor = _named(fake, msg, msgs.GET_EXECUTOR_NIL)
    fake.require_membership(call.caller, msg["colonyname"], approved=True)
    return executor.render()


@handler("getexecutorbyidmsg", msgs.GET_EXECUTOR_BY_ID_INVALID_JSON, msgs.GET_EXECUTOR_BY_ID_MSGTYPE)
def get_executor_by_id(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    executor = fake.executor_by_id(msg["executorid"])
    if executor is None:
        raise Fail(404, msgs.GET_EXECUTOR_BY_ID_NIL)
    fake.require_membership(call.caller, executor.colonyname, approved=True)
    return executor.render()
