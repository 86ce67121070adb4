"""The RPC envelope codec (PROTOCOL.md sections 1.1, 2.1 and 2.2) and the exception tree.

``encode_request`` builds ``{"payloadtype", "payload", "signature"}``;
``decode_reply`` reads a reply and raises the matching exception.
"""

from __future__ import annotations

import base64
import json
import pickle
from typing import Any

import pytest

from colonies_sync import (
    BadRequest,
    ChannelFull,
    ChannelNotFound,
    ColoniesConnectionError,
    ColoniesError,
    Crypto,
    CryptoError,
    Forbidden,
    InternalServerError,
    InvalidPrivateKey,
    InvalidSignature,
    NoProcessAvailable,
    NotFound,
    PayloadTooLarge,
    ProcessNotFound,
    ProtocolError,
    RateLimitExceeded,
    RequestTimeout,
    ServerError,
    ServiceUnavailable,
    StreamError,
    UnknownProcess,
    WaitTimeout,
)
from colonies_sync import MsgEntry, Process
from colonies_sync._rpc import (
    decode_frame,
    decode_reply,
    encode_payload,
    encode_request,
    list_of,
    parse_frame,
    parse_reply,
)

KEY = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"
KEY_ID = "3fc05cf3df4b494e95d6a3d297a34f19938f7daa7422ab0d4f794454133341ac"
PROCESS_ID = "a6b2c1d2e3f405162738495a6b7c8d9eafb0c1d2e3f405162738495a6b7c8d9e"

# PROTOCOL.md section 3.6: the envelope example in the vector file.
EXAMPLE_PAYLOAD = (
    "eyJtc2d0eXBlIjoiZ2V0cHJvY2Vzc21zZyIsInByb2Nlc3NpZCI6ImE2YjJjMWQyZTNmNDA1MTYyNzM4NDk1YTZiN2M4ZDll"
    "YWZiMGMxZDJlM2Y0MDUxNjI3Mzg0OTVhNmI3YzhkOWUifQ=="
)
EXAMPLE_SIGNATURE = (
    "a8dd1267e664a285e62a23d885fc6dd736397350152c7cc99218dfab851dcc7c"
    "0bcc2c22cb52d82b583fa1bfa73dee018e7b4a747320603a6c698685f4cd684700"
)


@pytest.fixture(scope="module")
def crypto() -> Crypto:
    return Crypto()


def _reply(payloadtype: str, payload: Any, *, error: bool = False) -> bytes:
    text = json.dumps(payload, separators=(",", ":"))
    b64 = base64.b64encode(text.encode()).decode()
    return json.dumps({"payloadtype": payloadtype, "payload": b64, "error": error}).encode()


def _error_reply(status: int, message: str) -> bytes:
    return _reply("error", {"status": status, "message": message}, error=True)


# --- encode_request ----------------------------------------------------------------------


def test_encode_request_reproduces_the_envelope_example(crypto: Crypto) -> None:
    """The vector file's envelope comes out byte for byte: compact JSON, standard base64, RFC 6979 signature."""
    body = encode_request({"msgtype": "getprocessmsg", "processid": PROCESS_ID}, KEY, crypto)
    assert isinstance(body, bytes)
    env = json.loads(body)
    assert env == {"payloadtype": "getprocessmsg", "payload": EXAMPLE_PAYLOAD, "signature": EXAMPLE_SIGNATURE}


def test_encode_request_has_exactly_the_three_envelope_keys(crypto: Crypto) -> None:
    """The request envelope has payloadtype, payload and signature and nothing else."""
    env = json.loads(encode_request({"msgtype": "getcolonymsg", "colonyname": "dev"}, KEY, crypto))
    assert set(env) == {"payloadtype", "payload", "signature"}
    assert env["payloadtype"] == "getcolonymsg"


