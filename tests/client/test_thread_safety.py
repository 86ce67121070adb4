"""One ColoniesClient shared by many threads (DESIGN.md: every call is thread-safe)."""

from __future__ import annotations

import threading

from colonies_fake import FakeClock, FakeColonies
from colonies_sync import FunctionSpec, NoProcessAvailable, ProcessState

THREADS = 8
PER_THREAD = 25


def test_threads_sharing_one_executor_client_each_get_distinct_processes() -> None:
    """8 threads drain 200 processes through one client: each taken once, all closed, none lost."""
    fake = FakeColonies(clock=FakeClock())
    fake.add_colony("dev")
    worker = fake.add_executor("dev", "w", "cli")
    submitter = fake.client(fake.add_user("dev", "u").prvkey)
    submitted = {
        submitter.submit_function_spec(FunctionSpec.create("f", "dev", "cli", args=[i])).processid
        for i in range(THREADS * PER_THREAD)
    }
    shared = fake.client(worker.prvkey)
    taken: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            while True:
                try:
                    process = shared.assign("dev", timeout=-1)
                except NoProcessAvailable:
                    return
                shared.add_log(process.processid, f"took {process.spec.args[0]}")
                shared.close_process(process.processid, output=process.spec.args)
                with lock:
                    taken.append(process.processid)
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert sorted(taken) == sorted(submitted)  # every process exactly once
    done = fake.processes("dev", state=ProcessState.SUCCESS)
    assert len(done) == len(submitted)
    assert all(p.out == p.spec.args for p in done)
    fake.close()


def test_threads_sharing_one_client_on_one_channel_keep_every_entry() -> None:
    fake = FakeColonies(clock=FakeClock(), rate_limit=False)
    fake.add_colony("dev")
    user = fake.add_user("dev", "u")
    client = fake.client(user.prvkey)
    pid = client.submit_function_spec(FunctionSpec.create("f", "dev", "cli", channels=["c"])).processid
    channel = client.channel(pid, "c")
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(PER_THREAD):
                channel.append(f"{n}:{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and not any(t.is_alive() for t in threads)
    entries = channel.read(limit=0)
    assert sorted(e.text for e in entries) == sorted(f"{n}:{i}" for n in range(THREADS) for i in range(PER_THREAD))
    sequences = [e.sequence for e in entries]
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
    for n in range(THREADS):  # each thread's entries in the order it wrote them
        mine = [e.text for e in entries if e.text.startswith(f"{n}:")]
        assert mine == [f"{n}:{i}" for i in range(PER_THREAD)]
    fake.close()
