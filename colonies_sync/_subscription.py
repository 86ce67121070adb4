"""Subscriptions: WebSocket streams of process events and channel entries.

Two layers. Generators (:func:`process_events`, :func:`channel_batches`) read
one logical subscription on the caller's thread: they open the stream, send
the subscribe envelope, decode frames, and handle the real server's quirks
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

import base64
import json
import random
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Generator, Optional

from colonies_sync._exceptions import ColoniesConnectionError, ProtocolError, StreamError, server_error
from colonies_sync._models import MsgEntry, Process, ProcessState
from colonies_sync._rpc import encode_request
from colonies_sync._transport import Stream, StreamClosed

if TYPE_CHECKING:
    from colonies_sync._client import ColoniesClient

__all__ = ["Backoff", "Subscription", "channel_batches", "process_events"]

# The real server ends a channel subscription at its timeout; an open-ended one is renewed in these steps.
_RENEW_SECONDS = 300


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
    """What a running subscription checks between reads: close requests, the open stream."""

    def __init__(self) -> None:
        self.stop = threading.Event()
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
            raise _Stop()

    def pause(self, seconds: float) -> None:
        """Wait, but wake at once on close."""
        if self.stop.wait(seconds):
            raise _Stop()


def _decode_frame(frame: str) -> Any:
    """A frame's payload; raises the server's error for an error frame."""
    try:
        envelope = json.loads(frame)
        payload = json.loads(base64.b64decode(envelope["payload"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ProtocolError(f"not a ColonyOS reply frame: {frame[:200]!r}", text=frame) from exc
    if envelope.get("error") is True:
        raise server_error(int(payload.get("status", 0)), str(payload.get("message", "")))
    return payload


def _open(client: ColoniesClient, control: _Control, message: dict[str, Any]) -> Stream:
    stream = client.transport.open_stream(timeout=client.timeout)
    control.attach(stream)
    stream.send(encode_request(message, client.signing_key(), client.crypto).decode("ascii"))
    return stream


def process_events(
    client: ColoniesClient,
    process_id: str,
    states: list[int],
    timeout: float,
    control: Optional[_Control] = None,
    quiet: Optional[float] = None,
) -> Generator[Optional[Process], None, None]:
    """Processes as the server's events report them, for any of ``states``, until ``timeout``.

    One stream carries one ``subscribeprocessmsg`` per state. Yields ``None``
    after each ``quiet`` seconds without an event (callers poll then). Ends when
    the server drops the connection (its way of ending at the timeout) or the
    time is up.
    """
    control = control or _Control()
    deadline = time.monotonic() + timeout
    stream = client.transport.open_stream(timeout=client.timeout)
    control.attach(stream)
    try:
        for state in states:
            message = {
                "msgtype": "subscribeprocessmsg",
                "colonyname": "",
                "processid": process_id,
                "executortype": "",  # the server substitutes the process's own type
                "state": int(state),
                "timeout": max(1, int(timeout + 0.999)),
            }
            stream.send(encode_request(message, client.signing_key(), client.crypto).decode("ascii"))
        while True:
            control.check()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                frame = stream.receive(min(remaining, quiet) if quiet else remaining)
            except StreamClosed:
                control.check()
                return
            if frame is None:
                if quiet and time.monotonic() < deadline:
                    yield None
                continue
            yield Process.from_dict(_decode_frame(frame))
    finally:
        control.attach(None)
        stream.close()


def _entry_key(entry: MsgEntry) -> tuple[str, int, Any]:
    return (entry.senderid, entry.sequence, entry.timestamp)


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
    """Batches of new channel entries: the history from position ``after``, then live ones.

    Every entry is yielded once, in log order, across reconnects: the stream is
    resumed from the position already delivered, and an entry seen before (the
    server's replay/live race) is dropped. Returns when the server ends the
    subscription at ``timeout`` (``None``: never, the subscription is renewed),
    or when the process has closed (the stream went quiet and ``get_process``
    says so). A dropped stream is retried with ``backoff``; when its attempts
    run out, or on an error frame, the error is raised.
    """
    control = control or _Control()
    backoff = backoff or Backoff()
    deadline = None if timeout is None else time.monotonic() + timeout
    delivered = max(0, after)
    seen: set[tuple[str, int, Any]] = set()
    while True:
        control.check()
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            control.ended = "timeout"
            return
        ask = _RENEW_SECONDS if remaining is None else max(1, int(min(remaining, _RENEW_SECONDS) + 0.999))
        message = {
            "msgtype": "subscribechannelmsg",
            "processid": process_id,
            "name": channel,
            "afterseq": delivered,
            "timeout": ask,
        }
        try:
            stream = _open(client, control, message)
        except ColoniesConnectionError:
            delay = backoff.next_delay()
            if delay is None:
                raise
            control.pause(delay)
            continue
        try:
            while True:
                control.check()
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    control.ended = "timeout"  # our own clock says so, whatever the server's says
                    return
                frame = stream.receive(quiet if left is None else min(quiet, left))
                if frame is None:
                    if deadline is not None and deadline - time.monotonic() <= 0:
                        continue  # the deadline passed while we waited: end at the top of the loop
                    if _process_closed(client, process_id):
                        control.ended = "process closed"
                        return
                    continue
                entries = [MsgEntry.from_dict(e) for e in (_decode_frame(frame) or [])]
                if not entries:
                    if remaining is None:
                        break  # an open-ended subscription: renew it
                    control.ended = "timeout"  # the server's end of the subscription at its timeout
                    return
                backoff.reset()
                fresh: list[MsgEntry] = []
                for entry in entries:
                    if entry.error:  # the server cut this subscriber off: it fell too far behind
                        if fresh:
                            yield fresh
                        raise StreamError(f"the server dropped this subscriber: {entry.error}", entry=entry)
                    key = _entry_key(entry)
                    if key in seen:
                        continue  # delivered already: the replay/live race or a resume
                    seen.add(key)
                    fresh.append(entry)
                delivered += len(fresh)
                if fresh:
                    yield fresh
        except StreamClosed:
            control.check()
            delay = backoff.next_delay()
            if delay is None:
                raise
            control.pause(delay)
        finally:
            control.attach(None)
            stream.close()


def _process_closed(client: ColoniesClient, process_id: str) -> bool:
    """Whether the process has ended (or is gone): what a quiet channel stream may mean."""
    from colonies_sync._exceptions import ProcessNotFound

    try:
        state = client.get_process(process_id).state
    except ProcessNotFound:
        return True
    except ColoniesConnectionError:
        return False  # a network problem: the stream decides
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
        except _Stop:
            pass
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
