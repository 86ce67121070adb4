"""An executor loop: take processes one after another, run the named function, close or fail each.

The executor long-polls with ``assign``; ``NoProcessAvailable`` means nothing
came within the timeout. Each function runs with the process's ``args``; a
success closes the process with its output, an exception fails it with the
error text. The client submits a batch and waits for every process.

Runs against an embedded fake ColonyOS, or against a real one when
``COLONIES_SERVER_HOST`` is set (see chat.py for the variables).
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any, Callable, Mapping

from colonies_fake import Sandbox
from colonies_sync import ColoniesClient, FunctionSpec, NoProcessAvailable

FUNCTIONS: dict[str, Callable[..., Any]] = {
    "echo": lambda *args: list(args),
    "divide": lambda a, b: [a / b],
}


def executor_loop(env: Mapping[str, str], stop: threading.Event) -> None:
    """Serve processes until ``stop`` is set (a real executor would run until shut down)."""
    with ColoniesClient.from_env(env) as executor:
        while not stop.is_set():
            try:
                process = executor.assign(env["COLONIES_COLONY_NAME"], timeout=1)
            except NoProcessAvailable:
                continue
            function = FUNCTIONS.get(process.spec.funcname)
            try:
                if function is None:
                    raise LookupError(f"no function {process.spec.funcname!r} here")
                executor.add_log(process.processid, f"running {process.spec.funcname}{tuple(process.spec.args)}")
                executor.close_process(process.processid, output=function(*process.spec.args))
            except Exception as exc:
                executor.fail_process(process.processid, [f"{type(exc).__name__}: {exc}"])


def main() -> int:
    with contextlib.ExitStack() as stack:
        env: Mapping[str, str] = os.environ
        if not env.get("COLONIES_SERVER_HOST"):
            env = stack.enter_context(Sandbox()).env()
        client = stack.enter_context(ColoniesClient.from_env(env, prvkey=env["COLONIES_USER_PRVKEY"]))
        colony, executortype = env["COLONIES_COLONY_NAME"], env["COLONIES_EXECUTOR_TYPE"]

        stop = threading.Event()
        worker = threading.Thread(target=executor_loop, args=(env, stop))
        worker.start()
        jobs = [("echo", ["hello", 1]), ("divide", [1, 4]), ("divide", [1, 0]), ("unknown", [])]
        processes = [
            client.submit_function_spec(FunctionSpec.create(name, colony, executortype, args=args, maxexectime=60))
            for name, args in jobs
        ]
        for (name, args), process in zip(jobs, processes, strict=True):
            done = client.wait(process.processid, timeout=60)
            print(f"{name}{tuple(args)} -> {done.state.name} {done.out or done.errors}")
        stop.set()
        worker.join(30)
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
