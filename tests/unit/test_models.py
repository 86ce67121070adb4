"""The data model (PROTOCOL.md section 6): ``from_dict`` / ``to_dict`` of every model.

The JSON shapes are the real server's replies from ``tests/data/golden``, with
the placeholders replaced by real-looking values.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import attrs
import pytest

from colonies_sync import (
    GPU,
    Attribute,
    AttributeType,
    Colony,
    Conditions,
    Executor,
    ExecutorState,
    FunctionSpec,
    Log,
    MsgEntry,
    Process,
    ProcessState,
    ServerInfo,
    ServerVersion,
    User,
)
from colonies_sync._models import b64decode, format_time, parse_time

UTC = dt.timezone.utc
ZERO = "0001-01-01T00:00:00Z"

COLONY_ID = "4787a5071856a4acf702b2ffcea422e3237a679c681314113d86139461290cf4"
EXEC_ID = "3fc05cf3df4b494e95d6a3d297a34f19938f7daa7422ab0d4f794454133341ac"
USER_ID = "4fef2b5a82d134d058c1883c72d6d9caf77cd59ca82d73105017590dea3dcb87"
PROCESS_ID = "9c1e5b0d7a3f4e2c8b6d1a0f9e8c7b6a5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a"
ATTR_ID_1 = "0b1f6a7c2d3e4f5061728394a5b6c7d8e9f00112233445566778899aabbccdd"
ATTR_ID_2 = "e2c56a8b1f0d4c3e9a7b6d5c4f3e2d1c0b9a8f7e6d5c4b3a29180716253443ab"

CONDITIONS_JSON: dict[str, Any] = {
    "colonyname": "dev",
    "executornames": ["worker-1", "worker-2"],
    "executortype": "cli",
    "dependencies": [],
    "nodes": 1,
    "cpu": "500m",
    "processes": 2,
    "processespernode": 3,
    "mem": "1024Mi",
    "storage": "100Mi",
    "gpu": {"name": "a100", "mem": "2048Mi", "count": 1, "nodecount": 0},
    "walltime": 60,
}

SPEC_JSON: dict[str, Any] = {
    "nodename": "echo",
    "funcname": "echo",
    "args": ["hello", 1, 2.5, True, None, {"k": [1, 2]}, 9007199254740992],
    "kwargs": {"a": "x", "b": 1},
    "priority": 3,
    "maxwaittime": 30,
    "maxexectime": 20,
    "maxretries": 2,
    "conditions": CONDITIONS_JSON,
    "label": "a<b>&c",
    "fs": {"mount": "", "snapshots": None, "dirs": None},
    "env": {"A": "1"},
    "channels": ["chat", "progress"],
}

# A RUNNING process as getprocessmsg returns it (golden: attributes.json, process_submit_normalisation.json).
PROCESS_JSON: dict[str, Any] = {
    "processid": PROCESS_ID,
    "initiatorid": EXEC_ID,
    "initiatorname": "worker-1",
    "assignedexecutorid": EXEC_ID,
    "isassigned": True,
    "state": 1,
    "prioritytime": 1770646223123456000,
    "submissiontime": "2026-02-12T14:10:23.123456Z",
    "starttime": "2026-02-12T14:10:24.5Z",
    "endtime": ZERO,
    "waitdeadline": "2026-02-12T14:10:53.123456Z",
    "execdeadline": "2026-02-12T14:10:44.5Z",
    "retries": 0,
    "attributes": [
        {
            "attributeid": ATTR_ID_2,
            "targetid": PROCESS_ID,
            "targetcolonyname": "dev",
            "targetprocessgraphid": "",
            "state": 0,
            "attributetype": 1,
            "key": "result",
            "value": "42",
        },
        {
            "attributeid": ATTR_ID_1,
            "targetid": PROCESS_ID,
            "targetcolonyname": "dev",
            "targetprocessgraphid": "",
            "state": 1,
            "attributetype": 3,
            "key": "A",
            "value": "1",
        },
    ],
    "spec": SPEC_JSON,
    "waitforparents": False,
    "parents": [],
    "children": [],
    "processgraphid": "",
    "in": [],
    "out": ["x", 2],
    "errors": [],
}

# A freshly submitted minimal process (golden: process_submit_defaults.json).
WAITING_PROCESS_JSON: dict[str, Any] = {
    "processid": PROCESS_ID,
    "initiatorid": EXEC_ID,
    "initiatorname": "worker-1",
    "assignedexecutorid": "",
    "isassigned": False,
    "state": 0,
    "prioritytime": 1770905423123456789,
    "submissiontime": "2026-02-12T14:10:23.123456Z",
    "starttime": ZERO,
    "endtime": ZERO,
    "waitdeadline": ZERO,
    "execdeadline": ZERO,
    "retries": 0,
    "attributes": [],
    "spec": {
        "nodename": "",
        "funcname": "echo",
        "args": [],
        "kwargs": {},
        "priority": 0,
        "maxwaittime": 0,
        "maxexectime": 0,
        "maxretries": 0,
        "conditions": {
            "colonyname": "dev",
            "executornames": None,
            "executortype": "cli",
            "dependencies": [],
            "nodes": 0,
            "cpu": "0m",
            "processes": 0,
            "processespernode": 0,
            "mem": "0Mi",
            "storage": "0Mi",
            "gpu": {"name": "", "mem": "0Mi", "count": 0, "nodecount": 0},
            "walltime": 0,
        },
        "label": "",
        "fs": {"mount": "", "snapshots": None, "dirs": None},
        "env": {},
    },
    "waitforparents": False,
    "parents": [],
    "children": [],
    "processgraphid": "",
    "in": [],
    "out": [],
    "errors": [],
}

# golden: executor_approve_reject.json
EXECUTOR_JSON: dict[str, Any] = {
    "executorid": EXEC_ID,
    "executortype": "cli",
    "executorname": "worker-1",
    "colonyname": "dev",
    "state": 1,
    "requirefuncreg": False,
    "commissiontime": "2026-11-26T11:02:03.456789Z",
    "lastheardfromtime": ZERO,
    "capabilities": {"hardware": None, "software": None},
    "allocations": {"projects": None},
}

COLONY_JSON = {"colonyid": COLONY_ID, "name": "dev"}
USER_JSON = {"colonyname": "dev", "userid": USER_ID, "name": "alice", "email": "alice@example.com", "phone": ""}
LOG_JSON = {
    "processid": PROCESS_ID,
    "colonyname": "dev",
    "executorname": "worker-1",
    "message": "line 0\n",
    "timestamp": 1770905423123456000,
}
ATTRIBUTE_JSON = PROCESS_JSON["attributes"][0]
MSG_ENTRY_JSON = {
    "sequence": 2,
    "inreplyto": 1,
    "timestamp": "2026-11-26T11:02:03.123456Z",
    "senderid": EXEC_ID,
    "payload": "aGVsbG8=",
    "type": "data",
}
SERVER_VERSION_JSON = {"buildversion": "d89bd38", "buildtime": "2026-02-12T10:00:00Z"}
SERVER_INFO_JSON = {
    "buildversion": "dev",
    "buildtime": "2026-11-26T11:00:00Z",
    "backends": [{"type": "http", "port": 50080, "host": "0.0.0.0"}],
}

ROUND_TRIPS = [
    pytest.param(Colony, COLONY_JSON, id="Colony"),
    pytest.param(User, USER_JSON, id="User"),
    pytest.param(Executor, EXECUTOR_JSON, id="Executor"),
    pytest.param(GPU, CONDITIONS_JSON["gpu"], id="GPU"),
    pytest.param(Conditions, CONDITIONS_JSON, id="Conditions"),
    pytest.param(Conditions, WAITING_PROCESS_JSON["spec"]["conditions"], id="Conditions-null-names"),
    pytest.param(FunctionSpec, SPEC_JSON, id="FunctionSpec"),
    pytest.param(FunctionSpec, WAITING_PROCESS_JSON["spec"], id="FunctionSpec-no-channels"),
    pytest.param(Attribute, ATTRIBUTE_JSON, id="Attribute"),
    pytest.param(Process, PROCESS_JSON, id="Process-running"),
    pytest.param(Process, WAITING_PROCESS_JSON, id="Process-waiting"),
    pytest.param(Log, LOG_JSON, id="Log"),
    pytest.param(MsgEntry, MSG_ENTRY_JSON, id="MsgEntry"),
    pytest.param(ServerVersion, SERVER_VERSION_JSON, id="ServerVersion"),
    pytest.param(ServerInfo, SERVER_INFO_JSON, id="ServerInfo"),
]


# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "data"), ROUND_TRIPS)
def test_server_json_round_trips_exactly(cls: Any, data: dict[str, Any]) -> None:
    """from_dict then to_dict gives back the server's JSON object, key for key."""
    original = copy.deepcopy(data)
    model = cls.from_dict(data)
    assert model.to_dict() == original
    assert data == original  # the input is not modified
    assert model.extra == {}
    # and the result is JSON-serialisable as is
    assert json.loads(json.dumps(model.to_dict())) == original


