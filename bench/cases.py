"""The benchmarks. Each takes the run's :class:`Setup` and returns its results.

Every comparison with pycolonies runs both libraries against the same server in
the same run, each doing the whole job its own way (pycolonies opens a new
HTTP connection per call, signs in pure Python, and appends channel payloads
as JSON integer arrays; that is part of what is measured).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Optional

import attrs

from bench._harness import Result, compare, sample
from colonies_fake import FakeColonies, RealClock
from colonies_fake.pytest_plugin import ColoniesBackend
from colonies_sync import ColoniesClient, Crypto, FunctionSpec, MsgEntry
from colonies_sync._crypto import available_backends

try:  # pycolonies ships its signer as a top-level module named "crypto"
    import crypto as pycolonies_crypto
    import pycolonies
except ImportError:  # pragma: no cover - pycolonies is in the test extra
    pycolonies = None
    pycolonies_crypto = None


@attrs.define
class Setup:
    """What the benchmarks run against: a server, a colony, an executor and a user, and the sizes."""

    backend: ColoniesBackend
    colony: str
    executor_key: str
    user_key: str
    executor_type: str
    local: bool  # the fake is ours: the in-process and scale benchmarks run too
    quick: bool
    repeat: int
    warmup: int
    stream_entries: int
    scale_sizes: list[int]
    channel_entries: int
    memory_processes: int

    def client(self, key: str, backend: Optional[str] = None) -> ColoniesClient:
        return self.backend.client(key, crypto=Crypto(backend) if backend else None)

    def pycolonies(self) -> Any:
        return pycolonies.Colonies(self.backend.host, self.backend.port)

    def spec(self, channels: Optional[list[str]] = None) -> FunctionSpec:
        return FunctionSpec.create("bench", self.colony, self.executor_type, channels=channels or [], maxexectime=600)

    def running_process(self, channels: Optional[list[str]] = None) -> str:
        """A process of the user's, RUNNING on the executor."""
        user, executor = self.client(self.user_key), self.client(self.executor_key)
        pid = user.submit_function_spec(self.spec(channels)).processid
        while executor.assign(self.colony, timeout=5).processid != pid:  # pragma: no cover - a busy real colony
            pass
        return pid


def _ours_backends() -> list[str]:
    return sorted(available_backends())  # "coincurve" (when installed) and "ecdsa"


# --- 1. signing and recovery ----------------------------------------------------------------


def crypto(setup: Setup) -> list[Result]:
    message = base64.b64encode(json.dumps({"msgtype": "getprocessmsg", "processid": "ab" * 32}).encode()).decode()
    key = Crypto().generate_private_key()
    results = []
    signs: dict[str, Result] = {}
    for name in _ours_backends():
        ours = Crypto(name)
        signs[name] = Result(
            "sign",
            f"ours ({name})",
            "ms",
            sample(lambda ours=ours: ours.sign(message, key), setup.repeat, setup.warmup),
        )
        results.append(signs[name])
    if pycolonies_crypto is not None:
        theirs = pycolonies_crypto.Crypto()
        baseline = Result(
            "sign", "pycolonies", "ms", sample(lambda: theirs.sign(message, key), setup.repeat, setup.warmup)
        )
        assert theirs.sign(message, key) == Crypto("ecdsa").sign(message, key), "the signers disagree"
        for result in signs.values():
            compare(result, baseline)
        results.append(baseline)
    signature = Crypto().sign(message, key)
    for name in _ours_backends():
        ours = Crypto(name)
        results.append(
            Result(
                "recover id",
                f"ours ({name})",
                "ms",
                sample(lambda ours=ours: ours.recover_id(message, signature), setup.repeat, setup.warmup),
            )
        )
    return results


# --- 2. one signed get_process --------------------------------------------------------------


