"""The Go structs of the real server that the fake reads from requests and writes in replies.

Field order and ``omitempty`` follow pkg/core and pkg/rpc (notes in
PROTOCOL.md section 6 and the golden transcripts). Decoding a message with one
of these gives a ``dict`` with every field present, at its zero value when the
request left it out.
"""

from __future__ import annotations

from typing import Any

from colonies_fake._gojson import (
    ANY,
    BOOL,
    BYTES,
    INT,
    STRING,
    TIME,
    Field,
    GoJSONError,
    GoType,
    Map,
    Ptr,
    Slice,
    Struct,
    go_value,
)

F = Field


class _Float(GoType):
    """``float64``: any JSON number, held in the form ``dumps`` writes as Go does; ``null`` leaves it 0."""

    go_name = "float64"

    def decode(self, value: Any, where: str = "") -> Any:
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            field = f" field {where}" if where else ""
            raise GoJSONError(f"json: cannot unmarshal into Go{field} value of type float64")
        return go_value(value)  # out of float64 range: GoJSONError

    def zero(self) -> Any:
        return 0


FLOAT = _Float()

GPU = Struct("core.GPU", [F("name", STRING), F("mem", STRING), F("count", INT), F("nodecount", INT)])

CONDITIONS = Struct(
    "core.Conditions",
    [
        F("colonyname", STRING),
        F("executornames", Slice(STRING)),
        F("executortype", STRING),
        F("locationname", STRING, omitempty=True),
        F("dependencies", Slice(STRING)),
        F("nodes", INT),
        F("cpu", STRING),
        F("processes", INT),
        F("processespernode", INT),
        F("mem", STRING),
        F("storage", STRING),
        F("gpu", GPU),
        F("walltime", INT),
    ],
)

_KEEP_LOCAL = Struct("core.KeepLocal", [F("keeplocal", BOOL)])
SNAPSHOT_MOUNT = Struct(
    "core.SnapshotMount",
    [F("snapshotid", STRING), F("label", STRING), F("dir", STRING), F("keepfiles", BOOL), F("keepsnapshot", BOOL)],
)
SYNC_DIR_MOUNT = Struct(
    "core.SyncDirMount",
    [
        F("label", STRING),
        F("dir", STRING),
        F("keepfiles", BOOL),
        F("onconflicts", Struct("core.ConflictResolution", [F("onstart", _KEEP_LOCAL), F("onclose", _KEEP_LOCAL)])),
    ],
)
FILESYSTEM = Struct(
    "core.Filesystem",
    [F("mount", STRING), F("snapshots", Slice(SNAPSHOT_MOUNT)), F("dirs", Slice(SYNC_DIR_MOUNT))],
)

FUNCTION_SPEC = Struct(
    "core.FunctionSpec",
    [
        F("nodename", STRING),
        F("funcname", STRING),
        F("args", Slice(ANY)),
        F("kwargs", Map(ANY)),
        F("priority", INT),
        F("maxwaittime", INT),
        F("maxexectime", INT),
        F("maxretries", INT),
        F("conditions", CONDITIONS),
        F("label", STRING),
        F("fs", FILESYSTEM),
        F("env", Map(STRING)),
        F("channels", Slice(STRING), omitempty=True),
    ],
)

ATTRIBUTE = Struct(
    "core.Attribute",
    [
        F("attributeid", STRING),
        F("targetid", STRING),
        F("targetcolonyname", STRING),
        F("targetprocessgraphid", STRING),
        F("state", INT),
        F("attributetype", INT),
        F("key", STRING),
        F("value", STRING),
    ],
)

# pkg/core/function.go. ``locationname`` is copied from the executor by the add handler
# (pkg/server/handlers/function); its place and omitempty are not in the sources read (see the handler).
FUNCTION_ARG = Struct(
    "core.FunctionArg",
    [
        F("name", STRING),
        F("type", STRING),
        F("description", STRING, omitempty=True),
        F("required", BOOL, omitempty=True),
        F("enum", Slice(STRING), omitempty=True),
    ],
)