@pytest.mark.parametrize(("cls", "data"), ROUND_TRIPS)
def test_unknown_keys_go_to_extra_and_back(cls: Any, data: dict[str, Any]) -> None:
    """Unknown keys are kept in .extra (never an error) and written back by to_dict."""
    extended = dict(data, futurefield={"nested": [1, 2]}, anotherone=None)
    model = cls.from_dict(extended)
    assert model.extra == {"futurefield": {"nested": [1, 2]}, "anotherone": None}
    assert model.to_dict() == extended


def test_unknown_keys_in_nested_models_are_kept() -> None:
    """An unknown key inside spec.conditions.gpu survives a Process round trip."""
    data = copy.deepcopy(PROCESS_JSON)
    data["spec"]["conditions"]["gpu"]["vendor"] = "nvidia"
    data["spec"]["newspecfield"] = 1
    data["attributes"][0]["hint"] = "x"
    process = Process.from_dict(data)
    assert process.spec.conditions.gpu.extra == {"vendor": "nvidia"}
    assert process.spec.extra == {"newspecfield": 1}
    assert process.attributes[0].extra == {"hint": "x"}
    assert process.to_dict() == data


def test_version_reply_msgtype_is_kept_as_extra() -> None:
    """The versionmsg reply carries msgtype, which is not a field: it lands in extra."""
    version = ServerVersion.from_dict({"buildversion": "d89bd38", "buildtime": "", "msgtype": "versionmsg"})
    assert (version.buildversion, version.buildtime) == ("d89bd38", "")
    assert version.extra == {"msgtype": "versionmsg"}


