"""Issue 8, concurrency: 8 executor threads and 4 submitter threads on one fake, in real time.

Each process has a channel ``out``. Its executor appends five entries, the
fifth with ``Channel.request``, and closes the process once the submitter has
answered it: closing deletes the channel, so the executor must not close before
its submitter has read everything. Each submitter submits its share up front,
then for each of its processes streams the five entries, answers the last, and
waits for SUCCESS.

The fake keeps the real server's channel rate limit: a process sees six
appends (five entries and the answer), far below its burst of 500, so the
limit is respected rather than switched off.

Checked: every process assigned exactly once (the executors' own records, and
the fake's final ``assignedexecutorid`` and ``retries == 0``), every entry read
back by its submitter with the exact payload and in order, every process
SUCCESS, and no error recorded by any thread, the fake, its clock or the
server. It runs in-process and over HTTP, with one client per executor and
with one client shared by all eight executor threads (DESIGN.md: clients are
thread-safe). The throughput (processes per second, submit to SUCCESS) is
printed and recorded as the test's ``throughput`` property.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from typing import Any, Iterator, Optional

import pytest

from colonies_fake import FakeColonies, FakeColoniesServer, RealClock
from colonies_sync import ColoniesClient, FunctionSpec, MsgEntry, NoProcessAvailable, ProcessState
from tests.stress.scale import scaled

PROCESSES = scaled(2000, 200)
EXECUTORS = 8
SUBMITTERS = 4
ENTRIES = 5
#: The bound of every single wait (a stream, a request, a wait for SUCCESS), in seconds.
STEP = 30.0
#: The bound of the whole run, in seconds: issue 8's cap for a stress run, and under the per-test
#: timeout, so that a hang (or a run too slow for the cap) fails as an assertion.
RUN = 60.0
#: How long an executor's long-poll lasts before it looks at the stop flag again.
POLL = 1


def payload(pid: str, index: int) -> bytes:
    # Distinct per process and per position, not only ASCII: a swapped or re-encoded entry shows.
    return f"{index + 1}/{ENTRIES} of {pid} ✓".encode()


class Run:
    """What the threads of one run record, under one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.assigned: list[tuple[str, str]] = []  # (executor id, process id), once per assign
        self.read_back: dict[str, list[MsgEntry]] = {}  # process id -> what its submitter streamed
        self.submitted: dict[str, list[str]] = {}  # submitter name -> its process ids
        self.finished: list[str] = []  # process ids seen SUCCESS by their submitter
        self.errors: list[BaseException] = []
        self.stop = threading.Event()

    def guard(self, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except BaseException as exc:  # handed to the test thread
            with self.lock:
                self.errors.append(exc)
            self.stop.set()


def execute(run: Run, client: ColoniesClient) -> None:
    """Take processes until told to stop: four appends, a request answered by the submitter, close."""
    while not run.stop.is_set():
        try:
            process = client.assign("dev", timeout=POLL)
        except NoProcessAvailable:
            continue
        pid = process.processid
        with run.lock:
            run.assigned.append((client.id or "", pid))
        channel = client.channel(pid, "out")
        for index in range(ENTRIES - 1):
            channel.append(payload(pid, index))
        answer = channel.request(payload(pid, ENTRIES - 1), timeout=STEP)
        assert answer.text == f"got {pid}", answer
        client.close_process(pid, output=[pid])


def submit(run: Run, client: ColoniesClient, name: str, count: int) -> None:
    """Submit ``count`` processes, then read each one's entries, answer the last, and wait for SUCCESS."""
    pids = []
    for index in range(count):
        spec = FunctionSpec.create("work", "dev", "worker", args=[name, index], channels=["out"])
        pids.append(client.submit_function_spec(spec).processid)
    with run.lock:
        run.submitted[name] = pids
    for pid in pids:
        channel = client.channel(pid, "out")
        got: list[MsgEntry] = []
        for entry in channel.stream(timeout=STEP):
            got.append(entry)
            if len(got) == ENTRIES:
                break
        with run.lock:
            run.read_back[pid] = got
        channel.append(f"got {pid}", in_reply_to=got[-1].sequence)
        done = client.wait(pid, timeout=STEP)
        assert done.state is ProcessState.SUCCESS, done
        with run.lock:
            run.finished.append(pid)


@contextlib.contextmanager
def served(fake: FakeColonies, transport: str) -> Iterator[Optional[FakeColoniesServer]]:
    if transport == "inprocess":
        yield None
        return
    server = FakeColoniesServer(fake).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["inprocess", "http"])
