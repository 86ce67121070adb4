"""The ColonyOS data model as attrs classes, with ``from_dict`` / ``to_dict``.

Attribute names are the JSON field names of the wire (``process.processid``,
``spec.maxwaittime``), so JSON and objects read the same. The one exception is
the process input, ``in`` on the wire, which is ``in_`` here.

Parsing is forgiving about shape: unknown JSON keys are kept in ``extra`` (and
written back by ``to_dict``), missing keys take their defaults, ``null`` lists
become empty lists (except ``Conditions.executornames``, where ``None`` and
``[]`` differ on the wire). Timestamps become timezone-aware ``datetime``
objects; the Go zero time (year 1), which means "unset", becomes ``None``.

It is strict about values, so that nothing is lost quietly: a timestamp that is
not RFC 3339, or a channel payload that is not the padded standard base64 Go
writes, raises ``ValueError`` (a number that is not one raises ``ValueError``
or ``TypeError``). These are the errors of ``from_dict`` for data a caller
built; a reply from the server that fails to parse is reported as
``ProtocolError`` by the client (``_rpc.parse_reply``), with the raw reply.

This module does no I/O.
"""

from __future__ import annotations

import base64
import datetime as _dt
import enum
import html
import re
from typing import Any, Callable, Mapping, Optional, TypeVar

import attrs

__all__ = [
    "Attribute",
    "AttributeType",
    "Colony",
    "Conditions",
    "Executor",
    "ExecutorState",
    "FunctionSpec",
    "GPU",
    "Log",
    "MsgEntry",
    "Process",
    "ProcessState",
    "ServerInfo",
    "ServerVersion",
    "User",
    "b64decode",
    "format_time",
    "parse_time",
]

ZERO_TIME = "0001-01-01T00:00:00Z"

# ASCII digits only, and the whole text (``fullmatch``: no trailing newline).
_TIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))",
    re.ASCII,
)


def parse_time(value: Any) -> Optional[_dt.datetime]:
    """Parse an RFC 3339 timestamp as the real server writes it.

    Accepts ``Z`` or a numeric offset and 0 to 9 fractional digits (truncated to
    microseconds). Returns ``None`` for ``None``, ``""`` and any year-1 time (Go's
    zero time, meaning "unset"). Raises ``ValueError`` for anything else.
    """
    if value is None or value == "":
        return None
    if isinstance(value, _dt.datetime):
        return None if value.year == 1 else value
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    m = _TIME_RE.fullmatch(value)
    if not m:
        raise ValueError(f"not an RFC 3339 timestamp: {value!r}")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    if year == 1:
        return None
    micro = int((m.group(7) or "0").ljust(9, "0")[:6])
    if m.group(8):
        tz = _dt.timezone.utc
    else:
        offset = _dt.timedelta(hours=int(m.group(10)), minutes=int(m.group(11)))
        tz = _dt.timezone(-offset if m.group(9) == "-" else offset)
    return _dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)


def format_time(value: Optional[_dt.datetime]) -> str:
    """RFC 3339 text as Go writes it (trailing fractional zeros trimmed); ``None`` is Go's zero time."""
    if value is None:
        return ZERO_TIME
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    offset = value.utcoffset() or _dt.timedelta(0)
    base = value.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f".{value.microsecond:06d}".rstrip("0") if value.microsecond else ""
    if offset == _dt.timedelta(0):
        zone = "Z"
    else:
        minutes = int(offset.total_seconds()) // 60
        sign = "-" if minutes < 0 else "+"
        zone = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return base + frac + zone


class ProcessState(enum.IntEnum):
    """Process states as numbered on the wire."""

    WAITING = 0
    RUNNING = 1
    SUCCESS = 2
    FAILED = 3
    CANCELLED = 4

    @property
    def is_terminal(self) -> bool:
        """True for SUCCESS, FAILED and CANCELLED."""
        return self in (ProcessState.SUCCESS, ProcessState.FAILED, ProcessState.CANCELLED)


class ExecutorState(enum.IntEnum):
    """Executor states as numbered on the wire."""

    PENDING = 0
    APPROVED = 1
    REJECTED = 2
    UNREGISTERED = 3


class AttributeType(enum.IntEnum):
    """Attribute types as numbered on the wire."""

    IN = 0
    OUT = 1
    ERR = 2
    ENV = 3


# --- generic (de)serialisation driven by field metadata ---------------------------------