def test_from_dict_of_a_non_mapping_raises_type_error() -> None:
    """A list where an object is expected is a TypeError, not silent garbage."""
    with pytest.raises(TypeError):
        Process.from_dict([])  # type: ignore[arg-type]


# --- field values ------------------------------------------------------------------------


def test_process_fields_are_typed() -> None:
    """A parsed process has enum state, datetimes, nested models and None for unset times."""
    p = Process.from_dict(PROCESS_JSON)
    assert p.processid == PROCESS_ID
    assert p.state is ProcessState.RUNNING
    assert p.isassigned is True
    assert p.prioritytime == 1770646223123456000
    assert p.submissiontime == dt.datetime(2026, 2, 12, 14, 10, 23, 123456, tzinfo=UTC)
    assert p.starttime == dt.datetime(2026, 2, 12, 14, 10, 24, 500000, tzinfo=UTC)
    assert p.endtime is None
    assert p.execdeadline == dt.datetime(2026, 2, 12, 14, 10, 44, 500000, tzinfo=UTC)
    assert [type(a) for a in p.attributes] == [Attribute, Attribute]
    assert p.attributes[1].attributetype == AttributeType.ENV
    assert isinstance(p.attributes[1].attributetype, AttributeType)
    assert isinstance(p.spec, FunctionSpec)
    assert isinstance(p.spec.conditions, Conditions)
    assert isinstance(p.spec.conditions.gpu, GPU)
    assert p.spec.conditions.gpu.mem == "2048Mi"
    assert p.spec.conditions.executornames == ["worker-1", "worker-2"]
    assert p.spec.channels == ["chat", "progress"]
    assert p.spec.args == ["hello", 1, 2.5, True, None, {"k": [1, 2]}, 9007199254740992]
    assert p.out == ["x", 2]


def test_executor_fields_are_typed() -> None:
    """Executor state is an ExecutorState; commissiontime parses; zero lastheardfromtime is None."""
    e = Executor.from_dict(EXECUTOR_JSON)
    assert e.state is ExecutorState.APPROVED
    assert e.commissiontime == dt.datetime(2026, 11, 26, 11, 2, 3, 456789, tzinfo=UTC)
    assert e.lastheardfromtime is None
    assert e.capabilities == {"hardware": None, "software": None}
    assert "locationname" not in e.to_dict()  # omitted when empty, as Go does
    assert Executor.from_dict(dict(EXECUTOR_JSON, locationname="lab")).to_dict()["locationname"] == "lab"


