"""The RPC envelope: build signed requests, read replies. No I/O.

A request is ``{"payloadtype", "payload", "signature"}`` where ``payload`` is the
standard base64 of the message JSON and ``signature`` signs that base64 *text*.
A reply is ``{"payloadtype", "payload", "error"}``; an error reply carries
``{"status", "message"}`` (PROTOCOL.md section 2).

This module turns error replies into the exception tree of ``_exceptions`` and a
body that is not an envelope into ``ProtocolError``. It never looks at the HTTP
status to decide success: the envelope's ``error`` flag decides.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Mapping, Optional

from colonies_sync._crypto import Crypto
from colonies_sync._exceptions import ProtocolError, server_error

__all__ = ["UNSIGNED_TYPES", "decode_reply", "encode_payload", "encode_request"]

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
    try:
        envelope = json.loads(text)
    except ValueError:
        envelope = None
    if (
        not isinstance(envelope, dict)
        or not isinstance(envelope.get("payloadtype"), str)
        or not isinstance(envelope.get("payload"), str)
    ):
        shown = text if len(text) <= 200 else text[:200] + "..."
        raise ProtocolError(
            f"expected a ColonyOS reply envelope, got HTTP {status} with body {shown!r}",
            status=status,
            text=text,
        )
    try:
        raw = base64.b64decode(envelope["payload"], validate=True)
        payload = json.loads(raw.decode("utf-8")) if raw else None
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"reply payload is not base64 JSON (HTTP {status})", status=status, text=text) from exc
    if envelope.get("error") is True:
        if not isinstance(payload, dict) or not isinstance(payload.get("message"), str):
            raise ProtocolError(f"malformed error reply (HTTP {status})", status=status, text=text)
        err_status = payload.get("status")
        if not isinstance(err_status, int) or isinstance(err_status, bool):
            err_status = status
        raise server_error(err_status, payload["message"], http_status=status)
    return envelope["payloadtype"], payload
