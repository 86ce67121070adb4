"""WebSocket subscriptions of the fake, with the real server's semantics (PROTOCOL.md 9).

A :class:`Session` is one ``/pubsub`` connection. The HTTP front end feeds it
whole messages (``receive``) and asks it what to do next (``collect``): frames
to send and whether to drop the TCP connection. The session does no I/O; it
calls ``poke`` when something happened on another thread (a process event, a
channel append, a clock jump) so that the connection loop wakes up.

What it models, as the real server does it:

* each frame is a signed envelope; one that is not JSON, or whose signature
  cannot be recovered, drops the connection without a frame; an unknown
  payloadtype is ignored;
* ``subscribeprocessmsg``: no authorisation; an immediate frame if the process
  is already in the state; a frame each time it enters the state again; the
  connection is dropped (no close frame) when the timeout passes;
* ``subscribeprocessesmsg``: registered executors only; each matching event goes
  to one subscriber, in turn; dropped at the timeout;
* ``subscribechannelmsg``: the checks of a channel read, then the replay as one
  frame, each later entry as its own frame, ``[]`` at the timeout (after which
  the socket stays open), and nothing at all if the process closes. While it
  lasts, the connection is not read (the real read loop is blocked), so pings
  and further frames wait.

Every method runs under the fake's lock.
"""

from __future__ import annotations

import base64
import collections
from typing import TYPE_CHECKING, Any, Callable, Optional

from colonies_fake import _messages as msgs
from colonies_fake._channels import Entry
from colonies_fake._errors import Fail
from colonies_fake._gojson import GoJSONError, decode_message, dumps, go_b64decode, parse
from colonies_fake._schema import ENVELOPE, MSG
from colonies_sync._exceptions import InvalidSignature

if TYPE_CHECKING:
    from colonies_fake._channels import Channel
    from colonies_fake._clock import Deadline
    from colonies_fake._core import FakeColonies

__all__ = ["PubSub", "Session"]

# The real server's default lifetime of a channel subscription sent with timeout 0.
CHANNEL_DEFAULT_TIMEOUT = 30
_OVERFLOW = Entry(0, 0, None, "", None, "", "subscriber disconnected: buffer full")


def reply_frame(payloadtype: str, payload_json: str) -> str:
    """A reply envelope as the text of one frame."""
    encoded = base64.b64encode(payload_json.encode("utf-8")).decode("ascii")
    return dumps({"payloadtype": payloadtype, "payload": encoded, "error": False})


def error_frame(status: int, message: str) -> str:
    """An error envelope as the text of one frame."""
    payload = dumps({"status": status, "message": message})
    encoded = base64.b64encode(payload.encode("utf-8")).decode("ascii")
    return dumps({"payloadtype": "error", "payload": encoded, "error": True})


class _ProcessSubscription:
    __slots__ = ("session", "processid", "executortype", "state", "binary", "deadline")

    def __init__(
        self, session: Session, processid: str, executortype: str, state: int, binary: bool, deadline: Deadline
    ) -> None:
        self.session = session
        self.processid = processid
        self.executortype = executortype
        self.state = state
        self.binary = binary
        self.deadline = deadline


class ChannelSubscriber:
    """A channel subscription's queue, fed by the channel router."""

    __slots__ = ("session", "channel", "binary", "queue", "silenced", "overflowed", "deadline")

    def __init__(self, session: Session, channel: Channel, binary: bool) -> None:
        self.session = session
        self.channel = channel
        self.binary = binary
        self.queue: collections.deque[Entry] = collections.deque()
        self.silenced = False  # the process closed: end without a frame
        self.overflowed = False  # the synthetic "buffer full" entry is queued: end after it
        self.deadline: Optional[Deadline] = None  # set after the replay

    def deliver(self, entry: Entry) -> None:
        """A new entry was appended to the channel (called by the router)."""
        if self.overflowed or self.silenced:
            return
        if len(self.queue) >= self.session.fake.limits.subscriber_buffer:
            self.queue.popleft()  # as the real router drains the oldest (<-sub.ch) to make room
            self.queue.append(_OVERFLOW)
            self.overflowed = True
        else:
            self.queue.append(entry)
        self.session.poke()

    def end_silently(self) -> None:
        """The channel was deleted (its process closed): the subscription ends with no frame."""
        self.silenced = True
        self.session.poke()


