"""ColoniesClient: one blocking method per ColonyOS RPC.

Each method builds a message dict, ``_rpc`` signs and wraps it, the transport
carries it, and ``_rpc`` turns the reply into a value or an exception. The client
does not know whether a real server or the fake answers.

The client keeps no per-call state, so one client may be shared by threads. It
never retries on its own: none of the RPCs is idempotent in general.
"""

from __future__ import annotations

import base64
import os
import threading
from typing import Any, Callable, Mapping, Optional, Sequence, TypeVar, Union

from colonies_sync._channel import Channel
from colonies_sync._deadline import Deadline
from colonies_sync._exceptions import ColoniesConnectionError, WaitTimeout
from colonies_sync._subscription import Subscription, channel_batches, process_events
from colonies_sync._crypto import Crypto
from colonies_sync._models import (
    Attribute,
    AttributeType,
    Colony,
    Executor,
    FunctionSpec,
    Log,
    MsgEntry,
    Process,
    ProcessState,
    ServerInfo,
    ServerVersion,
    User,
)
from colonies_sync._rpc import UNSIGNED_TYPES, decode_reply, encode_request, list_of, parse_payload
from colonies_sync._transport import ClientClosed, HttpTransport, RawReply, Stream, Transport

__all__ = ["ColoniesClient"]

_T = TypeVar("_T")


# How much longer than an assign long-poll the HTTP read may take before the
# client gives up: the server answers at the end of the long-poll, plus latency.
# A client timeout shorter than this is the margin instead: it says how long
# the caller will wait for a server that has stopped answering.
_LONG_POLL_MARGIN = 10.0

_TRUE = {"1", "true", "yes", "on"}


