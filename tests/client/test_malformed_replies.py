"""A reply or frame the models cannot read is a ``ProtocolError`` carrying the raw text, end to end.

The fake answers correctly; a transport wrapped around the client's own (in
process, or HTTP to a served fake) rewrites one field of a reply or a stream
frame on its way to the client, as a broken or hostile server would send it.
Nothing is quietly turned into other data: a channel payload of ``"!!!"`` is
not ``b""``, and a bad timestamp is not a bare ``ValueError``.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Any, Callable, Iterator, Optional

import pytest

from colonies_sync import ColoniesClient, FunctionSpec, MsgEntry, ProcessState, ProtocolError, RawReply, WaitTimeout

from .conftest import World

JOIN = 5.0

Rewrite = Callable[[str, Any], Any]  # (payloadtype, payload) -> new payload


def _rewrite(text: str, rewrite: Rewrite) -> str:
    envelope = json.loads(text)
    if envelope.get("error") is not True:
        payload = json.loads(base64.b64decode(envelope["payload"]))
        payload = rewrite(envelope["payloadtype"], payload)
        envelope["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    return json.dumps(envelope)


class Tampering:
    """A transport that passes everything through, rewriting the payloads of replies and frames."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.reply: Optional[Rewrite] = None
        self.frame: Optional[Rewrite] = None
        self.sent: list[str] = []  # the bodies and frames the client was given, as rewritten

    def call(self, envelope: bytes, *, timeout: float) -> RawReply:
        reply = self.inner.call(envelope, timeout=timeout)
        if self.reply is None:
            return reply
        body = _rewrite(reply.body.decode(), self.reply)
        self.sent.append(body)
        return RawReply(reply.status, body.encode())

    def open_stream(self, *, timeout: float) -> Any:
        return _TamperingStream(self.inner.open_stream(timeout=timeout), self)

    def close(self) -> None:
        self.inner.close()


class _TamperingStream:
    def __init__(self, inner: Any, owner: Tampering) -> None:
        self._inner = inner
        self._owner = owner

    def send(self, frame: str) -> None:
        self._inner.send(frame)

    def receive(self, timeout: Optional[float]) -> Optional[str]:
        frame = self._inner.receive(timeout)
        if frame is None or self._owner.frame is None:
            return frame
        frame = _rewrite(frame, self._owner.frame)
        self._owner.sent.append(frame)
        return frame

    def close(self) -> None:
        self._inner.close()


@pytest.fixture
def tampered(world: World) -> Iterator[tuple[ColoniesClient, Tampering]]:
    """The submitter's client on a tampering transport (wrapping this run's transport)."""
    base = world.fake.client(world.user.prvkey)
    wrapper = Tampering(base.transport)
    client = ColoniesClient(prvkey=world.user.prvkey, transport=wrapper, server_clock=world.fake.server_clock())
    yield client, wrapper
    client.close()
    base.close()


def _running_process(world: World, texts: list[str]) -> str:
    spec = FunctionSpec.create("echo", "dev", "cli", channels=["chat"])
    pid = world.submitter.submit_function_spec(spec).processid
    assert world.executor.assign("dev", -1).processid == pid
    for sequence, text in enumerate(texts, start=1):
        world.executor.channel_append(pid, "chat", sequence, 0, text)
    return pid


def _set(key: str, value: Any) -> Rewrite:
    """Set ``key`` on the payload object, or on each object of a payload array."""

    def rewrite(payloadtype: str, payload: Any) -> Any:
        for item in payload if isinstance(payload, list) else [payload]:
            item[key] = value
        return payload

    return rewrite


def test_a_reply_with_a_bad_timestamp_raises_protocol_error_with_the_raw_reply(world: World, tampered) -> None:
    client, wrapper = tampered
    pid = _running_process(world, [])
    wrapper.reply = _set("starttime", "yesterday")
    with pytest.raises(ProtocolError) as info:
        client.get_process(pid)
    assert (info.value.status, info.value.text) == (200, wrapper.sent[-1])
    assert "getprocessmsg" in str(info.value) and "yesterday" in str(info.value)
    assert isinstance(info.value.__cause__, ValueError)


@pytest.mark.parametrize("payload", ["!!!", "@@", "aGk", "aGk=\n"])
def test_a_channel_entry_whose_payload_is_not_base64_raises_protocol_error(
    world: World, tampered, payload: str
) -> None:
    """Before, "!!!" and "@@" read as b"": an entry silently lost its content."""
    client, wrapper = tampered
    pid = _running_process(world, ["hello"])
    wrapper.reply = _set("payload", payload)
    with pytest.raises(ProtocolError) as info:
        client.channel_read(pid, "chat")
    assert (info.value.status, info.value.text) == (200, wrapper.sent[-1])
    assert "channelreadmsg" in str(info.value)


def test_an_object_where_a_list_belongs_raises_protocol_error(world: World, tampered) -> None:
    """A list reply that is an object is not read as its keys."""
    client, wrapper = tampered
    _running_process(world, [])
    wrapper.reply = lambda payloadtype, payload: {"processid": "x"}
    with pytest.raises(ProtocolError, match="JSON array"):
        client.get_processes("dev", ProcessState.RUNNING)


