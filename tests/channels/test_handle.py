"""The Channel handle of colonies_sync: sequence numbering, end/error, read, request/reply.

The handle numbers each append itself. Its sequences must never collide and
must grow in the order appends reach the server, or the server would move an
entry in front of earlier ones (PROTOCOL.md 8.4) and shift the positions
readers count (8.5).
"""

from __future__ import annotations

import threading

import pytest

from colonies_fake import InProcessTransport
from colonies_sync import Channel, ColoniesClient, MsgEntry, WaitTimeout
from colonies_sync import _channel
from colonies_sync._channel import next_sequence
from tests.channels.helpers import JOIN_TIMEOUT, Background

# --- append and its sequence numbers ----------------------------------------------------------


def test_client_channel_returns_a_handle_on_that_process_and_name(world) -> None:
    pid = world.submit()
    handle = world.sub.channel(pid, "chat")
    assert isinstance(handle, Channel)
    assert (handle.process_id, handle.name) == (pid, "chat")


def test_append_returns_the_sequence_it_used_and_they_increase(world) -> None:
    pid = world.submit()
    chat = world.sub.channel(pid, "chat")
    used = [chat.append(f"m{i}") for i in range(20)]
    assert all(a < b for a, b in zip(used[:-1], used[1:], strict=True))
    log = world.fake.channel_log(pid, "chat")
    assert [(e.sequence, e.text, e.senderid, e.type) for e in log] == [
        (seq, f"m{i}", world.sub_id, "data") for i, seq in enumerate(used)
    ]


def test_append_passes_in_reply_to(world) -> None:
    pid = world.run()
    question = world.sub.channel(pid, "chat").append("q")
    world.ex.channel(pid, "chat").append("a", in_reply_to=question)
    assert [e.inreplyto for e in world.fake.channel_log(pid, "chat")] == [0, question]


def test_sequences_stay_below_2_pow_53(world) -> None:
    pid = world.submit()
    chat = world.sub.channel(pid, "chat")
    used = [chat.append("x") for _ in range(5)]
    assert all(0 < seq < 2**53 for seq in used)
    assert 0 < next_sequence("some-sender") < 2**53


def test_next_sequence_is_strictly_increasing_per_sender_even_with_a_stuck_or_backward_clock(monkeypatch) -> None:
    now = [1_700_000_000_000_000_000]
    monkeypatch.setattr(_channel.time, "time_ns", lambda: now[0])
    sender = "sender-" + "a" * 57
    first = next_sequence(sender)
    second = next_sequence(sender)  # the clock did not move
    now[0] -= 10**12  # the clock went back 1000 s
    third = next_sequence(sender)
    assert first < second < third
    assert third < 2**53


def test_two_handles_of_one_key_interleaved_never_collide_and_keep_call_order(world) -> None:
    pid = world.submit()
    h1 = world.sub.channel(pid, "chat")
    h2 = world.sub.channel(pid, "chat")
    other_client = world.fake.client(world.keys["submitter"])
    h3 = other_client.channel(pid, "chat")
    order = []
    for i in range(10):
        for name, handle in (("h1", h1), ("h2", h2), ("h3", h3)):
            order.append((handle.append(f"{name}-{i}"), f"{name}-{i}"))
    assert len({seq for seq, _ in order}) == 30
    assert [(e.sequence, e.text) for e in world.fake.channel_log(pid, "chat")] == order


def test_two_threads_with_two_handles_never_collide_and_lose_nothing(world) -> None:
    pid = world.submit()
    n = 60

    def writer(name: str) -> list[int]:
        handle = world.fake.client(world.keys["submitter"]).channel(pid, "chat")
        return [handle.append(f"{name}-{i}") for i in range(n)]

    threads = [Background(writer, name) for name in ("t1", "t2")]
    for t in threads:
        t.start()
    used = [t.finish() for t in threads]
    assert len(set(used[0]) | set(used[1])) == 2 * n
    log = world.fake.channel_log(pid, "chat")
    assert sorted(e.sequence for e in log) == sorted(used[0] + used[1])
    for name, seqs in zip(("t1", "t2"), used, strict=True):
        mine = [e for e in log if e.text.startswith(name + "-")]
        assert [e.text for e in mine] == [f"{name}-{i}" for i in range(n)]
        assert [e.sequence for e in mine] == seqs


