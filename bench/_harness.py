"""Timing, results, targets and the table: what every benchmark shares.

Times are wall-clock ``perf_counter`` seconds. A benchmark runs warm-up
iterations first, then timed ones; the result keeps every sample so that the
median and p99 come from the same run as the baseline they are compared with.
"""

from __future__ import annotations

import gc
import importlib.metadata
import json
import os
import platform
import statistics
import time
from typing import Any, Callable, Optional

import attrs


@attrs.define
class Result:
    """One benchmark variant: samples in seconds (or a single value for throughput and memory)."""

    name: str
    variant: str
    unit: str  # "ms" for latencies; otherwise the value's unit ("entries/s", "MB")
    samples: list[float] = attrs.field(factory=list)
    value: Optional[float] = None  # for results that are one number, not a distribution
    extra: dict[str, Any] = attrs.field(factory=dict)
    ratio: Optional[float] = None
    ratio_to: str = ""
    target: str = ""
    met: Optional[bool] = None

    @property
    def median(self) -> float:
        return self.value if self.value is not None else statistics.median(self.samples) * 1000

    @property
    def p99(self) -> Optional[float]:
        if self.value is not None or not self.samples:
            return None
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "variant": self.variant,
            "unit": self.unit,
            "n": len(self.samples) if self.value is None else 1,
            "median": round(self.median, 4),
            "p99": None if self.p99 is None else round(self.p99, 4),
            "ratio": None if self.ratio is None else round(self.ratio, 3),
            "ratio_to": self.ratio_to,
            "target": self.target,
            "met": self.met,
            **({"extra": self.extra} if self.extra else {}),
        }


def sample(fn: Callable[[], Any], repeat: int, warmup: int) -> list[float]:
    """Time ``fn`` ``repeat`` times after ``warmup`` untimed calls; the garbage collector is off while timing."""
    for _ in range(warmup):
        fn()
    samples = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            started = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - started)
    finally:
        if enabled:
            gc.enable()
    return samples


def compare(
    result: Result, baseline: Result, target: str = "", limit: Optional[float] = None, higher: bool = False
) -> None:
    """Set ``result.ratio`` against ``baseline`` (same metric), and whether ``limit`` is met."""
    result.ratio = result.median / baseline.median
    result.ratio_to = f"{baseline.name} [{baseline.variant}]"
    if limit is not None:
        result.target = target
        result.met = result.ratio >= limit if higher else result.ratio <= limit


def machine() -> dict[str, Any]:
    """What the numbers depend on: the machine and the versions."""
    versions = {}
    for package in (
        "colonies-sync",
        "pycolonies",
        "ecdsa",
        "coincurve",
        "urllib3",
        "requests",
        "websocket-client",
        "h11",
        "wsproto",
    ):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "versions": versions,
    }


def table(results: list[Result], judged: bool = True) -> str:
    """The results as a fixed-width text table; with ``judged=False`` (quick runs) targets are not judged."""
    header = ("benchmark", "variant", "n", "median", "p99", "unit", "ratio", "target", "met")
    rows = [header]
    for r in results:
        d = r.as_dict()
        rows.append(
            (
                r.name,
                r.variant,
                str(d["n"]),
                f"{r.median:,.3f}" if r.median < 100 else f"{r.median:,.0f}",
                "" if r.p99 is None else f"{r.p99:,.3f}",
                r.unit,
                "" if r.ratio is None else f"{r.ratio:.2f}",
                r.target,
                "" if r.met is None else ("-" if not judged else "yes" if r.met else "NO"),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(path: str, results: list[Result], settings: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        json.dump(
            {"machine": machine(), "settings": settings, "results": [r.as_dict() for r in results]}, out, indent=2
        )
