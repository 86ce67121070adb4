"""The fake's stored objects and how they look on the wire.

Records hold what the real server keeps in its database, already normalised the
way its database round trip normalises it (PROTOCOL.md 6.3), so that rendering
is cheap. Times are Unix nanoseconds, ``None`` for Go's zero time; stored times
have microsecond precision, like PostgreSQL's, channel entries keep nanoseconds.

Rendering returns plain dicts in Go's field order, ready for ``_gojson.dumps``.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Optional

from colonies_fake._gojson import GoFloat, go_value
from colonies_fake._parsers import cpu_text, mem_text
from colonies_fake._schema import EXECUTOR, FUNCTION, FUNCTION_ARG

ZERO_TIME = "0001-01-01T00:00:00Z"

WAITING, RUNNING, SUCCESS, FAILED, CANCELLED = 0, 1, 2, 3, 4
PENDING, APPROVED, REJECTED, UNREGISTERED = 0, 1, 2, 3
ATTR_IN, ATTR_OUT, ATTR_ERR, ATTR_ENV = 0, 1, 2, 3

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def db_time(ns: int) -> int:
    """A time as PostgreSQL stores it: rounded to the microsecond."""
    return (ns + 500) // 1000 * 1000


def go_time(ns: Optional[int]) -> str:
    """RFC 3339 with up to 9 fractional digits, trailing zeros trimmed, in UTC (``Z``)."""
    if ns is None:
        return ZERO_TIME
    seconds, frac = divmod(ns, 1_000_000_000)
    stamp = (_EPOCH + _dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        stamp += "." + f"{frac:09d}".rstrip("0")
    return stamp + "Z"


class Colony:
    """A colony row; ``functions`` are the functions registered in it, in insertion order (the
    real FUNCTIONS table has no ORDER BY), so removing the colony removes them too."""

    __slots__ = ("name", "colonyid", "paused", "functions")

    def __init__(self, name: str, colonyid: str) -> None:
        self.name = name
        self.colonyid = colonyid
        self.paused = False
        self.functions: list[Function] = []

    def render(self) -> dict[str, Any]:
        return {"colonyid": self.colonyid, "name": self.name}


class Executor:
    """An executor row; ``data`` is the decoded ``core.Executor`` as stored."""

    __slots__ = ("data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @property
    def executorid(self) -> str:
        return str(self.data["executorid"])

    @property
    def name(self) -> str:
        return str(self.data["executorname"])

    @property
    def colonyname(self) -> str:
        return str(self.data["colonyname"])

    @property
    def executortype(self) -> str:
        return str(self.data["executortype"])

    @property
    def state(self) -> int:
        return int(self.data["state"])

    @property
    def locationname(self) -> str:
        return str(self.data.get("locationname") or "")

    def render(self) -> dict[str, Any]:
        out = EXECUTOR.encode(self.data)
        out["commissiontime"] = go_time(self.data["commissiontime"])
        out["lastheardfromtime"] = go_time(self.data["lastheardfromtime"])
        return out


class Function:
    """A function registered by an executor; ``data`` is the decoded ``core.Function`` as stored."""

    __slots__ = ("data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @property
    def functionid(self) -> str:
        return str(self.data["functionid"])

    @property
    def executorname(self) -> str:
        return str(self.data["executorname"])

    @property
    def colonyname(self) -> str:
        return str(self.data["colonyname"])

    @property
    def funcname(self) -> str:
        return str(self.data["funcname"])

    def stats_after_run(self, waiting: float, processing: float) -> dict[str, Any]:
        """The statistics after one more successful run that waited and ran that many seconds.

        The real server's arithmetic (colonies_controller.go ``CloseSuccessful``):
        the counter goes up by one; a min or max that is not above zero (as
        registered, or after a run of zero seconds) is replaced by the new time,
        otherwise it is the min or max of the two; an average that is not above
        zero is replaced too, otherwise it becomes ``(average + time) / 2``, a
        running halving rather than the mean.
        """

        def stat(name: str) -> float:
            value = self.data[name]
            return value.value if isinstance(value, GoFloat) else float(value)

        def low(name: str, new: float) -> float:
            return min(stat(name), new) if stat(name) > 0 else new

        def high(name: str, new: float) -> float:
            return max(stat(name), new) if stat(name) > 0 else new

        def mean(name: str, new: float) -> float:
            return (stat(name) + new) / 2 if stat(name) > 0 else new

        return {
            "counter": int(self.data["counter"]) + 1,
            "minwaittime": go_value(low("minwaittime", waiting)),
            "maxwaittime": go_value(high("maxwaittime", waiting)),
            "minexectime": go_value(low("minexectime", processing)),
            "maxexectime": go_value(high("maxexectime", processing)),
            "avgwaittime": go_value(mean("avgwaittime", waiting)),
            "avgexectime": go_value(mean("avgexectime", processing)),
        }

    def render(self) -> dict[str, Any]:
        out = FUNCTION.encode(self.data)
        if "args" in out:  # a nil element stays null; the others drop their empty omitempty fields
            out["args"] = [None if arg is None else FUNCTION_ARG.encode(arg) for arg in out["args"]]
        return out


class User:
    __slots__ = ("colonyname", "userid", "name", "email", "phone")

    def __init__(self, data: dict[str, Any]) -> None:
        self.colonyname = data["colonyname"]
        self.userid = data["userid"]
        self.name = data["name"]
        self.email = data["email"]
        self.phone = data["phone"]

    def render(self) -> dict[str, Any]:
        return {
            "colonyname": self.colonyname,
            "userid": self.userid,
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
        }


class Attribute:
    attributeid: str
    targetid: str
    targetcolonyname: str
    targetprocessgraphid: str
    state: int
    attributetype: int
    key: str
    value: str
    __slots__ = (
        "attributeid",
        "targetid",
        "targetcolonyname",
        "targetprocessgraphid",
        "state",
        "attributetype",
        "key",
        "value",
    )

    def __init__(self, data: dict[str, Any]) -> None:
        for name in self.__slots__:
            setattr(self, name, data[name])

    def render(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


class Log:
    __slots__ = ("processid", "colonyname", "executorname", "message", "timestamp")

    def __init__(self, processid: str, colonyname: str, executorname: str, message: str, timestamp: int) -> None:
        self.processid = processid
        self.colonyname = colonyname
        self.executorname = executorname
        self.message = message
        self.timestamp = timestamp

    def render(self) -> dict[str, Any]:
        return {
            "processid": self.processid,
            "colonyname": self.colonyname,
            "executorname": self.executorname,
            "message": self.message,
            "timestamp": self.timestamp,
        }


class Process:
    """A process row. ``spec`` is the stored (normalised) spec, minus the derived parts."""

    __slots__ = (
        "processid",
        "initiatorid",
        "initiatorname",
        "assignedexecutorid",
        "isassigned",
        "state",
        "prioritytime",
        "submissiontime",
        "starttime",
        "endtime",
        "waitdeadline",
        "execdeadline",
        "retries",
        "attributes",
        "spec",
        "colonyname",
        "executortype",
        "cpu",
        "mem",
        "storage",
        "gpumem",
        "output",
        "errors",
        "seq",
        "generation",
    )

    def __init__(self, processid: str, spec: dict[str, Any], seq: int) -> None:
        self.processid = processid
        self.initiatorid = ""
        self.initiatorname = ""
        self.assignedexecutorid = ""
        self.isassigned = False
        self.state = WAITING
        self.prioritytime = 0
        self.submissiontime: Optional[int] = None
        self.starttime: Optional[int] = None
        self.endtime: Optional[int] = None
        self.waitdeadline: Optional[int] = None
        self.execdeadline: Optional[int] = None
        self.retries = 0
        self.attributes: list[Attribute] = []
        self.spec = spec
        conditions = spec["conditions"]
        self.colonyname: str = conditions["colonyname"]
        self.executortype: str = conditions["executortype"]
        self.cpu = 0
        self.mem = 0
        self.storage = 0
        self.gpumem = 0
        self.output: list[Any] = []
        self.errors: Optional[list[str]] = []
        self.seq = seq
        # Bumped at every state change, so that a stale deadline entry is recognised.
        self.generation = 0

    def executornames(self) -> Optional[list[str]]:
        names: Optional[list[str]] = self.spec["conditions"]["executornames"]
        return names

    def render_spec(self) -> dict[str, Any]:
        spec = self.spec
        cond = spec["conditions"]
        gpu = cond["gpu"]
        conditions: dict[str, Any] = {
            "colonyname": cond["colonyname"],
            "executornames": cond["executornames"],
            "executortype": cond["executortype"],
        }
        if cond["locationname"]:
            conditions["locationname"] = cond["locationname"]
        conditions.update(
            dependencies=cond["dependencies"],
            nodes=cond["nodes"],
            cpu=cpu_text(self.cpu),
            processes=cond["processes"],
            processespernode=cond["processespernode"],
            mem=mem_text(self.mem),
            storage=mem_text(self.storage),
            gpu={"name": gpu["name"], "mem": mem_text(self.gpumem), "count": gpu["count"], "nodecount": 0},
            walltime=cond["walltime"],
        )
        out: dict[str, Any] = {
            "nodename": spec["nodename"],
            "funcname": spec["funcname"],
            "args": spec["args"],
            "kwargs": spec["kwargs"],
            "priority": spec["priority"],
            "maxwaittime": spec["maxwaittime"],
            "maxexectime": spec["maxexectime"],
            "maxretries": spec["maxretries"],
            "conditions": conditions,
            "label": spec["label"],
            "fs": spec["fs"],
            "env": {a.key: a.value for a in self.attributes if a.attributetype == ATTR_ENV},
        }
        if spec["channels"]:
            out["channels"] = spec["channels"]
        return out

    def render(self) -> dict[str, Any]:
        return {
            "processid": self.processid,
            "initiatorid": self.initiatorid,
            "initiatorname": self.initiatorname,
            "assignedexecutorid": self.assignedexecutorid,
            "isassigned": self.isassigned,
            "state": self.state,
            "prioritytime": self.prioritytime,
            "submissiontime": go_time(self.submissiontime),
            "starttime": go_time(self.starttime),
            "endtime": go_time(self.endtime),
            "waitdeadline": go_time(self.waitdeadline),
            "execdeadline": go_time(self.execdeadline),
            "retries": self.retries,
            "attributes": sorted((a.render() for a in self.attributes), key=lambda a: (a["attributetype"], a["key"])),
            "spec": self.render_spec(),
            "waitforparents": False,
            "parents": [],
            "children": [],
            "processgraphid": "",
            "in": [],
            "out": self.output,
            "errors": self.errors,
        }
