"""Channel messages (PROTOCOL.md 5.8): the checks up to the channel, then the router's rules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from colonies_fake import _messages as msgs
from colonies_fake._errors import Fail
from colonies_fake._handlers import handler

if TYPE_CHECKING:
    from colonies_fake._channels import Channel
    from colonies_fake._core import Call, FakeColonies


def _channel(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Channel:
    p = fake.procs.get(msg["processid"])
    if p is None:
        raise Fail(404, msgs.PROCESS_NOT_FOUND)  # before membership: visible to anyone
    fake.require_membership(call.caller, p.colonyname, approved=True)
    return fake.channels.find(p, msg["name"])


@handler("channelappendmsg", msgs.APPEND_INVALID_JSON, msgs.APPEND_MSGTYPE)
def channel_append(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    channel = _channel(fake, call, msg)
    fake.channels.append(channel, call.caller, msg["sequence"], msg["inreplyto"], msg["payload"], msg["payloadtype"])
    return {}


@handler("channelreadmsg", msgs.READ_INVALID_JSON, msgs.READ_MSGTYPE)
def channel_read(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    channel = _channel(fake, call, msg)
    return [entry.render() for entry in fake.channels.read(channel, call.caller, msg["afterseq"], msg["limit"])]
