"""What the fake's bootstrap helpers return: names, ids and the new private keys (never in a repr)."""

from __future__ import annotations

import attrs

__all__ = ["ColonyKeys", "ExecutorKeys", "UserKeys"]


@attrs.frozen
class ColonyKeys:
    """A colony made by :meth:`FakeColonies.add_colony`: ``prvkey`` is the colony owner's key (never in a repr)."""

    name: str
    id: str
    prvkey: str = attrs.field(repr=False)


@attrs.frozen
class ExecutorKeys:
    """An executor made by :meth:`FakeColonies.add_executor`, with its key (never in a repr)."""

    name: str
    id: str
    prvkey: str = attrs.field(repr=False)
    type: str
    colonyname: str


@attrs.frozen
class UserKeys:
    """A user made by :meth:`FakeColonies.add_user`, with its key (never in a repr)."""

    name: str
    id: str
    prvkey: str = attrs.field(repr=False)
    colonyname: str
