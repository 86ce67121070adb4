"""Command line of the fake ColonyOS.

``python -m colonies_fake serve``     serve a fake on 127.0.0.1:50080 and print the ``export`` lines
``python -m colonies_fake demo``      the channel tutorial end to end over a served fake
``python -m colonies_fake envelope``  print a signed request envelope (for curl)
``python -m colonies_fake decode``    decode a reply envelope read from stdin
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import signal
import ssl
import sys
import threading
from typing import Any, Optional, Sequence, TextIO

from colonies_fake._clock import RealClock
from colonies_fake._core import FakeColonies
from colonies_fake._http import FakeColoniesServer
from colonies_sync import ColoniesClient, Crypto, FunctionSpec, InvalidPrivateKey, MsgEntry
from colonies_sync._rpc import encode_request

QUESTION = "What is the answer to everything?"
ANSWER = ["The", "answer", "to", "everything", "is", "42."]

log = logging.getLogger("colonies_fake")


# --- demo ---------------------------------------------------------------------------------


def _short(pid: str) -> str:
    return pid[:12] + "…"


def _executor(client: ColoniesClient, out: TextIO, printed: threading.Lock, failure: list[BaseException]) -> None:
    """The executor side of the tutorial: take the process, answer on the channel in chunks, close."""
    try:
        process = client.assign("demo", timeout=10)
        with printed:
            print(f"  assigned   {_short(process.processid)} to worker-1 -> state {process.state.name}", file=out)
        chat = client.channel(process.processid, "chat")
        question = next(chat.stream(timeout=10))  # the first entry: the user's question
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
    """Run the channel tutorial against a fake served on a local port, and print it.

    The flow of the ColonyOS channel tutorial: submit with a channel, wait for
    the process to run, subscribe to the channel, let the executor stream its
    answer and end it, acknowledge, and wait for the process to finish.
    """
    printed = threading.Lock()
    with FakeColonies(clock=RealClock()) as fake, FakeColoniesServer(fake) as server:
        fake.add_colony("demo")
        worker = fake.add_executor("demo", "worker-1", "demo-worker")
        user = fake.add_user("demo", "alice")
        print(f"colonies-fake demo: a fake ColonyOS served on {server.url}", file=out)
        print("  colony 'demo' with executor 'worker-1' (type 'demo-worker') and user 'alice'", file=out)

        executor = ColoniesClient(server.host, server.port, prvkey=worker.prvkey)
        client = ColoniesClient(server.host, server.port, prvkey=user.prvkey)
        with executor, client:
            spec = FunctionSpec.create("chat", "demo", "demo-worker", channels=["chat"], maxexectime=30)
            submitted = client.submit_function_spec(spec)
            print(f"  submitted  {_short(submitted.processid)} chat() with channel 'chat' -> state WAITING", file=out)

            failure: list[BaseException] = []
            # A daemon: an executor stuck by a failure must not keep the program alive.
            thread = threading.Thread(
                target=_executor, args=(executor, out, printed, failure), name="demo-executor", daemon=True
            )
            thread.start()
            running = client.wait_for_running(submitted.processid, timeout=10, poll_interval=0.05)
            with printed:
                print(
                    f"  running    {_short(running.processid)} (wait_for_running) -> state {running.state.name}",
                    file=out,
                )
            chat = client.channel(submitted.processid, "chat")
            chat.append(QUESTION)
            with printed:
                print(f"  alice    > {QUESTION}", file=out)

            ended = threading.Event()
            end: list[MsgEntry] = []

            def on_entries(entries: list[MsgEntry]) -> None:
                for entry in entries:
                    if entry.senderid == user.id:
                        continue
                    _show(entry, out, printed)
                    if entry.type == "end":
                        end.append(entry)
                        ended.set()

            with client.subscribe_channel(submitted.processid, "chat", 0, 30, on_entries, on_error=failure.append):
                ended.wait(15)
            if end:
                chat.append("thanks", in_reply_to=end[0].sequence)  # the executor closes once we have it all
            final = client.wait(submitted.processid, timeout=15)
            thread.join(15)
            if failure or thread.is_alive() or not end:
                print(f"  the demo failed: {failure or 'timed out'}", file=out)
                return 1
            print(f"  closed     {_short(final.processid)} output {final.out} -> state {final.state.name}", file=out)
    return 0 if final.state.name == "SUCCESS" else 1


# --- serve --------------------------------------------------------------------------------


def _exports(
    server: FakeColoniesServer, fake: FakeColonies, colony: Any, executors: list[Any], user: Any, tls: bool
) -> list[str]:
    flag = "true" if tls else "false"
    lines = [
        f"export COLONIES_SERVER_HOST={server.host}",
        f"export COLONIES_SERVER_PORT={server.port}",
        f"export COLONIES_TLS={flag}",
        f"export COLONIES_SERVER_TLS={flag}",
        f"export COLONIES_SERVER_PRVKEY={fake.server_prvkey}",
        f"export COLONIES_COLONY_NAME={colony.name}",
        f"export COLONIES_COLONY_PRVKEY={colony.prvkey}",
    ]
    for i, executor in enumerate(executors):
        # Later exports would override earlier ones: the first executor is the live one.
        prefix = "" if i == 0 else "# "
        if i:
            lines.append(f"# executor {i + 1}:")
        lines += [
            f"{prefix}export COLONIES_PRVKEY={executor.prvkey}",
            f"{prefix}export COLONIES_EXECUTOR_NAME={executor.name}",
            f"{prefix}export COLONIES_EXECUTOR_TYPE={executor.type}",
        ]
    # The submitting side needs a key of its own: each side of a channel tells the other's entries by sender.
    # Last, so that a shell can wait for this line to know the rest is out.
    lines += [f"export COLONIES_USER_NAME={user.name}", f"export COLONIES_USER_PRVKEY={user.prvkey}"]
    return lines


def serve(args: argparse.Namespace, out: TextIO = sys.stdout, stop: Optional[threading.Event] = None) -> int:
    """Serve a fake until ``stop`` is set (Ctrl-C or SIGTERM when run from the command line)."""
    logging.basicConfig(
        stream=sys.stderr, level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    server_key = os.environ.get("COLONIES_SERVER_PRVKEY") or None
    context: Optional[ssl.SSLContext] = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            print("--tls-cert and --tls-key go together", file=sys.stderr)
            return 2
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(args.tls_cert, args.tls_key)
        except (OSError, ssl.SSLError) as exc:
            print(f"cannot load the certificate and key: {exc}", file=sys.stderr)
            return 2
    try:
        fake = FakeColonies(clock=RealClock(), server_prvkey=server_key, rate_limit=not args.no_rate_limit)
    except InvalidPrivateKey as exc:
        print(f"COLONIES_SERVER_PRVKEY is not a usable key: {exc}", file=sys.stderr)
        return 2
    with fake:
        colony = fake.add_colony(args.colony)
        executors = [
            fake.add_executor(args.colony, f"{args.executor_prefix}-{i + 1}", args.executor_type)
            for i in range(args.executors)
        ]
        user = fake.add_user(args.colony, args.user)
        server = FakeColoniesServer(fake, args.host, args.port, ssl_context=context)
        try:
            server.start()
        except OSError as exc:
            print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
            return 2
        print("\n".join(_exports(server, fake, colony, executors, user, context is not None)), file=out, flush=True)
        log.info(
            "colony %r with %d executor(s) of type %r and user %r; Ctrl-C stops",
            colony.name,
            len(executors),
            args.executor_type,
            user.name,
        )
        stop = stop or threading.Event()
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
    return 0


# --- envelope helpers for curl ------------------------------------------------------------


def envelope(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Print a signed request envelope: ``curl --data @file http://HOST:PORT/api`` sends it."""
    message: dict[str, Any] = json.loads(args.json) if args.json else {}
    for field in args.fields:
        name, _, value = field.partition("=")
        try:
            message[name] = json.loads(value)
        except ValueError:
            message[name] = value  # plain text
    message["msgtype"] = args.msgtype
    key = args.prvkey or os.environ.get("COLONIES_PRVKEY")
    unsigned = args.msgtype in ("versionmsg", "getserverinfomsg")
    if key is None and not unsigned:
        print("give a key with --prvkey or COLONIES_PRVKEY", file=sys.stderr)
        return 2
    print(encode_request(message, None if unsigned else key, Crypto()).decode(), file=out)
    return 0


