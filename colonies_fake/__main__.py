"""Command line of the fake ColonyOS: ``python -m colonies_fake demo``."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Optional, Sequence, TextIO

from colonies_fake._clock import RealClock
from colonies_fake._core import FakeColonies
from colonies_sync import ColoniesClient, FunctionSpec, MsgEntry

QUESTION = "What is the answer to everything?"
ANSWER = ["The", "answer", "to", "everything", "is", "42."]


def _short(pid: str) -> str:
    return pid[:12] + "…"


def _executor(client: ColoniesClient, out: TextIO, printed: threading.Lock, failure: list[BaseException]) -> None:
    """The executor side of the tutorial: take the process, answer on the channel in chunks, close."""
    try:
        process = client.assign("demo", timeout=10)
        with printed:
            print(f"  assigned   {_short(process.processid)} to worker-1 -> state {process.state.name}", file=out)
        chat = client.channel(process.processid, "chat")
        question = chat.read(limit=1)[0]
        chat.append(f"Let me think about {question.text!r}", in_reply_to=question.sequence)
        pause = threading.Event()
        for word in ANSWER:
            pause.wait(0.1)  # a slow worker, so that the stream shows
            chat.append(word)
        done = chat.end()
        # Closing deletes the channel at once: wait until the client acknowledged the end.
        chat.wait_reply(done, timeout=10)
        client.close_process(process.processid, output=[" ".join(ANSWER)])
    except BaseException as exc:  # reported by the main thread
        failure.append(exc)


def _show(entry: MsgEntry, out: TextIO, printed: threading.Lock) -> None:
    with printed:
        note = " (a reply to alice)" if entry.inreplyto else ""
        print(f"  worker   > {entry.text}{note}" if entry.type == "data" else f"  worker   > [{entry.type}]", file=out)


def run_demo(out: TextIO = sys.stdout) -> int:
    """Run the channel tutorial on an in-process fake and print it: submit, chat, stream, close."""
    printed = threading.Lock()
    with FakeColonies(clock=RealClock()) as fake:
        fake.add_colony("demo")
        worker = fake.add_executor("demo", "worker-1", "demo-worker")
        user = fake.add_user("demo", "alice")
        print("colonies-fake demo: a fake ColonyOS in this process", file=out)
        print("  colony 'demo' with executor 'worker-1' (type 'demo-worker') and user 'alice'", file=out)

        executor = fake.client(worker.prvkey)
        client = fake.client(user.prvkey)
        spec = FunctionSpec.create("chat", "demo", "demo-worker", channels=["chat"], maxexectime=30)
        submitted = client.submit_function_spec(spec)
        print(f"  submitted  {_short(submitted.processid)} chat() with channel 'chat' -> state WAITING", file=out)
        chat = client.channel(submitted.processid, "chat")
        chat.append(QUESTION)  # the submitter may write before any executor is assigned
        print(f"  alice    > {QUESTION}", file=out)

        failure: list[BaseException] = []
        thread = threading.Thread(target=_executor, args=(executor, out, printed, failure), name="demo-executor")
        thread.start()
        seen = 1  # log positions already shown: our question
        pause = threading.Event()
        end: Optional[MsgEntry] = None
        while end is None and thread.is_alive():
            for entry in chat.read(after=seen, limit=0):
                seen += 1
                if entry.senderid == user.id:
                    continue
                _show(entry, out, printed)
                if entry.type == "end":
                    end = entry
            if end is None:
                pause.wait(0.05)
        if end is not None:
            chat.append("thanks", in_reply_to=end.sequence)
        thread.join(15)
        if failure or thread.is_alive() or end is None:
            print(f"  the executor failed: {failure or 'timed out'}", file=out)
            return 1
        final = client.get_process(submitted.processid)
        print(f"  closed     {_short(final.processid)} output {final.out} -> state {final.state.name}", file=out)
        executor.close()
        client.close()
    return 0 if final.state.name == "SUCCESS" else 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``python -m colonies_fake``."""
    parser = argparse.ArgumentParser(prog="python -m colonies_fake", description="A fake ColonyOS server.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the channel tutorial end to end and print it")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return run_demo()
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover - argparse rejects it first
    return 2


if __name__ == "__main__":
    sys.exit(main())
