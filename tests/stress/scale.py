"""How big the stress runs are: full size with ``COLONIES_STRESS=1``, a tenth or so otherwise.

The full sizes are the ones the issue asks for (2,000 processes, 10,000 fuzz
cases, ...), each run bounded to about 60 s on a 2-core machine. The default,
used by the README's test command and CI, keeps the whole suite fast while
still exercising every path.
"""

from __future__ import annotations

import os

FULL = os.environ.get("COLONIES_STRESS", "") == "1"


def scaled(full: int, default: int) -> int:
    """``full`` in a stress run, ``default`` otherwise."""
    return full if FULL else default
