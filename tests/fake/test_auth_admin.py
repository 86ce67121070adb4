"""Who may manage colonies, executors and users: PROTOCOL.md 4 and 5.2-5.4, success paths and error rows."""

from __future__ import annotations

import pytest

from colonies_sync import (
    BadRequest,
    Colony,
    Crypto,
    Executor,
    ExecutorState,
    Forbidden,
    InternalServerError,
    NotFound,
    ProcessNotFound,
    ProcessState,
    ProtocolError,
    User,
)
from tests.fake.conftest import (
    ANY_MEMBERS,
    APPROVED_MEMBERS,
    NOT_ANY_MEMBERS,
    NOT_APPROVED_MEMBERS,
    NOT_COLONY_OWNER,
    NOT_SERVER_OWNER,
)
from tests.fake.helpers import at, server_error, spec

NOT_MEMBER = "Access denied, not a member of Colony with name <dev>"
NOT_OWNER = "Access denied, not colony owner"
NOT_SERVER = "Access denied, not server owner"
NO_COLONY = "Colony with name <nowhere> does not exists"


def new_id() -> str:
    return Crypto().id(Crypto().generate_private_key())


def executor_dict(name: str, colony: str = "dev", executortype: str = "test", **extra) -> dict:
    return {"executorid": new_id(), "executortype": executortype, "executorname": name, "colonyname": colony, **extra}


# --- colonies (5.2) ---------------------------------------------------------------------


def test_add_colony_by_the_server_owner(fake, server_owner) -> None:
    """addcolony by the server owner returns the stored colony; it then appears in getcolonies."""
    colony_id = new_id()
    assert server_owner.add_colony({"colonyid": colony_id, "name": "lab"}) == Colony(colonyid=colony_id, name="lab")
    assert [(c.name, c.colonyid) for c in server_owner.get_colonies()] == [("lab", colony_id)]


@pytest.mark.parametrize("role", NOT_SERVER_OWNER)
def test_add_colony_needs_the_server_owner(fake, roles, role) -> None:
    with server_error(Forbidden, 403, NOT_SERVER):
        roles[role].add_colony({"colonyid": new_id(), "name": "lab"})
    assert [c.name for c in fake.colonies()] == ["dev", "prod"]


def test_add_colony_owner_check_comes_before_the_nil_check(fake, stranger, server_owner) -> None:
    """A nil colony: 403 for a non-owner, 400 `colony is <nil>` for the server owner."""
    with server_error(Forbidden, 403, NOT_SERVER):
        stranger.rpc("addcolonymsg", {"colony": None})
    with server_error(BadRequest, 400, "Failed to add colony, colony is <nil>"):
        server_owner.rpc("addcolonymsg", {"colony": None})


@pytest.mark.parametrize("colony_id", ["ab" * 31, "ab" * 33, ""])
def test_add_colony_needs_a_64_character_id(fake, server_owner, colony_id) -> None:
    with server_error(BadRequest, 400, "Failed to add colony, invalid colony Id length"):
        server_owner.add_colony({"colonyid": colony_id, "name": "lab"})


def test_add_colony_does_not_check_that_the_id_is_hex(fake, server_owner) -> None:
    assert server_owner.add_colony({"colonyid": "z" * 64, "name": "lab"}).colonyid == "z" * 64


def test_add_colony_with_a_duplicate_name(fake, colony, server_owner) -> None:
    with server_error(BadRequest, 400, "A Colony with name <dev> already exists"):
        server_owner.add_colony({"colonyid": new_id(), "name": "dev"})


def test_add_colony_accepts_an_id_already_used(fake, colony, server_owner) -> None:
    """Colony ids need not be unique (PROTOCOL.md 11, line 10)."""
    server_owner.add_colony({"colonyid": colony.id, "name": "twin"})
    assert sorted(c.name for c in server_owner.get_colonies()) == ["dev", "twin"]


@pytest.mark.parametrize("role", APPROVED_MEMBERS)
def test_get_colony_by_an_approved_member(fake, roles, colony, role) -> None:
    assert roles[role].get_colony("dev") == Colony(colonyid=colony.id, name="dev")


