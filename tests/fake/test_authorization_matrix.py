"""Who may call what: every message type of PROTOCOL.md 4 (and every other one the fake answers) × every role.

Rows are message types, each with a valid request for a target in colony
``dev``; columns are the roles (``tests.fake.authz.ROLES`` says who each is); a cell is the
answer PROTOCOL.md gives for that caller: ``OK`` (the call succeeds) or the
exact refusal. The process-scoped rules are cells too: the running process is
assigned to "executor" and was submitted by "user", so "other-executor" is an
approved member that is no party to it (PROTOCOL.md 5.5-5.8, 8.2, 9.3).

Each cell runs on a fresh fake, in-process. For every row, one cell of each
answer it has also runs over HTTP (a real WebSocket for the subscriptions).
"""

from __future__ import annotations

from typing import Any, Callable

import attrs
import pytest

from colonies_fake import FakeColonies
from colonies_fake._handlers import HANDLERS
from colonies_fake._schema import MSG
from colonies_sync import FunctionSpec
from colonies_sync._rpc import UNSIGNED_TYPES
from tests.fake.authz import ALLOWED, ROLES, NoReply, Outcome, Refused, World, build_world, call, subscribe

# --- the cells (texts word for word from PROTOCOL.md 4, 5 and 9) ---------------------------------------

OK = ALLOWED
NSO = Refused(403, "Access denied, not server owner")
NCO = Refused(403, "Access denied, not colony owner")
NM = Refused(403, "Access denied, not a member of Colony with name <dev>")
SILENT = NoReply(200)  # colony statistics for a non-member (5.2)
NOT_EXEC = Refused(500, "Failed to assign process, executor not found")  # a user assigning (5.5)
CLOSE_NA = Refused(403, "Failed to close process as successful, not allowed to close process as successful")
FAIL_NA = Refused(403, "Failed to close process as failed, not allowed to close process as failed")
LOG_NA = Refused(403, "Failed to add log, not allowed to add log, only the assigned Executor may att logs")
ATTR_NA = Refused(403, "Failed to add attribute, only executor with id <{assigned}> is allowed to set attributes")
WRITE_NA = Refused(403, "Not authorized to write to channel")
READ_NA = Refused(403, "Not authorized to read from channel")
SUB_NA = Refused(403, "Not authorized to subscribe to channel")
NO_EXEC = Refused(403, "executor not found")  # subscribeprocessesmsg by a non-executor (9.5)
ADD_FN_NA = Refused(403, "Not allowed to add a function to another executor")  # 5.4
REMOVE_FN_NA = Refused(403, "Not allowed to remove a function from another executor")  # handlers/function


def _unknown(msgtype: str) -> Refused:
    return Refused(403, f"invalid rpcMsg.PayloadType: {msgtype}")  # 2.3 step 5


# Every message type PROTOCOL.md section 4 ("Authorisation summary") lists, copied from its table,
# so that a type the fake does not serve shows up here rather than in a client's error log.
SECTION_4 = frozenset(
    {
        "versionmsg", "getserverinfomsg",
        "addcolonymsg", "removecolonymsg", "getcoloniesmsg", "getstatisticsmsg", "getclustermsg",
        "getcolonymsg", "getcolonystatsmsg",
        "addexecutormsg", "approveexecutormsg", "rejectexecutormsg", "removeexecutormsg",
        "getexecutorsmsg",
        "getexecutormsg", "getexecutorbyidmsg",
        "addusermsg", "removeusermsg",
        "getusersmsg", "getusermsg", "getuserbyidmsg",
        "submitfuncspecmsg",
        "assignprocessmsg",
        "getprocessmsg", "getprocessesmsg", "removeprocessmsg", "cancelprocessmsg",
        "removeallprocessesmsg", "pauseassignmentsmsg", "resumeassignmentsmsg",
        "getpausestatusmsg",
        "closesuccessfulmsg", "closefailedmsg", "setoutputmsg", "addlogmsg", "addattributemsg",
        "getlogsmsg", "getattributemsg",
        "addfunctionmsg",
        "channelappendmsg", "channelreadmsg", "subscribechannelmsg",
        "subscribeprocessmsg",
        "subscribeprocessesmsg",
    }
)  # fmt: skip

# Section 4 types the fake answers as unknown types, every caller alike. The real server serves
# getclustermsg (server owner; the etcd cluster's configuration), which a single in-memory fake has
# none of; PROTOCOL.md 5.10 lets a fake answer it as the real server answers an unknown type.
UNKNOWN_TO_THE_FAKE = frozenset({"getclustermsg"})


