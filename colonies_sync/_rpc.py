"""The RPC envelope: build signed requests, read replies. No I/O.

A request is ``{"payloadtype", "payload", "signature"}`` where ``payload`` is the
standard base64 of the message JSON and ``signature`` signs that base64 *text*.
A reply is ``{"payloadtype", "payload", "error"}``; an error reply carries
``{"status", "message"}`` (PROTOCOL.md section 2).

This module turns error replies into the exception tree of ``_exceptions`` and a
body that is not an envelope into ``ProtocolError``. It never looks at the HTTP
status to decide success: the envelope's ``error`` flag decides. ``/pubsub``
frames are the same envelopes and are read the same way.

It is also the one place where the server's data becomes model objects
(:func:`parse_reply`, :func:`parse_frame`): a payload the models cannot read
(a bad timestamp, a channel payload that is not base64) is a ``ProtocolError``
carrying the raw text, never a bare ``ValueError`` from deep inside a model.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Callable, Mapping, Optional, TypeVar

from colonies_sync._crypto import Crypto
from colonies_sync._exceptions import ProtocolError, server_error
from colonies_sync._models import b64decode

__all__ = [
    "UNSIGNED_TYPES",
    "decode_frame",
    "decode_reply",
    "encode_payload",
    "encode_request",
    "list_of",
    "parse_frame",
    "parse_payload",
    "parse_reply",
]

_T = TypeVar("_T")

# The real server answers these without looking at the signature.
UNSIGNED_TYPES = frozenset({"versionmsg", "getserverinfomsg"})

_COMPACT = (",", ":")


def encode_payload(message: Mapping[str, Any]) -> str:
    """The base64 text of a message's compact JSON (the part that is signed)."""
    text = json.dumps(message, separators=_COMPACT, ensure_ascii=False, allow_nan=False)
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def encode_request(message: Mapping[str, Any], prvkey: Optional[str], crypto: Crypto) -> bytes:
    """A signed request envelope for ``message`` as UTF-8 JSON bytes.

    ``message["msgtype"]`` names the RPC. ``prvkey`` may be ``None`` only for the
    unsigned types (``versionmsg``, ``getserverinfomsg``), which are sent with an
    empty signature as the Go client does.
    """
    msgtype = message.get("msgtype")
    if not isinstance(msgtype, str) or not msgtype:
        raise ValueError("message needs a non-empty 'msgtype'")
    payload = encode_payload(message)
    if prvkey is None:
        if msgtype not in UNSIGNED_TYPES:
            raise ValueError(f"{msgtype} must be signed: set a private key on the client or pass prvkey=")
        signature = ""
    else:
        signature = crypto.sign(payload, prvkey)
    envelope = {"payloadtype": msgtype, "payload": payload, "signature": signature}
    return json.dumps(envelope, separators=_COMPACT).encode("ascii")


def decode_reply(status: int, body: bytes | str) -> tuple[str, Any]:
    """Parse a reply envelope and return ``(payloadtype, decoded payload)``.

    Raises the matching :class:`~colonies_sync.ServerError` subclass for an error
    reply, and :class:`~colonies_sync.ProtocolError` (with ``status`` and the raw
    ``text``) for anything that is not a well-formed envelope.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else body
    return _decode_envelope(text, status)


def parse_reply(status: int, body: bytes | str, parse: Callable[[Any], _T]) -> _T:
    """:func:`decode_reply`, then ``parse`` the payload into what the caller returns (a model).

    This is the boundary where a server's data becomes objects: whatever
    ``parse`` cannot read (a timestamp that is not RFC 3339, a channel payload
    that is not base64, a string where a list belongs) raises
    :class:`~colonies_sync.ProtocolError` with ``status`` and the raw ``text``,
    the model's own error chained as its cause.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else body
    payloadtype, payload = _decode_envelope(text, status)
    return parse_payload(payloadtype, payload, parse, status=status, text=text)