def test_executor_state_values() -> None:
    """PENDING 0, APPROVED 1, REJECTED 2, UNREGISTERED 3."""
    assert [int(s) for s in ExecutorState] == [0, 1, 2, 3]
    assert [s.name for s in ExecutorState] == ["PENDING", "APPROVED", "REJECTED", "UNREGISTERED"]


def test_log_fields_and_time() -> None:
    """Log.timestamp stays integer nanoseconds; .time is the aware UTC datetime."""
    log = Log.from_dict(LOG_JSON)
    assert log.timestamp == 1770905423123456000
    assert log.message == "line 0\n"
    assert log.time == dt.datetime(2026, 2, 12, 14, 10, 23, 123456, tzinfo=UTC)


def test_server_info_backends() -> None:
    """ServerInfo keeps the backends list as plain dicts."""
    info = ServerInfo.from_dict(SERVER_INFO_JSON)
    assert info.backends == [{"type": "http", "port": 50080, "host": "0.0.0.0"}]
    assert info.buildversion == "dev"


def test_colony_and_user_fields() -> None:
    """Colony and User read their string fields."""
    assert Colony.from_dict(COLONY_JSON) == Colony(colonyid=COLONY_ID, name="dev")
    user = User.from_dict(USER_JSON)
    assert (user.userid, user.name, user.email, user.phone) == (USER_ID, "alice", "alice@example.com", "")


def test_missing_keys_take_defaults() -> None:
    """An empty object gives the model's defaults."""
    p = Process.from_dict({})
    assert p == Process()
    assert p.state is ProcessState.WAITING
    assert p.submissiontime is None
    assert p.spec == FunctionSpec()


# --- null handling -----------------------------------------------------------------------


def test_null_lists_of_a_process_become_empty_lists() -> None:
    """attributes, parents, children, in, out and errors of null become []."""
    data = dict(PROCESS_JSON, attributes=None, parents=None, children=None, out=None, errors=None, **{"in": None})
    p = Process.from_dict(data)
    assert (p.attributes, p.parents, p.children, p.in_, p.out, p.errors) == ([], [], [], [], [], [])


def test_null_lists_of_a_spec_become_empty() -> None:
    """args, channels and conditions.dependencies of null become []; kwargs and env of null become {}."""
    spec = FunctionSpec.from_dict(
        dict(
            SPEC_JSON,
            args=None,
            kwargs=None,
            env=None,
            channels=None,
            conditions=dict(CONDITIONS_JSON, dependencies=None),
        )
    )
    assert (spec.args, spec.kwargs, spec.env, spec.channels) == ([], {}, {}, [])
    assert spec.conditions.dependencies == []


def test_null_backends_become_empty_list() -> None:
    """ServerInfo.backends of null becomes []."""
    assert ServerInfo.from_dict({"buildversion": "dev", "buildtime": "", "backends": None}).backends == []


def test_conditions_executornames_null_stays_none() -> None:
    """executornames null stays None and [] stays []: the two differ on the wire."""
    assert Conditions.from_dict(dict(CONDITIONS_JSON, executornames=None)).executornames is None
    assert Conditions.from_dict({"colonyname": "dev"}).executornames is None
    assert Conditions.from_dict(dict(CONDITIONS_JSON, executornames=[])).executornames == []
    assert Conditions.from_dict(dict(CONDITIONS_JSON, executornames=None)).to_dict()["executornames"] is None
    assert Conditions.from_dict(dict(CONDITIONS_JSON, executornames=[])).to_dict()["executornames"] == []


# --- timestamps --------------------------------------------------------------------------


@pytest.mark.parametrize("digits", range(10))
def test_timestamp_with_0_to_9_fractional_digits(digits: int) -> None:
    """0 to 9 fractional digits parse, truncated (not rounded) to microseconds."""
    frac = "987654321"[:digits]
    text = f"2026-02-12T14:10:23{'.' + frac if frac else ''}Z"
    expected_micro = int(frac.ljust(6, "0")[:6]) if frac else 0
    assert parse_time(text) == dt.datetime(2026, 2, 12, 14, 10, 23, expected_micro, tzinfo=UTC)
    p = Process.from_dict({"submissiontime": text})
    assert p.submissiontime is not None
    assert p.submissiontime.microsecond == expected_micro