def test_encode_request_payload_is_standard_base64_of_compact_json(crypto: Crypto) -> None:
    """The payload uses the '+' and '/' alphabet with '=' padding over compact UTF-8 JSON."""
    message = {"msgtype": "addlogmsg", "processid": PROCESS_ID, "message": "??>>?~ é"}
    env = json.loads(encode_request(message, KEY, crypto))
    payload = env["payload"]
    assert "+" in payload or "/" in payload  # the message was chosen so one appears
    assert "-" not in payload and "_" not in payload
    assert len(payload) % 4 == 0
    text = base64.b64decode(payload, validate=True).decode("utf-8")
    assert text == json.dumps(message, separators=(",", ":"), ensure_ascii=False)
    assert ", " not in text and ": " not in text
    assert json.loads(text) == message
    assert encode_payload(message) == payload


def test_encode_request_signature_recovers_signer_over_base64_text(crypto: Crypto) -> None:
    """The signature is 130 lowercase hex chars over the base64 text and recovers the signer's id."""
    env = json.loads(encode_request({"msgtype": "getcolonymsg", "colonyname": "dev"}, KEY, crypto))
    assert len(env["signature"]) == 130
    assert env["signature"] == env["signature"].lower()
    assert crypto.recover_id(env["payload"], env["signature"]) == KEY_ID
    decoded = base64.b64decode(env["payload"]).decode()
    assert crypto.recover_id(decoded, env["signature"]) != KEY_ID


@pytest.mark.parametrize("msgtype", ["versionmsg", "getserverinfomsg"])
def test_unsigned_types_without_key_get_an_empty_signature(crypto: Crypto, msgtype: str) -> None:
    """versionmsg and getserverinfomsg go out with signature "" when no key is given."""
    env = json.loads(encode_request({"msgtype": msgtype}, None, crypto))
    assert env == {
        "payloadtype": msgtype,
        "payload": base64.b64encode(json.dumps({"msgtype": msgtype}, separators=(",", ":")).encode()).decode(),
        "signature": "",
    }


def test_signed_type_without_key_raises_value_error(crypto: Crypto) -> None:
    """Any other msgtype needs a key: ValueError before anything is built."""
    with pytest.raises(ValueError, match="getprocessmsg"):
        encode_request({"msgtype": "getprocessmsg", "processid": PROCESS_ID}, None, crypto)


@pytest.mark.parametrize("message", [{"processid": PROCESS_ID}, {"msgtype": ""}, {"msgtype": None}])
def test_message_without_msgtype_raises_value_error(crypto: Crypto, message: dict[str, Any]) -> None:
    """A message with no (or an empty) msgtype cannot be sent."""
    with pytest.raises(ValueError):
        encode_request(message, KEY, crypto)


def test_encode_request_with_invalid_key_raises_invalid_private_key(crypto: Crypto) -> None:
    """A malformed key surfaces as InvalidPrivateKey, not a generic error."""
    with pytest.raises(InvalidPrivateKey):
        encode_request({"msgtype": "getcolonymsg", "colonyname": "dev"}, "00" * 31, crypto)


# --- decode_reply: success ---------------------------------------------------------------


def test_decode_reply_round_trips_a_success_payload() -> None:
    """A success reply gives (payloadtype, decoded JSON)."""
    colony = {"colonyid": KEY_ID, "name": "dev"}
    assert decode_reply(200, _reply("getcolonymsg", colony)) == ("getcolonymsg", colony)


def test_decode_reply_accepts_str_body_and_list_payload() -> None:
    """The body may be text; list payloads come back as lists."""
    entries = [{"sequence": 1, "payload": "aGk=", "type": "data"}]
    body = _reply("channelreadmsg", entries).decode()
    assert decode_reply(200, body) == ("channelreadmsg", entries)


def test_decode_reply_empty_object_payload_e30() -> None:
    """The empty success payload 'e30=' is base64 of '{}' and decodes to {}."""
    body = b'{"payloadtype":"approveexecutormsg","payload":"e30=","error":false}'
    assert decode_reply(200, body) == ("approveexecutormsg", {})


def test_decode_reply_null_payload_gives_none() -> None:
    """A JSON null payload (an empty list on the real server) decodes to None."""
    body = b'{"payloadtype":"getprocessesmsg","payload":"bnVsbA==","error":false}'
    assert decode_reply(200, body) == ("getprocessesmsg", None)


