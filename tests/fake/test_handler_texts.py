"""The first two error rows of every RPC: a payload that does not decode, and a msgtype mismatch.

The expected texts are copied here from PROTOCOL.md (and, for the RPCs it does
not spell out, from the real server's handlers), not read back from the fake's
message module, so a typo there fails this test.
"""

from __future__ import annotations

import base64
import json

import pytest

from colonies_fake import FakeColonies
from colonies_fake._handlers import HANDLERS
from colonies_sync import Crypto

TEXTS = {
    "addattributemsg": (
        "Failed to add attribute, invalid JSON",
        "Failed to add attribute, msg.MsgType does not match payloadType",
    ),
    "addcolonymsg": (
        "Failed to add colony, invalid JSON",
        "Failed to add colony, msg.MsgType does not match payloadType",
    ),
    "addexecutormsg": (
        "Failed to add executor, invalid JSON",
        "Failed to add executor, msg.MsgType does not match payloadType",
    ),
    "addlogmsg": ("Failed to add log, invalid JSON", "Failed to add log, msg.MsgType does not match payloadType"),
    "addusermsg": ("Failed to add user, invalid JSON", "Failed to add user, msg.MsgType does not match payloadType"),
    "approveexecutormsg": (
        "Failed to approve executor, invalid JSON",
        "Failed to approve executor, msg.MsgType does not match payloadType",
    ),
    "assignprocessmsg": (
        "Failed to assign process, invalid JSON",
        "Failed to assign process, msg.msgType does not match payloadType",
    ),
    "cancelprocessmsg": (
        "Failed to cancel process, invalid JSON",
        "Failed to cancel process, msg.MsgType does not match payloadType",
    ),
    "channelappendmsg": (
        "Failed to append to channel, invalid JSON",
        "Failed to append to channel, msg.MsgType does not match payloadType",
    ),
    "channelreadmsg": (
        "Failed to read from channel, invalid JSON",
        "Failed to read from channel, msg.MsgType does not match payloadType",
    ),
    "closefailedmsg": (
        "Failed to close failed, invalid JSON",
        "Failed to close process as failed, msg.MsgType does not match payloadType",
    ),
    "closesuccessfulmsg": (
        "Failed to close successful, invalid JSON",
        "Failed to close process as successful, msg.MsgType does not match payloadType",
    ),
    "getattributemsg": (
        "Failed to get attribute, invalid JSON",
        "Failed to get attribute, msg.MsgType does not match payloadType",
    ),
    "getcoloniesmsg": (
        "Failed to get colonies, invalid JSON",
        "Failed to get colonies, msg.MsgType does not match payloadType",
    ),
    "getcolonymsg": (
        "Failed to get colony, invalid JSON",
        "Failed to get colony, msg.MsgType does not match payloadType",
    ),
    "getcolonystatsmsg": (
        "Failed to get colony statistics, invalid JSON",
        "Failed to get colony statistics, msg.MsgType does not match payloadType",
    ),
    "getexecutorbyidmsg": (
        "Failed to get executor by ID, invalid JSON",
        "Failed to get executor by ID, msg.MsgType does not match payloadType",
    ),
    "getexecutormsg": (
        "Failed to get executor, invalid JSON",
        "Failed to get executor, msg.MsgType does not match payloadType",
    ),
    "getexecutorsmsg": (
        "Failed to get executors, invalid JSON",
        "Failed to get executors, msg.MsgType does not match payloadType",
    ),
    "getfunctionsmsg": (
        "Failed to get function, invalid JSON",
        "Failed to get function, msg.MsgType does not match payloadType",
    ),
    "addfunctionmsg": (
        "Failed to add function, invalid JSON",
        "Failed to add function, msg.MsgType does not match payloadType",
    ),
    "removefunctionmsg": (
        "Failed to remove function, invalid JSON",
        "Failed to remove function, msg.MsgType does not match payloadType",
    ),
    "getuserbyidmsg": (
        "Failed to get user by ID, invalid JSON",
        "Failed to get user by ID, msg.MsgType does not match payloadType",
    ),
    "getlogsmsg": ("Failed to get logs, invalid JSON", "Failed to get logs, msg.MsgType does not match payloadType"),
    "getpausestatusmsg": (
        "Failed to get pause status, invalid JSON",
        "Failed to get pause status, msg.MsgType does not match payloadType",
    ),
    "getprocessesmsg": (
        "Failed to get processes, invalid JSON",
        "Failed to get processes, msg.MsgType does not match payloadType",
    ),
    "getprocessmsg": (
        "Failed to get process, invalid JSON",
        "Failed to get process, msg.MsgType does not match payloadType",
    ),
    "getstatisticsmsg": (
        "Failed to get statistics, invalid JSON",
        "Failed to get statistics, msg.MsgType does not match payloadType",
    ),
    "getusermsg": ("Failed to get user, invalid JSON", "Failed to get user, msg.MsgType does not match payloadType"),
    "getusersmsg": ("Failed to get users, invalid JSON", "Failed to get users, msg.MsgType does not match payloadType"),
    "pauseassignmentsmsg": (
        "Failed to pause assignments, invalid JSON",
        "Failed to pause assignments, msg.MsgType does not match payloadType",
    ),
    "rejectexecutormsg": (
        "Failed to reject executor, invalid JSON",
        "Failed to reject executor, msg.MsgType does not match payloadType",
    ),
    "removeallprocessesmsg": (
        "Failed to remove all processes, invalid JSON",
        "Failed to remove all processes, msg.MsgType does not match payloadType",
    ),
    "removecolonymsg": (
        "Failed to remove colony, invalid JSON",
        "Failed to remove colony, msg.MsgType does not match payloadType",
    ),
    "removeexecutormsg": (
        "Failed to remove executor, invalid JSON",
        "Failed to remove executor, msg.MsgType does not match payloadType",
    ),
    "removeprocessmsg": (
        "Failed to remove process, invalid JSON",
        "Failed to remove process, msg.MsgType does not match payloadType",
    ),
    "removeusermsg": (
        "Failed to remove user, invalid JSON",
        "Failed to remove user, msg.MsgType does not match payloadType",
    ),
    "resumeassignmentsmsg": (
        "Failed to resume assignments, invalid JSON",
        "Failed to resume assignments, msg.MsgType does not match payloadType",
    ),
    "setoutputmsg": (
        "Failed to set output, invalid JSON",
        "Failed to set output, msg.MsgType does not match payloadType",
    ),
    "submitfuncspecmsg": (
        "Failed to submit process, invalid JSON",
        "Failed to submit process spec, msg.MsgType does not match payloadType",
    ),
    "versionmsg": (
        "Failed to get server version, invalid JSON",
        "Failed to get server version, msg.MsgType does not match payloadType",
    ),
}