def test_timestamp_nine_nines_truncates_rather_than_rounds() -> None:
    """.999999999 stays in the same second: 999999 microseconds."""
    assert parse_time("2026-12-31T23:59:59.999999999Z") == dt.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def test_timestamp_with_z_is_utc() -> None:
    """A 'Z' time is aware and in UTC."""
    t = parse_time("2026-02-12T14:10:23Z")
    assert t is not None
    assert t.utcoffset() == dt.timedelta(0)
    assert t == dt.datetime(2026, 2, 12, 14, 10, 23, tzinfo=UTC)


def test_timestamp_with_positive_offset() -> None:
    """'+02:00' keeps the offset and denotes the right instant."""
    t = parse_time("2026-02-12T16:10:23.5+02:00")
    assert t is not None
    assert t.utcoffset() == dt.timedelta(hours=2)
    assert (t.hour, t.microsecond) == (16, 500000)
    assert t == dt.datetime(2026, 2, 12, 14, 10, 23, 500000, tzinfo=UTC)


def test_timestamp_with_negative_half_hour_offset() -> None:
    """'-05:30' keeps the offset and denotes the right instant."""
    t = parse_time("2026-02-12T08:40:23.123456789-05:30")
    assert t is not None
    assert t.utcoffset() == -dt.timedelta(hours=5, minutes=30)
    assert t == dt.datetime(2026, 2, 12, 14, 10, 23, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000001Z", "0001-01-01T01:00:00+01:00"]
)
def test_go_zero_time_is_none(text: str) -> None:
    """Go's zero time (any year-1 time) means unset: None."""
    assert parse_time(text) is None
    assert Process.from_dict({"endtime": text}).endtime is None


@pytest.mark.parametrize("value", [None, ""])
def test_absent_timestamp_is_none(value: Any) -> None:
    """null and "" parse to None."""
    assert parse_time(value) is None


@pytest.mark.parametrize("text", ["2026-02-12", "yesterday", "2026-02-12T14:10:23", "2026-02-12T14:10:23.1234567890Z"])
def test_malformed_timestamp_raises_value_error(text: str) -> None:
    """A text that is not RFC 3339 (no zone, >9 digits, ...) is a ValueError."""
    with pytest.raises(ValueError):
        parse_time(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("2026-02-12T14:10:23Z\n", id="trailing-newline"),
        pytest.param(" 2026-02-12T14:10:23Z", id="leading-space"),
        pytest.param("\u0662\u0660\u0662\u0666-02-12T14:10:23Z", id="non-ascii-digits"),
        pytest.param("2026-13-12T14:10:23Z", id="month-13"),
        pytest.param("2026-02-12T14:10:23+25:00", id="offset-out-of-range"),
    ],
)
def test_a_timestamp_must_be_the_whole_text_in_ascii_digits(text: str) -> None:
    """Nothing around the timestamp, no Unicode digits, no impossible values: ValueError, never a wrong time."""
    with pytest.raises(ValueError):
        parse_time(text)
    with pytest.raises(ValueError):
        Process.from_dict({"starttime": text})


def test_none_time_is_written_as_go_zero_time() -> None:
    """format_time(None) and an unset model time write 0001-01-01T00:00:00Z."""
    assert format_time(None) == ZERO
    out = Process().to_dict()
    for key in ("submissiontime", "starttime", "endtime", "waitdeadline", "execdeadline"):
        assert out[key] == ZERO
    assert MsgEntry().to_dict()["timestamp"] == ZERO
    assert Executor().to_dict()["commissiontime"] == ZERO


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (dt.datetime(2026, 2, 12, 14, 10, 23, tzinfo=UTC), "2026-02-12T14:10:23Z"),
        (dt.datetime(2026, 2, 12, 14, 10, 23, 500000, tzinfo=UTC), "2026-02-12T14:10:23.5Z"),
        (dt.datetime(2026, 2, 12, 14, 10, 23, 120000, tzinfo=UTC), "2026-02-12T14:10:23.12Z"),
        (dt.datetime(2026, 2, 12, 14, 10, 23, 123450, tzinfo=UTC), "2026-02-12T14:10:23.12345Z"),
        (dt.datetime(2026, 2, 12, 14, 10, 23, 1, tzinfo=UTC), "2026-02-12T14:10:23.000001Z"),
        (dt.datetime(2026, 2, 12, 14, 10, 23, 123456, tzinfo=UTC), "2026-02-12T14:10:23.123456Z"),
        (
            dt.datetime(2026, 2, 12, 16, 10, 23, 100000, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2026-02-12T16:10:23.1+02:00",
        ),
        (
            dt.datetime(2026, 2, 12, 8, 40, 23, tzinfo=dt.timezone(-dt.timedelta(hours=5, minutes=30))),
            "2026-02-12T08:40:23-05:30",
        ),
        (dt.datetime(2026, 2, 12, 14, 10, 23), "2026-02-12T14:10:23Z"),
    ],
    ids=["whole", "half", "two-digits", "five-digits", "one-micro", "six", "plus2", "minus530", "naive-as-utc"],
)
def test_format_time_trims_trailing_zeros_like_go(value: dt.datetime, text: str) -> None:
    """format_time writes RFC 3339 with trailing fractional zeros trimmed and Z or +hh:mm."""
    assert format_time(value) == text