@pytest.mark.parametrize("sharing", ["client-per-executor", "one-shared-client"])
def test_executors_and_submitters_in_parallel_lose_nothing_and_assign_each_process_once(
    transport: str, sharing: str, record_property: Any
) -> None:
    fake = FakeColonies(clock=RealClock())
    fake.add_colony("dev")
    shared = sharing == "one-shared-client"
    executor_keys = [fake.add_executor("dev", f"worker-{n}", "worker") for n in range(1 if shared else EXECUTORS)]
    user_keys = [fake.add_user("dev", f"user-{n}") for n in range(SUBMITTERS)]
    run = Run()
    clients: list[ColoniesClient] = []
    threads: list[threading.Thread] = []
    try:
        with served(fake, transport) as server:

            def client(prvkey: str) -> ColoniesClient:
                made = (
                    fake.client(prvkey) if server is None else ColoniesClient(server.host, server.port, prvkey=prvkey)
                )
                clients.append(made)
                return made

            executor_clients = [client(k.prvkey) for k in executor_keys]
            executors = [
                threading.Thread(target=run.guard, args=(execute, run, executor_clients[n % len(executor_clients)]))
                for n in range(EXECUTORS)
            ]
            shares = [PROCESSES // SUBMITTERS + (n < PROCESSES % SUBMITTERS) for n in range(SUBMITTERS)]
            submitters = [
                threading.Thread(target=run.guard, args=(submit, run, client(k.prvkey), k.name, share))
                for k, share in zip(user_keys, shares, strict=True)
            ]
            threads = executors + submitters
            started = time.monotonic()
            for thread in threads:
                thread.start()
            end = started + RUN
            for thread in submitters:
                thread.join(max(0.0, end - time.monotonic()))
            elapsed = time.monotonic() - started
            run.stop.set()
            for thread in executors:
                thread.join(POLL + 10.0)  # the long-poll ends within POLL seconds (plus the HTTP round trip)
            assert not [t for t in threads if t.is_alive()], f"threads still running after {RUN} s"
            assert run.errors == []
            if server is not None:
                assert server.errors == []
    finally:
        run.stop.set()
        for made in clients:
            made.close()
        for thread in threads:
            thread.join(STEP)
        fake.close()

    throughput = PROCESSES / elapsed
    record_property("throughput", f"{throughput:.1f} processes/s")
    print(f"\n{transport}, {sharing}: {PROCESSES} processes in {elapsed:.1f} s = {throughput:.1f} processes/s")

    all_pids = [pid for pids in run.submitted.values() for pid in pids]
    assert len(all_pids) == len(set(all_pids)) == PROCESSES
    assigned = collections.Counter(pid for _, pid in run.assigned)
    assert set(assigned) == set(all_pids)
    assert [pid for pid, n in assigned.items() if n != 1] == []
    assert sorted(run.finished) == sorted(all_pids)

    taken_by = dict((pid, executor) for executor, pid in run.assigned)
    for pid in all_pids:
        process = fake.process(pid)
        assert (process.state, process.retries, process.out) == (ProcessState.SUCCESS, 0, [pid]), process
        assert process.assignedexecutorid == taken_by[pid]
        got = run.read_back[pid]
        assert [e.payload for e in got] == [payload(pid, i) for i in range(ENTRIES)]
        assert {e.senderid for e in got} == {taken_by[pid]}
        assert [e.sequence for e in got] == sorted({e.sequence for e in got})  # in the order written
    if not shared:  # every executor took a share: the work really ran in parallel
        assert {executor for executor, _ in run.assigned} == {k.id for k in executor_keys}
    assert fake.errors == []
    assert isinstance(fake.clock, RealClock) and fake.clock.errors == []
