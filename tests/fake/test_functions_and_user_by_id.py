"""Functions (add, get, remove) and users by id: PROTOCOL.md 4 and 5.4, success replies and error rows.

The texts and the order of the checks are the real handlers' (pkg/server/handlers/function/handlers.go;
for getuserbyidmsg, pkg/server/handlers/user: its unit tests give the order and statuses, the texts
follow its siblings). Run in-process and over HTTP.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from colonies_fake import FakeColonies
from colonies_sync import BadRequest, Crypto, Forbidden, InternalServerError, NotFound
from tests.fake.helpers import server_error

NOT_MEMBER = "Access denied, not a member of Colony with name <dev>"
ECHO = {"executorname": "worker-1", "colonyname": "dev", "funcname": "echo"}
STATS = ("counter", "minwaittime", "maxwaittime", "minexectime", "maxexectime", "avgwaittime", "avgexectime")


def _add(client: Any, **fields: Any) -> dict[str, Any]:
    reply: dict[str, Any] = client.rpc("addfunctionmsg", {"fun": {**ECHO, **fields}})
    return reply


def _names(client: Any, executorname: str = "") -> Any:
    functions = client.rpc("getfunctionsmsg", {"colonyname": "dev", "executorname": executorname})
    return None if functions is None else [(f["executorname"], f["funcname"]) for f in functions]


# --- addfunctionmsg -------------------------------------------------------------------------


def test_add_function_replies_with_the_stored_function(fake, worker, wc) -> None:
    """A new 64-hex id, the stats as sent (zero), no description, args or location: those are omitted."""
    reply = _add(wc)
    assert re.fullmatch("[0-9a-f]{64}", reply["functionid"])
    assert list(reply) == ["functionid", "executorname", "executortype", "colonyname", "funcname", *STATS]
    assert reply == {
        "functionid": reply["functionid"],
        "executorname": "worker-1",
        "executortype": "",  # stored as sent, not taken from the executor
        "colonyname": "dev",
        "funcname": "echo",
        **dict.fromkeys(STATS, 0),
    }
    assert wc.rpc("getfunctionsmsg", {"colonyname": "dev", "executorname": "worker-1"}) == [reply]


def test_add_function_keeps_what_was_sent_and_takes_the_location_from_the_executor(fake, colony) -> None:
    located = fake.client(fake.add_executor("dev", "worker-1", "test", locationname="lab-1").prvkey)
    args = [{"name": "x", "type": "int", "required": True}, {"name": "y", "type": "str", "enum": []}, None]
    reply = _add(
        located,
        functionid="ab" * 32,
        executortype="any",
        description="echoes",
        args=args,
        counter=3,
        minwaittime=0.5,
        avgexectime=2,
        locationname="elsewhere",
    )
    assert reply == {
        "functionid": "ab" * 32,
        "executorname": "worker-1",
        "executortype": "any",
        "colonyname": "dev",
        "funcname": "echo",
        "description": "echoes",
        "args": [{"name": "x", "type": "int", "required": True}, {"name": "y", "type": "str"}, None],
        "counter": 3,
        "minwaittime": 0.5,
        "maxwaittime": 0,
        "minexectime": 0,
        "maxexectime": 0,
        "avgwaittime": 0,
        "avgexectime": 2,
        "locationname": "lab-1",
    }


def test_add_function_with_an_id_already_stored_is_the_databases_error(fake, worker, wc) -> None:
    _add(wc, functionid="cd" * 32)
    with server_error(
        InternalServerError, 500, 'pq: duplicate key value violates unique constraint "prod_functions_pkey"'
    ):
        _add(wc, functionid="cd" * 32, funcname="other")
    assert _names(wc) == [("worker-1", "echo")]


def test_the_same_function_name_may_be_added_twice(fake, worker, wc) -> None:
    """Only the id is unique: a second registration of a name is a second row."""
    first, second = _add(wc)["functionid"], _add(wc)["functionid"]
    assert first != second
    assert _names(wc) == [("worker-1", "echo"), ("worker-1", "echo")]


def test_add_function_nil_is_checked_before_membership(fake, stranger) -> None:
    with server_error(BadRequest, 400, "Failed to add function, msg.Function is nil"):
        stranger.rpc("addfunctionmsg", {"fun": None})


@pytest.mark.parametrize(
    "role", ["pending", "rejected", "colony-owner", "server-owner", "stranger", "other-colony-executor"]
)
def test_add_function_needs_an_approved_member(fake, roles, role) -> None:
    with server_error(Forbidden, 403, NOT_MEMBER):
        _add(roles[role])


def test_add_function_for_an_executor_that_does_not_exist(fake, worker, wc) -> None:
    with server_error(BadRequest, 400, "Failed to add function, Executor with name <ghost> does not exist"):
        _add(wc, executorname="ghost")


@pytest.mark.parametrize("role", ["user", "other-executor"])
def test_add_function_only_for_the_callers_own_executor(fake, roles, role) -> None:
    roles["other-executor"] = fake.client(fake.add_executor("dev", "worker-2", "test").prvkey)
    with server_error(Forbidden, 403, "Not allowed to add a function to another executor"):
        _add(roles[role])
    assert _names(roles["executor"]) is None


def test_add_function_in_an_unknown_colony(fake, worker, wc) -> None:
    with server_error(Forbidden, 403, "Colony with name <nowhere> does not exists"):
        _add(wc, colonyname="nowhere")


# --- getfunctionsmsg ------------------------------------------------------------------------


def test_get_functions_of_the_colony_or_of_one_executor_in_insertion_order(fake, worker, wc) -> None:
    other = fake.client(fake.add_executor("dev", "worker-2", "test").prvkey)
    assert _names(wc) is None  # null, not []
    _add(wc, funcname="b")
    _add(other, executorname="worker-2", funcname="a")
    _add(wc, funcname="c")
    assert _names(wc) == [("worker-1", "b"), ("worker-2", "a"), ("worker-1", "c")]
    assert _names(other, "worker-1") == [("worker-1", "b"), ("worker-1", "c")]
    assert _names(wc, "ghost") is None


@pytest.mark.parametrize("role", ["pending", "colony-owner", "stranger", "other-colony-executor"])
def test_get_functions_needs_an_approved_member(fake, roles, role) -> None:
    with server_error(Forbidden, 403, NOT_MEMBER):
        _names(roles[role])


# --- removefunctionmsg ----------------------------------------------------------------------


def test_remove_function(fake, worker, wc) -> None:
    keep, gone = _add(wc, funcname="keep")["functionid"], _add(wc, funcname="gone")["functionid"]
    assert wc.rpc("removefunctionmsg", {"functionid": gone}) == {}
    assert [f["functionid"] for f in wc.rpc("getfunctionsmsg", {"colonyname": "dev", "executorname": ""})] == [keep]
    with server_error(NotFound, 404, "Failed to remove function, function does not exist"):
        wc.rpc("removefunctionmsg", {"functionid": gone})


def test_remove_function_checks_the_id_before_anything_else(fake, worker, wc, stranger) -> None:
    """An empty id is 400 and an unknown one 404, for any caller; then membership, then ownership."""
    function_id = _add(wc)["functionid"]
    with server_error(BadRequest, 400, "Failed to remove function, msg.FunctionID is empty"):
        stranger.rpc("removefunctionmsg", {"functionid": ""})
    with server_error(NotFound, 404, "Failed to remove function, function does not exist"):
        stranger.rpc("removefunctionmsg", {"functionid": "ef" * 32})
    with server_error(Forbidden, 403, NOT_MEMBER):
        stranger.rpc("removefunctionmsg", {"functionid": function_id})
    assert _names(wc) == [("worker-1", "echo")]


@pytest.mark.parametrize("role", ["user", "other-executor"])
def test_remove_function_only_the_registering_executor(fake, roles, role) -> None:
    roles["other-executor"] = fake.client(fake.add_executor("dev", "worker-2", "test").prvkey)
    function_id = _add(roles["executor"])["functionid"]
    with server_error(Forbidden, 403, "Not allowed to remove a function from another executor"):
        roles[role].rpc("removefunctionmsg", {"functionid": function_id})
    assert _names(roles["executor"]) == [("worker-1", "echo")]


def test_removing_an_executor_removes_its_functions(fake, worker, wc, owner) -> None:
    other = fake.client(fake.add_executor("dev", "worker-2", "test").prvkey)
    _add(wc)
    _add(other, executorname="worker-2", funcname="stays")
    owner.remove_executor("dev", "worker-1")
    assert _names(other) == [("worker-2", "stays")]


def test_removing_the_colony_removes_its_functions(fake, worker, wc, server_owner) -> None:
    _add(wc)
    server_owner.remove_colony("dev")
    fake.add_colony("dev")  # a new colony of that name starts with none
    assert _names(fake.client(fake.add_executor("dev", "worker-1", "test").prvkey)) is None


# --- getuserbyidmsg -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["executor", "user", "pending", "rejected"])
def test_get_user_by_id_by_any_member(fake, roles, role) -> None:
    alice = roles["user"].get_user("dev", "alice")
    reply = roles[role].rpc("getuserbyidmsg", {"colonyname": "dev", "userid": alice.userid})
    assert reply == {"colonyname": "dev", "userid": alice.userid, "name": "alice", "email": "", "phone": ""}


@pytest.mark.parametrize("role", ["colony-owner", "server-owner", "stranger", "other-colony-executor"])
def test_get_user_by_id_needs_a_member(fake, roles, role) -> None:
    alice = roles["user"].get_user("dev", "alice")
    with server_error(Forbidden, 403, NOT_MEMBER):
        roles[role].rpc("getuserbyidmsg", {"colonyname": "dev", "userid": alice.userid})


def test_get_user_by_id_looks_the_colony_up_first(fake, stranger) -> None:
    with server_error(BadRequest, 400, "Colony with name <nowhere> does not exists"):
        stranger.rpc("getuserbyidmsg", {"colonyname": "nowhere", "userid": "ab" * 32})


def test_get_user_by_id_only_in_the_named_colony(fake, worker, wc) -> None:
    fake.add_colony("prod")
    bob = fake.add_user("prod", "bob")
    for user_id in (bob.id, "ab" * 32, ""):
        with server_error(NotFound, 404, "Failed to get user by ID, user is nil"):
            wc.rpc("getuserbyidmsg", {"colonyname": "dev", "userid": user_id})


# --- the first two error rows of the new handlers (as tests/fake/test_handler_texts.py does for the rest)


TEXTS = {
    "addfunctionmsg": (
        "Failed to add function, invalid JSON",
        "Failed to add function, msg.MsgType does not match payloadType",
    ),
    "getfunctionsmsg": (
        "Failed to get function, invalid JSON",
        "Failed to get function, msg.MsgType does not match payloadType",
    ),
    "removefunctionmsg": (
        "Failed to remove function, invalid JSON",
        "Failed to remove function, msg.MsgType does not match payloadType",
    ),
    "getuserbyidmsg": (
        "Failed to get user by ID, invalid JSON",
        "Failed to get user by ID, msg.MsgType does not match payloadType",
    ),
}
KEY = Crypto().generate_private_key()


def _post(fake: FakeColonies, payloadtype: str, payload_text: str) -> tuple[int, Any]:
    encoded = base64.b64encode(payload_text.encode()).decode()
    body = json.dumps({"payloadtype": payloadtype, "payload": encoded, "signature": Crypto().sign(encoded, KEY)})
    reply = fake.handle_api(body.encode())
    return reply.status, json.loads(base64.b64decode(json.loads(reply.body)["payload"]))


@pytest.mark.parametrize("payloadtype", sorted(TEXTS))
@pytest.mark.parametrize("payload", ["[]", '{"msgtype": 7}', '{"fun": 5, "functionid": 5, "userid": 5}'])
def test_a_payload_that_does_not_decode(payloadtype: str, payload: str) -> None:
    if payloadtype == "getfunctionsmsg" and "fun" in payload:
        payload = '{"colonyname": 5}'
    assert _post(FakeColonies(), payloadtype, payload) == (400, {"status": 400, "message": TEXTS[payloadtype][0]})


@pytest.mark.parametrize("payloadtype", sorted(TEXTS))
def test_a_msgtype_other_than_the_payloadtype(payloadtype: str) -> None:
    status, payload = _post(FakeColonies(), payloadtype, json.dumps({"msgtype": "getcolonymsg"}))
    assert (status, payload) == (400, {"status": 400, "message": TEXTS[payloadtype][1]})


def test_a_function_stat_that_is_not_a_number_is_invalid_json(fake, worker, wc) -> None:
    for bad in ({"counter": 1.5}, {"minwaittime": "1"}, {"avgexectime": True}, {"args": [{"name": 1}]}):
        with server_error(BadRequest, 400, "Failed to add function, invalid JSON"):
            _add(wc, **bad)
    assert _names(wc) is None
