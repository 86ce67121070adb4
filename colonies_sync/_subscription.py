"""Subscriptions: WebSocket streams of process events and channel entries.

Two layers. Generators (:func:`process_events`, :func:`channel_batches`) read
one logical subscription on the caller's thread: they open the stream, send
the subscribe envelope, decode frames (``_rpc.parse_frame``: a frame the
models cannot read is a ``ProtocolError``), and handle the real server's quirks
(PROTOCOL.md 9): a channel subscription that ends with no frame when the
process closes (noticed by checking the process when the stream goes quiet),
a socket dropped at a process subscription's timeout, and the replay/live race
that can deliver an entry twice. A channel stream that drops is resumed from
the log position already delivered, after a backoff with jitter.

:class:`Subscription` runs such a generator on a daemon thread owned by the
client and hands what it yields to callbacks. ``Channel.stream`` and the
``wait_*`` helpers use the generators directly, without a thread.
"""

from __future__ import annotations

import random
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Generator, Optional, Union

from colonies_sync._deadline import Deadline
from colonies_sync._exceptions import (
    CertificateVerificationError,
    ColoniesConnectionError,
    NotFound,
    ProcessNotFound,
    ServerError,
    StreamError,
)
from colonies_sync._models import MsgEntry, Process, ProcessState
from colonies_sync._rpc import encode_request, list_of, parse_frame
from colonies_sync._transport import ClientClosed, Stream, StreamClosed

if TYPE_CHECKING:
    from colonies_sync._client import ColoniesClient

__all__ = ["Backoff", "Subscription", "channel_batches", "process_events"]

# The real server ends a channel subscription at its timeout; an open-ended one is renewed in these steps.
_RENEW_SECONDS = 300

# A channel frame's payload: its entries (``null`` and ``[]`` both end a subscription).
_ENTRIES = list_of(MsgEntry.from_dict)


class Backoff:
    """Exponential backoff with full jitter, bounded in delay and in attempts."""

    def __init__(self, first: float = 0.1, cap: float = 2.0, attempts: int = 10) -> None:
        self.first = first
        self.cap = cap
        self.attempts = attempts
        self.failures = 0

    def next_delay(self) -> Optional[float]:
        """The pause before the next try, or ``None`` when the attempts are spent."""
        self.failures += 1
        if self.failures > self.attempts:
            return None
        return random.uniform(0, min(self.cap, self.first * 2 ** (self.failures - 1)))

    def reset(self) -> None:
        """A connection worked: start again from the shortest pause."""
        self.failures = 0


class _Stop(Exception):
    """The subscription was closed by its owner."""


class _Control:
    """What a running subscription checks between reads: close requests, the open stream.

    ``check`` and ``pause`` raise ``stopped()`` once ``stop`` is set: ``_Stop``
    (a normal end) by default; see :func:`_closing_control` for the other use.
    """

    def __init__(self, stop: Optional[threading.Event] = None, stopped: Callable[[], BaseException] = _Stop) -> None:
        self.stop = stop if stop is not None else threading.Event()
        self._stopped = stopped
        self.ended = ""  # why a stream ended on its own: "timeout" or "process closed"
        self._stream: Optional[Stream] = None
        self._lock = threading.Lock()

    def attach(self, stream: Optional[Stream]) -> None:
        with self._lock:
            self._stream = stream
            if stream is not None and self.stop.is_set():
                stream.close()

    def close(self) -> None:
        self.stop.set()
        with self._lock:
            stream = self._stream
        if stream is not None:
            stream.close()

    def check(self) -> None:
        if self.stop.is_set():
            raise self._stopped()

    def pause(self, seconds: float) -> None:
        """Wait, but wake at once on close."""
        if self.stop.wait(seconds):
            raise self._stopped()


def _closing_control(client: ColoniesClient) -> _Control:
    """The control of a generator read on the caller's thread, with no owner to close it.

    It stops when the client is closed: reads and backoff pauses end at once
    with the client's closed error (a ``StreamClosed``). Never ``close()`` it:
    its ``stop`` is the client's own.
    """
    return _Control(client._closed_event, client._closed_error)


