"""The pytest plugin registered through ``pytest11`` provides working fixtures."""

from __future__ import annotations

import os
import re
import ssl
from pathlib import Path
from typing import Iterator

import pytest
import trustme

from colonies_fake import FakeClock, FakeColonies, FakeColoniesServer
from colonies_sync import ColoniesClient, ExecutorState, FunctionSpec, ProcessState


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


# --- the real backend over TLS ------------------------------------------------------------------------


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[FakeColoniesServer, str]]:
    """A fake served over TLS on 127.0.0.1 (standing in for a real ColonyOS behind TLS), and its CA bundle's path."""
    ca = trustme.CA()
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    fake = FakeColonies(clock=FakeClock(real_time_cap=False))
    server = FakeColoniesServer(fake, ssl_context=context).start()
    try:
        yield server, str(ca_path)
    finally:
        server.stop()
        errors = server.errors
        fake.close()
    assert errors == []


def real_variables(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    """Name the real server by ``COLONIES_TEST_<NAME>`` variables, and no others."""
    for name in [n for n in os.environ if n.startswith("COLONIES_TEST_")]:
        monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(f"COLONIES_TEST_{name.upper()}", value)


def test_the_real_backend_speaks_https_and_wss_with_the_ca_it_is_given(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tls_server: tuple[FakeColoniesServer, str]
) -> None:
    server, ca_path = tls_server
    real_variables(
        monkeypatch,
        server_host="127.0.0.1",
        server_port=str(server.port),
        server_prvkey=server.fake.server_prvkey,
        server_tls="true",
        server_ca=ca_path,
    )
    pytester.makepyfile(
        f"""
        import threading

        import pytest
        import requests
        import websocket
        from colonies_sync import Crypto, FunctionSpec, ProcessState
        from colonies_sync._rpc import decode_reply, encode_request

        @pytest.mark.real_only
        def test_over_tls(colonies_backend):
            assert colonies_backend.kind == "real"
            assert (colonies_backend.tls, colonies_backend.verify) == (True, {ca_path!r})
            assert colonies_backend.url == "https://127.0.0.1:{server.port}"
            assert colonies_backend.ws_url == "wss://127.0.0.1:{server.port}/pubsub"
            colony = colonies_backend.colony()  # with the server key, over https
            worker = colonies_backend.executor(colony, executortype="t")
            client = colonies_backend.client(worker.prvkey)
            assert client.tls
            pid = client.submit_function_spec(FunctionSpec.create("f", colony.name, "t")).processid
            running = threading.Event()
            subscription = client.subscribe_process(  # over wss
                colony.name, pid, ProcessState.RUNNING, 30, lambda p: running.set(), on_error=print
            )
            client.assign(colony.name, timeout=-1)
            assert running.wait(10)
            subscription.close()

        @pytest.mark.real_only
        def test_code_without_a_client_gets_the_same_settings(colonies_backend):
            # What the golden replay needs: raw POSTs to url + "/api", and a WebSocket to ws_url.
            version = encode_request({{"msgtype": "versionmsg", "buildversion": "", "buildtime": ""}}, None, Crypto())
            with requests.Session() as session:
                session.trust_env = False
                reply = session.post(colonies_backend.url + "/api", data=version, verify=colonies_backend.verify)
            assert decode_reply(reply.status_code, reply.content)[1]["buildversion"] == "colonies-fake"
            ws = websocket.create_connection(
                colonies_backend.ws_url, timeout=10, sslopt={{"context": colonies_backend.ssl_context()}}
            )
            ws.close()
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--colonies-real")
    result.assert_outcomes(passed=2, skipped=4)
    assert server.fake.colonies() == []  # the colony made over https was removed over https


def test_the_real_backend_checks_the_certificate_by_default(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tls_server: tuple[FakeColoniesServer, str]
) -> None:
    server, _ = tls_server
    real_variables(
        monkeypatch,
        server_host="127.0.0.1",
        server_port=str(server.port),
        server_prvkey=server.fake.server_prvkey,
        server_tls="true",
    )
    pytester.makepyfile(
        """
        import pytest
        from colonies_sync import CertificateVerificationError

        @pytest.mark.real_only
        def test_a_private_ca_is_not_trusted_unless_named(colonies_backend):
            assert colonies_backend.verify is True
            assert colonies_backend.ssl_context().verify_mode.name == "CERT_REQUIRED"
            with pytest.raises(CertificateVerificationError):
                colonies_backend.colony()
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--colonies-real")
    result.assert_outcomes(passed=1, skipped=2)
    assert server.fake.colonies() == []


def test_without_tls_the_backend_speaks_plain_http(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, colonies_server: FakeColoniesServer
) -> None:
    real_variables(
        monkeypatch,
        server_host="127.0.0.1",
        server_port=str(colonies_server.port),
        server_prvkey=colonies_server.fake.server_prvkey,
        server_tls="false",
    )
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.real_only
        def test_plain(colonies_backend):
            assert colonies_backend.tls is False and colonies_backend.ssl_context() is None
            assert colonies_backend.url == "http://127.0.0.1:{colonies_server.port}"
            assert colonies_backend.ws_url == "ws://127.0.0.1:{colonies_server.port}/pubsub"
            colony = colonies_backend.colony()
            assert colonies_backend.client(colony.prvkey).tls is False
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--colonies-real")
    result.assert_outcomes(passed=1, skipped=2)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"server_tls": "maybe"}, "COLONIES_TEST_SERVER_TLS must be true or false, not 'maybe'"),
        (
            {"server_ca": "/nonexistent/ca.pem"},
            "COLONIES_TEST_SERVER_CA is set but COLONIES_TEST_SERVER_TLS is not true",
        ),
        (
            {"server_tls": "true", "server_ca": "/nonexistent/ca.pem"},
            "COLONIES_TEST_SERVER_CA: verify='/nonexistent/ca.pem': cannot load a CA bundle from it*",
        ),
    ],
    ids=["tls-not-a-boolean", "ca-without-tls", "ca-unreadable"],
)
def test_bad_tls_settings_are_errors_that_say_which_variable(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], message: str
) -> None:
    real_variables(monkeypatch, server_host="127.0.0.1", server_port="1", server_prvkey="00" * 32, **variables)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.real_only
        def test_never_runs(colonies_backend):
            raise AssertionError("the backend should not have been made")
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--colonies-real")
    result.assert_outcomes(errors=1, skipped=2)
    result.stdout.fnmatch_lines([f"*{message}"])
    result.stdout.no_fnmatch_line("*should not have been made*")


