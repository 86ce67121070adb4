"""Function messages (PROTOCOL.md 5.4; pkg/server/handlers/function/handlers.go).

An executor registers the functions it offers; they live with their colony, in
insertion order, and go when the executor is removed or the colony is.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Callable, Optional

from colonies_fake import _messages as msgs
from colonies_fake._errors import EmptyReply, Fail
from colonies_fake._handlers import handler
from colonies_fake._records import Function

if TYPE_CHECKING:
    from colonies_fake._core import Call, FakeColonies


def _function_by_id(fake: FakeColonies, function_id: str) -> Optional[Function]:
    for colony in fake.colonies():
        for function in colony.functions:
            if function.functionid == function_id:
                return function
    return None


@handler("addfunctionmsg", msgs.ADD_FUNCTION_INVALID_JSON, msgs.ADD_FUNCTION_MSGTYPE)
def add_function(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    data = msg["fun"]
    if data is None:
        raise Fail(400, msgs.ADD_FUNCTION_NIL)
    if data["functionid"] == "":
        data["functionid"] = fake.crypto.hash(str(uuid.uuid4()))
    fake.require_membership(call.caller, data["colonyname"], approved=True)
    executor = fake.executor_by_name(data["colonyname"], data["executorname"])
    if executor is None:
        raise Fail(400, msgs.add_function_no_executor(data["executorname"]))
    if executor.executorid != call.caller:
        raise Fail(403, msgs.ADD_FUNCTION_NOT_OWN)
    data["locationname"] = executor.locationname  # copied from the executor, whatever was sent
    if _function_by_id(fake, data["functionid"]) is not None:
        raise Fail(500, msgs.FUNCTION_DUPLICATE)
    colony = fake.colony(data["colonyname"])
    assert colony is not None  # membership said so
    function = Function(data)
    colony.functions.append(function)
    return function.render()


@handler("getfunctionsmsg", msgs.GET_FUNCTIONS_INVALID_JSON, msgs.GET_FUNCTIONS_MSGTYPE)
def get_functions(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    fake.require_membership(call.caller, msg["colonyname"], approved=True)
    colony = fake.colony(msg["colonyname"])
    assert colony is not None
    name = msg["executorname"]  # empty: every function of the colony
    return [f.render() for f in colony.functions if not name or f.executorname == name] or None


@handler("removefunctionmsg", msgs.REMOVE_FUNCTION_INVALID_JSON, msgs.REMOVE_FUNCTION_MSGTYPE)
def remove_function(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    if msg["functionid"] == "":
        raise Fail(400, msgs.REMOVE_FUNCTION_EMPTY_ID)
    function = _function_by_id(fake, msg["functionid"])
    if function is None:
        raise Fail(404, msgs.REMOVE_FUNCTION_NOT_FOUND)  # looked up before the membership check
    executor = fake.executor_by_name(function.colonyname, function.executorname)
    fake.require_membership(call.caller, function.colonyname, approved=True)
    if executor is None:
        raise EmptyReply(500)  # the real handler dereferences the missing executor and panics
    if executor.executorid != call.caller:
        raise Fail(403, msgs.REMOVE_FUNCTION_NOT_OWN)
    remove_functions(fake, function.colonyname, lambda f: f is function)
    return {}


def remove_functions(fake: FakeColonies, colony_name: str, chosen: Callable[[Function], bool]) -> None:
    """Forget the functions of a colony for which ``chosen(function)`` is true."""
    colony = fake.colony(colony_name)
    if colony is not None:
        colony.functions[:] = [f for f in colony.functions if not chosen(f)]