@attrs.frozen
class Row:
    request: Callable[[World], dict[str, Any]]  # the message fields, msgtype aside
    cells: tuple[Outcome, ...]  # one per role, in the order of COLUMNS
    stream: bool = False  # a /pubsub subscription rather than a POST /api


def _spec() -> dict[str, Any]:
    return FunctionSpec.create("echo", "dev", "test").to_dict()


def _executor(w: World) -> dict[str, Any]:
    return {"executorid": w.new_id(), "executortype": "test", "executorname": "new-1", "colonyname": "dev"}


def _user(w: World) -> dict[str, Any]:
    return {"colonyname": "dev", "userid": w.new_id(), "name": "bob", "email": "", "phone": ""}


def _pending(w: World) -> dict[str, Any]:
    return {"colonyname": "dev", "executorname": "pending-1"}


def _dev(w: World) -> dict[str, Any]:
    return {"colonyname": "dev"}


def _running(w: World) -> dict[str, Any]:
    return {"processid": w.running}


COLUMNS = (
    "server-owner",
    "colony-owner",
    "executor",
    "other-executor",
    "pending-executor",
    "foreign-executor",
    "user",
    "unknown-key",
)

# fmt: off
TABLE: dict[str, Row] = {
    # COLUMNS:                server  colony  exec  other     pending foreign user      unknown
    # 5.1 server
    "versionmsg": Row(lambda w: {"buildversion": "", "buildtime": ""},
                            (OK,    OK,     OK,   OK,       OK,     OK,     OK,       OK)),
    "getserverinfomsg": Row(lambda w: {},
                            (OK,    OK,     OK,   OK,       OK,     OK,     OK,       OK)),
    "getstatisticsmsg": Row(lambda w: {},
                            (OK,    NSO,    NSO,  NSO,      NSO,    NSO,    NSO,      NSO)),
    "getclustermsg": Row(lambda w: {},  # UNKNOWN_TO_THE_FAKE
                            (_unknown("getclustermsg"),) * 8),
    # 5.2 colonies
    "addcolonymsg": Row(lambda w: {"colony": {"colonyid": w.new_id(), "name": "lab"}},
                            (OK,    NSO,    NSO,  NSO,      NSO,    NSO,    NSO,      NSO)),
    "getcoloniesmsg": Row(lambda w: {},
                            (OK,    NSO,    NSO,  NSO,      NSO,    NSO,    NSO,      NSO)),
    "removecolonymsg": Row(_dev,
                            (OK,    NSO,    NSO,  NSO,      NSO,    NSO,    NSO,      NSO)),
    "getcolonymsg": Row(_dev,
                            (NM,    NM,     OK,   OK,       NM,     NM,     OK,       NM)),
    "getcolonystatsmsg": Row(_dev,
                            (SILENT, SILENT, OK,  OK,       SILENT, SILENT, OK,       SILENT)),
    # 5.3 executors
    "addexecutormsg": Row(lambda w: {"executor": _executor(w)},
                            (NCO,   OK,     NCO,  NCO,      NCO,    NCO,    NCO,      NCO)),
    "approveexecutormsg": Row(_pending,
                            (NCO,   OK,     NCO,  NCO,      NCO,    NCO,    NCO,      NCO)),
    "rejectexecutormsg": Row(_pending,
                            (NCO,   OK,     NCO,  NCO,      NCO,    NCO,    NCO,      NCO)),
    "removeexecutormsg": Row(_pending,
                            (NCO,   OK,     NCO,  NCO,      NCO,    NCO,    NCO,      NCO)),
    "getexecutorsmsg": Row(_dev,
                            (NM,    NM,     OK,   OK,       OK,     NM,     OK,       NM)),
    "getexecutormsg": Row(lambda w: {"colonyname": "dev", "executorname": "worker-1"},
                            (NM,    NM,     OK,   OK,       NM,     NM,     OK,       NM)),
    "getexecutorbyidmsg": Row(lambda w: {"colonyname": "dev", "executorid": w.assigned},
                            (NM,    NM,     OK,   OK,       NM,     NM,     OK,       NM)),
    # 5.4 users and functions
    "addusermsg": Row(lambda w: {"user": _user(w)},
                            (NCO,   OK,     NCO,  NCO,      NCO,    NCO,    NCO,      NCO)),
    "removeusermsg": Row(lambda w: {"colonyname": "dev", "name": "alice"},
                            (NCO,   OK,     NCO,  NCO,      NCO,    NCO,    NCO,      NCO)),
    "getusersmsg": Row(_dev,
                            (NM,    NM,     OK,   OK,       OK,     NM,     OK,       NM)),
    "getusermsg": Row(lambda w: {"colonyname": "dev", "name": "alice"},
                            (NM,    NM,     OK,   OK,       OK,     NM,     OK,       NM)),
    "getuserbyidmsg": Row(lambda w: {"colonyname": "dev", "userid": w.alice},
                            (NM,    NM,     OK,   OK,       OK,     NM,     OK,       NM)),
    "addfunctionmsg": Row(lambda w: {"fun": {"executorname": "worker-1", "colonyname": "dev", "funcname": "f2"}},
                            (NM,    NM,     OK,   ADD_FN_NA, NM,    NM,     ADD_FN_NA, NM)),
    "getfunctionsmsg": Row(_dev,
                            (NM,    NM,     OK,   OK,       NM,     NM,     OK,       NM)),
    "removefunctionmsg": Row(lambda w: {"functionid": w.function},
                            (NM,    NM,     OK,   REMOVE_FN_NA, NM, NM,     REMOVE_FN_NA, NM)),
    # 5.5 processes
    "submitfuncspecmsg": Row(lambda w: {"spec": _spec()},
                            (NM,    NM,     OK,   OK,       NM,     NM,     OK,       NM)),
    "assignprocessmsg": Row(lambda w: {"colonyname": "dev", "timeout": -1},
                            (NM,    NM,     OK,   OK,       NM,     NM,     NOT_EXEC, NM)),
    "getprocessmsg": Row(_running,
                            (NM,    NM,     OK,   OK,       NM,     NM,     OK,       NM)),
    "getprocessesmsg": Row(lambda w: {"colonyname": "dev", "count": 10, "state": 1},
                            (NM,    NM,     OK,   OK,       NM,     NM,     OK,       NM)),
    "removeprocessmsg": Row(lambda w: {"processid": w.waiting},
                            (NM,    NM,     OK,   OK,       NM,     NM,     OK,       NM)),
    "cancelprocessmsg": Row(_running,
                            (NM,    NM,     OK,   OK,       NM,     NM,     OK,       NM)),
    "removeallprocessesmsg": Row(lambda w: {"colonyname": "dev", "state": -1},
                            (NCO,   OK,     NCO,  NCO,      NCO,    NCO,    NCO,      NCO)),
    "pauseassignmentsmsg": Row(_dev,
                            (NCO,   OK,     NCO,  NCO,      NCO,    NCO,    NCO,      NCO)),
    "resumeassignmentsmsg": Row(_dev,
                            (NCO,   OK,     NCO,  NCO,      NCO,    NCO,    NCO,      NCO)),
    "getpausestatusmsg": Row(_dev,
                            (NM,    NM,     OK,   OK,       OK,     NM,     OK,       NM)),
    # process-scoped: only the assigned executor (5.5-5.7)
    "closesuccessfulmsg": Row(lambda w: {"processid": w.running, "out": ["done"]},
                            (NM,    NM,     OK,   CLOSE_NA, NM,     NM,     CLOSE_NA, NM)),
    "closefailedmsg": Row(lambda w: {"processid": w.running, "errors": ["broken"]},
                            (NM,    NM,     OK,   FAIL_NA,  NM,     NM,     FAIL_NA,  NM)),
    "setoutputmsg": Row(lambda w: {"processid": w.running, "out": ["partial"]},
                            (NM,    NM,     OK,   CLOSE_NA, NM,     NM,     CLOSE_NA, NM)),
    "addlogmsg": Row(lambda w: {"processid": w.running, "message": "working"},
                            (NM,    NM,     OK,   LOG_NA,   NM,     NM,     LOG_NA,   NM)),
    "addattributemsg": Row(lambda w: {"attribute": {"targetid": w.running, "key": "k", "value": "v",
                                                    "attributetype": 1}},
                            (NM,    NM,     OK,   ATTR_NA,  NM,     NM,     ATTR_NA,  NM)),
    # 5.6, 5.7 reading logs and attributes
    "getlogsmsg": Row(lambda w: {"colonyname": "dev", "processid": w.running, "count": 10},
                            (NM,    NM,     OK,   OK,       NM,     NM,     OK,       NM)),
    "getattributemsg": Row(lambda w: {"attributeid": w.attribute},
                            (NM,    NM,     OK,   OK,       NM,     NM,     OK,       NM)),
    # process-scoped: only the submitter or the assigned executor (8.2)
    "channelappendmsg": Row(lambda w: {"processid": w.running, "name": "chat", "sequence": 2, "payload": "aGk="},
                            (NM,    NM,     OK,   WRITE_NA, NM,     NM,     OK,       NM)),
    "channelreadmsg": Row(lambda w: {"processid": w.running, "name": "chat", "afterseq": 0, "limit": 0},
                            (NM,    NM,     OK,   READ_NA,  NM,     NM,     OK,       NM)),
    # 9.3-9.5 /pubsub
    "subscribeprocessmsg": Row(lambda w: {"processid": w.running, "executortype": "", "state": 1, "timeout": 100},
                            (OK,    OK,     OK,   OK,       OK,     OK,     OK,       OK), stream=True),
    "subscribeprocessesmsg": Row(lambda w: {"colonyname": "dev", "executortype": "test", "state": 0, "timeout": 100},
                            (NO_EXEC, NO_EXEC, OK, OK,      OK,     OK,     NO_EXEC,  NO_EXEC), stream=True),
    "subscribechannelmsg": Row(lambda w: {"processid": w.running, "name": "chat", "afterseq": 0, "timeout": -1},
                            (NM,    NM,     OK,   SUB_NA,   NM,     NM,     OK,       NM), stream=True),
}
# fmt: on