class GateTransport:
    """Holds its client's calls until released (bounded), recording each as it reaches the server."""

    def __init__(self, inner, name: str, arrivals: list, lock: threading.Lock) -> None:
        self.inner = inner
        self.name = name
        self.entered = threading.Event()
        self.release = threading.Event()
        self.arrivals = arrivals
        self.lock = lock

    def call(self, envelope: bytes, *, timeout: float):
        self.entered.set()
        assert self.release.wait(JOIN_TIMEOUT), "the gate was never released"
        reply = self.inner.call(envelope, timeout=timeout)
        with self.lock:
            self.arrivals.append(self.name)
        return reply

    def close(self) -> None:
        self.inner.close()


class ArrivalTransport:
    """Records each call once the server has taken it, then signals ``landed``."""

    def __init__(self, inner, name: str, arrivals: list, lock: threading.Lock, landed: threading.Event) -> None:
        self.inner = inner
        self.name = name
        self.arrivals = arrivals
        self.lock = lock
        self.landed = landed

    def call(self, envelope: bytes, *, timeout: float):
        reply = self.inner.call(envelope, timeout=timeout)
        with self.lock:
            self.arrivals.append(self.name)
        self.landed.set()
        return reply

    def close(self) -> None:
        self.inner.close()


class ContendedLock:
    """A lock that sets ``contended`` when an acquire has to wait for another holder."""

    def __init__(self, contended: threading.Event) -> None:
        self._lock = threading.Lock()
        self.contended = contended

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=False):
            self.contended.set()
            self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def test_concurrent_appends_of_one_key_land_in_arrival_order_no_reordering(world) -> None:
    """Thread A takes its sequence and is delayed on the way; thread B's handle (same key) appends
    meanwhile. B must queue behind A (the per-sender append lock), not overtake it: B's larger sequence
    reaching the server first would have A's entry placed in front of it, shifting positions readers
    have already counted (8.4, 8.5)."""
    pid = world.submit()
    arrivals: list[str] = []
    lock = threading.Lock()
    # B is "queued" once it waits on the lock A holds, or (a client that does not serialise) once its
    # append has reached the server ahead of A's.
    b_queued = threading.Event()
    # sender_lock takes the lock of a key with setdefault, so this one (which reports a contended
    # acquire) serves both appends; it goes when its last user is done.
    key = (world.sub_id, pid, "chat")
    assert key not in _channel._append_locks
    _channel._append_locks[key] = (ContendedLock(b_queued), [0])
    try:
        gate = GateTransport(InProcessTransport(world.fake), "A", arrivals, lock)
        handle_a = ColoniesClient(prvkey=world.keys["submitter"], transport=gate).channel(pid, "chat")
        recorder = ArrivalTransport(world.fake.client(world.keys["submitter"]).transport, "B", arrivals, lock, b_queued)
        handle_b = ColoniesClient(prvkey=world.keys["submitter"], transport=recorder).channel(pid, "chat")
        reader = world.sub.channel(pid, "chat")

        thread_a = Background(handle_a.append, "A")
        thread_b = Background(handle_b.append, "B")
        thread_a.start()
        try:
            assert gate.entered.wait(JOIN_TIMEOUT), "thread A never reached its transport"
            thread_b.start()
            assert b_queued.wait(JOIN_TIMEOUT), "thread B neither queued behind A nor reached the server"
            # A is held on its way and B is queued: nothing may have landed yet.
            assert reader.read() == []
        finally:
            gate.release.set()
            seq_a = thread_a.finish()
        seq_b = thread_b.finish()
    finally:
        _channel._append_locks.pop(key, None)
    assert arrivals == ["A", "B"]
    assert seq_a < seq_b
    log = world.fake.channel_log(pid, "chat")
    assert [(e.text, e.sequence) for e in log] == [("A", seq_a), ("B", seq_b)]


