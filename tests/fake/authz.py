"""The world, the roles and the two ways of calling for the authorisation matrix (test_authorization_matrix.py).

One world per cell, in colony ``dev``: every role of PROTOCOL.md section 4 has
a key, two processes exist so that process-scoped rules have a target, and
"executor" has registered a function (for the function-scoped rules).
A call is answered with an outcome value (:data:`ALLOWED`, :class:`Refused`,
:class:`NoReply`), so a cell of the table and what the fake did compare with
``==``.
"""

from __future__ import annotations

import json
from typing import Any, Union

import attrs

from colonies_fake import FakeColonies
from colonies_sync import Crypto, FunctionSpec, ProtocolError, ServerError
from colonies_sync._rpc import decode_reply, encode_request
from tests.fake.helpers import JOIN_TIMEOUT

# Who signs, one column of the table each: the roles of PROTOCOL.md 4, plus "other-executor":
# the process-scoped rules (close, channels) need an approved member that is no party.
ROLES: dict[str, str] = {
    "server-owner": "holder of the server key",
    "colony-owner": "holder of the key of colony dev",
    "executor": "approved executor worker-1 of dev; the running process is assigned to it; it registered a function",
    "other-executor": "approved executor worker-2 of dev; submitted nothing, assigned nothing",
    "pending-executor": "executor pending-1 of dev, registered but never approved",
    "foreign-executor": "approved executor of another colony (prod)",
    "user": "user alice of dev; she submitted both processes",
    "unknown-key": "a key the server has never seen",
}

CRYPTO = Crypto()


@attrs.frozen
class Allowed:
    """The call succeeded."""

    def __repr__(self) -> str:
        return "ALLOWED"


ALLOWED = Allowed()


@attrs.frozen
class Refused:
    """An error reply: its status and the server's text (``{assigned}`` stands for the assigned executor's id)."""

    status: int
    message: str


@attrs.frozen
class NoReply:
    """An empty body with this HTTP status: the real handler returned without replying (PROTOCOL.md 1.1)."""

    status: int


Outcome = Union[Allowed, Refused, NoReply]


@attrs.frozen
class World:
    fake: FakeColonies
    keys: dict[str, str]
    running: str  # RUNNING, submitted by the user with channel "chat", assigned to "executor"
    waiting: str  # WAITING, submitted by the user: the one thing there is to assign
    attribute: str  # the env attribute of the running process
    assigned: str  # id of "executor"
    alice: str  # id of "user"
    function: str  # id of the function "executor" registered

    def new_id(self) -> str:
        return CRYPTO.id(CRYPTO.generate_private_key())

    def render(self, expected: Outcome) -> Outcome:
        """A cell with its template filled in."""
        if isinstance(expected, Refused):
            return Refused(expected.status, expected.message.format(assigned=self.assigned))
        return expected


def build_world(fake: FakeColonies) -> World:
    colony = fake.add_colony("dev")
    fake.add_colony("prod")
    executor = fake.add_executor("dev", "worker-1", "test")
    user = fake.add_user("dev", "alice")
    keys = {
        "server-owner": fake.server_prvkey,
        "colony-owner": colony.prvkey,
        "executor": executor.prvkey,
        "other-executor": fake.add_executor("dev", "worker-2", "test").prvkey,
        "pending-executor": fake.add_executor("dev", "pending-1", "test", approved=False).prvkey,
        "foreign-executor": fake.add_executor("prod", "prod-worker", "test").prvkey,
        "user": user.prvkey,
        "unknown-key": CRYPTO.generate_private_key(),
    }
    as_user = fake.client(user.prvkey)
    running = as_user.submit_function_spec(
        FunctionSpec.create("echo", "dev", "test", channels=["chat"], env={"stage": "matrix"})
    )
    assert fake.client(executor.prvkey).assign("dev", -1).processid == running.processid
    waiting = as_user.submit_function_spec(FunctionSpec.create("echo", "dev", "test")).processid
    as_user.channel_append(running.processid, "chat", 1, 0, b"hello")
    (attribute,) = running.attributes
    function = fake.client(executor.prvkey).rpc(
        "addfunctionmsg", {"fun": {"executorname": "worker-1", "colonyname": "dev", "funcname": "echo"}}
    )
    return World(
        fake, keys, running.processid, waiting, attribute.attributeid, executor.id, user.id, function["functionid"]
    )


def call(world: World, role: str, msgtype: str, fields: dict[str, Any]) -> Outcome:
    """Send one RPC signed by ``role`` (the unsigned types too: any signature is ignored there)."""
    client = world.fake.client(world.keys[role])
    envelope = encode_request({"msgtype": msgtype, **fields}, world.keys[role], CRYPTO)
    reply = client.transport.call(envelope, timeout=JOIN_TIMEOUT)
    try:
        decode_reply(reply.status, reply.body)
    except ServerError as exc:
        assert exc.http_status == exc.status
        return Refused(exc.status, exc.message)
    except ProtocolError as exc:
        assert exc.text == ""
        return NoReply(reply.status)
    assert reply.status == 200
    return ALLOWED


def subscribe(world: World, role: str, msgtype: str, fields: dict[str, Any]) -> Outcome:
    """Send one ``/pubsub`` subscription signed by ``role``; refused if an error frame answers it.

    An accepted ``subscribeprocessesmsg`` sends nothing, so a probe follows on
    the same socket: a process subscription for the WAITING process, answered
    at once. Frames come in order, so reaching the probe's answer without an
    error frame means the subscription was accepted. A channel subscription
    (sent with a negative timeout) ends right after its replay, so the probe is
    read after it.
    """
    key = world.keys[role]
    stream = world.fake.client(key).transport.open_stream(timeout=JOIN_TIMEOUT)
    probe = {"msgtype": "subscribeprocessmsg", "processid": world.waiting, "executortype": "", "state": 0}
    try:
        for message in ({"msgtype": msgtype, **fields}, {**probe, "timeout": 100}):
            stream.send(encode_request(message, key, CRYPTO).decode("ascii"))
        while True:
            frame = stream.receive(JOIN_TIMEOUT)
            assert frame is not None, "no frame within the join timeout"
            try:
                payloadtype, payload = decode_reply(200, frame)
            except ServerError as exc:
                return Refused(exc.status, exc.message)
            if payloadtype == "subscribeprocessmsg" and payload["processid"] == world.waiting:
                return ALLOWED
            assert payloadtype == msgtype, json.dumps(payload)[:200]
    finally:
        stream.close()