def get_process(setup: Setup) -> list[Result]:
    pid = setup.running_process()
    results = []
    ours: dict[str, Result] = {}
    for name in _ours_backends():
        client = setup.client(setup.user_key, name)
        ours[name] = Result(
            "get_process over HTTP",
            f"ours ({name})",
            "ms",
            sample(lambda client=client: client.get_process(pid), setup.repeat, setup.warmup),
        )
        results.append(ours[name])
    if pycolonies is not None:
        theirs = setup.pycolonies()
        baseline = Result(
            "get_process over HTTP",
            "pycolonies",
            "ms",
            sample(lambda: theirs.get_process(pid, setup.user_key), setup.repeat, setup.warmup),
        )
        for result in ours.values():
            compare(result, baseline, "<= 0.40", 0.40)
        results.append(baseline)
    if setup.local:
        fake = FakeColonies()
        fake.add_colony("dev")
        worker = fake.add_executor("dev", "w", "bench")
        local_pid = fake.client(worker.prvkey).submit_function_spec(FunctionSpec.create("f", "dev", "bench")).processid
        for name, limit in (("ecdsa", 1.0), ("coincurve", 0.25)):
            if name not in available_backends():
                continue
            client = fake.client(worker.prvkey, crypto=Crypto(name))
            fake.crypto = Crypto(name)  # the fake recovers with the same backend
            result = Result(
                "get_process in-process",
                f"ours ({name})",
                "ms",
                sample(lambda client=client: client.get_process(local_pid), setup.repeat, setup.warmup),
            )
            result.target, result.met = f"median <= {limit} ms", result.median <= limit
            results.append(result)
        fake.close()
    return results


# --- 3. process lifecycle -------------------------------------------------------------------


