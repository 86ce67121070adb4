"""Chat with the executor of a process over a channel: questions, replies, and the end.

The channel tutorial's conversation: the client submits a process with a
channel, waits for an executor to take it, asks questions with ``request``
(each answer is the executor's entry whose ``inreplyto`` is the question's
sequence), and ends the chat; the executor answers until it sees the end,
then closes the process.

Runs against an embedded fake ColonyOS, or against a real one when
``COLONIES_SERVER_HOST`` is set (with ``COLONIES_SERVER_PORT``,
``COLONIES_COLONY_NAME``, ``COLONIES_EXECUTOR_TYPE``, the executor's key in
``COLONIES_PRVKEY`` and a colony member's key for the client side in
``COLONIES_USER_PRVKEY``: the two sides need different keys, since each
tells the other's entries by their sender). ``python -m colonies_fake serve``
prints all of them.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Mapping

from colonies_fake import Sandbox
from colonies_sync import ColoniesClient, FunctionSpec

ANSWERS = {"What is 2+2?": "4", "And 6*7?": "42"}


def executor_side(env: Mapping[str, str]) -> None:
    """Take the chat process and answer each question until the client ends the chat."""
    executor = ColoniesClient.from_env(env)
    process = executor.assign(env["COLONIES_COLONY_NAME"], timeout=30)
    chat = executor.channel(process.processid, "chat")
    answered = 0
    for entry in chat.stream(timeout=60):  # history, then live entries, until an "end" entry
        if entry.senderid == executor.id:
            continue  # our own answers come back on the stream too
        if entry.type == "data":
            chat.append(ANSWERS.get(entry.text, "I do not know"), in_reply_to=entry.sequence)
            answered += 1
    executor.close_process(process.processid, output=[answered])
    executor.close()


def main() -> int:
    with contextlib.ExitStack() as stack:
        env: Mapping[str, str] = os.environ
        if not env.get("COLONIES_SERVER_HOST"):
            env = stack.enter_context(Sandbox()).env()
        client = stack.enter_context(ColoniesClient.from_env(env, prvkey=env["COLONIES_USER_PRVKEY"]))

        spec = FunctionSpec.create(
            "chat", env["COLONIES_COLONY_NAME"], env["COLONIES_EXECUTOR_TYPE"], channels=["chat"], maxexectime=120
        )
        process = client.submit_function_spec(spec)
        worker = threading.Thread(target=executor_side, args=(env,))
        worker.start()

        client.wait_for_running(process.processid, timeout=30)
        chat = client.channel(process.processid, "chat")
        for question in ANSWERS:
            answer = chat.request(question, timeout=30)
            print(f"{question} -> {answer.text}")
        chat.end()  # the executor stops answering and closes the process

        done = client.wait(process.processid, timeout=60)
        worker.join(30)
        print(f"the executor answered {done.out[0]} questions; the process is {done.state.name}")
        return 0 if done.state.name == "SUCCESS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
