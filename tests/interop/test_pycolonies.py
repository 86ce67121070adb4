"""pycolonies, the official Python SDK (pinned: 1.0.25 from PyPI), against the served fake.

A client nobody here wrote: each call must give the result its own docs
promise. pycolonies sends channel payloads as arrays of byte values and reads
replies with plain requests (a new connection per call) and websocket-client.
"""

from __future__ import annotations

import threading
from typing import Iterator

import attrs
import pytest
from crypto import Crypto as PyCrypto  # pycolonies' own crypto module (a top-level module)
from pycolonies import Colonies, ColoniesConnectionError, func_spec

from colonies_fake import ColonyKeys, ExecutorKeys, FakeClock, FakeColonies, FakeColoniesServer, UserKeys
from colonies_sync import ColoniesClient, Crypto, ProcessState


@attrs.define
class Served:
    fake: FakeColonies
    server: FakeColoniesServer
    py: Colonies
    colony: ColonyKeys
    executor: ExecutorKeys
    user: UserKeys

    def ours(self, prvkey: str) -> ColoniesClient:
        return ColoniesClient(self.server.host, self.server.port, prvkey=prvkey)


@pytest.fixture
def served() -> Iterator[Served]:
    fake = FakeColonies(clock=FakeClock())
    colony = fake.add_colony("dev")
    executor = fake.add_executor("dev", "worker", "cli")
    user = fake.add_user("dev", "alice")
    with FakeColoniesServer(fake) as server:
        yield Served(fake, server, Colonies(server.host, server.port), colony, executor, user)
    fake.close()
    assert not server.errors, server.errors


def test_pycolonies_crypto_agrees_with_ours() -> None:
    key = PyCrypto().prvkey()
    assert PyCrypto().id(key) == Crypto().id(key)
    payload = "eyJtc2d0eXBlIjoiZ2V0cHJvY2Vzc21zZyJ9"
    assert Crypto().recover_id(payload, PyCrypto().sign(payload, key)) == Crypto().id(key)


def test_colonies_and_executors(served: Served) -> None:
    py, crypto = served.py, PyCrypto()
    colony_key = crypto.prvkey()
    added = py.add_colony({"colonyid": crypto.id(colony_key), "name": "prod"}, served.fake.server_prvkey)
    assert added == {"colonyid": crypto.id(colony_key), "name": "prod"}
    assert {c["name"] for c in py.list_colonies(served.fake.server_prvkey)} == {"dev", "prod"}
    executor_key = crypto.prvkey()
    executor = {
        "executorname": "py-worker",
        "executorid": crypto.id(executor_key),
        "colonyname": "prod",
        "executortype": "py",
    }
    assert py.add_executor(executor, colony_key)["state"] == 0
    py.approve_executor("prod", "py-worker", colony_key)
    assert py.get_colony("prod", executor_key)["colonyid"] == crypto.id(colony_key)
    assert [e["state"] for e in py.list_executors("prod", executor_key)] == [1]
    assert py.get_executor("prod", "py-worker", executor_key)["executortype"] == "py"
    py.del_colony("prod", served.fake.server_prvkey)
    assert [c["name"] for c in py.list_colonies(served.fake.server_prvkey)] == ["dev"]


def test_submit_assign_close_and_get(served: Served) -> None:
    py = served.py
    spec = func_spec("echo", ["hello", 42], "dev", "cli", maxexectime=30)
    process = py.submit_func_spec(spec, served.user.prvkey)
    assert process.state == Colonies.WAITING and process.initiatorname == "alice"
    assigned = py.assign("dev", 5, served.executor.prvkey)
    assert (assigned.processid, assigned.state) == (process.processid, Colonies.RUNNING)
    py.close(process.processid, ["done"], served.executor.prvkey)
    final = py.get_process(process.processid, served.user.prvkey)
    assert final.state == Colonies.SUCCESSFUL and final.output == ["done"]
    assert [p["processid"] for p in py.list_processes("dev", 10, Colonies.SUCCESSFUL, served.user.prvkey)] == [
        process.processid
    ]


