"""The process table of the fake: the state machine, assign and deadlines.

Holds every process with its indexes (by id, by colony, WAITING ones in assign
order), the blocked assign long-polls, and the deadline queue that stands in for
the real server's 1-second timeout loop (PROTOCOL.md 7). Transitions are written
as a table (``TRANSITIONS`` and ``_REFUSED``) and every state change goes
through it.

Runs under the fake's one lock; the methods here never take it themselves,
except the timer callback, which the clock calls from outside.
"""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING, Any, Optional

from colonies_fake import _messages as msgs
from colonies_fake._clock import Timer
from colonies_fake._errors import Fail, FakeClosed
from colonies_fake._records import (
    CANCELLED,
    FAILED,
    RUNNING,
    SUCCESS,
    WAITING,
    Attribute,
    Executor,
    Process,
    db_time,
)
from colonies_fake._scheduler import EXEC, WAIT, DeadlineQueue, Waiter, WaitingIndex, matches

if TYPE_CHECKING:
    from colonies_fake._core import FakeColonies

__all__ = ["TRANSITIONS", "ProcessTable"]

_NS = 1_000_000_000
_DAY_NS = 86_400 * _NS


class ProcessTable:
    """Every process of a fake, and the rules that move them."""

    def __init__(self, fake: FakeColonies, lock: threading.RLock, changed: threading.Condition) -> None:
        self._fake = fake
        self._lock = lock
        self._changed = changed  # notified whenever a waiter comes or goes (tests wait on it)
        self._retired = False  # set by a reset: blocked requests on this table give up
        self._seq = 0
        self._by_id: dict[str, Process] = {}
        self._by_colony: dict[str, dict[str, Process]] = {}
        self._attribute_index: dict[str, str] = {}  # attribute id -> process id
        self._waiting = WaitingIndex()
        self._waiters: dict[tuple[str, str], list[Waiter]] = {}
        self._deadlines = DeadlineQueue()
        self._deadline_timer: Optional[Timer] = None

    def __len__(self) -> int:
        return len(self._by_id)

    def all(self) -> list[Process]:
        """Every process, in submission order."""
        return list(self._by_id.values())

    def unregister(self, executor_id: str) -> None:
        """An executor was removed: its RUNNING processes go back to WAITING.

        The real server does this with a plain database update: no event wakes
        a blocked assign, and the wait deadline stays as it was.
        """
        for p in list(self._by_id.values()):
            if p.state == RUNNING and p.assignedexecutorid == executor_id:
                p.state = _transition(p, "unregister")
                p.assignedexecutorid = ""
                p.isassigned = False
                p.starttime = None
                p.endtime = None
                p.generation += 1
                self._set_attribute_state(p)
                self._waiting.add(p)
                self._arm_wait_deadline(p)

    def stop(self, *, retire: bool = False) -> None:
        """Cancel the deadline timer and wake every blocked assign (the fake closes or resets).

        With ``retire`` the blocked requests end with ``FakeClosed``, as their
        connections would on a restarted server; without it they look again.
        """
        self._retired = self._retired or retire
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
            self._deadline_timer = None
        self.wake_all()

    def waiting_count(self, colony: Optional[str] = None) -> int:
        """How many assign long-polls are blocked (in one colony)."""
        return sum(len(w) for (c, _), w in self._waiters.items() if colony is None or c == colony)

    def get(self, process_id: str) -> Optional[Process]:
        """The process with this id, if any."""
        return self._by_id.get(process_id)

    def add_attribute_record(self, p: Process, attribute: Attribute) -> None:
        """Attach an attribute to a process and index it by id."""
        p.attributes.append(attribute)
        self._attribute_index[attribute.attributeid] = p.processid

    def find_attribute(self, attribute_id: str) -> Optional[tuple[Process, Attribute]]:
        """The process and attribute with this attribute id, if both still exist."""
        p = self._by_id.get(self._attribute_index.get(attribute_id, ""))
        if p is None:
            return None
        for attribute in p.attributes:
            if attribute.attributeid == attribute_id:
                return p, attribute
        return None

    def of_colony(self, colony: str) -> list[Process]:
        """Every process of a colony, in submission order."""
        return list(self._by_colony.get(colony, {}).values())

    def submit(
        self, caller: str, initiatorname: str, spec: dict[str, Any], resources: tuple[int, int, int, int]
    ) -> dict[str, Any]:
        """Store a new WAITING process for a spec that passed every check; returns the submit reply.

        The reply is the process as stored, before a blocked assign may take it.
        """
        now = self._fake.now_ns()
        self._seq += 1
        pid = self._fake.crypto.hash(str(uuid.uuid4()))
        p = Process(pid, _stored_spec(spec), self._seq)
        p.initiatorid = caller
        p.initiatorname = initiatorname
        p.cpu, p.mem, p.storage, p.gpumem = resources
        p.submissiontime = db_time(now)
        p.prioritytime = now - spec["priority"] * _DAY_NS
        if spec["maxwaittime"] > 0:
            p.waitdeadline = db_time(now + spec["maxwaittime"] * _NS)
        for key in sorted(spec["env"] or {}):
            value = spec["env"][key]
            self.add_attribute_record(
                p,
                Attribute(
                    {
                        "attributeid": self._fake.crypto.hash(f"{pid}{key}3"),
                        "targetid": pid,
                        "targetcolonyname": p.colonyname,
                        "targetprocessgraphid": "",
                        "state": WAITING,
                        "attributetype": 3,
                        "key": key,
                        "value": value,
                    }
                ),
            )
        self._by_id[pid] = p
        self._by_colony.setdefault(p.colonyname, {})[pid] = p
        self._fake.channels.create_for(p)
        self._arm_wait_deadline(p)
        reply = p.render()
        self._emit(p, reply)
        self._became_waiting(p)
        return reply

    def select(self, executor: Executor, colony: str, cpu_limit: int, mem_limit: int) -> Optional[Process]:
        """The WAITING process this executor would get now, if any (lowest prioritytime first)."""
        pid = self._waiting.first(
            colony,
            executor.executortype,
            lambda pid: matches(self._by_id[pid], executor, cpu_limit, mem_limit),
        )
        return None if pid is None else self._by_id[pid]

    def assign_wait(
        self,
        executor: Executor,
        colony: str,
        timeout: int,
        cpu_limit: int,
        mem_limit: int,
        cancelled: Optional[threading.Event] = None,
    ) -> dict[str, Any]:
        """The assign long-poll (PROTOCOL.md 7.4); returns the reply. Called with the lock held."""
        deadline = self._fake.clock.deadline(timeout) if timeout > 0 else None
        while True:
            if self._fake.closed:
                raise FakeClosed("the fake server is closed")
            if cancelled is not None and cancelled.is_set():
                raise FakeClosed("the connection went away")
            record = self._fake.colony(colony)
            paused = record is not None and record.paused
            if paused and deadline is None:
                raise Fail(503, msgs.ASSIGN_PAUSED)
            if not paused:
                p = self.select(executor, colony, cpu_limit, mem_limit)
                if p is not None:
                    return self._assign(p, executor)
                if deadline is None:
                    break
            assert deadline is not None
            if deadline.expired():
                if paused:
                    raise Fail(408, msgs.ASSIGN_PAUSED_TIMEOUT)
                break
            waiter = Waiter(executor, colony, cpu_limit, mem_limit, deadline, self._lock, cancelled)
            key = (colony, executor.executortype)
            self._waiters.setdefault(key, []).append(waiter)
            self._changed.notify_all()
            try:
                deadline.wait(waiter.cond)
            finally:
                waiters = self._waiters.get(key, [])
                if waiter in waiters:
                    waiters.remove(waiter)
                if not waiters:
                    self._waiters.pop(key, None)
                self._changed.notify_all()
            if waiter.reply is not None:
                return waiter.reply
            if self._retired:
                raise FakeClosed("the fake server was reset")
            if deadline.expired():  # as the real loop: a passed deadline ends it before another look
                if paused:
                    raise Fail(408, msgs.ASSIGN_PAUSED_TIMEOUT)
                break
            # Woken by a resume, a clock jump or close: look again.
        raise Fail(404, msgs.NO_PROCESS_AVAILABLE)

    def _became_waiting(self, p: Process) -> None:
        """A process entered WAITING: queue it, and wake one blocked assign that can take work.

        The real server's event wakes exactly one waiting assign (PROTOCOL.md
        7.4), which then selects as any assign does: the highest-priority
        process it matches, not necessarily ``p``. The fake wakes the first
        waiter that has something to take, and hands its selection over
        directly, so no other request can slip in between.
        """
        self._waiting.add(p)
        colony = self._fake.colony(p.colonyname)
        if colony is None or colony.paused:
            return
        for waiter in self._waiters.get((p.colonyname, p.executortype), ()):
            if not waiter.open():
                continue
            chosen = self.select(waiter.executor, waiter.colonyname, waiter.cpu_limit, waiter.mem_limit)
            if chosen is not None:
                waiter.reply = self._assign(chosen, waiter.executor)
                waiter.cond.notify()
                return

    def _assign(self, p: Process, executor: Executor) -> dict[str, Any]:
        """Give ``p`` to ``executor``; returns the assign reply.

        The real reply shows the attributes as they were before their state is
        updated to RUNNING.
        """
        now = self._fake.now_ns()
        self._waiting.remove(p)
        p.state = _transition(p, "assign")
        p.isassigned = True
        p.assignedexecutorid = executor.executorid
        p.starttime = db_time(now)
        if p.spec["maxexectime"] > 0:
            p.execdeadline = db_time(now + p.spec["maxexectime"] * _NS)
        p.generation += 1
        self._fake.channels.set_executor(p)
        reply = p.render()
        self._emit(p, reply)
        self._set_attribute_state(p)
        if p.spec["maxexectime"] != -1:
            self._push_deadline(EXEC, p, p.execdeadline)
        return reply

    def close_successful(self, p: Process, output: Optional[list[Any]], executor: Optional[Executor]) -> None:
        """To SUCCESS (again, if already there) by ``executor``; a non-empty ``output`` replaces the old one.

        The event carries the process as it was before the close, with only the
        state changed: output and endtime may be stale (PROTOCOL.md 7.5). Unless
        the closing executor registered a function of the process's funcname:
        then that function's statistics count the run and the event is the
        process re-read (colonies_controller.go ``CloseSuccessful``).
        """
        state = _transition(p, "close")
        stale = p.render()
        stale["state"] = state
        now = self._fake.now_ns()
        p.state = state
        if output:
            p.output = output
        p.endtime = db_time(now)
        # As the real MarkSuccessful measures: between the stored submission and start times,
        # and from the stored start time to the close's own, unrounded, clock reading.
        waiting = _go_seconds(p.starttime, p.submissiontime)
        processing = _go_seconds(now, p.starttime)
        # The real server would dereference a missing executor; the close's checks rule that out.
        counted = executor is not None and self._count_run(p, executor.name, waiting, processing)
        self._ended(p, None if counted else stale)

    def _count_run(self, p: Process, executor_name: str, waiting: float, processing: float) -> bool:
        """Fold one successful run into the statistics of the executor's function of ``p``'s funcname.

        The real server reads the first matching row and writes the result to
        every row of that colony, executor name and funcname (a name may be
        registered twice). False if there is no such function.
        """
        colony = self._fake.colony(p.colonyname)
        funcname = p.spec["funcname"]
        rows = [
            f
            for f in (colony.functions if colony is not None else [])
            if f.colonyname == p.colonyname and f.executorname == executor_name and f.funcname == funcname
        ]
        if not rows:
            return False
        stats = rows[0].stats_after_run(waiting, processing)
        for function in rows:
            function.data.update(stats)
        return True

    def close_failed(self, p: Process, errors: Optional[list[str]]) -> None:
        """To FAILED with ``errors`` (``None`` is stored as null), or ``Fail(400)``."""
        self._fail(p, errors)

    def cancel(self, p: Process) -> None:
        """WAITING or RUNNING to CANCELLED, or ``Fail(400)`` with the real refusal."""
        state = _transition(p, "cancel")
        if p.state == WAITING:
            self._waiting.remove(p)
        p.state = state
        p.endtime = db_time(self._fake.now_ns())
        self._ended(p, None)

    def _fail(self, p: Process, errors: Optional[list[str]]) -> None:
        state = _transition(p, "fail")
        if p.state == WAITING:
            self._waiting.remove(p)
        p.state = state
        p.endtime = db_time(self._fake.now_ns())
        p.errors = errors
        self._ended(p, None)

    def _ended(self, p: Process, event: Optional[dict[str, Any]]) -> None:
        """Bookkeeping of every close, fail and cancel; ``event`` defaults to the process re-read."""
        p.generation += 1
        self._set_attribute_state(p)
        self._fake.channels.cleanup(p.processid)
        self._emit(p, event if event is not None else p.render())

    def _emit(self, p: Process, event: dict[str, Any]) -> None:
        self._fake.pubsub.process_event(event, p.executortype)

    def _release(self, p: Process) -> None:
        """An exec deadline passed with retries left: back to WAITING (PROTOCOL.md 7.1).

        The event is the real server's patched in-memory object: WAITING and
        unassigned, but with the old executor id and retry count.
        """
        now = self._fake.now_ns()
        old_executor, old_retries = p.assignedexecutorid, p.retries
        p.state = _transition(p, "release")
        p.retries += 1
        p.assignedexecutorid = ""
        p.isassigned = False
        p.endtime = db_time(now)
        if p.spec["maxwaittime"] > 0:
            p.waitdeadline = db_time(now + p.spec["maxwaittime"] * _NS)
        p.generation += 1
        self._set_attribute_state(p)
        self._arm_wait_deadline(p)
        event = p.render()
        event.update(assignedexecutorid=old_executor, retries=old_retries)
        self._emit(p, event)
        self._became_waiting(p)

    def delete(self, p: Process) -> None:
        """Forget a process and its attributes (its channels and logs are left, as on the real server)."""
        if p.state == WAITING:
            self._waiting.remove(p)
        p.generation += 1
        for attribute in p.attributes:
            self._attribute_index.pop(attribute.attributeid, None)
        self._by_id.pop(p.processid, None)
        colony = self._by_colony.get(p.colonyname)
        if colony is not None:
            colony.pop(p.processid, None)

    def _set_attribute_state(self, p: Process) -> None:
        for attribute in p.attributes:
            attribute.state = p.state

    # --- deadlines (PROTOCOL.md 7.3) -----------------------------------------------------

    def _arm_wait_deadline(self, p: Process) -> None:
        if p.spec["maxwaittime"] not in (-1, 0):
            self._push_deadline(WAIT, p, p.waitdeadline)

    def _push_deadline(self, kind: int, p: Process, deadline_ns: Optional[int]) -> None:
        # The real loop runs every second and fires once the current Unix second
        # is past the deadline's; an unset deadline (zero time) is always past.
        if deadline_ns is None:
            due = self._fake.now_ns() // _NS + 1
        else:
            due = deadline_ns // _NS + 1
        self._deadlines.push(due, kind, p)
        self._schedule_deadlines()

    def _schedule_deadlines(self) -> None:
        due = self._deadlines.next_due()
        current = self._deadline_timer
        if current is not None and not current.cancelled and due is not None and current.when == due:
            return
        if current is not None:
            current.cancel()
            self._deadline_timer = None
        if due is not None and not self._fake.closed:
            self._deadline_timer = self._fake.clock.call_at(due, self._fire_deadlines)

    def _fire_deadlines(self) -> None:
        with self._lock:
            self._deadline_timer = None
            try:
                for kind, pid, generation in self._deadlines.pop_due(self._fake.clock.time()):
                    p = self._by_id.get(pid)
                    if p is None or p.generation != generation:
                        continue
                    if kind == EXEC and p.state == RUNNING:
                        retries = p.spec["maxretries"]
                        if retries > -1 and p.retries >= retries:
                            self._fail(p, [msgs.EXEC_TIME_EXCEEDED])
                        else:
                            self._release(p)
                    elif kind == WAIT and p.state == WAITING:
                        self._fail(p, [msgs.WAIT_TIME_EXCEEDED])
            except Exception as exc:  # recorded for tests; the loop must survive
                self._fake.errors.append(exc)
            finally:
                self._schedule_deadlines()
                self._changed.notify_all()

    # --- waking blocked requests ---------------------------------------------------------

    def wake_all(self) -> None:
        """Make every blocked assign re-check its deadline and the queue."""
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.cond.notify()
        self._changed.notify_all()

    def wake_cancelled(self, cancelled: threading.Event) -> None:
        """Make the blocked assigns of a request whose client went away give up."""
        for waiters in self._waiters.values():
            for waiter in waiters:
                if waiter.cancelled is cancelled:
                    waiter.cond.notify()

    def wake_colony(self, colony: str) -> None:
        """Make the blocked assigns of one colony look again (after a resume)."""
        for (c, _), waiters in self._waiters.items():
            if c == colony:
                for waiter in waiters:
                    waiter.cond.notify()


