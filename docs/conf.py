"""Sphinx configuration: ``python -m sphinx -W -b html docs docs/_build/html`` builds the site."""

from __future__ import annotations

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