# --- cleanup in a colony the backend did not create --------------------------------------------------


class SharedColony:
    """A colony on the served fake, standing in for one on a real ColonyOS that the tests are given.

    It already holds what is not the tests': an executor ``resident``, a user ``keeper`` and a process
    that ``keeper`` submitted, waiting.
    """

    def __init__(self, server: FakeColoniesServer) -> None:
        fake = server.fake
        self.keys = fake.add_colony("shared")
        fake.add_executor("shared", "resident", "other")
        self.keeper = fake.add_user("shared", "keeper")
        self.server = server
        with self.client() as keeper:
            self.theirs = keeper.submit_function_spec(FunctionSpec.create("theirs", "shared", "other")).processid

    def client(self) -> ColoniesClient:
        return ColoniesClient("127.0.0.1", self.server.port, prvkey=self.keeper.prvkey)

    def contents(self) -> tuple[set[str], set[str], dict[str, str]]:
        """The executors still registered, the users, and the processes (id: state), as the server tells them."""
        with self.client() as keeper:
            executors = {
                e.executorname for e in keeper.get_executors("shared") if e.state != ExecutorState.UNREGISTERED
            }
            users = {u.name for u in keeper.get_users("shared")}
            processes = {
                p.processid: p.state.name for state in ProcessState for p in keeper.get_processes("shared", state)
            }
        return executors, users, processes


@pytest.fixture
def shared(colonies_server: FakeColoniesServer, monkeypatch: pytest.MonkeyPatch) -> SharedColony:
    """The served fake's colony ``shared``, given to the real backend by name and owner key (no server key)."""
    colony = SharedColony(colonies_server)
    real_variables(
        monkeypatch,
        server_host="127.0.0.1",
        server_port=str(colonies_server.port),
        colony_name=colony.keys.name,
        colony_prvkey=colony.keys.prvkey,
    )
    return colony


