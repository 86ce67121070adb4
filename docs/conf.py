"""Sphinx configuration: ``python -m sphinx -W -b html docs docs/_build/html`` builds the site."""

from __future__ import annotations

import collections.abc
import importlib
import inspect
import typing
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

import colonies_sync

project = "colonies-sync"
author = "the colonies-sync developers"
copyright = "2026, the colonies-sync developers"
release = colonies_sync.__version__
version = release

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
source_suffix = {".md": "markdown"}
master_doc = "index"
exclude_patterns = ["_build", "README.md"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "description"
autodoc_typehints_format = "short"

# Every cross-reference must resolve, except to private modules and the standard library.
nitpicky = True
nitpick_ignore_regex = [
    ("py:.*", r"(.*\.)?_.*"),
    ("py:class", r"(threading|datetime|enum|collections\.abc|typing|os|ssl)\..*"),
]

html_theme = "alabaster"
html_title = "colonies-sync"
html_static_path: list[str] = []


# --- pytest fixtures in the API reference ---------------------------------------------------
#
# A fixture is not part of a module's __all__ (it is not imported, pytest injects it), so
# automodule leaves it out, and autofunction would show it as a function to call. The
# ``colonies-fixtures`` directive documents each public fixture of a module from its docstring,
# with what it gives and the fixtures it uses.

_PUBLIC_MODULES = ("colonies_sync", "colonies_fake", "colonies_fake.pytest_plugin")


def _fixtures(module: Any) -> list[tuple[str, Any, str]]:
    """The public fixtures of ``module`` in source order: (name, the undecorated function, scope)."""
    found = []
    for attribute, value in vars(module).items():
        # pytest >= 8.4 wraps a fixture in a FixtureFunctionDefinition; older versions mark the function.
        marker = getattr(value, "_fixture_function_marker", None) or getattr(value, "_pytestfixturefunction", None)
        name = getattr(marker, "name", None) or attribute
        if marker is None or name.startswith("_"):
            continue
        scope = marker.scope if isinstance(marker.scope, str) else "dynamic"
        found.append((name, inspect.unwrap(value), scope))
    return found


def _public_name(cls: Any) -> str | None:
    for name in _PUBLIC_MODULES:
        module = importlib.import_module(name)
        if any(getattr(module, member, None) is cls for member in getattr(module, "__all__", [])):
            return f"{name}.{cls.__name__}"
    return None


def _gives(function: Any) -> str:
    """What the fixture gives, as reST: the type it returns, or yields."""
    given = typing.get_type_hints(function).get("return")
    if typing.get_origin(given) in (collections.abc.Iterator, collections.abc.Generator):
        given = typing.get_args(given)[0]
    public = _public_name(given)
    return f":class:`~{public}`" if public else f"``{getattr(given, '__name__', given)}``"


class FixturesDirective(SphinxDirective):
    """``.. colonies-fixtures:: module``: a ``fixture`` entry for each public fixture of the module."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        fixtures = _fixtures(importlib.import_module(self.arguments[0]))
        if not fixtures:  # pytest changed how it marks fixtures: fail the build rather than show nothing
            raise self.error(f"no fixtures found in {self.arguments[0]}")
        ours = {name for name, _, _ in fixtures}
        lines: list[str] = []
        for name, function, scope in fixtures:
            uses = [p for p in inspect.signature(function).parameters if not p.startswith("_") and p != "request"]
            used = ", ".join(f":fixture:`{p}`" if p in ours else f"``{p}``" for p in uses)
            lines += [f".. fixture:: {name}", ""]
            lines += ["   " + line if line else "" for line in inspect.cleandoc(function.__doc__ or "").splitlines()]
            lines += ["", f"   Gives {_gives(function)}; scope ``{scope}``" + (f"; uses {used}." if used else ".")]
            lines.append("")
        return self.parse_text_to_nodes("\n".join(lines))


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_object_type("fixture", "fixture", objname="pytest fixture", indextemplate="pair: %s; pytest fixture")
    app.add_directive("colonies-fixtures", FixturesDirective)
    return {"parallel_read_safe": True}
