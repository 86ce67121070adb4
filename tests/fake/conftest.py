"""Fixtures: a fresh fake on a FakeClock (the package's ``colonies_fake`` fixture), a colony
``dev`` with an approved executor, and clients signed as each role."""

from __future__ import annotations

from typing import Iterator

import pytest

pytest.register_assert_rewrite("tests.fake.helpers")

from colonies_fake import ColonyKeys, ExecutorKeys, FakeColonies  # noqa: E402
from colonies_sync import ColoniesClient, Crypto  # noqa: E402
from tests.fake.helpers import Threads  # noqa: E402


@pytest.fixture
def fake(colonies_fake: FakeColonies) -> FakeColonies:
    return colonies_fake


@pytest.fixture
def colony(fake: FakeColonies) -> ColonyKeys:
    return fake.add_colony("dev")


@pytest.fixture
def worker(fake: FakeColonies, colony: ColonyKeys) -> ExecutorKeys:
    return fake.add_executor("dev", "worker-1", "test")


@pytest.fixture
def wc(fake: FakeColonies, worker: ExecutorKeys) -> ColoniesClient:
    """A client signed by the approved executor ``worker-1`` of ``dev``."""
    return fake.client(worker.prvkey)


@pytest.fixture
def owner(fake: FakeColonies, colony: ColonyKeys) -> ColoniesClient:
    """A client signed by the colony owner of ``dev``."""
    return fake.client(colony.prvkey)


@pytest.fixture
def server_owner(fake: FakeColonies) -> ColoniesClient:
    return fake.client(fake.server_prvkey)


@pytest.fixture
def stranger(fake: FakeColonies) -> ColoniesClient:
    """A client signed by a key the server has never heard of."""
    return fake.client(Crypto().generate_private_key())


@pytest.fixture
def threads(fake: FakeColonies) -> Iterator[Threads]:
    """Background calls; every one is joined before the fake is closed."""
    pool = Threads(fake)
    try:
        yield pool
    finally:
        pool.shutdown()


# --- every role of PROTOCOL.md section 4, as a client --------------------------------------

APPROVED_MEMBERS = ["executor", "user"]
NOT_APPROVED_MEMBERS = ["pending", "rejected", "colony-owner", "server-owner", "stranger", "other-colony-executor"]
ANY_MEMBERS = ["executor", "user", "pending", "rejected"]
NOT_ANY_MEMBERS = ["colony-owner", "server-owner", "stranger", "other-colony-executor"]
NOT_COLONY_OWNER = ["server-owner", "executor", "user", "stranger", "other-colony-owner"]
NOT_SERVER_OWNER = ["colony-owner", "executor", "user", "stranger"]


@pytest.fixture
def roles(fake: FakeColonies, colony: ColonyKeys, worker: ExecutorKeys) -> dict[str, ColoniesClient]:
    """Clients for: an approved executor (worker-1) and a user (alice) of ``dev``; a pending and a
    rejected executor of ``dev``; the colony owner; the server owner; an unknown key; an approved
    executor and the owner of another colony ``prod``."""
    prod = fake.add_colony("prod")
    rejected = fake.add_executor("dev", "rejected-1", "test", approved=False)
    fake.client(colony.prvkey).reject_executor("dev", "rejected-1")
    keys = {
        "executor": worker.prvkey,
        "user": fake.add_user("dev", "alice").prvkey,
        "pending": fake.add_executor("dev", "pending-1", "test", approved=False).prvkey,
        "rejected": rejected.prvkey,
        "colony-owner": colony.prvkey,
        "server-owner": fake.server_prvkey,
        "stranger": Crypto().generate_private_key(),
        "other-colony-executor": fake.add_executor("prod", "prod-worker", "test").prvkey,
        "other-colony-owner": prod.prvkey,
    }
    return {name: fake.client(key) for name, key in keys.items()}


from tests._transports import generate as pytest_generate_tests  # noqa: E402,F401  (in-process and HTTP)
from tests._transports import transport  # noqa: E402,F401