# --- end, error and read -------------------------------------------------------------------------


def test_end_writes_an_end_entry(world) -> None:
    pid = world.run()
    chat = world.ex.channel(pid, "chat")
    plain = chat.end()
    with_payload = chat.end("bye", in_reply_to=7)
    log = world.fake.channel_log(pid, "chat")
    assert [(e.sequence, e.type, e.payload, e.inreplyto) for e in log] == [
        (plain, "end", b"", 0),
        (with_payload, "end", b"bye", 7),
    ]


def test_error_writes_an_error_entry_carrying_the_message(world) -> None:
    pid = world.run()
    chat = world.ex.channel(pid, "chat")
    seq = chat.error("model crashed", in_reply_to=3)
    [entry] = world.fake.channel_log(pid, "chat")
    assert (entry.sequence, entry.type, entry.text, entry.inreplyto) == (seq, "error", "model crashed", 3)


def test_handle_read_uses_log_positions_and_limit(world) -> None:
    pid = world.run()
    sub = world.sub.channel(pid, "chat")
    ex = world.ex.channel(pid, "chat")
    for text in ("s1", "s2"):
        sub.append(text)
    ex.append("e1")
    ex.append("e2")
    assert [e.text for e in sub.read()] == ["s1", "s2", "e1", "e2"]
    assert [e.text for e in sub.read(after=1)] == ["s2", "e1", "e2"]
    assert [e.text for e in sub.read(after=1, limit=2)] == ["s2", "e1"]
    assert [e.text for e in ex.read(after=3)] == ["e2"]
    assert ex.read(after=4) == []
    assert [e.text for e in sub.read(limit=0)] == ["s1", "s2", "e1", "e2"]
    assert all(isinstance(e, MsgEntry) for e in sub.read())


def test_handle_read_defaults_to_100_entries(world) -> None:
    pid = world.submit()
    chat = world.sub.channel(pid, "chat")
    for i in range(105):
        world.sub.channel_append(pid, "chat", i + 1, 0, "")
    assert len(chat.read()) == 100
    assert len(chat.read(limit=0)) == 105


# --- request / wait_reply --------------------------------------------------------------------


def test_wait_reply_returns_the_first_reply_after_ours_from_the_other_side(world) -> None:
    """Ignored: another-side entry *before* ours, our own entry replying to it, replies to other
    sequences, entries with no inreplyto; and a second matching reply after the first."""
    pid = world.run()
    ours = 1_000
    world.ex.channel_append(pid, "chat", 1, ours, "before ours")
    world.sub.channel_append(pid, "chat", ours, 0, "question")
    world.sub.channel_append(pid, "chat", ours + 1, ours, "our own follow-up")
    world.ex.channel_append(pid, "chat", 2, ours - 1, "reply to another question")
    world.ex.channel_append(pid, "chat", 3, 0, "unrelated")
    world.ex.channel_append(pid, "chat", 4, ours, "the answer")
    world.ex.channel_append(pid, "chat", 5, ours, "a second answer")
    reply = world.sub.channel(pid, "chat").wait_reply(ours, timeout=2)
    assert (reply.text, reply.sequence, reply.inreplyto, reply.senderid) == ("the answer", 4, ours, world.ex_id)


def test_wait_reply_times_out_when_only_non_matching_entries_exist(world) -> None:
    pid = world.run()
    world.sub.channel_append(pid, "chat", 50, 0, "question")
    world.sub.channel_append(pid, "chat", 51, 50, "our own")
    world.ex.channel_append(pid, "chat", 1, 49, "other")
    with pytest.raises(WaitTimeout):
        world.sub.channel(pid, "chat").wait_reply(50, timeout=0.3)


