"""Which process an executor gets, who waits for one, and when deadlines fire.

``WaitingIndex`` keeps the WAITING processes of each (colony, executortype)
sorted by ``prioritytime`` (then submission order), so that assign never scans
processes of other colonies or types (PROTOCOL.md 7.2). ``Waiter`` is one
blocked assign long-poll. ``DeadlineQueue`` holds the wait and exec deadlines
and reports those due, in the order the real server's 1-second loop handles
them: RUNNING processes before WAITING ones.

No locking here: the fake's one lock guards these objects.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import threading
from typing import Any, Callable, Optional

from colonies_fake._clock import Deadline
from colonies_fake._records import Executor, Process

__all__ = ["DeadlineQueue", "Waiter", "WaitingIndex", "matches"]

UNLIMITED = 2**63 - 1
_MAX_RESOURCE_COUNT = 127


def matches(process: Process, executor: Executor, cpu_limit: int, mem_limit: int) -> bool:
    """Whether ``executor`` may take ``process`` (type and colony are matched by the index)."""
    names = process.executornames()
    if names and names != ["*"] and executor.name not in names:
        return False
    if process.cpu > cpu_limit or process.mem > mem_limit:
        return False
    cond = process.spec["conditions"]
    if max(cond["nodes"], cond["processes"], cond["processespernode"]) > _MAX_RESOURCE_COUNT:
        return False
    location = cond["locationname"]
    return not location or location.lower() == executor.locationname.lower()


class WaitingIndex:
    """WAITING processes per (colony, executortype), in assign order."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], list[tuple[int, int, str]]] = {}

    @staticmethod
    def _entry(p: Process) -> tuple[int, int, str]:
        return (p.prioritytime, p.seq, p.processid)

    def add(self, p: Process) -> None:
        bisect.insort(self._by_key.setdefault((p.colonyname, p.executortype), []), self._entry(p))

    def remove(self, p: Process) -> None:
        key = (p.colonyname, p.executortype)
        entries = self._by_key.get(key)
        if not entries:
            return
        entry = self._entry(p)
        i = bisect.bisect_left(entries, entry)
        if i < len(entries) and entries[i] == entry:
            del entries[i]
            if not entries:
                del self._by_key[key]

    def first(self, colony: str, executortype: str, accept: Callable[[str], bool]) -> Optional[str]:
        """The first process id, in assign order, that ``accept`` takes (lowest ``prioritytime`` first)."""
        for _, _, pid in self._by_key.get((colony, executortype), ()):
            if accept(pid):
                return pid
        return None

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_key.values())


class Waiter:
    """An assign long-poll blocked until a process is handed to it or its deadline passes."""

    __slots__ = ("executor", "colonyname", "cpu_limit", "mem_limit", "deadline", "cond", "reply", "cancelled")

    def __init__(
        self,
        executor: Executor,
        colonyname: str,
        cpu_limit: int,
        mem_limit: int,
        deadline: Deadline,
        lock: threading.RLock,
        cancelled: Optional[threading.Event] = None,
    ) -> None:
        self.executor = executor
        self.colonyname = colonyname
        self.cpu_limit = cpu_limit
        self.mem_limit = mem_limit
        self.deadline = deadline
        self.cond = threading.Condition(lock)
        self.reply: Optional[dict[str, Any]] = None  # the assign reply once a process is handed over
        self.cancelled = cancelled  # set when the request's client went away

    def open(self) -> bool:
        """Still waiting: nothing handed over yet, the deadline not passed and the client still there."""
        gone = self.cancelled is not None and self.cancelled.is_set()
        return self.reply is None and not gone and not self.deadline.expired()


EXEC, WAIT = 0, 1  # RUNNING processes are checked before WAITING ones in each tick


class DeadlineQueue:
    """Deadline checks, each due at a whole second (the real server checks once a second)."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, int, str, int]] = []
        self._seq = itertools.count()

    def push(self, due: int, kind: int, p: Process) -> None:
        heapq.heappush(self._heap, (due, kind, next(self._seq), p.processid, p.generation))

    def next_due(self) -> Optional[int]:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now_s: float) -> list[tuple[int, str, int]]:
        """Entries due at ``now_s``: (kind, process id, generation), exec checks first within a second."""
        due = []
        while self._heap and self._heap[0][0] <= now_s:
            _, kind, _, pid, generation = heapq.heappop(self._heap)
            due.append((kind, pid, generation))
        return due