def test_decode_reply_keeps_the_reply_payloadtype() -> None:
    """The reply's payloadtype is returned as sent (getpausestatusmsg answers pausestatusreplymsg)."""
    payload = {"msgtype": "pausestatusreplymsg", "colonyname": "dev", "ispaused": True}
    assert decode_reply(200, _reply("pausestatusreplymsg", payload)) == ("pausestatusreplymsg", payload)


def test_decode_reply_restores_go_escapes() -> None:
    """Go writes <, > and & as \\u003c, \\u003e, \\u0026; decoding restores them."""
    text = '{"message":"a \\u003cb\\u003e \\u0026 c"}'
    body = json.dumps({"payloadtype": "x", "payload": base64.b64encode(text.encode()).decode(), "error": False})
    assert decode_reply(200, body) == ("x", {"message": "a <b> & c"})


def test_decode_reply_success_with_non_200_status_is_still_success() -> None:
    """The error flag decides, never the HTTP status alone."""
    assert decode_reply(500, _reply("getcolonymsg", {"name": "dev"})) == ("getcolonymsg", {"name": "dev"})


# --- decode_reply: errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "Failed to close process as successful, process is nil",
        "Failed to close process as failed, process is nil",
        "Failed to set output, process is nil",
        "Failed to cancel process, process is nil",
        "Failed to remove process, process is nil",
        "Failed to add log, process is nil",
        "Failed to get logs, process does not exist",
    ],
)
def test_500_for_an_unknown_process_is_both_internal_error_and_process_not_found(message: str) -> None:
    """The real server's other way of saying "no such process" is caught by ``except ProcessNotFound``."""
    with pytest.raises(UnknownProcess) as info:
        decode_reply(500, _error_reply(500, message))
    assert isinstance(info.value, ProcessNotFound) and isinstance(info.value, InternalServerError)
    assert (info.value.status, info.value.message) == (500, message)


def test_a_500_about_something_else_stays_an_internal_error() -> None:
    with pytest.raises(InternalServerError) as info:
        decode_reply(500, _error_reply(500, "Failed to get executor, executor is nil"))
    assert not isinstance(info.value, ProcessNotFound)


@pytest.mark.parametrize(
    ("status", "message", "cls"),
    [
        (400, "Failed to get colony, invalid JSON", BadRequest),
        (403, "Access denied, not a member of Colony with name dev", Forbidden),
        (404, "Failed to get executor by ID, executor is nil", NotFound),
        (408, "Assignment timeout: colony assignments are paused", RequestTimeout),
        (500, "Failed to set up the database", InternalServerError),
        (503, "No processes available: colony assignments are paused", ServiceUnavailable),
        (418, "I'm a teapot", ServerError),
    ],
)
def test_error_reply_maps_status_to_class(status: int, message: str, cls: type[ServerError]) -> None:
    """Each status gets its class (one without a class of its own: plain ServerError), with its fields."""
    with pytest.raises(ServerError) as info:
        decode_reply(status, _error_reply(status, message))
    err = info.value
    assert type(err) is cls
    assert isinstance(err, ColoniesError)
    assert (err.status, err.message, err.http_status) == (status, message, status)
    if cls is not ServerError:
        assert cls.status_code == status


@pytest.mark.parametrize(
    ("status", "message", "cls", "parent"),
    [
        (404, "Process not found", ProcessNotFound, NotFound),
        (404, "Failed to get process, process not found", ProcessNotFound, NotFound),
        (404, "Channel not found", ChannelNotFound, NotFound),
        (404, "No process available for assignment", NoProcessAvailable, NotFound),
        (500, "rate limit exceeded", RateLimitExceeded, InternalServerError),
        (500, "channel log is full", ChannelFull, InternalServerError),
        (500, "message payload exceeds maximum size", PayloadTooLarge, InternalServerError),
    ],
)
def test_error_reply_maps_specific_text_to_class(
    status: int, message: str, cls: type[ServerError], parent: type[ServerError]
) -> None:
    """The server's exact texts get the specific subclass, which is also the status class."""
    with pytest.raises(ServerError) as info:
        decode_reply(status, _error_reply(status, message))
    err = info.value
    assert type(err) is cls
    assert isinstance(err, parent)
    assert (err.status, err.message, err.http_status) == (status, message, status)


