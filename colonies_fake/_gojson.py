"""JSON as the real server's Go code reads and writes it.

Decoding follows ``encoding/json`` into typed structs: object keys match field
names exactly or case-insensitively, unknown keys are ignored, ``null`` leaves a
scalar or struct as it was (the zero value, unless a repeated key set it) and
makes a slice, map or pointer nil (``None``), and a value of the wrong type is
an error (which the handlers report as "invalid JSON"). Integers must be integer
literals within int64; ``interface{}`` values take Go's float64 semantics.
``[]byte`` accepts a base64 string or an array of numbers 0..255. A lone UTF-16
surrogate escape reads as U+FFFD, as in Go.

Encoding writes compact JSON with Go's escaping of ``<``, ``>``, ``&``, U+2028
and U+2029, and Go's float formatting for ``interface{}`` numbers.

The schema types here describe structs; ``_schema`` declares the ones the fake
needs. This module knows nothing of ColonyOS.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import decimal
import json
import math
import re
from typing import Any, Optional, Sequence

__all__ = [
    "ANY",
    "BOOL",
    "BYTES",
    "INT",
    "STRING",
    "TIME",
    "Field",
    "GoFloat",
    "GoJSONError",
    "Map",
    "Ptr",
    "Slice",
    "Struct",
    "dumps",
    "go_b64decode",
    "go_value",
    "parse",
]

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_FLOAT_EXACT = 2**53


class GoJSONError(ValueError):
    """The text is not JSON, or a value does not fit its Go type."""


class _Pairs(list):  # type: ignore[type-arg]
    """A JSON object as its (key, value) pairs in text order (duplicates kept, as Go sees them)."""


def _reject_constant(name: str) -> Any:
    raise GoJSONError(f"invalid character '{name[0]}' looking for beginning of value")


def parse(text: str | bytes) -> Any:
    """Parse JSON text, keeping objects as ordered pairs; raises :class:`GoJSONError`.

    The messages imitate Go's for the common cases (the real server's texts for
    these are library texts that clients need not match).
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "replace")
    if not text.strip():
        raise GoJSONError("unexpected end of JSON input")
    try:
        value = json.loads(text, object_pairs_hook=_Pairs, parse_constant=_reject_constant)
        return _go_strings(value) if _SURROGATE_ESCAPE.search(text) else value
    except GoJSONError:
        raise
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()):
            raise GoJSONError("unexpected end of JSON input") from None
        ch = text[exc.pos]
        if exc.msg.startswith("Expecting property name"):
            raise GoJSONError(f"invalid character {_go_char(ch)} looking for beginning of object key string") from None
        if exc.msg.startswith("Extra data"):
            raise GoJSONError(f"invalid character {_go_char(ch)} after top-level value") from None
        raise GoJSONError(f"invalid character {_go_char(ch)} looking for beginning of value") from None
    except RecursionError:
        raise GoJSONError("exceeded max depth") from None


# Python keeps a \u escape of a lone UTF-16 surrogate as that code point, which no UTF-8 text
# can hold (replies would fail to encode); Go reads it as U+FFFD.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _go_strings(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, _Pairs):
        return _Pairs((_go_strings(k), _go_strings(v)) for k, v in value)
    if isinstance(value, list):
        return [_go_strings(v) for v in value]
    return value


def _go_char(ch: str) -> str:
    return "'\\''" if ch == "'" else f"'{ch}'"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list) and not isinstance(value, _Pairs):
        return "array"
    return "object"


def _type_error(value: Any, gotype: str, where: str) -> GoJSONError:
    field = f" field {where}" if where else ""
    return GoJSONError(f"json: cannot unmarshal {_kind(value)} into Go{field} value of type {gotype}")


class GoType:
    """A Go type: how to decode a parsed JSON value into it and what its zero value is."""

    go_name = "?"

    def decode(self, value: Any, where: str = "") -> Any:
        raise NotImplementedError

    def zero(self) -> Any:
        return None


class _String(GoType):
    go_name = "string"

    def decode(self, value: Any, where: str = "") -> Any:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise _type_error(value, "string", where)
        return value

    def zero(self) -> Any:
        return ""


class _Int(GoType):
    go_name = "int64"

    def decode(self, value: Any, where: str = "") -> Any:
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(value, "int", where)
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise _type_error(value, "int", where)
        return value

    def zero(self) -> Any:
        return 0


class _Bool(GoType):
    go_name = "bool"

    def decode(self, value: Any, where: str = "") -> Any:
        if value is None:
            return False
        if not isinstance(value, bool):
            raise _type_error(value, "bool", where)
        return value

    def zero(self) -> Any:
        return False


class _Bytes(GoType):
    """``[]byte``: a base64 string or an array of small integers; ``null`` is nil."""

    go_name = "[]uint8"

    def decode(self, value: Any, where: str = "") -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return base64.b64decode(value.replace("\r", "").replace("\n", ""), validate=True)
            except (binascii.Error, ValueError):
                raise GoJSONError("illegal base64 data at input byte 0") from None
        if isinstance(value, list) and not isinstance(value, _Pairs):
            out = bytearray()
            for item in value:
                if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= 255:
                    raise _type_error(item, "uint8", where)
                out.append(item)
            return bytes(out)
        raise _type_error(value, "[]uint8", where)


