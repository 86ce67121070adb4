"""User messages (PROTOCOL.md 5.4)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from colonies_fake import _messages as msgs
from colonies_fake._errors import Fail
from colonies_fake._handlers import handler

if TYPE_CHECKING:
    from colonies_fake._core import Call, FakeColonies


@handler("addusermsg", msgs.ADD_USER_INVALID_JSON, msgs.ADD_USER_MSGTYPE)
def add_user(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    user = msg["user"]
    if user is None:
        raise Fail(400, msgs.ADD_USER_NIL)
    colony = user["colonyname"]
    _existing_colony(fake, colony)
    fake.require_colony_owner(call.caller, colony)
    if fake.user_by_name(colony, user["name"]) is not None:
        raise Fail(400, msgs.user_name_exists(user["name"], colony))
    # The real "id already exists" check passes its arguments in the wrong order and never fires.
    return fake.store_user(user).render()


def _existing_colony(fake: FakeColonies, name: str) -> None:
    # The user handlers look the colony up first, with a 400 (not the validator's 403).
    if fake.colony(name) is None:
        raise Fail(400, msgs.colony_missing(name))


@handler("getusersmsg", msgs.GET_USERS_INVALID_JSON, msgs.GET_USERS_MSGTYPE)
def get_users(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    _existing_colony(fake, msg["colonyname"])
    fake.require_membership(call.caller, msg["colonyname"], approved=False)
    return [u.render() for u in fake.users_of(msg["colonyname"])] or None


@handler("getusermsg", msgs.GET_USER_INVALID_JSON, msgs.GET_USER_MSGTYPE)
def get_user(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    _existing_colony(fake, msg["colonyname"])
    fake.require_membership(call.caller, msg["colonyname"], approved=False)
    user = fake.user_by_name(msg["colonyname"], msg["name"])
    if user is None:
        raise Fail(500, msgs.GET_USER_NIL)
    return user.render()


@handler("getuserbyidmsg", msgs.GET_USER_BY_ID_INVALID_JSON, msgs.GET_USER_BY_ID_MSGTYPE)
def get_user_by_id(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    _existing_colony(fake, msg["colonyname"])
    fake.require_membership(call.caller, msg["colonyname"], approved=False)
    user = fake.user_by_id(msg["colonyname"], msg["userid"])  # the first of that colony with this id
    if user is None:
        raise Fail(404, msgs.GET_USER_BY_ID_NIL)
    return user.render()


@handler("removeusermsg", msgs.REMOVE_USER_INVALID_JSON, msgs.REMOVE_USER_MSGTYPE)
def remove_user(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    _existing_colony(fake, msg["colonyname"])
    fake.require_colony_owner(call.caller, msg["colonyname"])
    user = fake.user_by_name(msg["colonyname"], msg["name"])
    if user is None:
        raise Fail(400, msgs.user_not_found(msg["name"]))
    fake.delete_user(user)
    return {}
