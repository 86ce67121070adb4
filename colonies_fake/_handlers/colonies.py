"""Colony messages (PROTOCOL.md 5.2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from colonies_fake import _messages as msgs
from colonies_fake._errors import EmptyReply, Fail
from colonies_fake._handlers import handler
from colonies_fake._handlers.server import _statistics

if TYPE_CHECKING:
    from colonies_fake._core import Call, FakeColonies


@handler("addcolonymsg", msgs.ADD_COLONY_INVALID_JSON, msgs.ADD_COLONY_MSGTYPE)
def add_colony(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    fake.require_server_owner(call.caller)  # checked before the nil check
    colony = msg["colony"]
    if colony is None:
        raise Fail(400, msgs.ADD_COLONY_NIL)
    if len(colony["colonyid"]) != 64:
        raise Fail(400, msgs.ADD_COLONY_ID_LENGTH)
    if fake.colony(colony["name"]) is not None:
        raise Fail(400, msgs.colony_exists(colony["name"]))
    fake.store_colony(colony["name"], colony["colonyid"])
    # The real handler reads the new row back by id: with a reused id that is the older colony.
    return next(c for c in fake.colonies() if c.colonyid == colony["colonyid"]).render()


@handler("getcolonymsg", msgs.GET_COLONY_INVALID_JSON, msgs.GET_COLONY_MSGTYPE)
def get_colony(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    fake.require_membership(call.caller, msg["colonyname"], approved=True)
    colony = fake.colony(msg["colonyname"])
    if colony is None:  # pragma: no cover - membership already requires the colony
        raise Fail(500, msgs.GET_COLONY_NIL)
    return colony.render()


@handler("getcoloniesmsg", msgs.GET_COLONIES_INVALID_JSON, msgs.GET_COLONIES_MSGTYPE)
def get_colonies(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    fake.require_server_owner(call.caller)
    return [c.render() for c in fake.colonies()] or None


@handler("removecolonymsg", msgs.REMOVE_COLONY_INVALID_JSON, msgs.REMOVE_COLONY_MSGTYPE)
def remove_colony(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    fake.require_server_owner(call.caller)
    name = msg["colonyname"]
    if fake.colony(name) is None:
        raise Fail(400, msgs.colony_not_found(name))
    fake.delete_colony(name)
    return {}


@handler(
    "getcolonystatsmsg",
    msgs.COLONY_STATISTICS_INVALID_JSON,
    msgs.COLONY_STATISTICS_MSGTYPE,
)
def colony_statistics(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    name = msg["colonyname"]
    if fake.colony(name) is None:
        raise Fail(400, msgs.colony_not_found(name))
    try:
        fake.require_membership(call.caller, name, approved=True)
    except Fail:
        raise EmptyReply(200) from None  # the real handler returns without replying
    return _statistics(fake, name)