def _open(client: ColoniesClient, control: _Control, messages: list[dict[str, Any]]) -> Stream:
    """Open a stream owned by the client and send the subscribe messages on it."""
    stream = client._open_stream()
    control.attach(stream)  # closes it at once if the owner already closed the subscription
    try:
        for message in messages:
            stream.send(encode_request(message, client.signing_key(), client.crypto).decode("ascii"))
    except BaseException:
        _release(client, control, stream)
        control.check()  # closed by its owner meanwhile: a normal end, not an error
        raise
    return stream


def _release(client: ColoniesClient, control: _Control, stream: Stream) -> None:
    control.attach(None)
    client._release_stream(stream)


def _retry_pause(
    client: ColoniesClient,
    control: _Control,
    backoff: Backoff,
    error: ColoniesConnectionError,
    deadline: Optional[Deadline] = None,
    opened: Optional[float] = None,
) -> None:
    """Pause before reconnecting, or raise ``error`` when the attempts are spent or the client is closed.

    ``error`` is also raised at ``deadline`` if the
    connection is still down then: what happened while it was down was
    missed, so the subscription must not end as if its time had simply run out.
    A connection ``opened`` long enough ago to have been healthy was not a
    failed attempt: the backoff starts again.
    """
    if opened is not None and time.monotonic() - opened >= _HEALTHY_SECONDS:
        backoff.reset()
    control.check()
    client._check_open(error)
    if isinstance(error, CertificateVerificationError):
        raise error  # the next attempt would meet the same certificate
    delay = backoff.next_delay()
    if delay is None:
        raise error
    left = None if deadline is None else deadline.left()
    if left is not None and left <= delay:
        control.pause(max(0.0, left))
        raise error
    control.pause(delay)


# A connection that lived this long (seconds) was not a failed attempt, even if no frame came.
_HEALTHY_SECONDS = 1.0
# The real server drops a process subscription at its timeout, never before: a drop earlier than
# this (seconds before the client's deadline) is a network failure, and is resubscribed.
_DROP_TOLERANCE = 0.5


def process_events(
    client: ColoniesClient,
    process_id: str,
    states: list[int],
    timeout: Union[float, Deadline],
    control: Optional[_Control] = None,
    quiet: Optional[float] = None,
    backoff: Optional[Backoff] = None,
) -> Generator[Optional[Process], None, None]:
    """Processes as the server's events report them, for any of ``states``, for ``timeout`` seconds (or a deadline).

    One stream carries one ``subscribeprocessmsg`` per state. Yields ``None``
    after each ``quiet`` seconds without an event, and after a failed attempt
    to connect (callers poll then). The
    server ends a subscription by dropping the connection at its timeout; a
    drop before the client's own deadline is a failure, and the subscription
    is renewed for the time left (with ``backoff``). The server then sends the
    current state again when it matches: an event equal to the last one for
    its state is not repeated. Without a ``control``, closing the client ends
    it at once with the client's closed error (a ``StreamClosed``).
    """
    control = control or _closing_control(client)
    backoff = backoff or Backoff()
    deadline = timeout if isinstance(timeout, Deadline) else Deadline(timeout, client._server_clock)
    last: dict[ProcessState, Process] = {}
    while True:
        control.check()
        remaining = deadline.left() or 0.0
        if remaining <= 0:
            return
        messages = [
            {
                "msgtype": "subscribeprocessmsg",
                "colonyname": "",
                "processid": process_id,
                "executortype": "",  # the server substitutes the process's own type
                "state": int(state),
                "timeout": max(1, int(remaining + 0.999)),
            }
            for state in states
        ]
        try:
            stream = _open(client, control, messages)
        except ColoniesConnectionError as exc:
            if quiet:
                yield None  # the caller polls meanwhile
            _retry_pause(client, control, backoff, exc, deadline)
            continue
        opened = time.monotonic()
        quiet_at = opened + quiet if quiet else None  # when the caller is next told of a quiet spell
        try:
            while True:
                control.check()
                remaining = deadline.left() or 0.0
                if remaining <= 0:
                    return
                wait = remaining if quiet_at is None else min(remaining, max(0.0, quiet_at - time.monotonic()))
                try:
                    frame = stream.receive(deadline.slice(wait))
                except StreamClosed:
                    control.check()
                    if (deadline.left() or 0.0) <= _DROP_TOLERANCE:
                        return  # the server's end of the subscription at its timeout
                    raise
                if frame is None:
                    if quiet and quiet_at is not None and time.monotonic() >= quiet_at:
                        yield None  # the caller may poll meanwhile: the next spell starts after it
                        quiet_at = time.monotonic() + quiet
                    continue
                if quiet:
                    quiet_at = time.monotonic() + quiet
                process = parse_frame(frame, Process.from_dict)  # ProtocolError if malformed
                backoff.reset()
                if last.get(process.state) == process:
                    continue  # the same event again, as sent after a resubscription
                last[process.state] = process
                yield process
        except StreamClosed as exc:
            _retry_pause(client, control, backoff, exc, deadline, opened)
        finally:
            _release(client, control, stream)


