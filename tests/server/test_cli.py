"""``python -m colonies_fake serve | envelope | decode``: a served fake from the command line."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest
import trustme

from colonies_fake.__main__ import _parser, decode, envelope, serve
from colonies_sync import CertificateVerificationError, ColoniesClient, Crypto, ExecutorState, ProcessState

ROOT = Path(__file__).resolve().parents[2]


def _serve_args(*extra: str, **overrides: object) -> argparse.Namespace:
    """``serve``'s arguments as the command line parses them (then ``overrides``)."""
    args = _parser().parse_args(["serve", "--port", "0", "--executors", "2", "--log-level", "warning", *extra])
    for name, value in overrides.items():
        assert hasattr(args, name), name
        setattr(args, name, value)
    return args


class _Exports(io.StringIO):
    """``serve``'s standard output, telling when the export lines are all out (no polling)."""

    def __init__(self) -> None:
        super().__init__()
        self.printed = threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        if "COLONIES_USER_PRVKEY" in self.getvalue():  # the last line
            self.printed.set()
        return written


@contextlib.contextmanager
def _serving(*extra: str) -> Iterator[str]:
    """Run ``serve`` on a thread; yields what it printed, and checks that it stopped with status 0."""
    out, stop, result = _Exports(), threading.Event(), []
    thread = threading.Thread(target=lambda: result.append(serve(_serve_args(*extra), out, stop)))
    thread.start()
    try:
        assert out.printed.wait(10), "serve printed no exports"
        yield out.getvalue()
    finally:
        stop.set()
        thread.join(10)
    assert result == [0]


def _exports(text: str) -> dict[str, str]:
    pairs = [line[len("export ") :].split("=", 1) for line in text.splitlines() if line.startswith("export ")]
    return {k: v for k, v in pairs}


def test_serve_prints_exports_that_from_env_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    server_key = Crypto().generate_private_key()
    monkeypatch.setenv("COLONIES_SERVER_PRVKEY", server_key)
    with _serving() as printed:
        exports = _exports(printed)
        assert exports["COLONIES_SERVER_PRVKEY"] == server_key
        assert exports["COLONIES_TLS"] == exports["COLONIES_SERVER_TLS"] == "false"
        assert (exports["COLONIES_COLONY_NAME"], exports["COLONIES_EXECUTOR_NAME"]) == ("dev", "executor-1")
        for name, value in exports.items():
            monkeypatch.setenv(name, value)
        with ColoniesClient.from_env() as client:
            assert client.get_colony("dev").colonyid == Crypto().id(exports["COLONIES_COLONY_PRVKEY"])
            executors = {e.executorname: e.state for e in client.get_executors("dev")}
            assert executors == {"executor-1": ExecutorState.APPROVED, "executor-2": ExecutorState.APPROVED}
            assert len(client.get_colonies(prvkey=server_key)) == 1
        assert "# export COLONIES_PRVKEY=" in printed  # the second executor, commented out


def test_serve_exports_a_user_for_the_submitting_side() -> None:
    with _serving("--user", "alice") as printed:
        exports = _exports(printed)
        assert printed.splitlines()[-1].startswith("export COLONIES_USER_PRVKEY=")  # last: a shell waits for it
        assert exports["COLONIES_USER_NAME"] == "alice"
        with ColoniesClient.from_env(exports, prvkey=exports["COLONIES_USER_PRVKEY"]) as user:
            assert [u.name for u in user.get_users("dev")] == ["alice"]


def test_an_example_runs_against_the_exports_of_serve() -> None:
    """examples/chat.py, given only what ``serve`` printed, reaches the served fake and not an embedded one."""
    with _serving() as printed:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COLONIES_")}
        env.update(_exports(printed))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
        done = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "chat.py")], capture_output=True, text=True, timeout=120, env=env
        )
        assert done.returncode == 0, done.stderr
        assert "the executor answered 2 questions; the process is SUCCESS" in done.stdout.splitlines()
        with ColoniesClient.from_env(env, prvkey=env["COLONIES_USER_PRVKEY"]) as user:
            assert [p.spec.funcname for p in user.get_processes("dev", state=ProcessState.SUCCESS)] == ["chat"]


def test_serve_with_a_certificate_speaks_tls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ca = trustme.CA()
    cert, key, ca_path = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    issued = ca.issue_cert("127.0.0.1", "localhost")
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_path))
    monkeypatch.delenv("COLONIES_SERVER_PRVKEY", raising=False)
    with _serving("--real-time", "--tls-cert", str(cert), "--tls-key", str(key)) as printed:
        exports = _exports(printed)
        assert exports["COLONIES_TLS"] == exports["COLONIES_SERVER_TLS"] == "true"
        with ColoniesClient.from_env(exports, verify=str(ca_path)) as client:
            assert client.get_colony("dev").name == "dev"
        with ColoniesClient.from_env(exports) as unverified:  # the system's store does not know this CA
            with pytest.raises(CertificateVerificationError):
                unverified.get_colony("dev")


