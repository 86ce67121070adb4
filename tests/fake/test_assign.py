"""How assign picks a process (PROTOCOL.md 7.2) and the assign request's own checks (5.5)."""

from __future__ import annotations

import pytest

from colonies_sync import (
    BadRequest,
    ColoniesClient,
    Forbidden,
    InternalServerError,
    NoProcessAvailable,
    ProcessState,
)
from tests.fake.helpers import DAY_NS, server_error, spec

NO_PROCESS = "No process available for assignment"


def drain(client: ColoniesClient, colony: str = "dev") -> list[str]:
    """Assign (single attempts) until nothing is left; the process ids in the order received."""
    order = []
    while True:
        try:
            order.append(client.assign(colony, -1).processid)
        except NoProcessAvailable:
            return order


def assert_nothing_for(client: ColoniesClient, colony: str = "dev", **limits: str) -> None:
    with server_error(NoProcessAvailable, 404, NO_PROCESS):
        client.assign(colony, -1, **limits)


# --- priority ---------------------------------------------------------------------------


def test_prioritytime_is_submission_ns_minus_priority_days(fake, wc) -> None:
    """prioritytime = submission time in ns - priority * 86400e9 (PROTOCOL.md 6.1)."""
    fake.clock.advance(0.25)
    now = fake.clock.time_ns()
    for priority in (0, 3, -2, 50000, -50000):
        p = wc.submit_function_spec(spec(priority=priority))
        assert p.prioritytime == now - priority * DAY_NS
        assert p.spec.priority == priority


def test_higher_priority_first_then_fifo_within_a_priority(fake, wc) -> None:
    """Priorities 0, 5, -3, 5, 0 are served 5, 5, 0, 0, -3, equal priorities in submission order."""
    pids = {}
    for i, priority in enumerate([0, 5, -3, 5, 0]):
        pids[i] = wc.submit_function_spec(spec(priority=priority)).processid
        fake.clock.advance(1)
    assert drain(wc) == [pids[1], pids[3], pids[0], pids[4], pids[2]]


def test_fifo_among_equal_priorities_submitted_at_the_same_instant(fake, wc) -> None:
    """Same prioritytime (clock not moved): first come, first served."""
    pids = [wc.submit_function_spec(spec()).processid for _ in range(5)]
    assert len({fake.process(pid).prioritytime for pid in pids}) == 1
    assert drain(wc) == pids


def test_one_priority_step_is_worth_one_day_of_waiting(fake, wc) -> None:
    """Lowest prioritytime wins: priority 0 submitted 2 days ago beats a fresh priority 1; 12 hours ago does not."""
    old = wc.submit_function_spec(spec()).processid
    fake.clock.advance(2 * 86_400)
    fresh_high = wc.submit_function_spec(spec(priority=1)).processid
    assert drain(wc) == [old, fresh_high]

    older = wc.submit_function_spec(spec()).processid
    fake.clock.advance(12 * 3_600)
    newer_high = wc.submit_function_spec(spec(priority=1)).processid
    assert drain(wc) == [newer_high, older]


def test_priority_outside_range_is_refused(wc) -> None:
    """|priority| > 50000 -> 400 (observed text says `function spec`)."""
    for priority in (50001, -50001):
        with server_error(BadRequest, 400, "Failed to submit function spec, priority outside range [-50000, 50000]"):
            wc.submit_function_spec(spec(priority=priority))


# --- matching ---------------------------------------------------------------------------


def test_executortype_must_match_exactly(fake, colony) -> None:
    """A process for type `gpu` goes only to a `gpu` executor (case-sensitive)."""
    cpu = fake.client(fake.add_executor("dev", "cpu-1", "cpu").prvkey)
    upper = fake.client(fake.add_executor("dev", "gpu-upper", "GPU").prvkey)
    gpu_keys = fake.add_executor("dev", "gpu-1", "gpu")
    gpu = fake.client(gpu_keys.prvkey)
    pid = cpu.submit_function_spec(spec(executortype="gpu")).processid
    assert_nothing_for(cpu)
    assert_nothing_for(upper)
    p = gpu.assign("dev", -1)
    assert (p.processid, p.assignedexecutorid) == (pid, gpu_keys.id)


def test_colony_must_match(fake, wc) -> None:
    """An executor of another colony never gets this colony's processes."""
    fake.add_colony("prod")
    prod = fake.client(fake.add_executor("prod", "worker-1", "test").prvkey)
    pid = wc.submit_function_spec(spec()).processid
    assert_nothing_for(prod, "prod")
    assert wc.assign("dev", -1).processid == pid


def test_executornames_restricts_to_the_named_executors(fake, wc) -> None:
    """conditions.executornames ["worker-2"]: worker-1 gets nothing, worker-2 gets it."""
    w2 = fake.client(fake.add_executor("dev", "worker-2", "test").prvkey)
    pid = wc.submit_function_spec(spec(executornames=["worker-2"])).processid
    assert fake.process(pid).spec.conditions.executornames == ["worker-2"]
    assert_nothing_for(wc)
    assert w2.assign("dev", -1).processid == pid