FUNCTION = Struct(
    "core.Function",
    [
        F("functionid", STRING),
        F("executorname", STRING),
        F("executortype", STRING),
        F("colonyname", STRING),
        F("funcname", STRING),
        F("description", STRING, omitempty=True),
        F("args", Slice(Ptr(FUNCTION_ARG)), omitempty=True),
        F("counter", INT),
        F("minwaittime", FLOAT),
        F("maxwaittime", FLOAT),
        F("minexectime", FLOAT),
        F("maxexectime", FLOAT),
        F("avgwaittime", FLOAT),
        F("avgexectime", FLOAT),
        F("locationname", STRING, omitempty=True),
    ],
)

COLONY = Struct("core.Colony", [F("colonyid", STRING), F("name", STRING)])

USER = Struct(
    "core.User",
    [F("colonyname", STRING), F("userid", STRING), F("name", STRING), F("email", STRING), F("phone", STRING)],
)

HARDWARE = Struct(
    "core.Hardware",
    [
        F("model", STRING),
        F("nodes", INT),
        F("cpu", STRING),
        F("cores", INT),
        F("mem", STRING),
        F("storage", STRING),
        F("gpu", GPU),
        F("platform", STRING),
        F("architecture", STRING),
        F("network", Slice(STRING)),
    ],
)
SOFTWARE = Struct("core.Software", [F("name", STRING), F("type", STRING), F("version", STRING)])
CAPABILITIES = Struct("core.Capabilities", [F("hardware", Slice(HARDWARE)), F("software", Slice(SOFTWARE))])
PROJECT = Struct(
    "core.Project",
    [
        F("allocatedcpu", INT),
        F("usedcpu", INT),
        F("allocatedgpu", INT),
        F("usedgpu", INT),
        F("allocatedstorage", INT),
        F("usedstorage", INT),
    ],
)
ALLOCATIONS = Struct("core.Allocations", [F("projects", Map(PROJECT))])

EXECUTOR = Struct(
    "core.Executor",
    [
        F("executorid", STRING),
        F("executortype", STRING),
        F("executorname", STRING),
        F("colonyname", STRING),
        F("state", INT),
        F("requirefuncreg", BOOL),
        F("commissiontime", TIME),
        F("lastheardfromtime", TIME),
        F("locationname", STRING, omitempty=True),
        F("capabilities", CAPABILITIES),
        F("allocations", ALLOCATIONS),
        F("blueprintid", STRING, omitempty=True),
        F("blueprintgen", INT, omitempty=True),
    ],
)


def _msg(go_name: str, *fields: Field) -> Struct:
    return Struct(go_name, [*fields, F("msgtype", STRING)])


