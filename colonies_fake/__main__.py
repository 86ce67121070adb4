"""Command line of the fake ColonyOS: ``python -m colonies_fake demo``."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Optional, Sequence, TextIO

from colonies_fake._clock import RealClock
from colonies_fake._core import FakeColonies
from colonies_sync import ColoniesClient, FunctionSpec, Process


def _short(pid: str) -> str:
    return pid[:12] + "…"


def run_demo(out: TextIO = sys.stdout) -> int:
    """Run a short process lifecycle on an in-process fake and print it."""
    with FakeColonies(clock=RealClock()) as fake:
        fake.add_colony("demo")
        worker = fake.add_executor("demo", "worker-1", "demo-worker")
        user = fake.add_user("demo", "alice")
        print("colonies-fake demo: a fake ColonyOS in this process", file=out)
        print("  colony 'demo' with executor 'worker-1' (type 'demo-worker') and user 'alice'", file=out)

        executor: ColoniesClient = fake.client(worker.prvkey)
        submitter: ColoniesClient = fake.client(user.prvkey)
        failure: list[BaseException] = []
        submitted_shown = threading.Event()

        def work() -> None:
            try:
                process = executor.assign("demo", timeout=10)
                submitted_shown.wait(10)  # keep the printed story in order
                print(
                    f"  assigned   {_short(process.processid)} to worker-1 -> state {process.state.name}",
                    file=out,
                )
                executor.add_log(process.processid, "echoing the arguments")
                executor.close_process(process.processid, output=list(process.spec.args))
            except BaseException as exc:  # reported by the main thread
                failure.append(exc)

        thread = threading.Thread(target=work, name="demo-executor")
        thread.start()
        fake.wait_for_assigns(1, timeout=10)
        spec = FunctionSpec.create("echo", "demo", "demo-worker", args=["Hello, ColonyOS"], maxexectime=30)
        submitted: Process = submitter.submit_function_spec(spec)
        print(
            f"  submitted  {_short(submitted.processid)} echo({submitted.spec.args[0]!r}) "
            f"-> state {submitted.state.name}",
            file=out,
        )
        submitted_shown.set()
        thread.join(15)
        if failure or thread.is_alive():
            print(f"  the executor failed: {failure or 'timed out'}", file=out)
            return 1
        final = submitter.get_process(submitted.processid)
        logs = submitter.get_logs("demo", final.processid)
        print(f"  closed     {_short(final.processid)} output {final.out} -> state {final.state.name}", file=out)
        print(f"  log        {logs[0].message!r} by {logs[0].executorname}", file=out)
        executor.close()
        submitter.close()
    return 0 if final.state.name == "SUCCESS" else 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``python -m colonies_fake``."""
    parser = argparse.ArgumentParser(prog="python -m colonies_fake", description="A fake ColonyOS server.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run a short end-to-end process lifecycle and print it")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return run_demo()
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover - argparse rejects it first
    return 2


if __name__ == "__main__":
    sys.exit(main())
