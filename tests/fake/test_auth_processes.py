"""Who may submit, read and remove processes, logs and attributes: PROTOCOL.md 4 and 5.5-5.7."""

from __future__ import annotations

import hashlib

import pytest

from colonies_fake import FakeColonies
from colonies_sync import (
    AttributeType,
    BadRequest,
    ColoniesClient,
    Forbidden,
    InternalServerError,
    ProcessNotFound,
    ProcessState,
)
from tests.fake.conftest import APPROVED_MEMBERS, NOT_APPROVED_MEMBERS, NOT_COLONY_OWNER
from tests.fake.helpers import at, server_error, spec

NOT_MEMBER = "Access denied, not a member of Colony with name <dev>"
NOT_OWNER = "Access denied, not colony owner"
NO_COLONY = "Colony with name <nowhere> does not exists"
PROCESS_NOT_FOUND = "Failed to get process, process not found"
UNKNOWN = "f" * 64


def running(fake: FakeColonies, wc: ColoniesClient, **kwargs) -> str:
    pid = wc.submit_function_spec(spec(**kwargs)).processid
    assert wc.assign("dev", -1).processid == pid
    return pid


# --- submit -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", APPROVED_MEMBERS)
def test_submit_by_an_approved_member_records_the_initiator(fake, roles, role) -> None:
    """An approved executor or a user may submit; initiatorid/initiatorname are the caller's."""
    client = roles[role]
    p = client.submit_function_spec(spec())
    expected_name = {"executor": "worker-1", "user": "alice"}[role]
    assert (p.initiatorid, p.initiatorname, p.state) == (client.id, expected_name, ProcessState.WAITING)
    assert fake.process(p.processid).initiatorname == expected_name


@pytest.mark.parametrize("role", NOT_APPROVED_MEMBERS)
def test_submit_refused_for_non_members(fake, roles, role) -> None:
    with server_error(Forbidden, 403, NOT_MEMBER):
        roles[role].submit_function_spec(spec())
    assert fake.processes() == []


def test_submit_to_unknown_colony(fake, wc) -> None:
    with server_error(Forbidden, 403, NO_COLONY):
        wc.submit_function_spec(spec(colony="nowhere"))


def test_nil_spec_is_400_before_membership(fake, colony, stranger) -> None:
    """The nil-spec check precedes membership: even an unknown key gets the 400."""
    with server_error(BadRequest, 400, "Failed to submit process spec, msg.FunctionSpec is nil"):
        stranger.rpc("submitfuncspecmsg", {"spec": None})


def test_membership_is_checked_before_the_priority(fake, colony, stranger) -> None:
    with server_error(Forbidden, 403, NOT_MEMBER):
        stranger.submit_function_spec(spec(priority=60000))


def test_priority_limits_are_inclusive(fake, wc) -> None:
    assert wc.submit_function_spec(spec(priority=50000)).spec.priority == 50000
    assert wc.submit_function_spec(spec(priority=-50000)).spec.priority == -50000


def test_bad_cpu_in_a_spec_is_refused(fake, wc) -> None:
    with server_error(BadRequest, 400, "Error converting CPU to int"):
        wc.submit_function_spec(spec(conditions={"cpu": "xm"}))
    assert fake.processes() == []


def test_submit_normalises_resources_and_sets_waitdeadline(fake, wc) -> None:
    """cpu/mem come back as "<n>m"/"<n>Mi"; waitdeadline is set iff maxwaittime > 0; env -> ENV attributes."""
    p = wc.submit_function_spec(
        spec(maxwaittime=60, env={"A": "1"}, conditions={"cpu": "250m", "mem": "512M", "storage": "1Gi"})
    )
    c = p.spec.conditions
    assert (c.cpu, c.mem, c.storage) == ("250m", "488Mi", "1024Mi")
    assert p.waitdeadline == at(fake, 60)
    assert p.spec.env == {"A": "1"}
    assert [(a.attributetype, a.key, a.value, a.targetid) for a in p.attributes] == [
        (AttributeType.ENV, "A", "1", p.processid)
    ]