def test_nanosecond_timestamp_is_truncated_to_microseconds_on_a_round_trip() -> None:
    """Channel entries carry nanoseconds; the model keeps microseconds and writes those back."""
    e = MsgEntry.from_dict(dict(MSG_ENTRY_JSON, timestamp="2026-11-26T11:02:03.123456789Z"))
    assert e.timestamp == dt.datetime(2026, 11, 26, 11, 2, 3, 123456, tzinfo=UTC)
    assert e.to_dict()["timestamp"] == "2026-11-26T11:02:03.123456Z"


def test_timestamps_round_trip_through_a_model() -> None:
    """An offset time written back by to_dict is the same text."""
    data = dict(MSG_ENTRY_JSON, timestamp="2026-02-12T08:40:23.25-05:30")
    assert MsgEntry.from_dict(data).to_dict()["timestamp"] == "2026-02-12T08:40:23.25-05:30"


# --- FunctionSpec ------------------------------------------------------------------------


def test_function_spec_defaults_limits_to_minus_one() -> None:
    """FunctionSpec() has maxwaittime, maxexectime and maxretries -1, never the 0 trap."""
    spec = FunctionSpec()
    assert (spec.maxwaittime, spec.maxexectime, spec.maxretries) == (-1, -1, -1)
    out = spec.to_dict()
    assert (out["maxwaittime"], out["maxexectime"], out["maxretries"]) == (-1, -1, -1)


def test_function_spec_from_dict_without_limits_defaults_to_minus_one() -> None:
    """A dict without the three limits gets -1 for each; explicit values (even 0) are kept."""
    spec = FunctionSpec.from_dict({"funcname": "echo", "conditions": {"colonyname": "dev", "executortype": "cli"}})
    assert (spec.maxwaittime, spec.maxexectime, spec.maxretries) == (-1, -1, -1)
    explicit = FunctionSpec.from_dict({"funcname": "echo", "maxwaittime": 0, "maxexectime": 5, "maxretries": 0})
    assert (explicit.maxwaittime, explicit.maxexectime, explicit.maxretries) == (0, 5, 0)


def test_function_spec_create_fills_conditions() -> None:
    """create() sets nodename=funcname, the colony, type and names in conditions, and -1 limits."""
    spec = FunctionSpec.create(
        "echo",
        "dev",
        "cli",
        args=["hello"],
        kwargs={"n": 1},
        executornames=["worker-1"],
        priority=5,
        label="l",
        env={"A": "1"},
        channels=["chat"],
    )
    assert (spec.funcname, spec.nodename) == ("echo", "echo")
    assert spec.conditions.colonyname == "dev"
    assert spec.conditions.executortype == "cli"
    assert spec.conditions.executornames == ["worker-1"]
    assert (spec.maxwaittime, spec.maxexectime, spec.maxretries) == (-1, -1, -1)
    assert (spec.args, spec.kwargs, spec.priority, spec.label, spec.env) == (["hello"], {"n": 1}, 5, "l", {"A": "1"})
    out = spec.to_dict()
    assert out["channels"] == ["chat"]
    assert out["conditions"]["colonyname"] == "dev"
    assert out["conditions"]["executornames"] == ["worker-1"]


def test_function_spec_create_defaults() -> None:
    """create() without options: no executornames (None), no channels key on the wire."""
    spec = FunctionSpec.create("echo", colonyname="dev", executortype="cli")
    assert spec.conditions.executornames is None
    assert spec.args == [] and spec.kwargs == {} and spec.env == {}
    assert "channels" not in spec.to_dict()
    assert "locationname" not in spec.to_dict()["conditions"]


