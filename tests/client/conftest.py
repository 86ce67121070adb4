"""A small world on an in-process fake: one colony, two executors, a user, and their clients."""

from __future__ import annotations

from typing import Iterator

import attrs
import pytest

from colonies_fake import ColonyKeys, ExecutorKeys, FakeClock, FakeColonies, UserKeys
from colonies_sync import ColoniesClient


@attrs.define
class World:
    fake: FakeColonies
    colony: ColonyKeys
    worker: ExecutorKeys
    other: ExecutorKeys
    user: UserKeys
    server: ColoniesClient
    owner: ColoniesClient
    executor: ColoniesClient
    other_executor: ColoniesClient
    submitter: ColoniesClient


@pytest.fixture
def world() -> Iterator[World]:
    fake = FakeColonies(clock=FakeClock())
    colony = fake.add_colony("dev")
    worker = fake.add_executor("dev", "worker-1", "cli")
    other = fake.add_executor("dev", "worker-2", "cli")
    user = fake.add_user("dev", "alice")
    clients = [fake.client(k) for k in (fake.server_prvkey, colony.prvkey, worker.prvkey, other.prvkey, user.prvkey)]
    yield World(fake, colony, worker, other, user, *clients)
    for client in clients:
        client.close()
    fake.close()
    assert not fake.errors, fake.errors


from tests._transports import generate as pytest_generate_tests  # noqa: E402,F401  (in-process and HTTP)
from tests._transports import transport  # noqa: E402,F401
