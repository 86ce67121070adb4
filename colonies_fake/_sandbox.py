"""Sandbox: a served fake with a colony and its parties, for examples, notebooks and demos.

``with Sandbox() as sandbox:`` serves a fresh fake on 127.0.0.1 (real time) with
a colony, approved executors and a user, and hands out clients for them.
``sandbox.env()`` gives the ``COLONIES_*`` variables a program reads, so code
written for a real server (``ColoniesClient.from_env(env)``) runs against it
unchanged.

``Sandbox(ssl_context=...)`` serves it over TLS; its clients then speak TLS
too, and are given ``verify=`` (the CA bundle that signed the certificate) by
the caller.
"""

from __future__ import annotations

import ssl
from typing import Any, Optional

from colonies_fake._clock import Clock, RealClock
from colonies_fake._core import FakeColonies
from colonies_fake._keys import ColonyKeys, ExecutorKeys, UserKeys
from colonies_fake._http import FakeColoniesServer
from colonies_sync import ColoniesClient

__all__ = ["Sandbox"]


class Sandbox:
    """A fake ColonyOS served on a local port, with colony ``colony``, executors and a user.

    Executors are named ``executor-1``... of type ``executor_type``; the user is
    ``user``. Use it as a context manager, or ``start()``/``stop()``.
    ``ssl_context`` serves it over TLS, as ``FakeColoniesServer`` does.
    """

    def __init__(
        self,
        colony: str = "dev",
        executor_type: str = "cli",
        executors: int = 1,
        *,
        clock: Optional[Clock] = None,
        rate_limit: bool = True,
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None:
        self.fake = FakeColonies(clock=clock or RealClock(), rate_limit=rate_limit)
        self.colony: ColonyKeys = self.fake.add_colony(colony)
        self.executors: list[ExecutorKeys] = [
            self.fake.add_executor(colony, f"executor-{i + 1}", executor_type) for i in range(executors)
        ]
        self.user: UserKeys = self.fake.add_user(colony, "user")
        self.server = FakeColoniesServer(self.fake, ssl_context=ssl_context)
        self._clients: list[ColoniesClient] = []

    def start(self) -> Sandbox:
        """Start serving (a no-op if already serving)."""
        if not self.server.running:
            self.server.start()
        return self

    def stop(self) -> None:
        """Close the clients handed out, stop serving and close the fake."""
        for client in self._clients:
            client.close()
        self.server.stop()
        self.fake.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def executor(self) -> ExecutorKeys:
        """The first executor."""
        return self.executors[0]

    def client(self, who: str = "user", **kwargs: Any) -> ColoniesClient:
        """A client over HTTP, signed as ``"user"``, ``"executor"`` (the first), ``"executor-N"`` or ``"owner"``.

        ``kwargs`` go to :class:`~colonies_sync.ColoniesClient` (``verify=`` with TLS, ``timeout=``...).
        """
        keys = {"user": self.user.prvkey, "executor": self.executor.prvkey, "owner": self.colony.prvkey}
        keys.update({e.name: e.prvkey for e in self.executors})
        if who not in keys:
            raise ValueError(f"no party {who!r} here: {sorted(keys)}")
        kwargs.setdefault("tls", self.server.tls)
        kwargs.setdefault("server_clock", self.fake.server_clock())
        made = ColoniesClient(self.server.host, self.server.port, prvkey=keys[who], **kwargs)
        self._clients.append(made)
        return made

    def env(self, who: str = "executor") -> dict[str, str]:
        """The ``COLONIES_*`` variables for a program that reads its setup from the environment.

        ``COLONIES_PRVKEY`` is ``who``'s key (the first executor's by default);
        ``COLONIES_USER_PRVKEY`` is the user's, for the submitting side.
        """
        keys = {"user": self.user.prvkey, "executor": self.executor.prvkey}
        tls = "true" if self.server.tls else "false"
        return {
            "COLONIES_USER_PRVKEY": self.user.prvkey,
            "COLONIES_SERVER_HOST": self.server.host,
            "COLONIES_SERVER_PORT": str(self.server.port),
            "COLONIES_TLS": tls,
            "COLONIES_SERVER_TLS": tls,
            "COLONIES_COLONY_NAME": self.colony.name,
            "COLONIES_PRVKEY": keys[who],
            "COLONIES_EXECUTOR_TYPE": self.executor.type,
        }

    def __repr__(self) -> str:
        return f"Sandbox(url={self.server.url!r}, colony={self.colony.name!r}, executors={len(self.executors)})"