def test_specific_text_with_another_status_gets_only_the_status_class() -> None:
    """'Process not found' under 400 is a BadRequest, not a ProcessNotFound."""
    with pytest.raises(BadRequest) as info:
        decode_reply(400, _error_reply(400, "Process not found"))
    assert type(info.value) is BadRequest


def test_error_reply_keeps_http_status_separately() -> None:
    """The payload status wins for the class; the HTTP status is kept as http_status."""
    with pytest.raises(Forbidden) as info:
        decode_reply(200, _error_reply(403, "Not authorized to write to channel"))
    assert (info.value.status, info.value.http_status) == (403, 200)
    assert info.value.message == "Not authorized to write to channel"


def test_error_message_is_kept_word_for_word() -> None:
    """Angle brackets and other characters in the text are not touched."""
    text = "Colony with name <dev> does not exists"
    with pytest.raises(Forbidden) as info:
        decode_reply(403, _error_reply(403, text))
    assert info.value.message == text
    assert str(info.value) == f"403: {text}"


# --- decode_reply: not an envelope ------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body"),
    [
        pytest.param(200, b"", id="empty-200"),
        pytest.param(500, b"", id="empty-500"),
        pytest.param(502, b"<html><body>Bad Gateway</body></html>", id="html"),
        pytest.param(404, b"404 page not found", id="gin-404"),
        pytest.param(200, b'[{"payloadtype":"x","payload":"e30="}]', id="json-array"),
        pytest.param(200, b"null", id="json-null"),
        pytest.param(200, b'{"payloadtype":"x","error":false}', id="no-payload"),
        pytest.param(200, b'{"payloadtype":"x","payload":"!!!not base64!!!","error":false}', id="bad-base64"),
        pytest.param(200, b'{"payloadtype":"x","payload":"e30","error":false}', id="unpadded-base64"),
        pytest.param(200, b'{"payloadtype":"x","payload":"bm90IGpzb24=","error":false}', id="payload-not-json"),
    ],
)
def test_non_envelope_body_raises_protocol_error_with_status_and_raw_text(status: int, body: bytes) -> None:
    """A body that is not a valid envelope raises ProtocolError carrying the HTTP status and the raw text."""
    with pytest.raises(ProtocolError) as info:
        decode_reply(status, body)
    assert info.value.status == status
    assert info.value.text == body.decode()
    assert not isinstance(info.value, ServerError)


def test_protocol_error_text_keeps_a_long_body_whole() -> None:
    """.text is the whole raw body, even when the message shortens it."""
    body = "<html>" + "x" * 5000 + "</html>"
    with pytest.raises(ProtocolError) as info:
        decode_reply(502, body)
    assert info.value.text == body


# --- parse_reply / parse_frame: the boundary where server data becomes models --------------

GOOD_PROCESS = {"processid": PROCESS_ID, "state": 1, "starttime": "2026-11-26T11:02:03Z"}
GOOD_ENTRY = {"sequence": 1, "timestamp": "2026-11-26T11:02:03Z", "senderid": KEY_ID, "payload": "aGk="}


def _frame(payloadtype: str, payload: Any, *, error: bool = False) -> str:
    return _reply(payloadtype, payload, error=error).decode()


def test_parse_reply_returns_the_model() -> None:
    """A well-formed reply is parsed into the model, unknown keys kept (from_dict stays lenient about keys)."""
    process = parse_reply(200, _reply("getprocessmsg", dict(GOOD_PROCESS, newfield=7)), Process.from_dict)
    assert (process.processid, process.state, process.extra) == (PROCESS_ID, 1, {"newfield": 7})


