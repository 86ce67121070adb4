"""Payload wire forms and entry types (PROTOCOL.md 5.8, 6.11, 8.3; checklist 35, 36)."""

from __future__ import annotations

import base64

import pytest

from colonies_fake import InProcessTransport
from colonies_sync import BadRequest, ColoniesClient
from tests.channels.helpers import APPEND_INVALID_JSON, RecordingTransport, raw_append, raw_read, server_error

ALL_BYTES = bytes(range(256))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- what the client accepts and reads back ----------------------------------------------------


def test_str_payload_is_sent_as_utf8(world) -> None:
    pid = world.submit()
    world.sub.channel_append(pid, "chat", 1, 0, "héllo ✓ 世界")
    [entry] = world.sub.channel_read(pid, "chat")
    assert entry.payload == "héllo ✓ 世界".encode("utf-8")
    assert entry.text == "héllo ✓ 世界"
    assert raw_read(world.sub, pid, "chat")[0]["payload"] == b64("héllo ✓ 世界".encode("utf-8"))


def test_every_byte_value_round_trips(world) -> None:
    pid = world.submit()
    world.sub.channel_append(pid, "chat", 1, 0, ALL_BYTES)
    assert world.sub.channel_read(pid, "chat")[0].payload == ALL_BYTES
    assert raw_read(world.sub, pid, "chat")[0]["payload"] == b64(ALL_BYTES)
    assert world.fake.channel_log(pid, "chat")[0].payload == ALL_BYTES


def test_bytearray_and_memoryview_payloads_are_bytes(world) -> None:
    pid = world.submit()
    world.sub.channel_append(pid, "chat", 1, 0, bytearray(b"\x00\xff"))
    world.sub.channel_append(pid, "chat", 2, 0, memoryview(b"\x01\xfe"))
    assert [e.payload for e in world.sub.channel_read(pid, "chat")] == [b"\x00\xff", b"\x01\xfe"]


def test_a_payload_that_is_not_text_or_bytes_is_refused_by_the_client(world) -> None:
    pid = world.submit()
    with pytest.raises(TypeError):
        world.sub.channel_append(pid, "chat", 1, 0, 42)  # type: ignore[arg-type]
    assert world.fake.channel_log(pid, "chat") == []


@pytest.mark.parametrize("payload", [b"", ""])
def test_empty_payload_reads_back_as_empty_string_not_null(world, payload) -> None:
    pid = world.submit()
    world.sub.channel_append(pid, "chat", 1, 0, payload)
    assert world.sub.channel_read(pid, "chat")[0].payload == b""
    assert raw_read(world.sub, pid, "chat")[0]["payload"] == ""


# --- raw wire forms -------------------------------------------------------------------------


def test_int_array_payload_is_accepted_and_read_back_as_base64(world) -> None:
    pid = world.submit()
    raw_append(world.sub, pid, "chat", sequence=1, payload=[104, 105])
    raw_append(world.sub, pid, "chat", sequence=2, payload=list(ALL_BYTES))
    assert [e["payload"] for e in raw_read(world.sub, pid, "chat")] == ["aGk=", b64(ALL_BYTES)]
    assert [e.payload for e in world.sub.channel_read(pid, "chat")] == [b"hi", ALL_BYTES]


def test_empty_int_array_reads_back_as_empty_string(world) -> None:
    pid = world.submit()
    raw_append(world.sub, pid, "chat", sequence=1, payload=[])
    assert raw_read(world.sub, pid, "chat")[0]["payload"] == ""


def test_absent_and_null_payload_read_back_as_null_and_empty_bytes(world) -> None:
    pid = world.submit()
    assert raw_append(world.sub, pid, "chat", sequence=1) == {}
    assert raw_append(world.sub, pid, "chat", sequence=2, payload=None) == {}
    assert [e["payload"] for e in raw_read(world.sub, pid, "chat")] == [None, None]
    assert [e.payload for e in world.sub.channel_read(pid, "chat")] == [b"", b""]
    assert [e.text for e in world.sub.channel_read(pid, "chat")] == ["", ""]


