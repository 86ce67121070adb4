"""Every code block in the docs and the README runs here, or is marked as not run with a reason.

A block is run according to the HTML comment on the line before it:

* none, in a ``python`` block: executed, the page's blocks in order in one
  namespace (a page is one session, as a reader would type it);
* ``<!-- run: pytest -->``: the block is a test module, run by pytest with the
  plugin as a user's project would (no conftest);
* ``<!-- not run: <reason> -->``: skipped, and the reason must be given.

Any other block is an error, so no example can rot unnoticed.
"""

from __future__ import annotations

import contextlib
import doctest
import importlib
import inspect
import io
import re
import threading
from pathlib import Path
from typing import NamedTuple, Optional

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]

_FENCE = re.compile(r"^(`{3,})(.*)$")
_MARK = re.compile(r"^<!--\s*(not run|run):\s*(.*?)\s*-->$")


class Block(NamedTuple):
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    mark: Optional[tuple[str, str]]
    code: str

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a Markdown page; MyST directives (```{...}) are not code."""
    found: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, info = opening.group(1), opening.group(2).strip()
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith(fence)), None)
        assert end is not None, f"{page}:{i + 1}: unclosed code block"
        if not info.startswith("{"):
            previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            marked = _MARK.match(previous.strip())
            mark = (marked.group(1), marked.group(2)) if marked else None
            found.append(Block(page, i + 1, info.split()[0] if info else "", mark, "\n".join(lines[i + 1 : end])))
        i = end + 1
    return found


ALL_BLOCKS = [block for page in PAGES for block in blocks(page)]


def test_the_docs_have_code_blocks_to_check() -> None:
    assert len([b for b in ALL_BLOCKS if b.mark is None]) >= 25
    assert {p.name for p in PAGES} >= {"tutorial.md", "testing.md", "getting-started.md", "README.md"}


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=str)
def test_every_block_is_run_or_says_why_not(block: Block) -> None:
    if block.mark is None:
        assert block.lang == "python", f"{block}: a {block.lang or 'plain'} block must be marked <!-- not run: why -->"
    elif block.mark[0] == "not run":
        assert len(block.mark[1]) >= 10, f"{block}: give the reason it is not run"
    else:
        assert block.mark == ("run", "pytest") and block.lang == "python", f"{block}: unknown mark {block.mark}"


def _run_page(page: Path) -> str:
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    out = io.StringIO()
    try:
        for block in blocks(page):
            if block.mark is not None or block.lang != "python":
                continue
            code = compile("\n" * block.line + block.code, str(block.page), "exec")
            with contextlib.redirect_stdout(out):
                try:
                    exec(code, namespace)
                except Exception as exc:
                    raise AssertionError(f"{block} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        from colonies_fake import FakeColonies, Sandbox

        for value in namespace.values():  # a failed page must not leave servers behind
            if isinstance(value, Sandbox):
                value.stop()
            elif isinstance(value, FakeColonies):
                value.close()
    return out.getvalue()


RUN_PAGES = [p for p in PAGES if any(b.mark is None and b.lang == "python" for b in blocks(p))]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("page", RUN_PAGES, ids=lambda p: p.name)
def test_the_python_blocks_of_each_page_run(page: Path) -> None:
    threads_before = set(threading.enumerate())
    _run_page(page)
    for thread in set(threading.enumerate()) - threads_before:
        thread.join(10)
        assert not thread.is_alive(), f"{page.name} left thread {thread.name} running"


def test_the_tutorial_tells_its_story() -> None:
    printed = _run_page(ROOT / "docs" / "tutorial.md").splitlines()
    assert any(line.startswith("4 ") for line in printed), printed  # the reply and the sequence it answers
    assert any(line.startswith("the executor reported: the input file is corrupt") for line in printed), printed
    assert "SUCCESS ['2 questions answered']" in printed, printed


@pytest.mark.parametrize("module", ["colonies_sync", "colonies_fake"])
def test_the_package_docstring_examples_run(module: str) -> None:
    """The ``>>>`` examples of the packages' docstrings, which the API reference shows, run and print what they say."""
    package = importlib.import_module(module)
    assert package.__doc__ and ">>>" in package.__doc__
    path = inspect.getsourcefile(package)
    example = doctest.DocTestParser().get_doctest(package.__doc__, {}, module, path, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = io.StringIO()
    result = runner.run(example, out=report.write)
    assert result.attempted and not result.failed, report.getvalue()


def test_the_api_reference_names_every_export_of_the_pytest_plugin() -> None:
    """docs/api.md lists the plugin's classes one by one (its fixtures are generated): none may be missing."""
    from colonies_fake import pytest_plugin

    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert [name for name in pytest_plugin.__all__ if f":: {name}\n" not in page] == []
    assert ".. colonies-fixtures:: colonies_fake.pytest_plugin" in page


PYTEST_BLOCKS = [b for b in ALL_BLOCKS if b.mark == ("run", "pytest")]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("block", PYTEST_BLOCKS, ids=str)
def test_pytest_examples_pass_in_a_project_of_their_own(block: Block, pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_from_docs=block.code)
    result = pytester.runpytest("-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 1 and not outcomes.get("failed") and not outcomes.get("errors"), outcomes