@pytest.mark.parametrize(
    ("payloadtype", "payload", "parse", "cause", "shown"),
    [
        pytest.param(
            "getprocessmsg",
            dict(GOOD_PROCESS, starttime="yesterday"),
            Process.from_dict,
            ValueError,
            "yesterday",
            id="bad-timestamp",
        ),
        pytest.param(
            "getprocessmsg",
            dict(GOOD_PROCESS, retries="many"),
            Process.from_dict,
            ValueError,
            "many",
            id="bad-number",
        ),
        pytest.param(
            "channelreadmsg",
            [dict(GOOD_ENTRY, payload="!!!")],
            list_of(MsgEntry.from_dict),
            ValueError,
            "!!!",
            id="bad-base64",
        ),
        pytest.param(
            "channelreadmsg",
            [dict(GOOD_ENTRY, payload="@@")],
            list_of(MsgEntry.from_dict),
            ValueError,
            "@@",
            id="bad-base64-2",
        ),
        pytest.param(
            "getprocessesmsg",
            {"processid": PROCESS_ID},
            list_of(Process.from_dict),
            TypeError,
            "JSON array",
            id="object-for-array",
        ),
        pytest.param(
            "getprocessesmsg",
            ["not an object"],
            list_of(Process.from_dict),
            TypeError,
            "mapping",
            id="string-in-array",
        ),
        pytest.param("getprocessmsg", None, Process.from_dict, TypeError, "mapping", id="null-for-object"),
        pytest.param("getprocessmsg", [GOOD_PROCESS], Process.from_dict, TypeError, "mapping", id="array-for-object"),
    ],
)
def test_a_reply_the_models_cannot_read_is_a_protocol_error_with_the_raw_text(
    payloadtype: str, payload: Any, parse: Any, cause: type[Exception], shown: str
) -> None:
    """Not a bare ValueError/TypeError, and nothing made up: ProtocolError with status, raw text and the cause."""
    body = _reply(payloadtype, payload)
    with pytest.raises(ProtocolError) as info:
        parse_reply(502, body, parse)
    assert (info.value.status, info.value.text) == (502, body.decode())
    assert isinstance(info.value.__cause__, cause)
    assert payloadtype in str(info.value) and "HTTP 502" in str(info.value)
    assert shown in str(info.value)
    assert not isinstance(info.value, ServerError)


def test_parse_reply_raises_the_server_error_of_an_error_reply_without_parsing() -> None:
    """An error envelope is the server's error, as with decode_reply; the parser never sees it."""

    def parse(payload: Any) -> Any:
        raise AssertionError("parsed an error reply")

    with pytest.raises(ProcessNotFound):
        parse_reply(404, _error_reply(404, "Process not found"), parse)


def test_parse_reply_does_not_turn_other_errors_into_protocol_errors() -> None:
    """Only what parsing data raises is translated; a bug (here a KeyboardInterrupt) passes through."""

    def parse(payload: Any) -> Any:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        parse_reply(200, _reply("x", {}), parse)


def test_list_of_reads_null_as_an_empty_list() -> None:
    """The real server sends null for an empty list."""
    assert parse_reply(200, _reply("getprocessesmsg", None), list_of(Process.from_dict)) == []


def test_decode_frame_gives_payloadtype_and_payload() -> None:
    assert decode_frame(_frame("subscribeprocessmsg", GOOD_PROCESS)) == ("subscribeprocessmsg", GOOD_PROCESS)


def test_a_frame_the_models_cannot_read_is_a_protocol_error_with_the_frame() -> None:
    """A channel frame with an entry whose payload is not base64 is reported, with the frame as text."""
    frame = _frame("subscribechannelmsg", [GOOD_ENTRY, dict(GOOD_ENTRY, sequence=2, payload="!!!")])
    with pytest.raises(ProtocolError) as info:
        parse_frame(frame, list_of(MsgEntry.from_dict))
    assert (info.value.status, info.value.text) == (None, frame)
    assert "subscribechannelmsg stream frame" in str(info.value)
    assert isinstance(info.value.__cause__, ValueError)


def test_a_process_frame_with_a_bad_timestamp_is_a_protocol_error() -> None:
    frame = _frame("subscribeprocessmsg", dict(GOOD_PROCESS, starttime="2026-11-26 noon"))
    with pytest.raises(ProtocolError) as info:
        parse_frame(frame, Process.from_dict)
    assert (info.value.status, info.value.text) == (None, frame)


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param("not json", id="not-json"),
        pytest.param('{"payloadtype":"subscribechannelmsg","error":false}', id="no-payload"),
        pytest.param('{"payloadtype":"subscribechannelmsg","payload":"","error":false}', id="empty-payload"),
        pytest.param('{"payloadtype":"subscribechannelmsg","payload":"W10","error":false}', id="unpadded"),
        pytest.param('{"payloadtype":"subscribechannelmsg","payload":"!W10=","error":false}', id="bad-base64"),
        pytest.param("[" * 100_000 + "]" * 100_000, id="deeply-nested"),
    ],
)
def test_a_frame_that_is_not_an_envelope_is_a_protocol_error(frame: str) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_frame(frame)
    assert (info.value.status, info.value.text) == (None, frame)