def lifecycle(setup: Setup) -> list[Result]:
    results = []
    user, executor = setup.client(setup.user_key), setup.client(setup.executor_key)

    def ours() -> None:
        pid = user.submit_function_spec(setup.spec()).processid
        executor.assign(setup.colony, timeout=5)
        executor.close_process(pid, output=["done"])

    repeat = max(10, setup.repeat // 5)
    mine = Result("submit+assign+close over HTTP", "ours", "ms", sample(ours, repeat, setup.warmup // 5))
    results.append(mine)
    if pycolonies is not None:
        theirs = setup.pycolonies()
        spec = {
            "funcname": "bench",
            "conditions": {"colonyname": setup.colony, "executortype": setup.executor_type},
            "maxexectime": 600,
            "maxwaittime": -1,
            "maxretries": -1,
        }

        def pyc() -> None:
            process = theirs.submit_func_spec(pycolonies.FuncSpec(**spec), setup.user_key)
            theirs.assign(setup.colony, 5, setup.executor_key)
            theirs.close(process.processid, ["done"], setup.executor_key)

        baseline = Result("submit+assign+close over HTTP", "pycolonies", "ms", sample(pyc, repeat, setup.warmup // 5))
        compare(mine, baseline)
        results.append(baseline)
    if setup.local:
        fake = FakeColonies(clock=RealClock())
        fake.add_colony("dev")
        worker = fake.add_executor("dev", "w", "bench")
        client = fake.client(worker.prvkey)
        spec = FunctionSpec.create("f", "dev", "bench")

        def local() -> None:
            pid = client.submit_function_spec(spec).processid
            client.assign("dev", timeout=-1)
            client.close_process(pid)

        results.append(Result("submit+assign+close in-process", "ours", "ms", sample(local, repeat, setup.warmup // 5)))
        fake.close()
    for r in results:
        r.extra["processes_per_s"] = round(1000 / r.median, 1)
    return results


# --- 4. channel streaming -------------------------------------------------------------------


def _payload(i: int) -> bytes:
    return f"{i:08d}".encode().ljust(100, b".")


def _stream_run(
    setup: Setup,
    append: Callable[[str, int, bytes], None],
    subscribe: Callable[[str, Callable[[list[Any]], None]], Callable[[], None]],
    payload_of: Callable[[Any], bytes],
) -> tuple[float, list[float]]:
    """Append ``stream_entries`` entries and time each from its append to its callback."""
    n = setup.stream_entries
    pid = setup.running_process(["chat"])
    sent = [0.0] * (n + 1)
    received = [0.0] * (n + 1)
    ready, done = threading.Event(), threading.Event()
    count = [0]

    def on_entries(entries: list[Any]) -> None:
        now = time.perf_counter()
        for entry in entries:
            index = int(payload_of(entry)[:8])
            if index > n:
                continue  # the wake-up entry that stops a pycolonies subscription
            received[index] = now
            if index == 0:
                ready.set()
            else:
                count[0] += 1
        if count[0] >= n:
            done.set()

    stop = subscribe(pid, on_entries)
    try:
        append(pid, 0, _payload(0))  # the subscription is live once this one arrives
        if not ready.wait(30):
            raise RuntimeError("the subscription delivered nothing within 30 s")
        started = time.perf_counter()
        for i in range(1, n + 1):
            sent[i] = time.perf_counter()
            append(pid, i, _payload(i))
        if not done.wait(60):
            raise RuntimeError(f"only {count[0]} of {n} entries arrived within 60 s")
        elapsed = max(received[1:]) - started
    finally:
        stop()
    return n / elapsed, [received[i] - sent[i] for i in range(1, n + 1)]


def streaming(setup: Setup) -> list[Result]:
    results = []
    user, executor = setup.client(setup.user_key), setup.client(setup.executor_key)

    def ours_subscribe(pid: str, on_entries: Callable[[list[MsgEntry]], None]) -> Callable[[], None]:
        return user.subscribe_channel(pid, "chat", 0, 300, on_entries).close

    channels: dict[str, Any] = {}

    def ours_append(pid: str, i: int, payload: bytes) -> None:
        channel = channels.get(pid) or channels.setdefault(pid, executor.channel(pid, "chat"))
        channel.append(payload)

    rate, latencies = _stream_run(setup, ours_append, ours_subscribe, lambda e: e.payload)
    mine = Result("stream 100 B entries over HTTP", "ours", "ms", latencies, extra={"entries_per_s": round(rate, 1)})
    mine.target, mine.met = "p99 <= 10 ms", (mine.p99 or 0) <= 10
    results.append(mine)
    if pycolonies is not None:
        theirs = setup.pycolonies()

        def pyc_subscribe(pid: str, on_entries: Callable[[list[Any]], None]) -> Callable[[], None]:
            stopping = threading.Event()

            def callback(entries: list[Any]) -> bool:
                on_entries(entries)
                return not stopping.is_set()

            thread = threading.Thread(
                target=theirs.subscribe_channel,
                args=(pid, "chat", setup.user_key),
                kwargs={"timeout": 300, "callback": callback},
                daemon=True,
            )
            thread.start()

            def stop() -> None:
                stopping.set()
                theirs.channel_append(pid, "chat", 10**9, b"99999999", setup.executor_key)  # wakes the callback

            return stop

        def pyc_append(pid: str, i: int, payload: bytes) -> None:
            theirs.channel_append(pid, "chat", i + 1, payload, setup.executor_key)

        rate_p, latencies_p = _stream_run(setup, pyc_append, pyc_subscribe, lambda e: e["payload"])
        baseline = Result(
            "stream 100 B entries over HTTP", "pycolonies", "ms", latencies_p, extra={"entries_per_s": round(rate_p, 1)}
        )
        results.append(baseline)
        throughput = Result(
            "stream throughput over HTTP", f"ours vs pycolonies ({rate_p:,.0f}/s)", "entries/s", value=rate
        )
        throughput.ratio, throughput.ratio_to = rate / rate_p, "pycolonies"
        throughput.extra["pycolonies_entries_per_s"] = round(rate_p, 1)
        throughput.target, throughput.met = ">= 3.00", throughput.ratio >= 3.0
        results.append(throughput)
    return results


def channel_inprocess(setup: Setup) -> list[Result]:
    """Issue 3's figures: in-process append, then read in pages of 100, of entries of 100 bytes."""
    results: list[Result] = []
    if not setup.local:
        return results
    entries = 200 if setup.quick else 1000
    for backend in _ours_backends():
        fake = FakeColonies(rate_limit=False)
        fake.add_colony("dev")
        worker = fake.add_executor("dev", "w", "bench")
        user = fake.add_user("dev", "u")
        submitter = fake.client(user.prvkey, crypto=Crypto(backend))
        executor = fake.client(worker.prvkey, crypto=Crypto(backend))
        try:
            spec = FunctionSpec.create("f", "dev", "bench", channels=["chat"])
            pid = submitter.submit_function_spec(spec).processid
            executor.assign("dev", timeout=-1)
            writer = executor.channel(pid, "chat")
            started = time.perf_counter()
            for i in range(entries):
                writer.append(_payload(i))
            appended = time.perf_counter() - started
            reader = submitter.channel(pid, "chat")
            started = time.perf_counter()
            got = 0
            while got < entries:
                page = reader.read(got, 100)
                if not page:
                    raise RuntimeError(f"the channel holds {got} entries, not {entries}")
                got += len(page)
            read = time.perf_counter() - started
        finally:
            for client in (submitter, executor):
                client.close()
            fake.close()
        variant = f"ours ({backend}), {entries} x 100 B"
        results.append(Result("channel append in-process", variant, "entries/s", value=entries / appended))
        results.append(Result("channel read in-process", variant, "entries/s", value=entries / read))
    return results


# --- 5. scale -------------------------------------------------------------------------------


def _seeded_fake(waiting: int) -> tuple[FakeColonies, ColoniesClient, dict[str, Any]]:
    """An in-process fake with ``waiting`` WAITING processes, seeded without signing each request."""
    fake = FakeColonies(rate_limit=False)
    fake.add_colony("dev")
    worker = fake.add_executor("dev", "worker", "bench")
    user = fake.add_user("dev", "user")
    message = {"msgtype": "submitfuncspecmsg", "spec": FunctionSpec.create("f", "dev", "bench").to_dict()}
    for _ in range(waiting):
        fake._call_as(user.id, message)
    return fake, fake.client(worker.prvkey), {"user": user, "message": message}


def scale(setup: Setup) -> list[Result]:
    results: list[Result] = []
    if not setup.local:
        return results  # these look inside the fake
    repeat = max(20, setup.repeat // 2)
    assigns: list[Result] = []
    for size in setup.scale_sizes:
        fake, executor, seed = _seeded_fake(size)

        def assign_one(fake: FakeColonies = fake, executor: ColoniesClient = executor, seed: dict = seed) -> None:
            executor.assign("dev", timeout=-1)
            fake._call_as(seed["user"].id, seed["message"])  # keep the queue at its size

        assigns.append(Result("assign", f"{size:,} waiting", "ms", sample(assign_one, repeat, 5)))
        fake.close()
    for result in assigns[1:]:
        compare(result, assigns[0], "<= 2.00" if result is assigns[-1] else "", 2.0 if result is assigns[-1] else None)
    results += assigns

    fake = FakeColonies(rate_limit=False)
    fake.add_colony("dev")
    worker = fake.add_executor("dev", "worker", "bench")
    client = fake.client(worker.prvkey)
    pid = client.submit_function_spec(FunctionSpec.create("f", "dev", "bench", channels=["log"])).processid
    client.assign("dev", timeout=-1)
    n = setup.channel_entries
    for i in range(n):
        fake._call_as(
            worker.id,
            {
                "msgtype": "channelappendmsg",
                "processid": pid,
                "name": "log",
                "sequence": i + 1,
                "inreplyto": 0,
                "payload": base64.b64encode(_payload(i)).decode(),
                "payloadtype": "",
            },
        )
    start = Result(
        "channel_read 100",
        f"at the start of {n:,}",
        "ms",
        sample(lambda: client.channel_read(pid, "log", 0, 100), repeat, 5),
    )
    end = Result(
        "channel_read 100",
        f"at the end of {n:,}",
        "ms",
        sample(lambda: client.channel_read(pid, "log", n - 100, 100), repeat, 5),
    )
    compare(end, start, "<= 2.00", 2.0)
    results += [start, end]
    fake.close()

    results.append(_memory(setup.memory_processes))
    return results


_MEMORY_SCRIPT = """
import gc, json, sys
from bench.cases import _seeded_fake, _rss_mb
before = _rss_mb()
fake, client, seed = _seeded_fake(int(sys.argv[1]))
gc.collect()
print(json.dumps({"before": before, "after": _rss_mb(), "processes": len(fake.procs)}))
"""


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _memory(processes: int) -> Result:
    """Resident memory of a fresh Python process holding a fake with ``processes`` WAITING processes."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, str(processes)], capture_output=True, text=True, cwd=root, check=True
    )
    numbers = json.loads(done.stdout)
    result = Result("resident memory", f"fake with {processes:,} processes", "MB", value=numbers["after"])
    result.extra = {"before_mb": round(numbers["before"], 1), "processes": numbers["processes"]}
    if processes >= 100_000:
        result.target, result.met = "<= 400 MB", numbers["after"] <= 400
    return result


ALL: dict[str, Callable[[Setup], list[Result]]] = {
    "crypto": crypto,
    "get_process": get_process,
    "lifecycle": lifecycle,
    "streaming": streaming,
    "channel_inprocess": channel_inprocess,
    "scale": scale,
}

__all__ = ["ALL", "Setup"]
