"""Channel: a handle on one channel of one process, with its own sequence numbers.

A channel log is shared by the process's submitter and its executor. The server
keeps each sender's entries ordered by ``sequence``: an entry appended with a
smaller sequence than that sender's earlier ones is moved in front of them,
which shifts the log positions that readers count (PROTOCOL.md 8.4). So every
append of one sender must use a larger sequence than all its earlier ones, even
across handles, threads and restarts.

The scheme: a sequence number is the current time in microseconds since the
epoch, made strictly increasing per sender key (``max(now_us, last + 1)``), and
the appends of one sender key to one channel are sent one at a time under a
lock, so they reach the server in sequence order (appends to other channels
go on in parallel). Any number of handles and threads in a program then
interleave safely, and a restarted program continues above what it wrote
before (its clock has moved on). Numbers stay below 2**53, so
JavaScript readers (the TypeScript client) see them exactly.

What the scheme does not cover: it orders entries within one program only.
Two programs that sign with the same key keep separate counters, and a
program restarted with its clock set back before its last entry starts
below it; either can append a smaller sequence after a larger one, which the
server then moves in front. One key per program, and synchronised clocks,
avoid both.

``request`` and ``wait_reply`` match only a reply whose ``senderid`` differs
from the caller's (otherwise they could take their own entry for the
answer). When both sides sign with the same key, no reply ever matches, and
they end in ``WaitTimeout``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING, Generator, Iterator, Optional, Union

from colonies_sync._exceptions import StreamError, WaitTimeout
from colonies_sync._models import MsgEntry
from colonies_sync._subscription import _closing_control, channel_batches

if TYPE_CHECKING:
    from colonies_sync._client import ColoniesClient

__all__ = ["Channel", "next_sequence", "sender_lock"]

_sequence_lock = threading.Lock()
_last_sequence: dict[str, int] = {}
# Only keys in use have a lock, so an executor serving many processes does not accumulate them.
_append_locks: dict[tuple[str, str, str], tuple[threading.Lock, list[int]]] = {}

Payload = Union[str, bytes]


@contextlib.contextmanager
def sender_lock(sender_id: str, process_id: str, channel: str) -> Iterator[None]:
    """Hold the lock that keeps one sender's appends to one channel in sequence order on the wire."""
    key = (sender_id, process_id, channel)
    with _sequence_lock:
        lock, users = _append_locks.setdefault(key, (threading.Lock(), [0]))
        users[0] += 1
    try:
        with lock:
            yield
    finally:
        with _sequence_lock:
            users[0] -= 1
            if users[0] == 0:
                del _append_locks[key]


def next_sequence(sender_id: str) -> int:
    """The next sequence number for ``sender_id``: microseconds since the epoch, strictly increasing."""
    now = time.time_ns() // 1000
    with _sequence_lock:
        value = max(now, _last_sequence.get(sender_id, 0) + 1)
        _last_sequence[sender_id] = value
    return value