CELLS = [(msgtype, role) for msgtype in TABLE for role in COLUMNS]


def _expected(msgtype: str, role: str) -> Outcome:
    return TABLE[msgtype].cells[COLUMNS.index(role)]


def _run(fake: FakeColonies, msgtype: str, role: str) -> tuple[Outcome, Outcome]:
    world = build_world(fake)
    row = TABLE[msgtype]
    answer = (subscribe if row.stream else call)(world, role, msgtype, row.request(world))
    return answer, world.render(_expected(msgtype, role))


# --- the table is complete ---------------------------------------------------------------------


PUBSUB = frozenset({"subscribeprocessmsg", "subscribeprocessesmsg", "subscribechannelmsg"})


@pytest.mark.inprocess_only
def test_the_table_has_a_row_for_every_message_type_of_section_4_and_every_one_the_fake_answers() -> None:
    """PROTOCOL.md 4's types, and the fake's: every RPC handler, every /pubsub type (each has a message
    schema but no RPC handler), the unsigned ones."""
    assert set(HANDLERS) <= set(MSG)
    assert set(MSG) - set(HANDLERS) == PUBSUB
    assert set(TABLE) == SECTION_4 | set(HANDLERS) | PUBSUB | UNSIGNED_TYPES
    assert {t for t, row in TABLE.items() if row.stream} == PUBSUB