@pytest.mark.parametrize(
    "given, expected",
    [
        ({"tls_cert": "cert.pem"}, "go together"),
        ({"tls_cert": "missing.pem", "tls_key": "missing.pem"}, "cannot load"),
    ],
)
def test_serve_refuses_an_unusable_certificate_setting(
    given: dict[str, str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = {name: str(tmp_path / value) for name, value in given.items()}
    assert serve(_serve_args(**paths), io.StringIO(), threading.Event()) == 2
    assert expected in capsys.readouterr().err


def _serve_recipe(page: Path) -> str:
    """The shell block of ``page`` that starts ``serve`` in the background and sources its exports."""
    from tests.test_docs import blocks

    found = [b.code for b in blocks(page) if b.lang == "sh" and "serve --port 50080 > fake.env &" in b.code]
    assert len(found) == 1, page
    return found[0]


def test_the_shell_recipe_for_serve_sources_every_export(tmp_path: Path) -> None:
    """The docs' recipe waits for serve's last line, then sources the file: the variables are all set."""
    recipe = _serve_recipe(ROOT / "docs" / "cli.md")
    assert _serve_recipe(ROOT / "README.md") == recipe
    script = recipe.replace("python -m", f"{sys.executable} -m").replace("--port 50080", "--port 0")
    script += (
        '\necho "user=$COLONIES_USER_NAME port=$COLONIES_SERVER_PORT key=$COLONIES_USER_PRVKEY"\nkill $!\nwait $!\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLONIES_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    (tmp_path / "fake.env").write_text("export COLONIES_USER_PRVKEY=" + "0" * 64 + "\n")  # an earlier run's
    shell = subprocess.Popen(
        ["sh", "-c", script],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # the shell and its server in one group, to stop both if the test fails
    )
    try:
        out, err = shell.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGKILL)
        shell.communicate()
    assert shell.returncode == 0, err
    variables = dict(word.split("=", 1) for word in out.split())
    assert variables["user"] == "user" and int(variables["port"]) > 0
    assert variables["key"] != "0" * 64 and len(variables["key"]) == 64


def test_serve_refuses_a_bad_server_key(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLONIES_SERVER_PRVKEY", "not-a-key")
    assert serve(_serve_args(), io.StringIO(), threading.Event()) == 2
    assert "COLONIES_SERVER_PRVKEY" in capsys.readouterr().err


def test_serve_stops_cleanly_on_ctrl_c() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("COLONIES_SERVER_PRVKEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "colonies_fake", "serve", "--port", "0", "--log-level", "info"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(10)]  # type: ignore[union-attr]
        port = _exports("".join(lines))["COLONIES_SERVER_PORT"]
        assert ColoniesClient("127.0.0.1", int(port)).version().buildversion
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
        assert "stopped serving" in proc.stderr.read()  # type: ignore[union-attr]
    finally:
        proc.kill()
        proc.communicate()


def test_envelope_helper_output_works_with_curl(tmp_path) -> None:
    from colonies_fake import FakeColonies, FakeColoniesServer

    fake = FakeColonies()
    fake.add_colony("dev")
    worker = fake.add_executor("dev", "w", "cli")
    out = io.StringIO()
    args = argparse.Namespace(msgtype="getcolonymsg", fields=["colonyname=dev"], json=None, prvkey=worker.prvkey)
    assert envelope(args, out) == 0
    path = tmp_path / "envelope.json"
    path.write_text(out.getvalue())
    with FakeColoniesServer(fake) as server:
        if shutil.which("curl"):
            done = subprocess.run(
                ["curl", "-s", "-X", "POST", "--data", f"@{path}", f"{server.url}/api"],
                capture_output=True,
                text=True,
                timeout=30,
            )
            reply = done.stdout
        else:  # pragma: no cover - curl is on the CI machines; keep the check meaningful without it
            import requests

            reply = requests.post(f"{server.url}/api", data=path.read_bytes(), timeout=30).text
    decoded = io.StringIO()
    assert decode(io.StringIO(reply), decoded) == 0
    assert json.loads(decoded.getvalue())["payload"] == {"colonyid": fake.colony("dev").colonyid, "name": "dev"}  # type: ignore[union-attr]
    fake.close()


def test_decode_of_an_error_reply_shows_the_server_text_and_exits_1() -> None:
    from colonies_fake import FakeColonies, FakeColoniesServer

    fake = FakeColonies()
    fake.add_colony("dev")
    worker = fake.add_executor("dev", "w", "cli")
    out = io.StringIO()
    args = argparse.Namespace(msgtype="getcolonymsg", fields=["colonyname=nope"], json=None, prvkey=worker.prvkey)
    assert envelope(args, out) == 0
    with FakeColoniesServer(fake) as server:
        import requests

        reply = requests.post(f"{server.url}/api", data=out.getvalue().encode(), timeout=30)
    assert reply.status_code == 403
    decoded = io.StringIO()
    assert decode(io.StringIO(reply.text), decoded) == 1
    assert json.loads(decoded.getvalue()) == {
        "payloadtype": "error",
        "error": True,
        "payload": {"status": 403, "message": "Colony with name <nope> does not exists"},
    }
    fake.close()


def test_serve_shows_keys_only_on_the_export_lines_it_prints() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("COLONIES_SERVER_PRVKEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "colonies_fake", "serve", "--port", "0", "--executors", "2", "--log-level", "debug"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        lines = []
        while not lines or not lines[-1].startswith("export COLONIES_USER_PRVKEY="):  # the last line
            lines.append(proc.stdout.readline())  # type: ignore[union-attr]
            assert lines[-1], "serve ended before printing its exports"
        keys = [line.split("=", 1)[1].strip() for line in lines if "PRVKEY=" in line]
        assert len(keys) == 5  # server, colony, the two executors and the user
        port = _exports("".join(lines))["COLONIES_SERVER_PORT"]
        with ColoniesClient("127.0.0.1", int(port), prvkey=keys[-1]) as client:  # some traffic to log
            client.get_colony("dev")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
        rest = proc.stdout.read() + proc.stderr.read()  # type: ignore[union-attr]
    finally:
        proc.kill()
        proc.communicate()
    for line in lines:
        if any(key in line for key in keys):
            assert line.startswith(("export ", "# export ")), line
    assert "getcolonymsg from" in rest  # the debug log did run, request by request
    assert not any(key in rest for key in keys)
