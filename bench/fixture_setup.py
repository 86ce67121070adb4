"""How long one pytest fixture setup takes: the median over many tests, in-process and over HTTP.

Runs a generated test module with pytest ``--durations`` and reads the setup
time of each test. ``colonies_client`` is the in-process fixture stack (a fresh
FakeColonies, a colony, an approved executor and a client); ``http`` is
``colonies_server`` (the session's served fake, reset) plus a colony, an
executor and a client over HTTP.

    python bench/fixture_setup.py [--tests 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TESTS = """
import pytest
from colonies_sync import ColoniesClient


@pytest.fixture
def http_client(colonies_server):
    fake = colonies_server.fake
    fake.add_colony("dev")
    worker = fake.add_executor("dev", "worker", "test")
    client = ColoniesClient("127.0.0.1", colonies_server.port, prvkey=worker.prvkey)
    yield client
    client.close()


@pytest.mark.parametrize("i", range({n}))
def test_inprocess(colonies_client, colonies_colony, i):
    assert colonies_client.get_colony(colonies_colony.name).name == colonies_colony.name


@pytest.mark.parametrize("i", range({n}))
def test_http(http_client, i):
    assert http_client.get_colony("dev").name == "dev"
"""

# Setup durations at full precision (--durations rounds to 10 ms), written where the bench reads them.
CONFTEST = """
import json

DURATIONS = []


def pytest_runtest_logreport(report):
    if report.when == "setup" and report.passed:
        DURATIONS.append((report.nodeid.split("::")[1].split("[")[0], report.duration))


def pytest_sessionfinish(session):
    with open("durations.json", "w") as out:
        json.dump(DURATIONS, out)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200, help="tests per kind (default 200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        module = Path(tmp) / "test_setup_bench.py"
        module.write_text(TESTS.replace("{n}", str(args.tests)))
        (Path(tmp) / "conftest.py").write_text(CONFTEST)
        done = subprocess.run(
            [sys.executable, "-m", "pytest", str(module), "-q", "-p", "no:cacheprovider"],
            capture_output=True,
            text=True,
            cwd=tmp,
            check=False,
        )
        if done.returncode != 0:
            print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
            return 1
        durations = json.loads((Path(tmp) / "durations.json").read_text())
    setups: dict[str, list[float]] = {"test_inprocess": [], "test_http": []}
    for name, seconds in durations:
        setups[name].append(seconds)
    for name, label in (
        ("test_inprocess", "in-process (colonies_client)"),
        ("test_http", "HTTP (colonies_server + client)"),
    ):
        values = sorted(setups[name])
        print(
            f"{label}: n={len(values)} median {statistics.median(values) * 1000:.1f} ms, "
            f"p90 {values[int(len(values) * 0.9)] * 1000:.1f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