@pytest.mark.parametrize(
    "key, value",
    [
        ("out", "abc"),  # a string where a list belongs: not three one-letter outputs
        ("errors", {"a": 1}),  # an object where a list belongs: not its keys
        ("spec", ["f"]),  # a list where an object belongs: not a default spec
        ("attributes", ["not an object"]),  # an item that is no attribute: not dropped
        ("retries", 1.5),  # a fraction where a count belongs: not rounded down
    ],
)
def test_a_value_of_the_wrong_shape_raises_protocol_error_instead_of_becoming_other_data(
    world: World, tampered, key: str, value: Any
) -> None:
    client, wrapper = tampered
    pid = _running_process(world, [])
    wrapper.reply = _set(key, value)
    with pytest.raises(ProtocolError) as info:
        client.get_process(pid)
    assert (info.value.status, info.value.text) == (200, wrapper.sent[-1])
    assert isinstance(info.value.__cause__, (TypeError, ValueError))


def test_unknown_keys_in_a_reply_are_kept_not_refused(world: World, tampered) -> None:
    """from_dict stays lenient about keys: a newer server's extra field is kept in extra."""
    client, wrapper = tampered
    pid = _running_process(world, ["hello"])
    wrapper.reply = _set("newfield", {"x": 1})
    assert client.get_process(pid).extra["newfield"] == {"x": 1}
    [entry] = client.channel_read(pid, "chat")
    assert (entry.text, entry.extra) == ("hello", {"newfield": {"x": 1}})


def test_a_channel_stream_frame_with_a_bad_payload_raises_protocol_error(world: World, tampered) -> None:
    client, wrapper = tampered
    pid = _running_process(world, ["hello"])
    wrapper.frame = _set("payload", "!!!")
    with pytest.raises(ProtocolError) as info:
        next(iter(client.channel(pid, "chat").stream(timeout=60)))
    assert (info.value.status, info.value.text) == (None, wrapper.sent[-1])
    assert isinstance(info.value.__cause__, ValueError)


def test_a_channel_subscription_ends_with_protocol_error_for_a_bad_frame(world: World, tampered) -> None:
    client, wrapper = tampered
    pid = _running_process(world, ["hello"])
    wrapper.frame = _set("timestamp", "not a time")
    got: list[list[MsgEntry]] = []
    errors: list[BaseException] = []
    ended = threading.Event()

    def on_error(exc: BaseException) -> None:
        errors.append(exc)
        ended.set()

    subscription = client.subscribe_channel(pid, "chat", 0, 60, got.append, on_error=on_error)
    assert ended.wait(JOIN)
    with pytest.raises(ProtocolError) as info:
        subscription.join(JOIN)
    assert errors == [info.value]
    assert got == []
    assert info.value.text == wrapper.sent[-1]


def test_a_process_event_with_a_bad_timestamp_ends_the_subscription_with_protocol_error(world: World, tampered) -> None:
    client, wrapper = tampered
    pid = _running_process(world, [])
    wrapper.frame = _set("starttime", "yesterday")
    got: list[Any] = []
    subscription = client.subscribe_process("dev", pid, ProcessState.RUNNING, 60, got.append)  # RUNNING: sent at once
    with pytest.raises(ProtocolError) as info:
        subscription.join(JOIN)
    assert got == []
    assert (info.value.status, info.value.text) == (None, wrapper.sent[-1])


class _Recording(ColoniesClient):
    """A subclass that hooks rpc(), as colonies_fake's pytest plugin does to note what a test made."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[str] = []

    def rpc(self, msgtype: str, fields: Any = None, *, prvkey: Any = None, timeout: Any = None) -> Any:
        reply = super().rpc(msgtype, fields, prvkey=prvkey, timeout=timeout)
        self.seen.append(msgtype)
        return reply


def test_the_typed_methods_still_go_through_rpc_so_a_subclass_sees_every_call(world: World) -> None:
    base = world.fake.client(world.user.prvkey)
    client = _Recording(prvkey=world.user.prvkey, transport=base.transport)
    pid = _running_process(world, ["hello"])
    client.get_process(pid)
    client.channel_read(pid, "chat")
    client.get_processes("dev", ProcessState.RUNNING)
    client.version()
    assert client.seen == ["getprocessmsg", "channelreadmsg", "getprocessesmsg", "versionmsg"]
    client.close()
    base.close()


def test_a_reply_from_an_rpc_override_that_is_not_readable_is_a_protocol_error(world: World) -> None:
    """An override that answers by itself leaves no raw reply: ProtocolError without status or text."""

    class Answering(ColoniesClient):
        def rpc(self, msgtype: str, fields: Any = None, *, prvkey: Any = None, timeout: Any = None) -> Any:
            return {"processid": "x", "starttime": "yesterday"}

    client = Answering(prvkey=world.user.prvkey, transport=world.fake.client().transport)
    with pytest.raises(ProtocolError, match="yesterday") as info:
        client.get_process("x")
    assert (info.value.status, info.value.text) == (None, "")
    assert "malformed getprocessmsg reply:" in str(info.value)  # a reply, though without its status
    client.close()


def test_a_plain_rpc_call_keeps_no_raw_reply_behind(world: World) -> None:
    """Only a typed call reads the raw reply, and only while it parses it: nothing is pinned after."""
    client = world.fake.client(world.user.prvkey)
    client.rpc("getcolonymsg", {"colonyname": "dev"})
    assert getattr(client._replies, "last", None) is None
    client.get_colony("dev")
    assert getattr(client._replies, "last", None) is None
    client.close()


def test_a_state_this_client_does_not_know_is_kept_and_a_wait_for_another_times_out_cleanly(
    world: World, tampered
) -> None:
    """A newer server's state stays a plain int; a wait neither mistakes it nor trips over it."""
    client, wrapper = tampered
    pid = _running_process(world, [])
    wrapper.reply = _set("state", 99)
    assert client.get_process(pid).state == 99
    with pytest.raises(WaitTimeout, match=r"\(it is 99\)"):
        client.wait(pid, timeout=0.3, poll_interval=0.1)