class ColoniesClient:
    """A blocking client for the ColonyOS RPC API.

    ``ColoniesClient(host, port, tls=False, prvkey=None, timeout=30.0)`` talks
    HTTP(S) to a server; ``transport=`` plugs in another way to reach one (the
    fake's ``InProcessTransport``). ``prvkey`` signs every request unless a call
    passes its own ``prvkey=``. ``timeout`` bounds every call, in seconds; the
    assign long-poll gets its own timeout plus a margin (this timeout, at most 10 s).

    ``tls=True`` speaks ``https`` and ``wss`` and checks the server's
    certificate and host name for both. ``verify`` is what the check trusts:
    ``True`` (the default) the system's certificate store, a path a CA bundle
    (a private CA's ``ca.pem``), ``False`` nothing, which turns the check off
    and warns on every request (``urllib3.exceptions.InsecureRequestWarning``).
    A certificate the check refuses raises :class:`CertificateVerificationError`,
    a ``ColoniesConnectionError``. A CA bundle that cannot be loaded raises
    ``ValueError`` here.

    ``server_clock`` (seconds, e.g. a fake's ``FakeClock.time``) makes the
    waits and subscriptions of this client also end when that clock passes
    their timeout: a test that advances a fake's clock then sees the timeout
    at once. Real time still ends them as usual. Clients the fake makes, and
    the pytest fixtures, pass it for fakes on a ``FakeClock``.

    Use it as a context manager, or call :meth:`close`, to release connections.
    A client may be shared by threads. Once it is closed, every call raises
    :class:`~colonies_sync.StreamClosed` ("the client is closed"), and so, at
    once, does a call that another thread is blocked in (see :meth:`close`).
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int = 50080,
        tls: bool = False,
        prvkey: Optional[str] = None,
        timeout: float = 30.0,
        *,
        transport: Optional[Transport] = None,
        verify: Union[bool, str, os.PathLike[str]] = True,
        crypto: Optional[Crypto] = None,
        server_clock: Optional[Callable[[], float]] = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._crypto = crypto or Crypto()
        self._prvkey: Optional[str] = None
        if prvkey is not None:
            self.set_private_key(prvkey)
        self.timeout = float(timeout)
        self.host = host
        self.port = int(port)
        self.tls = tls
        self._transport: Transport = transport or HttpTransport(host, port, tls=tls, verify=verify)
        self._server_clock = server_clock
        self._replies = threading.local()  # .last: the raw reply rpc() received last on a thread
        # Set once by close(); the waits pause on it, so that they wake at once.
        self._closed_event = threading.Event()
        # What close() must end: subscription threads, and streams iterated on callers' threads.
        self._subscriptions: set[Subscription] = set()
        self._streams: set[Stream] = set()
        self._subscriptions_lock = threading.Lock()

    # --- construction and lifecycle -----------------------------------------------------

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, **overrides: Any) -> ColoniesClient:
        """A client configured from the environment, as the ColonyOS CLI is.

        Reads ``COLONIES_SERVER_HOST`` (default ``localhost``),
        ``COLONIES_SERVER_PORT`` (default 50080), ``COLONIES_TLS`` or
        ``COLONIES_SERVER_TLS`` (``true``/``false``) and ``COLONIES_PRVKEY``
        from ``environ`` (default: ``os.environ``). Keyword arguments override
        what the environment says, and take what it cannot: with TLS the
        certificate is checked against the system's store unless ``verify=``
        (a CA bundle's path, or ``False``) is passed here; ColonyOS has no
        variable for it, but OpenSSL's ``SSL_CERT_FILE`` points the store at a
        bundle.
        """
        env = os.environ if environ is None else environ
        tls_text = env.get("COLONIES_TLS", env.get("COLONIES_SERVER_TLS", "false"))
        port_text = env.get("COLONIES_SERVER_PORT", "50080")
        try:
            port = int(port_text)
        except ValueError:
            raise ValueError(f"COLONIES_SERVER_PORT is not a number: {port_text!r}") from None
        kwargs: dict[str, Any] = {
            "host": env.get("COLONIES_SERVER_HOST", "localhost"),
            "port": port,
            "tls": tls_text.strip().lower() in _TRUE,
            "prvkey": env.get("COLONIES_PRVKEY") or None,
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    def set_private_key(self, prvkey: str) -> None:
        """Sign later requests with ``prvkey`` (checked here, so a bad key fails early)."""
        self._crypto.id(prvkey)
        self._prvkey = prvkey

    @property
    def id(self) -> Optional[str]:
        """The ColonyOS id of the client's private key, or ``None`` without one."""
        return self._crypto.id(self._prvkey) if self._prvkey else None

    def signing_key(self, prvkey: Optional[str] = None) -> str:
        """The key a request is signed with: ``prvkey`` if given, else the client's; ``ValueError`` if none."""
        key = prvkey if prvkey is not None else self._prvkey
        if key is None:
            raise ValueError("requests must be signed: give the client a private key (prvkey=) or set COLONIES_PRVKEY")
        return key

    @property
    def crypto(self) -> Crypto:
        """The :class:`Crypto` the client signs with."""
        return self._crypto

    @property
    def transport(self) -> Transport:
        """The transport this client sends through."""
        return self._transport

    def close(self) -> None:
        """Stop every subscription and stream of this client and release its connections. Idempotent.

        Subscriptions end as at their timeout (``on_close``). A thread blocked in
        :meth:`wait`, :meth:`wait_for_state` or :meth:`wait_for_running`, or
        iterating a ``Channel.stream()``, wakes at once and raises
        :class:`~colonies_sync.StreamClosed` ("the client is closed"), as does
        every call made afterwards: one error for "this client was closed"
        wherever it is met. (It is also a ``ValueError``, which calls on a
        closed client raised before.) A request already on the wire is not cut
        short; its reply is still returned.
        """
        with self._subscriptions_lock:
            if self._closed_event.is_set():
                return
            self._closed_event.set()
            subscriptions = list(self._subscriptions)
            streams = list(self._streams)
        for subscription in subscriptions:  # signal them all first, then wait: they end in parallel
            subscription.close(timeout=0)
        for stream in streams:
            stream.close()
        for subscription in subscriptions:
            subscription.close()
        self._transport.close()

    def _open_stream(self) -> Stream:
        """Open a stream that :meth:`close` will close; give it back with :meth:`_release_stream`."""
        self._check_open()
        try:
            stream = self._transport.open_stream(timeout=self.timeout)
        except ColoniesConnectionError as exc:
            self._check_open(exc)  # the transport refused because close() closed it meanwhile
            raise
        with self._subscriptions_lock:
            if not self._closed_event.is_set():
                self._streams.add(stream)
                return stream
        stream.close()
        raise self._closed_error()

    def _closed_error(self) -> ClientClosed:
        """The error for using this client after :meth:`close` (a ``StreamClosed``, and a ``ValueError``)."""
        return ClientClosed("the client is closed")

    def _check_open(self, cause: Optional[BaseException] = None) -> None:
        """Raise the closed error (from ``cause``) once :meth:`close` has run."""
        if self._closed_event.is_set():
            raise self._closed_error() from cause

    def _release_stream(self, stream: Stream) -> None:
        with self._subscriptions_lock:
            self._streams.discard(stream)
        stream.close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run (or begun)."""
        return self._closed_event.is_set()

    def __enter__(self) -> ColoniesClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ColoniesClient(transport={self._transport!r})"

    # --- the RPC primitive --------------------------------------------------------------

    def rpc(
        self,
        msgtype: str,
        fields: Optional[Mapping[str, Any]] = None,
        *,
        prvkey: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> Any:
        """Send any message type and return the decoded reply payload.

        The typed methods are built on this (a subclass that overrides it sees
        every call); use it for message types they do not cover. ``fields`` must
        not contain ``msgtype``. The payload comes back as plain JSON values; the
        typed methods read it into models, and raise
        :class:`~colonies_sync.ProtocolError` (with the raw reply) for one the
        models cannot read.
        """
        reply = self._send(msgtype, fields, prvkey, timeout)
        if getattr(self._replies, "fetching", False):
            self._replies.last = reply  # for _fetch, on this thread: the raw text of a reply it cannot read
        return decode_reply(reply.status, reply.body)[1]

    def _fetch(
        self,
        msgtype: str,
        fields: Optional[Mapping[str, Any]],
        parse: Callable[[Any], _T],
        *,
        prvkey: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> _T:
        """:meth:`rpc`, then ``parse`` the payload: a reply it cannot read is a ``ProtocolError`` with the raw text."""
        self._replies.last = None
        self._replies.fetching = True  # only then does rpc() keep the raw reply, and only until here
        try:
            payload = self.rpc(msgtype, fields, prvkey=prvkey, timeout=timeout)
            reply: Optional[RawReply] = self._replies.last
        finally:
            self._replies.fetching = False
            self._replies.last = None
        status = None if reply is None else reply.status  # None: an override of rpc() did not call ours
        text = "" if reply is None else reply.body.decode("utf-8", "replace")
        return parse_payload(msgtype, payload, parse, status=status, text=text, frame=False)

    def _send(
        self, msgtype: str, fields: Optional[Mapping[str, Any]], prvkey: Optional[str], timeout: Optional[float]
    ) -> RawReply:
        """Sign ``msgtype`` with ``fields`` and send it; the raw reply."""
        self._check_open()
        message: dict[str, Any] = {"msgtype": msgtype}
        if fields:
            message.update(fields)
        # The server never checks these signatures; the Go client sends none either.
        key = None if msgtype in UNSIGNED_TYPES else (prvkey if prvkey is not None else self._prvkey)
        if key is None and msgtype not in UNSIGNED_TYPES:
            raise ValueError(
                f"{msgtype} must be signed: give the client a private key (prvkey=) or set COLONIES_PRVKEY"
            )
        envelope = encode_request(message, key, self._crypto)
        try:
            return self._transport.call(envelope, timeout=timeout or self.timeout)
        except ColoniesConnectionError as exc:
            self._check_open(exc)  # the transport refused because close() closed it meanwhile
            raise

    # --- server -------------------------------------------------------------------------

    def version(self) -> ServerVersion:
        """The server's build version and time (unsigned)."""
        return self._fetch("versionmsg", {"buildversion": "", "buildtime": ""}, ServerVersion.from_dict)

    def get_server_info(self) -> ServerInfo:
        """The server's build and HTTP backends (unsigned)."""
        return self._fetch("getserverinfomsg", None, ServerInfo.from_dict)

    # --- colonies -----------------------------------------------------------------------

    def add_colony(self, colony: Union[Colony, Mapping[str, Any]], *, prvkey: Optional[str] = None) -> Colony:
        """Add a colony. Needs the **server** owner's key (usually ``prvkey=server_key``)."""
        data = colony.to_dict() if isinstance(colony, Colony) else dict(colony)
        return self._fetch("addcolonymsg", {"colony": data}, Colony.from_dict, prvkey=prvkey)

    def get_colony(self, colony_name: str, *, prvkey: Optional[str] = None) -> Colony:
        """A colony by name (approved members only)."""
        return self._fetch("getcolonymsg", {"colonyname": colony_name}, Colony.from_dict, prvkey=prvkey)

    def get_colonies(self, *, prvkey: Optional[str] = None) -> list[Colony]:
        """Every colony (server owner only)."""
        return self._fetch("getcoloniesmsg", {}, list_of(Colony.from_dict), prvkey=prvkey)

    def remove_colony(self, colony_name: str, *, prvkey: Optional[str] = None) -> None:
        """Remove a colony with its executors, users and processes (server owner only)."""
        self.rpc("removecolonymsg", {"colonyname": colony_name}, prvkey=prvkey)

    # --- executors ----------------------------------------------------------------------

    def add_executor(self, executor: Union[Executor, Mapping[str, Any]], *, prvkey: Optional[str] = None) -> Executor:
        """Register an executor (colony owner only). It starts PENDING until approved."""
        data = executor.to_dict() if isinstance(executor, Executor) else dict(executor)
        return self._fetch("addexecutormsg", {"executor": data}, Executor.from_dict, prvkey=prvkey)

    def approve_executor(self, colony_name: str, executor_name: str, *, prvkey: Optional[str] = None) -> None:
        """Approve an executor so it may take work (colony owner only)."""
        self.rpc("approveexecutormsg", {"colonyname": colony_name, "executorname": executor_name}, prvkey=prvkey)

    def reject_executor(self, colony_name: str, executor_name: str, *, prvkey: Optional[str] = None) -> None:
        """Reject an executor (colony owner only)."""
        self.rpc("rejectexecutormsg", {"colonyname": colony_name, "executorname": executor_name}, prvkey=prvkey)

    def remove_executor(self, colony_name: str, executor_name: str, *, prvkey: Optional[str] = None) -> None:
        """Unregister an executor (colony owner only); its running processes go back to WAITING."""
        self.rpc("removeexecutormsg", {"colonyname": colony_name, "executorname": executor_name}, prvkey=prvkey)

    def get_executor(self, colony_name: str, executor_name: str, *, prvkey: Optional[str] = None) -> Executor:
        """An executor by name (approved members only)."""
        fields = {"colonyname": colony_name, "executorname": executor_name}
        return self._fetch("getexecutormsg", fields, Executor.from_dict, prvkey=prvkey)

    def get_executor_by_id(self, colony_name: str, executor_id: str, *, prvkey: Optional[str] = None) -> Executor:
        """An executor by id (approved members of its colony only)."""
        fields = {"colonyname": colony_name, "executorid": executor_id}
        return self._fetch("getexecutorbyidmsg", fields, Executor.from_dict, prvkey=prvkey)

    def get_executors(self, colony_name: str, *, prvkey: Optional[str] = None) -> list[Executor]:
        """Every executor of a colony, in any state (any member, even a pending one)."""
        return self._fetch("getexecutorsmsg", {"colonyname": colony_name}, list_of(Executor.from_dict), prvkey=prvkey)

    # --- users --------------------------------------------------------------------------

    def add_user(self, user: Union[User, Mapping[str, Any]], *, prvkey: Optional[str] = None) -> User:
        """Add a user to a colony (colony owner only)."""
        data = user.to_dict() if isinstance(user, User) else dict(user)
        return self._fetch("addusermsg", {"user": data}, User.from_dict, prvkey=prvkey)

    def get_users(self, colony_name: str, *, prvkey: Optional[str] = None) -> list[User]:
        """Every user of a colony (members only)."""
        return self._fetch("getusersmsg", {"colonyname": colony_name}, list_of(User.from_dict), prvkey=prvkey)

    def get_user(self, colony_name: str, name: str, *, prvkey: Optional[str] = None) -> User:
        """A user by name (members only)."""
        return self._fetch("getusermsg", {"colonyname": colony_name, "name": name}, User.from_dict, prvkey=prvkey)

    def remove_user(self, colony_name: str, name: str, *, prvkey: Optional[str] = None) -> None:
        """Remove a user (colony owner only)."""
        self.rpc("removeusermsg", {"colonyname": colony_name, "name": name}, prvkey=prvkey)

    # --- processes ----------------------------------------------------------------------

    def submit_function_spec(
        self, spec: Union[FunctionSpec, Mapping[str, Any]], *, prvkey: Optional[str] = None
    ) -> Process:
        """Submit a function spec; returns the new WAITING process.

        A plain dict goes through ``FunctionSpec.from_dict``, so a missing
        ``maxwaittime``, ``maxexectime`` or ``maxretries`` is sent as -1, never 0.
        The channels named in ``spec.channels`` exist from this moment on.
        """
        if not isinstance(spec, FunctionSpec):
            spec = FunctionSpec.from_dict(spec)
        return self._fetch("submitfuncspecmsg", {"spec": spec.to_dict()}, Process.from_dict, prvkey=prvkey)

    def assign(
        self,
        colony_name: str,
        timeout: float = 10,
        *,
        available_cpu: str = "",
        available_mem: str = "",
        prvkey: Optional[str] = None,
    ) -> Process:
        """Take the next matching WAITING process (executors only).

        With ``timeout > 0`` the server waits up to that many seconds for work
        (a long-poll); with ``timeout < 0`` it tries once. Raises
        :class:`~colonies_sync.NoProcessAvailable` when there is nothing to do.
        The server counts whole seconds, so a fractional timeout is rounded up.
        """
        if timeout == 0:
            raise ValueError("timeout must not be 0: use > 0 to wait, < 0 for a single attempt")
        wire_timeout = -1 if timeout < 0 else max(1, int(-(-timeout // 1)))
        fields: dict[str, Any] = {"colonyname": colony_name, "timeout": wire_timeout}
        if available_cpu:
            fields["availablecpu"] = available_cpu
        if available_mem:
            fields["availablemem"] = available_mem
        if wire_timeout < 0:
            read_timeout = self.timeout  # a single attempt is answered at once, like any call
        else:
            read_timeout = max(self.timeout, wire_timeout + min(self.timeout, _LONG_POLL_MARGIN))
        return self._fetch("assignprocessmsg", fields, Process.from_dict, prvkey=prvkey, timeout=read_timeout)

    def get_process(self, process_id: str, *, prvkey: Optional[str] = None) -> Process:
        """A process by id (approved members of its colony)."""
        return self._fetch("getprocessmsg", {"processid": process_id}, Process.from_dict, prvkey=prvkey)

    def get_processes(
        self,
        colony_name: str,
        state: Union[ProcessState, int] = ProcessState.WAITING,
        count: int = 100,
        *,
        executortype: str = "",
        label: str = "",
        initiator: str = "",
        prvkey: Optional[str] = None,
    ) -> list[Process]:
        """Processes of a colony in one state, at most ``count`` (the server allows 100).

        Only one filter applies on the server, by precedence ``executortype`` >
        ``initiator`` (a *user* name) > ``label``.
        """
        fields = {
            "colonyname": colony_name,
            "count": count,
            "state": int(state),
            "executortype": executortype,
            "label": label,
            "initiator": initiator,
        }
        return self._fetch("getprocessesmsg", fields, list_of(Process.from_dict), prvkey=prvkey)

    def close_process(
        self, process_id: str, output: Optional[Sequence[Any]] = None, *, prvkey: Optional[str] = None
    ) -> None:
        """Close a RUNNING process as SUCCESS (its assigned executor only).

        A non-empty ``output`` list replaces the process output; without one the
        output set earlier is kept. The process's channels are deleted.
        """
        self.rpc("closesuccessfulmsg", {"processid": process_id, "out": _as_list(output, "output")}, prvkey=prvkey)

    def fail_process(
        self,
        process_id: str,
        errors: Union[str, Sequence[str], None] = None,
        *,
        prvkey: Optional[str] = None,
    ) -> None:
        """Close a RUNNING process as FAILED with error messages (its assigned executor only)."""
        if isinstance(errors, str):
            errors = [errors]
        self.rpc("closefailedmsg", {"processid": process_id, "errors": _as_list(errors, "errors")}, prvkey=prvkey)

    def set_output(self, process_id: str, output: Sequence[Any], *, prvkey: Optional[str] = None) -> None:
        """Replace the output of a RUNNING process (an empty list changes nothing)."""
        self.rpc("setoutputmsg", {"processid": process_id, "out": _as_list(output, "output")}, prvkey=prvkey)

    def cancel_process(self, process_id: str, *, prvkey: Optional[str] = None) -> None:
        """Cancel a WAITING or RUNNING process (any approved member)."""
        self.rpc("cancelprocessmsg", {"processid": process_id}, prvkey=prvkey)

    def remove_process(self, process_id: str, *, prvkey: Optional[str] = None) -> None:
        """Delete a process that is not RUNNING (any approved member)."""
        self.rpc("removeprocessmsg", {"processid": process_id, "all": False}, prvkey=prvkey)

    def remove_all_processes(
        self, colony_name: str, state: Union[ProcessState, int] = -1, *, prvkey: Optional[str] = None
    ) -> None:
        """Delete the processes of a colony in ``state``; -1 means all, RUNNING included (colony owner only)."""
        self.rpc("removeallprocessesmsg", {"colonyname": colony_name, "state": int(state)}, prvkey=prvkey)

    def pause_assignments(self, colony_name: str, *, prvkey: Optional[str] = None) -> None:
        """Stop handing out processes in a colony (colony owner only)."""
        self.rpc("pauseassignmentsmsg", {"colonyname": colony_name}, prvkey=prvkey)

    def resume_assignments(self, colony_name: str, *, prvkey: Optional[str] = None) -> None:
        """Hand out processes again after :meth:`pause_assignments` (colony owner only)."""
        self.rpc("resumeassignmentsmsg", {"colonyname": colony_name}, prvkey=prvkey)

    def get_pause_status(self, colony_name: str, *, prvkey: Optional[str] = None) -> bool:
        """True while assignments in the colony are paused."""
        reply = self.rpc("getpausestatusmsg", {"colonyname": colony_name}, prvkey=prvkey)
        return bool(reply.get("ispaused")) if isinstance(reply, dict) else False

    # --- logs and attributes ------------------------------------------------------------

    def add_log(self, process_id: str, message: str, *, prvkey: Optional[str] = None) -> None:
        """Append a log line to a RUNNING process (its assigned executor only)."""
        self.rpc("addlogmsg", {"processid": process_id, "message": message}, prvkey=prvkey)

    def get_logs(
        self,
        colony_name: str,
        process_id: str = "",
        *,
        executor_name: str = "",
        count: int = 100,
        since: int = 0,
        latest: bool = False,
        prvkey: Optional[str] = None,
    ) -> list[Log]:
        """Log lines of a process (or, with ``executor_name``, of an executor).

        ``since`` is Unix nanoseconds (lines strictly newer are returned);
        ``latest=True`` returns the newest ``count`` lines, oldest first. The server
        allows at most 500.
        """
        fields = {
            "colonyname": colony_name,
            "processid": process_id,
            "executorname": executor_name,
            "count": count,
            "since": since,
            "latest": latest,
        }
        return self._fetch("getlogsmsg", fields, list_of(Log.from_dict), prvkey=prvkey)

    def add_attribute(
        self,
        process_id: str,
        key: str,
        value: str,
        *,
        attributetype: Union[AttributeType, int] = AttributeType.OUT,
        colony_name: str = "",
        prvkey: Optional[str] = None,
    ) -> Attribute:
        """Attach a key/value attribute to a RUNNING process (its assigned executor only)."""
        attribute = {
            "targetid": process_id,
            "targetcolonyname": colony_name,
            "key": key,
            "value": value,
            "attributetype": int(attributetype),
        }
        return self._fetch("addattributemsg", {"attribute": attribute}, Attribute.from_dict, prvkey=prvkey)

    def get_attribute(self, attribute_id: str, *, prvkey: Optional[str] = None) -> Attribute:
        """An attribute by id (approved members)."""
        return self._fetch("getattributemsg", {"attributeid": attribute_id}, Attribute.from_dict, prvkey=prvkey)

    # --- channels -----------------------------------------------------------------------

    def channel(self, process_id: str, name: str) -> Channel:
        """A :class:`Channel` handle that numbers its appends itself (the easy way to use channels)."""
        return Channel(self, process_id, name)

    def channel_append(
        self,
        process_id: str,
        channel: str,
        sequence: int,
        in_reply_to: int,
        payload: Union[str, bytes],
        payload_type: str = "",
        *,
        prvkey: Optional[str] = None,
    ) -> None:
        """Append one entry to a channel (the process's submitter or its executor only).

        ``payload`` may be text (sent as UTF-8) or bytes; it travels as base64.
        ``sequence`` is yours to choose, but keep each sender's sequences
        increasing: the server sorts a sender's entries by it, and an entry with a
        smaller sequence than earlier ones moves in front of them and shifts the
        log positions readers count. ``in_reply_to`` names the sequence of the
        entry this one answers (0 for none). ``payload_type`` is ``""`` (stored as
        ``"data"``), ``"data"``, ``"end"`` or ``"error"``. :meth:`channel` numbers
        appends for you.
        """
        if payload_type not in _PAYLOAD_TYPES:
            raise ValueError(f"payload_type must be one of {_PAYLOAD_TYPES}, not {payload_type!r}")
        fields: dict[str, Any] = {
            "processid": process_id,
            "name": channel,
            "sequence": int(sequence),
            "payload": base64.b64encode(_payload_bytes(payload)).decode("ascii"),
        }
        if in_reply_to:
            fields["inreplyto"] = int(in_reply_to)
        if payload_type:
            fields["payloadtype"] = payload_type
        self.rpc("channelappendmsg", fields, prvkey=prvkey)

    def channel_read(
        self,
        process_id: str,
        channel: str,
        after_seq: int = 0,
        limit: int = 100,
        *,
        prvkey: Optional[str] = None,
    ) -> list[MsgEntry]:
        """Entries of a channel from a log *position* on, at most ``limit`` (``0`` means all).

        ``after_seq`` is an index into the log, **not** a sequence number: the
        server skips the first ``after_seq`` entries, whoever wrote them and
        whatever their sequences. The wire name and older SDK docs say otherwise;
        the real server counts positions (PROTOCOL.md 8.5). To poll for new
        entries, pass the number of entries you have already read.
        """
        fields = {"processid": process_id, "name": channel, "afterseq": int(after_seq), "limit": int(limit)}
        return self._fetch("channelreadmsg", fields, list_of(MsgEntry.from_dict), prvkey=prvkey)

    # --- subscriptions and waiting -----------------------------------------------------

    def _start(
        self,
        name: str,
        body: Callable[..., None],
        on_error: Optional[Callable[[BaseException], Any]],
        on_close: Optional[Callable[[], Any]],
    ) -> Subscription:

        def finished(subscription: Subscription) -> None:
            with self._subscriptions_lock:
                self._subscriptions.discard(subscription)

        with self._subscriptions_lock:
            self._check_open()
            # Its thread's on_finish takes this lock, so it cannot run before the add.
            subscription = Subscription(name, body, on_error, on_close, finished)
            self._subscriptions.add(subscription)
        return subscription

    def subscribe_process(
        self,
        colony_name: str,
        process_id: str,
        state: Union[ProcessState, int],
        timeout: float,
        on_process: Callable[[Process], Any],
        on_error: Optional[Callable[[BaseException], Any]] = None,
        on_close: Optional[Callable[[], Any]] = None,
    ) -> Subscription:
        """Call ``on_process`` each time the process is (or enters) ``state``, for ``timeout`` seconds.

        Runs on a thread of its own (see :class:`Subscription`). The server sends
        an event at once if the process is already in the state, then one per
        entry into it. ``timeout`` is measured by this client's clocks (real
        time, and the ``server_clock`` when given): the subscription ends with
        ``on_close`` then, and a connection dropped before (by the network)
        is subscribed again for the time left, without repeating an event; if
        it is still down at the timeout, or the reconnect attempts run out, the
        subscription ends with the connection error instead. The
        server checks no authorisation here, and the process in a SUCCESS event
        may be stale: re-read it with :meth:`get_process` (as :meth:`wait`
        does). ``colony_name`` is sent but the server ignores it.
        """
        if timeout <= 0:
            raise ValueError("timeout must be positive")

        def body(control: Any) -> None:
            for process in process_events(self, process_id, [int(state)], timeout, control):
                if process is not None:
                    on_process(process)

        del colony_name  # the real server does not use it
        return self._start(f"process:{process_id[:8]}", body, on_error, on_close)

    def subscribe_channel(
        self,
        process_id: str,
        channel: str,
        after_seq: int,
        timeout: Optional[float],
        on_entries: Callable[[list[MsgEntry]], Any],
        on_error: Optional[Callable[[BaseException], Any]] = None,
        on_close: Optional[Callable[[], Any]] = None,
        *,
        quiet: float = 1.0,
    ) -> Subscription:
        """Call ``on_entries`` with each batch of channel entries: the history from ``after_seq``, then live.

        ``after_seq`` is a log *position* (see :meth:`channel_read`). Runs on a
        thread of its own (see :class:`Subscription`). The history comes in log
        order, new entries as they are appended. Every entry arrives once: a
        dropped connection is resumed after the last entry delivered (found in
        the log), and the server's occasional double delivery is filtered out.
        A connection that cannot be restored (the reconnect attempts run out,
        or it is still down at ``timeout``) ends it with that error.
        Ends with ``on_close`` when the server ends the subscription at
        ``timeout`` (``None``: never; longer subscriptions are renewed), or when
        the process closes, which the real server reports with silence: after
        ``quiet`` seconds without a frame the process is checked. An entry that
        a sender inserts before entries already delivered (by appending a
        smaller sequence than its earlier ones) is not seen by a resumed
        stream; :class:`Channel` never appends that way.
        """
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be positive, or None for no limit")

        def body(control: Any) -> None:
            for batch in channel_batches(self, process_id, channel, after_seq, timeout, control, quiet=quiet):
                on_entries(batch)

        return self._start(f"channel:{process_id[:8]}/{channel}", body, on_error, on_close)

    def wait_for_running(self, process_id: str, timeout: float = 30, poll_interval: float = 0.5) -> Process:
        """Poll until the process is no longer WAITING, and return it.

        Returns a process that already finished too (check ``.state``). Raises
        :class:`~colonies_sync.WaitTimeout` after ``timeout`` seconds, and
        :class:`~colonies_sync.StreamClosed` at once when the client is
        closed, from any thread.
        """
        deadline = Deadline(timeout, self._server_clock)
        while True:
            process = self.get_process(process_id)  # the closed error once the client is closed
            if process.state is not ProcessState.WAITING:
                return process
            remaining = deadline.left() or 0.0
            if remaining <= 0:
                raise WaitTimeout(f"process {process_id} still WAITING after {timeout:g} s")
            self._closed_event.wait(min(poll_interval, remaining))  # close() ends the pause at once

    def wait_for_state(
        self,
        process_id: str,
        state: Union[ProcessState, int],
        timeout: float = 30,
        *,
        poll_interval: float = 2.0,
    ) -> Process:
        """Wait (over a WebSocket) until the process is in ``state`` or has ended; return it re-read.

        A process that reaches another terminal state cannot reach ``state``
        any more, so it is returned too: check ``.state``. Between events the
        process is polled every ``poll_interval`` seconds, which also covers a
        stream that cannot be opened. Raises :class:`~colonies_sync.WaitTimeout`,
        and :class:`~colonies_sync.StreamClosed` at once when the client is
        closed, from any thread.
        """
        wanted = ProcessState(int(state))
        return self._wait_states(process_id, [wanted], timeout, poll_interval, stop_on_terminal=True)

    def wait(self, process_id: str, timeout: float = 60, *, poll_interval: float = 2.0) -> Process:
        """Wait until the process is SUCCESS, FAILED or CANCELLED and return it, re-read.

        The SUCCESS event of the real server may carry stale output, so the
        process is always read again before it is returned. Raises
        :class:`~colonies_sync.WaitTimeout`, and
        :class:`~colonies_sync.StreamClosed` at once when the client is
        closed, from any thread.
        """
        terminal = [ProcessState.SUCCESS, ProcessState.FAILED, ProcessState.CANCELLED]
        return self._wait_states(process_id, terminal, timeout, poll_interval, stop_on_terminal=True)

    def _wait_states(
        self,
        process_id: str,
        states: list[ProcessState],
        timeout: float,
        poll_interval: float,
        stop_on_terminal: bool,
    ) -> Process:
        deadline = Deadline(timeout, self._server_clock)

        def done(process: Process) -> bool:
            state = process.state  # a state this client does not know stays a plain int
            return state in states or (stop_on_terminal and isinstance(state, ProcessState) and state.is_terminal)

        current = self.get_process(process_id)
        if done(current):
            return current
        while True:
            if deadline.passed():
                raise WaitTimeout(
                    f"process {process_id} not in {[s.name for s in states]} after {timeout:g} s "
                    f"(it is {getattr(current.state, 'name', current.state)})"
                )
            try:
                # Without a control of its own, the stream ends with the closed error, at once, on close().
                for event in process_events(self, process_id, [int(s) for s in states], deadline, quiet=poll_interval):
                    current = self.get_process(process_id)  # an event may be stale: read it again
                    if done(current):
                        return current
                    del event
            except ClientClosed:
                raise
            except ColoniesConnectionError:
                self._closed_event.wait(min(poll_interval, deadline.left() or 0.0))  # close() ends it at once
            current = self.get_process(process_id)
            if done(current):
                return current


_PAYLOAD_TYPES = ("", "data", "end", "error")


def _payload_bytes(payload: Union[str, bytes, bytearray, memoryview]) -> bytes:
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    raise TypeError(f"a channel payload must be str or bytes, not {type(payload).__name__}")


def _as_list(value: Optional[Sequence[Any]], name: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a list, not {type(value).__name__}")
    return list(value)
