"""With a RealClock, deadlines and long-polls fire in real time (PROTOCOL.md 7.3, 7.4).

These are the only fake tests that take real seconds: they prove the fake also
works unattended, as a served fake on a developer's machine.
"""

from __future__ import annotations

import time

import pytest

from colonies_fake import FakeColonies, RealClock
from colonies_sync import FunctionSpec, NoProcessAvailable, ProcessState


@pytest.fixture
def real_fake():
    fake = FakeColonies(clock=RealClock())
    fake.add_colony("dev")
    yield fake
    fake.close()
    assert not fake.errors, fake.errors


def test_a_wait_deadline_fails_the_process_within_two_seconds_of_it(real_fake: FakeColonies) -> None:
    user = real_fake.add_user("dev", "alice")
    client = real_fake.client(user.prvkey)
    pid = client.submit_function_spec(FunctionSpec.create("f", "dev", "nobody", maxwaittime=1)).processid
    started = time.monotonic()
    real_fake.wait_until(lambda: real_fake.process(pid).state is ProcessState.FAILED, timeout=5)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed <= 3.0, elapsed
    assert real_fake.process(pid).errors == ["Maximum waiting time limit exceeded"]


def test_an_assign_long_poll_times_out_in_real_time(real_fake: FakeColonies) -> None:
    worker = real_fake.add_executor("dev", "w", "cli")
    client = real_fake.client(worker.prvkey)
    started = time.monotonic()
    with pytest.raises(NoProcessAvailable):
        client.assign("dev", timeout=1)
    assert 0.9 <= time.monotonic() - started <= 3.0
