"""Server-level messages: version, server info, statistics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from colonies_fake import _messages as msgs
from colonies_fake._handlers import handler
from colonies_fake._records import APPROVED, CANCELLED, FAILED, RUNNING, SUCCESS, UNREGISTERED, WAITING, go_time

if TYPE_CHECKING:
    from colonies_fake._core import Call, FakeColonies

BUILD_VERSION = "colonies-fake"
BUILD_TIME = "2026-11-26T00:00:00Z"


def server_info(fake: FakeColonies) -> dict[str, Any]:
    """The ``getserverinfomsg`` reply (the real server answers it without decoding the payload)."""
    backend = {k: v for k, v in fake.server_info_backend.items() if v not in ("", False, None)}
    backend.setdefault("type", "http")
    backend.setdefault("port", 50080)
    return {
        "buildversion": "dev",
        "buildtime": go_time(fake.now_ns() // 1_000_000_000 * 1_000_000_000),
        "backends": [backend],
    }


@handler("versionmsg", msgs.VERSION_INVALID_JSON, msgs.VERSION_MSGTYPE)
def version(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    return {"buildversion": BUILD_VERSION, "buildtime": BUILD_TIME, "msgtype": "versionmsg"}


def _statistics(fake: FakeColonies, colony: str | None) -> dict[str, int]:
    """The real ``core.Statistics``; cancelled processes and workflows are not counted there."""
    colonies = [colony] if colony is not None else [c.name for c in fake.colonies()]
    counts = {WAITING: 0, RUNNING: 0, SUCCESS: 0, FAILED: 0, CANCELLED: 0}
    executors = [e for name in colonies for e in fake.executors_of(name)]
    for name in colonies:
        for p in fake.procs.of_colony(name):
            counts[p.state] += 1
    return {
        "colonies": len(colonies),
        "executors": len(executors),
        "activeexecutors": sum(1 for e in executors if e.state == APPROVED),
        "unregisteredexecutors": sum(1 for e in executors if e.state == UNREGISTERED),
        "waitingprocesses": counts[WAITING],
        "runningprocesses": counts[RUNNING],
        "successfulprocesses": counts[SUCCESS],
        "failedprocesses": counts[FAILED],
        "cancelledprocesses": 0,
        "waitingworkflows": 0,
        "runningworkflows": 0,
        "successfulworkflows": 0,
        "failedworkflows": 0,
        "cancelledworkflows": 0,
    }


@handler(
    "getstatisticsmsg",
    msgs.STATISTICS_INVALID_JSON,
    msgs.STATISTICS_MSGTYPE,
)
def statistics(fake: FakeColonies, call: Call, msg: dict[str, Any]) -> Any:
    fake.require_server_owner(call.caller)
    return _statistics(fake, None)
