"""Whole-suite checks: no private key leaks into logs or error messages, and nothing is left running.

A pytest plugin (loaded by tests/conftest.py). For the whole session it

* records every private key the suite generates (through ``Crypto``) or loads
  from the test vectors;
* captures every log record of every logger at every level (the library's
  loggers are set to DEBUG for the session), with its formatted traceback;
* records the message of every ``ColoniesError`` created;

and at the end fails the run if any key appears in any of them. It also
compares the threads and file descriptors (sockets included) open at the end
with those open at the start, after giving stragglers a bounded moment to
finish, and fails the run on a leak.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from colonies_sync import ColoniesError
from colonies_sync import _crypto

_LOGGERS = ("colonies_sync", "colonies_fake")
_HEX_RUN = re.compile(r"[0-9a-fA-F]{64,}")
# Threads of libraries that outlive their users by design, with the reason (none today: the
# notebook test runs its kernel client in a subprocess).
_LONG_LIVED: dict[str, str] = {}


class _Hygiene:
    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.texts: list[tuple[str, str]] = []  # (where, text) of those that could hold a key
        self.seen = 0
        self._lock = threading.Lock()
        self.threads_before: set[threading.Thread] = set()
        self.fds_before: dict[int, str] = {}

    def note(self, where: str, text: str) -> None:
        # Only a run of 64 or more hex digits can hold a key: keep just those texts.
        with self._lock:
            self.seen += 1
            if _HEX_RUN.search(text):
                self.texts.append((where, text))

    def leaks_of_keys(self) -> list[str]:
        keys = {key.lower() for key in self.keys}
        found = []
        for where, text in self.texts:
            for run in _HEX_RUN.finditer(text.lower()):
                hexes = run.group()
                if any(hexes[i : i + 64] in keys for i in range(len(hexes) - 63)):
                    found.append(f"{where}: ...{text[max(0, run.start() - 60) :][:200]}")
                    break
        return found


class _Capture(logging.Handler):
    def __init__(self, hygiene: _Hygiene) -> None:
        super().__init__(level=logging.DEBUG)
        self.hygiene = hygiene
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.hygiene.note(f"log record of {record.name}", self.format(record))
        except Exception:  # a record that cannot be formatted is reported by logging itself
            pass


def _open_fds() -> dict[int, str]:
    fds = {}
    for entry in os.scandir("/proc/self/fd"):
        try:
            fds[int(entry.name)] = os.readlink(entry.path)
        except OSError:  # closed while listing
            pass
    return fds


_hygiene = _Hygiene()


def pytest_sessionstart(session: pytest.Session) -> None:
    h = _hygiene
    h.threads_before = set(threading.enumerate())
    h.fds_before = _open_fds()
    vectors = Path(__file__).parent / "data" / "vectors" / "crypto.json"
    if vectors.exists():
        h.keys.update(_vector_keys(json.loads(vectors.read_text())))
    handler = _Capture(h)
    logging.getLogger().addHandler(handler)
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)

    original_generate = _crypto.Crypto.generate_private_key

    def generate_private_key(self: _crypto.Crypto) -> str:
        key = original_generate(self)
        h.keys.add(key)
        return key

    _crypto.Crypto.generate_private_key = generate_private_key  # type: ignore[method-assign]

    original_init = ColoniesError.__init__

    def init(self: ColoniesError, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        h.note(f"{type(self).__name__} message", " ".join(str(a) for a in args))

    ColoniesError.__init__ = init  # type: ignore[method-assign]


def _vector_keys(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for name, value in data.items():
            if "prv" in name.lower() and isinstance(value, str) and len(value) == 64:
                yield value
            else:
                yield from _vector_keys(value)
    elif isinstance(data, list):
        for value in data:
            yield from _vector_keys(value)


def _straggling_threads() -> list[threading.Thread]:
    h = _hygiene
    return [
        t
        for t in threading.enumerate()
        if t not in h.threads_before and t.is_alive() and not any(t.name.startswith(p) for p in _LONG_LIVED)
    ]


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    h = _hygiene
    problems: list[str] = []
    problems += [f"a private key leaked into a {leak}" for leak in h.leaks_of_keys()]

    deadline = time.monotonic() + 5
    while _straggling_threads() and time.monotonic() < deadline:
        gc.collect()
        for thread in _straggling_threads():
            thread.join(0.2)
    problems += [f"thread left running: {t.name} (daemon={t.daemon})" for t in _straggling_threads()]

    gc.collect()
    now = _open_fds()
    leaked = {fd: target for fd, target in now.items() if h.fds_before.get(fd) != target}
    leaked = {fd: target for fd, target in leaked.items() if not _expected_fd(target)}
    problems += [f"file descriptor left open: {fd} -> {target}" for fd, target in sorted(leaked.items())]

    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if problems:
        if reporter is not None:
            reporter.write_sep("=", "hygiene: leaks found", red=True)
            for line in problems:
                reporter.write_line(line)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter is not None:
        reporter.write_line(
            f"hygiene: {len(h.keys)} keys checked against {h.seen} log records and error messages; "
            f"no leaked threads or file descriptors"
        )


def _expected_fd(target: str) -> bool:
    # pytest's own capture files and the directory listing itself come and go.
    return target.startswith(("/proc/", "/dev/")) or "pytest-of-" in target or target.endswith((".pyc", ".log"))