# Go's zero time (year 1) in Unix nanoseconds, and the range of a time.Duration.
_GO_ZERO_TIME_NS = -62_135_596_800 * _NS
_MIN_DURATION, _MAX_DURATION = -(2**63), 2**63 - 1


def _go_seconds(later: Optional[int], earlier: Optional[int]) -> float:
    """``later.Sub(earlier).Seconds()`` in Go: ``None`` is the zero time, the difference saturates
    at the int64 nanoseconds of a Duration, and whole seconds and the rest are converted apart."""
    a = _GO_ZERO_TIME_NS if later is None else later
    b = _GO_ZERO_TIME_NS if earlier is None else earlier
    d = min(max(a - b, _MIN_DURATION), _MAX_DURATION)
    sec = abs(d) // _NS * (1 if d >= 0 else -1)  # Go's division truncates toward zero
    return float(sec) + float(d - sec * _NS) / 1e9


def _stored_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec as the real database gives it back (PROTOCOL.md 6.3): nils become empties."""
    stored = dict(spec)
    stored["args"] = spec["args"] if spec["args"] is not None else []
    stored["kwargs"] = spec["kwargs"] if spec["kwargs"] is not None else {}
    stored["channels"] = spec["channels"] or []
    cond = dict(spec["conditions"])
    cond["dependencies"] = cond["dependencies"] or []
    if cond["executornames"] == ["*"]:
        cond["executornames"] = []
    stored["conditions"] = cond
    return stored


# The process state machine as a table: (state, event) -> allowed, or the real server's refusal.
_REFUSED = {
    (FAILED, "close"): msgs.CLOSE_OK_FAILED,
    (CANCELLED, "close"): msgs.CLOSE_OK_CANCELLED,
    (WAITING, "close"): msgs.CLOSE_OK_WAITING,
    (SUCCESS, "fail"): msgs.CLOSE_FAILED_SUCCESS,
    (FAILED, "fail"): msgs.CLOSE_FAILED_FAILED,
    (CANCELLED, "fail"): msgs.CLOSE_FAILED_CANCELLED,
    (SUCCESS, "cancel"): msgs.CANCEL_SUCCESS,
    (FAILED, "cancel"): msgs.CANCEL_FAILED,
    (CANCELLED, "cancel"): msgs.CANCEL_CANCELLED,
}
TRANSITIONS: dict[tuple[int, str], int] = {
    (WAITING, "assign"): RUNNING,
    (RUNNING, "close"): SUCCESS,
    (SUCCESS, "close"): SUCCESS,  # a repeated close is accepted and moves endtime
    (RUNNING, "fail"): FAILED,
    (WAITING, "fail"): FAILED,  # only by the wait deadline
    (RUNNING, "release"): WAITING,
    (RUNNING, "unregister"): WAITING,
    (WAITING, "cancel"): CANCELLED,
    (RUNNING, "cancel"): CANCELLED,
}


def _transition(p: Process, event: str) -> int:
    """The state ``event`` moves ``p`` to, or ``Fail(400)`` with the real refusal text."""
    refusal = _REFUSED.get((p.state, event))
    if refusal is not None:
        raise Fail(400, refusal)
    return TRANSITIONS[(p.state, event)]