KEY = Crypto().generate_private_key()


def _post(fake: FakeColonies, payloadtype: str, payload_text: str) -> tuple[int, dict[str, object]]:
    encoded = base64.b64encode(payload_text.encode()).decode()
    body = json.dumps({"payloadtype": payloadtype, "payload": encoded, "signature": Crypto().sign(encoded, KEY)})
    reply = fake.handle_api(body.encode())
    return reply.status, json.loads(base64.b64decode(json.loads(reply.body)["payload"]))


def test_every_handler_has_its_texts_here() -> None:
    assert sorted(HANDLERS) == sorted(TEXTS)


@pytest.mark.parametrize("payloadtype", sorted(TEXTS))
@pytest.mark.parametrize("payload", ["[]", "42", '{"msgtype": 7}', "not json"])
def test_a_payload_that_does_not_decode_gets_the_handlers_invalid_json_text(payloadtype: str, payload: str) -> None:
    fake = FakeColonies()
    assert _post(fake, payloadtype, payload) == (400, {"status": 400, "message": TEXTS[payloadtype][0]})


@pytest.mark.parametrize("payloadtype", sorted(TEXTS))
def test_a_msgtype_other_than_the_payloadtype_gets_the_handlers_mismatch_text(payloadtype: str) -> None:
    fake = FakeColonies()
    other = "getcolonymsg" if payloadtype != "getcolonymsg" else "getprocessmsg"
    status, payload = _post(fake, payloadtype, json.dumps({"msgtype": other}))
    assert (status, payload) == (400, {"status": 400, "message": TEXTS[payloadtype][1]})
