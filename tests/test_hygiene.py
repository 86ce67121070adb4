"""The whole-suite hygiene checks (tests/_hygiene.py) fail a run that leaks, and pass one that does not."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest('pytest_plugins = ["tests._hygiene"]')
    return pytester


def run(project: pytest.Pytester, body: str) -> pytest.RunResult:
    project.makepyfile(test_it=body)
    return project.runpytest_subprocess("-p", "no:cacheprovider")


def test_a_clean_run_passes(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
        import logging
        from colonies_fake import FakeColonies

        def test_clean():
            fake = FakeColonies()
            keys = fake.add_executor(fake.add_colony("dev").name, "w", "t")
            logging.getLogger("colonies_fake").debug("made executor %s", keys.id)
            fake.close()
        """,
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*hygiene: * keys checked*no leaked threads or file descriptors*"])


def test_a_key_in_a_log_record_fails_the_run(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
        import logging
        from colonies_sync import Crypto

        def test_leaky():
            logging.getLogger("colonies_sync").debug("signing with %s", Crypto().generate_private_key())
        """,
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*a private key leaked into a log record of colonies_sync*"])


def test_a_key_in_an_error_message_fails_the_run(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
        from colonies_sync import ColoniesError, Crypto

        def test_leaky():
            ColoniesError("bad key " + Crypto().generate_private_key())
        """,
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*a private key leaked into a ColoniesError message*"])


def test_a_socket_left_open_fails_the_run(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
        import socket

        KEEP = []

        def test_leaky():
            KEEP.append(socket.socket())
        """,
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*file descriptor left open: * -> socket:*"])


def test_a_thread_left_running_fails_the_run(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
        import threading

        STOP = threading.Event()

        def test_leaky():
            threading.Thread(target=STOP.wait, name="forgotten", daemon=True).start()
        """,
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*thread left running: forgotten*"])
