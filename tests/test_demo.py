"""``python -m colonies_fake demo`` runs the channel tutorial end to end over a served fake and says so."""

from __future__ import annotations

import io
import subprocess
import sys

from colonies_fake.__main__ import ANSWER, QUESTION, run_demo


def test_demo_prints_the_lifecycle_and_the_streamed_chat() -> None:
    out = io.StringIO()
    assert run_demo(out) == 0
    lines = out.getvalue().splitlines()
    text = "\n".join(lines)
    assert "submitted" in text and "with channel 'chat' -> state WAITING" in text
    assert f"  alice    > {QUESTION}" in lines
    assert "assigned" in text and "(wait_for_running) -> state RUNNING" in text
    assert any(line.endswith("(a reply to alice)") for line in lines)
    streamed = [line.split("> ", 1)[1] for line in lines if line.startswith("  worker   > ")]
    assert streamed[1:] == [*ANSWER, "[end]"]  # every chunk, in order, then the end marker
    assert lines[-1].endswith(f"output ['{' '.join(ANSWER)}'] -> state SUCCESS")


def test_demo_runs_as_a_module() -> None:
    done = subprocess.run([sys.executable, "-m", "colonies_fake", "demo"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "state SUCCESS" in done.stdout