def test_append_reply_is_an_empty_object(world) -> None:
    pid = world.submit()
    assert raw_append(world.sub, pid, "chat", sequence=1, payload="aGk=") == {}


@pytest.mark.parametrize(
    "fields",
    [
        {"sequence": 1, "payload": [256]},
        {"sequence": 1, "payload": [104, -1]},
        {"sequence": 1, "payload": [1.5]},
        {"sequence": 1, "payload": "!!!!"},
        {"sequence": 1, "payload": "aGk"},  # std base64 needs its padding
        {"sequence": 1, "payload": 5},
        {"sequence": "1", "payload": "aGk="},
        {"sequence": 1.5, "payload": "aGk="},
        {"sequence": 1, "inreplyto": "2", "payload": "aGk="},
    ],
    ids=[
        "element-256",
        "element-minus-1",
        "element-float",
        "bad-base64",
        "unpadded-base64",
        "number",
        "string-sequence",
        "float-sequence",
        "string-inreplyto",
    ],
)
def test_invalid_wire_forms_are_bad_request(world, fields) -> None:
    pid = world.submit()
    with server_error(BadRequest, 400, APPEND_INVALID_JSON):
        raw_append(world.sub, pid, "chat", **fields)
    assert world.fake.channel_log(pid, "chat") == []


# --- what the client puts on the wire ---------------------------------------------------------


@pytest.mark.parametrize("payload", ["text ✓", ALL_BYTES, b"", ""])
def test_client_sends_the_payload_as_a_base64_string_never_an_int_array(world, payload) -> None:
    pid = world.submit()
    recorder = RecordingTransport(InProcessTransport(world.fake))
    client = ColoniesClient(prvkey=world.keys["submitter"], transport=recorder)
    client.channel_append(pid, "chat", 7, 0, payload)
    [sent] = recorder.sent
    expected = payload.encode("utf-8") if isinstance(payload, str) else payload
    assert sent["msgtype"] == "channelappendmsg"
    assert isinstance(sent["payload"], str)
    assert sent["payload"] == b64(expected)
    assert (sent["processid"], sent["name"], sent["sequence"]) == (pid, "chat", 7)


def test_channel_handle_also_sends_base64(world) -> None:
    pid = world.submit()
    recorder = RecordingTransport(InProcessTransport(world.fake))
    client = ColoniesClient(prvkey=world.keys["submitter"], transport=recorder)
    client.channel(pid, "chat").append(b"\x00\x01")
    [sent] = recorder.sent
    assert sent["payload"] == "AAE="


# --- entry types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload_type", "stored"), [("", "data"), ("data", "data"), ("end", "end"), ("error", "error")]
)
def test_client_payload_types_are_stored(world, payload_type, stored) -> None:
    pid = world.submit()
    world.sub.channel_append(pid, "chat", 1, 0, "x", payload_type)
    assert world.sub.channel_read(pid, "chat")[0].type == stored
    assert raw_read(world.sub, pid, "chat")[0]["type"] == stored


@pytest.mark.parametrize("payload_type", ["my-type", "END", "Data", " end"])
def test_client_refuses_other_payload_types_without_sending(world, payload_type) -> None:
    pid = world.submit()
    recorder = RecordingTransport(InProcessTransport(world.fake))
    client = ColoniesClient(prvkey=world.keys["submitter"], transport=recorder)
    with pytest.raises(ValueError):
        client.channel_append(pid, "chat", 1, 0, "x", payload_type)
    assert recorder.sent == []
    assert world.fake.channel_log(pid, "chat") == []


def test_raw_custom_payload_type_is_stored_verbatim(world) -> None:
    pid = world.submit()
    raw_append(world.sub, pid, "chat", sequence=1, payload="", payloadtype="my-type")
    raw_append(world.sub, pid, "chat", sequence=2, payload="", payloadtype="")
    raw_append(world.sub, pid, "chat", sequence=3, payload="")
    assert [e["type"] for e in raw_read(world.sub, pid, "chat")] == ["my-type", "data", "data"]
    assert [e.type for e in world.sub.channel_read(pid, "chat")] == ["my-type", "data", "data"]