# --- getprocess ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", APPROVED_MEMBERS)
def test_get_process_by_any_approved_member(fake, roles, wc, role) -> None:
    """Any approved member may read a process, not only its submitter."""
    pid = wc.submit_function_spec(spec(args=[1])).processid
    p = roles[role].get_process(pid)
    assert (p.processid, p.spec.args) == (pid, [1])


@pytest.mark.parametrize("role", NOT_APPROVED_MEMBERS)
def test_get_process_refused_for_non_members(fake, roles, wc, role) -> None:
    """A known process of `dev` asked by a non-member (incl. another colony's executor) -> 403."""
    pid = wc.submit_function_spec(spec()).processid
    with server_error(Forbidden, 403, NOT_MEMBER):
        roles[role].get_process(pid)


@pytest.mark.parametrize("role", ["stranger", "server-owner", "executor", "other-colony-executor"])
def test_get_unknown_process_is_404_for_anyone(fake, roles, role) -> None:
    """Existence is checked before authorisation: even an unknown key learns `process not found`."""
    with server_error(ProcessNotFound, 404, PROCESS_NOT_FOUND):
        roles[role].get_process(UNKNOWN)


def test_get_process_with_a_non_hex_id_is_404(fake, wc) -> None:
    with server_error(ProcessNotFound, 404, PROCESS_NOT_FOUND):
        wc.get_process("not-an-id")


# --- getprocesses -------------------------------------------------------------------------


@pytest.mark.parametrize("role", APPROVED_MEMBERS)
def test_get_processes_by_an_approved_member(fake, roles, wc, role) -> None:
    pids = [wc.submit_function_spec(spec()).processid for _ in range(3)]
    assert [p.processid for p in roles[role].get_processes("dev", ProcessState.WAITING)] == pids


@pytest.mark.parametrize("role", NOT_APPROVED_MEMBERS)
def test_get_processes_refused_for_non_members(fake, roles, role) -> None:
    with server_error(Forbidden, 403, NOT_MEMBER):
        roles[role].get_processes("dev", ProcessState.WAITING)


def test_get_processes_of_unknown_colony(fake, wc) -> None:
    with server_error(Forbidden, 403, NO_COLONY):
        wc.get_processes("nowhere", ProcessState.WAITING)


def test_get_processes_count_above_100_is_refused(fake, wc) -> None:
    wc.submit_function_spec(spec())
    with server_error(BadRequest, 400, "Count is larger than MaxCount limit <100>"):
        wc.get_processes("dev", ProcessState.WAITING, count=101)
    assert len(wc.get_processes("dev", ProcessState.WAITING, count=100)) == 1


def test_get_processes_membership_is_checked_before_the_count(fake, colony, stranger) -> None:
    with server_error(Forbidden, 403, NOT_MEMBER):
        stranger.get_processes("dev", ProcessState.WAITING, count=101)


def test_get_processes_count_limits_and_zero_returns_nothing(fake, wc) -> None:
    pids = [wc.submit_function_spec(spec()).processid for _ in range(4)]
    assert [p.processid for p in wc.get_processes("dev", ProcessState.WAITING, count=2)] == pids[:2]
    assert wc.get_processes("dev", ProcessState.WAITING, count=0) == []


@pytest.mark.parametrize("state", [-1, 5, 42])
def test_get_processes_with_an_invalid_state(fake, wc, state) -> None:
    with server_error(BadRequest, 400, "Failed to get processes, invalid msg.State"):
        wc.get_processes("dev", state)


def test_get_processes_initiator_must_be_a_user_name(fake, wc) -> None:
    """The initiator filter takes a *user* name; an executor's name -> 400 `User <name> does not exist`."""
    wc.submit_function_spec(spec())
    with server_error(BadRequest, 400, "User <worker-1> does not exist"):
        wc.get_processes("dev", ProcessState.WAITING, initiator="worker-1")


