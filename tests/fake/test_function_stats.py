"""Function statistics and the SUCCESS event (PROTOCOL.md 7.5).

The real server (pkg/server/controllers/colonies_controller.go ``CloseSuccessful``) looks up,
after marking a process SUCCESS, the function that the *closing* executor registered under the
process's funcname (pkg/database/postgresql/functions.go ``GetFunctionsByExecutorAndName``). With
one, it re-reads the process for the event and folds the run into the function's statistics
(``UpdateFunctionStats``, on every row of that colony, executor name and funcname); without one,
the event is the process read before the close with only its state patched. The times come from
``MarkSuccessful`` (pkg/database/postgresql/processes.go; pkg/core/process.go ``WaitingTime``,
``ProcessingTime``): wait = start - submission, exec = close - start, in seconds. ``CloseFailed``
touches no statistics. Time moves only through the FakeClock; each test runs in-process and
over HTTP (WebSocket for the events).
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from colonies_fake import FakeColonies
from colonies_sync import ColoniesClient, Process, ProcessState
from tests.fake.helpers import spec
from tests.subscriptions.helpers import Recorder

STATS = ("counter", "minwaittime", "maxwaittime", "minexectime", "maxexectime", "avgwaittime", "avgexectime")
ZERO = (0, 0, 0, 0, 0, 0, 0)


def _add(client: ColoniesClient, executorname: str = "worker-1", funcname: str = "echo", **stats: Any) -> str:
    function = {"executorname": executorname, "colonyname": "dev", "funcname": funcname, **stats}
    reply = client.rpc("addfunctionmsg", {"fun": function})
    return str(reply["functionid"])


def _functions(client: ColoniesClient) -> list[dict[str, Any]]:
    return client.rpc("getfunctionsmsg", {"colonyname": "dev", "executorname": ""}) or []


def _stats(client: ColoniesClient, function_id: str) -> tuple[Any, ...]:
    [function] = [f for f in _functions(client) if f["functionid"] == function_id]
    return tuple(function[name] for name in STATS)


def _run(fake: FakeColonies, client: ColoniesClient, wait: float, run: float, funcname: str = "echo") -> str:
    """Submit, let it wait ``wait`` fake seconds, assign, let it run ``run`` seconds, close; its id."""
    pid = client.submit_function_spec(spec(funcname=funcname)).processid
    fake.clock.advance(wait)
    assert client.assign("dev", -1).processid == pid
    fake.clock.advance(run)
    client.close_process(pid, output=["done"])
    return pid


# --- what the SUCCESS event carries -----------------------------------------------------------


def _register_nothing(fake: FakeColonies, wc: ColoniesClient) -> None:
    pass


def _register_the_funcname(fake: FakeColonies, wc: ColoniesClient) -> None:
    _add(wc)


def _register_another_funcname(fake: FakeColonies, wc: ColoniesClient) -> None:
    _add(wc, funcname="other")


def _register_and_remove_it(fake: FakeColonies, wc: ColoniesClient) -> None:
    wc.rpc("removefunctionmsg", {"functionid": _add(wc)})


def _another_executor_registers_it(fake: FakeColonies, wc: ColoniesClient) -> None:
    _add(fake.client(fake.add_executor("dev", "worker-2", "test").prvkey), executorname="worker-2")


@pytest.mark.parametrize(
    ("register", "fresh"),
    [
        (_register_nothing, False),
        (_register_the_funcname, True),
        (_register_another_funcname, False),
        (_register_and_remove_it, False),
        (_another_executor_registers_it, False),
    ],
)
def test_the_success_event_is_re_read_only_when_the_closing_executor_registered_the_funcname(
    fake: FakeColonies, worker: Any, wc: ColoniesClient, register: Callable[..., None], fresh: bool
) -> None:
    register(fake, wc)
    pid = wc.submit_function_spec(spec(env={"k": "v"})).processid
    assert wc.assign("dev", -1).processid == pid
    wc.set_output(pid, ["early"])
    fake.clock.advance(2)
    rec = Recorder()
    with wc.subscribe_process("dev", pid, ProcessState.SUCCESS, 100, rec.on_item, **rec.callbacks()):
        fake.wait_until(lambda: fake.subscriptions(pid) == 1)
        wc.close_process(pid, output=["final"])
        [event] = rec.wait_items(1)
    rec.wait_ended()
    assert rec.errors == []
    stored = wc.get_process(pid)
    assert isinstance(event, Process)
    assert (event.processid, event.state, stored.out) == (pid, ProcessState.SUCCESS, ["final"])
    assert stored.endtime is not None
    assert [a.state for a in stored.attributes] == [ProcessState.SUCCESS]
    if fresh:
        assert event == stored
    else:  # read before the close: the old output, no endtime, the attributes still RUNNING
        assert (event.out, event.endtime) == (["early"], None)
        assert [a.state for a in event.attributes] == [ProcessState.RUNNING]
        assert event != stored
    counters = sorted((f["executorname"], f["funcname"], f["counter"]) for f in _functions(wc))
    if fresh:
        assert counters == [("worker-1", "echo", 1)]
    else:
        assert all(counter == 0 for _, _, counter in counters), counters


# --- the statistics ---------------------------------------------------------------------------


def test_statistics_after_several_closes_min_max_and_a_halving_average(fake, worker, wc) -> None:
    function_id = _add(wc)
    [before] = _functions(wc)
    _run(fake, wc, wait=2, run=3)
    assert _stats(wc, function_id) == (1, 2, 2, 3, 3, 2, 3)
    _run(fake, wc, wait=4, run=1)
    assert _stats(wc, function_id) == (2, 2, 4, 1, 3, 3, 2)
    _run(fake, wc, wait=0.5, run=0.25)
    # The averages halve towards each new time: (3 + 0.5) / 2, (2 + 0.25) / 2, not the means 2.1666... and 1.4166...
    assert _stats(wc, function_id) == (3, 0.5, 4, 0.25, 3, 1.75, 1.125)
    [after] = _functions(wc)
    assert {k: v for k, v in after.items() if k not in STATS} == {k: v for k, v in before.items() if k not in STATS}


def test_a_statistic_at_zero_is_replaced_by_the_next_time_not_kept_as_the_minimum(fake, worker, wc) -> None:
    function_id = _add(wc)
    _run(fake, wc, wait=0, run=0)  # assigned and closed at the instant of submission
    assert _stats(wc, function_id) == (1, 0, 0, 0, 0, 0, 0)
    _run(fake, wc, wait=2, run=1)
    assert _stats(wc, function_id) == (2, 2, 2, 1, 1, 2, 1)  # min 2 and average 2, though one run waited 0


def test_statistics_sent_with_the_registration_are_the_starting_point(fake, worker, wc) -> None:
    function_id = _add(wc, counter=10, minwaittime=0.5, maxexectime=9, avgexectime=4)
    _run(fake, wc, wait=1, run=2)
    assert _stats(wc, function_id) == (11, 0.5, 1, 2, 9, 1, 3)


def test_wait_is_between_the_stored_times_and_exec_ends_at_the_unrounded_close(fake, worker, wc) -> None:
    """Stored times have microseconds; MarkSuccessful subtracts the stored start from its own clock reading."""
    function_id = _add(wc)
    assert fake.clock.time_ns() % 1_000_000_000 == 0
    _run(fake, wc, wait=1.0000004, run=2.0000003)  # start stored as +1.000000, closed at +3.0000007
    counter, minwait, maxwait, minexec, maxexec, avgwait, avgexec = _stats(wc, function_id)
    assert (counter, minwait, maxwait, avgwait) == (1, 1, 1, 1)
    for value in (minexec, maxexec, avgexec):
        assert value == pytest.approx(2.0000007, abs=1e-12)  # not 2.000001 (the stored end time)


def test_a_repeated_close_counts_again_from_the_same_start(fake, worker, wc) -> None:
    function_id = _add(wc)
    pid = _run(fake, wc, wait=1, run=2)
    fake.clock.advance(3)
    wc.close_process(pid)  # accepted on a SUCCESS process (PROTOCOL.md 5.5)
    assert _stats(wc, function_id) == (2, 1, 1, 2, 5, 1, 3.5)


def test_a_funcname_registered_twice_gets_the_first_rows_result_on_both(fake, worker, wc) -> None:
    first = _add(wc)
    second = _add(wc, counter=5, minwaittime=7, avgexectime=10)
    _run(fake, wc, wait=1, run=2)
    assert _stats(wc, first) == _stats(wc, second) == (1, 1, 1, 2, 2, 1, 2)


def test_failures_count_nothing(fake, worker, wc) -> None:
    """CloseFailed and the exec deadline leave the statistics alone."""
    function_id = _add(wc)
    failed = wc.submit_function_spec(spec()).processid
    fake.clock.advance(1)
    assert wc.assign("dev", -1).processid == failed
    fake.clock.advance(1)
    wc.fail_process(failed, "boom")
    timed_out = wc.submit_function_spec(spec(maxexectime=1, maxretries=0)).processid
    assert wc.assign("dev", -1).processid == timed_out
    fake.clock.advance(3)
    assert [wc.get_process(pid).state for pid in (failed, timed_out)] == [ProcessState.FAILED] * 2
    assert _stats(wc, function_id) == ZERO
    _run(fake, wc, wait=1, run=1)  # and a success still counts as the first
    assert _stats(wc, function_id) == (1, 1, 1, 1, 1, 1, 1)
