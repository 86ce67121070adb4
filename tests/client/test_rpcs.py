"""Every RPC of the client works end to end against the in-process fake (the success paths)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from colonies_sync import (
    Attribute,
    AttributeType,
    Colony,
    ColoniesClient,
    Crypto,
    Executor,
    ExecutorState,
    FunctionSpec,
    NoProcessAvailable,
    ProcessState,
    User,
)

from .conftest import World


def spec(**kwargs: object) -> FunctionSpec:
    return FunctionSpec.create("echo", "dev", "cli", **kwargs)  # type: ignore[arg-type]


def test_version_and_server_info_need_no_key(world: World) -> None:
    anonymous = world.fake.client()
    assert anonymous.version().buildversion
    info = anonymous.get_server_info()
    assert info.buildversion == "dev"
    # What the fake reports: 50080 on 0.0.0.0 in-process, the real port when served.
    assert info.backends == [world.fake.server_info_backend]


def test_colony_lifecycle_by_the_server_owner(world: World) -> None:
    key = Crypto().generate_private_key()
    added = world.server.add_colony(Colony(colonyid=Crypto().id(key), name="prod"))
    assert added == Colony(colonyid=Crypto().id(key), name="prod")
    assert [c.name for c in world.server.get_colonies()] == ["dev", "prod"]
    assert world.executor.get_colony("dev") == Colony(colonyid=world.colony.id, name="dev")
    world.server.remove_colony("prod")
    assert [c.name for c in world.server.get_colonies()] == ["dev"]


def test_executor_registration_approval_and_removal(world: World) -> None:
    key = Crypto().generate_private_key()
    executor = Executor(executorid=Crypto().id(key), executortype="gpu", executorname="gpu-1", colonyname="dev")
    added = world.owner.add_executor(executor)
    assert added.state is ExecutorState.PENDING
    assert added.commissiontime is not None and added.lastheardfromtime is None
    world.owner.approve_executor("dev", "gpu-1")
    assert world.executor.get_executor("dev", "gpu-1").state is ExecutorState.APPROVED
    assert world.executor.get_executor_by_id("dev", Crypto().id(key)).executorname == "gpu-1"
    world.owner.reject_executor("dev", "gpu-1")
    assert world.executor.get_executor("dev", "gpu-1").state is ExecutorState.REJECTED
    world.owner.remove_executor("dev", "gpu-1")
    names = {e.executorname: e.state for e in world.executor.get_executors("dev")}
    assert names == {
        "worker-1": ExecutorState.APPROVED,
        "worker-2": ExecutorState.APPROVED,
        "gpu-1": ExecutorState.UNREGISTERED,
    }


def test_user_lifecycle(world: World) -> None:
    key = Crypto().generate_private_key()
    added = world.owner.add_user(User(colonyname="dev", userid=Crypto().id(key), name="bob", email="b@x"))
    assert added.email == "b@x"
    assert {u.name for u in world.submitter.get_users("dev")} == {"alice", "bob"}
    assert world.submitter.get_user("dev", "bob").userid == Crypto().id(key)
    world.owner.remove_user("dev", "bob")
    assert [u.name for u in world.submitter.get_users("dev")] == ["alice"]


def test_submit_assign_close_round_trip(world: World) -> None:
    submitted = world.submitter.submit_function_spec(spec(args=["hello"], kwargs={"n": 1}))
    assert submitted.state is ProcessState.WAITING
    assert submitted.initiatorname == "alice" and submitted.initiatorid == world.user.id
    assert submitted.spec.maxexectime == -1 and submitted.spec.maxwaittime == -1
    assigned = world.executor.assign("dev", timeout=5)
    assert assigned.processid == submitted.processid
    assert assigned.state is ProcessState.RUNNING and assigned.assignedexecutorid == world.worker.id
    world.executor.close_process(assigned.processid, output=["hello", 1])
    final = world.submitter.get_process(submitted.processid)
    assert final.state is ProcessState.SUCCESS
    assert final.out == ["hello", 1]
    assert final.endtime is not None and final.endtime >= final.starttime  # type: ignore[operator]


def test_submit_a_plain_dict_gets_minus_one_defaults(world: World) -> None:
    process = world.submitter.submit_function_spec(
        {"funcname": "echo", "conditions": {"colonyname": "dev", "executortype": "cli"}}
    )
    assert (process.spec.maxwaittime, process.spec.maxexectime, process.spec.maxretries) == (-1, -1, -1)


def test_fail_process_records_errors(world: World) -> None:
    pid = world.submitter.submit_function_spec(spec()).processid
    world.executor.assign("dev", timeout=-1)
    world.executor.fail_process(pid, "boom")
    failed = world.submitter.get_process(pid)
    assert failed.state is ProcessState.FAILED and failed.errors == ["boom"]


def test_set_output_then_close_without_output_keeps_it(world: World) -> None:
    pid = world.submitter.submit_function_spec(spec()).processid
    world.executor.assign("dev", timeout=-1)
    world.executor.set_output(pid, [{"answer": 42}])
    world.executor.close_process(pid)
    assert world.submitter.get_process(pid).out == [{"answer": 42}]


def test_get_processes_by_state_and_filters(world: World) -> None:
    first = world.submitter.submit_function_spec(spec(label="a")).processid
    second = world.submitter.submit_function_spec(spec(label="b", priority=1)).processid
    assert [p.processid for p in world.executor.get_processes("dev", ProcessState.WAITING)] == [second, first]
    assert [p.processid for p in world.executor.get_processes("dev", ProcessState.WAITING, label="a")] == [first]
    assert [p.processid for p in world.executor.get_processes("dev", ProcessState.WAITING, initiator="alice")] == [
        second,
        first,
    ]
    assert world.executor.get_processes("dev", ProcessState.RUNNING) == []  # null on the wire


def test_cancel_and_remove(world: World) -> None:
    pid = world.submitter.submit_function_spec(spec()).processid
    world.submitter.cancel_process(pid)
    assert world.submitter.get_process(pid).state is ProcessState.CANCELLED
    world.submitter.remove_process(pid)
    assert world.fake.processes("dev") == []


def test_remove_all_processes_defaults_to_every_state(world: World) -> None:
    world.submitter.submit_function_spec(spec())
    world.submitter.submit_function_spec(spec())
    world.executor.assign("dev", timeout=-1)
    world.owner.remove_all_processes("dev")
    assert world.fake.processes("dev") == []


def test_pause_and_resume_assignments(world: World) -> None:
    world.owner.pause_assignments("dev")
    assert world.submitter.get_pause_status("dev") is True
    world.owner.resume_assignments("dev")
    assert world.submitter.get_pause_status("dev") is False


def test_logs_are_returned_oldest_first(world: World) -> None:
    pid = world.submitter.submit_function_spec(spec()).processid
    world.executor.assign("dev", timeout=-1)
    for i in range(3):
        world.fake.clock.advance(1)
        world.executor.add_log(pid, f"line {i}")
    logs = world.submitter.get_logs("dev", pid)
    assert [log.message for log in logs] == ["line 0", "line 1", "line 2"]
    assert all(log.executorname == "worker-1" for log in logs)
    assert [log.message for log in world.submitter.get_logs("dev", pid, count=2, latest=True)] == ["line 1", "line 2"]
    since = world.submitter.get_logs("dev", pid, since=logs[0].timestamp)
    assert [log.message for log in since] == ["line 1", "line 2"]
    assert logs[0].time == dt.datetime.fromtimestamp(logs[0].timestamp / 1e9, tz=dt.timezone.utc)


def test_attributes_are_added_and_listed(world: World) -> None:
    pid = world.submitter.submit_function_spec(spec(env={"MODE": "fast"})).processid
    world.executor.assign("dev", timeout=-1)
    attribute = world.executor.add_attribute(pid, "result", "42")
    assert attribute.attributeid == Crypto().hash(f"{pid}result1")
    assert attribute.attributetype == AttributeType.OUT
    assert world.submitter.get_attribute(attribute.attributeid) == attribute
    listed = {(a.key, a.attributetype) for a in world.submitter.get_process(pid).attributes}
    assert listed == {("MODE", AttributeType.ENV), ("result", AttributeType.OUT)}
    assert world.submitter.get_process(pid).spec.env == {"MODE": "fast"}
    assert isinstance(attribute, Attribute)


def test_assign_long_poll_gets_a_process_submitted_later(world: World) -> None:
    got: list[object] = []
    thread = threading.Thread(target=lambda: got.append(world.executor.assign("dev", timeout=30)))
    thread.start()
    world.fake.wait_for_assigns(1)
    pid = world.submitter.submit_function_spec(spec()).processid
    thread.join(5)
    assert not thread.is_alive()
    assert [p.processid for p in got] == [pid]  # type: ignore[attr-defined]


def test_assign_with_nothing_to_do_raises(world: World) -> None:
    with pytest.raises(NoProcessAvailable):
        world.executor.assign("dev", timeout=-1)


def test_a_call_may_use_another_key(world: World) -> None:
    pid = world.executor.submit_function_spec(spec(), prvkey=world.user.prvkey).processid
    assert world.fake.process(pid).initiatorname == "alice"


def test_from_env_reads_the_colonies_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Crypto().generate_private_key()
    monkeypatch.setenv("COLONIES_SERVER_HOST", "127.0.0.1")
    monkeypatch.setenv("COLONIES_SERVER_PORT", "50123")
    monkeypatch.setenv("COLONIES_TLS", "true")
    monkeypatch.setenv("COLONIES_PRVKEY", key)
    with ColoniesClient.from_env() as client:
        assert (client.host, client.port, client.tls) == ("127.0.0.1", 50123, True)
        assert client.id == Crypto().id(key)
        assert client.transport.base_url == "https://127.0.0.1:50123"  # type: ignore[attr-defined]
    monkeypatch.setenv("COLONIES_SERVER_PORT", "http")
    with pytest.raises(ValueError, match="COLONIES_SERVER_PORT"):
        ColoniesClient.from_env()


def test_client_checks_its_inputs_before_sending(world: World) -> None:
    with pytest.raises(ValueError, match="timeout"):
        world.executor.assign("dev", timeout=0)
    with pytest.raises(TypeError, match="output must be a list"):
        world.executor.close_process("x", output="done")  # type: ignore[arg-type]
    keyless = world.fake.client()
    with pytest.raises(ValueError, match="must be signed"):
        keyless.get_colony("dev")
    closed = world.fake.client(world.user.prvkey)
    closed.close()
    with pytest.raises(ValueError, match="closed"):
        closed.get_colony("dev")
