"""The slow-subscriber drop of a channel subscription over a real socket (PROTOCOL.md 9.4).

The in-process tests (test_subscribe_channel.py) cut a subscriber off by not
reading its in-process stream. Here the served fake does it the way the real
server does: its connection writes one frame at a time to the socket, and
entries appended while a write is blocked wait in the subscriber's queue; the
append that finds ``subscriber_buffer`` entries queued drops one queued entry,
queues the synthetic error entry and nothing more is queued after it.

To make the server's write block for sure and at a known point, the raw client
(websocket-client, no pings) sets a small receive buffer before it connects
and the executor appends one entry whose frame is larger than the most the
kernel can buffer for it (the server's autotuned send buffer is capped by
``tcp_wmem``). Once the first bytes of that frame reach the client, the server
has taken it (and only it) off the queue and is inside the write, so the small
entries appended next are all queued. Only then does the client read.
"""

from __future__ import annotations

import base64
import hashlib
import select
import socket
from typing import Any, Iterator

import pytest
from websocket import WebSocket, create_connection

from colonies_fake import FakeColoniesServer
from colonies_sync import ProcessState
from tests.subscriptions.conftest import MakeWorld
from tests.subscriptions.helpers import (
    BUFFER_FULL,
    JOIN,
    World,
    b64,
    channel_msg,
    entries_of,
    frame,
    process_msg,
    process_of,
    signed,
)

START_TEXT = "2023-11-14T22:13:20Z"  # the fake clock's start, as Go writes it
BUFFER = 3  # the fake's subscriber_buffer in these tests
SMALL = ["e3", "e4", "e5", "e6", "e7"]  # appended while the server is blocked: BUFFER fit, the 4th overflows
# The synthetic entry, byte for byte as PROTOCOL.md 9.4 gives it (no "type", payload null).
SYNTHETIC = {
    "sequence": 0,
    "timestamp": "0001-01-01T00:00:00Z",
    "senderid": "",
    "payload": None,
    "error": BUFFER_FULL,
}
_RCVBUF = 4096  # the client's receive buffer (the kernel doubles it); set before connecting


def _send_buffer_cap() -> int:
    """The most the kernel lets a TCP socket's send buffer grow to (bytes)."""
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            return int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        return 4 * 1024 * 1024  # Linux's and macOS's usual cap


# A payload whose frame (base64 in the entry, the entry JSON base64 again in the envelope: ~1.78x)
# cannot fit in the server's send buffer plus the client's receive buffer.
HUGE = _send_buffer_cap() + 64 * 1024


@pytest.fixture
def slow_world(make_world: MakeWorld) -> World:
    return make_world(subscriber_buffer=BUFFER, max_payload=max(HUGE, 10 * 1024 * 1024))


@pytest.fixture
def slow_served(slow_world: World) -> Iterator[FakeColoniesServer]:
    server = FakeColoniesServer(slow_world.fake).start()
    yield server
    server.stop()
    assert not server.errors, server.errors


@pytest.fixture
def slow_ws(slow_served: FakeColoniesServer) -> Iterator[WebSocket]:
    """A raw /pubsub connection with a small receive window; frames are not UTF-8 checked (they are large)."""
    sock = create_connection(
        f"ws://127.0.0.1:{slow_served.port}/pubsub",
        timeout=JOIN,
        sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)],
        skip_utf8_validation=True,
    )
    yield sock
    sock.shutdown()  # abrupt: a server inside a channel subscription does not read a close frame


def entry(world: World, sequence: int, text: str) -> dict[str, Any]:
    """A data entry of ``worker-1`` exactly as the server writes it, appended at the clock's start."""
    return {
        "sequence": sequence,
        "timestamp": START_TEXT,
        "senderid": world.ex_id,
        "payload": b64(text),
        "type": "data",
    }


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cut_off(world: World, ws: WebSocket) -> tuple[str, list[list[dict[str, Any]]]]:
    """Subscribe, block the server's write with a huge entry, overflow the queue behind it; then read.

    Returns the process id and the payload of every frame after the huge one, up to and including
    the first one that carries an ``error`` entry (or ``BUFFER + 1`` frames, whichever comes first).
    """
    pid = world.run()
    world.append(world.ex, pid, ["e1"])
    ws.send(signed(channel_msg(pid, timeout=100), world.keys["submitter"]))
    assert entries_of(frame(ws)) == [entry(world, 1, "e1")]  # the replay

    huge = (bytes(range(256)) * (HUGE // 256 + 1))[:HUGE]
    world.ex.channel_append(pid, "chat", 2, 0, huge)
    readable, _, _ = select.select([ws.sock], [], [], JOIN)
    assert readable, "the huge entry's frame never started to arrive"
    # The server is now inside the write of that frame and cannot finish it until the client reads.
    world.append(world.ex, pid, SMALL, start=3)

    got = entries_of(frame(ws))
    assert len(got) == 1, [e.get("sequence") for e in got]
    [big] = got
    assert _digest(base64.b64decode(big.pop("payload"))) == _digest(huge)
    assert big == {"sequence": 2, "timestamp": START_TEXT, "senderid": world.ex_id, "type": "data"}

    after: list[list[dict[str, Any]]] = []
    while len(after) <= BUFFER:
        after.append(entries_of(frame(ws)))
        if any("error" in e for e in after[-1]):
            break
    return pid, after


def test_a_blocked_subscriber_gets_the_queued_entries_then_the_synthetic_entry_and_nothing_more(
    slow_world: World, slow_ws: WebSocket
) -> None:
    world, ws = slow_world, slow_ws
    pid, after = _cut_off(world, ws)

    # One entry per frame; BUFFER - 1 of the queued entries survive, in append order, then the
    # synthetic entry in a frame of its own. Had the server not blocked, e3..e7 would all arrive.
    assert all(len(batch) == 1 for batch in after), after
    *kept, last = [batch[0] for batch in after]
    assert last == SYNTHETIC, f"expected the synthetic entry after {BUFFER - 1} entries, got {after!r}"
    kept_seqs = [e["sequence"] for e in kept]
    assert len(kept) == BUFFER - 1 and kept_seqs == sorted(kept_seqs), kept_seqs
    queued = {3 + i: text for i, text in enumerate(SMALL[:BUFFER])}  # e3..e5: the entries that fit
    assert set(kept_seqs) <= set(queued), kept_seqs
    assert kept == [entry(world, seq, queued[seq]) for seq in kept_seqs]

    # The subscription is over (the server unsubscribed before writing the synthetic entry) ...
    assert world.fake.subscriptions(pid) == 0
    # ... so a later entry and the subscription's timeout send nothing: no entry frame, no `[]`.
    world.append(world.ex, pid, ["e8"], start=8)
    world.fake.clock.advance(101)
    # The socket stays open and is read again (PROTOCOL.md 9.4): a probe answered at once is the
    # very next frame, so nothing came before it.
    ws.send(signed(process_msg(pid, ProcessState.RUNNING), world.keys["stranger"]))
    answer = process_of(frame(ws))
    assert (answer.processid, answer.state) == (pid, ProcessState.RUNNING)


def test_the_overflow_drops_the_oldest_queued_entry_as_the_real_router_does(
    slow_world: World, slow_ws: WebSocket
) -> None:
    world, ws = slow_world, slow_ws
    _, after = _cut_off(world, ws)
    # Queued behind the blocked write: e3, e4, e5 (full). e6 drains e3 and queues the synthetic entry.
    assert after == [[entry(world, 4, "e4")], [entry(world, 5, "e5")], [SYNTHETIC]]