def _resume_at(client: ColoniesClient, process_id: str, channel: str, position: int, last: Optional[MsgEntry]) -> int:
    """The log position after the last entry delivered, checked against the log itself.

    Counting can go wrong: a start past the end of the log (live entries are
    appended at the real end), or a sender appending a smaller sequence (which
    moves its entry back and shifts later ones, PROTOCOL.md 8.4). One read
    confirms the count; only a mismatch reads the whole log.
    """
    if position == 0:
        return 0
    probe = client.channel_read(process_id, channel, after_seq=position - 1, limit=1)
    if probe and (last is None or probe[0] == last):
        return position
    log = client.channel_read(process_id, channel, after_seq=0, limit=0)
    if last is not None:
        for index in range(len(log) - 1, -1, -1):
            if log[index] == last:
                return index + 1
    return min(position, len(log))


def channel_batches(
    client: ColoniesClient,
    process_id: str,
    channel: str,
    after: int,
    timeout: Optional[float],
    control: Optional[_Control] = None,
    quiet: float = 1.0,
    backoff: Optional[Backoff] = None,
) -> Generator[list[MsgEntry], None, None]:
    """Batches of channel entries: the history from position ``after`` (in log order), then new ones as they come.

    Every entry is yielded once across reconnects: a new connection resumes
    from the position after the last entry delivered (checked against the log),
    and an entry that the server delivers both in the replay and live (its
    replay/live race) is dropped. A subscription longer than the server's
    renewal step, or open-ended (``timeout=None``), is renewed when the server
    ends it. Returns at ``timeout`` or when the process has closed (the stream
    went quiet for ``quiet`` seconds and ``get_process`` says so, or a resume
    found the channel gone). A dropped stream is retried with ``backoff``; when
    its attempts run out, or on an error frame, the error is raised. Closing
    the client ends it with the client's closed error (a ``StreamClosed``);
    without a ``control``, at once, even during a backoff pause.
    """
    control = control or _closing_control(client)
    backoff = backoff or Backoff()
    deadline = Deadline(timeout, client._server_clock)
    position = max(0, after)
    last: Optional[MsgEntry] = None
    reconnecting = False
    while True:
        control.check()
        remaining = deadline.left()
        if remaining is not None and remaining <= 0:
            control.ended = "timeout"
            return
        if remaining is None or remaining > _RENEW_SECONDS:
            renew, ask = True, _RENEW_SECONDS  # asking for less than we need: renew when it ends
        else:
            renew, ask = False, max(1, int(remaining + 0.999))
        try:
            if reconnecting:
                position = _resume_at(client, process_id, channel, position, last)
            message = {
                "msgtype": "subscribechannelmsg",
                "processid": process_id,
                "name": channel,
                "afterseq": position,
                "timeout": ask,
            }
            stream = _open(client, control, [message])
        except ColoniesConnectionError as exc:
            _retry_pause(client, control, backoff, exc, deadline)
            continue
        except NotFound:
            if reconnecting and _process_closed(client, process_id):
                control.ended = "process closed"
                return
            raise
        resumed, reconnecting = reconnecting, True
        opened = time.monotonic()
        quiet_at = opened + quiet  # when a silent stream is worth a look at the process
        replay: Optional[list[MsgEntry]] = None  # this connection's first frame, while live ones may repeat it
        try:
            while True:
                control.check()
                left = deadline.left()
                if left is not None and left <= 0:
                    control.ended = "timeout"  # our own clock says so, whatever the server's says
                    return
                wait = max(0.0, quiet_at - time.monotonic())
                frame = stream.receive(deadline.slice(wait if left is None else min(wait, left)))
                if frame is None:
                    if deadline.passed():
                        continue  # the deadline passed while we waited: end at the top of the loop
                    if time.monotonic() < quiet_at:
                        continue  # one slice of the wait, not yet a quiet spell
                    if _process_closed(client, process_id):
                        control.ended = "process closed"
                        return
                    quiet_at = time.monotonic() + quiet  # from the answer on: the check may have been slow
                    continue
                quiet_at = time.monotonic() + quiet
                try:
                    entries = parse_frame(frame, _ENTRIES)  # ProtocolError if malformed
                except NotFound:
                    if resumed and _process_closed(client, process_id):
                        control.ended = "process closed"  # closed while we reconnected
                        return
                    raise
                if not entries:
                    if renew:
                        break  # the server's end of one renewal step
                    control.ended = "timeout"  # the server's end of the whole subscription
                    return
                backoff.reset()
                fresh: list[MsgEntry] = []
                for entry in entries:
                    if entry.error:  # the server cut this subscriber off: it fell too far behind
                        if fresh:
                            yield fresh
                        raise StreamError(f"the server dropped this subscriber: {entry.error}", entry=entry)
                    if replay is None or entry not in replay:
                        # Live entries repeat the replay's last ones only before the first new one.
                        replay = [] if replay is not None else replay
                        fresh.append(entry)
                    else:
                        replay.remove(entry)
                if replay is None:
                    replay = list(fresh)
                if fresh:
                    position += len(fresh)
                    last = fresh[-1]
                    yield fresh
        except StreamClosed as exc:
            _retry_pause(client, control, backoff, exc, deadline, opened)
        finally:
            _release(client, control, stream)


