"""Log messages (PROTOCOL.md 5.6)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from colonies_fake import _messages as msgs
from colonies_fake._errors import Fail
from colonies_fake._handlers import handler
from colonies_fake._records import RUNNING, Log

if TYPE_CHECKING:
    from colonies_fake._core import Call, FakeColonies


@handler("addlogmsg", msgs.ADD_LOG_INVALID_JSON, msgs.ADD_LOG_MSGTYPE)
def add_log(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    p = fake.procs.get(msg["processid"])
    if p is None:
        raise Fail(500, msgs.ADD_LOG_NIL)
    fake.require_membership(call.caller, p.colonyname, approved=True)
    if p.state != RUNNING:
        raise Fail(403, msgs.ADD_LOG_NOT_RUNNING)
    if p.assignedexecutorid != call.caller:
        raise Fail(403, msgs.ADD_LOG_NOT_ALLOWED)
    executor = fake.executor_by_id(call.caller)
    name = executor.name if executor is not None else ""
    fake.add_log_record(Log(p.processid, p.colonyname, name, msg["message"], fake.now_ns()))
    return {}


@handler("getlogsmsg", msgs.GET_LOGS_INVALID_JSON, msgs.GET_LOGS_MSGTYPE)
def get_logs(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    if msg["executorname"]:
        executor = fake.executor_by_name(msg["colonyname"], msg["executorname"])
        if executor is None:
            raise Fail(500, msgs.GET_LOGS_NO_EXECUTOR)
        fake.require_membership(call.caller, executor.colonyname, approved=True)
        # The real query filters by executor name only, across colonies.
        logs = fake.log_records(executor_name=msg["executorname"])
    else:
        p = fake.procs.get(msg["processid"])
        if p is None:
            raise Fail(500, msgs.GET_LOGS_NO_PROCESS)
        fake.require_membership(call.caller, p.colonyname, approved=True)
        logs = fake.log_records(process_id=p.processid)
    count = msg["count"]
    if count > msgs.MAX_LOG_COUNT:
        raise Fail(403, msgs.GET_LOGS_COUNT)
    if count < 0:
        raise Fail(400, msgs.NEGATIVE_LIMIT)
    if msg["latest"]:
        chosen = logs[-count:] if count else []
    elif msg["since"] > 0:
        chosen = [log for log in logs if log.timestamp > msg["since"]][:count]
    else:
        chosen = logs[:count]
    return [log.render() for log in chosen] or None