def test_executornames_list_with_several_names(fake, wc) -> None:
    """Any executor whose name is in the list may take it."""
    fake.add_executor("dev", "worker-2", "test")
    w3 = fake.client(fake.add_executor("dev", "worker-3", "test").prvkey)
    pid = wc.submit_function_spec(spec(executornames=["worker-2", "worker-3"])).processid
    assert_nothing_for(wc)
    assert w3.assign("dev", -1).processid == pid


@pytest.mark.parametrize(
    ("names", "stored"),
    [(None, None), ([], []), (["*"], [])],
    ids=["null", "empty", "star"],
)
def test_executornames_null_empty_or_star_lets_any_executor_take_it(fake, wc, worker, names, stored) -> None:
    """null, [] and ["*"] impose no name filter; ["*"] comes back as [] (PROTOCOL.md 6.3)."""
    p = wc.submit_function_spec(spec(executornames=names))
    assert p.spec.conditions.executornames == stored
    got = wc.assign("dev", -1)
    assert (got.processid, got.assignedexecutorid) == (p.processid, worker.id)


def test_locationname_matches_case_insensitively(fake, wc) -> None:
    """conditions.locationname `Lab-A` goes to an executor at `lab-a`, not to `lab-b` or one without location."""
    at_b = fake.client(fake.add_executor("dev", "at-b", "test", locationname="lab-b").prvkey)
    at_a_keys = fake.add_executor("dev", "at-a", "test", locationname="lab-a")
    at_a = fake.client(at_a_keys.prvkey)
    pid = wc.submit_function_spec(spec(conditions={"locationname": "Lab-A"})).processid
    assert fake.process(pid).spec.conditions.locationname == "Lab-A"
    assert_nothing_for(wc)  # worker-1 has no location
    assert_nothing_for(at_b)
    p = at_a.assign("dev", -1)
    assert (p.processid, p.assignedexecutorid) == (pid, at_a_keys.id)


def test_process_without_location_goes_to_executors_anywhere(fake, wc) -> None:
    """An empty conditions.locationname does not filter."""
    somewhere = fake.client(fake.add_executor("dev", "far", "test", locationname="mars").prvkey)
    pid = wc.submit_function_spec(spec()).processid
    assert somewhere.assign("dev", -1).processid == pid


def test_cpu_request_must_fit_available_cpu(fake, wc) -> None:
    """cpu "500m" needs availablecpu >= 500 millicores."""
    pid = wc.submit_function_spec(spec(conditions={"cpu": "500m"})).processid
    assert fake.process(pid).spec.conditions.cpu == "500m"
    assert_nothing_for(wc, available_cpu="499m")
    assert wc.assign("dev", -1, available_cpu="500m").processid == pid


def test_available_cpu_without_m_counts_as_zero(fake, wc) -> None:
    """availablecpu "4000" (no m) offers 0 millicores: a 1m request does not fit, a 0 request does."""
    needy = wc.submit_function_spec(spec(conditions={"cpu": "1m"})).processid
    assert_nothing_for(wc, available_cpu="4000")
    light = wc.submit_function_spec(spec()).processid
    assert wc.assign("dev", -1, available_cpu="4000").processid == light
    assert wc.assign("dev", -1, available_cpu="4000m").processid == needy


def test_cpu_without_m_in_a_spec_is_stored_as_zero(fake, wc) -> None:
    """conditions.cpu "2" comes back "0m" and then fits any availablecpu."""
    p = wc.submit_function_spec(spec(conditions={"cpu": "2"}))
    assert p.spec.conditions.cpu == "0m"
    assert wc.assign("dev", -1, available_cpu="0m").processid == p.processid


def test_memory_request_must_fit_available_memory(fake, wc) -> None:
    """mem "1Gi" (stored "1024Mi") needs availablemem >= 1 GiB."""
    pid = wc.submit_function_spec(spec(conditions={"mem": "1Gi"})).processid
    assert fake.process(pid).spec.conditions.mem == "1024Mi"
    assert_nothing_for(wc, available_mem="1023Mi")
    assert_nothing_for(wc, available_mem="1G")  # 10^9 bytes < 2^30
    assert wc.assign("dev", -1, available_mem="1024Mi").processid == pid


def test_unlimited_when_no_resources_are_offered(fake, wc) -> None:
    """Without availablecpu/availablemem the executor takes any size."""
    pid = wc.submit_function_spec(spec(conditions={"cpu": "64000m", "mem": "512Gi"})).processid
    assert wc.assign("dev", -1).processid == pid


def test_assign_skips_a_process_that_does_not_fit_and_takes_the_next(fake, wc) -> None:
    """Filters apply per candidate: a big high-priority process is skipped for a small later one."""
    big = wc.submit_function_spec(spec(priority=10, conditions={"cpu": "8000m"})).processid
    small = wc.submit_function_spec(spec(conditions={"cpu": "100m"})).processid
    assert wc.assign("dev", -1, available_cpu="1000m").processid == small
    assert fake.process(big).state == ProcessState.WAITING