_M = TypeVar("_M", bound="_Model")


def _wire(
    default: Any = attrs.NOTHING,
    *,
    factory: Optional[Callable[[], Any]] = None,
    name: Optional[str] = None,
    load: Optional[Callable[[Any], Any]] = None,
    dump: Optional[Callable[[Any], Any]] = None,
    omitempty: bool = False,
) -> Any:
    """An attrs field with its wire name and converters in the metadata."""
    meta = {"wire": name, "load": load, "dump": dump, "omitempty": omitempty}
    if factory is not None:
        return attrs.field(factory=factory, metadata=meta)
    return attrs.field(default=default, metadata=meta)


def _extra() -> Any:
    return attrs.field(factory=dict, eq=False, repr=False, metadata={"extra": True})


def _str(v: Any) -> str:
    return "" if v is None else str(v)


def _int(v: Any) -> int:
    if v is None or v == "":
        return 0
    if isinstance(v, float) and not v.is_integer():
        raise ValueError(f"expected a whole number, got {v!r}")
    return int(v)


def _bool(v: Any) -> bool:
    return bool(v)


def _list(v: Any) -> list[Any]:
    if v is None:
        return []
    if not isinstance(v, (list, tuple)):  # a string or an object would quietly become something else
        raise TypeError(f"expected a list, got {type(v).__name__}")
    return list(v)


def _dict(v: Any) -> dict[str, Any]:
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise TypeError(f"expected an object, got {type(v).__name__}")
    return dict(v)


def _enum(cls: Any) -> Callable[[Any], Any]:
    def load(v: Any) -> Any:
        try:
            return cls(int(v))
        except (TypeError, ValueError):
            return 0 if v is None else int(v)

    return load


def _model(cls: Any) -> Callable[[Any], Any]:
    def load(v: Any) -> Any:
        if v is None:
            return cls()
        return cls.from_dict(_dict(v))

    return load


def _model_list(cls: Any) -> Callable[[Any], Any]:
    return lambda v: [cls.from_dict(_dict(x)) for x in _list(v)]


def _dump_model(v: Any) -> Any:
    return v.to_dict() if v is not None else None


def _dump_model_list(v: Any) -> Any:
    return [x.to_dict() for x in v]


# (attribute, wire name, loader, dumper, omitempty) per model class, built once.
_WireField = tuple[str, str, Any, Any, bool]
_FIELDS: dict[type, list[_WireField]] = {}


class _Model:
    """Shared ``from_dict`` / ``to_dict`` for the wire models."""

    __slots__ = ()

    @classmethod
    def _fields(cls) -> list[_WireField]:
        cached = _FIELDS.get(cls)
        if cached is None:
            cached = [
                (
                    f.name,
                    f.metadata.get("wire") or f.name,
                    f.metadata.get("load"),
                    f.metadata.get("dump"),
                    f.metadata.get("omitempty", False),
                )
                for f in attrs.fields(cls)  # type: ignore[arg-type]  # every subclass is an attrs class
                if not f.metadata.get("extra")
            ]
            _FIELDS[cls] = cached
        return cached

    @classmethod
    def from_dict(cls: type[_M], data: Mapping[str, Any]) -> _M:
        """Build from a JSON object as the server sends it; unknown keys go to ``extra``."""
        if not isinstance(data, Mapping):
            raise TypeError(f"{cls.__name__}.from_dict needs a mapping, not {type(data).__name__}")
        kwargs: dict[str, Any] = {}
        known = set()
        for attr, wire, load, _dump, _omit in cls._fields():
            known.add(wire)
            if wire in data:
                value = data[wire]
                kwargs[attr] = load(value) if load else value
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(extra=extra, **kwargs)  # type: ignore[call-arg]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object for this value, with the wire names, unknown keys included."""
        out: dict[str, Any] = dict(getattr(self, "extra", {}))
        for attr, wire, _load, dump, omitempty in self._fields():
            value = getattr(self, attr)
            if omitempty and value in ("", 0, None, [], {}):
                continue
            out[wire] = dump(value) if dump else value
        return out


# --- the models --------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ServerVersion(_Model):
    """The reply of ``versionmsg``."""

    buildversion: str = _wire("", load=_str)
    buildtime: str = _wire("", load=_str)
    extra: dict[str, Any] = _extra()