def decode(stream: TextIO = sys.stdin, out: TextIO = sys.stdout) -> int:
    """Print the decoded payload of a reply envelope read from ``stream``."""
    reply = json.load(stream)
    payload = json.loads(base64.b64decode(reply["payload"]))
    print(
        json.dumps({"payloadtype": reply["payloadtype"], "error": reply["error"], "payload": payload}, indent=2),
        file=out,
    )
    return 1 if reply.get("error") else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m colonies_fake", description="A fake ColonyOS server.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the channel tutorial end to end over a served fake and print it")

    s = commands.add_parser("serve", help="serve a fake ColonyOS over HTTP and WebSocket")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=50080, help="port to listen on, 0 for any (default 50080)")
    s.add_argument("--colony", default="dev", help="name of the colony to create (default dev)")
    s.add_argument("--executors", type=int, default=1, help="approved executors to create (default 1)")
    s.add_argument("--executor-type", default="cli", help="their executor type (default cli)")
    s.add_argument("--executor-prefix", default="executor", help="their names: PREFIX-1, PREFIX-2, ...")
    s.add_argument("--user", default="user", help="name of the user to create, for the submitting side (default user)")
    s.add_argument(
        "--real-time",
        action="store_true",
        default=True,
        help="deadlines fire in real time (the default, and the served CLI fake's only clock: "
        "for a fake clock, serve FakeColonies(clock=FakeClock()) from Python)",
    )
    s.add_argument("--no-rate-limit", action="store_true", help="do not rate-limit channel appends")
    s.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    s.add_argument("--tls-cert", metavar="PEM", help="serve https and wss with this certificate (chain)")
    s.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")

    e = commands.add_parser("envelope", help="print a signed request envelope (curl --data @file .../api)")
    e.add_argument("msgtype", help="the message type, e.g. getcolonymsg")
    e.add_argument("fields", nargs="*", help="message fields as name=value (values are JSON when they parse)")
    e.add_argument("--json", help="the message fields as one JSON object")
    e.add_argument("--prvkey", help="the signing key (default: COLONIES_PRVKEY)")

    commands.add_parser("decode", help="decode a reply envelope from stdin")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``python -m colonies_fake``."""
    args = _parser().parse_args(argv)
    if args.command == "demo":
        return run_demo()
    if args.command == "serve":
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        return serve(args, stop=stop)
    if args.command == "envelope":
        return envelope(args)
    return decode()


if __name__ == "__main__":
    sys.exit(main())