class GoFloat:
    """A float64 whose Go text differs from Python's ``repr`` (e.g. ``0.00005``, ``1e-7``)."""

    __slots__ = ("value",)

    def __init__(self, value: float) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GoFloat) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return go_float_text(self.value)


def go_float_text(f: float) -> str:
    """``f`` as Go's ``encoding/json`` writes a float64: shortest digits, 'f' or 'e' form."""
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        mantissa, exp = repr(f).split("e")  # Python's repr uses an exponent in these ranges
        sign = exp[0] if exp[0] in "+-" else "+"
        digits = exp.lstrip("+-").lstrip("0") or "0"
        # Go writes at least two exponent digits, then trims "e-07" to "e-7".
        return f"{mantissa}e{sign}{digits.zfill(2) if sign == '+' else digits}"
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    text = format(decimal.Decimal(repr(f)), "f")  # shortest digits, padded with zeros
    return text[:-2] if text.endswith(".0") else text


def go_value(value: int | float) -> Any:
    """A JSON number as Go's ``interface{}`` holds it (a float64), in a form ``dumps`` writes like Go.

    Integers stay Python ints while a float64 holds them exactly; otherwise the
    number becomes the int of its shortest float64 digits (what Go prints), a
    float when Python prints it the same way, or a :class:`GoFloat`.
    """
    if isinstance(value, int) and abs(value) < _FLOAT_EXACT:
        return value
    f = float(value)
    if math.isinf(f) or math.isnan(f):
        raise GoJSONError("json: cannot unmarshal number into Go value of type float64")
    text = go_float_text(f)
    if f == int(f) and abs(f) < 1e21 and text != "-0":
        return int(text)
    return f if repr(f) == text else GoFloat(f)


class _Any(GoType):
    go_name = "interface {}"

    def decode(self, value: Any, where: str = "") -> Any:
        if isinstance(value, _Pairs):
            return {k: self.decode(v) for k, v in value}
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return go_value(value)
        return value


_TIME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2}):(\d{2}))$")


def parse_time_ns(text: str) -> Optional[int]:
    """RFC 3339 text to Unix nanoseconds; ``None`` for Go's zero time. Raises :class:`GoJSONError`."""
    m = _TIME_RE.match(text)
    if not m:
        raise GoJSONError(f'parsing time "{text}" as RFC 3339: cannot parse')
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    if year == 1 and month == 1 and day == 1 and hour == 0 and minute == 0 and second == 0 and not m.group(7):
        return None
    try:
        stamp = _dt.datetime(year, month, day, hour, minute, second, tzinfo=_dt.timezone.utc)
    except ValueError:
        raise GoJSONError(f'parsing time "{text}": day out of range') from None
    offset = 0
    if m.group(9):
        offset = (int(m.group(10)) * 60 + int(m.group(11))) * 60 * (1 if m.group(9) == "+" else -1)
    seconds = int((stamp - _EPOCH).total_seconds()) - offset
    return seconds * 1_000_000_000 + int((m.group(7) or "0").ljust(9, "0"))


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


class _Time(GoType):
    """``time.Time``: RFC 3339 text, held as Unix nanoseconds; the zero time is ``None``."""

    go_name = "time.Time"

    def decode(self, value: Any, where: str = "") -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise _type_error(value, "time.Time", where)
        return parse_time_ns(value)


STRING = _String()
INT = _Int()
BOOL = _Bool()
BYTES = _Bytes()
ANY = _Any()
TIME = _Time()


class Slice(GoType):
    """``[]T``: an array; ``null`` is nil (``None``)."""

    def __init__(self, elem: GoType) -> None:
        self.elem = elem
        self.go_name = f"[]{elem.go_name}"

    def decode(self, value: Any, where: str = "") -> Any:
        if value is None:
            return None
        if not isinstance(value, list) or isinstance(value, _Pairs):
            raise _type_error(value, self.go_name, where)
        return [self.elem.decode(v, where) for v in value]


class Map(GoType):
    """``map[string]T``: an object; ``null`` is nil (``None``); later duplicate keys win."""

    def __init__(self, elem: GoType) -> None:
        self.elem = elem
        self.go_name = f"map[string]{elem.go_name}"

    def decode(self, value: Any, where: str = "") -> Any:
        if value is None:
            return None
        if not isinstance(value, _Pairs):
            raise _type_error(value, self.go_name, where)
        return {k: self.elem.decode(v, where) for k, v in value}


class Field:
    """A struct field: its JSON name and Go type."""

    __slots__ = ("name", "type", "omitempty")

    def __init__(self, name: str, gotype: GoType, omitempty: bool = False) -> None:
        self.name = name
        self.type = gotype
        self.omitempty = omitempty