class Channel:
    """One channel of one process, as seen by the client's key.

    Obtain it with :meth:`ColoniesClient.channel`. ``append`` picks the sequence
    number itself (see the module docs) and returns it; ``request`` sends and
    waits for the other side's reply, which must come from another key.

    A real server has a race that can shut an executor out: it stores a new
    process before it creates the process's channels, and an assign that
    lands in between is linked to none of them, so that executor gets
    :class:`~colonies_sync.Forbidden` (403) on every channel of the process
    for as long as it holds it. The fake does not copy the race. An executor
    that meets such a 403 right after its assign should give the process
    back: leave it unclosed when its ``maxexectime`` and a retry will
    release it to a new assign (which links the channels), or else fail it
    with a message that says why, so that the submitter can submit again.
    """

    def __init__(self, client: ColoniesClient, process_id: str, name: str) -> None:
        self.client = client
        self.process_id = process_id
        self.name = name
        self._scan_from = 0  # a log position before which this handle's future entries cannot be
        self._last_sequence = 0

    def __repr__(self) -> str:
        return f"Channel(process_id={self.process_id!r}, name={self.name!r})"

    def _sender(self) -> str:
        sender = self.client.id
        if sender is None:
            raise ValueError("the client has no private key: a channel append must be signed")
        return sender

    def append(self, payload: Payload, in_reply_to: int = 0, *, payload_type: str = "") -> int:
        """Append ``payload`` (text is sent as UTF-8) and return the sequence number used."""
        sender = self._sender()
        # Held across the request: a smaller sequence arriving after a larger one
        # would be moved in front of it and shift positions readers already counted.
        with sender_lock(sender, self.process_id, self.name):
            sequence = next_sequence(sender)
            self.client.channel_append(self.process_id, self.name, sequence, in_reply_to, payload, payload_type)
        self._last_sequence = sequence
        return sequence

    def end(self, payload: Payload = b"", in_reply_to: int = 0) -> int:
        """Append an entry of type ``"end"``: the conventional end of a stream."""
        return self.append(payload, in_reply_to, payload_type="end")

    def error(self, message: str, in_reply_to: int = 0) -> int:
        """Append an entry of type ``"error"`` carrying ``message``: a stream that failed."""
        return self.append(message, in_reply_to, payload_type="error")

    def read(self, after: int = 0, limit: int = 100) -> list[MsgEntry]:
        """Entries from log position ``after`` on, at most ``limit`` (all with ``limit=0``).

        ``after`` is a position in the log (how many entries to skip), not a
        sequence number: to read on incrementally, add ``len()`` of what you got.
        """
        return self.client.channel_read(self.process_id, self.name, after_seq=after, limit=limit)

    def stream(
        self, after: int = 0, timeout: Optional[float] = 300.0, *, quiet: float = 1.0
    ) -> Generator[MsgEntry, None, None]:
        """Iterate over the channel: the history from position ``after``, then entries as they come.

        Yields every entry once (the history in log order, then new ones as
        they come), both sides' included, and stops after yielding an entry of
        type ``"end"``. An ``"error"`` entry (or the
        server cutting off a subscriber that fell behind) raises
        :class:`~colonies_sync.StreamError` carrying the entry, instead of
        yielding it. Raises :class:`~colonies_sync.WaitTimeout` when no end came
        within ``timeout`` seconds (``None``: wait as long as the process runs),
        ``StreamError`` when the process closed without one, and
        :class:`~colonies_sync.ColoniesConnectionError` when a dropped connection
        could not be restored (the reconnect attempts ran out, or it was still
        down at the deadline). Breaking out of
        the loop, or ``close()`` on the iterator, releases the connection.
        """
        control = _closing_control(self.client)  # closing the client ends it at once, even mid-backoff
        batches = channel_batches(self.client, self.process_id, self.name, after, timeout, control, quiet=quiet)
        try:
            for batch in batches:
                for entry in batch:
                    if entry.type == "error":
                        raise StreamError(entry.text or "an error entry ended the stream", entry=entry)
                    yield entry
                    if entry.type == "end":
                        return
        finally:
            batches.close()  # releases the stream
        if control.ended == "process closed":
            raise StreamError(f"process {self.process_id} ended (or is gone) before an end entry on {self.name!r}")
        raise WaitTimeout(f"no end entry on channel {self.name!r} within {timeout:g} s")

    def request(self, payload: Payload, timeout: float = 30.0, *, quiet: float = 1.0) -> MsgEntry:
        """Append ``payload`` and return the other side's reply to it.

        The reply is the first entry after ours in log order, written by another
        sender, whose ``inreplyto`` is the sequence we used. Waits on a channel
        stream; raises :class:`~colonies_sync.WaitTimeout` if none comes within
        ``timeout`` seconds, :class:`~colonies_sync.StreamError` if the process
        closes first.
        """
        return self.wait_reply(self.append(payload), timeout, quiet=quiet)

    def wait_reply(self, sequence: int, timeout: float = 30.0, *, quiet: float = 1.0) -> MsgEntry:
        """Wait for the other side's reply to our entry ``sequence`` (see :meth:`request`)."""
        me = self._sender()
        # Our newest entry cannot be before the last position we found one of ours at.
        start = self._scan_from if sequence == self._last_sequence else 0
        control = _closing_control(self.client)  # closing the client ends it at once, even mid-backoff
        batches = channel_batches(self.client, self.process_id, self.name, start, timeout, control, quiet=quiet)
        position = start
        found = False
        try:
            for batch in batches:
                for entry in batch:
                    if not found and entry.senderid == me and entry.sequence == sequence:
                        found = True
                        self._scan_from = max(self._scan_from, position)
                    elif found and entry.senderid != me and entry.inreplyto == sequence:
                        return entry
                    position += 1
        finally:
            batches.close()  # releases the stream
        if control.ended == "process closed":
            raise StreamError(f"process {self.process_id} ended (or is gone) before a reply to sequence {sequence}")
        raise WaitTimeout(f"no reply to sequence {sequence} on channel {self.name!r} within {timeout:g} s")