def decode_frame(frame: str) -> tuple[str, Any]:
    """A ``/pubsub`` frame's ``(payloadtype, decoded payload)``, as :func:`decode_reply` for a reply.

    An error frame raises its :class:`~colonies_sync.ServerError`; anything
    else that is not an envelope with a JSON payload raises
    :class:`~colonies_sync.ProtocolError` (``status`` ``None``, ``text`` the frame).
    """
    return _decode_envelope(frame, None)


def parse_frame(frame: str, parse: Callable[[Any], _T]) -> _T:
    """:func:`decode_frame`, then ``parse`` the payload; a failure is a ``ProtocolError`` (see :func:`parse_reply`)."""
    payloadtype, payload = _decode_envelope(frame, None)
    return parse_payload(payloadtype, payload, parse, status=None, text=frame)


def list_of(parse: Callable[[Any], _T]) -> Callable[[Any], list[_T]]:
    """A parser for a JSON array of items that ``parse`` reads; ``null`` is an empty list.

    A payload that is not an array raises ``TypeError`` (a ``ProtocolError``
    under :func:`parse_reply`), so an object is never read as its list of keys.
    """

    def load(payload: Any) -> list[_T]:
        if payload is None:
            return []
        if not isinstance(payload, list):
            raise TypeError(f"expected a JSON array, got {type(payload).__name__}")
        return [parse(item) for item in payload]

    return load


# What a model's from_dict (or a parser built on it) raises for data it cannot read.
_PARSE_ERRORS = (ValueError, TypeError, LookupError, OverflowError, RecursionError)


def parse_payload(
    payloadtype: str,
    payload: Any,
    parse: Callable[[Any], _T],
    *,
    status: Optional[int],
    text: str,
    frame: Optional[bool] = None,
) -> _T:
    """``parse(payload)``, a decoded reply's (``status`` its HTTP status) or a frame's.

    What parsing raises for data it cannot read becomes a
    :class:`~colonies_sync.ProtocolError` carrying ``status`` and ``text``, the
    raw reply or frame (when known). ``frame`` says which it was; by default a
    frame is what has no ``status``.
    """
    try:
        return parse(payload)
    except _PARSE_ERRORS as exc:
        is_frame = status is None if frame is None else frame
        where = "stream frame" if is_frame else "reply" if status is None else f"reply (HTTP {status})"
        raise ProtocolError(f"malformed {payloadtype} {where}: {exc}", status=status, text=text) from exc


def _decode_envelope(text: str, status: Optional[int]) -> tuple[str, Any]:
    """The envelope in ``text``: a reply (``status`` its HTTP status) or a stream frame (``status`` ``None``)."""
    where = "a stream frame" if status is None else f"HTTP {status}"
    try:
        envelope = json.loads(text)
    except (ValueError, RecursionError):
        envelope = None
    if (
        not isinstance(envelope, dict)
        or not isinstance(envelope.get("payloadtype"), str)
        or not isinstance(envelope.get("payload"), str)
    ):
        shown = text if len(text) <= 200 else text[:200] + "..."
        raise ProtocolError(
            f"expected a ColonyOS reply envelope, got {where} with body {shown!r}",
            status=status,
            text=text,
        )
    try:
        raw = b64decode(envelope["payload"], "the envelope's payload")
        # A reply may carry no payload at all; a frame always carries one (JSON, if only "null").
        payload = json.loads(raw.decode("utf-8")) if raw or status is None else None
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"reply payload is not base64 JSON ({where})", status=status, text=text) from exc
    if envelope.get("error") is True:
        if not isinstance(payload, dict) or not isinstance(payload.get("message"), str):
            raise ProtocolError(f"malformed error reply ({where})", status=status, text=text)
        err_status = payload.get("status")
        if not isinstance(err_status, int) or isinstance(err_status, bool):
            err_status = 0 if status is None else status
        raise server_error(err_status, payload["message"], http_status=status)
    return envelope["payloadtype"], payload