def test_get_processes_filters(fake, wc) -> None:
    """executortype, initiator (user name) and label filters; only one applies: executortype > initiator > label."""
    alice = fake.client(fake.add_user("dev", "alice").prvkey)
    a = wc.submit_function_spec(spec(executortype="test", label="x")).processid
    b = alice.submit_function_spec(spec(executortype="gpu", label="x")).processid
    c = alice.submit_function_spec(spec(executortype="test", label="y")).processid
    ids = lambda **kw: [p.processid for p in wc.get_processes("dev", ProcessState.WAITING, **kw)]  # noqa: E731
    assert ids(executortype="gpu") == [b]
    assert ids(initiator="alice") == [b, c]
    assert ids(label="x") == [a, b]
    assert ids(executortype="test", label="x") == [a, c]
    assert ids(initiator="alice", label="x") == [b, c]


def test_get_processes_only_lists_its_colony_and_state(fake, wc) -> None:
    fake.add_colony("prod")
    prod = fake.client(fake.add_executor("prod", "w", "test").prvkey)
    prod.submit_function_spec(spec(colony="prod"))
    run = running(fake, wc)
    wait = wc.submit_function_spec(spec()).processid
    assert [p.processid for p in wc.get_processes("dev", ProcessState.WAITING)] == [wait]
    assert [p.processid for p in wc.get_processes("dev", ProcessState.RUNNING)] == [run]
    assert wc.get_processes("dev", ProcessState.SUCCESS) == []


def test_get_processes_order_per_state(fake, wc) -> None:
    """WAITING by prioritytime ascending; RUNNING by starttime ascending; SUCCESS by endtime descending."""
    low = wc.submit_function_spec(spec(priority=-1)).processid
    fake.clock.advance(1)
    high = wc.submit_function_spec(spec(priority=2)).processid
    fake.clock.advance(1)
    mid = wc.submit_function_spec(spec()).processid
    assert [p.processid for p in wc.get_processes("dev", ProcessState.WAITING)] == [high, mid, low]

    started = []
    for _ in range(3):
        started.append(wc.assign("dev", -1).processid)
        fake.clock.advance(1)
    assert started == [high, mid, low]
    assert [p.processid for p in wc.get_processes("dev", ProcessState.RUNNING)] == started

    for pid in (mid, low, high):
        wc.close_process(pid)
        fake.clock.advance(1)
    assert [p.processid for p in wc.get_processes("dev", ProcessState.SUCCESS)] == [high, low, mid]


# --- removeprocess ------------------------------------------------------------------------


@pytest.mark.parametrize("role", APPROVED_MEMBERS)
def test_remove_process_by_any_approved_member(fake, roles, wc, role) -> None:
    pid = wc.submit_function_spec(spec()).processid
    roles[role].remove_process(pid)
    with server_error(ProcessNotFound, 404, PROCESS_NOT_FOUND):
        wc.get_process(pid)


@pytest.mark.parametrize("role", NOT_APPROVED_MEMBERS)
def test_remove_process_refused_for_non_members(fake, roles, wc, role) -> None:
    pid = wc.submit_function_spec(spec()).processid
    with server_error(Forbidden, 403, NOT_MEMBER):
        roles[role].remove_process(pid)
    assert fake.process(pid).state == ProcessState.WAITING


@pytest.mark.parametrize("role", ["stranger", "executor"])
def test_remove_unknown_process_is_500(fake, roles, role) -> None:
    """Checked before authorisation: an unknown key gets the 500 too."""
    with server_error(InternalServerError, 500, "Failed to remove process, process is nil"):
        roles[role].remove_process(UNKNOWN)


def test_removed_process_attributes_are_gone(fake, wc) -> None:
    pid = running(fake, wc)
    attribute_id = wc.add_attribute(pid, "k", "v").attributeid
    wc.close_process(pid)
    wc.remove_process(pid)
    with server_error(BadRequest, 400, "Attribute does not exists"):
        wc.get_attribute(attribute_id)