@pytest.mark.inprocess_only
def test_the_fake_serves_every_type_of_section_4_but_the_ones_it_treats_as_unknown() -> None:
    """A section 4 type the fake has no handler for is a gap, unless it is declared here, and then every
    caller gets the unknown-type refusal."""
    served = set(HANDLERS) | PUBSUB | UNSIGNED_TYPES
    assert SECTION_4 - served == UNKNOWN_TO_THE_FAKE
    assert {t: TABLE[t].cells for t in UNKNOWN_TO_THE_FAKE if set(TABLE[t].cells) != {_unknown(t)}} == {}


@pytest.mark.inprocess_only
def test_every_row_has_a_cell_for_every_role(fake: FakeColonies) -> None:
    """The columns are the roles the world signs as, each once; every row has one cell per column."""
    assert sorted(COLUMNS) == sorted(ROLES) == sorted(build_world(fake).keys)
    assert {t: len(row.cells) for t, row in TABLE.items() if len(row.cells) != len(COLUMNS)} == {}


# --- the cells ------------------------------------------------------------------------------------


@pytest.mark.inprocess_only
@pytest.mark.parametrize(("msgtype", "role"), CELLS, ids=[f"{t}-{r}" for t, r in CELLS])
def test_cell(fake: FakeColonies, msgtype: str, role: str) -> None:
    answer, expected = _run(fake, msgtype, role)
    assert answer == expected


def _one_cell_per_answer_of_each_row() -> list[tuple[str, str]]:
    seen: dict[tuple[str, Outcome], tuple[str, str]] = {}
    for msgtype, role in CELLS:
        seen.setdefault((msgtype, _expected(msgtype, role)), (msgtype, role))
    return list(seen.values())


SAMPLE = _one_cell_per_answer_of_each_row()


def test_sample_on_each_transport(fake: FakeColonies) -> None:
    """For each row, one cell of each answer it has: in-process, and over HTTP or a real WebSocket.

    One fake (one served fake in the HTTP run), reset between cells: serving a fake per cell costs more than
    the whole in-process table.
    """
    wrong = {}
    for msgtype, role in SAMPLE:
        assert fake.errors == [], "reset() would forget these"
        fake.reset()
        answer, expected = _run(fake, msgtype, role)
        if answer != expected:
            wrong[f"{msgtype}-{role}"] = (answer, expected)
    assert wrong == {}