@pytest.mark.parametrize("role", NOT_APPROVED_MEMBERS)
def test_get_colony_refused_for_non_members(fake, roles, role) -> None:
    """Pending/rejected executors, both owners, strangers and other colonies' executors are not members."""
    with server_error(Forbidden, 403, NOT_MEMBER):
        roles[role].get_colony("dev")


def test_get_unknown_colony(fake, wc) -> None:
    with server_error(Forbidden, 403, NO_COLONY):
        wc.get_colony("nowhere")
    with server_error(Forbidden, 403, "Colony with name <> does not exists"):
        wc.get_colony("")


def test_get_colonies_by_the_server_owner_in_creation_order(fake, roles, server_owner) -> None:
    assert [c.name for c in server_owner.get_colonies()] == ["dev", "prod"]


def test_get_colonies_with_none_is_empty(fake, server_owner) -> None:
    assert server_owner.get_colonies() == []
    assert server_owner.rpc("getcoloniesmsg") is None  # the wire says null


@pytest.mark.parametrize("role", NOT_SERVER_OWNER)
def test_get_colonies_needs_the_server_owner(fake, roles, role) -> None:
    with server_error(Forbidden, 403, NOT_SERVER):
        roles[role].get_colonies()


def test_remove_colony_by_the_server_owner_removes_its_processes_and_members(fake, wc, server_owner) -> None:
    pid = wc.submit_function_spec(spec()).processid
    server_owner.remove_colony("dev")
    assert server_owner.get_colonies() == []
    with server_error(ProcessNotFound, 404, "Failed to get process, process not found"):
        server_owner.get_process(pid)
    with server_error(Forbidden, 403, "Colony with name <dev> does not exists"):
        wc.get_colony("dev")


@pytest.mark.parametrize("role", NOT_SERVER_OWNER)
def test_remove_colony_needs_the_server_owner(fake, roles, role) -> None:
    with server_error(Forbidden, 403, NOT_SERVER):
        roles[role].remove_colony("dev")
    assert [c.name for c in fake.colonies()] == ["dev", "prod"]


def test_remove_unknown_colony(fake, server_owner) -> None:
    with server_error(BadRequest, 400, "Colony with name <nowhere> not found"):
        server_owner.remove_colony("nowhere")


# --- executors (5.3) --------------------------------------------------------------------


def test_add_executor_by_the_colony_owner_is_stored_pending(fake, colony, owner) -> None:
    """addexecutor forces state 0 (PENDING) whatever was sent, sets commissiontime; approval makes it a member."""
    data = executor_dict("new-1", state=1)
    stored = owner.add_executor(data)
    assert (stored.executorid, stored.executorname, stored.executortype, stored.colonyname) == (
        data["executorid"],
        "new-1",
        "test",
        "dev",
    )
    assert stored.state == ExecutorState.PENDING
    assert stored.commissiontime == at(fake)
    assert fake.executor("dev", "new-1").state == ExecutorState.PENDING


@pytest.mark.parametrize("role", NOT_COLONY_OWNER)
def test_add_executor_needs_the_colony_owner(fake, roles, role) -> None:
    with server_error(Forbidden, 403, NOT_OWNER):
        roles[role].add_executor(executor_dict("new-1"))
    with pytest.raises(KeyError):
        fake.executor("dev", "new-1")


def test_add_executor_to_unknown_colony(fake, colony, owner) -> None:
    with server_error(Forbidden, 403, NO_COLONY):
        owner.add_executor(executor_dict("new-1", colony="nowhere"))


def test_add_executor_with_empty_colony_name(fake, colony, owner) -> None:
    with server_error(Forbidden, 403, "Empty Colony name"):
        owner.add_executor(executor_dict("new-1", colony=""))


def test_add_nil_executor(fake, colony, owner) -> None:
    with server_error(BadRequest, 400, "Failed to add executor, executor is nil"):
        owner.rpc("addexecutormsg", {"executor": None})


def test_add_executor_with_a_duplicate_name(fake, worker, owner) -> None:
    with server_error(BadRequest, 400, "Executor with name <worker-1> in Colony <dev> already exists"):
        owner.add_executor(executor_dict("worker-1"))