# --- removeallprocesses -----------------------------------------------------------------


def _one_of_each(fake: FakeColonies, wc: ColoniesClient) -> dict[str, str]:
    pids = {}
    pids["running"] = running(fake, wc)
    pids["success"] = running(fake, wc)
    wc.close_process(pids["success"])
    pids["failed"] = running(fake, wc)
    wc.fail_process(pids["failed"])
    pids["cancelled"] = wc.submit_function_spec(spec()).processid
    wc.cancel_process(pids["cancelled"])
    pids["waiting"] = wc.submit_function_spec(spec()).processid
    return pids


@pytest.mark.parametrize(
    ("state", "removed"),
    [
        (-1, {"waiting", "running", "success", "failed", "cancelled"}),
        (0, {"waiting"}),
        (2, {"success"}),
        (3, {"failed"}),
        (4, {"cancelled"}),
    ],
)
def test_remove_all_processes_by_state(fake, wc, owner, state, removed) -> None:
    """State -1 removes every state (RUNNING too); 0, 2, 3, 4 remove only that state."""
    pids = _one_of_each(fake, wc)
    owner.remove_all_processes("dev", state)
    remaining = {p.processid for p in fake.processes("dev")}
    assert remaining == {pid for name, pid in pids.items() if name not in removed}


def test_remove_all_without_state_removes_only_waiting(fake, wc, owner) -> None:
    """An omitted state decodes as 0: only WAITING processes go (PROTOCOL.md 5.5)."""
    pids = _one_of_each(fake, wc)
    owner.rpc("removeallprocessesmsg", {"colonyname": "dev"})
    assert {p.processid for p in fake.processes("dev")} == set(pids.values()) - {pids["waiting"]}


def test_remove_all_leaves_other_colonies_alone(fake, wc, owner) -> None:
    fake.add_colony("prod")
    prod = fake.client(fake.add_executor("prod", "w", "test").prvkey)
    keep = prod.submit_function_spec(spec(colony="prod")).processid
    wc.submit_function_spec(spec())
    owner.remove_all_processes("dev", -1)
    assert [p.processid for p in fake.processes()] == [keep]


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (1, "Not possible to remove running processes"),
        (7, "Invalid state when deleting all processes"),
        (-2, "Invalid state when deleting all processes"),
    ],
)
def test_remove_all_with_a_refused_state(fake, wc, owner, state, message) -> None:
    pid = wc.submit_function_spec(spec()).processid
    with server_error(BadRequest, 400, message):
        owner.remove_all_processes("dev", state)
    assert fake.process(pid).state == ProcessState.WAITING


@pytest.mark.parametrize("role", NOT_COLONY_OWNER)
def test_remove_all_needs_the_colony_owner(fake, roles, wc, role) -> None:
    pid = wc.submit_function_spec(spec()).processid
    with server_error(Forbidden, 403, NOT_OWNER):
        roles[role].remove_all_processes("dev", -1)
    assert fake.process(pid).state == ProcessState.WAITING


def test_remove_all_in_unknown_colony(fake, owner) -> None:
    with server_error(Forbidden, 403, NO_COLONY):
        owner.remove_all_processes("nowhere", -1)


# --- close / fail by non-members --------------------------------------------------------


@pytest.mark.parametrize("role", ["pending", "colony-owner", "stranger", "other-colony-executor"])
def test_close_by_a_non_member_gets_the_membership_error_first(fake, roles, wc, role) -> None:
    """Membership is checked before `not assigned` / `not allowed` (PROTOCOL.md 5.5)."""
    pid = running(fake, wc)
    waiting = wc.submit_function_spec(spec()).processid
    for target in (waiting, pid):
        with server_error(Forbidden, 403, NOT_MEMBER):
            roles[role].close_process(target)
        with server_error(Forbidden, 403, NOT_MEMBER):
            roles[role].fail_process(target)
    assert fake.process(pid).state == ProcessState.RUNNING