def test_bad_available_cpu_is_refused(wc) -> None:
    """availablecpu "lotsm" -> 400 `Error converting CPU to int`."""
    wc.submit_function_spec(spec())
    with server_error(BadRequest, 400, "Error converting CPU to int"):
        wc.assign("dev", -1, available_cpu="lotsm")


def test_more_than_127_nodes_is_never_assignable(fake, wc) -> None:
    """nodes, processes, processespernode must be <= 127 to be assignable (PROTOCOL.md 7.2)."""
    wc.submit_function_spec(spec(conditions={"nodes": 128}))
    assert_nothing_for(wc)
    ok = wc.submit_function_spec(spec(conditions={"nodes": 127})).processid
    assert wc.assign("dev", -1).processid == ok


# --- the request's own checks ------------------------------------------------------------


def test_timeout_zero_is_refused_by_the_client_before_sending(fake, wc) -> None:
    """ColoniesClient.assign(timeout=0) raises ValueError and sends nothing (no process is taken)."""
    pid = wc.submit_function_spec(spec()).processid
    with pytest.raises(ValueError):
        wc.assign("dev", 0)
    assert fake.process(pid).state == ProcessState.WAITING


def test_timeout_zero_sent_raw_is_refused_by_the_server(fake, wc) -> None:
    """A raw assignprocessmsg with timeout 0 -> 400 `Invalid timeout value, timeout cannot be zero`."""
    pid = wc.submit_function_spec(spec()).processid
    with server_error(BadRequest, 400, "Invalid timeout value, timeout cannot be zero"):
        wc.rpc("assignprocessmsg", {"colonyname": "dev", "timeout": 0})
    assert fake.process(pid).state == ProcessState.WAITING


def test_membership_is_checked_before_the_zero_timeout(fake, colony, stranger) -> None:
    """A non-member sending timeout 0 gets the 403, not the 400 (PROTOCOL.md 5.5)."""
    with server_error(Forbidden, 403, "Access denied, not a member of Colony with name <dev>"):
        stranger.rpc("assignprocessmsg", {"colonyname": "dev", "timeout": 0})


def test_negative_timeout_with_nothing_waiting_answers_404_at_once(fake, wc) -> None:
    """timeout -1: a single attempt, 404 `No process available for assignment` without waiting."""
    with server_error(NoProcessAvailable, 404, NO_PROCESS):
        wc.assign("dev", -1)
    assert fake.waiting_assigns() == 0


def test_negative_timeout_takes_a_waiting_process(fake, wc, worker) -> None:
    pid = wc.submit_function_spec(spec()).processid
    p = wc.assign("dev", -1)
    assert (p.processid, p.state, p.assignedexecutorid) == (pid, ProcessState.RUNNING, worker.id)


def test_a_user_calling_assign_gets_500(fake, wc) -> None:
    """A user is a member but not an executor: 500 `Failed to assign process, executor not found`."""
    pid = wc.submit_function_spec(spec()).processid
    alice = fake.client(fake.add_user("dev", "alice").prvkey)
    with server_error(InternalServerError, 500, "Failed to assign process, executor not found"):
        alice.assign("dev", -1)
    assert fake.process(pid).state == ProcessState.WAITING


@pytest.mark.parametrize("state", ["pending", "rejected"])
def test_unapproved_executors_get_403(fake, wc, owner, state) -> None:
    """A pending or rejected executor is not a member(approved): 403 `Access denied, not a member ...`."""
    keys = fake.add_executor("dev", "newbie", "test", approved=False)
    if state == "rejected":
        owner.reject_executor("dev", "newbie")
    pid = wc.submit_function_spec(spec()).processid
    with server_error(Forbidden, 403, "Access denied, not a member of Colony with name <dev>"):
        fake.client(keys.prvkey).assign("dev", -1)
    assert fake.process(pid).state == ProcessState.WAITING


def test_assign_in_an_unknown_colony(wc) -> None:
    with server_error(Forbidden, 403, "Colony with name <nowhere> does not exists"):
        wc.assign("nowhere", -1)


def test_assign_refreshes_lastheardfromtime(fake, wc) -> None:
    """Every assign call refreshes the executor's lastheardfromtime (PROTOCOL.md 5.3)."""
    fake.clock.advance(30)
    with pytest.raises(NoProcessAvailable):
        wc.assign("dev", -1)
    assert fake.executor("dev", "worker-1").lastheardfromtime.timestamp() == fake.clock.time()


def test_assign_check_order_for_a_user(fake, colony) -> None:
    """Order of 5.5: membership, zero timeout (400), executor lookup (500), then the CPU text."""
    alice = fake.client(fake.add_user("dev", "alice").prvkey)
    with server_error(BadRequest, 400, "Invalid timeout value, timeout cannot be zero"):
        alice.rpc("assignprocessmsg", {"colonyname": "dev", "timeout": 0})
    with server_error(InternalServerError, 500, "Failed to assign process, executor not found"):
        alice.assign("dev", -1, available_cpu="lotsm")
