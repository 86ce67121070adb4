"""Run a test folder twice: with clients on the in-process transport, and over HTTP to a served fake.

The tests call ``fake.client(key)``; in the ``http`` run that method is patched
to start (once per fake) a :class:`FakeColoniesServer` on 127.0.0.1 and return
a client with the ordinary ``HttpTransport``. The same tests, not copies.
Tests marked ``inprocess_only`` (they reach into the fake's lock or its
in-process transport) are generated for the in-process run only.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional

import pytest

from colonies_fake import FakeColonies, FakeColoniesServer
from colonies_sync import ColoniesClient


def generate(metafunc: pytest.Metafunc) -> None:
    """``pytest_generate_tests`` for the folders that use :func:`transport`."""
    if "transport" in metafunc.fixturenames:
        marked = metafunc.definition.get_closest_marker("inprocess_only") is not None
        metafunc.parametrize("transport", ["inprocess"] if marked else ["inprocess", "http"], indirect=True)


@pytest.fixture(autouse=True)
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Which transport ``fake.client()`` uses in this run of the test."""
    if request.param == "inprocess":
        yield "inprocess"
        return
    servers: list[FakeColoniesServer] = []
    clients: list[ColoniesClient] = []

    def client(self: FakeColonies, prvkey: Optional[str] = None, **kwargs: Any) -> ColoniesClient:
        server = next((s for s in servers if s.fake is self), None)
        if server is None:
            server = FakeColoniesServer(self).start()
            servers.append(server)
        kwargs.setdefault("server_clock", self.server_clock())  # as FakeColonies.client does
        made = ColoniesClient(server.host, server.port, prvkey=prvkey, **kwargs)
        clients.append(made)
        return made

    monkeypatch.setattr(FakeColonies, "client", client)
    yield "http"
    for made in clients:
        made.close()
    for server in servers:
        server.stop()
    errors = [e for server in servers for e in server.errors]
    assert not errors, errors
