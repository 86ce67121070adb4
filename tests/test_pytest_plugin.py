"""The pytest plugin registered through ``pytest11`` provides working fixtures."""

from __future__ import annotations

import pytest


def test_colonies_fake_fixture_needs_no_setup(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from colonies_fake import FakeClock, FakeColonies
        from colonies_sync import FunctionSpec, ProcessState

        def test_lifecycle(colonies_fake):
            assert isinstance(colonies_fake, FakeColonies)
            assert isinstance(colonies_fake.clock, FakeClock)
            colonies_fake.add_colony("dev")
            worker = colonies_fake.add_executor("dev", "w", "cli")
            client = colonies_fake.client(worker.prvkey)
            pid = client.submit_function_spec(FunctionSpec.create("f", "dev", "cli")).processid
            client.assign("dev", timeout=-1)
            client.close_process(pid)
            assert colonies_fake.process(pid).state is ProcessState.SUCCESS

        def test_each_test_gets_a_fresh_fake(colonies_fake):
            colonies_fake.add_colony("dev")  # would clash if the previous test's fake were reused
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_errors_recorded_inside_the_fake_fail_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_bug_inside_the_fake(colonies_fake):
            colonies_fake.errors.append(RuntimeError("handler crashed"))
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*recorded internal errors*handler crashed*"])


def test_the_fixture_can_be_overridden_in_conftest(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest
        from colonies_fake import FakeColonies, RealClock

        @pytest.fixture
        def colonies_fake():
            fake = FakeColonies(clock=RealClock())
            yield fake
            fake.close()
        """
    )
    pytester.makepyfile(
        """
        from colonies_fake import RealClock

        def test_uses_the_override(colonies_fake):
            assert isinstance(colonies_fake.clock, RealClock)
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
