"""The pytest plugin registered through ``pytest11`` provides working fixtures."""

from __future__ import annotations

import os

import pytest

from colonies_fake import FakeColoniesServer


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


def test_a_new_project_uses_colonies_client_with_no_conftest(pytester: pytest.Pytester) -> None:
    # A subprocess, as a user's own pytest run: the plugin comes only from the pytest11 entry point.
    pytester.makepyfile(
        test_my_code="""
        from colonies_sync import FunctionSpec, ProcessState

        def submit_and_run(client, colony):
            process = client.submit_function_spec(FunctionSpec.create("hello", colony, "test", args=["world"]))
            assigned = client.assign(colony, timeout=-1)
            client.close_process(assigned.processid, output=["hello " + assigned.spec.args[0]])
            return client.get_process(process.processid)

        def test_my_code(colonies_client, colonies_colony):
            done = submit_and_run(colonies_client, colonies_colony.name)
            assert done.state is ProcessState.SUCCESS
            assert done.out == ["hello world"]
        """
    )
    assert not list(pytester.path.glob("conftest.py"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_colonies_server_is_shared_and_reset_between_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from colonies_sync import ColoniesClient

        PORTS = []

        def _check(colonies_server):
            PORTS.append(colonies_server.port)
            fake = colonies_server.fake
            assert fake.colonies() == []  # reset: the other test's colony is gone
            fake.add_colony("dev")
            worker = fake.add_executor("dev", "w", "cli")
            with ColoniesClient("127.0.0.1", colonies_server.port, prvkey=worker.prvkey) as client:
                assert client.get_colony("dev").name == "dev"

        def test_one(colonies_server):
            _check(colonies_server)

        def test_two(colonies_server):
            _check(colonies_server)
            assert PORTS[0] == PORTS[1]  # one server for the session
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_errors_inside_the_served_fake_fail_the_test_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_server_bug(colonies_server):
            colonies_server._errors.append(RuntimeError("connection handler crashed"))

        def test_next_test_starts_clean(colonies_server):
            assert list(colonies_server.errors) == []
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*connection handler crashed*"])


def test_colonies_backend_runs_each_test_in_process_and_over_http(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        """
        import pytest
        from colonies_sync import FunctionSpec, ProcessState

        def test_lifecycle(colonies_backend):
            colony = colonies_backend.colony()
            worker = colonies_backend.executor(colony, executortype="t")
            client = colonies_backend.client(worker.prvkey)
            pid = client.submit_function_spec(FunctionSpec.create("f", colony.name, "t")).processid
            client.assign(colony.name, timeout=-1)
            client.close_process(pid)
            assert client.get_process(pid).state is ProcessState.SUCCESS

        @pytest.mark.fake_only
        def test_fake_only(colonies_backend):
            assert colonies_backend.fake is not None

        @pytest.mark.real_only
        def test_real_only(colonies_backend):
            assert colonies_backend.fake is None
        """
    )
    for name in [n for n in os.environ if n.startswith("COLONIES_TEST_")]:
        monkeypatch.delenv(name)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs")
    # lifecycle: inprocess + http pass, real skipped; fake_only: 2 pass, real skipped; real_only: 3 skipped
    result.assert_outcomes(passed=4, skipped=5)
    result.stdout.fnmatch_lines(["*the real-server variant runs with --colonies-real*"])

    result = pytester.runpytest("-p", "no:cacheprovider", "-rs", "--colonies-real", "-k", "lifecycle")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["*no real ColonyOS configured: set COLONIES_TEST_SERVER_HOST*"])


def test_colonies_backend_real_variant_runs_against_a_server_named_by_the_variables(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, colonies_server: FakeColoniesServer
) -> None:
    # The served fake stands in for a real ColonyOS: the variant only needs the variables.
    monkeypatch.setenv("COLONIES_TEST_SERVER_HOST", "127.0.0.1")
    monkeypatch.setenv("COLONIES_TEST_SERVER_PORT", str(colonies_server.port))
    monkeypatch.setenv("COLONIES_TEST_SERVER_PRVKEY", colonies_server.fake.server_prvkey)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.real_only
        def test_real(colonies_backend):
            colony = colonies_backend.colony()
            worker = colonies_backend.executor(colony)
            assert colonies_backend.client(worker.prvkey).get_colony(colony.name).name == colony.name
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--colonies-real")
    result.assert_outcomes(passed=1, skipped=2)
    assert colonies_server.fake.colonies() == []  # the backend removed the colony it made


def test_every_fixture_can_be_overridden(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def colonies_colony(colonies_fake):
            return colonies_fake.add_colony("my-colony")

        @pytest.fixture
        def colonies_executor(colonies_fake, colonies_colony):
            return colonies_fake.add_executor(colonies_colony.name, "gpu-worker", "gpu")
        """
    )
    pytester.makepyfile(
        """
        def test_overrides_flow_into_colonies_client(colonies_client):
            executor = colonies_client.get_executor("my-colony", "gpu-worker")
            assert executor.executortype == "gpu"
            assert executor.executorid == colonies_client.id
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
