"""RPC handlers of the fake, registered by message type.

Each domain module registers its handlers with :func:`handler`, which records
the message schema and the two texts every real handler uses for a payload that
does not decode ("…, invalid JSON") and for a ``msgtype`` that differs from the
envelope's ``payloadtype``. The dispatcher in ``_core`` does those two checks;
a handler starts at authorisation and runs with the fake's lock held.

Handlers return the reply payload (or ``Answer`` for another payloadtype) and
raise ``Fail`` for an error reply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from colonies_fake._gojson import Struct
from colonies_fake._schema import MSG

if TYPE_CHECKING:
    from colonies_fake._core import Call, FakeColonies

__all__ = ["HANDLERS", "Handler", "handler", "server_info"]

HandlerFn = Callable[["FakeColonies", "Call", dict[str, Any]], Any]


class Handler(NamedTuple):
    fn: HandlerFn
    schema: Struct
    invalid_json: str
    msgtype_mismatch: str


HANDLERS: dict[str, Handler] = {}


def handler(msgtype: str, invalid_json: str, msgtype_mismatch: str) -> Callable[[HandlerFn], HandlerFn]:
    """Register the decorated function as the handler of ``msgtype``."""

    def register(fn: HandlerFn) -> HandlerFn:
        HANDLERS[msgtype] = Handler(fn, MSG[msgtype], invalid_json, msgtype_mismatch)
        return fn

    return register


from colonies_fake._handlers import (  # noqa: E402  (registration happens on import)
    attributes,
    channels,
    colonies,
    executors,
    functions,
    logs,
    processes,
    server,
    users,
)
from colonies_fake._handlers.server import server_info  # noqa: E402

del attributes, channels, colonies, executors, functions, logs, processes, users, server