# --- request messages (pkg/rpc) -----------------------------------------------------------
MSG: dict[str, Struct] = {
    "versionmsg": _msg("rpc.VersionMsg", F("buildversion", STRING), F("buildtime", STRING)),
    "getstatisticsmsg": _msg("rpc.GetStatisticsMsg"),
    "getcolonystatsmsg": _msg("rpc.GetColonyStatisticsMsg", F("colonyname", STRING)),
    "addcolonymsg": _msg("rpc.AddColonyMsg", F("colony", Ptr(COLONY))),
    "getcolonymsg": _msg("rpc.GetColonyMsg", F("colonyname", STRING)),
    "getcoloniesmsg": _msg("rpc.GetColoniesMsg"),
    "removecolonymsg": _msg("rpc.RemoveColonyMsg", F("colonyname", STRING)),
    "addexecutormsg": _msg("rpc.AddExecutorMsg", F("executor", Ptr(EXECUTOR))),
    "approveexecutormsg": _msg("rpc.ApproveExecutorRPC", F("colonyname", STRING), F("executorname", STRING)),
    "rejectexecutormsg": _msg("rpc.RejectExecutorMsg", F("colonyname", STRING), F("executorname", STRING)),
    "removeexecutormsg": _msg("rpc.RemoveExecutorMsg", F("colonyname", STRING), F("executorname", STRING)),
    "getexecutorsmsg": _msg("rpc.GetExecutorsMsg", F("colonyname", STRING)),
    "getexecutormsg": _msg("rpc.GetExecutorMsg", F("colonyname", STRING), F("executorname", STRING)),
    "getexecutorbyidmsg": _msg("rpc.GetExecutorByIDMsg", F("colonyname", STRING), F("executorid", STRING)),
    "addusermsg": _msg("rpc.AddUserMsg", F("user", Ptr(USER))),
    "getusersmsg": _msg("rpc.GetUsersMsg", F("colonyname", STRING)),
    "getusermsg": _msg("rpc.GetUserMsg", F("colonyname", STRING), F("name", STRING)),
    "getuserbyidmsg": _msg("rpc.GetUserByIDMsg", F("colonyname", STRING), F("userid", STRING)),
    "removeusermsg": _msg("rpc.RemoveUserMsg", F("colonyname", STRING), F("name", STRING)),
    "submitfuncspecmsg": _msg("rpc.SubmitFunctionSpecMsg", F("spec", Ptr(FUNCTION_SPEC))),
    "assignprocessmsg": _msg(
        "rpc.AssignProcessMsg",
        F("colonyname", STRING),
        F("timeout", INT),
        F("availablecpu", STRING),
        F("availablemem", STRING),
    ),
    "getprocessmsg": _msg("rpc.GetProcessMsg", F("processid", STRING)),
    "getprocessesmsg": _msg(
        "rpc.GetProcessesMsg",
        F("colonyname", STRING),
        F("count", INT),
        F("state", INT),
        F("executortype", STRING),
        F("label", STRING),
        F("initiator", STRING),
    ),
    "removeprocessmsg": _msg("rpc.RemoveProcessMsg", F("processid", STRING), F("all", BOOL)),
    "removeallprocessesmsg": _msg("rpc.RemoveAllProcessesMsg", F("colonyname", STRING), F("state", INT)),
    "closesuccessfulmsg": _msg("rpc.CloseSuccessfulMsg", F("processid", STRING), F("out", Slice(ANY))),
    "closefailedmsg": _msg("rpc.CloseFailedMsg", F("processid", STRING), F("errors", Slice(STRING))),
    "setoutputmsg": _msg("rpc.SetOutputMsg", F("processid", STRING), F("out", Slice(ANY))),
    "cancelprocessmsg": _msg("rpc.CancelProcessMsg", F("processid", STRING)),
    "pauseassignmentsmsg": _msg("rpc.PauseAssignmentsMsg", F("colonyname", STRING)),
    "resumeassignmentsmsg": _msg("rpc.ResumeAssignmentsMsg", F("colonyname", STRING)),
    "getpausestatusmsg": _msg("rpc.GetPauseStatusMsg", F("colonyname", STRING)),
    "addlogmsg": _msg("rpc.AddLogMsg", F("processid", STRING), F("message", STRING)),
    "getlogsmsg": _msg(
        "rpc.GetLogsMsg",
        F("colonyname", STRING),
        F("processid", STRING),
        F("executorname", STRING),
        F("count", INT),
        F("since", INT),
        F("latest", BOOL),
    ),
    "addattributemsg": _msg("rpc.AddAttributeMsg", F("attribute", Ptr(ATTRIBUTE))),
    "getattributemsg": _msg("rpc.GetAttributeMsg", F("attributeid", STRING)),
    "addfunctionmsg": _msg("rpc.AddFunctionMsg", F("fun", Ptr(FUNCTION))),
    "getfunctionsmsg": _msg("rpc.GetFunctionsMsg", F("colonyname", STRING), F("executorname", STRING)),
    "removefunctionmsg": _msg("rpc.RemoveFunctionMsg", F("functionid", STRING)),
    "channelappendmsg": _msg(
        "rpc.ChannelAppendMsg",
        F("processid", STRING),
        F("name", STRING),
        F("sequence", INT),
        F("inreplyto", INT),
        F("payload", BYTES),
        F("payloadtype", STRING),
    ),
    "channelreadmsg": _msg(
        "rpc.ChannelReadMsg", F("processid", STRING), F("name", STRING), F("afterseq", INT), F("limit", INT)
    ),
    "subscribeprocessmsg": _msg(
        "rpc.SubscribeProcessMsg",
        F("colonyname", STRING),
        F("processid", STRING),
        F("executortype", STRING),
        F("state", INT),
        F("timeout", INT),
    ),
    "subscribechannelmsg": _msg(
        "rpc.SubscribeChannelMsg",
        F("processid", STRING),
        F("name", STRING),
        F("afterseq", INT),
        F("timeout", INT),
    ),
    "subscribeprocessesmsg": _msg(
        "rpc.SubscribeProcessesMsg",
        F("colonyname", STRING),
        F("executortype", STRING),
        F("state", INT),
        F("timeout", INT),
    ),
}

ENVELOPE = Struct("rpc.RPCMsg", [F("signature", STRING), F("payloadtype", STRING), F("payload", STRING)])
