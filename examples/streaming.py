"""Stream a process's output while it runs: the executor writes chunks, the client prints them live.

The executor appends one entry per chunk of output and ends the stream with an
``end`` entry; the client iterates over ``Channel.stream()``, which yields the
history and then each new entry as it is written, and stops after the end.
If the executor fails part-way it writes an ``error`` entry instead, which the
client's loop turns into a ``StreamError``. Closing a process deletes its
channels at once, so the executor waits for the client to acknowledge the end
before it closes (the tutorial's advice).

Runs against an embedded fake ColonyOS, or against a real one when
``COLONIES_SERVER_HOST`` is set (see chat.py for the variables).
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Mapping

from colonies_fake import Sandbox
from colonies_sync import ColoniesClient, FunctionSpec, StreamError


def count_words(text: str) -> list[str]:
    """The work the executor does: one line of output per word."""
    return [f"{i + 1:>2}: {word}" for i, word in enumerate(text.split())]


def executor_side(env: Mapping[str, str]) -> None:
    executor = ColoniesClient.from_env(env)
    process = executor.assign(env["COLONIES_COLONY_NAME"], timeout=30)
    output = executor.channel(process.processid, "output")
    try:
        lines = count_words(process.spec.args[0])
        for line in lines:
            output.append(line)
        end = output.end()
        # Closing deletes the channel at once: wait for the client to confirm it read everything.
        output.wait_reply(end, timeout=30)
        executor.close_process(process.processid, output=[len(lines)])
    except Exception as exc:
        output.error(str(exc))
        executor.fail_process(process.processid, [str(exc)])
    finally:
        executor.close()


def main() -> int:
    with contextlib.ExitStack() as stack:
        env: Mapping[str, str] = os.environ
        if not env.get("COLONIES_SERVER_HOST"):
            env = stack.enter_context(Sandbox()).env()
        client = stack.enter_context(ColoniesClient.from_env(env, prvkey=env["COLONIES_USER_PRVKEY"]))
        spec = FunctionSpec.create(
            "count_words",
            env["COLONIES_COLONY_NAME"],
            env["COLONIES_EXECUTOR_TYPE"],
            args=["streams let a client watch a process as it works"],
            channels=["output"],
            maxexectime=120,
        )
        process = client.submit_function_spec(spec)
        worker = threading.Thread(target=executor_side, args=(env,))
        worker.start()
        output = client.channel(process.processid, "output")
        try:
            for entry in output.stream(timeout=60):
                if entry.type == "data":
                    print(entry.text)
                elif entry.type == "end":
                    output.append("got it", in_reply_to=entry.sequence)  # the executor may close now
        except StreamError as exc:
            print(f"the executor failed: {exc}")
        done = client.wait(process.processid, timeout=60)
        worker.join(30)
        print(f"{done.state.name}: {done.out}")
        return 0 if done.state.name == "SUCCESS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