@attrs.frozen(kw_only=True)
class ServerInfo(_Model):
    """The reply of ``getserverinfomsg``: build and the HTTP backends."""

    buildversion: str = _wire("", load=_str)
    buildtime: str = _wire("", load=_str)
    backends: list[dict[str, Any]] = _wire(factory=list, load=_list)
    extra: dict[str, Any] = _extra()


@attrs.frozen(kw_only=True)
class Colony(_Model):
    """A colony: its id is the id of the colony owner's key."""

    colonyid: str = _wire("", load=_str)
    name: str = _wire("", load=_str)
    extra: dict[str, Any] = _extra()


@attrs.frozen(kw_only=True)
class User(_Model):
    """A user of a colony; ``userid`` is the id of the user's key."""

    colonyname: str = _wire("", load=_str)
    userid: str = _wire("", load=_str)
    name: str = _wire("", load=_str)
    email: str = _wire("", load=_str)
    phone: str = _wire("", load=_str)
    extra: dict[str, Any] = _extra()


@attrs.frozen(kw_only=True)
class Executor(_Model):
    """An executor of a colony; ``executorid`` is the id of the executor's key.

    ``capabilities`` and ``allocations`` are kept as plain JSON objects.
    """

    executorid: str = _wire("", load=_str)
    executortype: str = _wire("", load=_str)
    executorname: str = _wire("", load=_str)
    colonyname: str = _wire("", load=_str)
    state: ExecutorState = _wire(ExecutorState.PENDING, load=_enum(ExecutorState))
    requirefuncreg: bool = _wire(False, load=_bool)
    commissiontime: Optional[_dt.datetime] = _wire(None, load=parse_time, dump=format_time)
    lastheardfromtime: Optional[_dt.datetime] = _wire(None, load=parse_time, dump=format_time)
    locationname: str = _wire("", load=_str, omitempty=True)
    capabilities: dict[str, Any] = _wire(factory=lambda: {"hardware": None, "software": None}, load=_dict)
    allocations: dict[str, Any] = _wire(factory=lambda: {"projects": None}, load=_dict)
    extra: dict[str, Any] = _extra()


@attrs.frozen(kw_only=True)
class GPU(_Model):
    """GPU requirements of a process."""

    name: str = _wire("", load=_str)
    mem: str = _wire("", load=_str)
    count: int = _wire(0, load=_int)
    nodecount: int = _wire(0, load=_int)
    extra: dict[str, Any] = _extra()


@attrs.frozen(kw_only=True)
class Conditions(_Model):
    """Where a process may run.

    ``executornames`` of ``None`` (or ``[]``, or ``["*"]``) lets any executor of
    ``executortype`` take the process. ``cpu`` is in millicores (``"500m"``) and
    ``mem``/``storage`` carry a unit (``"512Mi"``, ``"1Gi"``).
    """

    colonyname: str = _wire("", load=_str)
    executornames: Optional[list[str]] = _wire(None)
    executortype: str = _wire("", load=_str)
    dependencies: list[str] = _wire(factory=list, load=_list)
    nodes: int = _wire(0, load=_int)
    cpu: str = _wire("", load=_str)
    processes: int = _wire(0, load=_int)
    processespernode: int = _wire(0, load=_int)
    mem: str = _wire("", load=_str)
    storage: str = _wire("", load=_str)
    gpu: GPU = _wire(factory=GPU, load=_model(GPU), dump=_dump_model)
    walltime: int = _wire(0, load=_int)
    locationname: str = _wire("", load=_str, omitempty=True)
    extra: dict[str, Any] = _extra()


