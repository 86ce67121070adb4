"""``python -m colonies_fake demo`` runs a whole lifecycle and says so."""

from __future__ import annotations

import io
import subprocess
import sys

from colonies_fake.__main__ import run_demo


def test_demo_prints_a_submitted_assigned_and_closed_process() -> None:
    out = io.StringIO()
    assert run_demo(out) == 0
    text = out.getvalue()
    assert "submitted" in text and "state WAITING" in text
    assert "assigned" in text and "state RUNNING" in text
    assert "closed" in text and "output ['Hello, ColonyOS'] -> state SUCCESS" in text


def test_demo_runs_as_a_module() -> None:
    done = subprocess.run([sys.executable, "-m", "colonies_fake", "demo"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "state SUCCESS" in done.stdout