# --- Process.in_ -------------------------------------------------------------------------


def test_process_input_is_in_underscore_and_in_on_the_wire() -> None:
    """The JSON key 'in' maps to the attribute in_ and back; 'in_' never appears on the wire."""
    p = Process.from_dict(dict(WAITING_PROCESS_JSON, **{"in": [1, "two"]}))
    assert p.in_ == [1, "two"]
    out = p.to_dict()
    assert out["in"] == [1, "two"]
    assert "in_" not in out
    assert p.extra == {}
    assert Process(in_=["x"]).to_dict()["in"] == ["x"]


# --- ProcessState ------------------------------------------------------------------------


def test_process_state_values() -> None:
    """WAITING 0, RUNNING 1, SUCCESS 2, FAILED 3, CANCELLED 4."""
    assert {s.name: int(s) for s in ProcessState} == {
        "WAITING": 0,
        "RUNNING": 1,
        "SUCCESS": 2,
        "FAILED": 3,
        "CANCELLED": 4,
    }


@pytest.mark.parametrize(
    ("state", "terminal"),
    [
        (ProcessState.WAITING, False),
        (ProcessState.RUNNING, False),
        (ProcessState.SUCCESS, True),
        (ProcessState.FAILED, True),
        (ProcessState.CANCELLED, True),
    ],
)
def test_process_state_is_terminal(state: ProcessState, terminal: bool) -> None:
    """Only SUCCESS, FAILED and CANCELLED are terminal."""
    assert state.is_terminal is terminal


@pytest.mark.parametrize("state", range(5))
def test_process_state_from_wire_int(state: int) -> None:
    """Each wire state becomes its enum member."""
    assert Process.from_dict({"state": state}).state is ProcessState(state)


# --- MsgEntry ----------------------------------------------------------------------------


def test_msg_entry_payload_from_base64() -> None:
    """A base64 payload decodes to bytes; text is its UTF-8 reading."""
    e = MsgEntry.from_dict(MSG_ENTRY_JSON)
    assert e.payload == b"hello"
    assert e.text == "hello"
    assert (e.sequence, e.inreplyto, e.senderid, e.type, e.error) == (2, 1, EXEC_ID, "data", "")
    assert e.timestamp == dt.datetime(2026, 11, 26, 11, 2, 3, 123456, tzinfo=UTC)


def test_msg_entry_payload_from_int_array() -> None:
    """An array of byte values (pycolonies' form) decodes to the same bytes."""
    e = MsgEntry.from_dict(dict(MSG_ENTRY_JSON, payload=[104, 101, 108, 108, 111]))
    assert e.payload == b"hello"
    assert e.text == "hello"
    assert e.to_dict()["payload"] == "aGVsbG8="


def test_msg_entry_binary_payload_is_binary_safe() -> None:
    """Arbitrary bytes survive; text replaces invalid UTF-8."""
    e = MsgEntry.from_dict(dict(MSG_ENTRY_JSON, payload="AP/+gA=="))
    assert e.payload == b"\x00\xff\xfe\x80"
    assert e.text == "\x00\ufffd\ufffd\ufffd"
    assert e.to_dict()["payload"] == "AP/+gA=="


def test_msg_entry_utf8_text() -> None:
    """Non-ASCII UTF-8 payloads read back as text."""
    e = MsgEntry.from_dict(dict(MSG_ENTRY_JSON, payload="aMOpbGxvIOKckw=="))
    assert e.text == "héllo ✓"


@pytest.mark.parametrize("payload", [None, "", []])
def test_msg_entry_missing_or_empty_payload_is_empty_bytes(payload: Any) -> None:
    """null, "" and [] payloads all read as b"" (text "")."""
    e = MsgEntry.from_dict(dict(MSG_ENTRY_JSON, payload=payload))
    assert e.payload == b""
    assert e.text == ""