def test_approve_executor_makes_it_an_approved_member(fake, colony, owner) -> None:
    keys = fake.add_executor("dev", "new-1", "test", approved=False)
    newbie = fake.client(keys.prvkey)
    with server_error(Forbidden, 403, NOT_MEMBER):
        newbie.get_colony("dev")
    owner.approve_executor("dev", "new-1")
    assert fake.executor("dev", "new-1").state == ExecutorState.APPROVED
    owner.approve_executor("dev", "new-1")  # idempotent
    assert newbie.get_colony("dev").name == "dev"


@pytest.mark.parametrize("role", NOT_COLONY_OWNER)
def test_approve_executor_needs_the_colony_owner(fake, roles, role) -> None:
    with server_error(Forbidden, 403, NOT_OWNER):
        roles[role].approve_executor("dev", "pending-1")
    assert fake.executor("dev", "pending-1").state == ExecutorState.PENDING


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("approve_executor", "Failed to approve executor, executor is nil"),
        ("reject_executor", "Failed to reject executor, executor is nil"),
        ("remove_executor", "Failed to remove executor, executor is nil"),
        ("get_executor", "Failed to get executor, executor is nil"),
    ],
)
def test_unknown_executor_is_500_before_any_authorisation(fake, roles, action, message) -> None:
    """The executor lookup precedes the owner/member check: even an unknown key gets the 500."""
    for role in ("colony-owner", "executor", "stranger"):
        with server_error(InternalServerError, 500, message):
            getattr(roles[role], action)("dev", "ghost")


def test_reject_executor_removes_membership(fake, owner, wc) -> None:
    owner.reject_executor("dev", "worker-1")
    assert fake.executor("dev", "worker-1").state == ExecutorState.REJECTED
    with server_error(Forbidden, 403, NOT_MEMBER):
        wc.get_colony("dev")


@pytest.mark.parametrize("role", NOT_COLONY_OWNER)
def test_reject_executor_needs_the_colony_owner(fake, roles, role) -> None:
    with server_error(Forbidden, 403, NOT_OWNER):
        roles[role].reject_executor("dev", "worker-1")
    assert fake.executor("dev", "worker-1").state == ExecutorState.APPROVED


def test_remove_executor_unregisters_it_and_requeues_its_running_processes(fake, owner, wc, worker) -> None:
    """removeexecutor keeps the record with state 3, drops membership, and puts its RUNNING process back
    to WAITING (unassigned, zero start/end time, retries unchanged); a second remove also succeeds."""
    pid = wc.submit_function_spec(spec()).processid
    wc.assign("dev", -1)
    owner.remove_executor("dev", "worker-1")
    assert fake.executor("dev", "worker-1").state == ExecutorState.UNREGISTERED
    p = fake.process(pid)
    assert (p.state, p.assignedexecutorid, p.isassigned, p.starttime, p.endtime, p.retries) == (
        ProcessState.WAITING,
        "",
        False,
        None,
        None,
        0,
    )
    with server_error(Forbidden, 403, NOT_MEMBER):
        wc.close_process(pid)
    owner.remove_executor("dev", "worker-1")
    alice = fake.client(fake.add_user("dev", "alice").prvkey)
    assert [(e.executorname, e.state) for e in alice.get_executors("dev")] == [("worker-1", ExecutorState.UNREGISTERED)]


@pytest.mark.parametrize("role", NOT_COLONY_OWNER)
def test_remove_executor_needs_the_colony_owner(fake, roles, role) -> None:
    with server_error(Forbidden, 403, NOT_OWNER):
        roles[role].remove_executor("dev", "worker-1")
    assert fake.executor("dev", "worker-1").state == ExecutorState.APPROVED


@pytest.mark.parametrize("role", ANY_MEMBERS)
def test_get_executors_by_any_member_lists_every_state(fake, roles, role) -> None:
    """getexecutors needs member(any): even pending and rejected executors may list."""
    listed = roles[role].get_executors("dev")
    assert [(e.executorname, e.state) for e in listed] == [
        ("worker-1", ExecutorState.APPROVED),
        ("rejected-1", ExecutorState.REJECTED),
        ("pending-1", ExecutorState.PENDING),
    ]