class Struct(GoType):
    """A Go struct decoded into a ``dict`` keyed by JSON field name (every field present)."""

    def __init__(self, go_name: str, fields: Sequence[Field]) -> None:
        self.go_name = go_name
        self.fields = list(fields)
        self._exact = {f.name: f for f in self.fields}
        self._folded: dict[str, Field] = {}
        for f in self.fields:
            self._folded.setdefault(f.name.lower(), f)

    def zero(self) -> dict[str, Any]:
        return {f.name: f.type.zero() for f in self.fields}

    def decode(self, value: Any, where: str = "", into: Optional[dict[str, Any]] = None) -> Any:
        out = self.zero() if into is None else into
        if value is None:
            return out
        if not isinstance(value, _Pairs):
            raise _type_error(value, self.go_name, where)
        first_error: Optional[GoJSONError] = None
        for key, item in value:
            # Go folds case rune by rune (only K and S have non-ASCII kin: U+212A, U+017F);
            # casefold() would also match "ß" to "ss".
            field = self._exact.get(key) or self._folded.get(key.replace("\u017f", "s").lower())
            if field is None:
                continue
            if item is None and isinstance(field.type, _NULL_IGNORED):
                continue  # Go's null leaves a string, number, bool, time or struct as it was
            try:
                if isinstance(field.type, Struct) and item is not None:
                    out[field.name] = field.type.decode(item, f"{self.go_name}.{field.name}", out[field.name])
                else:
                    out[field.name] = field.type.decode(item, f"{self.go_name}.{field.name}")
            except GoJSONError as exc:
                # Go keeps decoding after a type error and reports the first one.
                first_error = first_error or exc
        if first_error is not None:
            raise first_error
        return out

    def encode(self, value: dict[str, Any]) -> dict[str, Any]:
        """The fields in declaration order, ``omitempty`` ones dropped when empty."""
        out: dict[str, Any] = {}
        for f in self.fields:
            v = value.get(f.name, f.type.zero())
            if f.omitempty and _is_empty(v):
                continue
            out[f.name] = v
        return out


def _is_empty(value: Any) -> bool:
    # Go's omitempty: false, 0, "", nil, and empty slices and maps.
    if value is None or value is False:
        return True
    if isinstance(value, (str, list, dict, bytes)):
        return len(value) == 0
    return isinstance(value, int) and value == 0


_NULL_IGNORED = (_String, _Int, _Bool, _Time, Struct)


class Ptr(GoType):
    """``*Struct``: ``null`` or absent is nil (``None``)."""

    def __init__(self, target: Struct) -> None:
        self.target = target
        self.go_name = f"*{target.go_name}"

    def decode(self, value: Any, where: str = "") -> Any:
        if value is None:
            return None
        return self.target.decode(value, where)


def decode_message(schema: Struct, raw: Any) -> Optional[dict[str, Any]]:
    """Decode a parsed payload into ``schema``; ``None`` for the JSON literal ``null``.

    ``null`` is a nil message pointer on the real server, which then panics; the
    caller decides what to answer.
    """
    if raw is None:
        return None
    try:
        result: dict[str, Any] = schema.decode(raw)
    except RecursionError:
        # Go takes 10,000 levels; the recursive decoding here gives up sooner, with Go's error for more.
        raise GoJSONError("exceeded max depth") from None
    return result


_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_NEEDS_ESCAPE = frozenset(_ESCAPES)


def dumps(value: Any) -> str:
    """Compact JSON text as Go's ``encoding/json`` writes it."""
    subs: list[str] = []

    def default(obj: Any) -> Any:
        if isinstance(obj, GoFloat):
            subs.append(go_float_text(obj.value))
            return f"\x00{len(subs) - 1}\x00"
        if isinstance(obj, (bytes, bytearray)):
            return base64.b64encode(obj).decode("ascii")
        raise TypeError(f"cannot encode {type(obj).__name__}")

    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=default)
    if subs:
        for i, sub in enumerate(subs):
            text = text.replace(f'"\\u0000{i}\\u0000"', sub, 1)
    if not _NEEDS_ESCAPE.isdisjoint(text):
        text = "".join(_ESCAPES.get(ch, ch) for ch in text)
    return text


def go_b64decode(text: str) -> bytes:
    """Decode standard base64 as Go's ``DecodeString`` does, keeping what decoded before an error.

    Go skips CR and LF, decodes whole 4-character groups, and on a bad group (a
    character outside the alphabet, missing padding, data after padding) stops
    and returns the bytes decoded so far, with an error the server ignores.
    """
    clean = text.replace("\r", "").replace("\n", "")
    out = bytearray()
    for i in range(0, len(clean), 4):
        group = clean[i : i + 4]
        if len(group) < 4:
            break
        try:
            chunk = base64.b64decode(group, validate=True)
        except (binascii.Error, ValueError):
            break
        out += chunk
        if "=" in group:
            break
    return bytes(out)
