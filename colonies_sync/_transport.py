"""The transport seam: how a signed envelope reaches a server and its reply comes back.

A transport has one job, ``call(envelope, timeout) -> RawReply``: send the
request envelope's bytes, return the HTTP status and the raw reply body. It does
not interpret either; ``_rpc`` does. ``HttpTransport`` talks to a real network;
``colonies_fake.InProcessTransport`` hands the same bytes to a fake server in
the same process, so the client's own code always runs.

Foreign exceptions (``requests``) are translated here, once, into
``ColoniesConnectionError``.
"""

from __future__ import annotations

import threading
from typing import NamedTuple, Protocol, runtime_checkable

import requests
import requests.adapters

from colonies_sync._exceptions import ColoniesConnectionError

__all__ = ["HttpTransport", "RawReply", "Transport"]


class RawReply(NamedTuple):
    """What came back for one request: the HTTP status and the body bytes."""

    status: int
    body: bytes


@runtime_checkable
class Transport(Protocol):
    """What ``ColoniesClient`` needs from a way of reaching a server."""

    def call(self, envelope: bytes, *, timeout: float) -> RawReply:
        """Send one request envelope and return the raw reply.

        ``timeout`` is the longest time, in seconds, to wait for the reply.
        Network failures and timeouts raise ``ColoniesConnectionError``.
        """
        ...

    def close(self) -> None:
        """Release connections and threads; further calls fail."""
        ...


class HttpTransport:
    """``POST /api`` over HTTP(S) with a keep-alive ``requests.Session``.

    Safe to share between threads: the connection pool is, and the session keeps
    no per-request state (no cookies are used). ``connect_timeout`` bounds the TCP
    and TLS set-up; the read timeout of each call is the ``timeout`` it is given.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: bool = False,
        verify: bool | str = True,
        connect_timeout: float = 10.0,
        pool_maxsize: int = 32,
    ) -> None:
        scheme = "https" if tls else "http"
        self.base_url = f"{scheme}://{_host_for_url(host)}:{int(port)}"
        self.ws_url = f"{'wss' if tls else 'ws'}://{_host_for_url(host)}:{int(port)}/pubsub"
        self._api_url = self.base_url + "/api"
        self._connect_timeout = connect_timeout
        self._verify = verify
        self._session = requests.Session()
        self._session.trust_env = False  # never route a loopback test through a proxy from the environment
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=1, pool_maxsize=pool_maxsize, max_retries=0, pool_block=False
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._closed = False
        self._lock = threading.Lock()

    def call(self, envelope: bytes, *, timeout: float) -> RawReply:
        """POST the envelope to ``/api`` and return the status and body."""
        if self._closed:
            raise ColoniesConnectionError("the transport is closed")
        try:
            resp = self._session.post(
                self._api_url,
                data=envelope,
                headers={"Content-Type": "application/json"},
                timeout=(min(self._connect_timeout, timeout), timeout),
                verify=self._verify,
            )
            body = resp.content
        except requests.Timeout as exc:
            raise ColoniesConnectionError(f"no reply from {self.base_url} within {timeout:g} s") from exc
        except requests.RequestException as exc:
            raise ColoniesConnectionError(f"cannot reach {self.base_url}: {exc}") from exc
        return RawReply(resp.status_code, body)

    def close(self) -> None:
        """Close every pooled connection. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._session.close()

    def __repr__(self) -> str:
        return f"HttpTransport({self.base_url!r})"


def _host_for_url(host: str) -> str:
    # A bare IPv6 literal needs brackets in a URL.
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