@attrs.frozen(kw_only=True)
class FunctionSpec(_Model):
    """What to run and where: the body of a submit.

    ``maxwaittime``, ``maxexectime`` and ``maxretries`` default to -1 ("no
    limit"). Zero is a trap on the real server: ``maxexectime=0`` makes the
    process time out about a second after it is assigned (PROTOCOL.md 7.3).
    """

    nodename: str = _wire("", load=_str)
    funcname: str = _wire("", load=_str)
    args: list[Any] = _wire(factory=list, load=_list)
    kwargs: dict[str, Any] = _wire(factory=dict, load=_dict)
    priority: int = _wire(0, load=_int)
    maxwaittime: int = _wire(-1, load=_int)
    maxexectime: int = _wire(-1, load=_int)
    maxretries: int = _wire(-1, load=_int)
    conditions: Conditions = _wire(factory=Conditions, load=_model(Conditions), dump=_dump_model)
    label: str = _wire("", load=_str)
    fs: dict[str, Any] = _wire(factory=lambda: {"mount": "", "snapshots": None, "dirs": None}, load=_dict)
    env: dict[str, str] = _wire(factory=dict, load=_dict)
    channels: list[str] = _wire(factory=list, load=_list, omitempty=True)
    extra: dict[str, Any] = _extra()

    @classmethod
    def create(
        cls,
        funcname: str,
        colonyname: str,
        executortype: str,
        *,
        args: Optional[list[Any]] = None,
        kwargs: Optional[dict[str, Any]] = None,
        executornames: Optional[list[str]] = None,
        priority: int = 0,
        maxwaittime: int = -1,
        maxexectime: int = -1,
        maxretries: int = -1,
        label: str = "",
        env: Optional[dict[str, str]] = None,
        channels: Optional[list[str]] = None,
    ) -> FunctionSpec:
        """A spec for the common case: run ``funcname`` on an executor of a type in a colony."""
        return cls(
            nodename=funcname,
            funcname=funcname,
            args=list(args or []),
            kwargs=dict(kwargs or {}),
            priority=priority,
            maxwaittime=maxwaittime,
            maxexectime=maxexectime,
            maxretries=maxretries,
            conditions=Conditions(colonyname=colonyname, executortype=executortype, executornames=executornames),
            label=label,
            env=dict(env or {}),
            channels=list(channels or []),
        )


@attrs.frozen(kw_only=True)
class Attribute(_Model):
    """A key/value attribute of a process (``attributetype`` is an :class:`AttributeType`)."""

    attributeid: str = _wire("", load=_str)
    targetid: str = _wire("", load=_str)
    targetcolonyname: str = _wire("", load=_str)
    targetprocessgraphid: str = _wire("", load=_str)
    state: int = _wire(0, load=_int)
    attributetype: int = _wire(AttributeType.OUT, load=_enum(AttributeType))
    key: str = _wire("", load=_str)
    value: str = _wire("", load=_str)
    extra: dict[str, Any] = _extra()


@attrs.frozen(kw_only=True)
class Process(_Model):
    """A process as the server reports it.

    Times are ``None`` while unset. ``prioritytime`` is in Unix nanoseconds (lower
    is served first). The input list, ``in`` on the wire, is ``in_``.
    """

    processid: str = _wire("", load=_str)
    initiatorid: str = _wire("", load=_str)
    initiatorname: str = _wire("", load=_str)
    assignedexecutorid: str = _wire("", load=_str)
    isassigned: bool = _wire(False, load=_bool)
    state: ProcessState = _wire(ProcessState.WAITING, load=_enum(ProcessState))
    prioritytime: int = _wire(0, load=_int)
    submissiontime: Optional[_dt.datetime] = _wire(None, load=parse_time, dump=format_time)
    starttime: Optional[_dt.datetime] = _wire(None, load=parse_time, dump=format_time)
    endtime: Optional[_dt.datetime] = _wire(None, load=parse_time, dump=format_time)
    waitdeadline: Optional[_dt.datetime] = _wire(None, load=parse_time, dump=format_time)
    execdeadline: Optional[_dt.datetime] = _wire(None, load=parse_time, dump=format_time)
    retries: int = _wire(0, load=_int)
    attributes: list[Attribute] = _wire(factory=list, load=_model_list(Attribute), dump=_dump_model_list)
    spec: FunctionSpec = _wire(factory=FunctionSpec, load=_model(FunctionSpec), dump=_dump_model)
    waitforparents: bool = _wire(False, load=_bool)
    parents: list[str] = _wire(factory=list, load=_list)
    children: list[str] = _wire(factory=list, load=_list)
    processgraphid: str = _wire("", load=_str)
    in_: list[Any] = _wire(factory=list, name="in", load=_list)
    out: list[Any] = _wire(factory=list, load=_list)
    errors: list[str] = _wire(factory=list, load=_list)
    extra: dict[str, Any] = _extra()

    def _repr_html_(self) -> str:
        """A small table for Jupyter: what a person checks first about a process."""
        rows = [
            ("process", self.processid),
            ("function", f"{self.spec.funcname}({', '.join(map(repr, self.spec.args))})"),
            ("state", _state_name(self.state)),
            ("colony / type", f"{self.spec.conditions.colonyname} / {self.spec.conditions.executortype}"),
            ("submitted by", self.initiatorname),
            ("executor", self.assignedexecutorid or "none yet"),
            ("submitted", format_time(self.submissiontime)),
            ("channels", ", ".join(self.spec.channels) or "none"),
            ("output", repr(self.out) if self.out else ""),
            ("errors", "; ".join(self.errors or [])),
        ]
        return _html_table("Process", rows)


