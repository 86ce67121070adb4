"""``python -m bench``: colonies-sync beside pycolonies, on a served fake or on any ColonyOS server.

By default a fake is served on 127.0.0.1 by another process (so that it does
not compete with the clients for the interpreter lock), with the channel rate
limit off, and everything runs against it. ``--server HOST:PORT`` runs the network benchmarks
against another server instead, a real ColonyOS included; the keys then come
from the environment: ``COLONIES_TEST_SERVER_PRVKEY`` (a colony is created for
the run and removed after), or ``COLONIES_TEST_COLONY_NAME`` with
``COLONIES_TEST_COLONY_PRVKEY``. The scale benchmarks look inside the fake, so
they run only without ``--server``.

``--quick`` shrinks every size so that the whole run takes a few seconds: for
checking that the harness works, not for judging speed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Optional, Sequence

from bench import cases
from bench._harness import Result, machine, table, write_json
from colonies_fake import ColonyKeys
from colonies_fake.pytest_plugin import ColoniesBackend
from colonies_sync import Crypto


def _serve_fake() -> tuple[ColoniesBackend, subprocess.Popen[str]]:
    """A fake served by another process, so that it does not share the clients' interpreter lock."""
    server = subprocess.Popen(
        [sys.executable, "-m", "colonies_fake", "serve", "--port", "0", "--no-rate-limit", "--log-level", "warning"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    exports: dict[str, str] = {}
    for line in server.stdout:
        if line.startswith("export "):
            name, _, value = line[len("export ") :].strip().partition("=")
            exports[name] = value
        if "COLONIES_EXECUTOR_TYPE" in exports:
            break
    else:
        server.kill()
        raise SystemExit("the fake server did not start")
    host, port = exports["COLONIES_SERVER_HOST"], int(exports["COLONIES_SERVER_PORT"])
    return ColoniesBackend("http", exports["COLONIES_SERVER_PRVKEY"], host, port), server


def _remote(server: str) -> ColoniesBackend:
    host, _, port = server.rpartition(":")
    env = os.environ
    given = None
    if env.get("COLONIES_TEST_COLONY_NAME") and env.get("COLONIES_TEST_COLONY_PRVKEY"):
        key = env["COLONIES_TEST_COLONY_PRVKEY"]
        given = ColonyKeys(env["COLONIES_TEST_COLONY_NAME"], Crypto().id(key), key)
    server_key = env.get("COLONIES_TEST_SERVER_PRVKEY") or None
    if server_key is None and given is None:
        raise SystemExit("--server needs COLONIES_TEST_SERVER_PRVKEY, or COLONIES_TEST_COLONY_NAME and _PRVKEY")
    return ColoniesBackend("real", server_key, host or "127.0.0.1", int(port), given_colony=given)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check that it runs (seconds)")
    parser.add_argument("--server", metavar="HOST:PORT", help="run against this server instead of a served fake")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    parser.add_argument("--only", nargs="*", choices=sorted(cases.ALL), help="run only these groups")
    args = parser.parse_args(argv)

    served: Optional[subprocess.Popen[str]] = None
    if args.server:
        backend = _remote(args.server)
    else:
        backend, served = _serve_fake()
    try:
        colony = backend.colony()
        executor = backend.executor(colony, executortype="bench")
        user = backend.user(colony)
        quick = args.quick
        setup = cases.Setup(
            backend=backend,
            colony=colony.name,
            executor_key=executor.prvkey,
            user_key=user.prvkey,
            executor_type="bench",
            local=served is not None,
            quick=quick,
            repeat=30 if quick else 500,
            warmup=5 if quick else 50,
            stream_entries=200 if quick else 5000,
            scale_sizes=[10, 100, 1000] if quick else [10, 1000, 100_000],
            channel_entries=1000 if quick else 10_000,
            memory_processes=1000 if quick else 100_000,
        )
        results: list[Result] = []
        started = time.monotonic()
        for name, run in cases.ALL.items():
            if args.only and name not in args.only:
                continue
            print(f"running {name}...", file=sys.stderr, flush=True)
            results += run(setup)
        info = machine()
        print(table(results, judged=not quick))
        if quick:
            print("\n--quick: sizes too small to judge speed, so targets are not judged; run without it for figures.")
        print(
            f"\n{info['implementation']} {info['python']} on {info['platform']}, {info['cpus']} CPUs; "
            + ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v)
            + f"; {time.monotonic() - started:.0f} s"
        )
        if args.json:
            write_json(args.json, results, {"quick": quick, "server": args.server or "served fake"})
        missed = [r for r in results if r.met is False]
        return 1 if missed and not quick else 0
    finally:
        backend.close()
        if served is not None:
            served.terminate()
            served.wait(10)


if __name__ == "__main__":
    raise SystemExit(main())
