"""The channel router: per-process message logs with the real server's rules (PROTOCOL.md 8).

A channel belongs to one process. It is created at submit for each name in
``spec.channels``, knows the process's submitter and (from assign on) its
executor, and holds an append-only log in *log order*: a new entry moves left
past the directly preceding entries of the same sender with a larger sequence,
and never past another sender's entry (8.4). Reads take log positions, not
sequence numbers (8.5). Limits (payload size, entries, channels per process and
a token-bucket rate per process) are those of the real server unless
configured smaller (8.6). Close, fail and cancel delete a process's channels;
a timeout release and a remove do not (8.7).

No locking here: the fake's one lock guards the router. Times come from the
fake's clock.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol

import attrs

from colonies_fake import _messages as msgs
from colonies_fake._errors import Fail
from colonies_fake._records import FAILED, SUCCESS, Process, go_time

if TYPE_CHECKING:
    from colonies_fake._clock import Clock

__all__ = ["Channel", "ChannelLimits", "ChannelRouter", "Entry", "Subscriber"]


@attrs.frozen
class ChannelLimits:
    """The channel limits of a fake; the defaults are the real server's.

    ``max_payload`` bytes per entry (larger is refused, equal is allowed),
    ``max_entries`` per channel, ``max_channels`` per process, a token bucket
    per process of ``rate_burst`` tokens refilled at ``rate_per_second``, and
    ``subscriber_buffer`` undelivered entries before a WebSocket subscriber is
    cut off as too slow.
    """

    max_payload: int = 10 * 1024 * 1024
    max_entries: int = 10_000
    max_channels: int = 100
    rate_burst: int = 500
    rate_per_second: float = 100.0
    subscriber_buffer: int = 10_000


class Entry:
    """One channel entry as stored: ``payload`` is ``None`` when the append carried none."""

    __slots__ = ("sequence", "inreplyto", "timestamp", "senderid", "payload", "type", "error")

    def __init__(
        self,
        sequence: int,
        inreplyto: int,
        timestamp: Optional[int],
        senderid: str,
        payload: Optional[bytes],
        type: str,
        error: str = "",
    ) -> None:
        self.sequence = sequence
        self.inreplyto = inreplyto
        self.timestamp = timestamp
        self.senderid = senderid
        self.payload = payload
        self.type = type
        self.error = error

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sequence": self.sequence}
        if self.inreplyto:
            out["inreplyto"] = self.inreplyto
        out["timestamp"] = go_time(self.timestamp)
        out["senderid"] = self.senderid
        out["payload"] = None if self.payload is None else base64.b64encode(self.payload).decode("ascii")
        if self.type:
            out["type"] = self.type
        if self.error:
            out["error"] = self.error
        return out


class Channel:
    """A channel of one process: who may use it and its log."""

    __slots__ = ("processid", "name", "submitter", "executor", "log", "subscribers")

    def __init__(self, processid: str, name: str, submitter: str, executor: str) -> None:
        self.processid = processid
        self.name = name
        self.submitter = submitter
        self.executor = executor
        self.log: list[Entry] = []
        self.subscribers: list[Subscriber] = []  # WebSocket subscriptions, fed in arrival order

    def may_use(self, caller: str) -> bool:
        return caller in (self.submitter, self.executor) and caller != ""

    def insert(self, entry: Entry) -> int:
        """Put ``entry`` in log order (PROTOCOL.md 8.4); returns its position."""
        log = self.log
        i = len(log)
        while i > 0 and log[i - 1].senderid == entry.senderid and log[i - 1].sequence > entry.sequence:
            i -= 1
        log.insert(i, entry)
        return i

    def read(self, after: int, limit: int) -> list[Entry]:
        """Entries at positions ``after, after+1, ...``: at most ``limit`` (all when ``limit <= 0``)."""
        start = max(after, 0)
        return self.log[start:] if limit <= 0 else self.log[start : start + limit]


class Subscriber(Protocol):
    """What the router feeds: a WebSocket channel subscription (``_pubsub``)."""

    def deliver(self, entry: Entry) -> None: ...

    def end_silently(self) -> None: ...


class _Bucket:
    """A token bucket on the fake's clock: starts full. Times in integer nanoseconds, so that
    0.01 s at 100 tokens/s is exactly one token (float seconds at epoch scale are not exact)."""

    __slots__ = ("tokens", "updated")

    def __init__(self, capacity: int, now_ns: int) -> None:
        self.tokens = float(capacity)
        self.updated = now_ns

    def take(self, now_ns: int, capacity: int, rate: float) -> bool:
        elapsed = max(0, now_ns - self.updated)
        self.tokens = min(float(capacity), self.tokens + elapsed * rate / 1e9)
        self.updated = now_ns
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class ChannelRouter:
    """Every channel of a fake, keyed by process id and channel name."""

    def __init__(self, clock: Clock, limits: ChannelLimits, rate_limit: Callable[[], bool]) -> None:
        self._clock = clock
        self.limits = limits
        self._rate_limit = rate_limit
        self._by_process: dict[str, dict[str, Channel]] = {}
        self._buckets: dict[str, _Bucket] = {}

    def create_for(self, p: Process) -> None:
        """At submit: one channel per name in the spec; repeats are ignored, names past the limit dropped."""
        channels = self._by_process.setdefault(p.processid, {})
        for name in p.spec["channels"]:
            if name in channels or len(channels) >= self.limits.max_channels:
                continue
            channels[name] = Channel(p.processid, name, p.initiatorid, "")

    def set_executor(self, p: Process) -> None:
        """At assign: the new executor may use every channel of the process; the old one no longer."""
        for channel in self._by_process.get(p.processid, {}).values():
            channel.executor = p.assignedexecutorid

    def cleanup(self, process_id: str) -> None:
        """At close, fail and cancel: the channels and the process's rate limiter go.

        Their subscriptions end without a frame (PROTOCOL.md 9.4).
        """
        for channel in self._by_process.pop(process_id, {}).values():
            for subscriber in list(channel.subscribers):
                subscriber.end_silently()
        self._buckets.pop(process_id, None)

    def find(self, p: Process, name: str) -> Channel:
        """The channel, created lazily when the real server would (PROTOCOL.md 8.1), or ``Fail``."""
        channels = self._by_process.get(p.processid, {})
        channel = channels.get(name)
        if channel is not None:
            return channel
        if p.state in (SUCCESS, FAILED) or name not in p.spec["channels"]:
            raise Fail(404, msgs.CHANNEL_NOT_FOUND)
        if len(channels) >= self.limits.max_channels:
            raise Fail(500, msgs.TOO_MANY_CHANNELS)
        channel = Channel(p.processid, name, p.initiatorid, p.assignedexecutorid)
        self._by_process.setdefault(p.processid, {})[name] = channel
        return channel

    def append(
        self,
        channel: Channel,
        caller: str,
        sequence: int,
        inreplyto: int,
        payload: Optional[bytes],
        payload_type: str,
    ) -> Entry:
        """Append as the real router does, with its checks in its order (PROTOCOL.md 8.3)."""
        if payload is not None and len(payload) > self.limits.max_payload:
            raise Fail(500, msgs.PAYLOAD_TOO_LARGE)
        if not channel.may_use(caller):
            raise Fail(403, msgs.NOT_AUTHORIZED_WRITE)
        if self._rate_limit():
            now = self._clock.time_ns()
            bucket = self._buckets.get(channel.processid)
            if bucket is None:
                bucket = self._buckets[channel.processid] = _Bucket(self.limits.rate_burst, now)
            if not bucket.take(now, self.limits.rate_burst, self.limits.rate_per_second):
                raise Fail(500, msgs.RATE_LIMITED)
        if len(channel.log) >= self.limits.max_entries:
            raise Fail(500, msgs.CHANNEL_FULL)
        entry = Entry(sequence, inreplyto, self._clock.time_ns(), caller, payload, payload_type or "data")
        channel.insert(entry)
        for subscriber in channel.subscribers:  # live entries go out in arrival order, not log order
            subscriber.deliver(entry)
        return entry

    def read(self, channel: Channel, caller: str, after: int, limit: int) -> list[Entry]:
        """Entries from log position ``after`` for an authorised caller."""
        if not channel.may_use(caller):
            raise Fail(403, msgs.NOT_AUTHORIZED_READ)
        return channel.read(after, limit)

    def channels_of(self, process_id: str) -> dict[str, Channel]:
        """The channels of a process now in memory, by name."""
        return self._by_process.get(process_id, {})

    def clear(self) -> None:
        """Forget every channel (the fake is resetting)."""
        self._by_process.clear()
        self._buckets.clear()