@attrs.frozen(kw_only=True)
class Log(_Model):
    """A log line written by the executor of a process. ``timestamp`` is Unix nanoseconds."""

    processid: str = _wire("", load=_str)
    colonyname: str = _wire("", load=_str)
    executorname: str = _wire("", load=_str)
    message: str = _wire("", load=_str)
    timestamp: int = _wire(0, load=_int)
    extra: dict[str, Any] = _extra()

    @property
    def time(self) -> _dt.datetime:
        """``timestamp`` as an aware UTC datetime (microsecond precision)."""
        return _dt.datetime.fromtimestamp(self.timestamp / 1e9, tz=_dt.timezone.utc)


def _state_name(state: Any) -> str:
    return state.name if isinstance(state, enum.Enum) else str(state)


def _html_table(title: str, rows: list[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows
    )
    return f"<table><caption>{html.escape(title)}</caption>{cells}</table>"


# The only shape Go's ``encoding/base64`` StdEncoding writes: the standard alphabet, padded
# to a multiple of 4 with at most two "=", no whitespace or line breaks. (Go's decoder also
# skips CR/LF, but the server never writes them, so here they are an error like any other.)
_B64_RE = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def b64decode(text: Any, what: str = "payload") -> bytes:
    """Decode standard base64 strictly, as Go's StdEncoding writes it; ``ValueError`` for anything else.

    ``base64.b64decode`` without ``validate`` drops characters outside the
    alphabet, so ``"!!!"`` would quietly become ``b""``. Here it, whitespace,
    missing or extra padding all raise ``ValueError`` (``TypeError`` for a
    value that is not text). ``what`` names the value in the message.
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("ascii")
        except UnicodeDecodeError:
            raise ValueError(f"{what} is not base64: it holds non-ASCII bytes") from None
    if not isinstance(text, str):
        raise TypeError(f"{what} must be base64 text, not {type(text).__name__}")
    if len(text) % 4 or not _B64_RE.fullmatch(text):
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise ValueError(f"{what} is not padded standard base64: {shown!r}")
    return base64.b64decode(text, validate=True)


def _b64_load(v: Any) -> bytes:
    if v is None:
        return b""
    if isinstance(v, list):
        return bytes(v)  # pycolonies' form: byte values; ValueError/TypeError for anything else
    return b64decode(v)


def _b64_dump(v: bytes) -> str:
    return base64.b64encode(v).decode("ascii")


@attrs.frozen(kw_only=True)
class MsgEntry(_Model):
    """One entry of a channel log.

    ``payload`` is the raw bytes (``b""`` when the append carried none), ``text``
    the same decoded as UTF-8. ``type`` is ``"data"``, ``"end"`` or ``"error"``
    (any other string a writer chose is kept). ``error`` is set only on the
    server's synthetic entry for a subscriber that fell too far behind.
    """

    sequence: int = _wire(0, load=_int)
    inreplyto: int = _wire(0, load=_int, omitempty=True)
    timestamp: Optional[_dt.datetime] = _wire(None, load=parse_time, dump=format_time)
    senderid: str = _wire("", load=_str)
    payload: bytes = _wire(b"", load=_b64_load, dump=_b64_dump)
    type: str = _wire("", load=_str, omitempty=True)
    error: str = _wire("", load=_str, omitempty=True)
    extra: dict[str, Any] = _extra()

    def _repr_html_(self) -> str:
        """One channel entry as a small table for Jupyter."""
        rows = [
            ("sequence", str(self.sequence)),
            ("in reply to", str(self.inreplyto) if self.inreplyto else ""),
            ("type", self.type),
            ("sender", self.senderid),
            ("time", format_time(self.timestamp)),
            ("payload", self.text if self.text.isprintable() else repr(self.payload)),
        ]
        if self.error:
            rows.append(("error", self.error))
        return _html_table("Channel entry", rows)

    @property
    def text(self) -> str:
        """The payload decoded as UTF-8 (invalid bytes replaced)."""
        return self.payload.decode("utf-8", "replace")