@pytest.mark.parametrize("role", NOT_ANY_MEMBERS)
def test_get_executors_refused_for_non_members(fake, roles, role) -> None:
    with server_error(Forbidden, 403, NOT_MEMBER):
        roles[role].get_executors("dev")


def test_get_executors_of_unknown_colony(fake, wc) -> None:
    with server_error(Forbidden, 403, NO_COLONY):
        wc.get_executors("nowhere")


@pytest.mark.parametrize("role", APPROVED_MEMBERS)
def test_get_executor_by_an_approved_member(fake, roles, worker, role) -> None:
    got = roles[role].get_executor("dev", "worker-1")
    assert isinstance(got, Executor)
    assert (got.executorid, got.executorname, got.executortype, got.state) == (
        worker.id,
        "worker-1",
        "test",
        ExecutorState.APPROVED,
    )


@pytest.mark.parametrize("role", NOT_APPROVED_MEMBERS)
def test_get_executor_refused_for_non_members(fake, roles, role) -> None:
    with server_error(Forbidden, 403, NOT_MEMBER):
        roles[role].get_executor("dev", "worker-1")


def test_get_executor_by_id(fake, roles, worker) -> None:
    assert roles["user"].get_executor_by_id("dev", worker.id).executorname == "worker-1"
    with server_error(Forbidden, 403, NOT_MEMBER):
        roles["pending"].get_executor_by_id("dev", worker.id)
    with server_error(NotFound, 404, "Failed to get executor by ID, executor is nil"):
        roles["stranger"].get_executor_by_id("dev", "0" * 64)


# --- users (5.4) ------------------------------------------------------------------------


def test_add_user_by_the_colony_owner(fake, colony, owner) -> None:
    key = Crypto().generate_private_key()
    user = {"colonyname": "dev", "userid": Crypto().id(key), "name": "bob", "email": "b@x", "phone": "1"}
    assert owner.add_user(user) == User(**user)
    assert fake.client(key).get_colony("dev").name == "dev"  # a user is a member(approved)


@pytest.mark.parametrize("role", NOT_COLONY_OWNER)
def test_add_user_needs_the_colony_owner(fake, roles, role) -> None:
    with server_error(Forbidden, 403, NOT_OWNER):
        roles[role].add_user({"colonyname": "dev", "userid": new_id(), "name": "bob"})
    assert [u.name for u in roles["user"].get_users("dev")] == ["alice"]


def test_add_user_to_unknown_colony_is_400_even_for_a_stranger(fake, stranger) -> None:
    """The colony check precedes the owner check and answers 400, not 403 (PROTOCOL.md 5.4)."""
    with server_error(BadRequest, 400, NO_COLONY):
        stranger.add_user({"colonyname": "nowhere", "userid": new_id(), "name": "bob"})


def test_add_nil_user(fake, colony, owner) -> None:
    with server_error(BadRequest, 400, "Failed to add user, executor is nil"):
        owner.rpc("addusermsg", {"user": None})


def test_add_user_with_a_duplicate_name(fake, roles, owner) -> None:
    with server_error(BadRequest, 400, "A user with name <alice> already exists in Colony with name <dev>"):
        owner.add_user({"colonyname": "dev", "userid": new_id(), "name": "alice"})


def test_add_user_with_a_duplicate_id_under_a_new_name_is_accepted(fake, colony, owner) -> None:
    alice = fake.add_user("dev", "alice")
    owner.add_user({"colonyname": "dev", "userid": alice.id, "name": "alice2"})
    assert sorted(u.name for u in owner.get_users("dev", prvkey=alice.prvkey)) == ["alice", "alice2"]


@pytest.mark.parametrize("role", ANY_MEMBERS)
def test_get_users_by_any_member(fake, roles, role) -> None:
    assert [(u.name, u.colonyname) for u in roles[role].get_users("dev")] == [("alice", "dev")]


@pytest.mark.parametrize("role", NOT_ANY_MEMBERS)
def test_get_users_refused_for_non_members(fake, roles, role) -> None:
    with server_error(Forbidden, 403, NOT_MEMBER):
        roles[role].get_users("dev")


@pytest.mark.parametrize("role", ANY_MEMBERS)
def test_get_user_by_any_member(fake, roles, role) -> None:
    got = roles[role].get_user("dev", "alice")
    assert (got.name, got.colonyname, got.userid) == ("alice", "dev", roles["user"].id)