def test_fail_and_the_errors_pycolonies_reports(served: Served) -> None:
    py = served.py
    process = py.submit_func_spec(func_spec("echo", [], "dev", "cli"), served.user.prvkey)
    py.assign("dev", -1, served.executor.prvkey)
    py.fail(process.processid, ["it broke"], served.executor.prvkey)
    assert py.get_process(process.processid, served.user.prvkey).state == Colonies.FAILED
    assert served.fake.process(process.processid).errors == ["it broke"]
    # pycolonies turns every server error into ColoniesConnectionError(message), as its docs say.
    with pytest.raises(ColoniesConnectionError, match="No process available for assignment"):
        py.assign("dev", -1, served.executor.prvkey)
    with pytest.raises(ColoniesConnectionError, match="Access denied, not a member of Colony with name <dev>"):
        py.get_colony("dev", PyCrypto().prvkey())


def test_channel_append_with_byte_arrays_and_read(served: Served) -> None:
    py = served.py
    process = py.submit_func_spec(func_spec("chat", [], "dev", "cli"), served.user.prvkey)
    spec = py.get_process(process.processid, served.user.prvkey).spec
    assert spec.channels == []  # pycolonies' func_spec has no channels argument: submit them with ours
    ours = served.ours(served.user.prvkey)
    from colonies_sync import FunctionSpec

    pid = ours.submit_function_spec(FunctionSpec.create("chat", "dev", "cli", channels=["chat"])).processid
    py.channel_append(pid, "chat", 1, "hello", served.user.prvkey)
    py.channel_append(pid, "chat", 2, bytes(range(256)), served.user.prvkey)
    py.channel_append(pid, "chat", 3, b"", served.user.prvkey, payload_type="end")
    entries = py.channel_read(pid, "chat", 0, 0, served.user.prvkey)
    assert [e["sequence"] for e in entries] == [1, 2, 3]
    assert entries[0]["payload"] == b"hello" and entries[1]["payload"] == bytes(range(256))
    assert entries[2]["payload"] == "" and entries[2]["type"] == "end"  # pycolonies leaves empty payloads as ""
    # Our client reads what pycolonies wrote, byte for byte.
    assert [e.payload for e in ours.channel_read(pid, "chat", limit=0)] == [b"hello", bytes(range(256)), b""]
    ours.close()


def test_subscribe_channel_streams_the_replay_then_live_entries(served: Served) -> None:
    py = served.py
    ours = served.ours(served.user.prvkey)
    executor = served.ours(served.executor.prvkey)
    from colonies_sync import FunctionSpec

    pid = ours.submit_function_spec(FunctionSpec.create("chat", "dev", "cli", channels=["chat"])).processid
    executor.assign("dev", timeout=-1)
    ours.channel(pid, "chat").append("question")
    received: list[tuple[bytes, str]] = []
    subscribed = threading.Event()

    def on_entries(entries: list[dict[str, object]]) -> bool:
        received.extend((e["payload"], e.get("type", "")) for e in entries)  # type: ignore[misc]
        subscribed.set()
        return all(e.get("type") != "end" for e in entries)

    thread = threading.Thread(
        target=py.subscribe_channel,
        args=(pid, "chat", served.user.prvkey),
        kwargs={"timeout": 30, "callback": on_entries},
    )
    thread.start()
    assert subscribed.wait(5)  # the replay arrived, so the subscription is live
    channel = executor.channel(pid, "chat")
    for word in ("one", "two"):
        channel.append(word)
    channel.end()
    # Closing ends the server side of the subscription (silently), so pycolonies' own close
    # handshake is answered at once instead of after its 3 s close timeout.
    executor.close_process(pid)
    thread.join(10)
    assert not thread.is_alive()
    assert received == [(b"question", "data"), (b"one", "data"), (b"two", "data"), ("", "end")]
    assert served.fake.process(pid).state is ProcessState.SUCCESS
    ours.close()
    executor.close()


def test_wait_returns_the_closed_process(served: Served) -> None:
    """pycolonies' wait() subscribes to SUCCESS over WebSocket and then re-reads the process."""
    py = served.py
    process = py.submit_func_spec(func_spec("echo", [], "dev", "cli"), served.user.prvkey)
    done: list[object] = []
    thread = threading.Thread(target=lambda: done.append(py.wait(process, 30, served.user.prvkey)))
    thread.start()
    served.fake.wait_until(lambda: served.fake.subscriptions(process.processid) == 1)
    py.assign("dev", -1, served.executor.prvkey)
    py.close(process.processid, ["ok"], served.executor.prvkey)
    thread.join(10)
    assert not thread.is_alive()
    assert done[0].state == Colonies.SUCCESSFUL and done[0].output == ["ok"]  # type: ignore[attr-defined]