class PubSub:
    """Every subscription of a fake, and the process events that feed them."""

    def __init__(self, fake: FakeColonies) -> None:
        self._fake = fake
        self._by_process: dict[str, list[_ProcessSubscription]] = {}
        self._by_type: dict[tuple[str, int], collections.deque[_ProcessSubscription]] = {}
        self.sessions: set[Session] = set()

    def process_event(self, process: dict[str, Any], executortype: str) -> None:
        """A process entered ``process["state"]``: tell its subscribers (PROTOCOL.md 7.5 says what it carries)."""
        state = process["state"]
        frame: Optional[str] = None
        for sub in self._by_process.get(process["processid"], ()):
            if sub.state == state and sub.executortype == executortype and not sub.deadline.expired():
                frame = frame or reply_frame("subscribeprocessmsg", dumps(process))
                sub.session.send(frame, sub.binary)
        waiting = self._by_type.get((executortype, state))
        while waiting:  # one subscriber per event, in turn
            sub = waiting.popleft()
            if sub.deadline.expired() or sub.session.closed:
                continue
            waiting.append(sub)
            sub.session.send(frame or reply_frame("subscribeprocessmsg", dumps(process)), sub.binary)
            break

    def add_process(self, sub: _ProcessSubscription) -> None:
        self._by_process.setdefault(sub.processid, []).append(sub)

    def add_processes(self, sub: _ProcessSubscription) -> None:
        self._by_type.setdefault((sub.executortype, sub.state), collections.deque()).append(sub)

    def forget(self, session: Session) -> None:
        """Drop every subscription of a session."""
        self.sessions.discard(session)
        for pid, subs in list(self._by_process.items()):
            kept = [s for s in subs if s.session is not session]
            if kept:
                self._by_process[pid] = kept
            else:
                del self._by_process[pid]
        for key, queue in list(self._by_type.items()):
            remaining = collections.deque(s for s in queue if s.session is not session)
            if remaining:
                self._by_type[key] = remaining
            else:
                del self._by_type[key]

    def count(self, process_id: Optional[str] = None) -> int:
        """Live process and channel subscriptions (of one process)."""
        total = 0
        for session in self.sessions:
            if session.dropping:
                continue  # gone as far as anyone can tell; its thread may not have noticed yet
            total += sum(1 for s in session.process_subscriptions() if process_id in (None, s.processid))
            channel = session.channel_subscription()
            if channel is not None and process_id in (None, channel.processid):
                total += 1
        return total

    def poke_all(self) -> None:
        """Wake every connection (time jumped, the fake closes)."""
        for session in list(self.sessions):
            session.poke()

    def drop_all(self) -> None:
        """Drop every connection, as a restarted server would (the fake is reset)."""
        for session in list(self.sessions):
            session.drop()