def test_an_error_frame_raises_the_server_error() -> None:
    """An error frame carries the server's status and text; with no HTTP status, http_status is the status."""
    with pytest.raises(ChannelNotFound) as info:
        parse_frame(
            _frame("error", {"status": 404, "message": "Channel not found"}, error=True), list_of(MsgEntry.from_dict)
        )
    assert (info.value.status, info.value.message, info.value.http_status) == (404, "Channel not found", 404)


def test_a_malformed_error_frame_is_a_protocol_error() -> None:
    frame = _frame("error", ["not", "an", "error"], error=True)
    with pytest.raises(ProtocolError):
        decode_frame(frame)


# --- exceptions --------------------------------------------------------------------------

SERVER_ERRORS = [
    BadRequest(400, "bad", http_status=400),
    Forbidden(403, "no", http_status=200),
    NotFound(404, "gone"),
    ProcessNotFound(404, "Process not found"),
    ChannelNotFound(404, "Channel not found"),
    NoProcessAvailable(404, "No process available for assignment"),
    RequestTimeout(408, "late"),
    InternalServerError(500, "boom"),
    RateLimitExceeded(500, "rate limit exceeded"),
    ChannelFull(500, "channel log is full"),
    PayloadTooLarge(500, "message payload exceeds maximum size"),
    ServiceUnavailable(503, "No processes available: colony assignments are paused", http_status=503),
    UnknownProcess(500, "Failed to remove process, process is nil"),
]


@pytest.mark.parametrize("err", SERVER_ERRORS, ids=lambda e: type(e).__name__)
def test_server_errors_pickle_with_their_fields(err: ServerError) -> None:
    """A ServerError survives pickling with its class, status, message, http_status and str()."""
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is type(err)
    assert (copy.status, copy.message, copy.http_status) == (err.status, err.message, err.http_status)
    assert str(copy) == str(err)


def test_protocol_error_pickles_with_status_and_text() -> None:
    """ProtocolError keeps status and the raw text across pickling."""
    err = ProtocolError("not an envelope", status=500, text="<html>")
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is ProtocolError
    assert (str(copy), copy.status, copy.text) == ("not an envelope", 500, "<html>")


def test_stream_error_pickles_with_its_entry() -> None:
    """StreamError keeps its entry across pickling."""
    err = StreamError("error entry", entry={"sequence": 3, "type": "error"})
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is StreamError
    assert (str(copy), copy.entry) == ("error entry", {"sequence": 3, "type": "error"})


@pytest.mark.parametrize(
    "err",
    [
        InvalidSignature("Invalid signature length"),
        InvalidPrivateKey("Invalid private key"),
        WaitTimeout("no end entry within 5 s"),
        ColoniesConnectionError("connection refused"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_plain_errors_pickle(err: ColoniesError) -> None:
    """The other errors survive pickling with their class and text."""
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is type(err)
    assert str(copy) == str(err)


def test_wait_timeout_is_a_timeout_error() -> None:
    """WaitTimeout can be caught as the builtin TimeoutError."""
    assert issubclass(WaitTimeout, TimeoutError)
    assert issubclass(WaitTimeout, ColoniesError)
    with pytest.raises(TimeoutError):
        raise WaitTimeout("late")


def test_invalid_signature_and_private_key_are_value_errors() -> None:
    """InvalidSignature and InvalidPrivateKey can be caught as ValueError."""
    assert issubclass(InvalidSignature, ValueError)
    assert issubclass(InvalidPrivateKey, ValueError)
    assert issubclass(CryptoError, ColoniesError)


def test_server_error_http_status_defaults_to_status() -> None:
    """Without http_status the payload status is used for it."""
    assert NotFound(404, "gone").http_status == 404