@pytest.mark.parametrize(
    ("text", "payload"),
    [("YQ==", b"a"), ("YWI=", b"ab"), ("YWJj", b"abc"), ("YWJjZA==", b"abcd"), ("+/+/", b"\xfb\xff\xbf")],
)
def test_msg_entry_payload_decodes_every_padding_go_writes(text: str, payload: bytes) -> None:
    """Go's StdEncoding pads to a multiple of four with 0, 1 or 2 '=': each decodes and writes back the same."""
    entry = MsgEntry.from_dict(dict(MSG_ENTRY_JSON, payload=text))
    assert entry.payload == payload
    assert entry.to_dict()["payload"] == text


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("!!!", id="punctuation"),
        pytest.param("@@", id="at-signs"),
        pytest.param("aGVsbG8", id="unpadded"),
        pytest.param("YQ=", id="short-padding"),
        pytest.param("YQ===", id="excess-padding"),
        pytest.param("AAAA====", id="a-whole-group-of-padding"),
        pytest.param("YQ==YQ==", id="data-after-padding"),
        pytest.param("=YQ=", id="leading-padding"),
        pytest.param("YQ=A", id="padding-inside"),
        pytest.param("aGVs bG8=", id="space"),
        pytest.param("aGVsbG8=\n", id="trailing-newline"),
        pytest.param("aGVs\r\nbG8=", id="crlf"),
        pytest.param("aGVsbG8_", id="url-safe-alphabet"),
        pytest.param("aGVsbG8\u00e9", id="non-ascii"),
        pytest.param("Y", id="one-character"),
    ],
)
def test_msg_entry_payload_that_is_not_go_standard_base64_raises_value_error(text: str) -> None:
    """A payload Go would never write is an error naming the payload, not bytes made up from part of it."""
    with pytest.raises(ValueError, match="payload is not"):
        MsgEntry.from_dict(dict(MSG_ENTRY_JSON, payload=text))
    with pytest.raises(ValueError, match="payload is not"):
        b64decode(text)


@pytest.mark.parametrize("payload", [123, 1.5, True, {"a": 1}])
def test_msg_entry_payload_of_another_json_type_raises_type_error(payload: Any) -> None:
    """A number or an object is neither base64 text nor a byte array."""
    with pytest.raises(TypeError, match="payload must be base64 text"):
        MsgEntry.from_dict(dict(MSG_ENTRY_JSON, payload=payload))


@pytest.mark.parametrize("payload", [[256], [-1], ["a"], [None]])
def test_msg_entry_int_array_payload_with_a_non_byte_raises(payload: list[Any]) -> None:
    """The byte-array form holds values 0..255 only."""
    with pytest.raises((ValueError, TypeError)):
        MsgEntry.from_dict(dict(MSG_ENTRY_JSON, payload=payload))


def test_strict_base64_accepts_ascii_bytes_and_refuses_other_bytes() -> None:
    """Bytes are read as the ASCII text of the base64, as base64.b64decode does."""
    assert b64decode(b"aGk=") == b"hi"
    with pytest.raises(ValueError, match="non-ASCII"):
        b64decode(b"\xffGk=")


def test_a_long_bad_payload_is_shortened_in_the_message() -> None:
    """The message shows the start of a bad payload, not megabytes of it."""
    with pytest.raises(ValueError) as info:
        b64decode("!" * 100_000)
    assert len(str(info.value)) < 200


def test_unknown_keys_are_still_kept_beside_a_strict_payload() -> None:
    """Strict values do not make parsing strict about keys: unknown ones still go to extra."""
    entry = MsgEntry.from_dict(dict(MSG_ENTRY_JSON, newfield={"x": 1}))
    assert entry.extra == {"newfield": {"x": 1}}
    assert entry.to_dict()["newfield"] == {"x": 1}


def test_msg_entry_omits_zero_inreplyto_and_empty_type_and_error() -> None:
    """inreplyto 0, type "" and error "" are left out of to_dict, as the server omits them."""
    data = {"sequence": 1, "timestamp": "2026-11-26T11:02:03Z", "senderid": EXEC_ID, "payload": "czE="}
    e = MsgEntry.from_dict(data)
    assert e.inreplyto == 0
    assert e.to_dict() == data


def test_msg_entry_synthetic_error_entry() -> None:
    """The server's slow-subscriber entry has only 'error' set."""
    e = MsgEntry.from_dict(
        {
            "sequence": 0,
            "timestamp": ZERO,
            "senderid": "",
            "payload": None,
            "error": "subscriber disconnected: buffer full",
        }
    )
    assert e.error == "subscriber disconnected: buffer full"
    assert e.type == ""
    assert e.payload == b""


def test_models_are_frozen_values() -> None:
    """Models are immutable; attrs.evolve builds variants."""
    spec = FunctionSpec.create("echo", "dev", "cli")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        spec.funcname = "other"  # type: ignore[misc]
    assert attrs.evolve(spec, maxexectime=30).maxexectime == 30
    assert spec.maxexectime == -1
