"""No private key is ever shown: not in a repr, an HTML repr, a log line or an exception message."""

from __future__ import annotations

import logging
import threading

import pytest

from colonies_fake import FakeClock, FakeColonies, FakeColoniesServer, Sandbox
from colonies_fake.pytest_plugin import ColoniesBackend
from colonies_sync import ColoniesClient, Crypto, FunctionSpec, InvalidPrivateKey


def _shown(obj: object) -> str:
    texts = [repr(obj), str(obj)]
    html = getattr(obj, "_repr_html_", None)
    if html is not None:
        texts.append(html())
    return "\n".join(texts)


def test_keys_never_appear_in_reprs_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server_key = Crypto().generate_private_key()
    fake = FakeColonies(clock=FakeClock(), server_prvkey=server_key)
    colony = fake.add_colony("dev")
    worker = fake.add_executor("dev", "w", "cli")
    user = fake.add_user("dev", "u")
    secrets = [server_key, colony.prvkey, worker.prvkey, user.prvkey]
    shown = []
    with FakeColoniesServer(fake) as server:
        client = ColoniesClient("127.0.0.1", server.port, prvkey=user.prvkey)
        executor = fake.client(worker.prvkey)
        process = client.submit_function_spec(FunctionSpec.create("f", "dev", "cli", channels=["c"]))
        executor.assign("dev", timeout=-1)
        channel = client.channel(process.processid, "c")
        channel.append("hello")
        got = threading.Event()
        subscription = client.subscribe_channel(process.processid, "c", 0, 10, lambda batch: got.set())
        assert got.wait(5)
        shown += [_shown(o) for o in (fake, server, client, executor, colony, worker, user, process, channel)]
        shown += [_shown(channel.read()[0]), _shown(subscription), _shown(client.transport)]
        subscription.close()
        backend = ColoniesBackend("http", server_key, server.host, server.port, fake)
        shown.append(_shown(backend))
        client.close()
        executor.close()
    with Sandbox() as sandbox:
        shown.append(_shown(sandbox))
        secrets += [sandbox.user.prvkey, sandbox.executor.prvkey, sandbox.colony.prvkey, sandbox.fake.server_prvkey]
    bad = "f" * 64  # beyond the curve order: refused, and must not be echoed
    with pytest.raises(InvalidPrivateKey) as info:
        ColoniesClient(prvkey=bad)
    shown.append(str(info.value))
    with pytest.raises(InvalidPrivateKey) as info:
        Crypto().sign("payload", "ab" * 31 + "zz")
    shown.append(str(info.value))
    shown += [record.getMessage() for record in caplog.records]
    text = "\n".join(shown)
    assert text  # something was looked at
    for secret in [*secrets, bad]:
        assert secret not in text
    fake.close()
