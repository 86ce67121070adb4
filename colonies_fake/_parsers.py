"""The real server's resource parsers: CPU millicores and memory sizes (pkg/parsers).

``"500m"`` is 500 millicores; a CPU text without the ``m`` counts as 0.
Memory takes an integer and a unit from a fixed table. The real server tries the
units in a random order (a Go map), so a spelling that two units match
case-insensitively (``"10MB"`` matches ``MB`` and ``Mb``) sometimes parses and
sometimes fails there. The fake always fails such spellings, with the real
failure text: code that passes against the fake then never meets the
intermittent failure on a real server.
"""

from __future__ import annotations

import re
from typing import Optional

from colonies_fake import _messages as msgs

__all__ = ["ResourceError", "cpu_text", "mem_text", "parse_cpu", "parse_mem"]

_KI, _KB = 1024, 1000
_UNITS = {
    "Ki": _KI,
    "KiB": _KI,
    "Mi": _KI**2,
    "MiB": _KI**2,
    "Gi": _KI**3,
    "GiB": _KI**3,
    "TiB": _KI**4,
    "K": _KB,
    "KB": _KB,
    "Kb": _KB,
    "M": _KB**2,
    "MB": _KB**2,
    "Mb": _KB**2,
    "G": _KB**3,
    "Gb": _KB**3,
    "TB": _KB**4,
    "Tb": _KB**4,
}
_INT_RE = re.compile(r"^[+-]?[0-9]+$")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class ResourceError(ValueError):
    """A CPU or memory text the real server refuses; ``str()`` is the server's text."""


def _wrap_int64(value: int) -> int:
    return (value - _INT64_MIN) % 2**64 + _INT64_MIN


def _go_parse_int(text: str) -> int:
    """``strconv.ParseInt(text, 10, 64)`` with Go's error texts."""
    if not _INT_RE.match(text):
        raise ResourceError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    value = int(text)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ResourceError(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


def parse_cpu(text: str) -> int:
    """Millicores of a CPU text: ``"500m"`` is 500, no ``m`` is 0."""
    if not text.endswith("m"):
        return 0
    try:
        return _go_parse_int(text[:-1])
    except ResourceError:
        raise ResourceError(msgs.CPU_CONVERSION) from None


def parse_mem(text: str) -> int:
    """Bytes of a memory text such as ``"512Mi"``, ``"1G"`` or ``"100MB"``."""
    if not text:
        return 0
    upper = text.upper()
    outcomes: list[tuple[int, Optional[ResourceError]]] = []
    for unit, factor in _UNITS.items():
        if not upper.endswith(unit.upper()):
            continue
        number = text[: -len(unit)] if text.endswith(unit) else text  # the real trim is case-sensitive
        try:
            outcomes.append((_wrap_int64(_go_parse_int(number) * factor), None))
        except ResourceError as exc:
            outcomes.append((0, exc))
    if not outcomes:
        # No unit matched: the real parser then parses an empty number.
        outcomes.append((0, ResourceError('strconv.ParseInt: parsing "": invalid syntax')))
    failures = [exc for _, exc in outcomes if exc is not None]
    if failures or len({value for value, _ in outcomes}) > 1:
        cause = failures[0] if failures else ResourceError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
        raise ResourceError(f"error converting memory to int: {cause}")
    return outcomes[0][0]


def cpu_text(millicores: int) -> str:
    """How the real server writes millicores back: ``"<n>m"``."""
    return f"{millicores}m"


def mem_text(size: int) -> str:
    """How the real server writes bytes back: whole MiB, truncated toward zero, ``"<n>Mi"``."""
    mib = abs(size) // (1024 * 1024)
    return f"{-mib if size < 0 else mib}Mi"
