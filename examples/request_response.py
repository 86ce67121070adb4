"""Request/response over a channel: a calculator process answers requests until told to stop.

Each request is an entry; each reply is an entry whose ``inreplyto`` is the
request's sequence. ``Channel.request`` sends one and waits for its reply.
Requests and replies are JSON; a request the executor cannot handle gets a
reply with an ``error`` field. (An entry of *type* ``error`` would end the
stream for both sides: it is for a stream that failed, not for one answer.)

Runs against an embedded fake ColonyOS, or against a real one when
``COLONIES_SERVER_HOST`` is set (see chat.py for the variables).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from typing import Mapping

from colonies_fake import Sandbox
from colonies_sync import ColoniesClient, FunctionSpec

OPERATIONS = {"add": sum, "max": max, "min": min}


def calculator(env: Mapping[str, str]) -> None:
    """The executor: answer each JSON request {"op": ..., "args": [...]} until the end entry."""
    executor = ColoniesClient.from_env(env)
    process = executor.assign(env["COLONIES_COLONY_NAME"], timeout=30)
    calls = executor.channel(process.processid, "calls")
    served = 0
    for entry in calls.stream(timeout=60):
        if entry.senderid == executor.id or entry.type != "data":
            continue
        request = json.loads(entry.text)
        operation = OPERATIONS.get(request["op"])
        if operation is None:
            reply = {"error": f"unknown operation {request['op']!r}"}
        else:
            reply = {"result": operation(request["args"])}
        calls.append(json.dumps(reply), in_reply_to=entry.sequence)
        served += 1
    executor.close_process(process.processid, output=[served])
    executor.close()


def main() -> int:
    with contextlib.ExitStack() as stack:
        env: Mapping[str, str] = os.environ
        if not env.get("COLONIES_SERVER_HOST"):
            env = stack.enter_context(Sandbox()).env()
        client = stack.enter_context(ColoniesClient.from_env(env, prvkey=env["COLONIES_USER_PRVKEY"]))
        spec = FunctionSpec.create(
            "calculator",
            env["COLONIES_COLONY_NAME"],
            env["COLONIES_EXECUTOR_TYPE"],
            channels=["calls"],
            maxexectime=120,
        )
        process = client.submit_function_spec(spec)
        worker = threading.Thread(target=calculator, args=(env,))
        worker.start()

        calls = client.channel(process.processid, "calls")
        for op, args in [("add", [1, 2, 3]), ("max", [4, 9, 2]), ("sqrt", [16])]:
            reply = json.loads(calls.request(json.dumps({"op": op, "args": args}), timeout=30).text)
            print(f"{op}{args} -> {reply.get('result', reply.get('error'))}")
        calls.end()

        done = client.wait(process.processid, timeout=60)
        worker.join(30)
        print(f"served {done.out[0]} requests; the process is {done.state.name}")
        return 0 if done.state.name == "SUCCESS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