def test_request_returns_the_other_sides_reply_to_it(world) -> None:
    pid = world.run()
    chat = world.sub.channel(pid, "chat")

    def executor() -> int:
        world.fake.wait_until(lambda: len(world.fake.channel_log(pid, "chat")) >= 1, timeout=JOIN_TIMEOUT)
        ex = world.ex.channel(pid, "chat")
        [question] = ex.read()
        own = world.fake.client(world.keys["submitter"]).channel(pid, "chat")
        own.append("submitter talks to itself", in_reply_to=question.sequence)
        ex.append("reply to something else", in_reply_to=question.sequence - 1)
        ex.append("no reply at all")
        answer = ex.append(f"echo: {question.text}", in_reply_to=question.sequence)
        ex.append("late duplicate", in_reply_to=question.sequence)
        return answer

    thread = Background(executor)
    thread.start()
    try:
        reply = chat.request("ping", timeout=JOIN_TIMEOUT)
    finally:
        answer = thread.finish()
    [question] = [e for e in world.fake.channel_log(pid, "chat") if e.text == "ping"]
    assert (reply.text, reply.sequence, reply.senderid) == ("echo: ping", answer, world.ex_id)
    assert reply.inreplyto == question.sequence
    assert question.senderid == world.sub_id


def test_two_requests_on_one_handle_each_get_their_own_reply(world) -> None:
    pid = world.run()
    chat = world.sub.channel(pid, "chat")

    def executor() -> None:
        ex = world.ex.channel(pid, "chat")
        for n in (1, 2):
            world.fake.wait_until(
                lambda n=n: sum(e.senderid == world.sub_id for e in world.fake.channel_log(pid, "chat")) >= n,
                timeout=JOIN_TIMEOUT,
            )
            questions = [e for e in ex.read(limit=0) if e.senderid == world.sub_id]
            ex.append(f"answer {n}", in_reply_to=questions[n - 1].sequence)

    thread = Background(executor)
    thread.start()
    try:
        first = chat.request("one", timeout=JOIN_TIMEOUT)
        second = chat.request("two", timeout=JOIN_TIMEOUT)
    finally:
        thread.finish()
    assert (first.text, second.text) == ("answer 1", "answer 2")


def test_request_without_reply_raises_wait_timeout_a_timeout_error(world) -> None:
    pid = world.run()
    chat = world.sub.channel(pid, "chat")
    with pytest.raises(WaitTimeout) as info:
        chat.request("anyone?", timeout=0.3)
    assert isinstance(info.value, TimeoutError)
    [entry] = world.fake.channel_log(pid, "chat")
    assert (entry.text, entry.senderid) == ("anyone?", world.sub_id)


def test_a_reply_by_our_own_key_is_not_a_reply(world) -> None:
    pid = world.submit()
    chat = world.sub.channel(pid, "chat")
    seq = chat.append("q")
    chat.append("self answer", in_reply_to=seq)
    with pytest.raises(WaitTimeout):
        chat.wait_reply(seq, timeout=0.3)


# --- keyless client ---------------------------------------------------------------------------


def test_channel_handle_on_a_keyless_client_raises_value_error(world) -> None:
    pid = world.submit()
    keyless = world.fake.client()
    chat = keyless.channel(pid, "chat")
    with pytest.raises(ValueError):
        chat.append("x")
    with pytest.raises(ValueError):
        chat.end()
    with pytest.raises(ValueError):
        chat.read()
    with pytest.raises(ValueError):
        chat.request("x", timeout=0.3)
    with pytest.raises(ValueError):
        keyless.channel_append(pid, "chat", 1, 0, "x")
    assert world.fake.channel_log(pid, "chat") == []