@pytest.mark.parametrize("role", ["pending", "colony-owner", "stranger"])
def test_cancel_refused_for_non_members(fake, roles, wc, role) -> None:
    pid = wc.submit_function_spec(spec()).processid
    with server_error(Forbidden, 403, NOT_MEMBER):
        roles[role].cancel_process(pid)
    assert fake.process(pid).state == ProcessState.WAITING


# --- logs (5.6) ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", APPROVED_MEMBERS)
def test_get_logs_by_any_approved_member(fake, roles, wc, role) -> None:
    pid = running(fake, wc)
    wc.add_log(pid, "hello")
    logs = roles[role].get_logs("dev", pid)
    assert [(log.message, log.executorname, log.processid, log.colonyname) for log in logs] == [
        ("hello", "worker-1", pid, "dev")
    ]


@pytest.mark.parametrize("role", NOT_APPROVED_MEMBERS)
def test_get_logs_refused_for_non_members(fake, roles, wc, role) -> None:
    pid = running(fake, wc)
    wc.add_log(pid, "hello")
    with server_error(Forbidden, 403, NOT_MEMBER):
        roles[role].get_logs("dev", pid)


@pytest.mark.parametrize("role", ["pending", "stranger"])
def test_add_log_refused_for_non_members(fake, roles, wc, role) -> None:
    pid = running(fake, wc)
    with server_error(Forbidden, 403, NOT_MEMBER):
        roles[role].add_log(pid, "x")
    assert fake.logs(pid) == []


def test_get_logs_count_above_500_is_refused_with_403(fake, wc) -> None:
    pid = running(fake, wc)
    wc.add_log(pid, "a")
    with server_error(Forbidden, 403, "Count exceeds max log count (500)"):
        wc.get_logs("dev", pid, count=501)
    assert [log.message for log in wc.get_logs("dev", pid, count=500)] == ["a"]


def test_get_logs_membership_is_checked_before_the_count(fake, roles, wc) -> None:
    pid = running(fake, wc)
    with server_error(Forbidden, 403, NOT_MEMBER):
        roles["stranger"].get_logs("dev", pid, count=501)


def test_get_logs_of_unknown_process(fake, wc) -> None:
    with server_error(InternalServerError, 500, "Failed to get logs, process does not exist"):
        wc.get_logs("dev", UNKNOWN)


def test_get_logs_of_unknown_executor(fake, wc) -> None:
    with server_error(InternalServerError, 500, "Failed to get logs, executor does not exist"):
        wc.get_logs("dev", executor_name="ghost")


def test_get_logs_by_executor_name_spans_processes(fake, wc) -> None:
    first = running(fake, wc)
    wc.add_log(first, "one")
    wc.close_process(first)
    second = running(fake, wc)
    wc.add_log(second, "two")
    logs = wc.get_logs("dev", executor_name="worker-1")
    assert [(log.processid, log.message) for log in logs] == [(first, "one"), (second, "two")]


def test_get_logs_count_since_and_latest(fake, wc) -> None:
    """Default: the oldest `count`; since: strictly newer than `since` ns, oldest first; latest: newest `count`."""
    pid = running(fake, wc)
    stamps = []
    for i in range(5):
        wc.add_log(pid, f"m{i}")
        stamps.append(fake.clock.time_ns())
        fake.clock.advance(1)
    messages = lambda **kw: [log.message for log in wc.get_logs("dev", pid, **kw)]  # noqa: E731
    assert messages() == ["m0", "m1", "m2", "m3", "m4"]
    assert [log.timestamp for log in wc.get_logs("dev", pid)] == stamps
    assert messages(count=2) == ["m0", "m1"]
    assert messages(since=stamps[1]) == ["m2", "m3", "m4"]
    assert messages(since=stamps[1], count=2) == ["m2", "m3"]
    assert messages(latest=True, count=2) == ["m3", "m4"]
    assert messages(count=0) == []


