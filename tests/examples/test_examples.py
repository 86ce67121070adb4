"""Every example script and the notebook run, against an embedded fake, and print what they promise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXPECTED = {
    "chat.py": ["What is 2+2? -> 4", "And 6*7? -> 42", "the executor answered 2 questions; the process is SUCCESS"],
    "streaming.py": [" 1: streams", "10: works", "SUCCESS: [10]"],
    "request_response.py": [
        "add[1, 2, 3] -> 6",
        "max[4, 9, 2] -> 9",
        "sqrt[16] -> unknown operation 'sqrt'",
        "served 3 requests; the process is SUCCESS",
    ],
    "executor_loop.py": [
        "echo('hello', 1) -> SUCCESS ['hello', 1]",
        "divide(1, 4) -> SUCCESS [0.25]",
        "divide(1, 0) -> FAILED ['ZeroDivisionError: division by zero']",
        "unknown() -> FAILED [\"LookupError: no function 'unknown' here\"]",
    ],
}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLONIES_")}  # use the embedded fake
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(EXAMPLES.parent), env.get("PYTHONPATH", "")]))
    return env


def test_every_example_is_checked_here() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_and_prints_its_story(name: str) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=120, env=_env()
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    for line in EXPECTED[name]:
        assert line in lines, (line, lines)


# In a process of its own: the kernel client's event loop and sockets live as long as the process.
_EXECUTE = """
import sys
import nbformat
from nbclient import NotebookClient

notebook = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": sys.argv[3]}}).execute()
nbformat.write(notebook, sys.argv[2])
"""


def test_the_notebook_runs(tmp_path: Path) -> None:
    import nbformat

    executed = tmp_path / "executed.ipynb"
    done = subprocess.run(
        [sys.executable, "-c", _EXECUTE, str(EXAMPLES / "chat.ipynb"), str(executed), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr
    notebook = nbformat.read(executed, as_version=4)
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    texts = [o.get("data", {}).get("text/plain", "") for o in outputs]
    assert "'SUCCESS'" in texts
    htmls = [o.get("data", {}).get("text/html", "") for o in outputs]
    assert any("<caption>Process</caption>" in h for h in htmls)  # the notebook-friendly repr
    assert any("<caption>Channel entry</caption>" in h for h in htmls)
