"""Attribute messages (PROTOCOL.md 5.7)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from colonies_fake import _messages as msgs
from colonies_fake._errors import EmptyReply, Fail
from colonies_fake._handlers import handler
from colonies_fake._records import RUNNING, Attribute

if TYPE_CHECKING:
    from colonies_fake._core import Call, FakeColonies


@handler("addattributemsg", msgs.ADD_ATTRIBUTE_INVALID_JSON, msgs.ADD_ATTRIBUTE_MSGTYPE)
def add_attribute(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    data = msg["attribute"]
    if data is None:
        raise EmptyReply(500)  # the real handler dereferences the nil attribute and panics
    p = fake.procs.get(data["targetid"])
    if p is None:
        raise Fail(404, msgs.ADD_ATTRIBUTE_NOT_FOUND)
    fake.require_membership(call.caller, p.colonyname, approved=True)
    if p.state != RUNNING:
        raise Fail(403, msgs.ADD_ATTRIBUTE_NOT_RUNNING)
    if p.assignedexecutorid != call.caller:
        raise Fail(403, msgs.attribute_not_executor(p.assignedexecutorid))
    data["attributeid"] = fake.crypto.hash(f"{data['targetid']}{data['key']}{data['attributetype']}")
    data["targetprocessgraphid"] = ""
    if any(a.attributeid == data["attributeid"] for a in p.attributes):
        raise Fail(400, msgs.ATTRIBUTE_DUPLICATE)
    attribute = Attribute(data)
    fake.procs.add_attribute_record(p, attribute)
    return attribute.render()


@handler("getattributemsg", msgs.GET_ATTRIBUTE_INVALID_JSON, msgs.GET_ATTRIBUTE_MSGTYPE)
def get_attribute(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    found = fake.procs.find_attribute(msg["attributeid"])
    if found is None:
        raise Fail(400, msgs.GET_ATTRIBUTE_MISSING)
    p, attribute = found
    fake.require_membership(call.caller, p.colonyname, approved=True)
    return attribute.render()