def _process_closed(client: ColoniesClient, process_id: str) -> bool:
    """Whether the process has ended (or is gone): what a quiet channel stream may mean."""
    client._check_open()
    try:
        state = client.get_process(process_id).state
    except ProcessNotFound:
        return True
    except ColoniesConnectionError:
        return False  # a network problem: the stream decides
    except ServerError as exc:
        if exc.status >= 500:
            return False  # the server failed to answer, which says nothing of the process: ask again later
        raise
    return isinstance(state, ProcessState) and state.is_terminal


class Subscription:
    """A subscription running on a daemon thread owned by its client.

    Callbacks run on that thread. An exception raised by a callback, or the
    error the stream ended with, goes to ``on_error`` and ends the
    subscription; :meth:`join` re-raises it in the caller's thread and
    :attr:`error` holds it. A normal end (the timeout, the process closing,
    :meth:`close`) calls ``on_close``. :meth:`close` is idempotent and returns
    promptly, even during a reconnect backoff.
    """

    def __init__(
        self,
        name: str,
        body: Callable[[_Control], None],
        on_error: Optional[Callable[[BaseException], Any]] = None,
        on_close: Optional[Callable[[], Any]] = None,
        on_finish: Optional[Callable[[Subscription], None]] = None,
    ) -> None:
        self._control = _Control()
        self._body = body
        self._on_error = on_error
        self._on_close = on_close
        self._on_finish = on_finish
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, name=f"colonies-subscription:{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._body(self._control)
        except (_Stop, ClientClosed):
            pass  # closed by its owner, or with its client (which stops its subscriptions just after)
        except BaseException as exc:  # handed to on_error and join(): never lost
            self._error = exc
            if self._on_error is not None:
                try:
                    self._on_error(exc)
                except BaseException as handler_exc:  # keep the original, note the second
                    exc.__context__ = handler_exc
        if self._error is None and self._on_close is not None:
            try:
                self._on_close()
            except BaseException as exc:
                self._error = exc
        if self._on_finish is not None:
            self._on_finish(self)

    @property
    def closed(self) -> bool:
        """True once the subscription has ended (its thread is done) or ``close()`` was called."""
        return self._control.stop.is_set() or not self._thread.is_alive()

    @property
    def error(self) -> Optional[BaseException]:
        """The error the subscription ended with, or ``None``."""
        return self._error

    def close(self, timeout: float = 5.0) -> None:
        """Stop the subscription and wait (at most ``timeout`` seconds) for its thread to end."""
        self._control.close()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def join(self, timeout: Optional[float] = None) -> None:
        """Wait for the subscription to end; re-raise the error it ended with.

        Raises :class:`~colonies_sync.WaitTimeout` if it is still running after
        ``timeout`` seconds.
        """
        from colonies_sync._exceptions import WaitTimeout

        self._thread.join(timeout)
        if self._thread.is_alive():
            raise WaitTimeout(f"the subscription is still running after {timeout} s")
        if self._error is not None:
            raise self._error

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
