"""The benchmark harness's arithmetic: medians, p99, ratios, targets and the table (no timing here)."""

from __future__ import annotations

from bench._harness import Result, compare, table


def _latency(variant: str, millis: list[float]) -> Result:
    return Result("get_process", variant, "ms", samples=[m / 1000 for m in millis])


def test_median_and_p99_come_from_the_samples_in_milliseconds() -> None:
    result = _latency("ours", [float(i) for i in range(1, 101)])
    assert result.median == 50.5
    assert result.p99 == 100.0
    assert result.as_dict()["n"] == 100


def test_compare_judges_a_ceiling_and_a_floor() -> None:
    ours, theirs = _latency("ours", [1.0, 1.0, 1.0]), _latency("pycolonies", [4.0, 4.0, 4.0])
    compare(ours, theirs, "<= 0.40", 0.4)
    assert (ours.ratio, ours.met) == (0.25, True)
    compare(ours, theirs, "<= 0.20", 0.2)
    assert ours.met is False

    fast = Result("stream", "ours", "entries/s", value=900.0)
    compare(fast, Result("stream", "pycolonies", "entries/s", value=300.0), ">= 3.00", 3.0, higher=True)
    assert (fast.ratio, fast.met) == (3.0, True)


def test_the_table_judges_only_full_runs() -> None:
    ours, theirs = _latency("ours", [2.0]), _latency("pycolonies", [4.0])
    compare(ours, theirs, "<= 0.40", 0.4)
    judged = table([ours, theirs]).splitlines()
    assert judged[2].endswith("<= 0.40  NO")
    quick = table([ours, theirs], judged=False).splitlines()
    assert quick[2].endswith("<= 0.40  -")
    assert "NO" not in "\n".join(quick)