# --- attributes (5.7) ---------------------------------------------------------------------


@pytest.mark.parametrize("role", APPROVED_MEMBERS)
def test_get_attribute_by_any_approved_member(fake, roles, wc, role) -> None:
    pid = running(fake, wc)
    added = wc.add_attribute(pid, "color", "blue", attributetype=AttributeType.IN)
    assert added.attributeid == hashlib.sha3_256(f"{pid}color0".encode()).hexdigest()
    got = roles[role].get_attribute(added.attributeid)
    assert (got.attributeid, got.targetid, got.key, got.value, got.attributetype) == (
        added.attributeid,
        pid,
        "color",
        "blue",
        AttributeType.IN,
    )


@pytest.mark.parametrize("role", NOT_APPROVED_MEMBERS)
def test_get_attribute_refused_for_non_members(fake, roles, wc, role) -> None:
    pid = running(fake, wc)
    attribute_id = wc.add_attribute(pid, "color", "blue").attributeid
    with server_error(Forbidden, 403, NOT_MEMBER):
        roles[role].get_attribute(attribute_id)


def test_get_unknown_attribute(fake, wc) -> None:
    with server_error(BadRequest, 400, "Attribute does not exists"):
        wc.get_attribute(UNKNOWN)


@pytest.mark.parametrize("role", ["pending", "stranger", "other-colony-executor"])
def test_add_attribute_refused_for_non_members(fake, roles, wc, role) -> None:
    pid = running(fake, wc)
    with server_error(Forbidden, 403, NOT_MEMBER):
        roles[role].add_attribute(pid, "k", "v")


def test_add_attribute_to_unknown_process_is_404_even_for_a_stranger(fake, colony, stranger) -> None:
    with server_error(ProcessNotFound, 404, "Failed to add attribute, process not found"):
        stranger.add_attribute(UNKNOWN, "k", "v")


def test_add_the_same_attribute_twice_is_400(fake, wc) -> None:
    """Same (target, key, type) twice -> 400 with the database's duplicate-key text (PROTOCOL.md 5.7, 12)."""
    pid = running(fake, wc)
    wc.add_attribute(pid, "k", "v1")
    with server_error(BadRequest, 400, 'pq: duplicate key value violates unique constraint "prod_attributes_pkey"'):
        wc.add_attribute(pid, "k", "v2")
    wc.add_attribute(pid, "k", "v3", attributetype=AttributeType.ERR)  # another type is another id
    assert sorted((a.attributetype, a.value) for a in wc.get_process(pid).attributes) == [
        (AttributeType.OUT, "v1"),
        (AttributeType.ERR, "v3"),
    ]


# --- which error wins when several apply (5.5-5.7 list errors in check order) ----------------


def test_get_processes_errors_in_check_order(fake, wc) -> None:
    """count > 100 is reported before an unknown initiator, which is reported before a bad state."""
    with server_error(BadRequest, 400, "Count is larger than MaxCount limit <100>"):
        wc.get_processes("dev", -1, count=101, initiator="ghost")
    with server_error(BadRequest, 400, "User <ghost> does not exist"):
        wc.get_processes("dev", -1, initiator="ghost")


def test_remove_all_owner_check_comes_before_the_state_check(fake, wc) -> None:
    with server_error(Forbidden, 403, NOT_OWNER):
        wc.remove_all_processes("dev", 1)


def test_get_logs_of_unknown_process_is_500_even_for_a_stranger(fake, colony, stranger) -> None:
    with server_error(InternalServerError, 500, "Failed to get logs, process does not exist"):
        stranger.get_logs("dev", UNKNOWN)


def test_get_unknown_attribute_is_400_even_for_a_stranger(fake, colony, stranger) -> None:
    with server_error(BadRequest, 400, "Attribute does not exists"):
        stranger.get_attribute(UNKNOWN)