@pytest.mark.parametrize("role", NOT_ANY_MEMBERS)
def test_get_user_refused_for_non_members(fake, roles, role) -> None:
    with server_error(Forbidden, 403, NOT_MEMBER):
        roles[role].get_user("dev", "alice")


def test_get_unknown_user(fake, roles) -> None:
    with server_error(InternalServerError, 500, "Failed to get user, user is nil"):
        roles["executor"].get_user("dev", "ghost")


def test_remove_user_by_the_colony_owner_ends_membership(fake, roles, owner) -> None:
    alice = roles["user"]
    owner.remove_user("dev", "alice")
    assert roles["executor"].get_users("dev") == []
    with server_error(Forbidden, 403, NOT_MEMBER):
        alice.get_colony("dev")


@pytest.mark.parametrize("role", NOT_COLONY_OWNER)
def test_remove_user_needs_the_colony_owner(fake, roles, role) -> None:
    with server_error(Forbidden, 403, NOT_OWNER):
        roles[role].remove_user("dev", "alice")
    assert [u.name for u in roles["user"].get_users("dev")] == ["alice"]


def test_remove_unknown_user(fake, colony, owner) -> None:
    with server_error(BadRequest, 400, "User with name <ghost> not found"):
        owner.remove_user("dev", "ghost")


# --- server messages (5.1) and colony statistics (5.2) -------------------------------------


def test_version_and_server_info_need_no_key(fake) -> None:
    """versionmsg and getserverinfomsg are answered without a signature (PROTOCOL.md 5.1)."""
    anonymous = fake.client()
    assert anonymous.version().buildversion != ""
    info = anonymous.get_server_info()
    assert info.buildversion == "dev"
    # What the fake reports: 50080 on 0.0.0.0 in-process, the real port when served.
    assert info.backends == [fake.server_info_backend]


def test_statistics_need_the_server_owner(fake, roles, wc, server_owner) -> None:
    """getstatisticsmsg counts every colony's processes; anyone else gets 403 `not server owner`."""
    wc.submit_function_spec(spec())
    stats = server_owner.rpc("getstatisticsmsg")
    assert (stats["colonies"], stats["waitingprocesses"], stats["runningprocesses"]) == (2, 1, 0)
    for role in ("colony-owner", "executor", "stranger"):
        with server_error(Forbidden, 403, NOT_SERVER):
            roles[role].rpc("getstatisticsmsg")


def test_colony_statistics_for_a_member(fake, wc) -> None:
    pid = wc.submit_function_spec(spec()).processid
    wc.assign("dev", -1)
    wc.close_process(pid)
    wc.submit_function_spec(spec())
    stats = wc.rpc("getcolonystatsmsg", {"colonyname": "dev"})
    assert (stats["waitingprocesses"], stats["runningprocesses"], stats["successfulprocesses"]) == (1, 0, 1)


@pytest.mark.parametrize("role", ["pending", "colony-owner", "server-owner", "stranger"])
def test_colony_statistics_for_a_non_member_is_an_empty_http_200(fake, roles, role) -> None:
    """The real handler returns without replying: HTTP 200 with an empty body (PROTOCOL.md 1.1)."""
    with pytest.raises(ProtocolError) as info:
        roles[role].rpc("getcolonystatsmsg", {"colonyname": "dev"})
    assert (info.value.status, info.value.text) == (200, "")


def test_colony_statistics_of_unknown_colony(fake, wc) -> None:
    with server_error(BadRequest, 400, "Colony with name <nowhere> not found"):
        wc.rpc("getcolonystatsmsg", {"colonyname": "nowhere"})


def test_add_executor_owner_check_comes_before_the_duplicate_check(fake, worker, stranger) -> None:
    with server_error(Forbidden, 403, NOT_OWNER):
        stranger.add_executor(executor_dict("worker-1"))


def test_add_colony_owner_check_comes_before_the_duplicate_check(fake, colony, owner) -> None:
    with server_error(Forbidden, 403, NOT_SERVER):
        owner.add_colony({"colonyid": new_id(), "name": "dev"})