class Session:
    """One WebSocket connection's state: its subscriptions and the frames waiting to go out."""

    def __init__(self, fake: FakeColonies, poke: Callable[[], None]) -> None:
        self.fake = fake
        self.poke = poke
        self.closed = False
        self._outbox: list[tuple[str, bool]] = []
        self._drop = False
        self._process_subs: list[_ProcessSubscription] = []
        self._channel_sub: Optional[ChannelSubscriber] = None
        fake.pubsub.sessions.add(self)

    # --- what the connection loop asks ----------------------------------------------------

    def reading(self) -> bool:
        """Whether the connection may read frames now (not while a channel subscription lasts)."""
        return self._channel_sub is None and not self._drop

    def send(self, frame: str, binary: bool) -> None:
        """Queue a frame (called under the lock, from any thread)."""
        self._outbox.append((frame, binary))
        self.poke()

    def collect(self) -> tuple[list[tuple[str, bool]], bool]:
        """Frames to send now, in order, and whether to drop the connection after them."""
        sub = self._channel_sub
        if sub is not None:
            while sub.queue:
                entry = sub.queue.popleft()
                self._outbox.append((reply_frame("subscribechannelmsg", dumps([entry.render()])), sub.binary))
                if entry is _OVERFLOW:
                    self._end_channel()
                    break
            else:
                if sub.silenced:
                    self._end_channel()
                elif sub.deadline is not None and sub.deadline.expired():
                    self._outbox.append((reply_frame("subscribechannelmsg", "[]"), sub.binary))
                    self._end_channel()
        if self.fake.closed or any(s.deadline.expired() for s in self._process_subs):
            self._drop = True  # the real server closes the whole connection at a subscription's timeout
        frames, self._outbox = self._outbox, []
        return frames, self._drop

    def wait_seconds(self) -> Optional[float]:
        """The longest the connection loop may sleep before a deadline needs looking at (real seconds)."""
        deadlines = [s.deadline for s in self._process_subs]
        if self._channel_sub is not None and self._channel_sub.deadline is not None:
            deadlines.append(self._channel_sub.deadline)
        waits = [d.remaining() for d in deadlines]
        known = [w for w in waits if w is not None]
        return min(known) if known else None

    def drop(self) -> None:
        """Drop the connection at the next look (no close frame)."""
        self._drop = True
        self.poke()

    @property
    def dropping(self) -> bool:
        """Whether :meth:`drop` was called: the connection is going away."""
        return self._drop

    def process_subscriptions(self) -> list[_ProcessSubscription]:
        """The process subscriptions of this connection still within their timeout."""
        return [s for s in self._process_subs if not s.deadline.expired()]

    def channel_subscription(self) -> Optional[Channel]:
        """The channel this connection is streaming, if any."""
        return None if self._channel_sub is None else self._channel_sub.channel

    def close(self) -> None:
        """The connection is gone: forget every subscription."""
        if self.closed:
            return
        self.closed = True
        self._end_channel()
        self._process_subs.clear()
        self.fake.pubsub.forget(self)

    # --- incoming messages ----------------------------------------------------------------

    def receive(self, data: str | bytes, binary: bool) -> None:
        """One whole WebSocket message from the client."""
        if self._drop:
            return
        try:
            raw = parse(data)
            if raw is None:
                raise GoJSONError("null envelope")
            env = ENVELOPE.decode(raw)
            caller = self.fake.crypto.recover_id(env["payload"], env["signature"])
        except (GoJSONError, InvalidSignature):
            self._drop = True  # the real server answers nothing and the connection goes away
            return
        payloadtype = env["payloadtype"]
        handler = {
            "subscribeprocessmsg": self._subscribe_process,
            "subscribeprocessesmsg": self._subscribe_processes,
            "subscribechannelmsg": self._subscribe_channel,
        }.get(payloadtype)
        if handler is not None:
            handler(caller, payloadtype, env["payload"], binary)

    def _decode(self, payloadtype: str, payload: str) -> Optional[dict[str, Any]]:
        return decode_message(MSG[payloadtype], parse(go_b64decode(payload)))

    def _subscribe_process(self, caller: str, payloadtype: str, payload: str, binary: bool) -> None:
        try:
            msg = self._decode(payloadtype, payload)
        except GoJSONError:
            return  # the real handler returns without a frame; the socket stays open
        if msg is None:
            return
        if msg["msgtype"] != payloadtype:
            self.send(error_frame(403, msgs.SUBSCRIBE_PROCESS_MSGTYPE), binary)
            return
        p = self.fake.procs.get(msg["processid"])
        if p is None:
            self.send(error_frame(403, msgs.invalid_process(msg["processid"])), binary)
            return
        executortype = msg["executortype"] or p.executortype
        sub = _ProcessSubscription(
            self, p.processid, executortype, msg["state"], binary, self.fake.clock.deadline(msg["timeout"])
        )
        self._process_subs.append(sub)
        self.fake.pubsub.add_process(sub)
        if p.state == msg["state"]:
            self.send(reply_frame("subscribeprocessmsg", dumps(p.render())), binary)

    def _subscribe_processes(self, caller: str, payloadtype: str, payload: str, binary: bool) -> None:
        try:
            msg = self._decode(payloadtype, payload)
        except GoJSONError as exc:
            self.send(error_frame(403, str(exc)), binary)
            return
        if msg is None:
            return
        if msg["msgtype"] != payloadtype:
            self.send(error_frame(403, msgs.SUBSCRIBE_PROCESSES_MSGTYPE), binary)
            return
        if self.fake.executor_by_id(caller) is None:
            self.send(error_frame(403, msgs.SUBSCRIBE_PROCESSES_NO_EXECUTOR), binary)
            return
        sub = _ProcessSubscription(
            self, "", msg["executortype"], msg["state"], binary, self.fake.clock.deadline(msg["timeout"])
        )
        self._process_subs.append(sub)
        self.fake.pubsub.add_processes(sub)

    def _subscribe_channel(self, caller: str, payloadtype: str, payload: str, binary: bool) -> None:
        try:
            msg = self._decode(payloadtype, payload)
        except GoJSONError as exc:
            self.send(error_frame(400, str(exc)), binary)
            return
        if msg is None:
            return
        if msg["msgtype"] != payloadtype:
            self.send(error_frame(400, msgs.SUBSCRIBE_CHANNEL_MSGTYPE), binary)
            return
        p = self.fake.procs.get(msg["processid"])
        if p is None:
            self.send(error_frame(404, msgs.PROCESS_NOT_FOUND), binary)
            return
        try:
            self.fake.require_membership(caller, p.colonyname, approved=True)
            channel = self.fake.channels.find(p, msg["name"])
        except Fail as fail:
            self.send(error_frame(fail.status, fail.message), binary)
            return
        if not channel.may_use(caller):
            self.send(error_frame(403, msgs.NOT_AUTHORIZED_SUBSCRIBE), binary)
            return
        sub = ChannelSubscriber(self, channel, binary)
        channel.subscribers.append(sub)  # registered before the replay is read, as for real
        self._channel_sub = sub
        replay = channel.read(msg["afterseq"], 0)
        if replay:
            self._outbox.append(
                (reply_frame("subscribechannelmsg", dumps([entry.render() for entry in replay])), binary)
            )
            if self.fake.faults.take_double_delivery():
                sub.queue.append(replay[-1])  # as if appended between registration and the replay read
        timeout = msg["timeout"] or CHANNEL_DEFAULT_TIMEOUT
        sub.deadline = self.fake.clock.deadline(timeout)  # a negative timeout ends right after the replay
        self.poke()

    def _end_channel(self) -> None:
        sub = self._channel_sub
        if sub is None:
            return
        self._channel_sub = None
        if sub in sub.channel.subscribers:
            sub.channel.subscribers.remove(sub)