def test_what_a_test_made_in_a_given_colony_is_removed_after_it(
    pytester: pytest.Pytester, shared: SharedColony
) -> None:
    pytester.makepyfile(
        """
        import pytest
        from colonies_sync import Executor, FunctionSpec, ProcessState

        @pytest.mark.real_only
        def test_makes_things(colonies_backend):
            colony = colonies_backend.colony()
            assert colony.name == "shared"  # the given colony, not one of the test's own
            worker = colonies_backend.executor(colony, executortype="t")
            pending = colonies_backend.executor(colony, executortype="t", approved=False)
            user = colonies_backend.user(colony)
            gone = colonies_backend.user(colony)
            owner = colonies_backend.client(colony.prvkey)
            owner.add_executor(  # made without the helper: recorded all the same
                Executor(executorid="ab" * 32, executortype="t", executorname="by-hand", colonyname=colony.name)
            )
            owner.remove_user(colony.name, gone.name)  # removed by the test itself: not removed again
            w, u = colonies_backend.client(worker.prvkey), colonies_backend.client(user.prvkey)
            done = u.submit_function_spec(FunctionSpec.create("f", colony.name, "t")).processid
            assert w.assign(colony.name, timeout=-1).processid == done
            w.close_process(done)
            running = w.submit_function_spec(FunctionSpec.create("f", colony.name, "t")).processid
            assert w.assign(colony.name, timeout=-1).processid == running
            waiting = u.submit_function_spec(FunctionSpec.create("f", colony.name, "t")).processid
            removed = u.submit_function_spec(FunctionSpec.create("f", colony.name, "t")).processid
            u.remove_process(removed)
            leaving = colonies_backend.executor(colony, executortype="t")
            orphan = colonies_backend.client(leaving.prvkey).submit_function_spec(
                FunctionSpec.create("f", colony.name, "elsewhere")
            ).processid
            owner.remove_executor(colony.name, leaving.name)  # its process is then removed with another member's key
            states = {p: u.get_process(p).state for p in (done, running, waiting, orphan)}
            assert states == {
                done: ProcessState.SUCCESS,
                running: ProcessState.RUNNING,
                waiting: ProcessState.WAITING,
                orphan: ProcessState.WAITING,
            }
            assert worker.prvkey not in repr(colonies_backend) and user.prvkey not in repr(colonies_backend)
            print("made:", worker.name, pending.name, user.name)
        """
    )
    assert shared.contents() == ({"resident"}, {"keeper"}, {shared.theirs: "WAITING"})
    result = pytester.runpytest("-p", "no:cacheprovider", "--colonies-real", "-s")
    result.assert_outcomes(passed=1, skipped=2)
    assert re.search(r"made: executor-\w+ executor-\w+ user-\w+", result.stdout.str())
    # Only what was there before is left: the test's executors are unregistered, its users and processes gone.
    assert shared.contents() == ({"resident"}, {"keeper"}, {shared.theirs: "WAITING"})


def test_what_cannot_be_removed_is_an_error_that_leaves_the_test_s_own_failure_standing(
    pytester: pytest.Pytester, shared: SharedColony
) -> None:
    pytester.makepyfile(
        """
        import pytest
        from colonies_sync import FunctionSpec

        @pytest.mark.real_only
        def test_strands_a_process(colonies_backend):
            colony = colonies_backend.colony()
            colonies_backend.executor(colony, name="pending-one", approved=False)
            user = colonies_backend.user(colony)
            pid = colonies_backend.client(user.prvkey).submit_function_spec(
                FunctionSpec.create("f", colony.name, "t")
            ).processid
            print("stranded:", pid)
            # With its only member gone, the backend has no key left that may remove the process.
            colonies_backend.client(colony.prvkey).remove_user(colony.name, user.name)
            assert False, "the test's own failure"
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--colonies-real", "-s")
    result.assert_outcomes(failed=1, errors=1, skipped=2)
    result.stdout.fnmatch_lines(["*the test's own failure*"])
    result.stdout.fnmatch_lines(
        [
            "*CleanupError: colonies_backend could not remove what it made; it may still be on the server:",
            "*process * in colony 'shared': Forbidden: 403: *",
        ]
    )
    found = re.search(r"stranded: ([0-9a-f]{64})", result.stdout.str())
    assert found is not None
    stranded = found.group(1)
    executors, users, processes = shared.contents()
    assert processes == {shared.theirs: "WAITING", stranded: "WAITING"}  # reported, and left
    assert (executors, users) == ({"resident"}, {"keeper"})  # the rest was still removed
